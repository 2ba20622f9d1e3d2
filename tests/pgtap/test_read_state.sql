-- pgTAP: read state (issue 4). Row level security of public.inbox_entries
-- for every operation, and the read state RPCs, tried as anon, a stranger,
-- a member of the conversation, an admin of another organization, an Acme
-- admin who is not a member, and service_role; each try is rolled back (see
-- _identity_fixture.sql). Generated matrix; the expectations are the design
-- in docs/read-state.md (inbox entries are private to their member; the RPCs
-- answer non-members PT404 and are granted to authenticated only).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql

-- Conversation fixture (as the database owner, rolled back with the file):
-- C = Acme group with i_member and i_owner (i_owner's inbox entry is
-- removed so that inserts can be tried); S = i_member's support
-- conversation. One message from i_owner in C, read by i_member.
insert into public.conversations (id, organization_id, kind, title) values
  ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'group', 'Fixture group');
insert into public.conversations (id, organization_id, kind, subject_user_id, support_status) values
  ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 'support', tests.user_id('i_member'), 'open');
insert into public.conversation_members (conversation_id, user_id, role) values
  ('0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'member'), ('0c000000-0000-4000-8000-000000000001', tests.user_id('i_owner'), 'owner'),
  ('0c000000-0000-4000-8000-000000000002', tests.user_id('i_member'), 'member');
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_owner'), 'Fixture message');
insert into public.inbox_entries (user_id, conversation_id, last_read_message_id, last_delivered_message_id, joined_at_message_id)
select tests.user_id('i_member'), '0c000000-0000-4000-8000-000000000001', id, id, 0 from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001';
insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_member'), '0c000000-0000-4000-8000-000000000002');

select plan(66);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$error 42501$q$, $q$inbox_entries: anon is refused (42501) on select of i_member's inbox entry of C$q$),
  ($q$i_stranger$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: a stranger gets no row from select of i_member's inbox entry of C$q$),
  ($q$i_member$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$inbox_entries: a member of the conversation gets 1 row(s) from select of i_member's inbox entry of C$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: an admin of another organization gets no row from select of i_member's inbox entry of C$q$),
  ($q$i_admin$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: an Acme admin (not a member) gets no row from select of i_member's inbox entry of C$q$),
  ($q$service_role$q$, $q$select 1 from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$inbox_entries: service_role gets 1 row(s) from select of i_member's inbox entry of C$q$),
  ($q$anon$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$error 42501$q$, $q$inbox_entries: anon is refused (42501) on select of every inbox entry of C (only one's own is visible)$q$),
  ($q$i_stranger$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: a stranger gets no row from select of every inbox entry of C (only one's own is visible)$q$),
  ($q$i_member$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$inbox_entries: a member of the conversation gets 1 row(s) from select of every inbox entry of C (only one's own is visible)$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: an admin of another organization gets no row from select of every inbox entry of C (only one's own is visible)$q$),
  ($q$i_admin$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$inbox_entries: an Acme admin (not a member) gets no row from select of every inbox entry of C (only one's own is visible)$q$),
  ($q$service_role$q$, $q$select 1 from public.inbox_entries where conversation_id = '0c000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$inbox_entries: service_role gets 1 row(s) from select of every inbox entry of C (only one's own is visible)$q$),
  ($q$anon$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$error 42501$q$, $q$inbox_entries: anon is refused (42501) on insert of i_owner's inbox entry of C$q$),
  ($q$i_stranger$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a stranger is refused (42501) on insert of i_owner's inbox entry of C$q$),
  ($q$i_member$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a member of the conversation is refused (42501) on insert of i_owner's inbox entry of C$q$),
  ($q$i_other_admin$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an admin of another organization is refused (42501) on insert of i_owner's inbox entry of C$q$),
  ($q$i_admin$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an Acme admin (not a member) is refused (42501) on insert of i_owner's inbox entry of C$q$),
  ($q$service_role$q$, $q$insert into public.inbox_entries (user_id, conversation_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001') returning 1$q$, $q$rows 1$q$, $q$inbox_entries: service_role gets 1 row(s) from insert of i_owner's inbox entry of C$q$),
  ($q$anon$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: anon is refused (42501) on update of i_member's read watermark$q$),
  ($q$i_stranger$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a stranger is refused (42501) on update of i_member's read watermark$q$),
  ($q$i_member$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a member of the conversation is refused (42501) on update of i_member's read watermark$q$),
  ($q$i_other_admin$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an admin of another organization is refused (42501) on update of i_member's read watermark$q$),
  ($q$i_admin$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an Acme admin (not a member) is refused (42501) on update of i_member's read watermark$q$),
  ($q$service_role$q$, $q$update public.inbox_entries set last_read_message_id = 0 where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$rows 1$q$, $q$inbox_entries: service_role gets 1 row(s) from update of i_member's read watermark$q$),
  ($q$anon$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: anon is refused (42501) on delete of i_member's inbox entry$q$),
  ($q$i_stranger$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a stranger is refused (42501) on delete of i_member's inbox entry$q$),
  ($q$i_member$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: a member of the conversation is refused (42501) on delete of i_member's inbox entry$q$),
  ($q$i_other_admin$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an admin of another organization is refused (42501) on delete of i_member's inbox entry$q$),
  ($q$i_admin$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$inbox_entries: an Acme admin (not a member) is refused (42501) on delete of i_member's inbox entry$q$),
  ($q$service_role$q$, $q$delete from public.inbox_entries where user_id = tests.user_id('i_member') and conversation_id = '0c000000-0000-4000-8000-000000000001' returning 1$q$, $q$rows 1$q$, $q$inbox_entries: service_role gets 1 row(s) from delete of i_member's inbox entry$q$),
  ($q$anon$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$mark_read: anon is refused (42501) on mark_read of C$q$),
  ($q$i_stranger$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mark_read: a stranger is refused (PT404) on mark_read of C$q$),
  ($q$i_member$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$mark_read: a member of the conversation gets 1 row(s) from mark_read of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mark_read: an admin of another organization is refused (PT404) on mark_read of C$q$),
  ($q$i_admin$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mark_read: an Acme admin (not a member) is refused (PT404) on mark_read of C$q$),
  ($q$service_role$q$, $q$select * from public.mark_read('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$mark_read: service_role is refused (42501) on mark_read of C$q$),
  ($q$anon$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error 42501$q$, $q$mark_delivered: anon is refused (42501) on mark_delivered of C's message$q$),
  ($q$i_stranger$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_delivered: a stranger is refused (PT404) on mark_delivered of C's message$q$),
  ($q$i_member$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$rows 1$q$, $q$mark_delivered: a member of the conversation gets 1 row(s) from mark_delivered of C's message$q$),
  ($q$i_other_admin$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_delivered: an admin of another organization is refused (PT404) on mark_delivered of C's message$q$),
  ($q$i_admin$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_delivered: an Acme admin (not a member) is refused (PT404) on mark_delivered of C's message$q$),
  ($q$service_role$q$, $q$select * from public.mark_delivered('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error 42501$q$, $q$mark_delivered: service_role is refused (42501) on mark_delivered of C's message$q$),
  ($q$anon$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error 42501$q$, $q$mark_unread: anon is refused (42501) on mark_unread of C's message$q$),
  ($q$i_stranger$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_unread: a stranger is refused (PT404) on mark_unread of C's message$q$),
  ($q$i_member$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$rows 1$q$, $q$mark_unread: a member of the conversation gets 1 row(s) from mark_unread of C's message$q$),
  ($q$i_other_admin$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_unread: an admin of another organization is refused (PT404) on mark_unread of C's message$q$),
  ($q$i_admin$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error PT404$q$, $q$mark_unread: an Acme admin (not a member) is refused (PT404) on mark_unread of C's message$q$),
  ($q$service_role$q$, $q$select * from public.mark_unread('0c000000-0000-4000-8000-000000000001', (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001'))$q$, $q$error 42501$q$, $q$mark_unread: service_role is refused (42501) on mark_unread of C's message$q$),
  ($q$anon$q$, $q$select * from public.get_unread_counts()$q$, $q$error 42501$q$, $q$get_unread_counts: anon is refused (42501) on get_unread_counts (i_member has C and S)$q$),
  ($q$i_stranger$q$, $q$select * from public.get_unread_counts()$q$, $q$rows 0$q$, $q$get_unread_counts: a stranger gets no row from get_unread_counts (i_member has C and S)$q$),
  ($q$i_member$q$, $q$select * from public.get_unread_counts()$q$, $q$rows 2$q$, $q$get_unread_counts: a member of the conversation gets 2 row(s) from get_unread_counts (i_member has C and S)$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_unread_counts()$q$, $q$rows 0$q$, $q$get_unread_counts: an admin of another organization gets no row from get_unread_counts (i_member has C and S)$q$),
  ($q$i_admin$q$, $q$select * from public.get_unread_counts()$q$, $q$rows 0$q$, $q$get_unread_counts: an Acme admin (not a member) gets no row from get_unread_counts (i_member has C and S)$q$),
  ($q$service_role$q$, $q$select * from public.get_unread_counts()$q$, $q$error 42501$q$, $q$get_unread_counts: service_role is refused (42501) on get_unread_counts (i_member has C and S)$q$),
  ($q$anon$q$, $q$select * from public.get_unread_total()$q$, $q$error 42501$q$, $q$get_unread_total: anon is refused (42501) on get_unread_total (one row each)$q$),
  ($q$i_stranger$q$, $q$select * from public.get_unread_total()$q$, $q$rows 1$q$, $q$get_unread_total: a stranger gets 1 row(s) from get_unread_total (one row each)$q$),
  ($q$i_member$q$, $q$select * from public.get_unread_total()$q$, $q$rows 1$q$, $q$get_unread_total: a member of the conversation gets 1 row(s) from get_unread_total (one row each)$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_unread_total()$q$, $q$rows 1$q$, $q$get_unread_total: an admin of another organization gets 1 row(s) from get_unread_total (one row each)$q$),
  ($q$i_admin$q$, $q$select * from public.get_unread_total()$q$, $q$rows 1$q$, $q$get_unread_total: an Acme admin (not a member) gets 1 row(s) from get_unread_total (one row each)$q$),
  ($q$service_role$q$, $q$select * from public.get_unread_total()$q$, $q$error 42501$q$, $q$get_unread_total: service_role is refused (42501) on get_unread_total (one row each)$q$),
  ($q$anon$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$error 42501$q$, $q$get_message_receipts: anon is refused (42501) on get_message_receipts of C's message (i_member read it)$q$),
  ($q$i_stranger$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$error PT404$q$, $q$get_message_receipts: a stranger is refused (PT404) on get_message_receipts of C's message (i_member read it)$q$),
  ($q$i_member$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$rows 1$q$, $q$get_message_receipts: a member of the conversation gets 1 row(s) from get_message_receipts of C's message (i_member read it)$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$error PT404$q$, $q$get_message_receipts: an admin of another organization is refused (PT404) on get_message_receipts of C's message (i_member read it)$q$),
  ($q$i_admin$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$error PT404$q$, $q$get_message_receipts: an Acme admin (not a member) is refused (PT404) on get_message_receipts of C's message (i_member read it)$q$),
  ($q$service_role$q$, $q$select * from public.get_message_receipts((select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000001')) where read$q$, $q$error 42501$q$, $q$get_message_receipts: service_role is refused (42501) on get_message_receipts of C's message (i_member read it)$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
