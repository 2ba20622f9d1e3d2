-- pgTAP: calls (issue 15). Row level security of public.call_sessions and
-- public.call_participants for every operation, as anon, a stranger, a member
-- of the group, an admin of another organization, an Acme admin who is not
-- in the group and service_role (members read; nobody but service_role
-- writes: the call RPCs do); Realtime Authorization of the call:{id} topic
-- (only the call's live participants receive and send); the call RPCs'
-- refusals; the TURN secret table unreadable by every API role. Each try is
-- rolled back (see _identity_fixture.sql).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(74);

-- A ringing call in the group: i_owner started it (joined), i_member is rung.
insert into public.call_sessions (id, conversation_id, organization_id, media, initiator_id, ring_deadline) values
  ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', tests.user_id('i_owner'),
   now() + interval '45 seconds');
insert into public.call_participants (call_id, conversation_id, user_id, state, joined_at, invited_by) values
  ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_owner'), 'joined', now(), null),
  ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'ringing', null, tests.user_id('i_owner'));

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$error 42501$q$, $q$call_sessions: anon gets error 42501 on select$q$),
  ($q$i_stranger$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_sessions: a stranger gets rows 0 on select$q$),
  ($q$i_member$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 1$q$, $q$call_sessions: a member of the group (rung) gets rows 1 on select$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_sessions: an admin of another organization gets rows 0 on select$q$),
  ($q$i_admin$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_sessions: an Acme admin not in the group gets rows 0 on select$q$),
  ($q$service_role$q$, $q$select 1 from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 1$q$, $q$call_sessions: service_role gets rows 1 on select$q$),
  ($q$anon$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$error 42501$q$, $q$call_sessions: anon gets error 42501 on insert$q$),
  ($q$i_stranger$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$error 42501$q$, $q$call_sessions: a stranger gets error 42501 on insert$q$),
  ($q$i_member$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$error 42501$q$, $q$call_sessions: a member of the group (rung) gets error 42501 on insert$q$),
  ($q$i_other_admin$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$error 42501$q$, $q$call_sessions: an admin of another organization gets error 42501 on insert$q$),
  ($q$i_admin$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$error 42501$q$, $q$call_sessions: an Acme admin not in the group gets error 42501 on insert$q$),
  ($q$service_role$q$, $q$insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, end_reason, ended_at) values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'audio', now(), 'ended', 'missed', now()) returning 1$q$, $q$rows 1$q$, $q$call_sessions: service_role gets rows 1 on insert$q$),
  ($q$anon$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: anon gets error 42501 on update$q$),
  ($q$i_stranger$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: a stranger gets error 42501 on update$q$),
  ($q$i_member$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: a member of the group (rung) gets error 42501 on update$q$),
  ($q$i_other_admin$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: an admin of another organization gets error 42501 on update$q$),
  ($q$i_admin$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: an Acme admin not in the group gets error 42501 on update$q$),
  ($q$service_role$q$, $q$update public.call_sessions set media = 'video' where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$rows 1$q$, $q$call_sessions: service_role gets rows 1 on update$q$),
  ($q$anon$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: anon gets error 42501 on delete$q$),
  ($q$i_stranger$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: a stranger gets error 42501 on delete$q$),
  ($q$i_member$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: a member of the group (rung) gets error 42501 on delete$q$),
  ($q$i_other_admin$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: an admin of another organization gets error 42501 on delete$q$),
  ($q$i_admin$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_sessions: an Acme admin not in the group gets error 42501 on delete$q$),
  ($q$service_role$q$, $q$delete from public.call_sessions where id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$rows 1$q$, $q$call_sessions: service_role gets rows 1 on delete$q$),
  ($q$anon$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$error 42501$q$, $q$call_participants: anon gets error 42501 on select$q$),
  ($q$i_stranger$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_participants: a stranger gets rows 0 on select$q$),
  ($q$i_member$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 2$q$, $q$call_participants: a member of the group (rung) gets rows 2 on select$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_participants: an admin of another organization gets rows 0 on select$q$),
  ($q$i_admin$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 0$q$, $q$call_participants: an Acme admin not in the group gets rows 0 on select$q$),
  ($q$service_role$q$, $q$select 1 from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1'$q$, $q$rows 2$q$, $q$call_participants: service_role gets rows 2 on select$q$),
  ($q$anon$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$error 42501$q$, $q$call_participants: anon gets error 42501 on insert$q$),
  ($q$i_stranger$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$error 42501$q$, $q$call_participants: a stranger gets error 42501 on insert$q$),
  ($q$i_member$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$error 42501$q$, $q$call_participants: a member of the group (rung) gets error 42501 on insert$q$),
  ($q$i_other_admin$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$error 42501$q$, $q$call_participants: an admin of another organization gets error 42501 on insert$q$),
  ($q$i_admin$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$error 42501$q$, $q$call_participants: an Acme admin not in the group gets error 42501 on insert$q$),
  ($q$service_role$q$, $q$insert into public.call_participants (call_id, conversation_id, user_id, state) values ('0e000000-0000-4000-8000-0000000000c1', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ringing') returning 1$q$, $q$rows 1$q$, $q$call_participants: service_role gets rows 1 on insert$q$),
  ($q$anon$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_participants: anon gets error 42501 on update$q$),
  ($q$i_stranger$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_participants: a stranger gets error 42501 on update$q$),
  ($q$i_member$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_participants: a member of the group (rung) gets error 42501 on update$q$),
  ($q$i_other_admin$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_participants: an admin of another organization gets error 42501 on update$q$),
  ($q$i_admin$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$error 42501$q$, $q$call_participants: an Acme admin not in the group gets error 42501 on update$q$),
  ($q$service_role$q$, $q$update public.call_participants set muted = true where call_id = '0e000000-0000-4000-8000-0000000000c1' returning 1$q$, $q$rows 2$q$, $q$call_participants: service_role gets rows 2 on update$q$),
  ($q$anon$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$call_participants: anon gets error 42501 on delete$q$),
  ($q$i_stranger$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$call_participants: a stranger gets error 42501 on delete$q$),
  ($q$i_member$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$call_participants: a member of the group (rung) gets error 42501 on delete$q$),
  ($q$i_other_admin$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$call_participants: an admin of another organization gets error 42501 on delete$q$),
  ($q$i_admin$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$call_participants: an Acme admin not in the group gets error 42501 on delete$q$),
  ($q$service_role$q$, $q$delete from public.call_participants where call_id = '0e000000-0000-4000-8000-0000000000c1' and user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$call_participants: service_role gets rows 1 on delete$q$)
) as cases(actor, statement, expected, description);

-- tests.call_topic_probe(actor, command, extension): join-time probes on call:{id}, as the realtime service runs them.
create or replace function tests.call_topic_probe(actor text, command text, extension text)
returns text
language plpgsql
as $$
begin
  perform set_config('realtime.topic', 'call:0e000000-0000-4000-8000-0000000000c1', true);
  if command = 'select' then
    return tests.probe(actor, format(
      'select 1 from realtime.messages where topic = %L and extension = %L and event = ''rls_probe''',
      'call:0e000000-0000-4000-8000-0000000000c1', extension));
  end if;
  return tests.probe(actor, format(
    'insert into realtime.messages (topic, extension, private, event, payload) values (%L, %L, true, ''offer'', ''{}'') '
    'returning 1', 'call:0e000000-0000-4000-8000-0000000000c1', extension));
end
$$;
insert into realtime.messages (topic, extension, private, event, payload) values
  ('call:0e000000-0000-4000-8000-0000000000c1', 'broadcast', true, 'rls_probe', '{}'), ('call:0e000000-0000-4000-8000-0000000000c1', 'presence', true, 'rls_probe', '{}');

select is(tests.call_topic_probe(actor, command, extension), expected, description)
from (values
  ($q$anon$q$, $q$select$q$, $q$broadcast$q$, $q$rows 0$q$, $q$receive call topic: anon is denied$q$),
  ($q$i_stranger$q$, $q$select$q$, $q$broadcast$q$, $q$rows 0$q$, $q$receive call topic: a stranger is denied$q$),
  ($q$i_owner$q$, $q$select$q$, $q$broadcast$q$, $q$rows 1$q$, $q$receive call topic: the initiator (joined) is allowed$q$),
  ($q$i_member$q$, $q$select$q$, $q$broadcast$q$, $q$rows 1$q$, $q$receive call topic: a rung participant is allowed$q$),
  ($q$i_admin$q$, $q$select$q$, $q$broadcast$q$, $q$rows 0$q$, $q$receive call topic: an Acme admin who is no participant is denied$q$),
  ($q$i_other_admin$q$, $q$select$q$, $q$broadcast$q$, $q$rows 0$q$, $q$receive call topic: an admin of another organization is denied$q$),
  ($q$anon$q$, $q$insert$q$, $q$broadcast$q$, $q$error 42501$q$, $q$send on call topic: anon is refused$q$),
  ($q$i_stranger$q$, $q$insert$q$, $q$broadcast$q$, $q$error 42501$q$, $q$send on call topic: a stranger is refused$q$),
  ($q$i_owner$q$, $q$insert$q$, $q$broadcast$q$, $q$rows 1$q$, $q$send on call topic: the initiator may send offers and candidates$q$),
  ($q$i_member$q$, $q$insert$q$, $q$broadcast$q$, $q$rows 1$q$, $q$send on call topic: a rung participant may send an answer$q$),
  ($q$i_member$q$, $q$insert$q$, $q$presence$q$, $q$rows 1$q$, $q$presence on call topic: a participant may track$q$),
  ($q$i_admin$q$, $q$insert$q$, $q$broadcast$q$, $q$error 42501$q$, $q$send on call topic: an Acme admin who is no participant is refused$q$),
  ($q$i_admin$q$, $q$insert$q$, $q$presence$q$, $q$error 42501$q$, $q$presence on call topic: a non-participant is refused$q$),
  ($q$service_role$q$, $q$select$q$, $q$broadcast$q$, $q$rows 1$q$, $q$receive call topic: service_role bypasses RLS$q$)
) as cases(actor, command, extension, expected, description);

select is(parley_internal.realtime_topic_id('call:0e000000-0000-4000-8000-0000000000c1', 'call'), '0e000000-0000-4000-8000-0000000000c1'::uuid, 'realtime_topic_id parses call:<uuid>');
select is(tests.probe('i_member', $$select 1 from realtime.messages where topic = 'call:not-a-uuid'$$), 'rows 0',
          'a malformed call topic is denied, never an error');

-- Once the call has ended, nobody joins its topic any more.
update public.call_sessions set state = 'ended', end_reason = 'cancelled', ended_at = now() where id = '0e000000-0000-4000-8000-0000000000c1';
select is(tests.call_topic_probe('i_owner', 'select', 'broadcast'), 'rows 0', 'receive call topic: nobody after the call ended');
select is(tests.call_topic_probe('i_member', 'insert', 'broadcast'), 'error 42501', 'send on call topic: nobody after the call ended');

-- RPC refusals.
select is(tests.probe('i_admin', $$select * from public.get_call('0e000000-0000-4000-8000-0000000000c1')$$), 'error PT404',
          'get_call: a member of the organization outside the conversation gets 404');
select is(tests.probe('i_stranger', $$select * from public.start_call('0c000000-0000-4000-8000-000000000001', 'audio')$$), 'error PT404',
          'start_call: a stranger gets 404 conversation_not_found');
select is(tests.probe('i_member', $$select * from public.start_call('0c000000-0000-4000-8000-000000000001', 'hologram')$$), 'error P0001',
          'start_call: media other than audio or video is refused (400)');
select is(tests.probe('anon', $$select * from public.start_call('0c000000-0000-4000-8000-000000000001', 'audio')$$), 'error 42501',
          'start_call: anon may not call it');
select is(tests.probe('anon', $$select * from public.get_ice_servers()$$), 'error 42501',
          'get_ice_servers: anon may not call it');
select is(tests.probe('i_member', $$select turn_secret from parley_internal.call_settings$$), 'error 42501',
          'call_settings: an authenticated user cannot read the TURN secret');
select is(tests.probe('service_role', $$select turn_secret from parley_internal.call_settings$$), 'error 42501',
          'call_settings: service_role cannot read the TURN secret either (it sets it through set_call_settings)');
select is(tests.probe('i_member', $$select public.set_call_settings(turn_secret => 'abcdefghijklmnopq')$$), 'error 42501',
          'set_call_settings: only service_role');

select * from finish();
rollback;
