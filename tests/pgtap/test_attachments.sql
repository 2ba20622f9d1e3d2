-- pgTAP: row level security and RPCs of public.attachments (issue 6).
-- Every operation is tried as anon, a stranger, an organization member outside
-- the conversation, an admin of another organization, an admin of this
-- organization (a moderator by permission who is not a reader), a conversation
-- member, the uploader and service_role; each try is rolled back (tests.probe,
-- _identity_fixture.sql; set-up in _files_fixture.sql). Generated matrix; the
-- expectations are the design in docs/storage.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _files_fixture.sql
select plan(86);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$error 42501$q$, $q$attachments: anon, select a sent file -> error 42501$q$),
  ($q$i_stranger$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$attachments: a stranger, select a sent file -> rows 0$q$),
  ($q$f_outsider$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$attachments: an organization member outside the conversation, select a sent file -> rows 0$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$attachments: an admin of another organization, select a sent file -> rows 0$q$),
  ($q$f_admin$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 0$q$, $q$attachments: an admin of this organization (moderator, not a reader), select a sent file -> rows 0$q$),
  ($q$f_member$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$attachments: a conversation member, select a sent file -> rows 1$q$),
  ($q$f_uploader$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$attachments: the uploader, select a sent file -> rows 1$q$),
  ($q$service_role$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000001'$q$, $q$rows 1$q$, $q$attachments: service_role, select a sent file -> rows 1$q$),
  ($q$anon$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$error 42501$q$, $q$attachments: anon, select the uploader's unsent file -> error 42501$q$),
  ($q$i_stranger$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 0$q$, $q$attachments: a stranger, select the uploader's unsent file -> rows 0$q$),
  ($q$f_outsider$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 0$q$, $q$attachments: an organization member outside the conversation, select the uploader's unsent file -> rows 0$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 0$q$, $q$attachments: an admin of another organization, select the uploader's unsent file -> rows 0$q$),
  ($q$f_admin$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 0$q$, $q$attachments: an admin of this organization (moderator, not a reader), select the uploader's unsent file -> rows 0$q$),
  ($q$f_member$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 0$q$, $q$attachments: a conversation member, select the uploader's unsent file -> rows 0$q$),
  ($q$f_uploader$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 1$q$, $q$attachments: the uploader, select the uploader's unsent file -> rows 1$q$),
  ($q$service_role$q$, $q$select 1 from public.attachments where id = '0e000000-0000-4000-8000-000000000002'$q$, $q$rows 1$q$, $q$attachments: service_role, select the uploader's unsent file -> rows 1$q$),
  ($q$anon$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: anon, insert directly -> error 42501$q$),
  ($q$i_stranger$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: a stranger, insert directly -> error 42501$q$),
  ($q$f_outsider$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: an organization member outside the conversation, insert directly -> error 42501$q$),
  ($q$i_other_admin$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of another organization, insert directly -> error 42501$q$),
  ($q$f_admin$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of this organization (moderator, not a reader), insert directly -> error 42501$q$),
  ($q$f_member$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: a conversation member, insert directly -> error 42501$q$),
  ($q$f_uploader$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$error 42501$q$, $q$attachments: the uploader, insert directly -> error 42501$q$),
  ($q$service_role$q$, $q$insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values ('0c000000-0000-4000-8000-0000000000f1', coalesce((select auth.uid()), tests.user_id('f_member')), tests.file('loose'), 'n.txt', 'text/plain', 5) returning 1$q$, $q$rows 1$q$, $q$attachments: service_role, insert directly -> rows 1$q$),
  ($q$anon$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: anon, update directly -> error 42501$q$),
  ($q$i_stranger$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: a stranger, update directly -> error 42501$q$),
  ($q$f_outsider$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: an organization member outside the conversation, update directly -> error 42501$q$),
  ($q$i_other_admin$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of another organization, update directly -> error 42501$q$),
  ($q$f_admin$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of this organization (moderator, not a reader), update directly -> error 42501$q$),
  ($q$f_member$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: a conversation member, update directly -> error 42501$q$),
  ($q$f_uploader$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$error 42501$q$, $q$attachments: the uploader, update directly -> error 42501$q$),
  ($q$service_role$q$, $q$update public.attachments set file_name = 'x' where id = '0e000000-0000-4000-8000-000000000001' returning 1$q$, $q$rows 1$q$, $q$attachments: service_role, update directly -> rows 1$q$),
  ($q$anon$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: anon, delete directly -> error 42501$q$),
  ($q$i_stranger$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: a stranger, delete directly -> error 42501$q$),
  ($q$f_outsider$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: an organization member outside the conversation, delete directly -> error 42501$q$),
  ($q$i_other_admin$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of another organization, delete directly -> error 42501$q$),
  ($q$f_admin$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: an admin of this organization (moderator, not a reader), delete directly -> error 42501$q$),
  ($q$f_member$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: a conversation member, delete directly -> error 42501$q$),
  ($q$f_uploader$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$error 42501$q$, $q$attachments: the uploader, delete directly -> error 42501$q$),
  ($q$service_role$q$, $q$delete from public.attachments where id = '0e000000-0000-4000-8000-000000000002' returning 1$q$, $q$rows 1$q$, $q$attachments: service_role, delete directly -> rows 1$q$),
  ($q$anon$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error 42501$q$, $q$create_attachment: anon, register f_member's uploaded object -> error 42501$q$),
  ($q$i_stranger$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error P0001$q$, $q$create_attachment: a stranger, register f_member's uploaded object -> error P0001$q$),
  ($q$f_outsider$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error P0001$q$, $q$create_attachment: an organization member outside the conversation, register f_member's uploaded object -> error P0001$q$),
  ($q$i_other_admin$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error P0001$q$, $q$create_attachment: an admin of another organization, register f_member's uploaded object -> error P0001$q$),
  ($q$f_admin$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error P0001$q$, $q$create_attachment: an admin of this organization (moderator, not a reader), register f_member's uploaded object -> error P0001$q$),
  ($q$f_member$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$rows 1$q$, $q$create_attachment: a conversation member, register f_member's uploaded object -> rows 1$q$),
  ($q$f_uploader$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error P0001$q$, $q$create_attachment: the uploader, register f_member's uploaded object -> error P0001$q$),
  ($q$service_role$q$, $q$select public.create_attachment(tests.file('loose'))$q$, $q$error 42501$q$, $q$create_attachment: service_role, register f_member's uploaded object -> error 42501$q$),
  ($q$anon$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error 42501$q$, $q$create_attachment: anon, register an object in their own folder that was never uploaded -> error 42501$q$),
  ($q$i_stranger$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: a stranger, register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$f_outsider$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: an organization member outside the conversation, register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$i_other_admin$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: an admin of another organization, register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$f_admin$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: an admin of this organization (moderator, not a reader), register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$f_member$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: a conversation member, register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$f_uploader$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error PT404$q$, $q$create_attachment: the uploader, register an object in their own folder that was never uploaded -> error PT404$q$),
  ($q$service_role$q$, $q$select public.create_attachment(tests.own_file())$q$, $q$error 42501$q$, $q$create_attachment: service_role, register an object in their own folder that was never uploaded -> error 42501$q$),
  ($q$anon$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error 42501$q$, $q$delete_attachment: anon, cancel the uploader's unsent file -> error 42501$q$),
  ($q$i_stranger$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error PT404$q$, $q$delete_attachment: a stranger, cancel the uploader's unsent file -> error PT404$q$),
  ($q$f_outsider$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error PT404$q$, $q$delete_attachment: an organization member outside the conversation, cancel the uploader's unsent file -> error PT404$q$),
  ($q$i_other_admin$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error PT404$q$, $q$delete_attachment: an admin of another organization, cancel the uploader's unsent file -> error PT404$q$),
  ($q$f_admin$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error PT404$q$, $q$delete_attachment: an admin of this organization (moderator, not a reader), cancel the uploader's unsent file -> error PT404$q$),
  ($q$f_member$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error PT404$q$, $q$delete_attachment: a conversation member, cancel the uploader's unsent file -> error PT404$q$),
  ($q$f_uploader$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$rows 1$q$, $q$delete_attachment: the uploader, cancel the uploader's unsent file -> rows 1$q$),
  ($q$service_role$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000002')$q$, $q$error 42501$q$, $q$delete_attachment: service_role, cancel the uploader's unsent file -> error 42501$q$),
  ($q$anon$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$delete_attachment: anon, delete a sent file -> error 42501$q$),
  ($q$i_stranger$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$delete_attachment: a stranger, delete a sent file -> error PT404$q$),
  ($q$f_outsider$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$delete_attachment: an organization member outside the conversation, delete a sent file -> error PT404$q$),
  ($q$i_other_admin$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$delete_attachment: an admin of another organization, delete a sent file -> error PT404$q$),
  ($q$f_admin$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$delete_attachment: an admin of this organization (moderator, not a reader), delete a sent file -> error PT404$q$),
  ($q$f_member$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$delete_attachment: a conversation member, delete a sent file -> error PT404$q$),
  ($q$f_uploader$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error PT409$q$, $q$delete_attachment: the uploader, delete a sent file -> error PT409$q$),
  ($q$service_role$q$, $q$select public.delete_attachment('0e000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$delete_attachment: service_role, delete a sent file -> error 42501$q$),
  ($q$anon$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: anon, call the send_message hook directly -> error 42501$q$),
  ($q$i_stranger$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: a stranger, call the send_message hook directly -> error 42501$q$),
  ($q$f_outsider$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: an organization member outside the conversation, call the send_message hook directly -> error 42501$q$),
  ($q$i_other_admin$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: an admin of another organization, call the send_message hook directly -> error 42501$q$),
  ($q$f_admin$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: an admin of this organization (moderator, not a reader), call the send_message hook directly -> error 42501$q$),
  ($q$f_member$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: a conversation member, call the send_message hook directly -> error 42501$q$),
  ($q$f_uploader$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: the uploader, call the send_message hook directly -> error 42501$q$),
  ($q$service_role$q$, $q$select parley_internal.claim_attachments(1, '0c000000-0000-4000-8000-0000000000f1', (select auth.uid()), array['0e000000-0000-4000-8000-000000000002']::uuid[])$q$, $q$error 42501$q$, $q$claim_attachments: service_role, call the send_message hook directly -> error 42501$q$)
) as matrix (actor, statement, expected, description);

-- Behaviour of the claim hook and the deletion triggers (as the owner, like send_message).
select throws_ok(
  $$select parley_internal.claim_attachments((select max(id) from public.messages), '0c000000-0000-4000-8000-0000000000f1',
      tests.user_id('f_member'), array['0e000000-0000-4000-8000-000000000002']::uuid[])$$,
  'PT404', 'One or more files do not exist, or were not uploaded by you to this conversation.',
  'claim_attachments: another member cannot attach the uploader''s file');
insert into public.messages (conversation_id, sender_kind, sender_id, kind, body)
values ('0c000000-0000-4000-8000-0000000000f1', 'user', tests.user_id('f_uploader'), 'text', 'again');
select throws_ok(
  $$select parley_internal.claim_attachments((select max(id) from public.messages), '0c000000-0000-4000-8000-0000000000f1',
      tests.user_id('f_uploader'), array['0e000000-0000-4000-8000-000000000001']::uuid[])$$,
  'PT409', 'A file was already sent with another message.',
  'claim_attachments: a file already on a message cannot go on another one');
select lives_ok(
  $$select parley_internal.claim_attachments(
      (select message_id from public.attachments where id = '0e000000-0000-4000-8000-000000000001'),
      '0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_uploader'),
      array['0e000000-0000-4000-8000-000000000001']::uuid[])$$,
  'claim_attachments: claiming again for the same message is a no-op');
update public.messages set deleted_at = now(), body = null
where id = (select message_id from public.attachments where id = '0e000000-0000-4000-8000-000000000001');
select is((select count(*)::int from public.attachments where id = '0e000000-0000-4000-8000-000000000001'), 0,
  'a tombstoned message loses its attachment rows');
select set_eq($$select object_name from parley_internal.file_deletions$$,
  array[tests.file('sent'), tests.file('thumbnail')],
  'the tombstoned message''s file and thumbnail are queued for the file worker');
select is(tests.probe('f_member', $$select 1 from storage.objects where name = tests.file('sent')$$), 'rows 0',
  'after the tombstone no member can read or sign the file any more');

select * from finish();
rollback;
