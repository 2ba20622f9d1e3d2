-- Calls (issue 15): members of the conversation read its calls and their
-- participants (one set lookup per query through
-- parley_internal.member_conversation_ids). No write policies: the tables
-- grant API users SELECT only, and every change goes through the call RPCs
-- (functions/calls.sql), so a forged write is refused (403) instead of
-- matching zero rows.

drop policy if exists call_sessions_select on public.call_sessions;
create policy call_sessions_select on public.call_sessions for select to authenticated
  using (conversation_id in (select parley_internal.my_conversation_ids()));

drop policy if exists call_participants_select on public.call_participants;
create policy call_participants_select on public.call_participants for select to authenticated
  using (conversation_id in (select parley_internal.my_conversation_ids()));
