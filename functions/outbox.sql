-- The outbox (issue 18): triggers that put the events push and webhook
-- workers need into the WAL as transactional logical decoding messages
-- (prefix 'parley.outbox'): written with the transaction, decoded only if it
-- commits, in commit order, and no row anywhere. See docs/outbox.md.
--
-- Events (type, when, data):
--   message.created    a message is inserted (any kind)     {message, conversation_kind}
--   message.edited     its body or metadata changes          {message: id, conversation_id, body, edited_at}
--   message.deleted    it becomes a tombstone                {message: id, conversation_id, deleted_at}
--   message.mentioned  a member is mentioned                 {message_id, conversation_id, user_id}
--   call.ringing       a user is rung for a call (start_call: one event per rung participant)
--                                                             {call: {id, media, initiator_id, started_at, ring_deadline}, user_id}
--   message_report.created  a message is reported             {report_id, message_id, conversation_id, reason}
-- Every event: {type, organization_id, conversation_id, occurred_at, data}.
-- Who to notify about a message (the offline members) is decided when the
-- worker delivers it, by parley_internal.push_recipients(message_id): a send
-- never walks its conversation's roster.

create or replace function parley_internal.outbox_emit(event_type text, organization_id uuid, conversation_id uuid,
                                                       data jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  -- Nothing can decode below wal_level logical; parley.outbox = 'off' switches the feed off (bulk imports).
  if pg_catalog.current_setting('wal_level') <> 'logical'
     or coalesce(pg_catalog.current_setting('parley.outbox', true), '') = 'off' then
    return;
  end if;
  perform pg_catalog.pg_logical_emit_message(true, 'parley.outbox', pg_catalog.jsonb_build_object(
    'type', event_type, 'organization_id', organization_id, 'conversation_id', conversation_id,
    'occurred_at', pg_catalog.now(), 'data', data)::text);
end
$$;
comment on function parley_internal.outbox_emit(text, uuid, uuid, jsonb) is
  'Emit one outbox event as a transactional logical decoding message (prefix parley.outbox): decoded in commit order if the transaction commits; writes no row.';
select parley_internal.restrict_function('parley_internal.outbox_emit(text, uuid, uuid, jsonb)', '{}');

create or replace function parley_internal.outbox_message_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  conversation record;
begin
  select c.organization_id, c.kind into conversation from public.conversations c where c.id = new.conversation_id;
  -- The message as readers see it: the row without deleted_by and pinned_by (new messages have neither set),
  -- the same columns as parley_internal.realtime_message_json, built without a second function call.
  perform parley_internal.outbox_emit('message.created', conversation.organization_id, new.conversation_id,
    pg_catalog.jsonb_build_object('message', pg_catalog.to_jsonb(new) - array['deleted_by', 'pinned_by'],
                                  'conversation_kind', conversation.kind));
  return null;
end
$$;
comment on function parley_internal.outbox_message_inserted() is
  'Trigger: outbox event message.created (any kind, the call summary message posted when a call ends included) with the message as readers see it.';
select parley_internal.restrict_function('parley_internal.outbox_message_inserted()', '{}');

create or replace function parley_internal.outbox_message_updated()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  organization uuid;
begin
  select c.organization_id into organization from public.conversations c where c.id = new.conversation_id;
  if old.deleted_at is null and new.deleted_at is not null then
    perform parley_internal.outbox_emit('message.deleted', organization, new.conversation_id,
      pg_catalog.jsonb_build_object('message', pg_catalog.jsonb_build_object(
        'id', new.id, 'conversation_id', new.conversation_id, 'deleted_at', new.deleted_at)));
  elsif new.deleted_at is null then
    perform parley_internal.outbox_emit('message.edited', organization, new.conversation_id,
      pg_catalog.jsonb_build_object('message', pg_catalog.jsonb_build_object(
        'id', new.id, 'conversation_id', new.conversation_id, 'body', new.body, 'metadata', new.metadata,
        'edited_at', new.edited_at)));
  end if;
  return null;
end
$$;
comment on function parley_internal.outbox_message_updated() is
  'Trigger: outbox events message.deleted (tombstone, no content) and message.edited (new body).';
select parley_internal.restrict_function('parley_internal.outbox_message_updated()', '{}');

create or replace function parley_internal.outbox_mention_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform parley_internal.outbox_emit('message.mentioned',
    (select c.organization_id from public.conversations c where c.id = new.conversation_id), new.conversation_id,
    pg_catalog.jsonb_build_object('message_id', new.message_id, 'conversation_id', new.conversation_id,
                                  'user_id', new.user_id));
  return null;
end
$$;
comment on function parley_internal.outbox_mention_inserted() is
  'Trigger: outbox event message.mentioned per mentioned user.';
select parley_internal.restrict_function('parley_internal.outbox_mention_inserted()', '{}');

create or replace function parley_internal.outbox_report_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform parley_internal.outbox_emit('message_report.created', new.organization_id, new.conversation_id,
    pg_catalog.jsonb_build_object('report_id', new.id, 'message_id', new.message_id,
                                  'conversation_id', new.conversation_id, 'reason', new.reason));
  return null;
end
$$;
comment on function parley_internal.outbox_report_inserted() is
  'Trigger: outbox event message_report.created (for a moderators'' notification hook).';
select parley_internal.restrict_function('parley_internal.outbox_report_inserted()', '{}');

create or replace function parley_internal.outbox_call_participant_rung()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  session public.call_sessions;
begin
  select * into session from public.call_sessions s where s.id = new.call_id;
  perform parley_internal.outbox_emit('call.ringing', session.organization_id, session.conversation_id,
    pg_catalog.jsonb_build_object(
      'call', pg_catalog.jsonb_build_object('id', session.id, 'media', session.media,
        'initiator_id', session.initiator_id, 'started_at', session.started_at,
        'ring_deadline', session.ring_deadline),
      'user_id', new.user_id));
  return null;
end
$$;
comment on function parley_internal.outbox_call_participant_rung() is
  'Trigger: outbox event call.ringing when a user is rung for a call (a call_participants row inserted as ringing), so a push worker can wake the callee while the call still rings.';
select parley_internal.restrict_function('parley_internal.outbox_call_participant_rung()', '{}');

drop trigger if exists call_participants_outbox on public.call_participants;
create trigger call_participants_outbox after insert on public.call_participants
  for each row when (new.state = 'ringing') execute function parley_internal.outbox_call_participant_rung();

drop trigger if exists messages_outbox_insert on public.messages;
create trigger messages_outbox_insert after insert on public.messages
  for each row execute function parley_internal.outbox_message_inserted();
drop trigger if exists messages_outbox_update on public.messages;
create trigger messages_outbox_update after update of body, metadata, deleted_at on public.messages
  for each row when (old.deleted_at is distinct from new.deleted_at
                     or (new.deleted_at is null and (old.body is distinct from new.body
                                                     or old.metadata is distinct from new.metadata)))
  execute function parley_internal.outbox_message_updated();
drop trigger if exists message_mentions_outbox on public.message_mentions;
create trigger message_mentions_outbox after insert on public.message_mentions
  for each row execute function parley_internal.outbox_mention_inserted();
drop trigger if exists message_reports_outbox on public.message_reports;
create trigger message_reports_outbox after insert on public.message_reports
  for each row execute function parley_internal.outbox_report_inserted();

-- For push workers: whom to notify about a message, decided at delivery time.
-- The conversation's user members other than the sender who would want a
-- push: not muted, notification level all (or mentions and mentioned), no
-- block with the sender, and offline (presence offline, or no heartbeat for
-- offline_after seconds).
create or replace function parley_internal.push_recipients(message_id bigint, offline_after integer default 60)
returns table (user_id uuid, mentioned boolean)
language sql
stable
security definer
set search_path = ''
as $$
  select m.user_id, mm.user_id is not null
  from public.messages msg
  cross join lateral (select parley_internal.real_sender_of(msg) as id) sender
  join public.conversation_members m on m.conversation_id = msg.conversation_id
  left join public.inbox_entries i on i.user_id = m.user_id and i.conversation_id = m.conversation_id
  left join public.message_mentions mm on mm.message_id = msg.id and mm.user_id = m.user_id
  left join public.presence p on p.user_id = m.user_id
  where msg.id = push_recipients.message_id and msg.deleted_at is null
    and m.user_id is distinct from sender.id
    and m.visible_from_message_id < msg.id
    and (i.muted_until is null or i.muted_until <= pg_catalog.now())
    and (coalesce(i.notification_level, 'all') = 'all'
         or (i.notification_level = 'mentions' and mm.user_id is not null))
    and (msg.sender_id is null or not parley_internal.is_blocked_between(m.user_id, msg.sender_id))
    and (p.user_id is null or p.status = 'offline'
         or p.last_seen_at < pg_catalog.now() - pg_catalog.make_interval(secs => push_recipients.offline_after))
  order by m.user_id
$$;
comment on function parley_internal.push_recipients(bigint, integer) is
  'Push workers: the members to notify about a message: not its sender, not muted, notification level all (mentions: only when mentioned), no block with the sender, and offline (presence offline or silent for offline_after seconds).';
select parley_internal.restrict_function('parley_internal.push_recipients(bigint, integer)', '{service_role}');

create or replace function parley_internal.requeue_dead_webhooks()
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with requeued as (
    update parley_internal.webhook_deliveries d
    set status = 'pending', attempts = 0, next_attempt_at = pg_catalog.now()
    where d.status = 'dead'
    returning 1
  )
  select pg_catalog.count(*)::integer from requeued
$$;
comment on function parley_internal.requeue_dead_webhooks() is
  'Operators: put every dead webhook delivery back in the queue (attempts reset). Returns how many.';
select parley_internal.restrict_function('parley_internal.requeue_dead_webhooks()', '{service_role}');
