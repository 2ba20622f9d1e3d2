-- Legacy imports (issue 16): the bookkeeping of `parley import`.
--
-- parley_import is never exposed and grants nothing to any API role: only the
-- database owner (the DBA running `parley import`) uses it. The import logic
-- is in functions/imports.sql; the supported legacy input schemas
-- (legacy_astegni, legacy_pea) are documented in docs/imports.md.
--
-- targets          which organization a source is imported into (one per source)
-- runs             one row per run: options, timing, outcome, summary
-- checkpoints      where the batched message step of a source stopped
-- user_map         legacy user id -> auth.users id
-- profile_map      legacy role profile (id, type) -> auth.users id (Astegni)
-- persona_map      legacy staff persona -> personas.id (PEA)
-- conversation_map legacy conversation key -> conversations.id (many to one:
--                  merged conversations share a Parley id)
-- message_map      legacy message or call -> messages.id
-- exceptions       every legacy row that was not imported, with the reason
--
-- No foreign keys to Parley tables: the maps outlive nothing they point to
-- (a deleted conversation cascades its messages; a re-run then finds the map
-- row without its target and the verification report shows it).

create schema if not exists parley_import;
revoke all on schema parley_import from public;
comment on schema parley_import is 'Legacy imports (parley import): maps from legacy keys to Parley ids, checkpoints, exceptions. Owner only; never exposed.';
alter default privileges in schema parley_import revoke execute on functions from public;

create table if not exists parley_import.targets (
  source text primary key check (source in ('astegni', 'pea-support')),
  organization_id uuid not null,
  created_at timestamptz not null default pg_catalog.now()
);
comment on table parley_import.targets is 'The organization each legacy source is imported into; a source has one target, so re-runs land in the same place.';

create table if not exists parley_import.runs (
  id bigint generated always as identity primary key,
  source text not null check (source in ('astegni', 'pea-support')),
  organization_id uuid not null,
  dry_run boolean not null default false,
  batch_size integer not null check (batch_size between 1 and 1000000),
  bulk boolean not null default true,
  started_at timestamptz not null default pg_catalog.clock_timestamp(),
  finished_at timestamptz,
  status text not null default 'running' check (status in ('running', 'finished', 'interrupted')),
  summary jsonb not null default '{}'
);
create index if not exists runs_source_idx on parley_import.runs (source, id);
comment on table parley_import.runs is 'One row per import run: options, start and finish, and the summary counts of its steps.';

create table if not exists parley_import.checkpoints (
  source text primary key check (source in ('astegni', 'pea-support')),
  last_at timestamptz not null,
  last_rank smallint not null,
  last_id bigint not null,
  rows_done bigint not null default 0,
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table parley_import.checkpoints is 'The last legacy row (time, table rank, id) the batched message step consumed, committed with its batch: a killed run resumes after it.';

create table if not exists parley_import.user_map (
  source text not null,
  legacy_id bigint not null,
  user_id uuid not null,
  created_account boolean not null,
  primary key (source, legacy_id)
);
create index if not exists user_map_user_id_idx on parley_import.user_map (user_id);
comment on table parley_import.user_map is 'Legacy user id -> auth.users id (matched by email, or an account the import created).';

create table if not exists parley_import.profile_map (
  source text not null,
  profile_id bigint not null,
  profile_type text not null,
  user_id uuid not null,
  primary key (source, profile_id, profile_type)
);
create index if not exists profile_map_user_id_idx on parley_import.profile_map (user_id);
comment on table parley_import.profile_map is 'Astegni role profile (profile_id, profile_type) -> the one Parley identity of its user.';

create table if not exists parley_import.persona_map (
  source text not null,
  legacy_id bigint not null,
  persona_id uuid not null,
  primary key (source, legacy_id)
);
create index if not exists persona_map_persona_id_idx on parley_import.persona_map (persona_id);
comment on table parley_import.persona_map is 'Legacy staff persona (chat_fake_users) -> personas.id.';

create table if not exists parley_import.conversation_map (
  source text not null,
  legacy_key text not null,
  conversation_id uuid not null,
  primary key (source, legacy_key)
);
create index if not exists conversation_map_conversation_id_idx on parley_import.conversation_map (conversation_id);
comment on table parley_import.conversation_map is 'Legacy conversation key -> conversations.id; several legacy conversations merged into one share its id.';

create table if not exists parley_import.message_map (
  source text not null,
  legacy_table text not null,
  legacy_id bigint not null,
  message_id bigint not null,
  primary key (source, legacy_table, legacy_id)
);
create unique index if not exists message_map_message_id_key on parley_import.message_map (message_id);
comment on table parley_import.message_map is 'Legacy message or call log row -> messages.id (ids given in legacy time order).';

create table if not exists parley_import.exceptions (
  source text not null,
  legacy_table text not null,
  legacy_key text not null,
  reason text not null check (reason ~ '^[a-z][a-z_]*$'),
  detail jsonb not null default '{}',
  run_id bigint,
  recorded_at timestamptz not null default pg_catalog.now(),
  primary key (source, legacy_table, legacy_key)
);
create index if not exists exceptions_reason_idx on parley_import.exceptions (source, reason);
comment on table parley_import.exceptions is 'Every legacy row the import did not import, with a stable reason (unknown_user, orphaned, body_too_long...) and details.';

alter table parley_import.targets enable row level security;
alter table parley_import.runs enable row level security;
alter table parley_import.checkpoints enable row level security;
alter table parley_import.user_map enable row level security;
alter table parley_import.profile_map enable row level security;
alter table parley_import.persona_map enable row level security;
alter table parley_import.conversation_map enable row level security;
alter table parley_import.message_map enable row level security;
alter table parley_import.exceptions enable row level security;
revoke all on all tables in schema parley_import from public, anon, authenticated, service_role;
revoke all on all sequences in schema parley_import from public, anon, authenticated, service_role;
