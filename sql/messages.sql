-- Messages and what hangs off them (issue 4).
--
-- messages           ordered by a monotonic bigint identity: history pages,
--                    read watermarks and realtime resume all use ids, never
--                    timestamps. Deleting leaves a tombstone (body null,
--                    deleted_at set) so replies and order stay intact.
-- message_edits      full edit history: who, when, the previous body.
-- message_reactions  one row per user per emoji per message.
-- message_mentions   who a message mentions; unread mention counts read it.
-- parley_internal.message_senders
--                    the real staff user behind a persona message or a staff
--                    notice (which show no user); never exposed.
--
-- The messages table is the hot one, so it keeps two indexes plus a partial
-- one: the primary key, (conversation_id, id) for history and unread counts,
-- and the client_msg_id key for idempotent sends. sender_id and
-- reply_to_message_id carry no foreign keys (each would need its own index on
-- every message): a deleted user's messages stay, shown as a deleted user, and
-- the send path checks that a reply target is in the same conversation.

create table if not exists public.messages (
  id bigint generated always as identity primary key,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  sender_kind text not null check (sender_kind in ('user', 'persona', 'system')),
  sender_id uuid,
  persona_id uuid,
  kind text not null default 'text'
    check (kind in ('text', 'image', 'file', 'audio', 'video', 'link', 'system', 'notice', 'call')),
  body text check (body is null or pg_catalog.length(body) <= 100000),
  metadata jsonb not null default '{}' check (pg_catalog.jsonb_typeof(metadata) = 'object'),
  reply_to_message_id bigint,
  client_msg_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  deleted_by uuid,
  pinned_at timestamptz,
  pinned_by uuid,
  constraint messages_user_sender check ((sender_kind = 'user') = (sender_id is not null)),
  constraint messages_persona_sender check ((sender_kind = 'persona') = (persona_id is not null)),
  constraint messages_body_or_tombstone check (body is not null or deleted_at is not null),
  constraint messages_reply_not_self check (reply_to_message_id is null or reply_to_message_id < id)
);
create index if not exists messages_conversation_id_id_idx on public.messages (conversation_id, id);
create unique index if not exists messages_client_msg_id_key on public.messages (client_msg_id)
  where client_msg_id is not null;
create index if not exists messages_pinned_idx on public.messages (conversation_id, id)
  where pinned_at is not null;
comment on table public.messages is 'Messages, ordered by id. Deleted messages stay as tombstones (body null). Read-only for clients; send, edit and delete through the RPCs.';
comment on column public.messages.id is 'Monotonic message id: order and page by it (never by created_at).';
comment on column public.messages.conversation_id is 'The conversation.';
comment on column public.messages.sender_kind is 'user (sender_id), persona (persona_id; the real staff user is not shown) or system (no sender, e.g. staff notices).';
comment on column public.messages.sender_id is 'The user who sent it; null for persona and system messages.';
comment on column public.messages.persona_id is 'The persona it was sent as; null otherwise.';
comment on column public.messages.kind is 'text, image, file, audio, video, link, system, notice or call.';
comment on column public.messages.body is 'The text (up to the organization''s max_message_length); null once deleted.';
comment on column public.messages.metadata is 'Kind-specific data, e.g. a notice''s style {"background","text","border"} or a call''s details; emptied on delete.';
comment on column public.messages.reply_to_message_id is 'The message this replies to, in the same conversation; null if none.';
comment on column public.messages.client_msg_id is 'Client-supplied id that makes a send idempotent: a retry returns the original message.';
comment on column public.messages.created_at is 'When it was sent (display only; order by id).';
comment on column public.messages.edited_at is 'When it was last edited; null if never.';
comment on column public.messages.deleted_at is 'When it was deleted for everyone; null if not.';
comment on column public.messages.deleted_by is 'Who deleted it (the author or a moderator).';
comment on column public.messages.pinned_at is 'When it was pinned to the conversation; null if not pinned.';
comment on column public.messages.pinned_by is 'Who pinned it.';

create table if not exists public.message_edits (
  id bigint generated always as identity primary key,
  message_id bigint not null references public.messages (id) on delete cascade,
  edited_by uuid,
  edited_at timestamptz not null default pg_catalog.now(),
  previous_body text,
  previous_metadata jsonb not null default '{}'
);
create index if not exists message_edits_message_id_idx on public.message_edits (message_id, id);
comment on table public.message_edits is 'Edit history of messages: who edited, when, and the body before the edit. Emptied when the message is deleted.';
comment on column public.message_edits.id is 'Edit id (ordered).';
comment on column public.message_edits.message_id is 'The edited message.';
comment on column public.message_edits.edited_by is 'Who edited it.';
comment on column public.message_edits.edited_at is 'When.';
comment on column public.message_edits.previous_body is 'The body before this edit.';
comment on column public.message_edits.previous_metadata is 'The metadata before this edit.';

create table if not exists public.message_reactions (
  message_id bigint not null references public.messages (id) on delete cascade,
  emoji text not null check (pg_catalog.length(emoji) between 1 and 32 and emoji !~ '[[:space:][:cntrl:]]'),
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (message_id, emoji, user_id)
);
create index if not exists message_reactions_user_id_idx on public.message_reactions (user_id);
comment on table public.message_reactions is 'Reactions: one row per user per emoji per message (toggle with toggle_reaction).';
comment on column public.message_reactions.message_id is 'The message reacted to.';
comment on column public.message_reactions.emoji is 'The emoji (1 to 32 characters, no spaces).';
comment on column public.message_reactions.user_id is 'Who reacted.';
comment on column public.message_reactions.created_at is 'When.';

create table if not exists public.message_mentions (
  user_id uuid not null references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  message_id bigint not null references public.messages (id) on delete cascade,
  primary key (user_id, conversation_id, message_id)
);
create index if not exists message_mentions_message_id_idx on public.message_mentions (message_id);
comment on table public.message_mentions is 'Who each message mentions; mention counts in the inbox read it.';
comment on column public.message_mentions.user_id is 'The mentioned user.';
comment on column public.message_mentions.conversation_id is 'The message''s conversation.';
comment on column public.message_mentions.message_id is 'The message.';

create table if not exists parley_internal.message_senders (
  message_id bigint primary key references public.messages (id) on delete cascade,
  sender_id uuid not null,
  persona_id uuid
);
comment on table parley_internal.message_senders is 'The real staff user behind a persona message or staff notice. Never exposed; the audit log records it for chat.audit_read.';

alter table public.messages enable row level security;
alter table public.message_edits enable row level security;
alter table public.message_reactions enable row level security;
alter table public.message_mentions enable row level security;
alter table parley_internal.message_senders enable row level security;
revoke all on table public.messages, public.message_edits, public.message_reactions, public.message_mentions
  from anon, authenticated, service_role;
revoke all on table parley_internal.message_senders from anon, authenticated, service_role;
grant select on table public.messages, public.message_edits, public.message_reactions, public.message_mentions
  to authenticated;
grant select, insert, update, delete
  on table public.messages, public.message_edits, public.message_reactions, public.message_mentions to service_role;
revoke all on sequence public.messages_id_seq, public.message_edits_id_seq from anon, authenticated, service_role;
