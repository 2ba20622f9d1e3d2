-- Organization settings: members read them (clients need the body limit);
-- owners and admins change them.

drop policy if exists organization_settings_select on public.organization_settings;
create policy organization_settings_select on public.organization_settings for select to authenticated
  using (parley_internal.my_organization_member(organization_id));

drop policy if exists organization_settings_update on public.organization_settings;
create policy organization_settings_update on public.organization_settings for update to authenticated
  using (parley_internal.my_organization_admin(organization_id))
  with check (parley_internal.my_organization_admin(organization_id));
