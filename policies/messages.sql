-- chat.view (issue 12): both branches only cover conversations of organizations
-- where the reader holds it. Both sets are computed once per statement (a
-- per-row helper call costs 10x on a since_joined-heavy read: make bench-style
-- A/B in the issue 12 report).
-- Messages and their edits, reactions and mentions: readable through plain
-- table reads by the conversation's members, from their visibility cut-off
-- on (groups with since_joined history). Staff who handle support, persona
-- and notices conversations without being members read them through
-- get_messages / get_pinned_messages, which leave an audit trace (seed 002);
-- a plain GET could not. The first branch is one set lookup per query (the
-- common case); the second runs per row only for cut-off conversations.
-- Mentions: only the mentioned user's own rows. No write policies: send,
-- edit, delete and react through the RPCs.

drop policy if exists messages_select on public.messages;
create policy messages_select on public.messages for select to authenticated
  using (conversation_id in (select parley_internal.my_fully_visible_conversation_ids())
         or exists (select 1 from parley_internal.my_history_cut_offs() c
                    where c.conversation_id = messages.conversation_id and c.visible_from < messages.id));

drop policy if exists message_edits_select on public.message_edits;
create policy message_edits_select on public.message_edits for select to authenticated
  using (case when (select parley_internal.my_chat_view_everywhere())
               then parley_internal.my_member_can_read_message(message_id)
               else parley_internal.my_member_can_read_viewable_message(message_id) end);

drop policy if exists message_reactions_select on public.message_reactions;
create policy message_reactions_select on public.message_reactions for select to authenticated
  using (case when (select parley_internal.my_chat_view_everywhere())
               then parley_internal.my_member_can_read_message(message_id)
               else parley_internal.my_member_can_read_viewable_message(message_id) end);

drop policy if exists message_mentions_select on public.message_mentions;
create policy message_mentions_select on public.message_mentions for select to authenticated
  using (user_id = (select auth.uid()));
