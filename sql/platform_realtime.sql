-- Supabase platform compatibility: the realtime schema used by "broadcast
-- from the database": realtime.messages, realtime.send(), realtime.topic()
-- and the supabase_realtime publication.
--
-- Only the subset Parley uses, with Supabase's names and types. Every object
-- is created only when missing, so a Supabase database is left untouched.
-- Difference: Supabase partitions realtime.messages by day; this copy is one
-- plain table (see docs/supabase-compatibility.md).

do $realtime_schema$
begin
  if to_regnamespace('realtime') is null then
    create schema realtime;
    grant usage on schema realtime to anon, authenticated, service_role;
  end if;

  if to_regclass('realtime.messages') is null then
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
    );
    create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
      where extension = 'broadcast' and private is true;
    -- Realtime Authorization: RLS on this table decides who may receive
    -- (select) and send (insert) on a private topic.
    alter table realtime.messages enable row level security;
    grant select, insert on table realtime.messages to anon, authenticated;
    grant all on table realtime.messages to service_role;
    comment on table realtime.messages is 'Compatibility copy of Supabase Realtime''s broadcast messages table.';
  end if;

  if to_regprocedure('realtime.topic()') is null then
    execute $fn$
      create function realtime.topic() returns text
      language sql stable
      set search_path = ''
      as $body$
        select nullif(pg_catalog.current_setting('realtime.topic', true), '')::text
      $body$
    $fn$;
    comment on function realtime.topic() is 'The topic being authorized, inside realtime.messages policies.';
  end if;

  if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null then
    execute $fn$
      create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
      returns void
      language plpgsql volatile
      set search_path = ''
      as $body$
      begin
        begin
          perform pg_catalog.set_config('realtime.topic', topic, true);
          insert into realtime.messages (payload, event, topic, private, extension)
          values (payload, event, topic, private, 'broadcast');
        exception when others then
          -- Supabase never lets a broadcast failure abort the caller's write.
          raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
        end;
      end
      $body$
    $fn$;
    comment on function realtime.send(jsonb, text, text, boolean) is 'Broadcast a message to a Realtime topic from the database.';
  end if;

  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$realtime_schema$;
