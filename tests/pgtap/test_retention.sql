-- pgTAP: row level security of public.conversation_retention (issue 18)
-- per operation per role, and retention_batch with a controlled clock:
-- expired messages go, a legal hold keeps them. Each try is rolled back.
-- Generated matrix; the expectations are the design in docs/retention.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(31);

insert into public.conversation_retention (conversation_id, organization_id, retention_days)
values ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 30);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.conversation_retention$q$, $q$error 42501$q$, $q$conversation_retention: anon is refused (42501) on select of the group's retention row$q$),
  ($q$i_stranger$q$, $q$select 1 from public.conversation_retention$q$, $q$rows 0$q$, $q$conversation_retention: a stranger gets rows 0 on select of the group's retention row$q$),
  ($q$i_member$q$, $q$select 1 from public.conversation_retention$q$, $q$rows 1$q$, $q$conversation_retention: a member of the group gets rows 1 on select of the group's retention row$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.conversation_retention$q$, $q$rows 0$q$, $q$conversation_retention: an admin of another organization gets rows 0 on select of the group's retention row$q$),
  ($q$i_admin$q$, $q$select 1 from public.conversation_retention$q$, $q$rows 1$q$, $q$conversation_retention: an Acme admin (not in the group) gets rows 1 on select of the group's retention row$q$),
  ($q$service_role$q$, $q$select 1 from public.conversation_retention$q$, $q$rows 1$q$, $q$conversation_retention: service_role gets rows 1 on select of the group's retention row$q$),
  ($q$anon$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$error 42501$q$, $q$conversation_retention: anon is refused (42501) on insert of the group's retention row$q$),
  ($q$i_stranger$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a stranger is refused (42501) on insert of the group's retention row$q$),
  ($q$i_member$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a member of the group is refused (42501) on insert of the group's retention row$q$),
  ($q$i_other_admin$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an admin of another organization is refused (42501) on insert of the group's retention row$q$),
  ($q$i_admin$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an Acme admin (not in the group) is refused (42501) on insert of the group's retention row$q$),
  ($q$service_role$q$, $q$insert into public.conversation_retention (conversation_id, organization_id, retention_days) values ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 7) returning 1$q$, $q$rows 1$q$, $q$conversation_retention: service_role gets rows 1 on insert of the group's retention row$q$),
  ($q$anon$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$error 42501$q$, $q$conversation_retention: anon is refused (42501) on update of the group's retention row$q$),
  ($q$i_stranger$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a stranger is refused (42501) on update of the group's retention row$q$),
  ($q$i_member$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a member of the group is refused (42501) on update of the group's retention row$q$),
  ($q$i_other_admin$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an admin of another organization is refused (42501) on update of the group's retention row$q$),
  ($q$i_admin$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an Acme admin (not in the group) is refused (42501) on update of the group's retention row$q$),
  ($q$service_role$q$, $q$update public.conversation_retention set retention_days = 7 returning 1$q$, $q$rows 1$q$, $q$conversation_retention: service_role gets rows 1 on update of the group's retention row$q$),
  ($q$anon$q$, $q$delete from public.conversation_retention returning 1$q$, $q$error 42501$q$, $q$conversation_retention: anon is refused (42501) on delete of the group's retention row$q$),
  ($q$i_stranger$q$, $q$delete from public.conversation_retention returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a stranger is refused (42501) on delete of the group's retention row$q$),
  ($q$i_member$q$, $q$delete from public.conversation_retention returning 1$q$, $q$error 42501$q$, $q$conversation_retention: a member of the group is refused (42501) on delete of the group's retention row$q$),
  ($q$i_other_admin$q$, $q$delete from public.conversation_retention returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an admin of another organization is refused (42501) on delete of the group's retention row$q$),
  ($q$i_admin$q$, $q$delete from public.conversation_retention returning 1$q$, $q$error 42501$q$, $q$conversation_retention: an Acme admin (not in the group) is refused (42501) on delete of the group's retention row$q$),
  ($q$service_role$q$, $q$delete from public.conversation_retention returning 1$q$, $q$rows 1$q$, $q$conversation_retention: service_role gets rows 1 on delete of the group's retention row$q$)
) as matrix (actor, statement, expected, description);

-- The clock: the group's message is dated 2031-01-01; the job runs at 2031-03-01 (30-day period).
update public.messages set created_at = '2031-01-01T00:00:00Z'
where conversation_id = '0c000000-0000-4000-8000-000000000001';
update public.conversation_retention set legal_hold_at = now(), legal_hold_reason = 'case 1'
where conversation_id = '0c000000-0000-4000-8000-000000000001';
select is(parley_internal.retention_batch('2031-03-01T00:00:00Z', 100), 0, 'retention_batch: a legal hold keeps everything');
update public.conversation_retention set legal_hold_at = null, legal_hold_reason = null
where conversation_id = '0c000000-0000-4000-8000-000000000001';
select is(parley_internal.retention_batch('2031-01-15T00:00:00Z', 100), 0, 'retention_batch: nothing expired at day 14');
select is(parley_internal.retention_batch('2031-03-01T00:00:00Z', 100), 1, 'retention_batch: the expired message goes at day 59');
select is((select count(*)::int from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'), 0,
  'retention_batch: the group has no message left');
select is((select count(*)::int from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000002'), 1,
  'retention_batch: the support conversation (no period) keeps its message');
select ok((select ok from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001')),
  'audit: the chain verifies with the retention entries');
select throws_ok($$select parley_internal.retention_batch(null, 10)$$, 'P0001', null,
  'retention_batch: a null clock is refused');

select * from finish();
rollback;
