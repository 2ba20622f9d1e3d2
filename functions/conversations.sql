-- Conversations (issue 4): the building blocks every kind of conversation
-- shares. The RPCs live with their kind, each file right after this one:
--   functions/direct_conversations.sql   direct conversations, persona conversations included
--   functions/group_conversations.sql    groups: roles, settings and membership changes
--   functions/support_conversations.sql  "Help & Support": status, assignment and the support queue
--   functions/notices_conversations.sql  the conversation where staff notices land
--
-- Get-or-create: insert ... on conflict do nothing on the unique keys
-- (conversations_direct_key, conversations_subject_key), then read the row.
-- Racing calls either insert or wait for the winner's commit and then find
-- its row, members included (the winner adds them in the same transaction).
-- Membership changes of one conversation lock its row (FOR NO KEY UPDATE),
-- which sends never do.

-- Internal building blocks -----------------------------------------------

create or replace function parley_internal.newest_message_id(conversation_id uuid)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select m.id from public.messages m
                   where m.conversation_id = newest_message_id.conversation_id
                   order by m.id desc limit 1), 0)
$$;
comment on function parley_internal.newest_message_id(uuid) is
  'The id of the conversation''s newest message (tombstones included), 0 if it has none; one backward probe of messages (conversation_id, id).';
select parley_internal.restrict_function('parley_internal.newest_message_id(uuid)', '{service_role}');

create or replace function parley_internal.add_conversation_member(
  conversation_id uuid, user_id uuid, role text, added_by uuid
)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  newest bigint := parley_internal.newest_message_id(add_conversation_member.conversation_id);
  visibility text;
begin
  -- A user banned from this conversation is not added back (functions/moderation.sql).
  perform parley_internal.assert_not_banned_from(add_conversation_member.conversation_id, add_conversation_member.user_id);
  select c.history_visibility into visibility from public.conversations c
  where c.id = add_conversation_member.conversation_id;
  insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id, added_by)
  values (add_conversation_member.conversation_id, add_conversation_member.user_id, add_conversation_member.role,
          case when visibility = 'since_joined' then newest else 0 end, add_conversation_member.added_by)
  on conflict on constraint conversation_members_pkey do nothing;
  if not found then
    return false;
  end if;
  -- A new member starts with everything up to now read: no unread badge for old history.
  insert into public.inbox_entries (user_id, conversation_id, last_delivered_message_id, last_read_message_id)
  values (add_conversation_member.user_id, add_conversation_member.conversation_id, newest, newest)
  on conflict on constraint inbox_entries_pkey do nothing;
  return true;
end
$$;
comment on function parley_internal.add_conversation_member(uuid, uuid, text, uuid) is
  'Add a roster row and the member''s inbox entry (watermarks at the newest message; history cut-off for since_joined groups). False if already a member.';
select parley_internal.restrict_function('parley_internal.add_conversation_member(uuid, uuid, text, uuid)', '{}');

create or replace function parley_internal.require_organization_member(organization_id uuid, user_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if organization_id is null or not parley_internal.is_organization_member(organization_id, user_id) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  perform parley_internal.require_feature(organization_id, 'chat');
end
$$;
comment on function parley_internal.require_organization_member(uuid, uuid) is
  'Refuse (PT404 organization_not_found) unless the user belongs to the organization, and (PT402) unless its plan includes chat.';
select parley_internal.restrict_function('parley_internal.require_organization_member(uuid, uuid)', '{}');

create or replace function parley_internal.readable_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_row public.conversations;
begin
  select * into found_row from public.conversations c where c.id = readable_conversation.conversation_id;
  if not found or not parley_internal.can_read_conversation(found_row.id, readable_conversation.user_id) then
    -- Outsiders cannot tell another organization's conversation from a missing one.
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  return found_row;
end
$$;
comment on function parley_internal.readable_conversation(uuid, uuid) is
  'The conversation row if the user may read it; otherwise refuse with PT404 conversation_not_found.';
select parley_internal.restrict_function('parley_internal.readable_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.lock_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.conversations;
begin
  -- Refuse (404) before locking: an outsider never takes a lock on another organization's row.
  perform parley_internal.readable_conversation(lock_conversation.conversation_id, lock_conversation.user_id);
  select * into locked from public.conversations c where c.id = lock_conversation.conversation_id for no key update;
  return locked;
end
$$;
comment on function parley_internal.lock_conversation(uuid, uuid) is
  'Lock a conversation the user can read (FOR NO KEY UPDATE: serializes its membership and status changes, never blocks sends); refuse PT404 if unreadable.';
select parley_internal.restrict_function('parley_internal.lock_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.subject_conversation_for(organization_id uuid, user_id uuid, kind text)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  conversation uuid;
begin
  insert into public.conversations (organization_id, kind, subject_user_id, support_status, created_by)
  values (subject_conversation_for.organization_id, subject_conversation_for.kind, subject_conversation_for.user_id,
          case when subject_conversation_for.kind = 'support' then 'open' end, subject_conversation_for.user_id)
  on conflict (organization_id, kind, subject_user_id) where kind in ('support', 'notices') do nothing
  returning id into conversation;
  if conversation is not null then
    perform parley_internal.add_conversation_member(conversation, subject_conversation_for.user_id, 'member', null);
    return conversation;
  end if;
  select c.id into strict conversation from public.conversations c
  where c.organization_id = subject_conversation_for.organization_id and c.kind = subject_conversation_for.kind
    and c.subject_user_id = subject_conversation_for.user_id;
  return conversation;
end
$$;
comment on function parley_internal.subject_conversation_for(uuid, uuid, text) is
  'Get or create the user''s support or notices conversation in the organization (race-safe); returns its id.';
select parley_internal.restrict_function('parley_internal.subject_conversation_for(uuid, uuid, text)', '{}');
