-- pgTAP: row level security of public.message_reports and
-- public.moderation_restrictions (issue 18), and the moderation checks the
-- send and join paths call. Every operation is tried as anon, a stranger, an
-- Acme member without chat.moderate, an admin of another organization, an
-- Acme admin (chat.moderate by default) and service_role; each try is rolled
-- back. Clients only read these tables (reports, bans and mutes go through
-- the RPCs), so every client write is refused by the grants (42501).
-- Generated matrix; the expectations are the design in docs/moderation.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(57);

-- In this file members do not hold chat.moderate (the identity fixture grants it to Acme members).
delete from public.organization_role_permissions
where organization_id = '0a000000-0000-4000-8000-000000000001' and role = 'member' and permission = 'chat.moderate';
insert into public.message_reports (organization_id, conversation_id, message_id, reporter_id, reported_user_id,
                                    reason, evidence)
select '0a000000-0000-4000-8000-000000000001', m.conversation_id, m.id, tests.user_id('i_member'), m.sender_id,
       'spam', jsonb_build_object('body', m.body)
from public.messages m where m.conversation_id = '0c000000-0000-4000-8000-000000000001';
insert into public.moderation_restrictions (organization_id, user_id, kind, created_by) values
  ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'ban', tests.user_id('i_admin'));

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.message_reports$q$, $q$error 42501$q$, $q$message_reports: anon is refused (42501) on select of i_member's report of the group message$q$),
  ($q$i_stranger$q$, $q$select 1 from public.message_reports$q$, $q$rows 0$q$, $q$message_reports: a stranger gets rows 0 on select of i_member's report of the group message$q$),
  ($q$i_member$q$, $q$select 1 from public.message_reports$q$, $q$rows 0$q$, $q$message_reports: an Acme member without chat.moderate gets rows 0 on select of i_member's report of the group message$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.message_reports$q$, $q$rows 0$q$, $q$message_reports: an admin of another organization gets rows 0 on select of i_member's report of the group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.message_reports$q$, $q$rows 1$q$, $q$message_reports: an Acme admin (chat.moderate) gets rows 1 on select of i_member's report of the group message$q$),
  ($q$service_role$q$, $q$select 1 from public.message_reports$q$, $q$rows 1$q$, $q$message_reports: service_role gets rows 1 on select of i_member's report of the group message$q$),
  ($q$anon$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$message_reports: anon is refused (42501) on insert of i_member's report of the group message$q$),
  ($q$i_stranger$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$message_reports: a stranger is refused (42501) on insert of i_member's report of the group message$q$),
  ($q$i_member$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme member without chat.moderate is refused (42501) on insert of i_member's report of the group message$q$),
  ($q$i_other_admin$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$message_reports: an admin of another organization is refused (42501) on insert of i_member's report of the group message$q$),
  ($q$i_admin$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme admin (chat.moderate) is refused (42501) on insert of i_member's report of the group message$q$),
  ($q$service_role$q$, $q$insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) select '0a000000-0000-4000-8000-000000000001', id, tests.user_id('i_owner'), 'spam', '{}' from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$rows 1$q$, $q$message_reports: service_role gets rows 1 on insert of i_member's report of the group message$q$),
  ($q$anon$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$error 42501$q$, $q$message_reports: anon is refused (42501) on update of i_member's report of the group message$q$),
  ($q$i_stranger$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$error 42501$q$, $q$message_reports: a stranger is refused (42501) on update of i_member's report of the group message$q$),
  ($q$i_member$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme member without chat.moderate is refused (42501) on update of i_member's report of the group message$q$),
  ($q$i_other_admin$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$error 42501$q$, $q$message_reports: an admin of another organization is refused (42501) on update of i_member's report of the group message$q$),
  ($q$i_admin$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme admin (chat.moderate) is refused (42501) on update of i_member's report of the group message$q$),
  ($q$service_role$q$, $q$update public.message_reports set status = 'dismissed', resolved_at = now() returning 1$q$, $q$rows 1$q$, $q$message_reports: service_role gets rows 1 on update of i_member's report of the group message$q$),
  ($q$anon$q$, $q$delete from public.message_reports returning 1$q$, $q$error 42501$q$, $q$message_reports: anon is refused (42501) on delete of i_member's report of the group message$q$),
  ($q$i_stranger$q$, $q$delete from public.message_reports returning 1$q$, $q$error 42501$q$, $q$message_reports: a stranger is refused (42501) on delete of i_member's report of the group message$q$),
  ($q$i_member$q$, $q$delete from public.message_reports returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme member without chat.moderate is refused (42501) on delete of i_member's report of the group message$q$),
  ($q$i_other_admin$q$, $q$delete from public.message_reports returning 1$q$, $q$error 42501$q$, $q$message_reports: an admin of another organization is refused (42501) on delete of i_member's report of the group message$q$),
  ($q$i_admin$q$, $q$delete from public.message_reports returning 1$q$, $q$error 42501$q$, $q$message_reports: an Acme admin (chat.moderate) is refused (42501) on delete of i_member's report of the group message$q$),
  ($q$service_role$q$, $q$delete from public.message_reports returning 1$q$, $q$rows 1$q$, $q$message_reports: service_role gets rows 1 on delete of i_member's report of the group message$q$),
  ($q$anon$q$, $q$select 1 from public.moderation_restrictions$q$, $q$error 42501$q$, $q$moderation_restrictions: anon is refused (42501) on select of the ban of i_member$q$),
  ($q$i_stranger$q$, $q$select 1 from public.moderation_restrictions$q$, $q$rows 0$q$, $q$moderation_restrictions: a stranger gets rows 0 on select of the ban of i_member$q$),
  ($q$i_member$q$, $q$select 1 from public.moderation_restrictions$q$, $q$rows 0$q$, $q$moderation_restrictions: an Acme member without chat.moderate gets rows 0 on select of the ban of i_member$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.moderation_restrictions$q$, $q$rows 0$q$, $q$moderation_restrictions: an admin of another organization gets rows 0 on select of the ban of i_member$q$),
  ($q$i_admin$q$, $q$select 1 from public.moderation_restrictions$q$, $q$rows 1$q$, $q$moderation_restrictions: an Acme admin (chat.moderate) gets rows 1 on select of the ban of i_member$q$),
  ($q$service_role$q$, $q$select 1 from public.moderation_restrictions$q$, $q$rows 1$q$, $q$moderation_restrictions: service_role gets rows 1 on select of the ban of i_member$q$),
  ($q$anon$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: anon is refused (42501) on insert of the ban of i_member$q$),
  ($q$i_stranger$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: a stranger is refused (42501) on insert of the ban of i_member$q$),
  ($q$i_member$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme member without chat.moderate is refused (42501) on insert of the ban of i_member$q$),
  ($q$i_other_admin$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an admin of another organization is refused (42501) on insert of the ban of i_member$q$),
  ($q$i_admin$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme admin (chat.moderate) is refused (42501) on insert of the ban of i_member$q$),
  ($q$service_role$q$, $q$insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) values ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'mute', now() + interval '1 hour') returning 1$q$, $q$rows 1$q$, $q$moderation_restrictions: service_role gets rows 1 on insert of the ban of i_member$q$),
  ($q$anon$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: anon is refused (42501) on update of the ban of i_member$q$),
  ($q$i_stranger$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: a stranger is refused (42501) on update of the ban of i_member$q$),
  ($q$i_member$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme member without chat.moderate is refused (42501) on update of the ban of i_member$q$),
  ($q$i_other_admin$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an admin of another organization is refused (42501) on update of the ban of i_member$q$),
  ($q$i_admin$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme admin (chat.moderate) is refused (42501) on update of the ban of i_member$q$),
  ($q$service_role$q$, $q$update public.moderation_restrictions set lifted_at = now() returning 1$q$, $q$rows 1$q$, $q$moderation_restrictions: service_role gets rows 1 on update of the ban of i_member$q$),
  ($q$anon$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: anon is refused (42501) on delete of the ban of i_member$q$),
  ($q$i_stranger$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: a stranger is refused (42501) on delete of the ban of i_member$q$),
  ($q$i_member$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme member without chat.moderate is refused (42501) on delete of the ban of i_member$q$),
  ($q$i_other_admin$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an admin of another organization is refused (42501) on delete of the ban of i_member$q$),
  ($q$i_admin$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$error 42501$q$, $q$moderation_restrictions: an Acme admin (chat.moderate) is refused (42501) on delete of the ban of i_member$q$),
  ($q$service_role$q$, $q$delete from public.moderation_restrictions returning 1$q$, $q$rows 1$q$, $q$moderation_restrictions: service_role gets rows 1 on delete of the ban of i_member$q$)
) as matrix (actor, statement, expected, description);

-- The send path's check: the banned member is refused, the owner is not.
select throws_ok(
  $$select parley_internal.assert_not_restricted('0a000000-0000-4000-8000-000000000001',
      '0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'))$$,
  '42501', null, 'assert_not_restricted: an organization ban refuses the sender (42501 banned)');
select lives_ok(
  $$select parley_internal.assert_not_restricted('0a000000-0000-4000-8000-000000000001',
      '0c000000-0000-4000-8000-000000000001', tests.user_id('i_owner'))$$,
  'assert_not_restricted: a sender without restrictions passes');
-- An expired ban no longer counts.
update public.moderation_restrictions set created_at = now() - interval '2 days', expires_at = now() - interval '1 day';
select lives_ok(
  $$select parley_internal.assert_not_restricted('0a000000-0000-4000-8000-000000000001',
      '0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'))$$,
  'assert_not_restricted: an expired ban no longer refuses');
-- A conversation ban keeps the user out of that group only.
insert into public.moderation_restrictions (organization_id, conversation_id, user_id, kind) values
  ('0a000000-0000-4000-8000-000000000001', '0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'ban');
select throws_ok(
  $$select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'),
      'member', null)$$,
  '42501', null, 'add_conversation_member: a user banned from the group is not added back');
select lives_ok(
  $$select parley_internal.assert_not_restricted('0a000000-0000-4000-8000-000000000001',
      '0c000000-0000-4000-8000-000000000002', tests.user_id('i_admin'))$$,
  'assert_not_restricted: a group ban does not reach another conversation');
-- Lifted, the group ban lets the user be added again.
update public.moderation_restrictions set lifted_at = now() where conversation_id is not null;
select lives_ok(
  $$select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000001', tests.user_id('i_admin'),
      'member', null)$$,
  'add_conversation_member: once the ban is lifted the user can be added');
-- Every change is audited on the organization's chain, and the chain verifies.
select is(
  (select count(*)::int from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000001'
     and action in ('message_report.create', 'moderation.ban', 'moderation.ban_update', 'moderation.lift')),
  5, 'audit: the report, two bans, the expiry change and the lift are logged');
select is(
  (select new_values ? 'evidence' from public.audit_log where action = 'message_report.create' limit 1),
  false, 'audit: the report''s evidence (message content) is not copied into the log');
select ok((select ok from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001')),
  'audit: the organization''s chain verifies after the moderation entries');

select * from finish();
rollback;
