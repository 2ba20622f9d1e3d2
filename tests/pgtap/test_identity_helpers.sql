-- pgTAP: the internal helper contract issue 4 relies on, and the
-- engineering rules (RLS, pinned search_path, comments, indexed foreign keys).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select plan(25);

select is(
  (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
   where n.nspname = 'parley_internal' and p.prosecdef
     and p.oid::regprocedure::text = any (array[
       'parley_internal.is_organization_member(uuid,uuid)', 'parley_internal.organization_role(uuid,uuid)',
       'parley_internal.has_permission(uuid,text,uuid)', 'parley_internal.organization_has_feature(uuid,text)',
       'parley_internal.require_feature(uuid,text)', 'parley_internal.require_permission(uuid,text)',
       'parley_internal.shares_organization(uuid,uuid)', 'parley_internal.is_blocked_between(uuid,uuid)',
       'parley_internal.are_connected(uuid,uuid)', 'parley_internal.message_decision(uuid,uuid,text)',
       'parley_internal.assert_can_act_as_persona(uuid,uuid)'])
     and obj_description(p.oid, 'pg_proc') is not null
     and not has_function_privilege('authenticated', p.oid, 'execute')
     and has_function_privilege('service_role', p.oid, 'execute')
     and not has_function_privilege('anon', p.oid, 'execute')),
  11, 'all 11 contract helpers exist, are SECURITY DEFINER, commented, executable by service_role and by neither API role (they answer about any user: issue 20 finding 4)');

select is_empty($$select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname in ('public', 'parley_internal')
    and not coalesce(p.proconfig::text[] @> array['search_path=""'], false)$$,
  'every public and parley_internal function pins search_path to empty');

select is_empty($$select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity$$,
  'every table in public has row level security enabled');

select is_empty($$select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind = 'r' and obj_description(c.oid, 'pg_class') is null
  union all
  select c.relname || '.' || a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
    and col_description(c.oid, a.attnum) is null
  union all
  select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'public' and obj_description(p.oid, 'pg_proc') is null$$,
  'every table, column and function in public has a comment');

select is_empty($$select con.conrelid::regclass::text || '(' || con.conkey::text || ')' from pg_constraint con
  join pg_namespace n on n.oid = con.connamespace
  where con.contype = 'f' and n.nspname = 'public'
    and not exists (select 1 from pg_index i where i.indrelid = con.conrelid
                    and array(select k from unnest((i.indkey::int2[])[0:array_length(con.conkey, 1) - 1]) as k order by k)
                        = array(select k from unnest(con.conkey) as k order by k))$$,
  'every foreign key in public is covered by an index');

select is_empty($$select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'public' and has_function_privilege('anon', p.oid, 'execute')
    and p.proname not in ('can_message', 'can_call')$$,
  'anon may execute only can_message and can_call in public');

select is_empty($$select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'public' and p.prosecdef$$,
  'no function in public is SECURITY DEFINER: RPCs are SECURITY INVOKER wrappers (splinter 0028/0029)');

select is_empty($$select w.oid::regprocedure::text from pg_proc w join pg_namespace nw on nw.oid = w.pronamespace
  join pg_proc i on i.proname = w.proname and i.proargtypes = w.proargtypes
  join pg_namespace ni on ni.oid = i.pronamespace and ni.nspname = 'parley_internal'
  where nw.nspname = 'public'
    and (not i.prosecdef or i.prorettype <> w.prorettype or i.provolatile <> w.provolatile
         or i.proretset <> w.proretset or i.proargnames is distinct from w.proargnames
         or exists (select 1 from pg_roles r where r.rolname in ('anon', 'authenticated', 'service_role')
                    and has_function_privilege(r.oid, i.oid, 'execute')
                        <> has_function_privilege(r.oid, w.oid, 'execute')))$$,
  'each parley_internal RPC implementation is SECURITY DEFINER and matches its public wrapper''s signature, volatility and grants');

