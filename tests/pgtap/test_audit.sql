-- pgTAP: the audit trail (issue 5; seed 002 "audit logging", "admin override").
--   * who reads public.audit_log and who may write it: every operation as
--     anon, a stranger, an Acme member, an admin of another organization, an
--     Acme admin and service_role (each try rolled back, see
--     _identity_fixture.sql), and as the table owner;
--   * every audited table leaves the entry it should, with actor, role, IP
--     and user agent, and no secrets;
--   * verify finds an owner's direct edit, a removed entry and a removed tail;
--   * audit_staff_read leaves one trace per staff user per conversation per
--     10 minutes, none for members.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select no_plan();

-- The newest entry of a chain, read as the owner.
create or replace function tests.last_audit(chain_name text)
returns public.audit_log
language sql
as $$ select * from public.audit_log where chain = chain_name order by id desc limit 1 $$;

create or replace function tests.acme_chain() returns text language sql
as $$ select 'organization:0a000000-0000-4000-8000-000000000001' $$;

-- An Acme support conversation of i_member, a group, and messages (fixture set-up as the owner).
insert into public.conversations (id, organization_id, kind, subject_user_id, support_status) values
  ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'support',
   tests.user_id('i_member'), 'open');
insert into public.conversations (id, organization_id, kind, title) values
  ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 'group', 'Tutors');
insert into public.conversation_members (conversation_id, user_id, role) values
  ('0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'member'),
  ('0c000000-0000-4000-8000-000000000002', tests.user_id('i_owner'), 'owner');
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'I need help');

