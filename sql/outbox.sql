-- The outbox for push and webhook workers (issue 18). See docs/outbox.md.
--
-- Sends write no outbox row: triggers emit transactional logical decoding
-- messages (pg_logical_emit_message(true, 'parley.outbox', json)) into the
-- WAL, which a worker reads from its own logical replication slot in commit
-- order, the way `parley realtime` reads realtime.messages.
--
-- parley_internal.webhook_deliveries
--     the webhook worker's durable queue: one row per event it has taken
--     from its slot (the slot advances only once the rows are committed, so
--     nothing is lost), with its delivery state: pending (next_attempt_at),
--     delivered, or dead (attempts exhausted; requeue_dead_webhooks puts
--     them back). event_id ("<commit LSN>-<position>") is the idempotency key
--     receivers see.

create table if not exists parley_internal.webhook_deliveries (
  event_id text primary key check (event_id ~ '^[0-9A-F]{16}-[0-9]{5}$'),
  lsn pg_lsn not null,
  position integer not null check (position >= 1),
  event_type text not null,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default pg_catalog.now(),
  last_error text,
  last_status integer,
  received_at timestamptz not null default pg_catalog.now(),
  delivered_at timestamptz
);
create index if not exists webhook_deliveries_due_idx on parley_internal.webhook_deliveries (next_attempt_at, lsn, position)
  where status = 'pending';
create index if not exists webhook_deliveries_dead_idx on parley_internal.webhook_deliveries (lsn, position)
  where status = 'dead';
create index if not exists webhook_deliveries_delivered_idx on parley_internal.webhook_deliveries (delivered_at)
  where status = 'delivered';
comment on table parley_internal.webhook_deliveries is 'The webhook worker''s queue: outbox events taken from its replication slot, with their delivery state (pending, delivered, dead), attempts and last error. Never exposed.';
comment on column parley_internal.webhook_deliveries.event_id is 'Commit LSN (16 hex digits) and position in the transaction: unique, increasing in commit order; the idempotency key sent to receivers.';
comment on column parley_internal.webhook_deliveries.status is 'pending (waiting for next_attempt_at), delivered (2xx received) or dead (attempts exhausted).';
alter table parley_internal.webhook_deliveries enable row level security;
revoke all on table parley_internal.webhook_deliveries from anon, authenticated, service_role;
