-- Realtime capture (issue 13): how a database event reaches `parley realtime`
-- or Supabase Realtime. Every trigger that broadcasts (functions/realtime_events.sql,
-- functions/calls.sql, functions/staff_privacy.sql) calls
-- parley_internal.broadcast(payload, event, topic, private), never
-- realtime.send directly. One setting, `parley.realtime_capture` (set per
-- database by the stack: `alter database ... set parley.realtime_capture = 'wal'`,
-- python/parley/stack.py set_realtime_capture), chooses the mode:
--
--   table (unset, the default; Supabase): realtime.send(...), one row in
--         realtime.messages, which Supabase Realtime reads (it reads nothing else).
--   wal   (the self-hosted and embedded stack): a transactional logical
--         decoding message, prefix 'parley.broadcast', content
--         {"topic", "event", "payload", "private", "id"}: written with the
--         transaction, decoded only if it commits, in commit order, and no row
--         anywhere (no heap tuple, no index entries, no subtransaction).
--         `parley realtime` reads these from its slot next to realtime.messages
--         rows and delivers the same events (same payloads, ids, order and
--         resume; docs/realtime.md, "Capture modes").
--
-- As realtime.send does, the payload gets the message's uuid as `id` unless it
-- has one; in wal mode that uuid is generated here and becomes meta.message_id.

create or replace function parley_internal.broadcast(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  message_id uuid;
begin
  -- wal needs logical decoding; below wal_level logical the row is the only way out.
  if pg_catalog.current_setting('parley.realtime_capture', true) = 'wal'
     and pg_catalog.current_setting('wal_level') = 'logical' then
    message_id := pg_catalog.gen_random_uuid();
    if payload is not null and not (payload operator(pg_catalog.?) 'id') then
      payload := payload operator(pg_catalog.||) pg_catalog.jsonb_build_object('id', message_id);
    end if;
    perform pg_catalog.pg_logical_emit_message(true, 'parley.broadcast', pg_catalog.jsonb_build_object(
      'topic', topic, 'event', event, 'payload', payload, 'private', private, 'id', message_id)::text);
  else
    perform realtime.send(payload, event, topic, private);
  end if;
end
$$;
comment on function parley_internal.broadcast(jsonb, text, text, boolean) is
  'Broadcast a database event on a Realtime topic. parley.realtime_capture = wal: a transactional logical decoding message (prefix parley.broadcast) that parley realtime reads from the WAL, no row; otherwise (table, the default, Supabase): realtime.send, one realtime.messages row.';
select parley_internal.restrict_function('parley_internal.broadcast(jsonb, text, text, boolean)', '{}');
