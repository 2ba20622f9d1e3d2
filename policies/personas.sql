-- Personas: members of the organization see persona display info (the rows
-- name no real user); owners and admins edit them. Persona acts (who really
-- acted): the acting user, owners/admins and holders of chat.audit_read.

drop policy if exists personas_select on public.personas;
create policy personas_select on public.personas for select to authenticated
  using (parley_internal.my_organization_member(organization_id));

drop policy if exists personas_update on public.personas;
create policy personas_update on public.personas for update to authenticated
  using (parley_internal.my_organization_admin(organization_id))
  with check (parley_internal.my_organization_admin(organization_id));

drop policy if exists persona_acts_select on public.persona_acts;
create policy persona_acts_select on public.persona_acts for select to authenticated
  using (acting_user_id = (select auth.uid())
         or parley_internal.my_organization_admin(organization_id)
         or parley_internal.has_permission(organization_id, 'chat.audit_read'));
