-- Organizations: membership helpers (the contract issue 4 relies on), the
-- owner invariant, and the RPCs that create organizations, invite, accept,
-- leave, change roles and transfer ownership.
--
-- Every RPC that changes memberships locks the organization row first
-- (FOR NO KEY UPDATE: serializes membership changes of one organization
-- without blocking inserts that merely reference it).

create or replace function parley_internal.require_user()
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  current_id uuid := auth.uid();
begin
  if current_id is null then
    perform parley_internal.refuse('42501', 'unauthenticated', 'Sign in first.',
      'Send a user access token with the request.');
  end if;
  -- A still-valid token of a deleted account (issue 20): refused here, not by a foreign key (409) later.
  if not exists (select 1 from auth.users u where u.id = current_id) then
    perform parley_internal.refuse('PT401', 'account_deleted', 'This account no longer exists.',
      'Sign in with an existing account.');
  end if;
  return current_id;
end
$$;
comment on function parley_internal.require_user() is
  'The current user''s id; refuses with 42501 unauthenticated when there is none, PT401 account_deleted when the token''s user no longer exists.';
revoke all on function parley_internal.require_user() from public, anon, authenticated, service_role;
grant execute on function parley_internal.require_user() to service_role;

create or replace function parley_internal.is_organization_member(organization_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_members m
    where m.organization_id = is_organization_member.organization_id
      and m.user_id = is_organization_member.user_id
  )
$$;
comment on function parley_internal.is_organization_member(uuid, uuid) is
  'Whether the user belongs to the organization (any role, guests included).';
