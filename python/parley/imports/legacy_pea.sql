-- Supported input of `parley import pea-support` (seed 001, PEA): support run
-- as one group shared by many users. Each support message carries
-- support_conversation_user_id (the user whose support thread it belongs to);
-- staff answer as themselves (sender_type admin) or as a persona
-- (sender_type fake_user, sender_id = chat_fake_users.id), and the real admin
-- behind a persona message is in sent_by_admin_id where the old app recorded it.
--
-- The import reads these tables from the schema legacy_pea (or a postgres_fdw
-- foreign schema of that name: see docs/imports.md). Nothing here is applied
-- by the migration runner.

create schema if not exists legacy_pea;

create table if not exists legacy_pea.users (
  id bigint primary key,
  email text not null,
  name text,
  is_admin boolean not null default false,
  created_at timestamptz not null default now()
);

create table if not exists legacy_pea.chat_groups (
  id bigint primary key,
  name text not null,
  group_type text not null check (group_type in ('support', 'general', 'personal')),
  is_active boolean not null default true,
  created_at timestamptz not null default now()
);

create table if not exists legacy_pea.chat_group_members (
  group_id bigint not null,
  user_id bigint not null,
  role text not null default 'member',
  last_read_message_id bigint,          -- a watermark over the whole group's message ids
  joined_at timestamptz not null default now(),
  primary key (group_id, user_id)
);

create table if not exists legacy_pea.chat_fake_users (
  id bigint primary key,
  name text not null,
  avatar_url text,
  is_active boolean not null default true,
  created_by_admin_id bigint,
  created_at timestamptz not null default now()
);

create table if not exists legacy_pea.chat_messages (
  id bigint primary key,
  group_id bigint not null,
  sender_id bigint,
  sender_type text not null check (sender_type in ('real_user', 'fake_user', 'admin')),
  sent_by_admin_id bigint,              -- the real admin behind a fake_user message, when known
  content text,
  message_type text not null default 'text' check (message_type in ('text', 'image', 'link', 'notification')),
  attachment_url text,
  support_conversation_user_id bigint,
  is_deleted boolean not null default false,
  created_at timestamptz not null
);
create index if not exists chat_messages_order_idx on legacy_pea.chat_messages (created_at, id);
