-- pgTAP: Realtime Authorization on realtime.messages (issue 7, policies/realtime.sql).
--
-- Supabase Realtime (and parley realtime) authorizes a private join by
-- running, as the joining user and with realtime.topic() set to the topic,
-- a SELECT of a row of that topic (receive) and INSERTs of rows with
-- extension 'broadcast' (client broadcasts such as typing) and 'presence'
-- (send). Every case is tried as anon, a stranger, a member, an admin of
-- another organization, an Acme admin who is not in the group (but is a
-- support agent) and service_role; each try is rolled back.
--
-- Topics: G = the Acme group (i_owner owner, i_member member); S = i_member's
-- support conversation (i_admin handles it as an agent); U = i_member's user
-- topic. Denied receives see 0 rows; denied sends fail with 42501.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(83);

-- tests.realtime_probe(actor, topic, command, extension): command is 'select' (the probe row of the topic)
-- or 'insert' (one row); realtime.topic() returns `joined` (default: the topic itself).
create or replace function tests.realtime_probe(actor text, topic text, command text, extension text default 'broadcast',
                                                joined text default null)
returns text
language plpgsql
as $$
begin
  perform set_config('realtime.topic', coalesce(joined, topic), true);
  if command = 'select' then
    return tests.probe(actor, format(
      'select 1 from realtime.messages where topic = %L and extension = %L and event = ''rls_probe''', topic, extension));
  end if;
  return tests.probe(actor, format(
    'insert into realtime.messages (topic, extension, private, event, payload) values (%L, %L, true, ''typing'', ''{}'') '
    'returning 1', topic, extension));
end
$$;

create temporary table topics (label text primary key, topic text not null) on commit drop;
insert into topics values
  ('G', 'conversation:0c000000-0000-4000-8000-000000000001'),
  ('S', 'conversation:0c000000-0000-4000-8000-000000000002'),
  ('U', 'user:' || tests.user_id('i_member'));
grant select on topics to anon, authenticated, service_role;
-- One probe row per topic and extension (set-up as the owner).
insert into realtime.messages (topic, extension, private, event, payload)
select t.topic, e.extension, true, 'rls_probe', '{}'
from topics t cross join (values ('broadcast'), ('presence')) as e(extension);
-- The Acme admin opened the support conversation with get_messages a minute ago (an audited staff read);
-- the owner did not (issue 20 finding 6: staff receive message bodies only after an audited read).
insert into parley_internal.audit_staff_reads (conversation_id, user_id, recorded_at)
values ('0c000000-0000-4000-8000-000000000002', tests.user_id('i_admin'), now() - interval '1 minute');

