-- pgTAP: the inbox (issue 4). get_inbox and the per-member state RPCs
-- (archive, mute, unmute, pin, hide, notification level) tried as anon, a
-- stranger, a member of the conversation, an admin of another organization,
-- an Acme admin who is not a member (and handles support), and
-- service_role; each try is rolled back (see _identity_fixture.sql).
-- Generated matrix; the expectations are the design in docs/read-state.md.
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

select plan(48);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$archive_conversation: anon is refused (42501) on archive_conversation of C$q$),
  ($q$i_stranger$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$archive_conversation: a stranger is refused (PT404) on archive_conversation of C$q$),
  ($q$i_member$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$archive_conversation: a member of the conversation gets 1 row(s) from archive_conversation of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$archive_conversation: an admin of another organization is refused (PT404) on archive_conversation of C$q$),
  ($q$i_admin$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$archive_conversation: an Acme admin (not a member) is refused (PT404) on archive_conversation of C$q$),
  ($q$service_role$q$, $q$select * from public.archive_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$archive_conversation: service_role is refused (42501) on archive_conversation of C$q$),
  ($q$anon$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$mute_conversation: anon is refused (42501) on mute_conversation of C$q$),
  ($q$i_stranger$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mute_conversation: a stranger is refused (PT404) on mute_conversation of C$q$),
  ($q$i_member$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$mute_conversation: a member of the conversation gets 1 row(s) from mute_conversation of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mute_conversation: an admin of another organization is refused (PT404) on mute_conversation of C$q$),
  ($q$i_admin$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$mute_conversation: an Acme admin (not a member) is refused (PT404) on mute_conversation of C$q$),
  ($q$service_role$q$, $q$select * from public.mute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$mute_conversation: service_role is refused (42501) on mute_conversation of C$q$),
  ($q$anon$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$unmute_conversation: anon is refused (42501) on unmute_conversation of C$q$),
  ($q$i_stranger$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$unmute_conversation: a stranger is refused (PT404) on unmute_conversation of C$q$),
  ($q$i_member$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$unmute_conversation: a member of the conversation gets 1 row(s) from unmute_conversation of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$unmute_conversation: an admin of another organization is refused (PT404) on unmute_conversation of C$q$),
  ($q$i_admin$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$unmute_conversation: an Acme admin (not a member) is refused (PT404) on unmute_conversation of C$q$),
  ($q$service_role$q$, $q$select * from public.unmute_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$unmute_conversation: service_role is refused (42501) on unmute_conversation of C$q$),
  ($q$anon$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$pin_conversation: anon is refused (42501) on pin_conversation of C$q$),
  ($q$i_stranger$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$pin_conversation: a stranger is refused (PT404) on pin_conversation of C$q$),
  ($q$i_member$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$pin_conversation: a member of the conversation gets 1 row(s) from pin_conversation of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$pin_conversation: an admin of another organization is refused (PT404) on pin_conversation of C$q$),
  ($q$i_admin$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$pin_conversation: an Acme admin (not a member) is refused (PT404) on pin_conversation of C$q$),
  ($q$service_role$q$, $q$select * from public.pin_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$pin_conversation: service_role is refused (42501) on pin_conversation of C$q$),
  ($q$anon$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$hide_conversation: anon is refused (42501) on hide_conversation of C$q$),
  ($q$i_stranger$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$hide_conversation: a stranger is refused (PT404) on hide_conversation of C$q$),
  ($q$i_member$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$rows 1$q$, $q$hide_conversation: a member of the conversation gets 1 row(s) from hide_conversation of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$hide_conversation: an admin of another organization is refused (PT404) on hide_conversation of C$q$),
  ($q$i_admin$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error PT404$q$, $q$hide_conversation: an Acme admin (not a member) is refused (PT404) on hide_conversation of C$q$),
  ($q$service_role$q$, $q$select * from public.hide_conversation('0c000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$hide_conversation: service_role is refused (42501) on hide_conversation of C$q$),
  ($q$anon$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$error 42501$q$, $q$set_notification_level: anon is refused (42501) on set_notification_level of C$q$),
  ($q$i_stranger$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$error PT404$q$, $q$set_notification_level: a stranger is refused (PT404) on set_notification_level of C$q$),
  ($q$i_member$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$rows 1$q$, $q$set_notification_level: a member of the conversation gets 1 row(s) from set_notification_level of C$q$),
  ($q$i_other_admin$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$error PT404$q$, $q$set_notification_level: an admin of another organization is refused (PT404) on set_notification_level of C$q$),
  ($q$i_admin$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$error PT404$q$, $q$set_notification_level: an Acme admin (not a member) is refused (PT404) on set_notification_level of C$q$),
  ($q$service_role$q$, $q$select * from public.set_notification_level('0c000000-0000-4000-8000-000000000001', 'mentions')$q$, $q$error 42501$q$, $q$set_notification_level: service_role is refused (42501) on set_notification_level of C$q$),
  ($q$anon$q$, $q$select * from public.get_inbox()$q$, $q$error 42501$q$, $q$get_inbox: anon is refused (42501) on get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$i_stranger$q$, $q$select * from public.get_inbox()$q$, $q$rows 0$q$, $q$get_inbox: a stranger gets no row from get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$i_member$q$, $q$select * from public.get_inbox()$q$, $q$rows 2$q$, $q$get_inbox: a member of the conversation gets 2 row(s) from get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_inbox()$q$, $q$rows 0$q$, $q$get_inbox: an admin of another organization gets no row from get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$i_admin$q$, $q$select * from public.get_inbox()$q$, $q$rows 0$q$, $q$get_inbox: an Acme admin (not a member) gets no row from get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$service_role$q$, $q$select * from public.get_inbox()$q$, $q$error 42501$q$, $q$get_inbox: service_role is refused (42501) on get_inbox (i_member: C and S; staff do not get support conversations)$q$),
  ($q$anon$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$get_inbox: anon is refused (42501) on get_inbox limited to Acme$q$),
  ($q$i_stranger$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$rows 0$q$, $q$get_inbox: a stranger gets no row from get_inbox limited to Acme$q$),
  ($q$i_member$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$rows 2$q$, $q$get_inbox: a member of the conversation gets 2 row(s) from get_inbox limited to Acme$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$rows 0$q$, $q$get_inbox: an admin of another organization gets no row from get_inbox limited to Acme$q$),
  ($q$i_admin$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$rows 0$q$, $q$get_inbox: an Acme admin (not a member) gets no row from get_inbox limited to Acme$q$),
  ($q$service_role$q$, $q$select * from public.get_inbox(only_organization_id => '0a000000-0000-4000-8000-000000000001')$q$, $q$error 42501$q$, $q$get_inbox: service_role is refused (42501) on get_inbox limited to Acme$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
