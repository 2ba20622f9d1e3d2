-- Staff stay hidden behind personas and Support (issue 12, seed 001).
--
-- What a customer reads never names the staff user who acted for the
-- organization. Staff who handle a support, persona or notices conversation
-- without being on its roster act as the persona (persona conversations,
-- persona messages) or as "Support"; the columns the customer can read say
-- so, and the real staff user is kept where only staff with chat.audit_read
-- look: the audit log (and, for sends, parley_internal.message_senders).
-- The rule, one place: parley_internal.visible_actor (functions/staff_privacy.sql).
--
-- Schema changes here (applied once):
--   * messages.sender_kind gains 'support': a staff reply in a support
--     conversation without a persona ("Support"); sender_id null, the real
--     sender in parley_internal.message_senders.
--   * message_reactions.user_id may be null: a reaction by staff acting for
--     the organization, shown as the conversation's persona (persona_id) or
--     as Support (both null). One such reaction per emoji per message: staff
--     react together, as the organization. The primary key (which included
--     user_id) becomes a unique key with NULLS NOT DISTINCT (PostgreSQL 15+),
--     and the table gets a surrogate id primary key.
--   * parley_internal.support_assignments: the staff user a support
--     conversation is assigned to. conversations.support_assignee_id is read
--     by the conversation's customer too, so it stays null in the table;
--     staff see the assignee in the support RPCs' results.
-- Existing rows are rewritten the same way (staff ids that a customer could
-- read are cleared; the audit log already names who acted).

do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
             where conrelid = 'public.messages'::regclass and conname = 'messages_sender_kind_check') then
    alter table public.messages drop constraint messages_sender_kind_check;
  end if;
  if not exists (select 1 from pg_catalog.pg_constraint
                 where conrelid = 'public.messages'::regclass and conname = 'messages_sender_kind') then
    alter table public.messages add constraint messages_sender_kind
      check (sender_kind in ('user', 'persona', 'system', 'support'));
  end if;
end
$$;
comment on column public.messages.sender_kind is 'user (sender_id), persona (persona_id), support (a staff reply shown as "Support") or system (no sender, e.g. staff notices). For persona and support messages the real staff user is never shown.';
comment on column public.messages.deleted_by is 'Who deleted it: a member of the conversation (the author or a group moderator); null when the organization''s staff deleted it (shown as the persona for a persona message or conversation, otherwise as Support). The audit log names the staff user.';
comment on column public.messages.pinned_by is 'Who pinned it: a member of the conversation; null when the organization''s staff pinned it (shown as the persona or Support). The audit log names the staff user.';
comment on column public.message_edits.edited_by is 'Who edited it: the author when a member; null for persona and support messages edited by staff (the persona or Support). The audit log names the staff user.';

do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
             where conrelid = 'public.message_reactions'::regclass and conname = 'message_reactions_pkey') then
    alter table public.message_reactions drop constraint message_reactions_pkey;
    alter table public.message_reactions alter column user_id drop not null;
    alter table public.message_reactions add column persona_id uuid;
    alter table public.message_reactions
      add constraint message_reactions_key unique nulls not distinct (message_id, emoji, user_id);
    alter table public.message_reactions add column id bigint generated always as identity primary key;
    revoke all on sequence public.message_reactions_id_seq from anon, authenticated, service_role;
  end if;
end
$$;
comment on column public.message_reactions.user_id is 'Who reacted: a member of the conversation; null for the organization''s staff (shown as persona_id, or as Support when that is null too).';
comment on column public.message_reactions.id is 'Reaction id (surrogate key; a reaction is unique per message, emoji and user_id, staff counting as one).';
comment on column public.message_reactions.persona_id is 'For a staff reaction (user_id null) in a persona conversation: the persona shown; null otherwise.';

create table if not exists parley_internal.support_assignments (
  conversation_id uuid primary key references public.conversations (id) on delete cascade,
  assignee_id uuid not null references auth.users (id) on delete cascade,
  assigned_at timestamptz not null default pg_catalog.now()
);
create index if not exists support_assignments_assignee_id_idx on parley_internal.support_assignments (assignee_id);
comment on table parley_internal.support_assignments is 'The staff user a support conversation is assigned to. Never exposed: the customer reads the conversation row; staff see the assignee in get_support_queue, assign_support_conversation and set_support_status results.';
comment on column public.conversations.support_assignee_id is 'Always null in table reads (the customer reads this row and never sees staff). Support agents get the assignee in the results of get_support_queue, assign_support_conversation and set_support_status.';
alter table parley_internal.support_assignments enable row level security;
revoke all on table parley_internal.support_assignments from anon, authenticated, service_role;

-- Existing data.
insert into parley_internal.support_assignments (conversation_id, assignee_id)
select c.id, c.support_assignee_id from public.conversations c
where c.support_assignee_id is not null
on conflict (conversation_id) do nothing;
update public.conversations c set support_assignee_id = null where c.support_assignee_id is not null;

update public.messages m set deleted_by = null
where m.deleted_by is not null
  and not exists (select 1 from public.conversation_members cm
                  where cm.conversation_id = m.conversation_id and cm.user_id = m.deleted_by);
update public.messages m set pinned_by = null
where m.pinned_by is not null
  and not exists (select 1 from public.conversation_members cm
                  where cm.conversation_id = m.conversation_id and cm.user_id = m.pinned_by);
update public.message_edits e set edited_by = null
from public.messages m
where m.id = e.message_id and e.edited_by is not null
  and not exists (select 1 from public.conversation_members cm
                  where cm.conversation_id = m.conversation_id and cm.user_id = e.edited_by);
insert into public.message_reactions (message_id, emoji, user_id, persona_id, created_at)
select r.message_id, r.emoji, null, c.persona_id, pg_catalog.min(r.created_at)
from public.message_reactions r
join public.messages m on m.id = r.message_id
join public.conversations c on c.id = m.conversation_id
where r.user_id is not null
  and not exists (select 1 from public.conversation_members cm
                  where cm.conversation_id = m.conversation_id and cm.user_id = r.user_id)
group by r.message_id, r.emoji, c.persona_id
on conflict on constraint message_reactions_key do nothing;
delete from public.message_reactions r
using public.messages m
where m.id = r.message_id and r.user_id is not null
  and not exists (select 1 from public.conversation_members cm
                  where cm.conversation_id = m.conversation_id and cm.user_id = r.user_id);

-- Files staff send as Support keep no uploader once sent (functions/attachments.sql, claim_attachments).
alter table public.attachments alter column uploader_id drop not null;
comment on column public.attachments.uploader_id is 'Who uploaded it (the second folder of object_name); only they can attach it. Null once sent for files staff uploaded as Support (folder support): the customer never sees the staff user.';
