-- Conversation RPCs (issue 4): get-or-create for direct, persona, support and
-- notices conversations; groups with roles, settings and membership changes;
-- support status and assignment.
--
-- Get-or-create: insert ... on conflict do nothing on the unique keys
-- (conversations_direct_key, conversations_subject_key), then read the row.
-- Racing calls either insert or wait for the winner's commit and then find
-- its row, members included (the winner adds them in the same transaction).
-- Membership changes of one conversation lock its row (FOR NO KEY UPDATE),
-- which sends never do.

-- Internal building blocks -----------------------------------------------

create or replace function parley_internal.newest_message_id(conversation_id uuid)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select m.id from public.messages m
                   where m.conversation_id = newest_message_id.conversation_id
                   order by m.id desc limit 1), 0)
$$;
comment on function parley_internal.newest_message_id(uuid) is
  'The id of the conversation''s newest message (tombstones included), 0 if it has none; one backward probe of messages (conversation_id, id).';
select parley_internal.restrict_function('parley_internal.newest_message_id(uuid)', '{service_role}');

create or replace function parley_internal.add_conversation_member(
  conversation_id uuid, user_id uuid, role text, added_by uuid
)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  newest bigint := parley_internal.newest_message_id(add_conversation_member.conversation_id);
  visibility text;
begin
  -- A user banned from this conversation is not added back (functions/moderation.sql).
  perform parley_internal.assert_not_banned_from(add_conversation_member.conversation_id, add_conversation_member.user_id);
  select c.history_visibility into visibility from public.conversations c
  where c.id = add_conversation_member.conversation_id;
  insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id, added_by)
  values (add_conversation_member.conversation_id, add_conversation_member.user_id, add_conversation_member.role,
          case when visibility = 'since_joined' then newest else 0 end, add_conversation_member.added_by)
  on conflict on constraint conversation_members_pkey do nothing;
  if not found then
    return false;
  end if;
  -- A new member starts with everything up to now read: no unread badge for old history.
  insert into public.inbox_entries (user_id, conversation_id, last_delivered_message_id, last_read_message_id)
  values (add_conversation_member.user_id, add_conversation_member.conversation_id, newest, newest)
  on conflict on constraint inbox_entries_pkey do nothing;
  return true;
end
$$;
comment on function parley_internal.add_conversation_member(uuid, uuid, text, uuid) is
  'Add a roster row and the member''s inbox entry (watermarks at the newest message; history cut-off for since_joined groups). False if already a member.';
select parley_internal.restrict_function('parley_internal.add_conversation_member(uuid, uuid, text, uuid)', '{}');

