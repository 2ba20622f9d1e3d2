-- Notices conversations (issue 4): one per user per organization
-- (subject_conversation_for, functions/conversations.sql), where staff
-- notices land (send_notice, functions/message_send.sql); read-only for the user.

create or replace function parley_internal.get_or_create_notices_conversation(organization_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  conversation uuid;
  result public.conversations;
begin
  perform parley_internal.require_organization_member(get_or_create_notices_conversation.organization_id, caller);
  conversation := parley_internal.subject_conversation_for(get_or_create_notices_conversation.organization_id, caller, 'notices');
  select * into result from public.conversations c where c.id = conversation;
  return result;
end
$$;
comment on function parley_internal.get_or_create_notices_conversation(uuid) is
  'Your notices conversation of the organization, where staff notices land (read-only for you), created on first use.';
select parley_internal.publish_function('parley_internal.get_or_create_notices_conversation(uuid)');
