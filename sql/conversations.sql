-- Conversations, their rosters and each member's inbox entry (issue 4).
--
-- conversations        one row per conversation; kind direct, group, support
--                      or notices; belongs to one organization. A send
--                      never updates it: concurrent senders of a busy group
--                      would queue on its row lock until each commit. The
--                      inbox reads the newest message through the index
--                      messages (conversation_id, id) instead.
-- conversation_members the roster: who is in, with which role. Readable by
--                      everyone who can read the conversation.
-- inbox_entries        one row per member, private to that member: read and
--                      delivered watermarks (message ids) and the member's
--                      archive, mute, pin, hide and notification settings.
--                      Never one row per message per recipient.
--
-- Support, notices and persona direct conversations have a subject user
-- (subject_user_id), who is their only user member; staff reach them through
-- permissions (chat.support_agent, chat.send_notice), not through membership.
-- All writes go through RPCs (functions/conversations.sql); API roles only
-- read these tables, under RLS (policies/conversations.sql).

create table if not exists public.conversations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  kind text not null check (kind in ('direct', 'group', 'support', 'notices')),
  title text check (title is null or pg_catalog.length(pg_catalog.btrim(title)) between 1 and 120),
  description text check (description is null or pg_catalog.length(description) <= 2000),
  avatar_url text check (avatar_url is null or avatar_url ~ '^https?://'),
  subject_user_id uuid references auth.users (id) on delete cascade,
  persona_id uuid references public.personas (id) on delete cascade,
  direct_key text,
  posting_policy text not null default 'everyone' check (posting_policy in ('everyone', 'admins')),
  history_visibility text not null default 'shared' check (history_visibility in ('shared', 'since_joined')),
  slow_mode_seconds integer not null default 0 check (slow_mode_seconds between 0 and 21600),
  support_status text check (support_status in ('open', 'pending', 'resolved')),
  support_assignee_id uuid references auth.users (id) on delete set null,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  constraint conversations_group_has_title check (kind <> 'group' or title is not null),
  constraint conversations_direct_has_key check ((kind = 'direct') = (direct_key is not null)),
  constraint conversations_subject_user check (
    (kind in ('support', 'notices') and subject_user_id is not null)
    or (kind = 'direct' and (persona_id is null) = (subject_user_id is null))
    or (kind = 'group' and subject_user_id is null)),
  constraint conversations_persona_only_direct check (persona_id is null or kind = 'direct'),
  constraint conversations_support_status check ((kind = 'support') = (support_status is not null)),
  constraint conversations_assignee_only_support check (support_assignee_id is null or kind = 'support')
);
-- Get-or-create keys: one direct conversation per pair (or user and persona)
-- per organization; one support and one notices conversation per user per organization.
create unique index if not exists conversations_direct_key on public.conversations (organization_id, direct_key)
  where direct_key is not null;
create unique index if not exists conversations_subject_key on public.conversations (organization_id, kind, subject_user_id)
  where kind in ('support', 'notices');
create index if not exists conversations_organization_id_idx on public.conversations (organization_id, kind);
create index if not exists conversations_subject_user_id_idx on public.conversations (subject_user_id);
create index if not exists conversations_persona_id_idx on public.conversations (persona_id);
create index if not exists conversations_support_assignee_id_idx on public.conversations (support_assignee_id);
create index if not exists conversations_created_by_idx on public.conversations (created_by);
comment on table public.conversations is 'Conversations: direct (one per pair per organization), group, support (one per user per organization, "Help & Support") and notices (staff notices to one user). Read-only for clients; change them through the RPCs.';
comment on column public.conversations.id is 'Conversation id (also the realtime topic conversation:{id} and the storage folder).';
comment on column public.conversations.organization_id is 'The organization the conversation belongs to.';
comment on column public.conversations.kind is 'direct, group, support or notices.';
comment on column public.conversations.title is 'Group title; null for other kinds (the inbox derives their titles).';
comment on column public.conversations.description is 'Group description, or null.';
comment on column public.conversations.avatar_url is 'Group avatar URL, or null.';
comment on column public.conversations.subject_user_id is 'The user a support, notices or persona direct conversation belongs to; null otherwise.';
comment on column public.conversations.persona_id is 'For a direct conversation with a persona: the persona (staff answer as it); null otherwise.';
comment on column public.conversations.direct_key is 'Get-or-create key of a direct conversation (the two user ids, or user and persona); null otherwise.';
comment on column public.conversations.posting_policy is 'Who may post in a group: everyone, or admins (announcement groups).';
comment on column public.conversations.history_visibility is 'shared: new group members see all history; since_joined: only messages after they joined.';
comment on column public.conversations.slow_mode_seconds is 'Minimum seconds between two messages of one member (0 = off); owners and admins are exempt.';
comment on column public.conversations.support_status is 'Support conversations: open, pending or resolved; null otherwise.';
comment on column public.conversations.support_assignee_id is 'Support conversations: the staff user assigned, or null.';
comment on column public.conversations.created_by is 'Who created the conversation.';
comment on column public.conversations.created_at is 'When the conversation was created.';
comment on column public.conversations.updated_at is 'When the conversation''s settings last changed.';

