-- Message retention and legal hold (issue 18). See docs/retention.md.
--
-- organization_settings.message_retention_days
--     delete the organization's messages older than this many days (null:
--     keep them forever).
-- conversation_retention
--     per conversation: its own retention period (overrides the
--     organization's; 0 is not allowed, null means "the organization's") and
--     the legal hold, which pauses retention (and erasure's tombstoning) for
--     the conversation while it is set.
-- parley_internal.retention_runs
--     one row per batch the retention job deleted something in: when, the
--     clock it used, how many messages.

alter table public.organization_settings
  add column if not exists message_retention_days integer
    check (message_retention_days is null or message_retention_days between 1 and 36500);
comment on column public.organization_settings.message_retention_days is 'Retention: messages older than this many days are deleted by the retention job (null: kept forever). A conversation can set its own period; a legal hold pauses it.';
grant update (message_retention_days) on table public.organization_settings to authenticated;

create table if not exists public.conversation_retention (
  conversation_id uuid primary key references public.conversations (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  retention_days integer check (retention_days is null or retention_days between 1 and 36500),
  legal_hold_at timestamptz,
  legal_hold_by uuid,
  legal_hold_reason text check (legal_hold_reason is null or pg_catalog.length(legal_hold_reason) <= 1000),
  updated_by uuid,
  updated_at timestamptz not null default pg_catalog.now(),
  constraint conversation_retention_hold_reason check (legal_hold_at is not null or legal_hold_reason is null)
);
create index if not exists conversation_retention_organization_idx on public.conversation_retention (organization_id);
create index if not exists conversation_retention_held_idx on public.conversation_retention (conversation_id)
  where legal_hold_at is not null;
comment on table public.conversation_retention is 'Per-conversation retention period (overriding the organization''s) and legal hold (pauses retention and erasure''s tombstoning for the conversation). Members and the organization''s owners and admins read it; owners and admins change it through set_conversation_retention and set_legal_hold.';
comment on column public.conversation_retention.conversation_id is 'The conversation.';
comment on column public.conversation_retention.organization_id is 'Its organization.';
comment on column public.conversation_retention.retention_days is 'Delete this conversation''s messages older than this many days; null: the organization''s period.';
comment on column public.conversation_retention.legal_hold_at is 'Since when the conversation is on legal hold (nothing is deleted by retention, erasure keeps its messages); null: no hold.';
comment on column public.conversation_retention.legal_hold_by is 'Who placed the hold.';
comment on column public.conversation_retention.legal_hold_reason is 'Why (a case reference), up to 1000 characters.';
comment on column public.conversation_retention.updated_by is 'Who last changed the row.';
comment on column public.conversation_retention.updated_at is 'When the row last changed.';

alter table public.conversation_retention enable row level security;
revoke all on table public.conversation_retention from anon, authenticated, service_role;
grant select on table public.conversation_retention to authenticated;
grant select, insert, update, delete on table public.conversation_retention to service_role;

create table if not exists parley_internal.retention_runs (
  id bigint generated always as identity primary key,
  ran_at timestamptz not null default pg_catalog.now(),
  clock timestamptz not null,
  organization_id uuid not null,
  deleted_messages integer not null
);
create index if not exists retention_runs_organization_idx on parley_internal.retention_runs (organization_id, id);
comment on table parley_internal.retention_runs is 'Retention batches that deleted messages: when, the clock used, the organization and how many. Never exposed.';
alter table parley_internal.retention_runs enable row level security;
revoke all on table parley_internal.retention_runs from anon, authenticated, service_role;
revoke all on sequence parley_internal.retention_runs_id_seq from anon, authenticated, service_role;
