-- pgTAP: row level security of public.messages, message_edits,
-- message_reactions and message_mentions (issue 4), and who may call the
-- message functions. Every operation (select, insert, update, delete) is
-- tried as anon, a stranger, a group member, an admin of another
-- organization, an Acme admin who is not in the group, and service_role;
-- each try is rolled back (tests.probe, _identity_fixture.sql). Then the
-- staff path (support conversation), the since_joined cut-off, the private
-- tables and the RPC grants. Clients never write these tables directly: all
-- writes go through the RPCs (docs/messages.md).
-- Generated matrix; the expectations are the design in docs/messages.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select plan(117);

-- Fixture, as the database owner: a group G (i_owner owner, i_member member)
-- with message 1001 (edited, reacted to by i_member, mentioning i_member);
-- i_member's support conversation S with message 1002 and a reaction; a
-- since_joined group H that i_member joined after message 1003.
insert into public.conversations (id, organization_id, kind, title, created_by) values
  ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'group', 'Tutors', tests.user_id('i_owner'));
insert into public.conversations (id, organization_id, kind, subject_user_id, support_status, created_by) values
  ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 'support', tests.user_id('i_member'), 'open', tests.user_id('i_member'));
insert into public.conversations (id, organization_id, kind, title, history_visibility, created_by) values
  ('0c000000-0000-4000-8000-000000000003', '0a000000-0000-4000-8000-000000000001', 'group', 'Late', 'since_joined', tests.user_id('i_owner'));
insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id) values
  ('0c000000-0000-4000-8000-000000000001', tests.user_id('i_owner'), 'owner', 0),
  ('0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'member', 0),
  ('0c000000-0000-4000-8000-000000000002', tests.user_id('i_member'), 'member', 0),
  ('0c000000-0000-4000-8000-000000000003', tests.user_id('i_owner'), 'owner', 0),
  ('0c000000-0000-4000-8000-000000000003', tests.user_id('i_member'), 'member', 1003);
insert into public.messages (id, conversation_id, sender_kind, sender_id, body) overriding system value values
  (1001, '0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_owner'), 'Welcome @member'),
  (1002, '0c000000-0000-4000-8000-000000000002', 'user', tests.user_id('i_member'), 'I need help'),
  (1003, '0c000000-0000-4000-8000-000000000003', 'user', tests.user_id('i_owner'), 'before you joined'),
  (1004, '0c000000-0000-4000-8000-000000000003', 'user', tests.user_id('i_owner'), 'after you joined');
insert into public.message_edits (message_id, edited_by, previous_body) values
  (1001, tests.user_id('i_owner'), 'Welcome'),
  (1003, tests.user_id('i_owner'), 'before');
insert into public.message_reactions (message_id, emoji, user_id) values
  (1001, '👍', tests.user_id('i_member')),
  (1002, '🙏', tests.user_id('i_member')),
  (1003, '👀', tests.user_id('i_owner'));
