-- Conversations, rosters and inbox entries: readable only by those who may
-- read the conversation (members, and staff with the permission for its
-- kind); inbox entries only by their own member. Members are one set lookup
-- per statement; the per-row staff check runs only for rows outside it. No write policies: clients
-- change conversations through the RPCs (the tables grant them SELECT only).

drop policy if exists conversations_select on public.conversations;
create policy conversations_select on public.conversations for select to authenticated
  using (id in (select parley_internal.my_conversation_ids())
         or parley_internal.my_staff_conversation(id));

drop policy if exists conversation_members_select on public.conversation_members;
create policy conversation_members_select on public.conversation_members for select to authenticated
  using (conversation_id in (select parley_internal.my_conversation_ids())
         or parley_internal.my_staff_conversation(conversation_id));

drop policy if exists inbox_entries_select on public.inbox_entries;
create policy inbox_entries_select on public.inbox_entries for select to authenticated
  using (user_id = (select auth.uid()));
