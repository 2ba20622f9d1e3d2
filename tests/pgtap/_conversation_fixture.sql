-- Included (\ir) after _identity_fixture.sql by the conversation pgTAP files.
-- Acme group 0c..01: i_owner (owner) and i_member (member); i_admin is NOT
-- in it. Support conversation 0c..02 belongs to i_member; i_admin (an Acme
-- admin, so a support agent) handles it. One message in each. Set-up as the
-- database owner.

insert into public.conversations (id, organization_id, kind, title, created_by) values
  ('0c000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'group', 'Launch',
   tests.user_id('i_owner'));
insert into public.conversations (id, organization_id, kind, subject_user_id, support_status, created_by) values
  ('0c000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000001', 'support',
   tests.user_id('i_member'), 'open', tests.user_id('i_member'));
select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000001', tests.user_id('i_owner'), 'owner', null);
select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'member', null);
select parley_internal.add_conversation_member('0c000000-0000-4000-8000-000000000002', tests.user_id('i_member'), 'member', null);
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('0c000000-0000-4000-8000-000000000001', 'user', tests.user_id('i_owner'), 'Hello group'),
  ('0c000000-0000-4000-8000-000000000002', 'user', tests.user_id('i_member'), 'I need help');