select is(tests.realtime_probe(actor, t.topic, command, extension), expected, description)
from (values
  -- receive: the group
  ('anon', 'G', 'select', 'broadcast', 'rows 0', 'receive group: anon is denied'),
  ('i_stranger', 'G', 'select', 'broadcast', 'rows 0', 'receive group: a stranger is denied'),
  ('i_member', 'G', 'select', 'broadcast', 'rows 1', 'receive group: a member is allowed'),
  ('i_member', 'G', 'select', 'presence', 'rows 1', 'receive group: a member is allowed presence'),
  ('i_other_admin', 'G', 'select', 'broadcast', 'rows 0', 'receive group: an admin of another organization is denied'),
  ('i_admin', 'G', 'select', 'broadcast', 'rows 0', 'receive group: an Acme admin not in the group is denied'),
  ('service_role', 'G', 'select', 'broadcast', 'rows 1', 'receive group: service_role bypasses RLS'),
  -- receive: a support conversation
  ('anon', 'S', 'select', 'broadcast', 'rows 0', 'receive support: anon is denied'),
  ('i_stranger', 'S', 'select', 'broadcast', 'rows 0', 'receive support: a stranger is denied'),
  ('i_member', 'S', 'select', 'broadcast', 'rows 1', 'receive support: its user is allowed'),
  ('i_other_admin', 'S', 'select', 'broadcast', 'rows 0', 'receive support: an admin of another organization is denied'),
  ('i_admin', 'S', 'select', 'broadcast', 'rows 1', 'receive support: an Acme admin (support agent) is allowed just after an audited read'),
  ('i_owner', 'S', 'select', 'broadcast', 'rows 0', 'receive support: the Acme owner (support agent) without an audited read is denied (issue 20 finding 6)'),
  ('service_role', 'S', 'select', 'broadcast', 'rows 1', 'receive support: service_role bypasses RLS'),
  -- receive: a user topic
  ('anon', 'U', 'select', 'broadcast', 'rows 0', 'receive user topic: anon is denied'),
  ('i_stranger', 'U', 'select', 'broadcast', 'rows 0', 'receive user topic: a stranger is denied'),
  ('i_member', 'U', 'select', 'broadcast', 'rows 1', 'receive user topic: its user is allowed'),
  ('i_owner', 'U', 'select', 'broadcast', 'rows 0', 'receive user topic: a fellow group member is denied'),
  ('i_other_admin', 'U', 'select', 'broadcast', 'rows 0', 'receive user topic: an admin of another organization is denied'),
  ('i_admin', 'U', 'select', 'broadcast', 'rows 0', 'receive user topic: an admin of the user''s organization is denied'),
  ('service_role', 'U', 'select', 'broadcast', 'rows 1', 'receive user topic: service_role bypasses RLS'),
  -- send client broadcasts (typing): the group
  ('anon', 'G', 'insert', 'broadcast', 'error 42501', 'broadcast to group: anon is denied'),
  ('i_stranger', 'G', 'insert', 'broadcast', 'error 42501', 'broadcast to group: a stranger is denied'),
  ('i_member', 'G', 'insert', 'broadcast', 'rows 1', 'broadcast to group: a member who may post is allowed'),
  ('i_owner', 'G', 'insert', 'broadcast', 'rows 1', 'broadcast to group: the group owner is allowed'),
  ('i_other_admin', 'G', 'insert', 'broadcast', 'error 42501', 'broadcast to group: an admin of another organization is denied'),
  ('i_admin', 'G', 'insert', 'broadcast', 'error 42501', 'broadcast to group: an Acme admin not in the group is denied'),
  ('service_role', 'G', 'insert', 'broadcast', 'rows 1', 'broadcast to group: service_role bypasses RLS'),
  -- send client broadcasts: a support conversation
  ('anon', 'S', 'insert', 'broadcast', 'error 42501', 'broadcast to support: anon is denied'),
  ('i_stranger', 'S', 'insert', 'broadcast', 'error 42501', 'broadcast to support: a stranger is denied'),
  ('i_member', 'S', 'insert', 'broadcast', 'rows 1', 'broadcast to support: its user is allowed'),
  ('i_other_admin', 'S', 'insert', 'broadcast', 'error 42501', 'broadcast to support: an admin of another organization is denied'),
  ('i_admin', 'S', 'insert', 'broadcast', 'rows 1', 'broadcast to support: a support agent (who may answer) is allowed'),
  ('service_role', 'S', 'insert', 'broadcast', 'rows 1', 'broadcast to support: service_role bypasses RLS'),
  -- presence: roster members only
  ('anon', 'G', 'insert', 'presence', 'error 42501', 'presence in group: anon is denied'),
  ('i_stranger', 'G', 'insert', 'presence', 'error 42501', 'presence in group: a stranger is denied'),
  ('i_member', 'G', 'insert', 'presence', 'rows 1', 'presence in group: a member is allowed'),
  ('i_other_admin', 'G', 'insert', 'presence', 'error 42501', 'presence in group: an admin of another organization is denied'),
  ('i_admin', 'G', 'insert', 'presence', 'error 42501', 'presence in group: an Acme admin not in the group is denied'),
  ('service_role', 'G', 'insert', 'presence', 'rows 1', 'presence in group: service_role bypasses RLS'),
  ('i_member', 'S', 'insert', 'presence', 'rows 1', 'presence in support: its user is allowed'),
  ('i_admin', 'S', 'insert', 'presence', 'error 42501', 'presence in support: an agent (not a member) never shows up as themselves'),
  -- nobody sends on a user topic
  ('anon', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: anon is denied'),
  ('i_stranger', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: a stranger is denied'),
  ('i_member', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: not even its user'),
  ('i_member', 'U', 'insert', 'presence', 'error 42501', 'presence on user topic: not even its user'),
  ('i_owner', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: a fellow member is denied'),
  ('i_other_admin', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: an admin of another organization is denied'),
  ('i_admin', 'U', 'insert', 'broadcast', 'error 42501', 'send on user topic: an admin of the user''s organization is denied'),
  ('service_role', 'U', 'insert', 'broadcast', 'rows 1', 'send on user topic: service_role bypasses RLS')
) as cases(actor, label, command, extension, expected, description)
join topics t using (label);

-- Malformed topics: denied (0 rows, 42501), never a cast error.
select is(tests.realtime_probe('i_member', topic, command), expected, description)
from (values
  ('conversation:not-a-uuid', 'select', 'rows 0', 'malformed: conversation:not-a-uuid receive is denied'),
  ('conversation:not-a-uuid', 'insert', 'error 42501', 'malformed: conversation:not-a-uuid send is denied'),
  ('conversation:', 'select', 'rows 0', 'malformed: empty conversation id receive is denied'),
  ('conversation:0c000000-0000-4000-8000-000000000001x', 'select', 'rows 0', 'malformed: trailing text after the id is denied'),
  ('conversation:0c000000-0000-4000-8000-000000000001x', 'insert', 'error 42501', 'malformed: trailing text after the id cannot send'),
  (' conversation:0c000000-0000-4000-8000-000000000001', 'select', 'rows 0', 'malformed: leading blank is denied'),
  ('user:', 'select', 'rows 0', 'malformed: empty user id receive is denied'),
  ('user:12345', 'select', 'rows 0', 'malformed: user:12345 receive is denied'),
  ('room:lobby', 'select', 'rows 0', 'unknown topic kind: receive is denied'),
  ('room:lobby', 'insert', 'error 42501', 'unknown topic kind: send is denied')
) as cases(topic, command, expected, description);

-- The row's topic must be the joined topic: a member of G cannot read U's rows by joining G.
select is(tests.realtime_probe('i_owner', (select topic from topics where label = 'U'), 'select', 'broadcast',
                               (select topic from topics where label = 'G')),
          'rows 0', 'a group member joined to the group cannot read rows of another user''s topic');
select is(tests.realtime_probe('i_owner', (select topic from topics where label = 'U'), 'insert', 'broadcast',
                               (select topic from topics where label = 'G')),
          'error 42501', 'a group member joined to the group cannot write rows of another topic');
-- No topic being authorized (realtime.topic unset): nothing.
select is(tests.realtime_probe('i_member', (select topic from topics where label = 'G'), 'select', 'broadcast', ''),
          'rows 0', 'without realtime.topic() a member receives nothing');

-- An announcement group (admins post): members may not broadcast typing, but still track presence.
update public.conversations set posting_policy = 'admins' where id = '0c000000-0000-4000-8000-000000000001';
select is(tests.realtime_probe('i_member', 'conversation:0c000000-0000-4000-8000-000000000001', 'insert', 'broadcast'),
          'error 42501', 'announcement group: a member may not broadcast (typing)');
select is(tests.realtime_probe('i_member', 'conversation:0c000000-0000-4000-8000-000000000001', 'insert', 'presence'),
          'rows 1', 'announcement group: a member still tracks presence');
select is(tests.realtime_probe('i_owner', 'conversation:0c000000-0000-4000-8000-000000000001', 'insert', 'broadcast'),
          'rows 1', 'announcement group: the owner may broadcast');
select is(tests.realtime_probe('i_member', 'conversation:0c000000-0000-4000-8000-000000000001', 'select'),
          'rows 1', 'announcement group: a member still receives');

-- Topic parsing contract.
select is(parley_internal.realtime_topic_id('conversation:0c000000-0000-4000-8000-000000000001', 'conversation'),
          '0c000000-0000-4000-8000-000000000001'::uuid, 'realtime_topic_id parses conversation:<uuid>');
select is(parley_internal.realtime_topic_id('user:' || tests.user_id('i_member'), 'user'), tests.user_id('i_member'),
          'realtime_topic_id parses user:<uuid>');
select is(parley_internal.realtime_topic_id('user:' || tests.user_id('i_member'), 'conversation'), null,
          'realtime_topic_id: another kind is null');
select is(parley_internal.realtime_topic_id('conversation:zzzzzzzz-0000-4000-8000-000000000001', 'conversation'), null,
          'realtime_topic_id: non-hex is null, not an error');
select is(parley_internal.realtime_topic_id(null, 'conversation'), null, 'realtime_topic_id: null is null');
select is(parley_internal.realtime_can_receive('conversation:0c000000-0000-4000-8000-000000000001', null), false,
          'realtime_can_receive: no user, no topic');
select is(parley_internal.realtime_can_send('user:' || tests.user_id('i_member'), 'broadcast', tests.user_id('i_member')),
          false, 'realtime_can_send: nobody sends on user topics');

-- Shape: the two policies, for authenticated only; the trigger functions are SECURITY DEFINER with search_path ''.
select policies_are('realtime', 'messages', array['parley_topics_receive', 'parley_topics_send'],
                    'realtime.messages carries exactly Parley''s receive and send policies');
select policy_roles_are('realtime', 'messages', 'parley_topics_receive', array['authenticated'],
                        'the receive policy applies to authenticated');
select policy_roles_are('realtime', 'messages', 'parley_topics_send', array['authenticated'],
                        'the send policy applies to authenticated');
select policy_cmd_is('realtime', 'messages', 'parley_topics_receive', 'select', 'the receive policy is for SELECT');
select policy_cmd_is('realtime', 'messages', 'parley_topics_send', 'insert', 'the send policy is for INSERT');
select is(
  (select pg_catalog.array_agg(t.tgname::text order by t.tgname)
   from pg_catalog.pg_trigger t join pg_catalog.pg_proc p on p.oid = t.tgfoid
   where t.tgname like 'realtime_%' and not t.tgisinternal
     and not (p.prosecdef and p.pronamespace = 'parley_internal'::regnamespace
              and p.proconfig @> array['search_path=""'])),
  null, 'every realtime trigger runs a SECURITY DEFINER function in parley_internal with search_path pinned');
select is(
  (select pg_catalog.array_agg(t.tgname::text order by t.tgname)
   from pg_catalog.pg_trigger t where t.tgname like 'realtime_%' and not t.tgisinternal),
  array['realtime_conversation_changed', 'realtime_conversation_deleted', 'realtime_inbox_entry_updated',
        'realtime_member_changed', 'realtime_member_role_changed', 'realtime_message_inserted',
        'realtime_message_updated', 'realtime_reaction_changed', 'realtime_support_assignment_changed'],
  'the realtime triggers are in place');
select is(
  (select pg_catalog.count(*)::integer from pg_catalog.pg_trigger t
   where t.tgname like 'realtime_%' and not t.tgisinternal and (t.tgtype & 2) <> 0),
  0, 'every realtime trigger fires AFTER the write');
select is(
  (select pg_catalog.count(*)::integer from pg_catalog.pg_proc p
   where p.pronamespace = 'parley_internal'::regnamespace and p.proname like 'realtime_%'
     and pg_catalog.has_function_privilege('authenticated', p.oid, 'execute')
     and p.proname not in ('realtime_topic_id', 'realtime_can_receive', 'realtime_can_send')),
  0, 'authenticated may execute only the topic helpers the policies call');

select * from finish();
rollback;
