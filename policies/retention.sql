-- Retention settings and legal holds: readable by the conversation's members
-- (they may know how long their messages are kept and that a hold applies)
-- and by the organization's owners and admins. Written through the RPCs.

drop policy if exists conversation_retention_select on public.conversation_retention;
create policy conversation_retention_select on public.conversation_retention for select to authenticated
  using (exists (select 1 from parley_internal.my_memberships m
                 where m.conversation_id = conversation_retention.conversation_id)
         or parley_internal.my_organization_admin(organization_id));
