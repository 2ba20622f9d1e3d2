-- Supported input of `parley import astegni` (seed 000, Astegni): the chat of
-- an application whose users own several role profiles (student, tutor,
-- parent, advertiser), each chatting as a separate identity. Every chat row is
-- keyed by (profile_id, profile_type); profile ids are per-type sequences, so
-- student 10 and tutor 10 are different people.
--
-- The import reads these tables from the schema legacy_astegni of the Parley
-- database (created here, or a postgres_fdw foreign schema of that name: see
-- docs/imports.md). Columns the import does not read may exist; the ones below
-- must. Nothing here is applied by the migration runner.

create schema if not exists legacy_astegni;

create table if not exists legacy_astegni.users (
  id bigint primary key,
  email text not null,
  first_name text,
  last_name text,
  created_at timestamptz not null default now()
);

create table if not exists legacy_astegni.profiles (
  profile_id bigint not null,
  profile_type text not null check (profile_type in ('student', 'tutor', 'parent', 'advertiser')),
  user_id bigint not null,              -- no foreign key: legacy data has orphans
  created_at timestamptz not null default now(),
  primary key (profile_id, profile_type)
);

create table if not exists legacy_astegni.conversations (
  id bigint primary key,
  type text not null check (type in ('direct', 'group')),
  name text,
  avatar_url text,
  created_by_profile_id bigint,
  created_by_profile_type text,
  created_at timestamptz not null default now()
);

create table if not exists legacy_astegni.conversation_participants (
  id bigint primary key,
  conversation_id bigint not null,
  profile_id bigint not null,
  profile_type text not null,
  role text not null default 'member' check (role in ('admin', 'member')),
  is_muted boolean not null default false,
  is_archived boolean not null default false,
  joined_at timestamptz not null default now()
);

create table if not exists legacy_astegni.chat_messages (
  id bigint primary key,
  conversation_id bigint not null,
  sender_profile_id bigint not null,
  sender_profile_type text not null,
  message_type text not null default 'text'
    check (message_type in ('text', 'image', 'file', 'audio', 'video', 'system')),
  content text,
  media_url text,                        -- attachments are URLs to the old file server
  media_metadata jsonb,
  reply_to_id bigint,
  is_edited boolean not null default false,
  is_deleted boolean not null default false,
  created_at timestamptz not null,
  updated_at timestamptz
);
create index if not exists chat_messages_order_idx on legacy_astegni.chat_messages (created_at, id);

-- Per-message read receipts, one row per reader profile.
create table if not exists legacy_astegni.message_read_receipts (
  message_id bigint not null,
  profile_id bigint not null,
  profile_type text not null,
  read_at timestamptz not null default now(),
  primary key (message_id, profile_id, profile_type)
);

create table if not exists legacy_astegni.message_reactions (
  id bigint primary key,
  message_id bigint not null,
  profile_id bigint not null,
  profile_type text not null,
  reaction text not null,
  created_at timestamptz not null default now()
);

create table if not exists legacy_astegni.call_logs (
  id bigint primary key,
  conversation_id bigint not null,
  caller_profile_id bigint not null,
  caller_profile_type text not null,
  call_type text not null check (call_type in ('voice', 'video')),
  status text not null check (status in ('ended', 'missed', 'declined', 'cancelled', 'failed')),
  started_at timestamptz not null,
  answered_at timestamptz,
  ended_at timestamptz,
  duration_seconds integer
);
create index if not exists call_logs_order_idx on legacy_astegni.call_logs (started_at, id);

create table if not exists legacy_astegni.chat_settings (
  profile_id bigint not null,
  profile_type text not null,
  who_can_message text not null default 'everyone' check (who_can_message in ('everyone', 'connections', 'nobody')),
  who_can_call text not null default 'connections' check (who_can_call in ('everyone', 'connections', 'nobody')),
  show_online_status boolean not null default true,
  read_receipts boolean not null default true,
  primary key (profile_id, profile_type)
);

create table if not exists legacy_astegni.blocked_contacts (
  id bigint primary key,
  blocker_profile_id bigint not null,
  blocker_profile_type text not null,
  blocked_profile_id bigint not null,
  blocked_profile_type text not null,
  created_at timestamptz not null default now()
);
