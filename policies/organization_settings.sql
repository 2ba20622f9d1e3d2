-- Organization settings: members read them (clients need the body limit);
-- owners and admins change them.

drop policy if exists organization_settings_select on public.organization_settings;
create policy organization_settings_select on public.organization_settings for select to authenticated
  using (parley_internal.is_organization_member(organization_id, (select auth.uid())));

drop policy if exists organization_settings_update on public.organization_settings;
create policy organization_settings_update on public.organization_settings for update to authenticated
  using (parley_internal.is_organization_admin(organization_id, (select auth.uid())))
  with check (parley_internal.is_organization_admin(organization_id, (select auth.uid())));
