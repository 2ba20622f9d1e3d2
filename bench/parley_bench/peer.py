"""Baseline (c): the minimal Supabase-style chat send, the peer Parley's send is measured against.

What a Supabase user writes in an afternoon: a messages table whose RLS insert policy checks
membership with an ``exists`` on a members table, a foreign key to the conversations table, an
inlinable ``auth.uid()`` (Supabase's own definition: ``LANGUAGE sql STABLE``, no ``SET``, not
security definer) and no trigger. It lives in the benchmark's own schema (``bench``), never in a
test or production database, and carries a copy of the loaded rosters so that its membership probe
reads an index of the same size as Parley's.
"""

from __future__ import annotations

import psycopg

from parley_bench.pgbench import sql_literal

BENCH_SCHEMA = """
create schema if not exists bench;
comment on schema bench is
  'Benchmark baselines (bench/parley_bench): bare tables (a, b) and the peer chat schema (c).';
grant usage on schema bench to authenticator, authenticated;
"""

PEER_SCHEMA = (
    BENCH_SCHEMA
    + """
-- Supabase's auth.uid() (supabase/auth migrations), under another name: LANGUAGE sql STABLE, no SET,
-- not security definer, so the planner inlines it (and `(select bench.peer_uid())` is one init plan).
create or replace function bench.peer_uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
    (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
comment on function bench.peer_uid() is
  'Baseline (c): Supabase''s auth.uid() (inlinable SQL): the caller''s user id from the JWT claims.';
grant execute on function bench.peer_uid() to authenticated;

create table if not exists bench.peer_conversations (
  id uuid primary key,
  created_at timestamptz not null default pg_catalog.now()
);
comment on table bench.peer_conversations is
  'Baseline (c): conversations of the Supabase-style peer chat (ids copied from public.conversations).';

create table if not exists bench.peer_members (
  conversation_id uuid not null references bench.peer_conversations (id) on delete cascade,
  user_id uuid not null,
  primary key (conversation_id, user_id)
);
create index if not exists peer_members_user_id_idx on bench.peer_members (user_id);
comment on table bench.peer_members is
  'Baseline (c): who is in which peer conversation (copied from public.conversation_members).';

create table if not exists bench.peer_messages (
  id bigint generated always as identity primary key,
  conversation_id uuid not null references bench.peer_conversations (id) on delete cascade,
  sender_id uuid not null,
  body text not null,
  created_at timestamptz not null default pg_catalog.now()
);
create index if not exists peer_messages_conversation_id_id_idx
  on bench.peer_messages (conversation_id, id);
comment on table bench.peer_messages is
  'Baseline (c): messages of the peer chat; the insert policy is the whole authorization.';

alter table bench.peer_conversations enable row level security;
alter table bench.peer_members enable row level security;
alter table bench.peer_messages enable row level security;

drop policy if exists peer_members_select on bench.peer_members;
create policy peer_members_select on bench.peer_members for select to authenticated
  using (user_id = (select bench.peer_uid()));
comment on policy peer_members_select on bench.peer_members is 'Baseline (c): a user sees their own memberships.';

drop policy if exists peer_conversations_select on bench.peer_conversations;
create policy peer_conversations_select on bench.peer_conversations for select to authenticated
  using (exists (select 1 from bench.peer_members m
                 where m.conversation_id = peer_conversations.id and m.user_id = (select bench.peer_uid())));
comment on policy peer_conversations_select on bench.peer_conversations is
  'Baseline (c): members read their conversations.';

drop policy if exists peer_messages_select on bench.peer_messages;
create policy peer_messages_select on bench.peer_messages for select to authenticated
  using (exists (select 1 from bench.peer_members m
                 where m.conversation_id = peer_messages.conversation_id and m.user_id = (select bench.peer_uid())));
comment on policy peer_messages_select on bench.peer_messages is
  'Baseline (c): members read their conversations'' messages.';

drop policy if exists peer_messages_insert on bench.peer_messages;
create policy peer_messages_insert on bench.peer_messages for insert to authenticated
  with check (
    sender_id = (select bench.peer_uid())
    and exists (select 1 from bench.peer_members m
                where m.conversation_id = peer_messages.conversation_id and m.user_id = (select bench.peer_uid())));
comment on policy peer_messages_insert on bench.peer_messages is
  'Baseline (c): a member sends as themselves into their conversation (one exists on the roster).';

grant select on bench.peer_conversations, bench.peer_members, bench.peer_messages to authenticated;
grant insert on bench.peer_messages to authenticated;
"""
)

COPY_ROSTERS = """
insert into bench.peer_conversations (id) select c.id from public.conversations c on conflict do nothing;
insert into bench.peer_members (conversation_id, user_id)
  select m.conversation_id, m.user_id from public.conversation_members m on conflict do nothing;
analyze bench.peer_conversations;
analyze bench.peer_members;
"""


def install(connection: psycopg.Connection) -> None:
    """Create (or re-create the policies of) the peer chat schema; as the database owner."""
    connection.execute(PEER_SCHEMA.encode())


def copy_rosters(connection: psycopg.Connection) -> None:
    """Copy the loaded conversations and rosters into the peer schema (same index sizes as Parley's)."""
    connection.execute(COPY_ROSTERS.encode())


def insert_statement(conversation_sql: str, user: str, body: str) -> str:
    """Baseline (c)'s statement: the chat send a Supabase client makes (``insert``, return=minimal)."""
    return (
        "insert into bench.peer_messages (conversation_id, sender_id, body) "
        f"values ({conversation_sql}, {sql_literal(user)}, {sql_literal(body)})"
    )
