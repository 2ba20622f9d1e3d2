-- Direct conversations (issue 4): one per pair of members per organization,
-- and a member's direct conversation with a persona of the organization.
-- Get-or-create, race-safe (functions/conversations.sql).

create or replace function parley_internal.get_or_create_direct_conversation(organization_id uuid, other_user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  key text;
  conversation uuid;
  decision record;
  result public.conversations;
begin
  if other_user_id is null or other_user_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'A direct conversation needs another person.',
      'Pick another member; notes to yourself are not supported.');
  end if;
  perform parley_internal.require_organization_member(get_or_create_direct_conversation.organization_id, caller);
  if not parley_internal.is_organization_member(get_or_create_direct_conversation.organization_id, other_user_id) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such member in this organization.',
      'Direct conversations are between members of the same organization.');
  end if;
  key := 'users:' || least(caller, other_user_id)::text || ':' || greatest(caller, other_user_id)::text;
  select c.id into conversation from public.conversations c
  where c.organization_id = get_or_create_direct_conversation.organization_id and c.direct_key = key;
  if conversation is null then
    -- Starting a conversation honours the other party's privacy and blocks (can_message).
    select * into decision from parley_internal.message_decision(caller, other_user_id, 'message');
    if not decision.allowed then
      perform parley_internal.refuse('42501', decision.reason,
        case decision.reason
          when 'blocked' then 'You blocked this user.'
          else 'This user does not accept messages from you.' end,
        case decision.reason
          when 'blocked' then 'Unblock them first.'
          else 'They choose who may message them.' end);
    end if;
    insert into public.conversations (organization_id, kind, direct_key, created_by)
    values (get_or_create_direct_conversation.organization_id, 'direct', key, caller)
    on conflict (organization_id, direct_key) where direct_key is not null do nothing
    returning id into conversation;
    if conversation is not null then
      perform parley_internal.add_conversation_member(conversation, caller, 'member', null);
      perform parley_internal.add_conversation_member(conversation, other_user_id, 'member', caller);
    else
      select c.id into strict conversation from public.conversations c
      where c.organization_id = get_or_create_direct_conversation.organization_id and c.direct_key = key;
    end if;
  end if;
  select * into result from public.conversations c where c.id = conversation;
  return result;
end
$$;
comment on function parley_internal.get_or_create_direct_conversation(uuid, uuid) is
  'The direct conversation between you and another member of the organization, created on first use (honours their privacy settings and blocks; idempotent under concurrency).';
select parley_internal.publish_function('parley_internal.get_or_create_direct_conversation(uuid, uuid)');

create or replace function parley_internal.get_or_create_persona_conversation(persona_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  persona public.personas;
  key text;
  conversation uuid;
  result public.conversations;
begin
  select * into persona from public.personas p where p.id = get_or_create_persona_conversation.persona_id;
  if not found or not parley_internal.is_organization_member(persona.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'persona_not_found', 'No such persona.', 'Check the persona id.');
  end if;
  if not persona.is_active then
    perform parley_internal.refuse('PT409', 'persona_inactive', 'This persona is deactivated.',
      'Write to Help & Support instead.');
  end if;
  perform parley_internal.require_feature(persona.organization_id, 'chat');
  key := 'persona:' || persona.id::text || ':' || caller::text;
  insert into public.conversations (organization_id, kind, direct_key, subject_user_id, persona_id, created_by)
  values (persona.organization_id, 'direct', key, caller, persona.id, caller)
  on conflict (organization_id, direct_key) where direct_key is not null do nothing
  returning id into conversation;
  if conversation is not null then
    perform parley_internal.add_conversation_member(conversation, caller, 'member', null);
  else
    select c.id into strict conversation from public.conversations c
    where c.organization_id = persona.organization_id and c.direct_key = key;
  end if;
  select * into result from public.conversations c where c.id = conversation;
  return result;
end
$$;
comment on function parley_internal.get_or_create_persona_conversation(uuid) is
  'Your direct conversation with a persona of your organization (staff answer as the persona), created on first use.';
select parley_internal.publish_function('parley_internal.get_or_create_persona_conversation(uuid)');
