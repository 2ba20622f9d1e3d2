-- Profiles: visible to yourself, people you share an organization with, and
-- people you have a connection or request with; you edit only your own
-- (column grants limit which fields). Privacy settings: yours only.

drop policy if exists profiles_select on public.profiles;
create policy profiles_select on public.profiles for select to authenticated
  using (parley_internal.my_profile_visible(id));

drop policy if exists profiles_update on public.profiles;
create policy profiles_update on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

drop policy if exists privacy_settings_select on public.privacy_settings;
create policy privacy_settings_select on public.privacy_settings for select to authenticated
  using (user_id = (select auth.uid()));

drop policy if exists privacy_settings_update on public.privacy_settings;
create policy privacy_settings_update on public.privacy_settings for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
