-- pgTAP: row level security of public.profiles, public.privacy_settings (issue 3).
-- Every operation (select, insert, update, delete) is tried as anon, a
-- stranger, an Acme member, an admin of another organization, an Acme admin
-- and service_role; each try is rolled back (see _identity_fixture.sql).
-- Generated matrix; the expectations are the design in docs/identity.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select plan(48);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$error 42501$q$, $q$profiles: anon is refused (42501) on select of i_member's profile$q$),
  ($q$i_stranger$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$profiles: a stranger cannot see i_member's profile$q$),
  ($q$i_member$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$profiles: an Acme member sees 1 row(s) of i_member's profile$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$profiles: an admin of another organization cannot see i_member's profile$q$),
  ($q$i_admin$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$profiles: an Acme admin sees 1 row(s) of i_member's profile$q$),
  ($q$service_role$q$, $q$select 1 from public.profiles where id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$profiles: service_role sees 1 row(s) of i_member's profile$q$),
  ($q$anon$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$error 42501$q$, $q$profiles: anon is refused (42501) on insert of i_member's profile$q$),
  ($q$i_stranger$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$error 42501$q$, $q$profiles: a stranger is refused (42501) on insert of i_member's profile$q$),
  ($q$i_member$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$error 42501$q$, $q$profiles: an Acme member is refused (42501) on insert of i_member's profile$q$),
  ($q$i_other_admin$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$error 42501$q$, $q$profiles: an admin of another organization is refused (42501) on insert of i_member's profile$q$),
  ($q$i_admin$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$error 42501$q$, $q$profiles: an Acme admin is refused (42501) on insert of i_member's profile$q$),
  ($q$service_role$q$, $q$insert into public.profiles (id, username, display_name) values (tests.user_id('i_bare'), 'bare_one', 'Bare') returning 1$q$, $q$rows 1$q$, $q$profiles: service_role can insert i_member's profile$q$),
  ($q$anon$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: anon is refused (42501) on update of i_member's profile$q$),
  ($q$i_stranger$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$profiles: a stranger cannot update i_member's profile (0 rows)$q$),
  ($q$i_member$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$profiles: an Acme member can update i_member's profile$q$),
  ($q$i_other_admin$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$profiles: an admin of another organization cannot update i_member's profile (0 rows)$q$),
  ($q$i_admin$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$profiles: an Acme admin cannot update i_member's profile (0 rows)$q$),
  ($q$service_role$q$, $q$update public.profiles set display_name = 'Changed' where id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$profiles: service_role can update i_member's profile$q$),
  ($q$anon$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: anon is refused (42501) on delete of i_member's profile$q$),
  ($q$i_stranger$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: a stranger is refused (42501) on delete of i_member's profile$q$),
  ($q$i_member$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: an Acme member is refused (42501) on delete of i_member's profile$q$),
  ($q$i_other_admin$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: an admin of another organization is refused (42501) on delete of i_member's profile$q$),
  ($q$i_admin$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$profiles: an Acme admin is refused (42501) on delete of i_member's profile$q$),
  ($q$service_role$q$, $q$delete from public.profiles where id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$profiles: service_role can delete i_member's profile$q$),
  ($q$anon$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$error 42501$q$, $q$privacy_settings: anon is refused (42501) on select of i_member's privacy settings$q$),
  ($q$i_stranger$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$privacy_settings: a stranger cannot see i_member's privacy settings$q$),
  ($q$i_member$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$privacy_settings: an Acme member sees 1 row(s) of i_member's privacy settings$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$privacy_settings: an admin of another organization cannot see i_member's privacy settings$q$),
  ($q$i_admin$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$privacy_settings: an Acme admin cannot see i_member's privacy settings$q$),
  ($q$service_role$q$, $q$select 1 from public.privacy_settings where user_id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$privacy_settings: service_role sees 1 row(s) of i_member's privacy settings$q$),
  ($q$anon$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$error 42501$q$, $q$privacy_settings: anon is refused (42501) on insert of i_member's privacy settings$q$),
  ($q$i_stranger$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$error 42501$q$, $q$privacy_settings: a stranger is refused (42501) on insert of i_member's privacy settings$q$),
  ($q$i_member$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an Acme member is refused (42501) on insert of i_member's privacy settings$q$),
  ($q$i_other_admin$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an admin of another organization is refused (42501) on insert of i_member's privacy settings$q$),
  ($q$i_admin$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an Acme admin is refused (42501) on insert of i_member's privacy settings$q$),
  ($q$service_role$q$, $q$insert into public.privacy_settings (user_id) values (tests.user_id('i_bare')) returning 1$q$, $q$rows 1$q$, $q$privacy_settings: service_role can insert i_member's privacy settings$q$),
  ($q$anon$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: anon is refused (42501) on update of i_member's privacy settings$q$),
  ($q$i_stranger$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$privacy_settings: a stranger cannot update i_member's privacy settings (0 rows)$q$),
  ($q$i_member$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$privacy_settings: an Acme member can update i_member's privacy settings$q$),
  ($q$i_other_admin$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$privacy_settings: an admin of another organization cannot update i_member's privacy settings (0 rows)$q$),
  ($q$i_admin$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 0$q$, $q$privacy_settings: an Acme admin cannot update i_member's privacy settings (0 rows)$q$),
  ($q$service_role$q$, $q$update public.privacy_settings set who_can_message = 'nobody' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$privacy_settings: service_role can update i_member's privacy settings$q$),
  ($q$anon$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: anon is refused (42501) on delete of i_member's privacy settings$q$),
  ($q$i_stranger$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: a stranger is refused (42501) on delete of i_member's privacy settings$q$),
  ($q$i_member$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an Acme member is refused (42501) on delete of i_member's privacy settings$q$),
  ($q$i_other_admin$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an admin of another organization is refused (42501) on delete of i_member's privacy settings$q$),
  ($q$i_admin$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$privacy_settings: an Acme admin is refused (42501) on delete of i_member's privacy settings$q$),
  ($q$service_role$q$, $q$delete from public.privacy_settings where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$privacy_settings: service_role can delete i_member's privacy settings$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
