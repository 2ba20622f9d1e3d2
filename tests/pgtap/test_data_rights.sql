-- pgTAP: data rights (issue 18). Who may call export_my_data and erase_user,
-- and the audit log's one allowed UPDATE (erasure) keeping the chain intact.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(12);

select ok(has_function_privilege('authenticated', 'public.export_my_data()', 'execute'),
  'export_my_data: authenticated may call it');
select ok(not has_function_privilege('anon', 'public.export_my_data()', 'execute'),
  'export_my_data: anon may not');
select ok(has_function_privilege('service_role', 'public.erase_user(uuid)', 'execute'),
  'erase_user: service_role may call it');
select ok(not has_function_privilege('authenticated', 'public.erase_user(uuid)', 'execute'),
  'erase_user: authenticated may not');
select ok(not has_function_privilege('anon', 'public.erase_user(uuid)', 'execute'),
  'erase_user: anon may not');
select is(tests.probe('i_member', $$select public.erase_user(tests.user_id('i_owner'))$$), 'error 42501',
  'erase_user: a member calling it is refused (42501)');

-- An audited change made through the API, with an IP and user agent.
select tests.authenticate_as('i_owner');
select public.set_member_role('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'guest');
reset role;
select is((select hash_version from public.audit_log order by id desc limit 1), 2::smallint,
  'audit: new entries are hash_version 2 (erasable)');
select throws_ok(
  $$update public.audit_log set user_agent = 'forged' where id = (select max(id) from public.audit_log)$$,
  '42501', null, 'audit: changing a value is still refused to the table owner');

select ok(parley_internal.erase_user_data(tests.user_id('i_owner'), 'erase_user') ->> 'audit_values_erased' <> '0',
  'erase_user_data: the owner''s audit values (IP, user agent) are erased');
select is((select ip from public.audit_log where action = 'organization_member.role_change'
           order by id desc limit 1), null, 'audit: the erased IP is gone');
select ok((select ok from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001')),
  'audit: the organization''s chain verifies after the erasure');
select is((select action from public.audit_log where chain = 'user:' || tests.user_id('i_owner')
           order by id desc limit 1), 'user.erase', 'audit: the erasure is recorded on the user''s chain');

select * from finish();
rollback;