select is_empty($$select i.oid::regprocedure::text from pg_proc i join pg_namespace n on n.oid = i.pronamespace
  where n.nspname = 'parley_internal' and has_function_privilege('anon', i.oid, 'execute')
    and exists (select 1 from pg_proc w join pg_namespace nw on nw.oid = w.pronamespace
                where nw.nspname = 'public' and w.proname = i.proname and w.proargtypes = i.proargtypes)
    and i.proname not in ('can_message', 'can_call')$$,
  'anon may execute only the can_message and can_call implementations among the RPCs in parley_internal');

select is(parley_internal.organization_role('0a000000-0000-4000-8000-000000000001', tests.user_id('i_admin')), 'admin',
  'organization_role gives the member''s role');
select is(parley_internal.organization_role('0a000000-0000-4000-8000-000000000001', tests.user_id('i_stranger')), null,
  'organization_role is null for a non-member');
select ok(parley_internal.is_organization_member('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member')),
  'is_organization_member is true for a member');
select ok(parley_internal.has_permission('0a000000-0000-4000-8000-000000000001', 'chat.moderate', tests.user_id('i_member')),
  'has_permission honours the organization''s override granting chat.moderate to members');
select ok(not parley_internal.has_permission('0a000000-0000-4000-8000-000000000002', 'chat.moderate', tests.user_id('i_member')),
  'has_permission is false in an organization the user does not belong to');
select ok(parley_internal.shares_organization(tests.user_id('i_member'), tests.user_id('i_owner')),
  'shares_organization is true for two Acme members');
select ok(not parley_internal.shares_organization(tests.user_id('i_member'), tests.user_id('i_other_admin')),
  'shares_organization is false across organizations');
select ok(parley_internal.is_blocked_between(tests.user_id('i_stranger'), tests.user_id('i_member')),
  'is_blocked_between sees a block in either direction');
select ok(parley_internal.are_connected(tests.user_id('i_admin'), tests.user_id('i_member')),
  'are_connected is true for an accepted connection, whatever the argument order');
select ok(parley_internal.organization_has_feature('0a000000-0000-4000-8000-000000000001', 'chat.calls'),
  'organization_has_feature: the default Chat System plan includes chat.calls');
select is(parley_internal.assert_can_act_as_persona('0b000000-0000-4000-8000-000000000001', tests.user_id('i_admin')),
  '0a000000-0000-4000-8000-000000000001'::uuid, 'assert_can_act_as_persona returns the persona''s organization for an admin');
select throws_ok($$select parley_internal.assert_can_act_as_persona('0b000000-0000-4000-8000-000000000001', tests.user_id('i_member'))$$,
  '42501', 'Only support agents act as personas.', 'assert_can_act_as_persona refuses a member without chat.support_agent');
select throws_ok($$select parley_internal.message_decision(tests.user_id('i_member'), tests.user_id('i_owner'), 'shout')$$,
  'P0001', 'kind is message or call.', 'message_decision refuses an unknown kind');

update public.organizations set plan_id = 'free' where id = '0a000000-0000-4000-8000-000000000001';
select throws_ok($$select parley_internal.require_feature('0a000000-0000-4000-8000-000000000001', 'chat')$$,
  'PT402', 'The organization''s plan does not include chat.', 'require_feature raises PT402 when the plan lacks the feature');

select tests.authenticate_as('i_member');
reset role;  -- as the definer code that calls it (API roles may not): the claims still name the member
select throws_ok($$select parley_internal.require_permission('0a000000-0000-4000-8000-000000000001', 'chat.audit_read')$$,
  '42501', 'You do not have the chat.audit_read permission in this organization.',
  'require_permission raises 42501 for the current user without the permission');
select lives_ok($$select parley_internal.require_permission('0a000000-0000-4000-8000-000000000001', 'chat.view')$$,
  'require_permission passes for a permission the member holds');
select tests.clear_authentication();

select * from finish();
rollback;
