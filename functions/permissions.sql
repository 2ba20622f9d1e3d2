-- Named permissions: the effective permission of a member is
--   owner               -> every permission (not overridable);
--   admin/member/guest  -> the organization's override if any, else the
--                          default map in public.role_permissions.

-- The rule, written once: every (organization, member, permission) the member holds.
create or replace view parley_internal.member_permissions as
  select om.organization_id, om.user_id, p.key as permission
  from public.organization_members om
  cross join public.permissions p
  where om.role = 'owner'
     or coalesce(
          (select o.granted from public.organization_role_permissions o
           where o.organization_id = om.organization_id and o.role = om.role and o.permission = p.key),
          exists (select 1 from public.role_permissions d where d.role = om.role and d.permission = p.key));
comment on view parley_internal.member_permissions is
  'Every permission each organization member holds: owners all; admins, members and guests the organization''s override if any, else the role default. Read by definer helpers only (has_permission); no API role may select it.';
revoke all on table parley_internal.member_permissions from public, anon, authenticated, service_role;

create or replace function parley_internal.has_permission(organization_id uuid, permission text, user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  -- plpgsql: one statement whose plan is cached per session (a SQL definer function is planned per call).
  return exists (select 1 from parley_internal.member_permissions p
                 where p.organization_id = has_permission.organization_id
                   and p.user_id = has_permission.user_id
                   and p.permission = has_permission.permission);
end
$$;
comment on function parley_internal.has_permission(uuid, text, uuid) is
  'Whether the user holds the named permission in the organization (role defaults plus organization overrides; owners hold all).';
revoke all on function parley_internal.has_permission(uuid, text, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.has_permission(uuid, text, uuid) to service_role;

create or replace function parley_internal.require_permission(organization_id uuid, permission text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  if not parley_internal.has_permission(require_permission.organization_id, require_permission.permission, caller) then
    perform parley_internal.refuse('42501', 'no_permission',
      pg_catalog.format('You do not have the %s permission in this organization.', require_permission.permission),
      'Ask an owner or admin of the organization.');
  end if;
end
$$;
comment on function parley_internal.require_permission(uuid, text) is
  'Refuse with 42501 no_permission unless the current user holds the permission in the organization.';
revoke all on function parley_internal.require_permission(uuid, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.require_permission(uuid, text) to service_role;

create or replace function parley_internal.require_known_permission(permission text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.permissions p where p.key = require_known_permission.permission) then
    perform parley_internal.refuse('P0001', 'unknown_permission',
      pg_catalog.format('There is no permission named %s.', coalesce(require_known_permission.permission, 'null')),
      'See public.permissions for the names.');
  end if;
end
$$;
comment on function parley_internal.require_known_permission(text) is
  'Refuse with P0001 unknown_permission unless the permission exists.';
revoke all on function parley_internal.require_known_permission(text) from public, anon, authenticated, service_role;

create or replace function parley_internal.has_permission(organization_id uuid, permission text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.require_known_permission(has_permission.permission);
  return parley_internal.has_permission(has_permission.organization_id, has_permission.permission, caller);
end
$$;
comment on function parley_internal.has_permission(uuid, text) is
  'Whether the current user holds the named permission in the organization (false when not a member).';
revoke all on function parley_internal.has_permission(uuid, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.has_permission(uuid, text) to authenticated;

select parley_internal.publish_function('parley_internal.has_permission(uuid, text)');

create or replace function parley_internal.my_permissions(organization_id uuid)
returns setof text
language sql
stable
security definer
set search_path = ''
as $$
  select p.key from public.permissions p
  where parley_internal.has_permission(my_permissions.organization_id, p.key, (select auth.uid()))
  order by p.key
$$;
comment on function parley_internal.my_permissions(uuid) is 'Every permission the current user holds in the organization.';
revoke all on function parley_internal.my_permissions(uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.my_permissions(uuid) to authenticated;

select parley_internal.publish_function('parley_internal.my_permissions(uuid)');

-- Overrides: owners override admin/member/guest; admins override member and
-- guest only, so nobody can grant a permission to their own role.
create or replace function parley_internal.require_override_rights(organization_id uuid, role text, caller uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller_role text := parley_internal.organization_role(require_override_rights.organization_id, caller);
begin
  if require_override_rights.role is null or require_override_rights.role not in ('owner', 'admin', 'member', 'guest') then
    perform parley_internal.refuse('P0001', 'invalid_role', 'A role is owner, admin, member or guest.',
      'Pass admin, member or guest.');
  end if;
  if require_override_rights.role = 'owner' then
    perform parley_internal.refuse('P0001', 'owner_role_fixed', 'Owners always hold every permission.',
      'Override admin, member or guest.');
  end if;
  if caller_role is null then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not (caller_role = 'owner' or (caller_role = 'admin' and require_override_rights.role in ('member', 'guest'))) then
    perform parley_internal.refuse('42501', 'no_permission', 'You may not change this role''s permissions.',
      'Owners change admin, member and guest permissions; admins change member and guest permissions.');
  end if;
end
$$;
comment on function parley_internal.require_override_rights(uuid, text, uuid) is
  'Refuse unless caller may override the role''s permissions (owners: admin/member/guest; admins: member/guest).';
revoke all on function parley_internal.require_override_rights(uuid, text, uuid) from public, anon, authenticated, service_role;

-- Nobody hands out what they do not hold (issue 20): below the owner, a caller
-- changes (grants, revokes or clears an override of) only permissions they hold
-- themselves, so an admin whose chat.audit_read the owner revoked cannot grant
-- it to members or guests (nor clear an override that would give it back).
create or replace function parley_internal.require_held_permission(organization_id uuid, permission text, caller uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if parley_internal.organization_role(require_held_permission.organization_id, require_held_permission.caller)
       is distinct from 'owner'
     and not parley_internal.has_permission(require_held_permission.organization_id, require_held_permission.permission,
                                            require_held_permission.caller) then
    perform parley_internal.refuse('42501', 'permission_not_held',
      pg_catalog.format('You do not hold the %s permission, so you cannot change who has it.',
                        require_held_permission.permission),
      'Only owners, or admins who hold a permission themselves, change it for members and guests.');
  end if;
end
$$;
comment on function parley_internal.require_held_permission(uuid, text, uuid) is
  'Refuse (42501 permission_not_held) unless caller is an owner or holds the permission themselves.';
revoke all on function parley_internal.require_held_permission(uuid, text, uuid) from public, anon, authenticated, service_role;

create or replace function parley_internal.set_role_permission(organization_id uuid, role text, permission text, granted boolean)
returns public.organization_role_permissions
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  saved public.organization_role_permissions;
begin
  if set_role_permission.granted is null then
    perform parley_internal.refuse('P0001', 'invalid_granted', 'granted must be true or false.',
      'Pass true to grant, false to revoke; clear_role_permission removes the override.');
  end if;
  perform parley_internal.require_known_permission(set_role_permission.permission);
  perform parley_internal.require_override_rights(set_role_permission.organization_id, set_role_permission.role, caller);
  perform parley_internal.require_held_permission(set_role_permission.organization_id, set_role_permission.permission, caller);
  insert into public.organization_role_permissions as o (organization_id, role, permission, granted, updated_by)
  values (set_role_permission.organization_id, set_role_permission.role, set_role_permission.permission,
          set_role_permission.granted, caller)
  on conflict on constraint organization_role_permissions_pkey do update
    set granted = excluded.granted, updated_by = excluded.updated_by, updated_at = pg_catalog.now()
  returning * into saved;
  return saved;
end
$$;
comment on function parley_internal.set_role_permission(uuid, text, text, boolean) is
  'Owners/admins: grant (true) or revoke (false) a permission for a role in the organization, overriding the default.';
revoke all on function parley_internal.set_role_permission(uuid, text, text, boolean) from public, anon, authenticated, service_role;
grant execute on function parley_internal.set_role_permission(uuid, text, text, boolean) to authenticated;

select parley_internal.publish_function('parley_internal.set_role_permission(uuid, text, text, boolean)');

create or replace function parley_internal.clear_role_permission(organization_id uuid, role text, permission text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.require_known_permission(clear_role_permission.permission);
  perform parley_internal.require_override_rights(clear_role_permission.organization_id, clear_role_permission.role, caller);
  perform parley_internal.require_held_permission(clear_role_permission.organization_id, clear_role_permission.permission,
                                                  caller);
  delete from public.organization_role_permissions o
  where o.organization_id = clear_role_permission.organization_id
    and o.role = clear_role_permission.role and o.permission = clear_role_permission.permission;
  if not found then
    perform parley_internal.refuse('PT404', 'override_not_found', 'There is no such override.',
      'See organization_role_permissions for the organization''s overrides.');
  end if;
end
$$;
comment on function parley_internal.clear_role_permission(uuid, text, text) is
  'Owners/admins: remove an override so the role falls back to the default map.';
revoke all on function parley_internal.clear_role_permission(uuid, text, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.clear_role_permission(uuid, text, text) to authenticated;

select parley_internal.publish_function('parley_internal.clear_role_permission(uuid, text, text)');
