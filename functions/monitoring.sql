-- Monitoring for operators (issue 5; seed 002 "monitoring"): messages per
-- minute, active conversations, the support queue with its oldest unanswered
-- message, and refusals by reason. Readers: owners and admins of the
-- organization, anyone holding chat.audit_read there, and service_role.
--
-- Time windows over messages use ids, never a timestamp index: messages are
-- stored in send order (created_at defaults to the sending transaction's
-- time, ids are monotonic), so a binary search over the primary key finds the
-- first id of a window, and each organization's messages since then are
-- range scans of messages (conversation_id, id). Nothing is added to the send
-- path. See docs/monitoring.md.

create or replace function parley_internal.require_monitoring_reader(organization_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid;
begin
  if auth.role() = 'service_role' then
    return;
  end if;
  caller := parley_internal.require_user();
  if require_monitoring_reader.organization_id is null
     or not parley_internal.is_organization_member(require_monitoring_reader.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not (parley_internal.is_organization_admin(require_monitoring_reader.organization_id, caller)
          or parley_internal.has_permission(require_monitoring_reader.organization_id, 'chat.audit_read', caller)) then
    perform parley_internal.refuse('42501', 'no_permission',
      'Monitoring is for owners, admins and holders of chat.audit_read.',
      'Ask an owner of the organization.');
  end if;
end
$$;
comment on function parley_internal.require_monitoring_reader(uuid) is
  'Refuse (PT404 organization_not_found, 42501 no_permission) unless the caller is service_role, an owner or admin of the organization, or holds chat.audit_read there.';
select parley_internal.restrict_function('parley_internal.require_monitoring_reader(uuid)', '{}');

create or replace function parley_internal.require_window_minutes(window_minutes integer, maximum integer)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if window_minutes is null or window_minutes not between 1 and maximum then
    perform parley_internal.refuse('P0001', 'invalid_window',
      pg_catalog.format('window_minutes is between 1 and %s.', maximum), 'Pass a smaller positive window.');
  end if;
end
$$;
comment on function parley_internal.require_window_minutes(integer, integer) is
  'Refuse (P0001 invalid_window) unless window_minutes is between 1 and maximum.';
select parley_internal.restrict_function('parley_internal.require_window_minutes(integer, integer)', '{}');

create or replace function parley_internal.require_page_size(page_size integer, maximum integer)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if page_size is null or page_size not between 1 and maximum then
    perform parley_internal.refuse('P0001', 'invalid_page_size',
      pg_catalog.format('page_size is between 1 and %s.', maximum), 'Pass a smaller positive page size.');
  end if;
end
$$;
comment on function parley_internal.require_page_size(integer, integer) is
  'Refuse (P0001 invalid_page_size) unless page_size is between 1 and maximum.';
select parley_internal.restrict_function('parley_internal.require_page_size(integer, integer)', '{}');

-- The first message id sent at or after `since` (approximately: a binary
-- search over the primary key, about 40 index probes). Callers widen the
-- window by a margin and filter on created_at, so a transaction that took a
-- while between its start and its insert is still counted.
create or replace function parley_internal.first_message_id_since(since timestamptz)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  low bigint;
  high bigint;
  middle bigint;
  probe_id bigint;
  probe_at timestamptz;
begin
  select m.id into low from public.messages m order by m.id limit 1;
  select m.id + 1 into high from public.messages m order by m.id desc limit 1;
  if low is null then
    return 1;
  end if;
  while low < high loop
    middle := low + (high - low) / 2;
    select m.id, m.created_at into probe_id, probe_at from public.messages m where m.id >= middle order by m.id limit 1;
    if probe_id is null or probe_at >= first_message_id_since.since then
      high := middle;
    else
      low := probe_id + 1;
    end if;
  end loop;
  return low;
end
$$;
comment on function parley_internal.first_message_id_since(timestamptz) is
  'Approximately the first message id created at or after `since` (binary search over ids; messages are stored in send order).';
select parley_internal.restrict_function('parley_internal.first_message_id_since(timestamptz)', '{}');

create or replace function parley_internal.get_messages_per_minute(organization_id uuid)
returns table (minute timestamptz, messages bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  first_minute timestamptz := pg_catalog.date_trunc('minute', pg_catalog.now()) - interval '59 minutes';
  first_id bigint;
begin
  perform parley_internal.require_monitoring_reader(get_messages_per_minute.organization_id);
  first_id := parley_internal.first_message_id_since(first_minute - interval '5 minutes');
  return query
  with counted as (
    select pg_catalog.date_trunc('minute', m.created_at) as minute, pg_catalog.count(*) as messages
    from public.conversations c
    join public.messages m on m.conversation_id = c.id and m.id >= first_id
    where c.organization_id = get_messages_per_minute.organization_id
      and m.created_at >= first_minute
    group by 1
  )
  select g.minute, coalesce(counted.messages, 0)::bigint
  from pg_catalog.generate_series(first_minute, pg_catalog.date_trunc('minute', pg_catalog.now()),
                                  interval '1 minute') as g(minute)
  left join counted on counted.minute = g.minute
  order by g.minute;
end
$$;
comment on function parley_internal.get_messages_per_minute(uuid) is
  'Operators (owners, admins, chat.audit_read): messages sent in the organization per minute over the last 60 minutes, oldest first, one row per minute (zeros included; the last row is the current, partial minute).';
select parley_internal.publish_function('parley_internal.get_messages_per_minute(uuid)', '{authenticated,service_role}');

create or replace function parley_internal.get_active_conversations(
  organization_id uuid,
  window_minutes integer default 15,
  page_size integer default 100
)
returns table (conversation_id uuid, kind text, messages bigint, last_message_id bigint, last_message_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  since timestamptz;
  first_id bigint;
begin
  perform parley_internal.require_window_minutes(get_active_conversations.window_minutes, 1440);
  perform parley_internal.require_page_size(get_active_conversations.page_size, 500);
  perform parley_internal.require_monitoring_reader(get_active_conversations.organization_id);
  since := pg_catalog.now() - pg_catalog.make_interval(mins => get_active_conversations.window_minutes);
  first_id := parley_internal.first_message_id_since(since - interval '5 minutes');
  return query
  select c.id, c.kind, pg_catalog.count(*)::bigint, pg_catalog.max(m.id), pg_catalog.max(m.created_at)
  from public.conversations c
  join public.messages m on m.conversation_id = c.id and m.id >= first_id
  where c.organization_id = get_active_conversations.organization_id
    and m.created_at >= since
  group by c.id, c.kind
  order by pg_catalog.max(m.id) desc
  limit get_active_conversations.page_size;
end
$$;
comment on function parley_internal.get_active_conversations(uuid, integer, integer) is
  'Operators: the organization''s conversations with a message in the last window_minutes (1-1440, default 15), most recent first, with their message count in the window; at most page_size (1-500) rows.';
select parley_internal.publish_function('parley_internal.get_active_conversations(uuid, integer, integer)',
                                        '{authenticated,service_role}');

-- The support queue. A support conversation is open unless resolved. Its
-- oldest unanswered message is the first message of its subject user after
-- the last reply, a reply being a message from any other user (staff) or
-- from a persona; system messages are not replies, deleted messages wait for
-- nobody.
create or replace function parley_internal.get_support_backlog(organization_id uuid, page_size integer default 100)
returns table (
  conversation_id uuid,
  subject_user_id uuid,
  support_status text,
  support_assignee_id uuid,
  last_reply_message_id bigint,
  unanswered_message_id bigint,
  unanswered_since timestamptz,
  waiting_seconds bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform parley_internal.require_page_size(get_support_backlog.page_size, 500);
  perform parley_internal.require_monitoring_reader(get_support_backlog.organization_id);
  return query
  select c.id, c.subject_user_id, c.support_status,
         (select a.assignee_id from parley_internal.support_assignments a where a.conversation_id = c.id),
         reply.id, waiting.id, waiting.created_at,
         pg_catalog.floor(extract(epoch from pg_catalog.now() - waiting.created_at))::bigint
  from public.conversations c
  left join lateral (
    select r.id from public.messages r
    where r.conversation_id = c.id
      and (r.sender_kind in ('persona', 'support') or (r.sender_kind = 'user' and r.sender_id <> c.subject_user_id))
    order by r.id desc limit 1
  ) as reply on true
  left join lateral (
    select w.id, w.created_at from public.messages w
    where w.conversation_id = c.id and w.id > coalesce(reply.id, 0)
      and w.sender_kind = 'user' and w.sender_id = c.subject_user_id and w.deleted_at is null
    order by w.id limit 1
  ) as waiting on true
  where c.organization_id = get_support_backlog.organization_id
    and c.kind = 'support' and c.support_status <> 'resolved'
  order by waiting.id nulls last, c.id
  limit get_support_backlog.page_size;
end
$$;
comment on function parley_internal.get_support_backlog(uuid, integer) is
  'Operators: open (not resolved) support conversations, longest-waiting first, each with its oldest unanswered message (the subject user''s first message after the last staff or persona reply) and how long it has waited; null when answered. At most page_size (1-500) rows.';
select parley_internal.publish_function('parley_internal.get_support_backlog(uuid, integer)', '{authenticated,service_role}');

create or replace function parley_internal.get_refusal_counts(organization_id uuid, window_minutes integer default 60)
returns table (sqlstate text, reason text, refusals bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  since timestamptz;
begin
  perform parley_internal.require_window_minutes(get_refusal_counts.window_minutes, 10080);
  if get_refusal_counts.organization_id is not null or auth.role() is distinct from 'service_role' then
    perform parley_internal.require_monitoring_reader(get_refusal_counts.organization_id);
  end if;
  since := pg_catalog.date_trunc('minute', pg_catalog.now())
           - pg_catalog.make_interval(mins => get_refusal_counts.window_minutes - 1);
  return query
  select r.sqlstate, r.reason, pg_catalog.sum(r.refusals)::bigint
  from parley_internal.refusal_counts r
  where r.minute >= since
    and (get_refusal_counts.organization_id is null
         or r.organization_id = get_refusal_counts.organization_id
         or (r.organization_id is null and r.user_id in (
               select m.user_id from public.organization_members m
               where m.organization_id = get_refusal_counts.organization_id)))
  group by r.sqlstate, r.reason
  order by 3 desc, r.sqlstate, r.reason;
end
$$;
comment on function parley_internal.get_refusal_counts(uuid, integer) is
  'Operators: refusals by SQLSTATE and reason over the last window_minutes (default 60, whole minutes), most frequent first. An organization''s refusals are those attributed to it plus unattributed refusals of its members; service_role may pass a null organization for every refusal.';
select parley_internal.publish_function('parley_internal.get_refusal_counts(uuid, integer)', '{authenticated,service_role}');

create or replace function parley_internal.get_monitoring_summary(
  organization_id uuid,
  out messages_last_hour bigint,
  out active_conversations bigint,
  out open_support_conversations bigint,
  out unanswered_support_conversations bigint,
  out oldest_unanswered_message_id bigint,
  out oldest_unanswered_since timestamptz,
  out refusals_last_hour bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  hour_ago timestamptz := pg_catalog.now() - interval '1 hour';
  first_id bigint;
begin
  perform parley_internal.require_monitoring_reader(get_monitoring_summary.organization_id);
  first_id := parley_internal.first_message_id_since(hour_ago - interval '5 minutes');
  select pg_catalog.count(*),
         pg_catalog.count(distinct c.id) filter (where m.created_at >= pg_catalog.now() - interval '15 minutes')
    into messages_last_hour, active_conversations
  from public.conversations c
  join public.messages m on m.conversation_id = c.id and m.id >= first_id
  where c.organization_id = get_monitoring_summary.organization_id and m.created_at >= hour_ago;
  select pg_catalog.count(*), pg_catalog.count(q.unanswered_message_id),
         pg_catalog.min(q.unanswered_message_id), pg_catalog.min(q.unanswered_since)
    into open_support_conversations, unanswered_support_conversations, oldest_unanswered_message_id,
         oldest_unanswered_since
  from parley_internal.get_support_backlog(get_monitoring_summary.organization_id, 500) as q;
  select coalesce(pg_catalog.sum(r.refusals), 0)::bigint into refusals_last_hour
  from parley_internal.get_refusal_counts(get_monitoring_summary.organization_id, 60) as r;
end
$$;
comment on function parley_internal.get_monitoring_summary(uuid) is
  'Operators: one row for a dashboard: messages in the last hour, conversations active in the last 15 minutes, open and unanswered support conversations (of the 500 longest-waiting), the oldest unanswered support message, refusals in the last hour.';
select parley_internal.publish_function('parley_internal.get_monitoring_summary(uuid)', '{authenticated,service_role}');

-- Intake of the parley.refusal WAL messages (docs/monitoring.md).
create or replace function parley_internal.try_timestamptz(value text)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
begin
  return value::timestamptz;
exception when others then
  return null;
end
$$;
comment on function parley_internal.try_timestamptz(text) is 'value as a timestamptz, or null if it is not one.';
select parley_internal.restrict_function('parley_internal.try_timestamptz(text)', '{}');

create or replace function parley_internal.record_refusals(events jsonb, source text default 'realtime')
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uuid_pattern constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  watermark pg_lsn;
  newest pg_lsn;
  recorded integer;
begin
  if pg_catalog.jsonb_typeof(record_refusals.events) is distinct from 'array' then
    perform parley_internal.refuse('P0001', 'invalid_events', 'events is a JSON array of refusal events.',
      'Pass the parley.refusal message contents as an array.');
  end if;
  if pg_catalog.jsonb_array_length(record_refusals.events) > 50000 then
    perform parley_internal.refuse('P0001', 'too_many_events', 'At most 50000 events per call.',
      'Send smaller batches.');
  end if;
  if record_refusals.source is null or pg_catalog.length(record_refusals.source) not between 1 and 63 then
    perform parley_internal.refuse('P0001', 'invalid_source', 'source names the event stream (1-63 characters).',
      'Pass the slot name.');
  end if;
  -- One intake per source at a time; events at or before its watermark were recorded already.
  insert into parley_internal.refusal_intake as i (source, last_lsn) values (record_refusals.source, '0/0')
  on conflict on constraint refusal_intake_pkey do update set source = excluded.source
  returning i.last_lsn into watermark;

  with parsed as (
    select case when e ->> 'sqlstate' ~ '^[0-9A-Z]{5}$' then e ->> 'sqlstate' end as sqlstate,
           case when e ->> 'reason' ~ '^[a-z][a-z0-9_]{0,62}$' then e ->> 'reason' end as reason,
           case when e ->> 'user_id' ~ uuid_pattern then (e ->> 'user_id')::uuid end as user_id,
           case when e ->> 'organization_id' ~ uuid_pattern then (e ->> 'organization_id')::uuid end as organization_id,
           case when e ->> 'lsn' ~ '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$' then (e ->> 'lsn')::pg_lsn end as lsn,
           coalesce(parley_internal.try_timestamptz(e ->> 'at'), pg_catalog.now()) as at
    from pg_catalog.jsonb_array_elements(record_refusals.events) as e
    where pg_catalog.jsonb_typeof(e) = 'object'
  ),
  fresh as (
    select * from parsed p
    where p.sqlstate is not null and p.reason is not null and (p.lsn is null or p.lsn > watermark)
  ),
  counted as (
    insert into parley_internal.refusal_counts as r (minute, organization_id, user_id, sqlstate, reason, refusals)
    select pg_catalog.date_trunc('minute', f.at), f.organization_id, f.user_id, f.sqlstate, f.reason, pg_catalog.count(*)
    from fresh f
    group by 1, 2, 3, 4, 5
    on conflict (minute, organization_id, user_id, sqlstate, reason)
    do update set refusals = r.refusals + excluded.refusals
  )
  select pg_catalog.count(*)::integer, pg_catalog.max(f.lsn) into recorded, newest from fresh f;

  if newest is not null then
    update parley_internal.refusal_intake i set last_lsn = newest, updated_at = pg_catalog.now()
    where i.source = record_refusals.source;
  end if;
  -- Retention: a week of per-minute counts.
  delete from parley_internal.refusal_counts r where r.minute < pg_catalog.now() - interval '7 days';
  return recorded;
end
$$;
comment on function parley_internal.record_refusals(jsonb, text) is
  'The realtime service''s intake of parley.refusal WAL messages: add each well-formed event (sqlstate, reason, user_id, organization_id, at, and the message''s lsn) to the per-minute refusal counts. Events at or before the source''s last recorded lsn are skipped (replays); malformed ones are ignored. Returns how many were counted.';
select parley_internal.restrict_function('parley_internal.record_refusals(jsonb, text)', '{service_role}');