create or replace function parley_internal.require_organization_member(organization_id uuid, user_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if organization_id is null or not parley_internal.is_organization_member(organization_id, user_id) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  perform parley_internal.require_feature(organization_id, 'chat');
end
$$;
comment on function parley_internal.require_organization_member(uuid, uuid) is
  'Refuse (PT404 organization_not_found) unless the user belongs to the organization, and (PT402) unless its plan includes chat.';
select parley_internal.restrict_function('parley_internal.require_organization_member(uuid, uuid)', '{}');

create or replace function parley_internal.readable_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_row public.conversations;
begin
  select * into found_row from public.conversations c where c.id = readable_conversation.conversation_id;
  if not found or not parley_internal.can_read_conversation(found_row.id, readable_conversation.user_id) then
    -- Outsiders cannot tell another organization's conversation from a missing one.
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  return found_row;
end
$$;
comment on function parley_internal.readable_conversation(uuid, uuid) is
  'The conversation row if the user may read it; otherwise refuse with PT404 conversation_not_found.';
select parley_internal.restrict_function('parley_internal.readable_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.lock_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.conversations;
begin
  -- Refuse (404) before locking: an outsider never takes a lock on another organization's row.
  perform parley_internal.readable_conversation(lock_conversation.conversation_id, lock_conversation.user_id);
  select * into locked from public.conversations c where c.id = lock_conversation.conversation_id for no key update;
  return locked;
end
$$;
comment on function parley_internal.lock_conversation(uuid, uuid) is
  'Lock a conversation the user can read (FOR NO KEY UPDATE: serializes its membership and status changes, never blocks sends); refuse PT404 if unreadable.';
select parley_internal.restrict_function('parley_internal.lock_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.lock_group(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.conversations := parley_internal.lock_conversation(lock_group.conversation_id, lock_group.user_id);
begin
  if locked.kind <> 'group' then
    perform parley_internal.refuse('PT409', 'not_a_group', 'Only group conversations have roles and settings.',
      'Direct, support and notices conversations have fixed members.');
  end if;
  return locked;
end
$$;
comment on function parley_internal.lock_group(uuid, uuid) is
  'Lock a group conversation the user can read (lock_conversation); refuse PT404 if unreadable, PT409 not_a_group.';
select parley_internal.restrict_function('parley_internal.lock_group(uuid, uuid)', '{}');

create or replace function parley_internal.require_group_role(conversation_id uuid, user_id uuid, roles text[])
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  current_role_name text := parley_internal.conversation_role(require_group_role.conversation_id,
                                                              require_group_role.user_id);
begin
  -- chat.manage_group (issue 12): a group member holding it in the group's organization acts as a group admin
  -- (settings and membership; the owner's own rights stay the owner's).
  if current_role_name = 'member' and 'admin' = any (roles)
     and parley_internal.has_permission(
           (select c.organization_id from public.conversations c where c.id = require_group_role.conversation_id),
           'chat.manage_group', require_group_role.user_id) then
    current_role_name := 'admin';
  end if;
  if current_role_name is null or not current_role_name = any (roles) then
    perform parley_internal.refuse('42501', 'no_permission',
      pg_catalog.format('Only the group''s %s may do this.', pg_catalog.array_to_string(roles, ' or ')),
      'Ask the group''s owner.');
  end if;
  return current_role_name;
end
$$;
comment on function parley_internal.require_group_role(uuid, uuid, text[]) is
  'The user''s group role (a member holding chat.manage_group counts as admin); refuse (42501 no_permission) unless it is one of roles.';
select parley_internal.restrict_function('parley_internal.require_group_role(uuid, uuid, text[])', '{}');

create or replace function parley_internal.announce_membership_change(
  conversation_id uuid, event text, actor_id uuid, user_ids uuid[]
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  actor_name text;
  names text;
begin
  if user_ids is null or pg_catalog.cardinality(user_ids) = 0 then
    return;
  end if;
  select coalesce((select p.display_name from public.profiles p where p.id = actor_id), 'Someone') into actor_name;
  select pg_catalog.string_agg(coalesce(p.display_name, 'someone'), ', ' order by u.position)
    into names
  from pg_catalog.unnest(user_ids) with ordinality as u(id, position)
  left join public.profiles p on p.id = u.id;
  perform parley_internal.post_system_message(
    conversation_id,
    case event
      when 'group_created' then actor_name || ' created the group'
      when 'member_added' then actor_name || ' added ' || names
      when 'member_removed' then actor_name || ' removed ' || names
      when 'member_left' then names || ' left'
      when 'member_promoted' then actor_name || ' made ' || names || ' an admin'
      when 'member_demoted' then actor_name || ' made ' || names || ' a member'
      when 'ownership_transferred' then actor_name || ' made ' || names || ' the owner'
    end,
    pg_catalog.jsonb_build_object('event', event, 'actor_id', actor_id, 'user_ids', pg_catalog.to_jsonb(user_ids)));
end
$$;
comment on function parley_internal.announce_membership_change(uuid, text, uuid, uuid[]) is
  'Post the system message for a group membership change ("Ann added Bob"); metadata {event, actor_id, user_ids} lets clients render it in their own words.';
select parley_internal.restrict_function('parley_internal.announce_membership_change(uuid, text, uuid, uuid[])', '{}');

create or replace function parley_internal.subject_conversation_for(organization_id uuid, user_id uuid, kind text)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  conversation uuid;
begin
  insert into public.conversations (organization_id, kind, subject_user_id, support_status, created_by)
  values (subject_conversation_for.organization_id, subject_conversation_for.kind, subject_conversation_for.user_id,
          case when subject_conversation_for.kind = 'support' then 'open' end, subject_conversation_for.user_id)
  on conflict (organization_id, kind, subject_user_id) where kind in ('support', 'notices') do nothing
  returning id into conversation;
  if conversation is not null then
    perform parley_internal.add_conversation_member(conversation, subject_conversation_for.user_id, 'member', null);
    return conversation;
  end if;
  select c.id into strict conversation from public.conversations c
  where c.organization_id = subject_conversation_for.organization_id and c.kind = subject_conversation_for.kind
    and c.subject_user_id = subject_conversation_for.user_id;
  return conversation;
end
$$;
comment on function parley_internal.subject_conversation_for(uuid, uuid, text) is
  'Get or create the user''s support or notices conversation in the organization (race-safe); returns its id.';
select parley_internal.restrict_function('parley_internal.subject_conversation_for(uuid, uuid, text)', '{}');

-- Get-or-create RPCs ------------------------------------------------------

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

create or replace function parley_internal.get_or_create_support_conversation(organization_id uuid)
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
  perform parley_internal.require_organization_member(get_or_create_support_conversation.organization_id, caller);
  conversation := parley_internal.subject_conversation_for(get_or_create_support_conversation.organization_id, caller, 'support');
  select * into result from public.conversations c where c.id = conversation;
  return result;
end
$$;
comment on function parley_internal.get_or_create_support_conversation(uuid) is
  'Your "Help & Support" conversation with the organization''s staff (one per user per organization), created on first use.';
select parley_internal.publish_function('parley_internal.get_or_create_support_conversation(uuid)');

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

-- Groups ------------------------------------------------------------------

create or replace function parley_internal.validate_group_settings(
  title text, description text, avatar_url text, posting_policy text, history_visibility text,
  slow_mode_seconds integer
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if title ~ '[[:cntrl:]\u0080-\u009f]' or description ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'Titles and descriptions cannot contain control characters.',
      'Remove them.');
  end if;
  if title is not null and pg_catalog.length(parley_internal.trim_whitespace(title)) not between 1 and 120 then
    perform parley_internal.refuse('P0001', 'invalid_title', 'A group title has 1 to 120 characters.',
      'Choose a shorter or non-empty title.');
  end if;
  if description is not null and pg_catalog.length(description) > 2000 then
    perform parley_internal.refuse('P0001', 'invalid_description', 'A description has at most 2000 characters.',
      'Shorten it.');
  end if;
  if avatar_url is not null and avatar_url <> '' and avatar_url !~ '^https?://[^[:space:]]+$' then
    perform parley_internal.refuse('P0001', 'invalid_avatar_url', 'An avatar URL is an http(s) URL.',
      'Upload the avatar and use its URL.');
  end if;
  if posting_policy is not null and posting_policy not in ('everyone', 'admins') then
    perform parley_internal.refuse('P0001', 'invalid_posting_policy', 'posting_policy is everyone or admins.',
      'Use admins for announcement groups.');
  end if;
  if history_visibility is not null and history_visibility not in ('shared', 'since_joined') then
    perform parley_internal.refuse('P0001', 'invalid_history_visibility', 'history_visibility is shared or since_joined.',
      'shared shows new members all history.');
  end if;
  if slow_mode_seconds is not null and slow_mode_seconds not between 0 and 21600 then
    perform parley_internal.refuse('P0001', 'invalid_slow_mode', 'slow_mode_seconds is between 0 and 21600 (6 hours).',
      'Use 0 to turn slow mode off.');
  end if;
end
$$;
comment on function parley_internal.validate_group_settings(text, text, text, text, text, integer) is
  'Refuse (P0001) invalid group settings; null arguments are not checked.';
select parley_internal.restrict_function('parley_internal.validate_group_settings(text, text, text, text, text, integer)', '{}');

create or replace function parley_internal.require_addable_members(organization_id uuid, user_ids uuid[])
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  wanted uuid[];
begin
  -- Shape and a raw length bound before any work on the elements (issue 20).
  perform parley_internal.require_flat_id_list(user_ids, 'invalid_user_ids', 'user_ids');
  if pg_catalog.cardinality(user_ids) > 5000 then
    perform parley_internal.refuse('P0001', 'too_many_members', 'Add at most 500 members per call.',
      'Split the list.');
  end if;
  wanted := array(select distinct u from pg_catalog.unnest(coalesce(user_ids, '{}')) as u where u is not null);
  if pg_catalog.cardinality(wanted) > 500 then
    perform parley_internal.refuse('P0001', 'too_many_members', 'Add at most 500 members per call.',
      'Split the list.');
  end if;
  if exists (select 1 from pg_catalog.unnest(wanted) as u
             where not parley_internal.is_organization_member(require_addable_members.organization_id, u)) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'Some of these users are not members of the organization.',
      'Groups hold members of their organization only.');
  end if;
  return wanted;
end
$$;
comment on function parley_internal.require_addable_members(uuid, uuid[]) is
  'The distinct non-null user ids, refused (PT404 user_not_found) unless all belong to the organization, at most 500.';
select parley_internal.restrict_function('parley_internal.require_addable_members(uuid, uuid[])', '{}');

create or replace function parley_internal.create_group_conversation(
  organization_id uuid,
  title text,
  description text default null,
  avatar_url text default null,
  member_ids uuid[] default '{}',
  posting_policy text default 'everyone',
  history_visibility text default 'shared',
  slow_mode_seconds integer default 0
)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  members uuid[];
  member uuid;
  created public.conversations;
begin
  if title is null then
    perform parley_internal.refuse('P0001', 'invalid_title', 'A group needs a title.', 'Name the group.');
  end if;
  perform parley_internal.validate_group_settings(title, description, nullif(avatar_url, ''),
    coalesce(posting_policy, 'everyone'), coalesce(history_visibility, 'shared'), coalesce(slow_mode_seconds, 0));
  perform parley_internal.require_organization_member(create_group_conversation.organization_id, caller);
  if not parley_internal.has_permission(create_group_conversation.organization_id, 'chat.create_group', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'You may not create groups in this organization.',
      'Ask an owner or admin for the chat.create_group permission.');
  end if;
  members := parley_internal.require_addable_members(create_group_conversation.organization_id, member_ids);
  perform parley_internal.require_group_addable(null, caller, members);  -- blocks and privacy (group_safety.sql)
  insert into public.conversations (organization_id, kind, title, description, avatar_url, posting_policy,
                                    history_visibility, slow_mode_seconds, created_by)
  values (create_group_conversation.organization_id, 'group', pg_catalog.btrim(title), nullif(description, ''),
          nullif(avatar_url, ''), coalesce(posting_policy, 'everyone'), coalesce(history_visibility, 'shared'),
          coalesce(slow_mode_seconds, 0), caller)
  returning * into created;
  perform parley_internal.add_conversation_member(created.id, caller, 'owner', null);
  perform parley_internal.announce_membership_change(created.id, 'group_created', caller, array[caller]);
  foreach member in array members loop
    if member <> caller then
      perform parley_internal.add_conversation_member(created.id, member, 'member', caller);
    end if;
  end loop;
  perform parley_internal.announce_membership_change(created.id, 'member_added', caller,
    array(select m from pg_catalog.unnest(members) as m where m <> caller));
  return created;
end
$$;
comment on function parley_internal.create_group_conversation(uuid, text, text, text, uuid[], text, text, integer) is
  'Create a group in the organization (needs chat.create_group); you become its owner and the listed organization members join.';
select parley_internal.publish_function('parley_internal.create_group_conversation(uuid, text, text, text, uuid[], text, text, integer)');

create or replace function parley_internal.update_group_conversation(
  conversation_id uuid,
  title text default null,
  description text default null,
  avatar_url text default null,
  posting_policy text default null,
  history_visibility text default null,
  slow_mode_seconds integer default null
)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  updated public.conversations;
begin
  if num_nonnulls(title, description, avatar_url, posting_policy, history_visibility, slow_mode_seconds) = 0 then
    perform parley_internal.refuse('P0001', 'nothing_to_change', 'Pass at least one setting to change.',
      'Null arguments leave a setting unchanged; an empty string clears description or avatar_url.');
  end if;
  perform parley_internal.validate_group_settings(title, description, nullif(avatar_url, ''), posting_policy,
                                                  history_visibility, slow_mode_seconds);
  perform parley_internal.lock_group(update_group_conversation.conversation_id, caller);
  perform parley_internal.require_group_role(update_group_conversation.conversation_id, caller, '{owner,admin}');
  update public.conversations c set
    title = coalesce(pg_catalog.btrim(update_group_conversation.title), c.title),
    description = case when update_group_conversation.description is null then c.description
                       else nullif(update_group_conversation.description, '') end,
    avatar_url = case when update_group_conversation.avatar_url is null then c.avatar_url
                      else nullif(update_group_conversation.avatar_url, '') end,
    posting_policy = coalesce(update_group_conversation.posting_policy, c.posting_policy),
    history_visibility = coalesce(update_group_conversation.history_visibility, c.history_visibility),
    slow_mode_seconds = coalesce(update_group_conversation.slow_mode_seconds, c.slow_mode_seconds),
    updated_at = pg_catalog.now()
  where c.id = update_group_conversation.conversation_id
  returning * into updated;
  return updated;
end
$$;
comment on function parley_internal.update_group_conversation(uuid, text, text, text, text, text, integer) is
  'Group owners and admins: change title, description, avatar, who may post (everyone/admins), history visibility for new members, slow mode. Null leaves a setting unchanged.';
select parley_internal.publish_function('parley_internal.update_group_conversation(uuid, text, text, text, text, text, integer)');

create or replace function parley_internal.add_conversation_members(conversation_id uuid, user_ids uuid[])
returns setof public.conversation_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  members uuid[];
  member uuid;
  added uuid[] := '{}';
begin
  if user_ids is null or pg_catalog.cardinality(user_ids) = 0 then
    perform parley_internal.refuse('P0001', 'no_users', 'Name at least one user to add.', 'Pass user_ids.');
  end if;
  locked := parley_internal.lock_group(add_conversation_members.conversation_id, caller);
  perform parley_internal.require_group_role(locked.id, caller, '{owner,admin}');
  members := parley_internal.require_addable_members(locked.organization_id, user_ids);
  perform parley_internal.require_group_addable(locked.id, caller, members);  -- blocks, privacy, leaving sticks
  foreach member in array members loop
    if parley_internal.add_conversation_member(locked.id, member, 'member', caller) then
      added := added || member;
    end if;
  end loop;
  perform parley_internal.announce_membership_change(locked.id, 'member_added', caller, added);
  return query select m.* from public.conversation_members m
    where m.conversation_id = locked.id and m.user_id = any (members) order by m.user_id;
end
$$;
comment on function parley_internal.add_conversation_members(uuid, uuid[]) is
  'Group owners and admins: add members of the organization (already-members are kept as they are); returns the roster rows of the listed users.';
select parley_internal.publish_function('parley_internal.add_conversation_members(uuid, uuid[])');

create or replace function parley_internal.remove_conversation_member(conversation_id uuid, user_id uuid)
returns public.conversation_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
  removed public.conversation_members;
begin
  perform parley_internal.lock_group(remove_conversation_member.conversation_id, caller);
  caller_role := parley_internal.require_group_role(remove_conversation_member.conversation_id, caller, '{owner,admin}');
  if remove_conversation_member.user_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'Use leave_conversation to leave.', 'Call leave_conversation.');
  end if;
  select * into removed from public.conversation_members m
  where m.conversation_id = remove_conversation_member.conversation_id and m.user_id = remove_conversation_member.user_id;
  if not found then
    perform parley_internal.refuse('PT404', 'member_not_found', 'This user is not a member of the group.',
      'Check the user id.');
  end if;
  if removed.role = 'owner' or (removed.role = 'admin' and caller_role <> 'owner') then
    perform parley_internal.refuse('42501', 'no_permission', 'Only the owner removes admins; nobody removes the owner.',
      'Ask the owner, or transfer ownership first.');
  end if;
  delete from public.conversation_members m
  where m.conversation_id = removed.conversation_id and m.user_id = removed.user_id;
  perform parley_internal.announce_membership_change(removed.conversation_id, 'member_removed', caller,
                                                     array[removed.user_id]);
  return removed;
end
$$;
comment on function parley_internal.remove_conversation_member(uuid, uuid) is
  'Group owners and admins: remove a member (only the owner removes admins; the owner cannot be removed). Returns the removed roster row.';
select parley_internal.publish_function('parley_internal.remove_conversation_member(uuid, uuid)');

create or replace function parley_internal.leave_conversation(conversation_id uuid)
returns public.conversation_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  leaving public.conversation_members;
begin
  select * into locked from public.conversations c where c.id = leave_conversation.conversation_id;
  if not found or not parley_internal.is_conversation_member(locked.id, caller) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  if locked.kind <> 'group' then
    perform parley_internal.refuse('PT409', 'cannot_leave', 'Direct, support and notices conversations cannot be left.',
      'Archive or hide it instead.');
  end if;
  perform parley_internal.lock_group(locked.id, caller);
  select * into leaving from public.conversation_members m where m.conversation_id = locked.id and m.user_id = caller;
  if leaving.role = 'owner' then
    if exists (select 1 from public.conversation_members m where m.conversation_id = locked.id and m.user_id <> caller) then
      perform parley_internal.refuse('PT409', 'owner_must_transfer', 'The owner cannot leave a group with other members.',
        'Transfer ownership with transfer_conversation_ownership first.');
    end if;
  end if;
  delete from public.conversation_members m where m.conversation_id = locked.id and m.user_id = caller;
  perform parley_internal.record_group_departure(locked.id, caller);  -- leaving sticks (group_safety.sql)
  perform parley_internal.announce_membership_change(locked.id, 'member_left', caller, array[caller]);
  return leaving;
end
$$;
comment on function parley_internal.leave_conversation(uuid) is
  'Leave a group (the owner transfers ownership first unless they are the last member). Returns your former roster row.';
select parley_internal.publish_function('parley_internal.leave_conversation(uuid)');

create or replace function parley_internal.set_conversation_member_role(conversation_id uuid, user_id uuid, role text)
returns public.conversation_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
  target public.conversation_members;
  updated public.conversation_members;
begin
  if role is null or role not in ('admin', 'member') then
    perform parley_internal.refuse('P0001', 'invalid_role', 'A group role is admin or member.',
      'Use transfer_conversation_ownership to hand over ownership.');
  end if;
  perform parley_internal.lock_group(set_conversation_member_role.conversation_id, caller);
  caller_role := parley_internal.require_group_role(set_conversation_member_role.conversation_id, caller, '{owner,admin}');
  select * into target from public.conversation_members m
  where m.conversation_id = set_conversation_member_role.conversation_id and m.user_id = set_conversation_member_role.user_id;
  if not found then
    perform parley_internal.refuse('PT404', 'member_not_found', 'This user is not a member of the group.',
      'Add them first.');
  end if;
  if target.role = 'owner' then
    perform parley_internal.refuse('PT409', 'owner_role_fixed', 'The owner''s role changes only by transferring ownership.',
      'Use transfer_conversation_ownership.');
  end if;
  if caller_role <> 'owner' and (target.role = 'admin' or role = 'member') then
    perform parley_internal.refuse('42501', 'no_permission', 'Admins promote members; only the owner demotes admins.',
      'Ask the owner.');
  end if;
  if target.role = role then
    perform parley_internal.refuse('PT409', 'role_unchanged', pg_catalog.format('This member already is %s.', role),
      'Nothing to change.');
  end if;
  update public.conversation_members m set role = set_conversation_member_role.role
  where m.conversation_id = target.conversation_id and m.user_id = target.user_id
  returning * into updated;
  perform parley_internal.announce_membership_change(target.conversation_id,
    case when role = 'admin' then 'member_promoted' else 'member_demoted' end, caller, array[target.user_id]);
  return updated;
end
$$;
comment on function parley_internal.set_conversation_member_role(uuid, uuid, text) is
  'Promote a group member to admin (owner or admins) or demote an admin to member (owner only). Returns the updated roster row.';
select parley_internal.publish_function('parley_internal.set_conversation_member_role(uuid, uuid, text)');

create or replace function parley_internal.transfer_conversation_ownership(conversation_id uuid, new_owner_id uuid)
returns public.conversation_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  updated public.conversation_members;
begin
  perform parley_internal.lock_group(transfer_conversation_ownership.conversation_id, caller);
  perform parley_internal.require_group_role(transfer_conversation_ownership.conversation_id, caller, '{owner}');
  if new_owner_id is null or new_owner_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'Name another member as the new owner.', 'Pick a member of the group.');
  end if;
  if not parley_internal.is_conversation_member(transfer_conversation_ownership.conversation_id, new_owner_id) then
    perform parley_internal.refuse('PT404', 'member_not_found', 'The new owner must be a member of the group.',
      'Add them first.');
  end if;
  update public.conversation_members m set role = 'admin'
  where m.conversation_id = transfer_conversation_ownership.conversation_id and m.user_id = caller;
  update public.conversation_members m set role = 'owner'
  where m.conversation_id = transfer_conversation_ownership.conversation_id and m.user_id = new_owner_id
  returning * into updated;
  perform parley_internal.announce_membership_change(transfer_conversation_ownership.conversation_id,
    'ownership_transferred', caller, array[new_owner_id]);
  return updated;
end
$$;
comment on function parley_internal.transfer_conversation_ownership(uuid, uuid) is
  'Group owner: make another member the owner; you become an admin. Returns the new owner''s roster row.';
select parley_internal.publish_function('parley_internal.transfer_conversation_ownership(uuid, uuid)');

-- Support -------------------------------------------------------------------

create or replace function parley_internal.lock_support_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.conversations := parley_internal.lock_conversation(lock_support_conversation.conversation_id,
                                                                   lock_support_conversation.user_id);
begin
  if locked.kind <> 'support' then
    perform parley_internal.refuse('PT409', 'not_support', 'Only support conversations have a status and an assignee.',
      'Check the conversation id.');
  end if;
  if not parley_internal.is_conversation_staff(locked.id, lock_support_conversation.user_id) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only support agents change support conversations.',
      'Ask an owner or admin for the chat.support_agent permission.');
  end if;
  return locked;
