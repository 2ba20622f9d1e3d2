-- Monitoring (issue 5; seed 002 "monitoring"): what the operator RPCs in
-- functions/monitoring.sql read besides conversations and messages.
--
-- parley_internal.refusal_counts
--     refusals per minute, per organization (when the refusing code knew
--     it), user, SQLSTATE and reason. A refusal rolls its transaction back,
--     so parley_internal.refuse cannot insert here; it emits a
--     non-transactional logical decoding message ('parley.refusal') instead,
--     and the realtime service, which decodes the WAL anyway, hands those to
--     parley_internal.record_refusals in batches. One row per minute per
--     (organization, user, sqlstate, reason): a flood from one user is one
--     row a minute, not one row per refusal. Kept for 7 days.
-- parley_internal.refusal_intake
--     the WAL position of the newest event recorded per source, so a batch
--     delivered twice (the forwarder restarted before moving its slot) is
--     counted once.
-- See docs/monitoring.md.

create table if not exists parley_internal.refusal_counts (
  id bigint generated always as identity primary key,
  minute timestamptz not null,
  organization_id uuid,
  user_id uuid,
  sqlstate text not null check (sqlstate ~ '^[0-9A-Z]{5}$'),
  reason text not null check (pg_catalog.length(reason) between 1 and 63),
  refusals bigint not null check (refusals >= 1)
);
create unique index if not exists refusal_counts_key on parley_internal.refusal_counts
  (minute, organization_id, user_id, sqlstate, reason) nulls not distinct;
create index if not exists refusal_counts_organization_id_idx on parley_internal.refusal_counts (organization_id, minute);
create index if not exists refusal_counts_user_id_idx on parley_internal.refusal_counts (user_id, minute);
comment on table parley_internal.refusal_counts is 'Refusals per minute per organization (if known), user, SQLSTATE and reason, recorded from the parley.refusal WAL messages by record_refusals. Never exposed; staff read get_refusal_counts.';

create table if not exists parley_internal.refusal_intake (
  source text primary key,
  last_lsn pg_lsn not null,
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table parley_internal.refusal_intake is 'Per event source (the forwarder''s slot), the WAL position of the newest refusal recorded: events at or before it are replays and are skipped.';

alter table parley_internal.refusal_counts enable row level security;
alter table parley_internal.refusal_intake enable row level security;
revoke all on table parley_internal.refusal_counts, parley_internal.refusal_intake from anon, authenticated, service_role;
revoke all on sequence parley_internal.refusal_counts_id_seq from anon, authenticated, service_role;
