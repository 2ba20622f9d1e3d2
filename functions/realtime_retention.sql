-- Retention of realtime.messages (broadcast from the database).
--
-- realtime.messages is partitioned by day on Supabase and in the shim
-- (sql/platform_realtime_v2.sql): daily partitions messages_YYYY_MM_DD,
-- no default partition. Supabase Realtime creates the coming days'
-- partitions and drops old ones itself; on the self-hosted stack the
-- `parley realtime` service calls these functions instead (at start and
-- every 10 minutes by default). Rows are only needed for Supabase-style
-- `replay.since` joins; live delivery and id-based resume read the WAL.
-- Both functions also work on a plain (unpartitioned) realtime.messages.
-- Re-appliable.

create or replace function parley_internal.ensure_realtime_partitions(days_ahead integer default 3)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  created integer := 0;
  day date;
  partition_name text;
begin
  if days_ahead is null or days_ahead < 0 or days_ahead > 90 then
    raise exception 'days_ahead must be between 0 and 90, not %', days_ahead
      using errcode = 'P0001', detail = 'invalid_retention', hint = 'Pass a number of days such as 3.';
  end if;
  if not exists (select 1 from pg_catalog.pg_partitioned_table
                 where partrelid = pg_catalog.to_regclass('realtime.messages')) then
    return 0;
  end if;
  -- Same names and bounds (UTC days) as Supabase Realtime's create_messages_partitions.
  for day in
    select pg_catalog.generate_series((pg_catalog.now() at time zone 'utc')::date - 1,
                                      (pg_catalog.now() at time zone 'utc')::date + days_ahead, interval '1 day')::date
  loop
    partition_name := 'messages_' || pg_catalog.to_char(day, 'YYYY_MM_DD');
    if pg_catalog.to_regclass(pg_catalog.format('realtime.%I', partition_name)) is null then
      execute pg_catalog.format(
        'create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
        partition_name, day, day + 1);
      created := created + 1;
    end if;
  end loop;
  return created;
end
$$;

comment on function parley_internal.ensure_realtime_partitions(integer) is
  'Create the missing daily partitions of realtime.messages from yesterday to days_ahead days ahead (UTC); returns how many were created. No-op on a plain table.';

revoke all on function parley_internal.ensure_realtime_partitions(integer) from public;
grant execute on function parley_internal.ensure_realtime_partitions(integer) to service_role;

create or replace function parley_internal.purge_realtime_messages(older_than interval default '3 days')
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  removed bigint := 0;
  counted bigint;
  cutoff timestamp;
  part record;
begin
  if older_than is null or older_than < interval '0' then
    raise exception 'older_than must be a non-negative interval, not %', older_than
      using errcode = 'P0001', detail = 'invalid_retention', hint = 'Pass an interval such as ''3 days''.';
  end if;
  -- inserted_at is "timestamp without time zone" filled with now(): compare in the same clock.
  cutoff := (pg_catalog.now() - older_than)::timestamp;
  -- Partitions that lie wholly before the cutoff are dropped (as Supabase Realtime does),
  -- which writes no row-by-row WAL; the rest is deleted row by row.
  for part in
    select c.oid::pg_catalog.regclass as name
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent = pg_catalog.to_regclass('realtime.messages')
      and c.relkind = 'r'
      and (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                   'TO \(''([^'']+)''\)'))[1]::timestamp <= cutoff
  loop
    execute pg_catalog.format('select pg_catalog.count(*) from %s', part.name) into counted;
    begin
      execute pg_catalog.format('drop table %s', part.name);
      removed := removed + counted;
    exception when insufficient_privilege then
      -- Realtime's own partitions on hosted Supabase: Realtime drops them; the rows go below.
      null;
    end;
  end loop;
  delete from realtime.messages where inserted_at < cutoff;
  get diagnostics counted = row_count;
  return removed + counted;
end
$$;

comment on function parley_internal.purge_realtime_messages(interval) is
  'Drop realtime.messages partitions and delete rows older than the retention window; called by parley realtime every 10 minutes.';

revoke all on function parley_internal.purge_realtime_messages(interval) from public;
grant execute on function parley_internal.purge_realtime_messages(interval) to service_role;