revoke all on function parley_internal.is_organization_member(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.is_organization_member(uuid, uuid) to service_role;

create or replace function parley_internal.organization_role(organization_id uuid, user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role from public.organization_members m
  where m.organization_id = organization_role.organization_id
    and m.user_id = organization_role.user_id
$$;
comment on function parley_internal.organization_role(uuid, uuid) is
  'The user''s role in the organization (owner, admin, member, guest), or null if not a member.';
revoke all on function parley_internal.organization_role(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.organization_role(uuid, uuid) to service_role;

create or replace function parley_internal.is_organization_admin(organization_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(parley_internal.organization_role(is_organization_admin.organization_id,
                                                    is_organization_admin.user_id) in ('owner', 'admin'), false)
$$;
comment on function parley_internal.is_organization_admin(uuid, uuid) is
  'Whether the user is an owner or admin of the organization.';
revoke all on function parley_internal.is_organization_admin(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.is_organization_admin(uuid, uuid) to service_role;

create or replace function parley_internal.shares_organization(user_a uuid, user_b uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.organization_members a
    join public.organization_members b on b.organization_id = a.organization_id
    where a.user_id = shares_organization.user_a
      and b.user_id = shares_organization.user_b
  )
$$;
comment on function parley_internal.shares_organization(uuid, uuid) is
  'Whether the two users are members (any role) of at least one common organization.';
revoke all on function parley_internal.shares_organization(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.shares_organization(uuid, uuid) to service_role;

-- Policy helpers: the current user only (auth.uid()), no user argument, so an
-- API role calling them can learn nothing about anyone else (issue 20 finding
-- 4). The helpers above take a user id and are for definer code only.

create or replace function parley_internal.my_organization_member(organization_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_organization_member(my_organization_member.organization_id, (select auth.uid()))
$$;
comment on function parley_internal.my_organization_member(uuid) is
  'Policy helper: whether the current user belongs to the organization.';
select parley_internal.restrict_function('parley_internal.my_organization_member(uuid)', '{authenticated}');

create or replace function parley_internal.my_organization_admin(organization_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_organization_admin(my_organization_admin.organization_id, (select auth.uid()))
$$;
comment on function parley_internal.my_organization_admin(uuid) is
  'Policy helper: whether the current user is an owner or admin of the organization.';
select parley_internal.restrict_function('parley_internal.my_organization_admin(uuid)', '{authenticated}');

-- Lock an organization for a membership change; refuse if it does not exist.
create or replace function parley_internal.lock_organization(organization_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform 1 from public.organizations o where o.id = lock_organization.organization_id for no key update;
  if not found then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id.');
  end if;
end
$$;
comment on function parley_internal.lock_organization(uuid) is
  'Lock the organization row (FOR NO KEY UPDATE) to serialize membership changes; PT404 if missing.';
revoke all on function parley_internal.lock_organization(uuid) from public, anon, authenticated, service_role;

-- The owner invariant, enforced whatever the writer (RPC or service_role).
create or replace function parley_internal.check_organization_has_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner' and new.organization_id = old.organization_id) then
    return null;
  end if;
  -- Serialize with every other membership change of this organization, then
  -- look again with a fresh snapshot. A deleted organization needs no owner.
  perform 1 from public.organizations o where o.id = old.organization_id for no key update;
  if not found then
    return null;
  end if;
  if not exists (select 1 from public.organization_members m
                 where m.organization_id = old.organization_id and m.role = 'owner') then
    perform parley_internal.refuse('PT409', 'last_owner', 'An organization must keep at least one owner.',
      'Make another member an owner first (transfer_ownership or set_member_role).');
  end if;
  return null;
end
$$;
comment on function parley_internal.check_organization_has_owner() is
  'Trigger: refuse (PT409 last_owner) any change that leaves an organization without an owner.';
revoke all on function parley_internal.check_organization_has_owner() from public, anon, authenticated, service_role;

drop trigger if exists organization_members_keep_an_owner on public.organization_members;
create trigger organization_members_keep_an_owner
  after update or delete on public.organization_members
  for each row execute function parley_internal.check_organization_has_owner();

create or replace function parley_internal.create_organization(name text)
returns public.organizations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  trimmed text := parley_internal.trim_whitespace(coalesce(create_organization.name, ''));
  created public.organizations;
begin
  if pg_catalog.length(trimmed) not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_organization_name',
      'An organization name has 1 to 100 characters.', 'Choose a shorter or non-empty name.');
  end if;
  if trimmed ~ '[[:cntrl:]\u0080-\u009f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'Names cannot contain control characters.',
      'Remove them.');
  end if;
  insert into public.organizations (name, created_by) values (trimmed, caller) returning * into created;
  insert into public.organization_members (organization_id, user_id, role) values (created.id, caller, 'owner');
  return created;
end
$$;
comment on function parley_internal.create_organization(text) is
  'Create an organization; the caller becomes its owner. Starts on the default plan.';
select parley_internal.publish_function('parley_internal.create_organization(text)');

create or replace function parley_internal.create_invitation(
  organization_id uuid,
  role text default 'member',
  email text default null,
  expires_in_hours integer default 168,
  out invitation_id uuid,
  out token text,
  out expires_at timestamptz
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
begin
  if create_invitation.role is null or create_invitation.role not in ('admin', 'member', 'guest') then
    perform parley_internal.refuse('P0001', 'invalid_role', 'Invitations grant admin, member or guest.',
      'Owners are made with transfer_ownership or set_member_role.');
  end if;
  if create_invitation.expires_in_hours is null or create_invitation.expires_in_hours not between 1 and 720 then
    perform parley_internal.refuse('P0001', 'invalid_expiry', 'An invitation expires after 1 to 720 hours.',
      'Pass expires_in_hours between 1 and 720.');
  end if;
  if create_invitation.email is not null and (create_invitation.email !~ '^[^@\s]+@[^@\s]+$'
                                             or pg_catalog.length(create_invitation.email) > 320) then
    perform parley_internal.refuse('P0001', 'invalid_email', 'That is not an email address (at most 320 characters).',
      'Pass a valid email, or null for an open invitation.');
  end if;
  caller_role := parley_internal.organization_role(create_invitation.organization_id, caller);
  if caller_role is null then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if caller_role not in ('owner', 'admin') then
    perform parley_internal.refuse('42501', 'no_permission', 'Only owners and admins invite.',
      'Ask an owner or admin of the organization.');
  end if;
  token := pg_catalog.replace(gen_random_uuid()::text, '-', '') || pg_catalog.replace(gen_random_uuid()::text, '-', '');
  insert into public.organization_invitations (organization_id, role, email, token_hash, invited_by, expires_at)
  values (create_invitation.organization_id, create_invitation.role, pg_catalog.lower(create_invitation.email),
          pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(token, 'UTF8')), 'hex'), caller,
          pg_catalog.now() + pg_catalog.make_interval(hours => create_invitation.expires_in_hours))
  returning id, organization_invitations.expires_at into invitation_id, expires_at;
end
$$;
comment on function parley_internal.create_invitation(uuid, text, text, integer) is
  'Owners/admins: invite to the organization with a role (admin, member, guest). Returns the secret token once.';
select parley_internal.publish_function('parley_internal.create_invitation(uuid, text, text, integer)');

create or replace function parley_internal.revoke_invitation(invitation_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  invitation public.organization_invitations;
begin
  select * into invitation from public.organization_invitations i where i.id = revoke_invitation.invitation_id;
  if not found or not parley_internal.is_organization_admin(invitation.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'invitation_not_found', 'No such invitation.',
      'Only owners and admins of its organization see and revoke invitations.');
  end if;
  delete from public.organization_invitations i where i.id = invitation.id and i.accepted_at is null;
  if not found then
    perform parley_internal.refuse('PT409', 'invitation_used', 'The invitation was already accepted.',
      'Remove the member instead.');
  end if;
end
$$;
comment on function parley_internal.revoke_invitation(uuid) is 'Owners/admins: delete an unused invitation.';
select parley_internal.publish_function('parley_internal.revoke_invitation(uuid)');

create or replace function parley_internal.accept_invitation(token text)
returns public.organization_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  invitation public.organization_invitations;
  joined public.organization_members;
  caller_email text;
begin
  if accept_invitation.token is null or accept_invitation.token !~ '^[0-9a-f]{64}$' then
    perform parley_internal.refuse('P0001', 'invalid_token', 'That is not an invitation token.',
      'Use the token exactly as the invitation gave it.');
  end if;
  select * into invitation from public.organization_invitations i
  where i.token_hash = pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(accept_invitation.token, 'UTF8')), 'hex')
  for update;
  if not found then
    perform parley_internal.refuse('PT404', 'invitation_not_found', 'No such invitation.',
      'The token is wrong or the invitation was revoked.');
  end if;
  if invitation.accepted_at is not null then
    perform parley_internal.refuse('PT409', 'invitation_used', 'This invitation was already used.',
      'Ask for a new invitation.');
  end if;
  if invitation.expires_at <= pg_catalog.now() then
    perform parley_internal.refuse('PT409', 'invitation_expired', 'This invitation has expired.',
      'Ask for a new invitation.');
  end if;
  if invitation.email is not null then
    -- The verified account email from auth.users, never user metadata.
    select pg_catalog.lower(u.email) into caller_email from auth.users u where u.id = caller;
    if caller_email is distinct from invitation.email then
      perform parley_internal.refuse('42501', 'invitation_email_mismatch',
        'This invitation is for another email address.', 'Sign in with the invited account.');
    end if;
  end if;
  perform parley_internal.lock_organization(invitation.organization_id);
  if parley_internal.is_organization_member(invitation.organization_id, caller) then
    perform parley_internal.refuse('PT409', 'already_member', 'You already belong to this organization.',
      'Ask an owner or admin to change your role instead.');
  end if;
  insert into public.organization_members (organization_id, user_id, role)
  values (invitation.organization_id, caller, invitation.role)
  returning * into joined;
  update public.organization_invitations i set accepted_by = caller, accepted_at = pg_catalog.now()
  where i.id = invitation.id;
  return joined;
end
$$;
comment on function parley_internal.accept_invitation(text) is
  'Join an organization with an invitation token (once, before it expires). Returns the membership.';
select parley_internal.publish_function('parley_internal.accept_invitation(text)');

create or replace function parley_internal.leave_organization(organization_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.lock_organization(leave_organization.organization_id);
  delete from public.organization_members m
  where m.organization_id = leave_organization.organization_id and m.user_id = caller;
  if not found then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'You are not a member of this organization.',
      'Check the organization id.');
  end if;
end
$$;
comment on function parley_internal.leave_organization(uuid) is
  'Leave an organization. The last owner cannot leave (PT409 last_owner).';
select parley_internal.publish_function('parley_internal.leave_organization(uuid)');

-- Whether actor (with actor_role) may give target (currently target_role)
-- the role new_role. Owners manage everyone; admins manage members and
-- guests (never themselves, never owners, never creating owners).
create or replace function parley_internal.may_manage_member(
  actor uuid, actor_role text, target uuid, target_role text, new_role text
) returns boolean
language sql
immutable
set search_path = ''
as $$
  select case
    when actor_role = 'owner' then true
    when actor_role = 'admin' then actor <> target
                                   and target_role in ('member', 'guest')
                                   and coalesce(new_role, 'member') in ('admin', 'member', 'guest')
    else false
  end
$$;
comment on function parley_internal.may_manage_member(uuid, text, uuid, text, text) is
  'Role management rule: owners manage anyone; admins manage other members/guests and never create owners.';
revoke all on function parley_internal.may_manage_member(uuid, text, uuid, text, text) from public, anon, authenticated, service_role;

create or replace function parley_internal.set_member_role(organization_id uuid, user_id uuid, role text)
returns public.organization_members
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
  target_role text;
  changed public.organization_members;
begin
  if set_member_role.role is null or set_member_role.role not in ('owner', 'admin', 'member', 'guest') then
    perform parley_internal.refuse('P0001', 'invalid_role', 'A role is owner, admin, member or guest.',
      'Pass one of owner, admin, member, guest.');
  end if;
  perform parley_internal.lock_organization(set_member_role.organization_id);
  caller_role := parley_internal.organization_role(set_member_role.organization_id, caller);
  if caller_role is null then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  target_role := parley_internal.organization_role(set_member_role.organization_id, set_member_role.user_id);
  if target_role is null then
    perform parley_internal.refuse('PT404', 'member_not_found', 'That user is not a member.',
      'Invite them first.');
  end if;
  if not parley_internal.may_manage_member(caller, caller_role, set_member_role.user_id, target_role, set_member_role.role) then
    perform parley_internal.refuse('42501', 'no_permission', 'You may not give this member this role.',
      'Owners manage every role; admins manage members and guests other than themselves.');
  end if;
  update public.organization_members m set role = set_member_role.role, updated_at = pg_catalog.now()
  where m.organization_id = set_member_role.organization_id and m.user_id = set_member_role.user_id
  returning * into changed;
  return changed;
end
$$;
comment on function parley_internal.set_member_role(uuid, uuid, text) is
  'Owners/admins: change a member''s role (admins cannot touch owners, themselves, or create owners).';
select parley_internal.publish_function('parley_internal.set_member_role(uuid, uuid, text)');

create or replace function parley_internal.remove_member(organization_id uuid, user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
  target_role text;
begin
  perform parley_internal.lock_organization(remove_member.organization_id);
  caller_role := parley_internal.organization_role(remove_member.organization_id, caller);
  if caller_role is null then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  target_role := parley_internal.organization_role(remove_member.organization_id, remove_member.user_id);
  if target_role is null then
    perform parley_internal.refuse('PT404', 'member_not_found', 'That user is not a member.', 'Check the user id.');
  end if;
  if remove_member.user_id = caller then
    perform parley_internal.refuse('P0001', 'use_leave', 'Use leave_organization to leave.',
      'Call leave_organization(organization_id).');
  end if;
  if not parley_internal.may_manage_member(caller, caller_role, remove_member.user_id, target_role, null) then
    perform parley_internal.refuse('42501', 'no_permission', 'You may not remove this member.',
      'Owners remove anyone; admins remove members and guests.');
  end if;
  delete from public.organization_members m
  where m.organization_id = remove_member.organization_id and m.user_id = remove_member.user_id;
end
$$;
comment on function parley_internal.remove_member(uuid, uuid) is 'Owners/admins: remove a member from the organization.';
select parley_internal.publish_function('parley_internal.remove_member(uuid, uuid)');

create or replace function parley_internal.transfer_ownership(organization_id uuid, new_owner_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  caller_role text;
  target_role text;
begin
  if transfer_ownership.new_owner_id is null or transfer_ownership.new_owner_id = caller then
    perform parley_internal.refuse('P0001', 'invalid_new_owner', 'Transfer ownership to another member.',
      'Pass the user id of another member.');
  end if;
  -- Lock first, then read roles: a concurrent transfer sees the outcome of
  -- the one that went first.
  perform parley_internal.lock_organization(transfer_ownership.organization_id);
  caller_role := parley_internal.organization_role(transfer_ownership.organization_id, caller);
  if caller_role is null then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if caller_role <> 'owner' then
    perform parley_internal.refuse('42501', 'not_owner', 'Only an owner can transfer ownership.',
      'Ask an owner of the organization.');
  end if;
  target_role := parley_internal.organization_role(transfer_ownership.organization_id, transfer_ownership.new_owner_id);
  if target_role is null then
    perform parley_internal.refuse('PT404', 'member_not_found', 'The new owner must be a member.',
      'Invite them first.');
  end if;
  update public.organization_members m set role = 'owner', updated_at = pg_catalog.now()
  where m.organization_id = transfer_ownership.organization_id and m.user_id = transfer_ownership.new_owner_id;
  update public.organization_members m set role = 'admin', updated_at = pg_catalog.now()
  where m.organization_id = transfer_ownership.organization_id and m.user_id = caller;
end
$$;
comment on function parley_internal.transfer_ownership(uuid, uuid) is
  'Owner: make another member owner and become admin. Serialized per organization.';
select parley_internal.publish_function('parley_internal.transfer_ownership(uuid, uuid)');
