-- Messages and their edits, reactions and mentions: readable through plain
-- table reads by the conversation's members holding chat.view (issue 12) in
-- its organization, from their visibility cut-off on (groups with
-- since_joined history). Staff who handle support, persona and notices
-- conversations without being members read them through get_messages /
-- get_pinned_messages, which leave an audit trace (seed 002); a plain GET
-- could not. A message row costs one probe of the reader's roster row
-- (parley_internal.my_memberships, inlined by the planner); chat.view is one
-- check per statement when the reader holds it in every organization (the
-- usual case), per row only otherwise. Edits and reactions are readable
-- exactly when their message is (the messages policy applies inside their
-- probe). Mentions: only the mentioned user's own rows. No write policies:
-- send, edit, delete and react through the RPCs.

drop policy if exists messages_select on public.messages;
create policy messages_select on public.messages for select to authenticated
  using (exists (select 1 from parley_internal.my_memberships m
                 where m.conversation_id = messages.conversation_id and m.visible_from_message_id < messages.id)
         and ((select parley_internal.my_chat_view_everywhere())
              or parley_internal.my_can_view_chats(conversation_id)));

drop policy if exists message_edits_select on public.message_edits;
create policy message_edits_select on public.message_edits for select to authenticated
  using (exists (select 1 from public.messages msg where msg.id = message_edits.message_id));

drop policy if exists message_reactions_select on public.message_reactions;
create policy message_reactions_select on public.message_reactions for select to authenticated
  using (exists (select 1 from public.messages msg where msg.id = message_reactions.message_id));

drop policy if exists message_mentions_select on public.message_mentions;
create policy message_mentions_select on public.message_mentions for select to authenticated
  using (user_id = (select auth.uid()));