end
$$;
comment on function parley_internal.lock_support_conversation(uuid, uuid) is
  'Lock a support conversation for a support agent of its organization; refuse otherwise.';
select parley_internal.restrict_function('parley_internal.lock_support_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.set_support_status(conversation_id uuid, status text)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  updated public.conversations;
begin
  if status is null or status not in ('open', 'pending', 'resolved') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A support status is open, pending or resolved.',
      'Pass one of them.');
  end if;
  locked := parley_internal.lock_support_conversation(set_support_status.conversation_id, caller);
  if locked.support_status = status then
    perform parley_internal.refuse('PT409', 'status_unchanged', pg_catalog.format('The conversation already is %s.', status),
      'Nothing to change.');
  end if;
  update public.conversations c set support_status = set_support_status.status, updated_at = pg_catalog.now()
  where c.id = locked.id returning * into updated;
  return parley_internal.with_support_assignee(updated);
end
$$;
comment on function parley_internal.set_support_status(uuid, text) is
  'Support agents: set a support conversation''s status (open, pending, resolved).';
select parley_internal.publish_function('parley_internal.set_support_status(uuid, text)');

create or replace function parley_internal.assign_support_conversation(conversation_id uuid, assignee_id uuid default null)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  updated public.conversations;
begin
  locked := parley_internal.lock_support_conversation(assign_support_conversation.conversation_id, caller);
  if assignee_id is not null
     and not parley_internal.has_permission(locked.organization_id, 'chat.support_agent', assignee_id) then
    perform parley_internal.refuse('PT404', 'agent_not_found', 'The assignee must be a support agent of the organization.',
      'Pick a member with chat.support_agent.');
  end if;
  -- The assignee is kept out of the conversation row, which the customer reads (issue 12).
  if (select a.assignee_id from parley_internal.support_assignments a where a.conversation_id = locked.id)
     is not distinct from assignee_id then
    perform parley_internal.refuse('PT409', 'assignee_unchanged', 'The conversation already has this assignee.',
      'Nothing to change.');
  end if;
  if assignee_id is null then
    delete from parley_internal.support_assignments a where a.conversation_id = locked.id;
  else
    insert into parley_internal.support_assignments as a (conversation_id, assignee_id)
    values (locked.id, assign_support_conversation.assignee_id)
    on conflict on constraint support_assignments_pkey
    do update set assignee_id = excluded.assignee_id, assigned_at = excluded.assigned_at;
  end if;
  update public.conversations c set updated_at = pg_catalog.now()
  where c.id = locked.id returning * into updated;
  return parley_internal.with_support_assignee(updated);
