-- pgTAP: row level security of public.connections (issue 3).
-- Every operation (select, insert, update, delete) is tried as anon, a
-- stranger, an Acme member, an admin of another organization, an Acme admin
-- and service_role; each try is rolled back (see _identity_fixture.sql).
-- Generated matrix; the expectations are the design in docs/identity.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select plan(24);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.connections$q$, $q$error 42501$q$, $q$connections: anon is refused (42501) on select of the i_member/i_admin connection$q$),
  ($q$i_stranger$q$, $q$select 1 from public.connections$q$, $q$rows 0$q$, $q$connections: a stranger cannot see the i_member/i_admin connection$q$),
  ($q$i_member$q$, $q$select 1 from public.connections$q$, $q$rows 1$q$, $q$connections: an Acme member sees 1 row(s) of the i_member/i_admin connection$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.connections$q$, $q$rows 0$q$, $q$connections: an admin of another organization cannot see the i_member/i_admin connection$q$),
  ($q$i_admin$q$, $q$select 1 from public.connections$q$, $q$rows 1$q$, $q$connections: an Acme admin sees 1 row(s) of the i_member/i_admin connection$q$),
  ($q$service_role$q$, $q$select 1 from public.connections$q$, $q$rows 1$q$, $q$connections: service_role sees 1 row(s) of the i_member/i_admin connection$q$),
  ($q$anon$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$error 42501$q$, $q$connections: anon is refused (42501) on insert of the i_member/i_admin connection$q$),
  ($q$i_stranger$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$error 42501$q$, $q$connections: a stranger is refused (42501) on insert of the i_member/i_admin connection$q$),
  ($q$i_member$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$error 42501$q$, $q$connections: an Acme member is refused (42501) on insert of the i_member/i_admin connection$q$),
  ($q$i_other_admin$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$error 42501$q$, $q$connections: an admin of another organization is refused (42501) on insert of the i_member/i_admin connection$q$),
  ($q$i_admin$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$error 42501$q$, $q$connections: an Acme admin is refused (42501) on insert of the i_member/i_admin connection$q$),
  ($q$service_role$q$, $q$insert into public.connections (user_low, user_high, requested_by) select least(tests.user_id('i_stranger'), tests.user_id('i_owner')), greatest(tests.user_id('i_stranger'), tests.user_id('i_owner')), tests.user_id('i_stranger') returning 1$q$, $q$rows 1$q$, $q$connections: service_role can insert the i_member/i_admin connection$q$),
  ($q$anon$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$error 42501$q$, $q$connections: anon is refused (42501) on update of the i_member/i_admin connection$q$),
  ($q$i_stranger$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$error 42501$q$, $q$connections: a stranger is refused (42501) on update of the i_member/i_admin connection$q$),
  ($q$i_member$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$error 42501$q$, $q$connections: an Acme member is refused (42501) on update of the i_member/i_admin connection$q$),
  ($q$i_other_admin$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$error 42501$q$, $q$connections: an admin of another organization is refused (42501) on update of the i_member/i_admin connection$q$),
  ($q$i_admin$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$error 42501$q$, $q$connections: an Acme admin is refused (42501) on update of the i_member/i_admin connection$q$),
  ($q$service_role$q$, $q$update public.connections set status = 'pending' returning 1$q$, $q$rows 1$q$, $q$connections: service_role can update the i_member/i_admin connection$q$),
  ($q$anon$q$, $q$delete from public.connections returning 1$q$, $q$error 42501$q$, $q$connections: anon is refused (42501) on delete of the i_member/i_admin connection$q$),
  ($q$i_stranger$q$, $q$delete from public.connections returning 1$q$, $q$error 42501$q$, $q$connections: a stranger is refused (42501) on delete of the i_member/i_admin connection$q$),
  ($q$i_member$q$, $q$delete from public.connections returning 1$q$, $q$error 42501$q$, $q$connections: an Acme member is refused (42501) on delete of the i_member/i_admin connection$q$),
  ($q$i_other_admin$q$, $q$delete from public.connections returning 1$q$, $q$error 42501$q$, $q$connections: an admin of another organization is refused (42501) on delete of the i_member/i_admin connection$q$),
  ($q$i_admin$q$, $q$delete from public.connections returning 1$q$, $q$error 42501$q$, $q$connections: an Acme admin is refused (42501) on delete of the i_member/i_admin connection$q$),
  ($q$service_role$q$, $q$delete from public.connections returning 1$q$, $q$rows 1$q$, $q$connections: service_role can delete the i_member/i_admin connection$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
