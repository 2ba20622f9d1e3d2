-- What-if: make bench BENCH_ARGS="--only 6 --apply bench/whatif/policies_roster_probe.sql"
-- Membership checked with a roster primary-key probe per row instead of building the reader's whole
-- conversation set (member_conversation_ids) in every statement; staff per row as in main.
drop policy if exists conversations_select on public.conversations;
create policy conversations_select on public.conversations for select to authenticated
  using (exists (select 1 from public.conversation_members m
                 where m.conversation_id = conversations.id and m.user_id = (select auth.uid()))
         or parley_internal.is_conversation_staff(id, (select auth.uid())));

drop policy if exists conversation_members_select on public.conversation_members;
create policy conversation_members_select on public.conversation_members for select to authenticated
  using (user_id = (select auth.uid())
         or parley_internal.is_conversation_member(conversation_id, (select auth.uid()))
         or parley_internal.is_conversation_staff(conversation_id, (select auth.uid())));

drop policy if exists messages_select on public.messages;
create policy messages_select on public.messages for select to authenticated
  using (exists (select 1 from public.conversation_members m
                 where m.conversation_id = messages.conversation_id and m.user_id = (select auth.uid())
                   and m.visible_from_message_id < messages.id));