end
$$;
comment on function parley_internal.assign_support_conversation(uuid, uuid) is
  'Support agents: assign a support conversation to an agent of the organization (null unassigns). The result shows the assignee; the customer never sees it.';
select parley_internal.publish_function('parley_internal.assign_support_conversation(uuid, uuid)');

create or replace function parley_internal.get_support_queue(
  organization_id uuid, status text default 'open', after_conversation_id uuid default null, page_size integer default 50
)
returns setof public.conversations
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.require_organization_member(get_support_queue.organization_id, caller);
  if not parley_internal.has_permission(get_support_queue.organization_id, 'chat.support_agent', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only support agents see the support queue.',
      'Ask an owner or admin for the chat.support_agent permission.');
  end if;
  if status is not null and status not in ('open', 'pending', 'resolved') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A support status is open, pending or resolved.',
      'Pass one of them, or null for all.');
  end if;
  if page_size is null or page_size not between 1 and 200 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 200.', 'Use 50.');
  end if;
  return query
    select shown.* from public.conversations c
    cross join lateral parley_internal.with_support_assignee(c) as shown
    where c.organization_id = get_support_queue.organization_id and c.kind = 'support'
      and (get_support_queue.status is null or c.support_status = get_support_queue.status)
      and (get_support_queue.after_conversation_id is null or c.id > get_support_queue.after_conversation_id)
    order by c.id
    limit get_support_queue.page_size;
end
$$;
comment on function parley_internal.get_support_queue(uuid, text, uuid, integer) is
  'Support agents: the organization''s support conversations with a status (null for all), paged by id (pass the last id as after_conversation_id).';
select parley_internal.publish_function('parley_internal.get_support_queue(uuid, text, uuid, integer)');