insert into public.message_mentions (user_id, conversation_id, message_id) values
  (tests.user_id('i_member'), '0c000000-0000-4000-8000-000000000001', 1001);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.messages where id = 1001$q$, $q$error 42501$q$, $q$messages: anon is refused (42501) on select of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$select 1 from public.messages where id = 1001$q$, $q$rows 0$q$, $q$messages: a stranger cannot see i_owner's group message$q$),
  ($q$i_member$q$, $q$select 1 from public.messages where id = 1001$q$, $q$rows 1$q$, $q$messages: a group member sees i_owner's group message$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.messages where id = 1001$q$, $q$rows 0$q$, $q$messages: an admin of another organization cannot see i_owner's group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.messages where id = 1001$q$, $q$rows 0$q$, $q$messages: an Acme admin outside the group cannot see i_owner's group message$q$),
  ($q$service_role$q$, $q$select 1 from public.messages where id = 1001$q$, $q$rows 1$q$, $q$messages: service_role sees i_owner's group message$q$),
  ($q$anon$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$messages: anon is refused (42501) on insert of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$messages: a stranger is refused (42501) on insert of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$messages: a group member is refused (42501) on insert of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$messages: an admin of another organization is refused (42501) on insert of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$messages: an Acme admin outside the group is refused (42501) on insert of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$insert into public.messages (conversation_id, sender_kind, sender_id, body) values ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_member'), 'forged') returning 1$q$, $q$rows 1$q$, $q$messages: service_role can insert i_owner's group message$q$),
  ($q$anon$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: anon is refused (42501) on update of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: a stranger is refused (42501) on update of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: a group member is refused (42501) on update of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: an admin of another organization is refused (42501) on update of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: an Acme admin outside the group is refused (42501) on update of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$update public.messages set body = 'changed' where id = 1001 returning 1$q$, $q$rows 1$q$, $q$messages: service_role can update i_owner's group message$q$),
  ($q$anon$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: anon is refused (42501) on delete of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: a stranger is refused (42501) on delete of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: a group member is refused (42501) on delete of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: an admin of another organization is refused (42501) on delete of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$error 42501$q$, $q$messages: an Acme admin outside the group is refused (42501) on delete of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$delete from public.messages where id = 1001 returning 1$q$, $q$rows 1$q$, $q$messages: service_role can delete i_owner's group message$q$),
  ($q$anon$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$error 42501$q$, $q$message_edits: anon is refused (42501) on select of the edit history of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$rows 0$q$, $q$message_edits: a stranger cannot see the edit history of i_owner's group message$q$),
  ($q$i_member$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$rows 1$q$, $q$message_edits: a group member sees the edit history of i_owner's group message$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$rows 0$q$, $q$message_edits: an admin of another organization cannot see the edit history of i_owner's group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$rows 0$q$, $q$message_edits: an Acme admin outside the group cannot see the edit history of i_owner's group message$q$),
  ($q$service_role$q$, $q$select 1 from public.message_edits where message_id = 1001$q$, $q$rows 1$q$, $q$message_edits: service_role sees the edit history of i_owner's group message$q$),
  ($q$anon$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$message_edits: anon is refused (42501) on insert of the edit history of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$message_edits: a stranger is refused (42501) on insert of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$message_edits: a group member is refused (42501) on insert of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$message_edits: an admin of another organization is refused (42501) on insert of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$error 42501$q$, $q$message_edits: an Acme admin outside the group is refused (42501) on insert of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$insert into public.message_edits (message_id, edited_by, previous_body) values (1001, tests.user_id('i_member'), 'forged') returning 1$q$, $q$rows 1$q$, $q$message_edits: service_role can insert the edit history of i_owner's group message$q$),
  ($q$anon$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: anon is refused (42501) on update of the edit history of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: a stranger is refused (42501) on update of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: a group member is refused (42501) on update of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: an admin of another organization is refused (42501) on update of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: an Acme admin outside the group is refused (42501) on update of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$update public.message_edits set previous_body = 'changed' where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_edits: service_role can update the edit history of i_owner's group message$q$),
  ($q$anon$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: anon is refused (42501) on delete of the edit history of i_owner's group message$q$),
  ($q$i_stranger$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: a stranger is refused (42501) on delete of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: a group member is refused (42501) on delete of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: an admin of another organization is refused (42501) on delete of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_edits: an Acme admin outside the group is refused (42501) on delete of the edit history of i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$delete from public.message_edits where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_edits: service_role can delete the edit history of i_owner's group message$q$),
  ($q$anon$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$error 42501$q$, $q$message_reactions: anon is refused (42501) on select of i_member's reaction to i_owner's group message$q$),
  ($q$i_stranger$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$rows 0$q$, $q$message_reactions: a stranger cannot see i_member's reaction to i_owner's group message$q$),
  ($q$i_member$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$rows 1$q$, $q$message_reactions: a group member sees i_member's reaction to i_owner's group message$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$rows 0$q$, $q$message_reactions: an admin of another organization cannot see i_member's reaction to i_owner's group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$rows 0$q$, $q$message_reactions: an Acme admin outside the group cannot see i_member's reaction to i_owner's group message$q$),
  ($q$service_role$q$, $q$select 1 from public.message_reactions where message_id = 1001$q$, $q$rows 1$q$, $q$message_reactions: service_role sees i_member's reaction to i_owner's group message$q$),
  ($q$anon$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$message_reactions: anon is refused (42501) on insert of i_member's reaction to i_owner's group message$q$),
  ($q$i_stranger$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$message_reactions: a stranger is refused (42501) on insert of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$message_reactions: a group member is refused (42501) on insert of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$message_reactions: an admin of another organization is refused (42501) on insert of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$error 42501$q$, $q$message_reactions: an Acme admin outside the group is refused (42501) on insert of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$insert into public.message_reactions (message_id, emoji, user_id) values (1001, '🙃', tests.user_id('i_member')) returning 1$q$, $q$rows 1$q$, $q$message_reactions: service_role can insert i_member's reaction to i_owner's group message$q$),
  ($q$anon$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: anon is refused (42501) on update of i_member's reaction to i_owner's group message$q$),
  ($q$i_stranger$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: a stranger is refused (42501) on update of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: a group member is refused (42501) on update of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: an admin of another organization is refused (42501) on update of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: an Acme admin outside the group is refused (42501) on update of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$update public.message_reactions set emoji = '😡' where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_reactions: service_role can update i_member's reaction to i_owner's group message$q$),
  ($q$anon$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: anon is refused (42501) on delete of i_member's reaction to i_owner's group message$q$),
  ($q$i_stranger$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: a stranger is refused (42501) on delete of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: a group member is refused (42501) on delete of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: an admin of another organization is refused (42501) on delete of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_reactions: an Acme admin outside the group is refused (42501) on delete of i_member's reaction to i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$delete from public.message_reactions where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_reactions: service_role can delete i_member's reaction to i_owner's group message$q$),
  ($q$anon$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$error 42501$q$, $q$message_mentions: anon is refused (42501) on select of the mention of i_member in i_owner's group message$q$),
  ($q$i_stranger$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 0$q$, $q$message_mentions: a stranger cannot see the mention of i_member in i_owner's group message$q$),
  ($q$i_member$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 1$q$, $q$message_mentions: a group member sees the mention of i_member in i_owner's group message$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 0$q$, $q$message_mentions: an admin of another organization cannot see the mention of i_member in i_owner's group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 0$q$, $q$message_mentions: an Acme admin outside the group cannot see the mention of i_member in i_owner's group message$q$),
  ($q$service_role$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 1$q$, $q$message_mentions: service_role sees the mention of i_member in i_owner's group message$q$),
  ($q$anon$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$error 42501$q$, $q$message_mentions: anon is refused (42501) on insert of the mention of i_member in i_owner's group message$q$),
  ($q$i_stranger$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$error 42501$q$, $q$message_mentions: a stranger is refused (42501) on insert of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$error 42501$q$, $q$message_mentions: a group member is refused (42501) on insert of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$error 42501$q$, $q$message_mentions: an admin of another organization is refused (42501) on insert of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$error 42501$q$, $q$message_mentions: an Acme admin outside the group is refused (42501) on insert of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$insert into public.message_mentions (user_id, conversation_id, message_id) values (tests.user_id('i_owner'), '0c000000-0000-4000-8000-000000000001', 1001) returning 1$q$, $q$rows 1$q$, $q$message_mentions: service_role can insert the mention of i_member in i_owner's group message$q$),
  ($q$anon$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: anon is refused (42501) on update of the mention of i_member in i_owner's group message$q$),
  ($q$i_stranger$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: a stranger is refused (42501) on update of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: a group member is refused (42501) on update of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: an admin of another organization is refused (42501) on update of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: an Acme admin outside the group is refused (42501) on update of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$update public.message_mentions set user_id = tests.user_id('i_owner') where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_mentions: service_role can update the mention of i_member in i_owner's group message$q$),
  ($q$anon$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: anon is refused (42501) on delete of the mention of i_member in i_owner's group message$q$),
  ($q$i_stranger$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: a stranger is refused (42501) on delete of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_member$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: a group member is refused (42501) on delete of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_other_admin$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: an admin of another organization is refused (42501) on delete of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$i_admin$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$error 42501$q$, $q$message_mentions: an Acme admin outside the group is refused (42501) on delete of the mention of i_member in i_owner's group message (RPCs only)$q$),
  ($q$service_role$q$, $q$delete from public.message_mentions where message_id = 1001 returning 1$q$, $q$rows 1$q$, $q$message_mentions: service_role can delete the mention of i_member in i_owner's group message$q$),
  ($q$i_admin$q$, $q$select 1 from public.messages where id = 1002$q$, $q$rows 0$q$, $q$messages: an Acme admin (support agent, not a member) cannot read a member's support message by a plain table read (only through the audited get_messages)$q$),
  ($q$i_admin$q$, $q$select 1 from public.message_reactions where message_id = 1002$q$, $q$rows 0$q$, $q$message_reactions: an Acme admin (support agent, not a member) cannot read reactions in a support conversation by a plain table read$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.messages where id = 1002$q$, $q$rows 0$q$, $q$messages: an admin of another organization cannot see Acme's support message$q$),
  ($q$i_member$q$, $q$select 1 from public.messages where id = 1002$q$, $q$rows 1$q$, $q$messages: the member sees their own support conversation$q$),
  ($q$i_stranger$q$, $q$select 1 from public.messages where id = 1002$q$, $q$rows 0$q$, $q$messages: a stranger cannot see a support message$q$),
  ($q$i_member$q$, $q$select 1 from public.messages where conversation_id = '0c000000-0000-4000-8000-000000000003'$q$, $q$rows 1$q$, $q$messages: a since_joined member sees only the message after their cut-off$q$),
  ($q$i_member$q$, $q$select 1 from public.message_edits where message_id = 1003$q$, $q$rows 0$q$, $q$message_edits: a since_joined member cannot see edits of a message before their cut-off$q$),
  ($q$i_member$q$, $q$select 1 from public.message_reactions where message_id = 1003$q$, $q$rows 0$q$, $q$message_reactions: a since_joined member cannot see reactions before their cut-off$q$),
  ($q$i_owner$q$, $q$select 1 from public.message_mentions where message_id = 1001$q$, $q$rows 0$q$, $q$message_mentions: the author does not see who else their message mentions$q$),
  ($q$anon$q$, $q$select * from public.get_messages('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$get_messages: anon may not execute it$q$),
  ($q$anon$q$, $q$select * from public.send_message('0c000000-0000-4000-8000-000000000001', 'hi')$q$, $q$error 42501$q$, $q$send_message: anon may not execute it$q$),
  ($q$i_member$q$, $q$select * from public.get_messages('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$get_messages: a member reads the group's page$q$),
  ($q$i_stranger$q$, $q$select * from public.get_messages('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$get_messages: a stranger gets PT404$q$),
  ($q$i_admin$q$, $q$select * from public.get_messages('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$get_messages: an Acme admin outside the group gets PT404$q$),
  ($q$i_member$q$, $q$select * from public.send_message('0c000000-0000-4000-8000-000000000001', 'hi from pgTAP')$q$, $q$rows 1$q$, $q$send_message: a member posts$q$),
  ($q$i_other_admin$q$, $q$select * from public.send_message('0c000000-0000-4000-8000-000000000001', 'hi')$q$, $q$error PT404$q$, $q$send_message: an admin of another organization gets PT404$q$),
  ($q$i_member$q$, $q$select parley_internal.post_system_message('0c000000-0000-4000-8000-000000000001', 'x', '{}')$q$, $q$error 42501$q$, $q$post_system_message: internal, not executable by API users$q$),
  ($q$i_member$q$, $q$select parley_internal.take_send_token('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'))$q$, $q$error 42501$q$, $q$take_send_token: internal, not executable by API users$q$),
  ($q$i_member$q$, $q$select 1 from parley_internal.send_allowances$q$, $q$error 42501$q$, $q$send_allowances: private to the send functions$q$),
  ($q$service_role$q$, $q$select 1 from parley_internal.slow_mode_sends$q$, $q$error 42501$q$, $q$slow_mode_sends: private to the send functions, even for service_role$q$),
  ($q$i_member$q$, $q$select 1 from parley_internal.message_senders$q$, $q$error 42501$q$, $q$message_senders: the real sender behind personas and notices is never exposed$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
