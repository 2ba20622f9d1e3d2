-- Calls (issue 15): RPCs, the ring-timeout job, ICE servers and call events.
--
-- State lives in public.call_sessions / public.call_participants
-- (sql/calls.sql); signaling (offer, answer, ICE candidates) rides on the
-- private realtime topic call:{id} as client broadcasts, which only the
-- call's live participants may join or send to (realtime_can_receive /
-- realtime_can_send call parley_internal.is_live_call_participant).
--
-- Rules
--   * Every RPC refuses unless the conversation's organization has chat and
--     chat.calls (PT402 feature_disabled). Starting a call also needs
--     chat.initiate_call (42501 no_permission) and, in a direct conversation,
--     the callee's can_call decision (privacy, blocks both ways: 42501 with
--     the decision's reason). Accepting or joining re-checks blocks.
--   * One live call per conversation: call_sessions_live_key. start_call
--     inserts ... on conflict do nothing; the loser of a race (glare: both
--     sides call at once) waits for the winner's commit and gets the
--     winner's call; a caller who was ringing in it accepts it. Both end up
--     in the same active call.
--   * Busy: a callee joined in another live call is not rung; a direct call
--     to them ends at once with end_reason busy.
--   * Ring timeout: parley_internal.expire_ringing_calls(at) ends calls whose
--     ring_deadline passed (missed) and marks late invitees missed; run by
--     pg_cron when installed (job parley_expire_ringing_calls, every 5 s), else
--     by `parley worker calls`. Idempotent.
--   * An ended call posts exactly one message of kind call (sender_kind
--     system) with {call_id, media, end_reason, duration_seconds}; get_inbox
--     shows it as the preview.
-- Events (parley_internal.broadcast from the triggers at the end of this file, no NOTIFY):
--   user:{id} of a rung participant  call_ringing
--   conversation:{id} and user:{id} of every participant
--                                   call_accepted, call_declined, call_ended,
--                                   call_participant_updated

-- Helpers ----------------------------------------------------------------------

create or replace function parley_internal.call_session_json(session public.call_sessions)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'id', session.id,
    'history_id', session.history_id,
    'conversation_id', session.conversation_id,
    'organization_id', session.organization_id,
    'media', session.media,
    'initiator_id', session.initiator_id,
    'state', session.state,
    'end_reason', session.end_reason,
    'started_at', session.started_at,
    'ring_deadline', session.ring_deadline,
    'answered_at', session.answered_at,
    'ended_at', session.ended_at,
    'duration_seconds', extract(epoch from session.duration))
$$;
comment on function parley_internal.call_session_json(public.call_sessions) is
  'A call row as RPC results and realtime payloads carry it (duration_seconds exact, microseconds).';
select parley_internal.restrict_function('parley_internal.call_session_json(public.call_sessions)', '{}');

create or replace function parley_internal.call_participant_json(participant public.call_participants)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'call_id', participant.call_id,
    'user_id', participant.user_id,
    'state', participant.state,
    'invited_by', participant.invited_by,
    'invited_at', participant.invited_at,
    'joined_at', participant.joined_at,
    'left_at', participant.left_at,
    'muted', participant.muted,
    'camera_on', participant.camera_on)
$$;
comment on function parley_internal.call_participant_json(public.call_participants) is
  'A call participant row as RPC results and realtime payloads carry it.';
select parley_internal.restrict_function('parley_internal.call_participant_json(public.call_participants)', '{}');

