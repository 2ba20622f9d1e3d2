-- Group conversations (issue 4): roles (owner, admin, member), settings and
-- membership changes, each announced by a system message. Membership changes
-- lock the group's row (lock_conversation, functions/conversations.sql).

-- Internal building blocks -----------------------------------------------

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

-- RPCs --------------------------------------------------------------------

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
