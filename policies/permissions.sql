-- The permission catalog and default map are readable by every signed-in
-- user; an organization's overrides by its members. Writes go through
-- set_role_permission / clear_role_permission (or service_role).

drop policy if exists permissions_select on public.permissions;
create policy permissions_select on public.permissions for select to authenticated using (true);

drop policy if exists role_permissions_select on public.role_permissions;
create policy role_permissions_select on public.role_permissions for select to authenticated using (true);

drop policy if exists organization_role_permissions_select on public.organization_role_permissions;
create policy organization_role_permissions_select on public.organization_role_permissions for select to authenticated
  using (parley_internal.my_organization_member(organization_id));
