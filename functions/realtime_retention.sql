-- Retention of realtime.messages (broadcast from the database).
--
-- Supabase keeps realtime.messages in daily partitions and drops old ones;
-- the shim's copy is one plain table, so the `parley realtime` service calls
-- this function on a schedule (every 10 minutes by default) to delete rows
-- older than the retention window. Rows are only needed for Supabase-style
-- `replay.since` joins; live delivery and id-based resume read the WAL.
-- Re-appliable.

create or replace function parley_internal.purge_realtime_messages(older_than interval default '3 days')
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  removed bigint;
begin
  if older_than is null or older_than < interval '0' then
    raise exception 'older_than must be a non-negative interval, not %', older_than
      using errcode = 'P0001', detail = 'invalid_retention', hint = 'Pass an interval such as ''3 days''.';
  end if;
  -- inserted_at is "timestamp without time zone" filled with now(): compare in the same clock.
  delete from realtime.messages
  where inserted_at < (pg_catalog.now() - older_than)::timestamp;
  get diagnostics removed = row_count;
  return removed;
end
$$;

comment on function parley_internal.purge_realtime_messages(interval) is
  'Delete realtime.messages rows older than the retention window; called by parley realtime every 10 minutes.';

revoke all on function parley_internal.purge_realtime_messages(interval) from public;
grant execute on function parley_internal.purge_realtime_messages(interval) to service_role;
