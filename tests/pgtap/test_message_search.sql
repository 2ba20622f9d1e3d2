-- pgTAP: message search (issue 17). Who may call search_messages and what
-- each caller finds: anon, a stranger, a group member, an admin of another
-- organization, an Acme admin outside the group (a support agent: finds the
-- support conversation only by naming it, and that read is audited), and
-- service_role; the since_joined cut-off; deleted messages; the search
-- columns on messages and organization_settings (reads under the existing
-- RLS, writes refused or restricted to admins). Each probe is rolled back
-- (tests.probe, _identity_fixture.sql).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(26);

-- A since_joined group 0c..03 that i_member joined after its first message; a deleted message in the group.
insert into public.conversations (id, organization_id, kind, title, history_visibility, created_by) values
  ('0c000000-0000-4000-8000-000000000003', '0a000000-0000-4000-8000-000000000001', 'group', 'Late', 'since_joined',
   tests.user_id('i_owner'));
select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000003', tests.user_id('i_owner'), 'owner', null);
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('0c000000-0000-4000-8000-000000000003', 'user', tests.user_id('i_owner'), 'Hello before you joined');
select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000003', tests.user_id('i_member'), 'member', null);
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('0c000000-0000-4000-8000-000000000003', 'user', tests.user_id('i_owner'), 'Hello after you joined');
insert into public.messages (conversation_id, sender_kind, sender_id, body, deleted_at, deleted_by) values
  ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_owner'), null, now(), tests.user_id('i_owner'));

select is(tests.probe(actor, statement), expected, description)
from (values
  -- search_messages across the caller's conversations ('hello' is in the group, the late group twice, and the
  -- support conversation has 'help').
  ('anon', $q$select * from public.search_messages('hello')$q$, 'error 42501',
   'search_messages: anon is refused (42501)'),
  ('i_stranger', $q$select * from public.search_messages('hello')$q$, 'rows 0',
   'search_messages: a stranger finds nothing'),
  ('i_member', $q$select * from public.search_messages('hello')$q$, 'rows 2',
   'search_messages: a group member finds the group message and the late group''s message after they joined'),
  ('i_owner', $q$select * from public.search_messages('hello')$q$, 'rows 3',
   'search_messages: the owner of both groups finds all three'),
  ('i_other_admin', $q$select * from public.search_messages('hello')$q$, 'rows 0',
   'search_messages: an admin of another organization finds nothing'),
  ('i_admin', $q$select * from public.search_messages('hello')$q$, 'rows 0',
   'search_messages: an Acme admin outside the groups finds nothing'),
  ('service_role', $q$select * from public.search_messages('hello')$q$, 'error 42501',
   'search_messages: service_role is refused (42501: a search is a user''s)'),
  ('i_member', $q$select * from public.search_messages('help')$q$, 'rows 1',
   'search_messages: the member finds their own support conversation'),
  ('i_admin', $q$select * from public.search_messages('help')$q$, 'rows 0',
   'search_messages: a support agent''s search across conversations leaves out support conversations'),
  -- Naming a conversation.
  ('i_admin', $q$select * from public.search_messages('help', conversation_id => '0c000000-0000-4000-8000-000000000002')$q$,
   'rows 1', 'search_messages: a support agent naming the support conversation finds its message'),
  ('i_other_admin', $q$select * from public.search_messages('help', conversation_id => '0c000000-0000-4000-8000-000000000002')$q$,
   'error PT404', 'search_messages: staff of another organization naming it get 404'),
  ('i_stranger', $q$select * from public.search_messages('hello', conversation_id => '0c000000-0000-4000-8000-000000000001')$q$,
   'error PT404', 'search_messages: a stranger naming the group gets 404'),
  ('i_admin', $q$select * from public.search_messages('hello', conversation_id => '0c000000-0000-4000-8000-000000000001')$q$,
   'error PT404', 'search_messages: an Acme admin naming a group they are not in gets 404'),
  ('i_member', $q$select * from public.search_messages('hello', conversation_id => '0c000000-0000-4000-8000-000000000003')$q$,
   'rows 1', 'search_messages: since_joined: the late member finds only the message after they joined'),
  ('i_owner', $q$select * from public.search_messages('hello', conversation_id => '0c000000-0000-4000-8000-000000000001')$q$,
   'rows 1', 'search_messages: the deleted message (a tombstone) is not found'),
  -- The columns search adds.
  ('i_member', $q$select search_vector, search_language from public.messages$q$, 'rows 4',
   'messages.search_vector: readable where the message is (RLS unchanged: the group''s two, support, late group''s one)'),
  ('i_owner', $q$update public.messages set search_language = 'english' returning 1$q$, 'error 42501',
   'messages.search_language: no API user writes it'),
  ('i_admin', $q$update public.organization_settings set search_language = 'english' where organization_id = '0a000000-0000-4000-8000-000000000001' returning 1$q$,
   'rows 1', 'organization_settings.search_language: an admin sets the organization''s language'),
  ('i_member', $q$update public.organization_settings set search_language = 'english' where organization_id = '0a000000-0000-4000-8000-000000000001' returning 1$q$,
   'rows 0', 'organization_settings.search_language: a member changes nothing'),
  ('i_other_admin', $q$update public.organization_settings set search_language = 'english' where organization_id = '0a000000-0000-4000-8000-000000000001' returning 1$q$,
   'rows 0', 'organization_settings.search_language: another organization''s admin changes nothing'),
  ('i_admin', $q$update public.organization_settings set search_language = 'klingon' where organization_id = '0a000000-0000-4000-8000-000000000001' returning 1$q$,
   'error 23514', 'organization_settings.search_language: only PostgreSQL''s snowball languages'),
  ('i_member', $q$select * from parley_internal.parse_search_query('x', null, true)$q$, 'error 42501',
   'parse_search_query: internal, not callable by API users'),
  ('i_member', $q$select * from parley_internal.message_search_vector('english', 'x')$q$, 'error 42501',
   'message_search_vector: internal, not callable by authenticated')
) as t(actor, statement, expected, description);

-- The staff search of the support conversation is audited as get_messages' staff reads are.
select tests.authenticate_as('i_admin');
select is((select count(*) from public.search_messages('help', conversation_id => '0c000000-0000-4000-8000-000000000002'))::integer,
          1, 'a support agent''s search of the support conversation returns its message');
select tests.clear_authentication();
select is((select count(*) from public.audit_log
           where action = 'conversation.staff_read' and object_id = '0c000000-0000-4000-8000-000000000002'
             and actor_id = tests.user_id('i_admin'))::integer,
          1, 'and writes conversation.staff_read to the audit log');
select is((select count(*) from public.audit_log
           where action = 'conversation.staff_read' and actor_id = tests.user_id('i_member'))::integer,
          0, 'a member''s own searches are not staff reads');

select * from finish();
rollback;