-- 1. Who reads and writes audit_log.
select is(tests.probe(actor, statement), expected, description)
from (values
  ('anon', 'select 1 from public.audit_log', 'error 42501', 'audit_log: anon is refused (42501) on select'),
  ('i_stranger', 'select 1 from public.audit_log', 'rows 0', 'audit_log: a stranger sees no entry'),
  ('i_member', $q$select 1 from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000001'$q$,
   'rows 0', 'audit_log: an Acme member (no chat.audit_read) sees no Acme entry'),
  ('i_member', $q$select 1 from public.audit_log where subject_user_id = tests.user_id('i_member')$q$,
   'rows 0', 'audit_log: a member does not see the user-level entries of their own blocks'),
  ('i_other_admin', $q$select 1 from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000001'$q$,
   'rows 0', 'audit_log: an admin of another organization sees no Acme entry'),
  ('i_admin', $q$select 1 from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000001'$q$,
   'rows ' || (select count(*) from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000001'),
   'audit_log: an Acme admin (chat.audit_read) sees every Acme entry'),
  ('i_admin', $q$select 1 from public.audit_log where organization_id is distinct from '0a000000-0000-4000-8000-000000000001'$q$,
   'rows 0', 'audit_log: an Acme admin sees no other organization''s, user-level or global entry'),
  ('service_role', 'select 1 from public.audit_log',
   'rows ' || (select count(*) from public.audit_log), 'audit_log: service_role sees every entry')
) as matrix (actor, statement, expected, description);

select is(tests.probe(actor, statement), 'error 42501', actor || ' cannot ' || operation || ' audit_log (42501)')
from (values ('anon'), ('i_stranger'), ('i_member'), ('i_other_admin'), ('i_admin'), ('service_role')) as actors (actor),
     (values
       ('insert', $q$insert into public.audit_log (chain, chain_seq, organization_id, actor_role, action, table_name, hash)
                   values ('organization:0a000000-0000-4000-8000-000000000001', 999, '0a000000-0000-4000-8000-000000000001',
                           'authenticated', 'fake.entry', 'public.organizations', sha256('x')) returning 1$q$),
       ('update', $q$update public.audit_log set action = 'fake.edit' returning 1$q$),
       ('delete', $q$delete from public.audit_log returning 1$q$)
     ) as operations (operation, statement);

select throws_ok($$update public.audit_log set action = 'fake.edit'$$, '42501',
  'The audit log is append-only (UPDATE refused).', 'the table owner cannot update an audit entry either');
select throws_ok($$delete from public.audit_log$$, '42501',
  'The audit log is append-only (DELETE refused).', 'the table owner cannot delete an audit entry either');
select ok(not has_table_privilege(role, 'public.audit_log', privilege),
          role || ' holds no ' || privilege || ' privilege on audit_log')
from unnest(array['anon', 'authenticated', 'service_role']) as role,
     unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as privilege;

-- 2. Every audited change leaves its entry, with who, how and from where.
select tests.authenticate_as('i_owner');
select public.set_member_role('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'guest');
select tests.clear_authentication();
select is((e.action, e.actor_id, e.actor_role, host(e.ip), e.user_agent, e.table_name, e.object_id, e.old_values, e.new_values),
          ('organization_member.role_change'::text, tests.user_id('i_owner'), 'authenticated'::text, '203.0.113.7'::text, 'pgtap'::text,
           'public.organization_members'::text, tests.user_id('i_member')::text, '{"role": "member"}'::jsonb, '{"role": "guest"}'::jsonb),
          'a role change records action, actor, role, IP, user agent, object and old/new role')
from tests.last_audit(tests.acme_chain()) as e;

select tests.authenticate_as('i_owner');
select public.set_role_permission('0a000000-0000-4000-8000-000000000001', 'guest', 'chat.create_group', true);
select tests.clear_authentication();
select is((e.action, e.object_id, e.new_values ->> 'granted'),
          ('organization_permission.create'::text, 'guest/chat.create_group'::text, 'true'::text),
          'a permission override records organization_permission.create')
from tests.last_audit(tests.acme_chain()) as e;

insert into public.role_permissions (role, permission) values ('guest', 'chat.initiate_call');
select is((e.action, e.organization_id, e.subject_user_id, e.object_id),
          ('role_permission.create'::text, null::uuid, null::uuid, 'guest/chat.initiate_call'::text),
          'a change of the default permission map goes to the global chain')
from tests.last_audit('global') as e;

select tests.authenticate_as_service_role();
update public.organizations set plan_id = 'chat_lite' where id = '0a000000-0000-4000-8000-000000000001';
select tests.clear_authentication();
select is((e.action, e.actor_id, e.actor_role, e.old_values, e.new_values),
          ('organization.plan_change'::text, null::uuid, 'service_role'::text, '{"plan_id": "chat"}'::jsonb, '{"plan_id": "chat_lite"}'::jsonb),
          'a plan change by billing (service_role) records organization.plan_change with the acting role')
from tests.last_audit(tests.acme_chain()) as e;

select tests.authenticate_as('i_admin');
update public.organizations set name = 'Acme Tutoring' where id = '0a000000-0000-4000-8000-000000000001';
update public.organization_settings set max_message_length = 2000 where organization_id = '0a000000-0000-4000-8000-000000000001';
select tests.clear_authentication();
select results_eq(
  $$select action, new_values from public.audit_log where chain = tests.acme_chain() order by id desc limit 2$$,
  $$values ('organization_settings.update', '{"max_message_length": 2000}'::jsonb),
           ('organization.update', '{"name": "Acme Tutoring"}'::jsonb)$$,
  'renaming the organization and changing its settings record the changed columns only');

select tests.authenticate_as('i_admin');
select public.create_invitation('0a000000-0000-4000-8000-000000000001', 'member');
select tests.clear_authentication();
select is((e.action, e.new_values ? 'token_hash', e.new_values ->> 'role'), ('organization_invitation.create'::text, false, 'member'::text),
          'an invitation records organization_invitation.create without the token hash')
from tests.last_audit(tests.acme_chain()) as e;
select is_empty($$select id from public.audit_log where old_values ? 'token_hash' or new_values ? 'token_hash'$$,
                'no audit entry holds an invitation token hash');

update public.conversations set support_assignee_id = tests.user_id('i_admin')
where id = '0c000000-0000-4000-8000-000000000001';
update public.conversations set support_status = 'resolved' where id = '0c000000-0000-4000-8000-000000000001';
update public.conversations set slow_mode_seconds = 30 where id = '0c000000-0000-4000-8000-000000000002';
select results_eq(
  $$select action, new_values from public.audit_log where chain = tests.acme_chain() order by id desc limit 3$$,
  $$values ('conversation.update', '{"slow_mode_seconds": 30}'::jsonb),
           ('conversation.support_status', '{"support_status": "resolved"}'::jsonb),
           ('conversation.support_assign', jsonb_build_object('support_assignee_id', tests.user_id('i_admin')))$$,
  'support assignment, support status and group settings changes are recorded');

insert into public.conversation_members (conversation_id, user_id, role)
values ('0c000000-0000-4000-8000-000000000002', tests.user_id('i_admin'), 'member');
update public.conversation_members set role = 'admin'
where conversation_id = '0c000000-0000-4000-8000-000000000002' and user_id = tests.user_id('i_admin');
update public.conversation_members set visible_from_message_id = 1
where conversation_id = '0c000000-0000-4000-8000-000000000002' and user_id = tests.user_id('i_admin');
delete from public.conversation_members
where conversation_id = '0c000000-0000-4000-8000-000000000002' and user_id = tests.user_id('i_admin');
select results_eq(
  $$select action, object_id from public.audit_log where chain = tests.acme_chain() order by id desc limit 3$$,
  $$values ('conversation_member.remove', '0c000000-0000-4000-8000-000000000002/' || tests.user_id('i_admin')),
           ('conversation_member.role_change', '0c000000-0000-4000-8000-000000000002/' || tests.user_id('i_admin')),
           ('conversation_member.add', '0c000000-0000-4000-8000-000000000002/' || tests.user_id('i_admin'))$$,
  'conversation membership: add, role change and removal are recorded; a visibility change is not');

update public.messages set body = 'I need help, please', edited_at = now()
where conversation_id = '0c000000-0000-4000-8000-000000000001';
select is((e.action, e.actor_id, e.old_values ->> 'body', e.new_values ->> 'body'),
          ('message.edit'::text, null::uuid, 'I need help'::text, 'I need help, please'::text),
          'an edit records the old and new body (made here by the database owner: no user, so no actor)')
from tests.last_audit(tests.acme_chain()) as e;
update public.messages set pinned_at = now() where conversation_id = '0c000000-0000-4000-8000-000000000001';
select is(e.action, 'message.pin', 'a pin is recorded (issue 12: the customer sees no pinner when staff pin)')
from tests.last_audit(tests.acme_chain()) as e;
update public.messages set body = null, deleted_at = now(), deleted_by = tests.user_id('i_admin')
where conversation_id = '0c000000-0000-4000-8000-000000000001';
select is((e.action, e.old_values ->> 'body', e.new_values ->> 'body', e.new_values ->> 'conversation_id'),
          ('message.delete'::text, 'I need help, please'::text, null::text, '0c000000-0000-4000-8000-000000000001'::text),
          'a deletion records message.delete with the body that was removed; pinning records nothing')
from tests.last_audit(tests.acme_chain()) as e;

with sent as (
  insert into public.messages (conversation_id, sender_kind, persona_id, body)
  values ('0c000000-0000-4000-8000-000000000001', 'persona', '0b000000-0000-4000-8000-000000000001', 'We are on it')
  returning id
)
insert into parley_internal.message_senders (message_id, sender_id, persona_id)
select id, tests.user_id('i_admin'), '0b000000-0000-4000-8000-000000000001' from sent;
select is((e.action, e.persona_id, e.new_values ->> 'sender_id', e.new_values ->> 'conversation_id'),
          ('message.send_as_persona'::text, '0b000000-0000-4000-8000-000000000001'::uuid, tests.user_id('i_admin')::text,
           '0c000000-0000-4000-8000-000000000001'::text),
          'a persona message records the persona and the real staff user')
from tests.last_audit(tests.acme_chain()) as e;
with sent as (
  insert into public.messages (conversation_id, sender_kind, kind, body)
  values ('0c000000-0000-4000-8000-000000000001', 'system', 'notice', 'Maintenance tonight') returning id
)
insert into parley_internal.message_senders (message_id, sender_id) select id, tests.user_id('i_owner') from sent;
select is((e.action, e.persona_id, e.new_values ->> 'sender_id', e.new_values ->> 'kind'),
          ('message.send_notice'::text, null::uuid, tests.user_id('i_owner')::text, 'notice'::text),
          'a staff notice records the real staff user')
from tests.last_audit(tests.acme_chain()) as e;

select tests.authenticate_as('i_admin');
update public.personas set display_name = 'Help Desk' where id = '0b000000-0000-4000-8000-000000000001';
select tests.clear_authentication();
select is((e.action, e.new_values), ('persona.update'::text, '{"display_name": "Help Desk"}'::jsonb),
          'a persona change is recorded')
from tests.last_audit(tests.acme_chain()) as e;

select tests.authenticate_as('i_member');
update public.privacy_settings set who_can_message = 'connections' where user_id = tests.user_id('i_member');
select public.block_user(tests.user_id('i_owner'));
select public.unblock_user(tests.user_id('i_owner'));
select tests.clear_authentication();
select results_eq(
  format($$select action, organization_id, subject_user_id, object_id from public.audit_log
           where chain = 'user:%s' order by id desc limit 3$$, tests.user_id('i_member')),
  format($$values ('block.delete', null::uuid, '%1$s'::uuid, '%2$s'), ('block.create', null::uuid, '%1$s'::uuid, '%2$s'),
                  ('privacy_settings.update', null::uuid, '%1$s'::uuid, '%1$s')$$,
         tests.user_id('i_member'), tests.user_id('i_owner')),
  'privacy changes and blocks go to the user''s own chain');

select is((parley_internal.audit_pending_head(tests.acme_chain()) ->> 'seq')::bigint,
          (select count(*) from public.audit_log where chain = tests.acme_chain()),
          'the transaction''s head of the Acme chain counts every Acme entry');
select is((select last_seq from parley_internal.audit_chain_heads where chain = tests.acme_chain()), 0::bigint,
          'the head row itself moves only at commit (this test never commits)');
create temporary table head_before as
  select (parley_internal.audit_pending_head(tests.acme_chain()) ->> 'seq')::bigint as last_seq;
update public.organization_settings set max_message_length = max_message_length
where organization_id = '0a000000-0000-4000-8000-000000000001';
select is((parley_internal.audit_pending_head(tests.acme_chain()) ->> 'seq')::bigint,
          (select last_seq from head_before),
          'an update that changes nothing but updated_at leaves no entry');

-- Deleting an organization: one organization.delete entry, nothing for the rows its deletion cascades to.
select ok((select count(*) from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000002') >= 3,
          'the Other organization''s creation and its members left entries');
create temporary table other_before as
  select count(*) as entries from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000002';
delete from public.organizations where id = '0a000000-0000-4000-8000-000000000002';
select is((select count(*) from public.audit_log where organization_id = '0a000000-0000-4000-8000-000000000002'),
          (select entries + 1 from other_before),
          'deleting an organization adds exactly one entry to its chain (its members and settings add none)');
select is((tests.last_audit('organization:0a000000-0000-4000-8000-000000000002')).action, 'organization.delete',
          'the last entry of a deleted organization''s chain is organization.delete');
select ok((select v.ok from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000002') as v),
          'the chain of a deleted organization still verifies: the trail outlives it');

-- 3. Verification: an intact chain passes; every kind of tampering by the table owner is found.
-- The chain heads move at commit (a deferred trigger); ALTER TABLE and TRUNCATE refuse to run while such
-- events are pending, so fire them now, as a commit would.
set constraints all immediate;
select is((select last_seq from parley_internal.audit_chain_heads where chain = tests.acme_chain()),
          (select count(*) from public.audit_log where chain = tests.acme_chain()),
          'at commit the head row holds the newest Acme entry');
select throws_ok($$truncate public.audit_log$$, '42501',
  'The audit log is append-only (TRUNCATE refused).', 'the table owner cannot truncate the audit log either');
select is((select (v.ok, v.broken_entry_id, v.reason) from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          (true, null::bigint, null::text), 'the Acme chain verifies');
select is((select count(*) from public.verify_all_audit_chains() as v where not v.ok), 0::bigint,
          'every chain (organizations, users, global) verifies');

savepoint tamper;
alter table public.audit_log disable trigger audit_log_immutable;
create temporary table edited as
  select id from public.audit_log where chain = tests.acme_chain() and action = 'organization_member.role_change';
update public.audit_log set new_values = '{"role": "owner"}' where id = (select id from edited);
select is((select (v.ok, v.broken_entry_id, v.reason) from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          (false, (select id from edited), 'hash_mismatch'::text),
          'verify reports the entry the owner edited directly (guard trigger disabled) as hash_mismatch');
rollback to savepoint tamper;

savepoint tamper;
set local session_replication_role = replica;
update public.audit_log set actor_id = tests.user_id('i_stranger')
where id = (select min(id) from public.audit_log where chain = tests.acme_chain() and actor_id is not null);
reset session_replication_role;
select is((select v.reason from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          'hash_mismatch', 'an edit made with triggers off (session_replication_role = replica) is found too');
rollback to savepoint tamper;

savepoint tamper;
alter table public.audit_log disable trigger audit_log_immutable;
create temporary table removed as
  select id, chain_seq from public.audit_log where chain = tests.acme_chain() order by chain_seq offset 2 limit 1;
delete from public.audit_log where id = (select id from removed);
select is((select (v.ok, v.reason) from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          (false, 'sequence_gap'::text), 'verify reports a removed entry as sequence_gap');
select is((select v.broken_entry_id from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          (select id from public.audit_log where chain = tests.acme_chain() and chain_seq = (select chain_seq + 1 from removed)),
          '... at the entry that followed it');
rollback to savepoint tamper;

savepoint tamper;
alter table public.audit_log disable trigger audit_log_immutable;
delete from public.audit_log where id = (select max(id) from public.audit_log where chain = tests.acme_chain());
select is((select (v.ok, v.reason) from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          (false, 'head_mismatch'::text), 'verify reports a removed newest entry as head_mismatch');
rollback to savepoint tamper;

savepoint tamper;
alter table public.audit_log disable trigger audit_log_immutable;
update public.audit_log set hash = sha256('forged'::bytea)
where id = (select max(id) from public.audit_log where chain = tests.acme_chain());
select is((select v.reason from parley_internal.verify_audit_chain('0a000000-0000-4000-8000-000000000001') as v),
          'hash_mismatch', 'a replaced hash is found');
rollback to savepoint tamper;

-- Who may call verify_audit_log.
select is(tests.probe(actor, $q$select * from public.verify_audit_log('0a000000-0000-4000-8000-000000000001')$q$), expected,
          'verify_audit_log: ' || description)
from (values
  ('anon', 'error 42501', 'anon is refused'),
  ('i_stranger', 'error PT404', 'a stranger is told the organization does not exist'),
  ('i_member', 'error 42501', 'a member without chat.audit_read is refused'),
  ('i_other_admin', 'error PT404', 'an admin of another organization is told it does not exist'),
  ('i_admin', 'rows 1', 'an admin (chat.audit_read) gets the result'),
  ('service_role', 'rows 1', 'service_role gets the result')
) as cases (actor, expected, description);
select is(tests.probe(actor, 'select * from public.verify_all_audit_chains()'), expected,
          'verify_all_audit_chains: ' || actor)
from (values ('anon', 'error 42501'), ('i_admin', 'error 42501'),
             ('service_role', 'rows ' || (select count(*) from parley_internal.audit_chain_heads))) as cases (actor, expected);

-- 4. Staff reads outside membership ("admin override").
create temporary table staff_reads as select 0 as step, false as written limit 0;
grant insert on staff_reads to authenticated;
-- audit_staff_read is internal (get_messages and get_pinned_messages call it); called directly here.
grant execute on function parley_internal.audit_staff_read(uuid) to authenticated;
select tests.authenticate_as('i_admin');
insert into staff_reads select 1, parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001');
insert into staff_reads select 2, parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001');
select tests.authenticate_as('i_member');
insert into staff_reads select 3, parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001');
select tests.authenticate_as('i_other_admin');
insert into staff_reads select 4, parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001');
select tests.clear_authentication();
select results_eq('select written from staff_reads order by step', array[true, false, false, false],
  'a support agent reading a support conversation they are not in is traced once; the member and an outsider are not');
select is((e.action, e.actor_id, e.object_id, e.new_values ->> 'permission'),
          ('conversation.staff_read'::text, tests.user_id('i_admin'), '0c000000-0000-4000-8000-000000000001'::text, 'chat.support_agent'::text),
          'the trace names the staff user, the conversation and the permission used')
from tests.last_audit(tests.acme_chain()) as e;
update parley_internal.audit_staff_reads set recorded_at = now() - interval '11 minutes';
select tests.authenticate_as('i_admin');
select ok(parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001'),
          'after 10 minutes the same staff user is traced again');
select tests.clear_authentication();
update parley_internal.audit_staff_reads set recorded_at = now() - interval '11 minutes';
savepoint readonly;
select tests.authenticate_as('i_admin');
set local transaction_read_only = on;
select throws_ok($$select parley_internal.audit_staff_read('0c000000-0000-4000-8000-000000000001')$$, '25006',
  'Reading a conversation you are not a member of is audited, which needs a read-write request.',
  'in a read-only request (GET) a staff read that needs a trace is refused instead of going untraced');
rollback to savepoint readonly;
select tests.clear_authentication();

select ok((select bool_and(v.ok) from public.verify_all_audit_chains() as v), 'all chains still verify at the end');

select * from finish();
rollback;
