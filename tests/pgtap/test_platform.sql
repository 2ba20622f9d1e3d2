-- pgTAP: the Supabase platform shim exposes what Parley relies on, with the
-- privileges Supabase gives it.
begin;
set local search_path = tap, tests, public;
select plan(16);

select has_role('anon', 'role anon exists');
select has_role('authenticated', 'role authenticated exists');
select has_role('service_role', 'role service_role exists');
select has_role('authenticator', 'role authenticator exists');
select is_member_of('authenticated', 'authenticator', 'authenticator can switch to authenticated');

select has_table('auth', 'users', 'auth.users exists');
select has_function('auth', 'uid', '{}'::name[], 'auth.uid() exists');
select has_table('storage', 'objects', 'storage.objects exists');
select has_table('realtime', 'messages', 'realtime.messages exists');
select has_function('realtime', 'send', array['jsonb', 'text', 'text', 'boolean'], 'realtime.send(payload, event, topic, private) exists');

select ok((select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass),
  'realtime.messages has row level security enabled');
select ok((select relrowsecurity from pg_class where oid = 'storage.objects'::regclass),
  'storage.objects has row level security enabled');

select tests.create_user('pgtap_alice');
select tests.authenticate_as('pgtap_alice');
select is(auth.uid(), tests.user_id('pgtap_alice'), 'authenticate_as makes auth.uid() the user');
select is(current_user::text, 'authenticated', 'authenticate_as switches to the authenticated role');
select throws_ok('select count(*) from auth.users', '42501', null, 'an authenticated user cannot read auth.users');

select tests.authenticate_as_anon();
select is_empty('select * from realtime.messages', 'anon receives no realtime message without a policy');

select * from finish();
rollback;
