-- Organizations: members see their organizations and fellow members;
-- owners and admins rename the organization and see its invitations.
-- Membership checks go through SECURITY DEFINER helpers (no recursion).

drop policy if exists organizations_select on public.organizations;
create policy organizations_select on public.organizations for select to authenticated
  using (parley_internal.is_organization_member(id, (select auth.uid())));

drop policy if exists organizations_update on public.organizations;
create policy organizations_update on public.organizations for update to authenticated
  using (parley_internal.is_organization_admin(id, (select auth.uid())))
  with check (parley_internal.is_organization_admin(id, (select auth.uid())));

drop policy if exists organization_members_select on public.organization_members;
create policy organization_members_select on public.organization_members for select to authenticated
  using (parley_internal.is_organization_member(organization_id, (select auth.uid())));

drop policy if exists organization_invitations_select on public.organization_invitations;
create policy organization_invitations_select on public.organization_invitations for select to authenticated
  using (parley_internal.is_organization_admin(organization_id, (select auth.uid())));
