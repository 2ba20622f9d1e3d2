-- Realtime Authorization: who may join Parley's private topics (issue 7).
--
-- Supabase Realtime (and `parley realtime`, python/parley/realtime/auth.py)
-- authorizes a join to a private channel by running, as the joining user
-- and with realtime.topic() set to the channel's topic, inside a rolled-back
-- transaction:
--   * a SELECT of a probe row of that topic: may the user RECEIVE;
--   * an INSERT of a row of that topic (extension 'broadcast' for client
--     broadcasts such as typing, 'presence' for presence): may the user SEND.
-- Broadcasts from the database (functions/realtime_events.sql) are inserted
-- by SECURITY DEFINER triggers and do not go through these policies.
--
-- Topics: conversation:{id} (readers of the conversation receive; those who
-- may post send typing; roster members track presence) and user:{id} (that
-- user receives; nobody sends). Anything else, including a malformed topic,
-- is denied by these policies (never an error): the parsing lives in
-- parley_internal.realtime_topic_id. anon has no policy, so it is denied;
-- service_role bypasses RLS.
--
-- realtime.topic() and auth.uid() are wrapped in scalar subqueries, so the
-- receive decision is computed once per statement, not per row.

-- Applied only to a realtime.messages with Supabase's columns (topic, extension): the platform shim
-- leaves an existing table alone, and policies on another shape would not mean the same. Without
-- them RLS denies every private join (fail closed).
do $realtime_policies$
begin
  if (select pg_catalog.count(*) from information_schema.columns
      where table_schema = 'realtime' and table_name = 'messages' and column_name in ('topic', 'extension')) < 2 then
    raise notice 'realtime.messages has no topic/extension columns: Parley''s realtime policies are not created';
    return;
  end if;

  drop policy if exists parley_topics_receive on realtime.messages;
  create policy parley_topics_receive on realtime.messages for select to authenticated
    using (topic = (select realtime.topic())
           and extension in ('broadcast', 'presence')
           and (select parley_internal.my_realtime_can_receive((select realtime.topic()))));

  drop policy if exists parley_topics_send on realtime.messages;
  create policy parley_topics_send on realtime.messages for insert to authenticated
    with check (topic = (select realtime.topic())
                and parley_internal.my_realtime_can_send((select realtime.topic()), extension));
end
$realtime_policies$;
