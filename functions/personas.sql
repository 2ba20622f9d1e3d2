-- Personas: display identities staff act as (seed 001). The contract for
-- issue 4: assert_can_act_as_persona before acting, record_persona_act to
-- leave the audit trail (messages store persona_id + the acting user).

create or replace function parley_internal.assert_can_act_as_persona(persona_id uuid, user_id uuid)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  persona public.personas;
begin
  select * into persona from public.personas p where p.id = assert_can_act_as_persona.persona_id;
  if not found then
    perform parley_internal.refuse('PT404', 'persona_not_found', 'No such persona.', 'Check the persona id.');
  end if;
  if not parley_internal.is_organization_member(persona.organization_id, assert_can_act_as_persona.user_id) then
    -- Outsiders cannot tell a persona of another organization from a missing one.
    perform parley_internal.refuse('PT404', 'persona_not_found', 'No such persona.', 'Check the persona id.');
  end if;
  if not parley_internal.has_permission(persona.organization_id, 'chat.support_agent', assert_can_act_as_persona.user_id) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only support agents act as personas.',
      'Ask an owner or admin for the chat.support_agent permission.');
  end if;
  if not persona.is_active then
    perform parley_internal.refuse('PT409', 'persona_inactive', 'This persona is deactivated.',
      'Ask an owner or admin to reactivate it.');
  end if;
  perform parley_internal.require_feature(persona.organization_id, 'chat');
  return persona.organization_id;
end
$$;
comment on function parley_internal.assert_can_act_as_persona(uuid, uuid) is
  'Refuse unless the user may act as the persona (member with chat.support_agent, persona active, plan has chat); returns the persona''s organization id.';
revoke all on function parley_internal.assert_can_act_as_persona(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.assert_can_act_as_persona(uuid, uuid) to service_role;

create or replace function parley_internal.record_persona_act(persona_id uuid, user_id uuid, action text, subject_id uuid)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  organization uuid;
  act_id bigint;
begin
  -- The actor is the caller (issue 20): a signed-in user cannot record an act in someone else's name. Callers
  -- inside Parley (act_as_persona, send_message) pass the current user; service_role (no user) is trusted.
  if (select auth.uid()) is not null and record_persona_act.user_id is distinct from (select auth.uid()) then
    perform parley_internal.refuse('42501', 'not_yourself', 'Persona acts are recorded for the current user only.',
      'Act as a persona through act_as_persona or send_message.');
  end if;
  organization := parley_internal.assert_can_act_as_persona(record_persona_act.persona_id, record_persona_act.user_id);
  if record_persona_act.action is null or record_persona_act.action !~ '^[a-z][a-z0-9_.]{0,62}$' then
    perform parley_internal.refuse('P0001', 'invalid_action', 'An action is a short snake_case name.',
      'For example session_start or message.send.');
  end if;
  insert into public.persona_acts (persona_id, organization_id, acting_user_id, action, subject_id)
  values (record_persona_act.persona_id, organization, record_persona_act.user_id, record_persona_act.action,
          record_persona_act.subject_id)
  returning id into act_id;
  return act_id;
end
$$;
comment on function parley_internal.record_persona_act(uuid, uuid, text, uuid) is
  'Check assert_can_act_as_persona, then record that the user (the current user when there is one) acted as the persona; returns the act id. Not executable by API roles but service_role.';
revoke all on function parley_internal.record_persona_act(uuid, uuid, text, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.record_persona_act(uuid, uuid, text, uuid) to service_role;

create or replace function parley_internal.create_persona(organization_id uuid, display_name text, avatar_url text default null)
returns public.personas
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  created public.personas;
begin
  if create_persona.display_name is null
     or pg_catalog.length(parley_internal.trim_whitespace(create_persona.display_name)) not between 1 and 80 then
    perform parley_internal.refuse('P0001', 'invalid_display_name', 'A display name has 1 to 80 characters.',
      'Choose a shorter or non-empty name.');
  end if;
  if create_persona.display_name ~ '[[:cntrl:]\u0080-\u009f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'Names cannot contain control characters.',
      'Remove them.');
  end if;
  if create_persona.avatar_url is not null and create_persona.avatar_url !~ '^https?://' then
    perform parley_internal.refuse('P0001', 'invalid_avatar_url', 'An avatar URL is an http(s) URL.',
      'Upload the avatar and use its URL.');
  end if;
  if not parley_internal.is_organization_member(create_persona.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not parley_internal.is_organization_admin(create_persona.organization_id, caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only owners and admins create personas.',
      'Ask an owner or admin of the organization.');
  end if;
  perform parley_internal.require_feature(create_persona.organization_id, 'chat');
  insert into public.personas (organization_id, display_name, avatar_url)
  values (create_persona.organization_id, parley_internal.trim_whitespace(create_persona.display_name),
          create_persona.avatar_url)
  returning * into created;
  return created;
end
$$;
comment on function parley_internal.create_persona(uuid, text, text) is
  'Owners/admins: create a persona (display identity) of the organization.';
select parley_internal.publish_function('parley_internal.create_persona(uuid, text, text)');

create or replace function parley_internal.act_as_persona(persona_id uuid, action text default 'session_start')
returns public.persona_acts
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  recorded public.persona_acts;
  act_id bigint;
begin
  if act_as_persona.action is null or act_as_persona.action not in ('session_start', 'session_end') then
    perform parley_internal.refuse('P0001', 'invalid_action', 'Clients record session_start or session_end.',
      'Messages sent as a persona are recorded by the messaging functions.');
  end if;
  act_id := parley_internal.record_persona_act(act_as_persona.persona_id, caller, act_as_persona.action, null);
  select * into recorded from public.persona_acts a where a.id = act_id;
  return recorded;
end
$$;
comment on function parley_internal.act_as_persona(uuid, text) is
  'Support agents: record starting (or ending) a session acting as a persona; refused unless allowed.';
select parley_internal.publish_function('parley_internal.act_as_persona(uuid, text)');
