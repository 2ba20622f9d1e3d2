-- Send-path rate limits (issue 5): the per-user token bucket per
-- organization and per-conversation slow mode, over the private tables of
-- sql/message_limits.sql.
--
-- Each check is ONE statement: insert ... on conflict do update ... where
-- <allowance available> returning. The row lock taken by ON CONFLICT makes
-- concurrent sends of the same user wait for each other and re-evaluate the
-- WHERE clause against the latest committed row, so no interleaving can
-- spend a token twice (no count-then-insert race). Different users never
-- touch the same row.
--
-- now() is the transaction's start time; a transaction that started before
-- the row's last charge (it waited on the lock) sees no negative refill:
-- elapsed time is clamped at 0 and refilled_at never moves backwards.
--
-- Both tables are UNLOGGED (sql/message_limits_v2.sql): a charge writes no
-- WAL; after a crash the buckets start full and slow mode starts over.
--
-- deliver_message charges only a message it has just inserted (a retry hits
-- the client_msg_id conflict first and is charged nothing). The functions
-- return the seconds to wait (0 = allowed and charged);
-- parley_internal.refuse_rate_limit raises the refusal, which rolls the
-- insert back.

create or replace function parley_internal.take_send_token(organization_id uuid, user_id uuid)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  settings public.organization_settings := parley_internal.organization_settings_of(take_send_token.organization_id);
  rate double precision := settings.send_rate_per_minute;
  burst double precision := settings.send_burst;
  left_over double precision;
  bucket parley_internal.send_allowances;
  available double precision;
begin
  insert into parley_internal.send_allowances as a (organization_id, user_id, tokens, refilled_at)
  values (take_send_token.organization_id, take_send_token.user_id, burst - 1, pg_catalog.now())
  on conflict on constraint send_allowances_pkey do update
    set tokens = greatest(0::double precision,
                   least(burst, a.tokens + greatest(0::double precision,
                     extract(epoch from pg_catalog.now() - a.refilled_at)::double precision) * rate / 60.0) - 1),
        refilled_at = greatest(a.refilled_at, pg_catalog.now())
    where least(burst, a.tokens + greatest(0::double precision,
            extract(epoch from pg_catalog.now() - a.refilled_at)::double precision) * rate / 60.0) >= 1 - 1e-9
  returning a.tokens into left_over;
  if found then
    return 0;
  end if;
  -- Refused: say how long until one token is back (for the hint only; the decision above was atomic).
  select * into bucket from parley_internal.send_allowances a
  where a.organization_id = take_send_token.organization_id and a.user_id = take_send_token.user_id;
  available := least(burst, bucket.tokens + greatest(0::double precision,
                 extract(epoch from pg_catalog.now() - bucket.refilled_at)::double precision) * rate / 60.0);
  return greatest(1, pg_catalog.ceil((1 - available) * 60.0 / rate)::integer);
end
$$;
comment on function parley_internal.take_send_token(uuid, uuid) is
  'Take one send from the user''s token bucket in the organization (refill send_rate_per_minute, capacity send_burst) in one atomic statement; returns 0 if taken, else the seconds until one is available.';
select parley_internal.restrict_function('parley_internal.take_send_token(uuid, uuid)', '{}');

-- Sends charge only new messages (deliver_message inserts first), so no token is ever given back.
drop function if exists parley_internal.return_send_token(uuid, uuid);

create or replace function parley_internal.take_slow_mode_turn(conversation_id uuid, user_id uuid, seconds integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  last_sent timestamptz;
begin
  if coalesce(take_slow_mode_turn.seconds, 0) <= 0 then
    return 0;
  end if;
  insert into parley_internal.slow_mode_sends as s (conversation_id, user_id, last_sent_at)
  values (take_slow_mode_turn.conversation_id, take_slow_mode_turn.user_id, pg_catalog.now())
  on conflict on constraint slow_mode_sends_pkey do update
    set last_sent_at = excluded.last_sent_at
    where s.last_sent_at <= excluded.last_sent_at - pg_catalog.make_interval(secs => take_slow_mode_turn.seconds)
  returning s.last_sent_at into last_sent;
  if found then
    return 0;
  end if;
  select s.last_sent_at into last_sent from parley_internal.slow_mode_sends s
  where s.conversation_id = take_slow_mode_turn.conversation_id and s.user_id = take_slow_mode_turn.user_id;
  return greatest(1, pg_catalog.ceil(take_slow_mode_turn.seconds
           - extract(epoch from pg_catalog.now() - last_sent)::double precision)::integer);
end
$$;
comment on function parley_internal.take_slow_mode_turn(uuid, uuid, integer) is
  'Slow mode: record the user''s post in the conversation if their last one is at least seconds old, in one atomic statement; returns 0 if allowed, else the seconds to wait.';
select parley_internal.restrict_function('parley_internal.take_slow_mode_turn(uuid, uuid, integer)', '{}');

create or replace function parley_internal.refuse_rate_limit(reason text, wait_seconds integer)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if reason = 'slow_mode' then
    perform parley_internal.refuse('PT429', 'slow_mode',
      'Slow mode is on in this conversation: wait before sending again.',
      pg_catalog.format('Retry after %s seconds.', wait_seconds));
  end if;
  perform parley_internal.refuse('PT429', 'rate_limited', 'You are sending messages too fast.',
    pg_catalog.format('Retry after %s seconds.', wait_seconds));
end
$$;
comment on function parley_internal.refuse_rate_limit(text, integer) is
  'Raise PT429 rate_limited or slow_mode with the hint "Retry after N seconds."';
select parley_internal.restrict_function('parley_internal.refuse_rate_limit(text, integer)', '{}');
