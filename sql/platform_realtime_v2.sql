-- Supabase platform compatibility, second step: realtime as Supabase
-- Realtime leaves it.
--
-- 1. realtime.messages partitioned by day on inserted_at (RANGE), with daily
--    partitions named messages_YYYY_MM_DD as Realtime creates them. The
--    shim's first version was one plain table: it is converted here (rows of
--    the last 3 days are kept, its policies are carried over). Partitions for
--    the coming days are created by parley_internal.ensure_realtime_partitions()
--    (functions/realtime_retention.sql), which `parley realtime` calls; as on
--    Supabase there is no default partition, so a row outside every
--    partition is refused.
-- 2. realtime.send() adding the message's id to the payload (unless the
--    payload has an `id` already), as Supabase's realtime.send does.
--
-- Only the shim's own objects are changed (recognised by their comments); a
-- Supabase database is left untouched.

do $realtime_partitioned$
declare
  plain_table boolean;
  day date;
  policy record;
begin
  select c.relkind = 'r' into plain_table
  from pg_catalog.pg_class c
  where c.oid = to_regclass('realtime.messages')
    and pg_catalog.obj_description(c.oid, 'pg_class') = 'Compatibility copy of Supabase Realtime''s broadcast messages table.';

  if coalesce(plain_table, false) then
    alter table realtime.messages rename to messages_unpartitioned;
    alter table realtime.messages_unpartitioned rename constraint messages_pkey to messages_unpartitioned_pkey;
    alter index realtime.messages_inserted_at_topic_index rename to messages_unpartitioned_inserted_at_topic_index;

    create table realtime.messages (
      topic text not null,
      extension text not null,
      payload jsonb,
      event text,
      private boolean default false,
      updated_at timestamp without time zone not null default now(),
      inserted_at timestamp without time zone not null default now(),
      id uuid not null default gen_random_uuid(),
      primary key (id, inserted_at)
    ) partition by range (inserted_at);
    create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
      where extension = 'broadcast' and private is true;
    alter table realtime.messages enable row level security;
    grant select, insert on table realtime.messages to anon, authenticated;
    grant all on table realtime.messages to service_role;
    comment on table realtime.messages is
      'Compatibility copy of Supabase Realtime''s broadcast messages table, partitioned by day as on Supabase.';

    for day in
      select pg_catalog.generate_series((pg_catalog.now() at time zone 'utc')::date - 3,
                                        (pg_catalog.now() at time zone 'utc')::date + 7, interval '1 day')::date
    loop
      execute pg_catalog.format(
        'create table if not exists realtime.%I partition of realtime.messages for values from (%L) to (%L)',
        'messages_' || pg_catalog.to_char(day, 'YYYY_MM_DD'), day, day + 1);
    end loop;

    insert into realtime.messages (topic, extension, payload, event, private, updated_at, inserted_at, id)
    select topic, extension, payload, event, private, updated_at, inserted_at, id
    from realtime.messages_unpartitioned
    where inserted_at >= ((pg_catalog.now() at time zone 'utc')::date - 3)::timestamp
      and inserted_at < ((pg_catalog.now() at time zone 'utc')::date + 8)::timestamp;

    -- Policies written for the old table (policies/realtime.sql) move with it.
    for policy in
      select p.polname, p.polpermissive, p.polcmd,
             pg_catalog.pg_get_expr(p.polqual, p.polrelid) as using_expression,
             pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as check_expression,
             (select pg_catalog.string_agg(case when r = 0 then 'public' else pg_catalog.quote_ident(a.rolname) end, ', ')
              from pg_catalog.unnest(p.polroles) r left join pg_catalog.pg_authid a on a.oid = r) as roles
      from pg_catalog.pg_policy p
      where p.polrelid = 'realtime.messages_unpartitioned'::pg_catalog.regclass
    loop
      execute pg_catalog.format('create policy %I on realtime.messages as %s for %s to %s%s%s',
        policy.polname,
        case when policy.polpermissive then 'permissive' else 'restrictive' end,
        case policy.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                           when 'd' then 'delete' else 'all' end,
        policy.roles,
        case when policy.using_expression is null then '' else ' using (' || policy.using_expression || ')' end,
        case when policy.check_expression is null then '' else ' with check (' || policy.check_expression || ')' end);
    end loop;

    drop table realtime.messages_unpartitioned;
  end if;

  if pg_catalog.obj_description('realtime.send(jsonb, text, text, boolean)'::pg_catalog.regprocedure, 'pg_proc')
     = 'Broadcast a message to a Realtime topic from the database.' then
    create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
    returns void
    language plpgsql volatile
    set search_path = ''
    as $body$
    declare
      generated_id uuid := pg_catalog.gen_random_uuid();
    begin
      begin
        -- As Supabase's realtime.send: the row's id goes into the payload unless it has an id already.
        if not (payload ? 'id') then
          payload := pg_catalog.jsonb_set(payload, '{id}', pg_catalog.to_jsonb(generated_id));
        end if;
        perform pg_catalog.set_config('realtime.topic', topic, true);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (generated_id, payload, event, topic, private, 'broadcast');
      exception when others then
        -- Supabase never lets a broadcast failure abort the caller's write.
        raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
      end;
    end
    $body$;
    comment on function realtime.send(jsonb, text, text, boolean) is
      'Broadcast a message to a Realtime topic from the database (adds the message id to the payload, as Supabase does).';
  end if;
end
$realtime_partitioned$;
