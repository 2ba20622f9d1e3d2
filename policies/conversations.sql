-- Conversations, rosters and inbox entries: readable only by those who may
-- read the conversation (members, and staff with the permission for its
-- kind); inbox entries only by their own member. Members: one probe of the
-- reader's roster row per row (parley_internal.my_memberships, which the
-- planner inlines into a primary-key probe), never a per-statement set. The
-- staff branch runs only for rows the member probe refused: on conversations
-- only for the kinds staff handle (support, notices, persona direct; see
-- staff_permission_for), on rosters only for readers who hold a staff
-- permission somewhere (my_staff_anywhere, once per statement). No write
-- policies: clients change conversations through the RPCs (the tables grant
-- them SELECT only).

drop policy if exists conversations_select on public.conversations;
create policy conversations_select on public.conversations for select to authenticated
  using (exists (select 1 from parley_internal.my_memberships m where m.conversation_id = conversations.id)
         or ((kind in ('support', 'notices') or persona_id is not null)
             and parley_internal.my_staff_conversation(id)));

drop policy if exists conversation_members_select on public.conversation_members;
create policy conversation_members_select on public.conversation_members for select to authenticated
  -- "conversation_id is not null" (always true) references the row outside the equality, so the planner
  -- keeps one roster primary-key probe per row instead of hashing all the reader's memberships (a heavy user's
  -- 1,000) to answer for the one conversation a roster read is about: 1.45x against 1.8x for 100 rows.
  using (exists (select 1 from parley_internal.my_memberships m
                 where m.conversation_id = conversation_members.conversation_id
                   and conversation_members.conversation_id is not null)
         or ((select parley_internal.my_staff_anywhere())
             and parley_internal.my_staff_conversation(conversation_id)));

drop policy if exists inbox_entries_select on public.inbox_entries;
create policy inbox_entries_select on public.inbox_entries for select to authenticated
  using (user_id = (select auth.uid()));
