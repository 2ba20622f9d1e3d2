-- Organizations: members see their organizations and fellow members;
-- owners and admins rename the organization and see its invitations.
-- Membership checks go through SECURITY DEFINER helpers (no recursion).

drop policy if exists organizations_select on public.organizations;
create policy organizations_select on public.organizations for select to authenticated
  using (parley_internal.my_organization_member(id));

drop policy if exists organizations_update on public.organizations;
create policy organizations_update on public.organizations for update to authenticated
  using (parley_internal.my_organization_admin(id))
  with check (parley_internal.my_organization_admin(id));

drop policy if exists organization_members_select on public.organization_members;
create policy organization_members_select on public.organization_members for select to authenticated
  using (parley_internal.my_organization_member(organization_id));

drop policy if exists organization_invitations_select on public.organization_invitations;
create policy organization_invitations_select on public.organization_invitations for select to authenticated
  using (parley_internal.my_organization_admin(organization_id));