create or replace function parley_internal.call_json(call_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.call_session_json(s)
         || pg_catalog.jsonb_build_object('participants', coalesce((
              select pg_catalog.jsonb_agg(parley_internal.call_participant_json(p) order by p.invited_at, p.user_id)
              from public.call_participants p where p.call_id = s.id), '[]'::jsonb))
  from public.call_sessions s where s.id = call_json.call_id
$$;
comment on function parley_internal.call_json(uuid) is
  'The call with its participants, as the call RPCs return it.';
select parley_internal.restrict_function('parley_internal.call_json(uuid)', '{}');

create or replace function parley_internal.is_live_call_participant(call_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.call_participants p
    join public.call_sessions s on s.id = p.call_id
    where p.call_id = is_live_call_participant.call_id and p.user_id = is_live_call_participant.user_id
      and p.state in ('ringing', 'joined') and s.state in ('ringing', 'active'))
$$;
comment on function parley_internal.is_live_call_participant(uuid, uuid) is
  'Whether the user is rung or joined in the call and the call is live: who may join and send on the realtime topic call:{id}.';
select parley_internal.restrict_function('parley_internal.is_live_call_participant(uuid, uuid)', '{service_role}');

create or replace function parley_internal.require_call_feature(organization_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.set_refusal_organization(require_call_feature.organization_id);
  perform parley_internal.require_feature(require_call_feature.organization_id, 'chat');
  perform parley_internal.require_feature(require_call_feature.organization_id, 'chat.calls');
end
$$;
comment on function parley_internal.require_call_feature(uuid) is
  'Refuse with PT402 feature_disabled unless the organization''s plan includes chat and chat.calls.';
select parley_internal.restrict_function('parley_internal.require_call_feature(uuid)', '{}');

create or replace function parley_internal.refuse_call_block(user_id uuid, other_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.blocks b where b.blocker_id = refuse_call_block.user_id
                                             and b.blocked_id = refuse_call_block.other_id) then
    perform parley_internal.refuse('42501', 'blocked', 'You blocked this user.', 'Unblock them first.');
  end if;
  if exists (select 1 from public.blocks b where b.blocker_id = refuse_call_block.other_id
                                             and b.blocked_id = refuse_call_block.user_id) then
    -- The blocked party is told privacy, as by can_call.
    perform parley_internal.refuse('42501', 'privacy', 'This user does not accept calls from you.',
      'They choose who may call them.');
  end if;
end
$$;
comment on function parley_internal.refuse_call_block(uuid, uuid) is
  'Refuse (42501 blocked, or privacy for the blocked party) when a block stands between the two users.';
select parley_internal.restrict_function('parley_internal.refuse_call_block(uuid, uuid)', '{}');

create or replace function parley_internal.lock_call(call_id uuid, user_id uuid)
returns public.call_sessions
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.call_sessions;
begin
  select * into locked from public.call_sessions s where s.id = lock_call.call_id;
  if not found or not parley_internal.is_conversation_member(locked.conversation_id, lock_call.user_id) then
    perform parley_internal.refuse('PT404', 'call_not_found', 'No such call.',
      'Check the call id; you must be a member of its conversation.');
  end if;
  perform parley_internal.require_call_feature(locked.organization_id);
  select * into locked from public.call_sessions s where s.id = lock_call.call_id for update;
  return locked;
end
$$;
comment on function parley_internal.lock_call(uuid, uuid) is
  'Lock a call of a conversation the user is a member of (FOR UPDATE: serializes its state changes); PT404 call_not_found otherwise, PT402 without chat.calls.';
select parley_internal.restrict_function('parley_internal.lock_call(uuid, uuid)', '{}');

create or replace function parley_internal.require_live_call(session public.call_sessions)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if session.state = 'ended' then
    perform parley_internal.refuse('PT409', 'call_ended', 'This call has ended.', 'Start a new call.');
  end if;
end
$$;
comment on function parley_internal.require_live_call(public.call_sessions) is
  'Refuse with PT409 call_ended unless the call is ringing or active.';
select parley_internal.restrict_function('parley_internal.require_live_call(public.call_sessions)', '{}');

create or replace function parley_internal.post_call_message(session public.call_sessions)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  media_name text := case session.media when 'video' then 'Video call' else 'Audio call' end;
  seconds numeric := extract(epoch from session.duration);
  posted public.messages;
begin
  insert into public.messages (conversation_id, sender_kind, kind, body, metadata)
  values (session.conversation_id, 'system', 'call',
          case session.end_reason
            when 'completed' then media_name || ' (' || pg_catalog.to_char(session.duration, 'FMHH24:MI:SS') || ')'
            when 'missed' then 'Missed ' || pg_catalog.lower(media_name)
            when 'declined' then media_name || ' declined'
            when 'cancelled' then media_name || ' cancelled'
            when 'busy' then media_name || ': busy'
            else media_name || ' failed'
          end,
          pg_catalog.jsonb_build_object(
            'event', 'call_ended', 'call_id', session.id, 'media', session.media,
            'end_reason', session.end_reason, 'duration_seconds', seconds,
            'started_at', session.started_at, 'answered_at', session.answered_at, 'ended_at', session.ended_at,
            -- actor_id: the initiator's own call does not count as unread for them (get_inbox, unread counts).
            'initiator_id', session.initiator_id, 'actor_id', session.initiator_id))
  returning * into posted;
  return posted;
end
$$;
comment on function parley_internal.post_call_message(public.call_sessions) is
  'Post the one message (kind call, sender_kind system) that records an ended call: media, end reason, exact duration.';
select parley_internal.restrict_function('parley_internal.post_call_message(public.call_sessions)', '{}');

create or replace function parley_internal.finish_call(call_id uuid, reason text, ended_by uuid, at timestamptz)
returns public.call_sessions
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  ended public.call_sessions;
begin
  -- Callers hold the call row lock and checked that it is live.
  update public.call_participants p
  set state = case p.state when 'joined' then 'left' else 'missed' end,
      left_at = finish_call.at
  where p.call_id = finish_call.call_id and p.state in ('joined', 'ringing');
  update public.call_sessions s
  set state = 'ended', end_reason = finish_call.reason, ended_by = finish_call.ended_by,
      ended_at = greatest(finish_call.at, coalesce(s.answered_at, s.started_at))
  where s.id = finish_call.call_id and s.state <> 'ended'
  returning * into ended;
  if ended.id is null then
    return null;
  end if;
  perform parley_internal.post_call_message(ended);
  return ended;
end
$$;
comment on function parley_internal.finish_call(uuid, text, uuid, timestamptz) is
  'End a live call (caller holds its lock): joined participants left, rung ones missed, end reason and time set, one call message posted. Null if it had already ended.';
select parley_internal.restrict_function('parley_internal.finish_call(uuid, text, uuid, timestamptz)', '{}');

create or replace function parley_internal.participant_leaves(session public.call_sessions, user_id uuid, at timestamptz)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  kind text;
begin
  select c.kind into kind from public.conversations c where c.id = session.conversation_id;
  update public.call_participants p set state = 'left', left_at = participant_leaves.at
  where p.call_id = session.id and p.user_id = participant_leaves.user_id and p.state = 'joined';
  if kind = 'direct'
     or not exists (select 1 from public.call_participants p where p.call_id = session.id and p.state = 'joined') then
    -- A direct call ends when either side hangs up; a group call when its last participant leaves.
    perform parley_internal.finish_call(session.id,
      case when session.state = 'active' then 'completed' else 'cancelled' end, participant_leaves.user_id,
      participant_leaves.at);
  end if;
end
$$;
comment on function parley_internal.participant_leaves(public.call_sessions, uuid, timestamptz) is
  'A joined participant leaves (caller holds the call lock): a direct call ends (completed, or cancelled while ringing); a group call ends when nobody is left.';
select parley_internal.restrict_function('parley_internal.participant_leaves(public.call_sessions, uuid, timestamptz)', '{}');

create or replace function parley_internal.leave_other_calls(user_id uuid, keep_call_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  other public.call_sessions;
begin
  -- One call at a time: accepting or joining a call leaves the one you were in.
  for other in
    select s.* from public.call_sessions s
    join public.call_participants p on p.call_id = s.id
    where p.user_id = leave_other_calls.user_id and p.state = 'joined' and s.id <> leave_other_calls.keep_call_id
      and s.state in ('ringing', 'active')
    order by s.id
    for update of s
  loop
    perform parley_internal.participant_leaves(other, leave_other_calls.user_id, pg_catalog.now());
  end loop;
end
$$;
comment on function parley_internal.leave_other_calls(uuid, uuid) is
  'Leave every other live call the user is joined in (accepting or joining a call switches calls).';
select parley_internal.restrict_function('parley_internal.leave_other_calls(uuid, uuid)', '{}');

create or replace function parley_internal.is_busy(user_id uuid, except_call_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.call_participants p join public.call_sessions s on s.id = p.call_id
    where p.user_id = is_busy.user_id and p.state = 'joined' and s.state in ('ringing', 'active')
      and s.id <> is_busy.except_call_id)
$$;
comment on function parley_internal.is_busy(uuid, uuid) is
  'Whether the user is joined in a live call other than the given one.';
select parley_internal.restrict_function('parley_internal.is_busy(uuid, uuid)', '{}');

create or replace function parley_internal.join_participant(session public.call_sessions, user_id uuid,
                                                            camera_on boolean)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.leave_other_calls(join_participant.user_id, session.id);
  insert into public.call_participants (call_id, conversation_id, user_id, state, joined_at, camera_on)
  values (session.id, session.conversation_id, join_participant.user_id, 'joined', pg_catalog.now(),
          join_participant.camera_on)
  on conflict on constraint call_participants_pkey do update
    set state = 'joined', joined_at = pg_catalog.now(), left_at = null, camera_on = excluded.camera_on
    where public.call_participants.state <> 'joined';
  if session.state = 'ringing' then
    -- greatest: the loser of a glare race started its transaction before the winner's insert.
    update public.call_sessions s set state = 'active', answered_at = greatest(pg_catalog.now(), s.started_at)
    where s.id = session.id;
  end if;
end
$$;
comment on function parley_internal.join_participant(public.call_sessions, uuid, boolean) is
  'Make the user a joined participant (leaving any other call); the first answer turns a ringing call active and sets answered_at.';
select parley_internal.restrict_function('parley_internal.join_participant(public.call_sessions, uuid, boolean)', '{}');

-- RPCs -------------------------------------------------------------------------

create or replace function parley_internal.start_call(conversation_id uuid, media text default 'audio')
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  conversation public.conversations;
  decision record;
  other uuid;
  session public.call_sessions;
  mine public.call_participants;
  timeout integer;
  attempt integer := 0;
begin
  if media is null or media not in ('audio', 'video') then
    perform parley_internal.refuse('P0001', 'invalid_media', 'media is audio or video.', 'Pass audio or video.');
  end if;
  select * into conversation from public.conversations c where c.id = start_call.conversation_id;
  if not found or not parley_internal.is_conversation_member(conversation.id, caller) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  if conversation.kind not in ('direct', 'group') or conversation.persona_id is not null then
    perform parley_internal.refuse('P0001', 'calls_not_supported', 'Calls are made in direct and group conversations.',
      'Open the direct conversation with the person, or a group.');
  end if;
  perform parley_internal.require_call_feature(conversation.organization_id);
  perform parley_internal.require_permission(conversation.organization_id, 'chat.initiate_call');
  -- A banned or muted member does not speak here, by voice either (docs/moderation.md).
  perform parley_internal.assert_not_restricted(conversation.organization_id, conversation.id, caller);
  if conversation.kind = 'direct' then
    select m.user_id into other from public.conversation_members m
    where m.conversation_id = conversation.id and m.user_id <> caller limit 1;
    if other is null then
      perform parley_internal.refuse('PT409', 'nobody_to_call', 'Nobody else is in this conversation.',
        'The other person left or their account was deleted.');
    end if;
    select * into decision from parley_internal.message_decision(caller, other, 'call');
    if not decision.allowed then
      perform parley_internal.refuse(case decision.reason when 'feature_disabled' then 'PT402' else '42501' end,
        decision.reason,
        case decision.reason
          when 'blocked' then 'You blocked this user.'
          when 'not_connected' then 'This user accepts calls from their connections only.'
          when 'no_shared_organization' then 'This user accepts calls from people in their organizations only.'
          when 'no_permission' then 'You may not start calls.'
          else 'This user does not accept calls from you.' end,
        case decision.reason
          when 'blocked' then 'Unblock them first.'
          when 'not_connected' then 'Send them a connection request first.'
          else 'They choose who may call them.' end);
    end if;
  elsif not parley_internal.can_post_in_conversation(conversation.id, caller) then
    perform parley_internal.refuse('42501', 'posting_restricted', 'Only admins may start calls in this group.',
      'Ask an admin of the group.');
  end if;
  select s.ring_timeout_seconds into timeout from parley_internal.call_settings s;

  loop
    attempt := attempt + 1;
    insert into public.call_sessions (conversation_id, organization_id, media, initiator_id, ring_deadline)
    values (conversation.id, conversation.organization_id, start_call.media, caller,
            pg_catalog.now() + pg_catalog.make_interval(secs => coalesce(timeout, 45)))
    on conflict (conversation_id) where state in ('ringing', 'active') do nothing
    returning * into session;
    exit when session.id is not null;
    -- A live call exists (possibly just committed by the other side: glare). Take it.
    select * into session from public.call_sessions s
    where s.conversation_id = conversation.id and s.state in ('ringing', 'active') for update;
    if session.id is not null then
      select * into mine from public.call_participants p where p.call_id = session.id and p.user_id = caller;
      if mine.state = 'joined' then
        return parley_internal.call_json(session.id);
      end if;
      if conversation.kind = 'direct' and mine.state is distinct from 'ringing' then
        perform parley_internal.refuse('PT409', 'call_in_progress', 'A call is already in progress here.',
          'Wait for it to end.');
      end if;
      -- Glare (we were being rung) or a group call in progress: answer / join it.
      perform parley_internal.refuse_call_block(caller, session.initiator_id)
        where conversation.kind = 'direct';
      perform parley_internal.join_participant(session, caller, start_call.media = 'video');
      return parley_internal.call_json(session.id);
    end if;
    if attempt >= 3 then
      perform parley_internal.refuse('PT409', 'call_in_progress', 'A call is starting here.', 'Try again.');
    end if;
  end loop;

  perform parley_internal.leave_other_calls(caller, session.id);
  insert into public.call_participants (call_id, conversation_id, user_id, state, joined_at, camera_on)
  values (session.id, session.conversation_id, caller, 'joined', session.started_at, start_call.media = 'video');
  -- Ring the others: not those with a block either way with the caller; busy ones are recorded as busy.
  insert into public.call_participants (call_id, conversation_id, user_id, state, invited_by, left_at)
  select session.id, session.conversation_id, m.user_id,
         case when parley_internal.is_busy(m.user_id, session.id) then 'busy' else 'ringing' end,
         caller,
         case when parley_internal.is_busy(m.user_id, session.id) then session.started_at end
  from public.conversation_members m
  where m.conversation_id = conversation.id and m.user_id <> caller
    and not parley_internal.is_blocked_between(caller, m.user_id)
  order by m.user_id;
  if conversation.kind = 'direct'
     and exists (select 1 from public.call_participants p where p.call_id = session.id and p.state = 'busy') then
    perform parley_internal.finish_call(session.id, 'busy', null, session.started_at);
  end if;
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.start_call(uuid, text) is
  'Start an audio or video call in a direct or group conversation: rings the other members (call_ringing on their user topic) and returns the call with its participants. If a call is already live there you get that one (glare: when both sides call at once there is one call, and the second caller answers it). A direct call to someone in another call ends at once as busy. Needs chat.calls (402), chat.initiate_call and, for direct calls, the callee''s can_call.';
select parley_internal.publish_function('parley_internal.start_call(uuid, text)');

create or replace function parley_internal.accept_call(call_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions := parley_internal.lock_call(accept_call.call_id, caller);
  mine public.call_participants;
begin
  perform parley_internal.require_live_call(session);
  select * into mine from public.call_participants p where p.call_id = session.id and p.user_id = caller;
  if mine.state = 'joined' then
    return parley_internal.call_json(session.id);
  end if;
  if mine.state is distinct from 'ringing' then
    perform parley_internal.refuse('PT409', 'not_ringing', 'You are not being rung for this call.',
      'Use join_call to join a group call.');
  end if;
  perform parley_internal.assert_not_restricted(session.organization_id, session.conversation_id, caller);
  perform parley_internal.refuse_call_block(caller, session.initiator_id);
  perform parley_internal.join_participant(session, caller, session.media = 'video');
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.accept_call(uuid) is
  'Answer a call you are being rung for: you join it (leaving any other call), and the call becomes active. Idempotent for a participant who already joined.';
select parley_internal.publish_function('parley_internal.accept_call(uuid)');

create or replace function parley_internal.decline_call(call_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions := parley_internal.lock_call(decline_call.call_id, caller);
  kind text;
begin
  perform parley_internal.require_live_call(session);
  update public.call_participants p set state = 'declined', left_at = pg_catalog.now()
  where p.call_id = session.id and p.user_id = caller and p.state = 'ringing';
  if not found then
    perform parley_internal.refuse('PT409', 'not_ringing', 'You are not being rung for this call.',
      'Use leave_call to leave a call you joined.');
  end if;
  select c.kind into kind from public.conversations c where c.id = session.conversation_id;
  if kind = 'direct'
     or (session.state = 'ringing'
         and not exists (select 1 from public.call_participants p where p.call_id = session.id and p.state = 'ringing')) then
    perform parley_internal.finish_call(session.id, 'declined', caller, pg_catalog.now());
  end if;
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.decline_call(uuid) is
  'Decline a call you are being rung for. A direct call ends as declined; a group call ends as declined when nobody else is still being rung and nobody answered.';
select parley_internal.publish_function('parley_internal.decline_call(uuid)');

create or replace function parley_internal.join_call(call_id uuid, camera_on boolean default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions := parley_internal.lock_call(join_call.call_id, caller);
  kind text;
  mine public.call_participants;
  blocked_with uuid;
begin
  perform parley_internal.require_live_call(session);
  select c.kind into kind from public.conversations c where c.id = session.conversation_id;
  select * into mine from public.call_participants p where p.call_id = session.id and p.user_id = caller;
  if mine.state = 'joined' then
    return parley_internal.call_json(session.id);
  end if;
  perform parley_internal.assert_not_restricted(session.organization_id, session.conversation_id, caller);
  if kind <> 'group' and mine.state is distinct from 'ringing' then
    perform parley_internal.refuse('PT409', 'not_ringing', 'You are not being rung for this call.',
      'Only group calls can be joined by anyone in the conversation.');
  end if;
  -- Nobody joins a call with someone they blocked or who blocked them.
  select p.user_id into blocked_with from public.call_participants p
  where p.call_id = session.id and p.state = 'joined' and parley_internal.is_blocked_between(caller, p.user_id)
  limit 1;
  if blocked_with is not null then
    perform parley_internal.refuse_call_block(caller, blocked_with);
  end if;
  perform parley_internal.join_participant(session, caller, coalesce(join_call.camera_on, session.media = 'video'));
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.join_call(uuid, boolean) is
  'Join a live call: any member of a group conversation (also after leaving or declining), or a rung participant (same as accept_call). Leaves any other call. camera_on defaults to the call''s media.';
select parley_internal.publish_function('parley_internal.join_call(uuid, boolean)');

create or replace function parley_internal.leave_call(call_id uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions := parley_internal.lock_call(leave_call.call_id, caller);
begin
  perform parley_internal.require_live_call(session);
  if not exists (select 1 from public.call_participants p
                 where p.call_id = session.id and p.user_id = caller and p.state = 'joined') then
    perform parley_internal.refuse('PT409', 'not_in_call', 'You are not in this call.',
      'Use decline_call to decline a call you are being rung for.');
  end if;
  perform parley_internal.participant_leaves(session, caller, pg_catalog.now());
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.leave_call(uuid) is
  'Leave a call you joined. A direct call ends (completed, or cancelled if nobody had answered); a group call ends when its last participant leaves.';
select parley_internal.publish_function('parley_internal.leave_call(uuid)');

create or replace function parley_internal.end_call(call_id uuid, reason text default 'completed')
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions;
  kind text;
begin
  if reason is null or reason not in ('completed', 'failed') then
    perform parley_internal.refuse('P0001', 'invalid_end_reason', 'reason is completed or failed.',
      'Pass failed when the media connection could not be established; completed otherwise.');
  end if;
  session := parley_internal.lock_call(end_call.call_id, caller);
  perform parley_internal.require_live_call(session);
  select c.kind into kind from public.conversations c where c.id = session.conversation_id;
  if kind = 'group' and caller is distinct from session.initiator_id
     and not parley_internal.is_conversation_moderator(session.conversation_id, caller) then
    perform parley_internal.refuse('42501', 'not_call_host', 'Only whoever started the call or a group admin ends it for everyone.',
      'Use leave_call.');
  end if;
  if kind = 'direct' and not exists (select 1 from public.call_participants p
                                     where p.call_id = session.id and p.user_id = caller and p.state = 'joined') then
    perform parley_internal.refuse('PT409', 'not_in_call', 'You are not in this call.',
      'Use decline_call to decline a call you are being rung for.');
  end if;
  perform parley_internal.finish_call(session.id,
    case when end_call.reason = 'failed' then 'failed' when session.state = 'ringing' then 'cancelled' else 'completed' end,
    caller, pg_catalog.now());
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.end_call(uuid, text) is
  'End a call for everyone: a participant of a direct call, or whoever started a group call or a group admin. reason: completed (cancelled if nobody had answered) or failed (media could not connect).';
select parley_internal.publish_function('parley_internal.end_call(uuid, text)');

create or replace function parley_internal.update_call_media(call_id uuid, muted boolean default null,
                                                             camera_on boolean default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions;
begin
  if muted is null and camera_on is null then
    perform parley_internal.refuse('P0001', 'nothing_to_update', 'Pass muted, camera_on or both.',
      'For example {"call_id": "...", "muted": true}.');
  end if;
  session := parley_internal.lock_call(update_call_media.call_id, caller);
  perform parley_internal.require_live_call(session);
  update public.call_participants p
  set muted = coalesce(update_call_media.muted, p.muted), camera_on = coalesce(update_call_media.camera_on, p.camera_on)
  where p.call_id = session.id and p.user_id = caller and p.state = 'joined';
  if not found then
    perform parley_internal.refuse('PT409', 'not_in_call', 'You are not in this call.', 'Join the call first.');
  end if;
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.update_call_media(uuid, boolean, boolean) is
  'Set your muted and/or camera_on flags in a call you joined (others get call_participant_updated).';
select parley_internal.publish_function('parley_internal.update_call_media(uuid, boolean, boolean)');

create or replace function parley_internal.get_call(call_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  session public.call_sessions;
begin
  select * into session from public.call_sessions s where s.id = get_call.call_id;
  if not found or not parley_internal.is_conversation_member(session.conversation_id, caller) then
    perform parley_internal.refuse('PT404', 'call_not_found', 'No such call.',
      'Check the call id; you must be a member of its conversation.');
  end if;
  return parley_internal.call_json(session.id);
end
$$;
comment on function parley_internal.get_call(uuid) is
  'A call of one of your conversations, with its participants (also after it ended; reconnecting clients use it to resume).';
select parley_internal.publish_function('parley_internal.get_call(uuid)');

create or replace function parley_internal.get_call_history(
  conversation_id uuid default null, before_history_id bigint default null, page_size integer default 50
)
returns setof public.call_sessions
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  if page_size is null or page_size not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 100.', 'Pass 50.');
  end if;
  if get_call_history.conversation_id is not null then
    if not parley_internal.is_conversation_member(get_call_history.conversation_id, caller) then
      perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
        'Check the conversation id; you must be a member.');
    end if;
    return query
      select s.* from public.call_sessions s
      where s.conversation_id = get_call_history.conversation_id
        and s.history_id < coalesce(get_call_history.before_history_id, 9223372036854775807)
      order by s.history_id desc
      limit get_call_history.page_size;
    return;
  end if;
  -- Your calls, in conversations you are still in.
  return query
    select s.* from public.call_participants p
    join public.call_sessions s on s.id = p.call_id
    where p.user_id = caller
      and s.history_id < coalesce(get_call_history.before_history_id, 9223372036854775807)
      and parley_internal.is_conversation_member(s.conversation_id, caller)
    order by s.history_id desc
    limit get_call_history.page_size;
end
$$;
comment on function parley_internal.get_call_history(uuid, bigint, integer) is
  'Call history, newest first: a conversation''s calls, or (conversation_id null) the calls you took part in. page_size 1..100; next page: before_history_id = the last row''s history_id.';
select parley_internal.publish_function('parley_internal.get_call_history(uuid, bigint, integer)');

-- Ring timeout -----------------------------------------------------------------

create or replace function parley_internal.expire_ringing_calls(at timestamptz default pg_catalog.clock_timestamp())
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  session public.call_sessions;
  ended integer := 0;
begin
  -- Calls nobody answered in time: missed. SKIP LOCKED: a call being answered right now is left to the next run.
  for session in
    select * from public.call_sessions s
    where s.state = 'ringing' and s.ring_deadline <= expire_ringing_calls.at
    order by s.ring_deadline
    for update skip locked
  loop
    if (parley_internal.finish_call(session.id, 'missed', null, session.ring_deadline)).id is not null then
      ended := ended + 1;
    end if;
  end loop;
  -- Active calls: invitees who never answered are missed.
  update public.call_participants p set state = 'missed', left_at = s.ring_deadline
  from public.call_sessions s
  where s.id = p.call_id and s.state = 'active' and p.state = 'ringing' and s.ring_deadline <= expire_ringing_calls.at;
  return ended;
end
$$;
comment on function parley_internal.expire_ringing_calls(timestamptz) is
  'The ring-timeout job: ringing calls past their ring_deadline end as missed (one call message each), and late invitees of active calls become missed. Idempotent; returns how many calls it ended. Run by pg_cron or `parley worker calls`.';
select parley_internal.restrict_function('parley_internal.expire_ringing_calls(timestamptz)', '{service_role}');

do $schedule$
begin
  -- pg_cron, where installed in this database: every 5 seconds. Otherwise `parley worker calls` runs it.
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    begin
      perform cron.schedule('parley_expire_ringing_calls', '5 seconds',
                            'select parley_internal.expire_ringing_calls()');
    exception when others then
      -- pg_cron before 1.5 has no second schedules (Debian bookworm ships 1.4): every minute then.
      perform cron.schedule('parley_expire_ringing_calls', '* * * * *',
                            'select parley_internal.expire_ringing_calls()');
    end;
  end if;
end
$schedule$;

-- ICE servers ------------------------------------------------------------------

create or replace function parley_internal.turn_credential(secret text, username text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  crypto_schema name;
  digest bytea;
begin
  -- pgcrypto lives in extensions on Supabase; elsewhere wherever it was installed.
  select n.nspname into crypto_schema from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'pgcrypto';
  execute pg_catalog.format('select %I.hmac(pg_catalog.convert_to($1, ''UTF8''), pg_catalog.convert_to($2, ''UTF8''), ''sha1'')',
                            crypto_schema)
    into digest using turn_credential.username, turn_credential.secret;
  return pg_catalog.encode(digest, 'base64');
end
$$;
comment on function parley_internal.turn_credential(text, text) is
  'coturn REST credential: base64(HMAC-SHA1(secret, username)).';
select parley_internal.restrict_function('parley_internal.turn_credential(text, text)', '{}');

create or replace function parley_internal.get_ice_servers()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  settings parley_internal.call_settings;
  expires bigint;
  username text;
  servers jsonb := '[]'::jsonb;
begin
  if not exists (select 1 from public.organization_members m where m.user_id = caller
                 and parley_internal.organization_has_feature(m.organization_id, 'chat.calls')) then
    perform parley_internal.refuse('PT402', 'feature_disabled', 'None of your organizations'' plans includes chat.calls.',
      'Upgrade the organization''s plan to one that includes calls.');
  end if;
  select * into settings from parley_internal.call_settings;
  if pg_catalog.cardinality(settings.stun_urls) > 0 then
    servers := servers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('urls', settings.stun_urls));
  end if;
  expires := pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.now()))::bigint + settings.turn_ttl_seconds;
  if pg_catalog.cardinality(settings.turn_urls) > 0 and settings.turn_secret is not null then
    username := expires::text || ':' || caller::text;
    servers := servers || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'urls', settings.turn_urls, 'username', username,
      'credential', parley_internal.turn_credential(settings.turn_secret, username)));
  end if;
  return pg_catalog.jsonb_build_object('ice_servers', servers, 'ttl_seconds', settings.turn_ttl_seconds,
                                       'expires_at', pg_catalog.to_timestamp(expires));
end
$$;
comment on function parley_internal.get_ice_servers() is
  'STUN/TURN servers for RTCPeerConnection: {ice_servers: [{urls}, {urls, username, credential}], ttl_seconds, expires_at}. TURN credentials follow coturn''s REST scheme (username = expiry:user_id, credential = base64 HMAC-SHA1 with the shared secret) and expire after ttl_seconds. Needs an organization with chat.calls (402).';
select parley_internal.publish_function('parley_internal.get_ice_servers()');

create or replace function parley_internal.set_call_settings(
  ring_timeout_seconds integer default null, stun_urls text[] default null, turn_urls text[] default null,
  turn_secret text default null, turn_ttl_seconds integer default null
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if (stun_urls is not null and exists (select 1 from pg_catalog.unnest(stun_urls) u where u !~ '^stuns?:[^\s]+$'))
     or (turn_urls is not null and exists (select 1 from pg_catalog.unnest(turn_urls) u where u !~ '^turns?:[^\s]+$')) then
    perform parley_internal.refuse('P0001', 'invalid_ice_url', 'STUN urls start with stun: or stuns:, TURN urls with turn: or turns:.',
      'For example turn:turn.example.com:3478?transport=udp.');
  end if;
  if turn_secret is not null and pg_catalog.length(turn_secret) < 16 then
    perform parley_internal.refuse('P0001', 'turn_secret_too_short', 'The TURN secret has at least 16 characters.',
      'Use the static-auth-secret configured in coturn.');
  end if;
  if (ring_timeout_seconds is not null and ring_timeout_seconds not between 5 and 300)
     or (turn_ttl_seconds is not null and turn_ttl_seconds not between 60 and 604800) then
    perform parley_internal.refuse('P0001', 'invalid_call_setting', 'ring_timeout_seconds is 5..300 and turn_ttl_seconds 60..604800.',
      'Pass values in range.');
  end if;
  update parley_internal.call_settings s
  set ring_timeout_seconds = coalesce(set_call_settings.ring_timeout_seconds, s.ring_timeout_seconds),
      stun_urls = coalesce(set_call_settings.stun_urls, s.stun_urls),
      turn_urls = coalesce(set_call_settings.turn_urls, s.turn_urls),
      turn_secret = coalesce(set_call_settings.turn_secret, s.turn_secret),
      turn_ttl_seconds = coalesce(set_call_settings.turn_ttl_seconds, s.turn_ttl_seconds),
      updated_at = pg_catalog.now();
end
$$;
comment on function parley_internal.set_call_settings(integer, text[], text[], text, integer) is
  'service_role: configure calls (ring timeout, STUN/TURN urls, TURN shared secret and credential lifetime); null keeps a value. The secret is never readable through the API.';
select parley_internal.publish_function('parley_internal.set_call_settings(integer, text[], text[], text, integer)',
                                        '{service_role}');

-- Events -----------------------------------------------------------------------

create or replace function parley_internal.call_event_to_participants(call_id uuid, conversation_id uuid, event text,
                                                                      payload jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  participant uuid;
begin
  perform parley_internal.broadcast(payload, event, 'conversation:' || conversation_id, true);
  for participant in
    select p.user_id from public.call_participants p where p.call_id = call_event_to_participants.call_id
    order by p.user_id
  loop
    perform parley_internal.broadcast(payload, event, 'user:' || participant, true);
  end loop;
end
$$;
comment on function parley_internal.call_event_to_participants(uuid, uuid, text, jsonb) is
  'Broadcast a call event on the conversation topic and on the user topic of every participant of the call.';
select parley_internal.restrict_function('parley_internal.call_event_to_participants(uuid, uuid, text, jsonb)', '{}');

create or replace function parley_internal.call_session_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    -- Members with the conversation open see a call start (the rung users also get call_ringing).
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('call', parley_internal.call_session_json(new)),
                                      'call_started', 'conversation:' || new.conversation_id, true);
    return null;
  end if;
  if old.state is not distinct from new.state then
    return null;
  end if;
  perform parley_internal.call_event_to_participants(new.id, new.conversation_id,
    case when new.state = 'active' then 'call_accepted'
         when new.end_reason = 'declined' then 'call_declined'
         else 'call_ended' end,
    pg_catalog.jsonb_build_object('call', parley_internal.call_session_json(new)));
  return null;
end
$$;
comment on function parley_internal.call_session_events() is
  'Trigger: call_started on the conversation topic; call_accepted (ringing -> active), call_declined or call_ended on the conversation topic and every participant''s user topic.';
select parley_internal.restrict_function('parley_internal.call_session_events()', '{}');

create or replace function parley_internal.call_participant_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  session public.call_sessions;
begin
  select * into session from public.call_sessions s where s.id = new.call_id;
  if tg_op = 'INSERT' and new.state = 'ringing' then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('call', parley_internal.call_session_json(session),
                                                                    'participant', parley_internal.call_participant_json(new)),
                                      'call_ringing', 'user:' || new.user_id, true);
    return null;
  end if;
  if tg_op = 'INSERT' and new.user_id is not distinct from session.initiator_id then
    return null;  -- the initiator's own row: the call itself is the news
  end if;
  if tg_op = 'UPDATE' and old.state is not distinct from new.state and old.muted is not distinct from new.muted
     and old.camera_on is not distinct from new.camera_on then
    return null;
  end if;
  perform parley_internal.call_event_to_participants(new.call_id, new.conversation_id, 'call_participant_updated',
    pg_catalog.jsonb_build_object('call_id', new.call_id, 'conversation_id', new.conversation_id,
                                  'participant', parley_internal.call_participant_json(new)));
  return null;
end
$$;
comment on function parley_internal.call_participant_events() is
  'Trigger: call_ringing on a rung user''s topic; call_participant_updated (join, leave, decline, missed, mute, camera) on the conversation topic and every participant''s user topic.';
select parley_internal.restrict_function('parley_internal.call_participant_events()', '{}');

drop trigger if exists call_session_events on public.call_sessions;
create trigger call_session_events after insert or update on public.call_sessions
  for each row execute function parley_internal.call_session_events();
drop trigger if exists call_participant_events on public.call_participants;
create trigger call_participant_events after insert or update on public.call_participants
  for each row execute function parley_internal.call_participant_events();
