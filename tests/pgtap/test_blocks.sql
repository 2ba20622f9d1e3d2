-- pgTAP: row level security of public.blocks (issue 3).
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
  ($q$anon$q$, $q$select 1 from public.blocks$q$, $q$error 42501$q$, $q$blocks: anon is refused (42501) on select of i_member's block of i_stranger$q$),
  ($q$i_stranger$q$, $q$select 1 from public.blocks$q$, $q$rows 0$q$, $q$blocks: a stranger cannot see i_member's block of i_stranger$q$),
  ($q$i_member$q$, $q$select 1 from public.blocks$q$, $q$rows 1$q$, $q$blocks: an Acme member sees 1 row(s) of i_member's block of i_stranger$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.blocks$q$, $q$rows 0$q$, $q$blocks: an admin of another organization cannot see i_member's block of i_stranger$q$),
  ($q$i_admin$q$, $q$select 1 from public.blocks$q$, $q$rows 0$q$, $q$blocks: an Acme admin cannot see i_member's block of i_stranger$q$),
  ($q$service_role$q$, $q$select 1 from public.blocks$q$, $q$rows 1$q$, $q$blocks: service_role sees 1 row(s) of i_member's block of i_stranger$q$),
  ($q$anon$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$blocks: anon is refused (42501) on insert of i_member's block of i_stranger$q$),
  ($q$i_stranger$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$blocks: a stranger is refused (42501) on insert of i_member's block of i_stranger$q$),
  ($q$i_member$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme member is refused (42501) on insert of i_member's block of i_stranger$q$),
  ($q$i_other_admin$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$blocks: an admin of another organization is refused (42501) on insert of i_member's block of i_stranger$q$),
  ($q$i_admin$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme admin is refused (42501) on insert of i_member's block of i_stranger$q$),
  ($q$service_role$q$, $q$insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_stranger'), tests.user_id('i_member')) returning 1$q$, $q$rows 1$q$, $q$blocks: service_role can insert i_member's block of i_stranger$q$),
  ($q$anon$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$error 42501$q$, $q$blocks: anon is refused (42501) on update of i_member's block of i_stranger$q$),
  ($q$i_stranger$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$error 42501$q$, $q$blocks: a stranger is refused (42501) on update of i_member's block of i_stranger$q$),
  ($q$i_member$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme member is refused (42501) on update of i_member's block of i_stranger$q$),
  ($q$i_other_admin$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$error 42501$q$, $q$blocks: an admin of another organization is refused (42501) on update of i_member's block of i_stranger$q$),
  ($q$i_admin$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme admin is refused (42501) on update of i_member's block of i_stranger$q$),
  ($q$service_role$q$, $q$update public.blocks set created_at = now() returning 1$q$, $q$rows 1$q$, $q$blocks: service_role can update i_member's block of i_stranger$q$),
  ($q$anon$q$, $q$delete from public.blocks returning 1$q$, $q$error 42501$q$, $q$blocks: anon is refused (42501) on delete of i_member's block of i_stranger$q$),
  ($q$i_stranger$q$, $q$delete from public.blocks returning 1$q$, $q$error 42501$q$, $q$blocks: a stranger is refused (42501) on delete of i_member's block of i_stranger$q$),
  ($q$i_member$q$, $q$delete from public.blocks returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme member is refused (42501) on delete of i_member's block of i_stranger$q$),
  ($q$i_other_admin$q$, $q$delete from public.blocks returning 1$q$, $q$error 42501$q$, $q$blocks: an admin of another organization is refused (42501) on delete of i_member's block of i_stranger$q$),
  ($q$i_admin$q$, $q$delete from public.blocks returning 1$q$, $q$error 42501$q$, $q$blocks: an Acme admin is refused (42501) on delete of i_member's block of i_stranger$q$),
  ($q$service_role$q$, $q$delete from public.blocks returning 1$q$, $q$rows 1$q$, $q$blocks: service_role can delete i_member's block of i_stranger$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