create table if not exists public.conversation_members (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  visible_from_message_id bigint not null default 0 check (visible_from_message_id >= 0),
  added_by uuid,
  joined_at timestamptz not null default pg_catalog.now(),
  primary key (conversation_id, user_id)
);
create index if not exists conversation_members_user_id_idx on public.conversation_members (user_id);
comment on table public.conversation_members is 'Conversation rosters: who is a member, with which role. Change them through the RPCs.';
comment on column public.conversation_members.conversation_id is 'The conversation.';
comment on column public.conversation_members.user_id is 'The member.';
comment on column public.conversation_members.role is 'owner, admin or member (groups); member for other kinds.';
comment on column public.conversation_members.visible_from_message_id is 'The member sees messages with a greater id (0: all history).';
comment on column public.conversation_members.added_by is 'Who added the member (null if they joined by themselves).';
comment on column public.conversation_members.joined_at is 'When the member joined.';

create table if not exists public.inbox_entries (
  user_id uuid not null,
  conversation_id uuid not null,
  last_delivered_message_id bigint not null default 0 check (last_delivered_message_id >= 0),
  last_read_message_id bigint not null default 0 check (last_read_message_id >= 0),
  archived_at_message_id bigint check (archived_at_message_id >= 0),
  hidden_at_message_id bigint check (hidden_at_message_id >= 0),
  muted_until timestamptz,
  pinned_at timestamptz,
  notification_level text not null default 'all' check (notification_level in ('all', 'mentions', 'none')),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (user_id, conversation_id),
  foreign key (conversation_id, user_id) references public.conversation_members (conversation_id, user_id)
    on delete cascade
);
comment on table public.inbox_entries is 'Each member''s private state of a conversation: read and delivered watermarks, archive, hide, mute, pin and notification level. Visible to that member only; change it through the RPCs.';
comment on column public.inbox_entries.user_id is 'The member.';
comment on column public.inbox_entries.conversation_id is 'The conversation.';
comment on column public.inbox_entries.last_delivered_message_id is 'Watermark: every message up to this id reached the member''s device. Never moves backwards.';
comment on column public.inbox_entries.last_read_message_id is 'Watermark: every message up to this id is read. Moves backwards only through mark_unread.';
comment on column public.inbox_entries.archived_at_message_id is 'Archived while this was the newest message id; a newer message unarchives (unless muted). Null: not archived.';
comment on column public.inbox_entries.hidden_at_message_id is 'Hidden while this was the newest message id; any newer message shows it again. Null: not hidden.';
comment on column public.inbox_entries.muted_until is 'Muted until this time (infinity: until unmuted); null: not muted.';
comment on column public.inbox_entries.pinned_at is 'When the member pinned the conversation to the top of the inbox; null: not pinned.';
comment on column public.inbox_entries.notification_level is 'Push notifications: all, mentions or none.';
comment on column public.inbox_entries.updated_at is 'When the entry last changed.';

alter table public.conversations enable row level security;
alter table public.conversation_members enable row level security;
alter table public.inbox_entries enable row level security;
revoke all on table public.conversations, public.conversation_members, public.inbox_entries
  from anon, authenticated, service_role;
grant select on table public.conversations, public.conversation_members, public.inbox_entries to authenticated;
grant select, insert, update, delete on table public.conversations, public.conversation_members, public.inbox_entries
  to service_role;
