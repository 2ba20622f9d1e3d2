-- Retention settings and legal holds: readable by the conversation's members
-- (they may know how long their messages are kept and that a hold applies)
-- and by the organization's owners and admins. Written through the RPCs.

drop policy if exists conversation_retention_select on public.conversation_retention;
create policy conversation_retention_select on public.conversation_retention for select to authenticated
  using (conversation_id in (select parley_internal.my_conversation_ids())
         or parley_internal.my_organization_admin(organization_id));
