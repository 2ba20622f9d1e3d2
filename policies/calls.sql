-- Calls (issue 15): members of the conversation read its calls and their
-- participants (one probe of the reader's roster row per row through
-- parley_internal.my_memberships). No write policies: the tables
-- grant API users SELECT only, and every change goes through the call RPCs
-- (functions/calls.sql), so a forged write is refused (403) instead of
-- matching zero rows.

drop policy if exists call_sessions_select on public.call_sessions;
create policy call_sessions_select on public.call_sessions for select to authenticated
  using (exists (select 1 from parley_internal.my_memberships m
                 where m.conversation_id = call_sessions.conversation_id));

drop policy if exists call_participants_select on public.call_participants;
create policy call_participants_select on public.call_participants for select to authenticated
  using (exists (select 1 from parley_internal.my_memberships m
                 where m.conversation_id = call_participants.conversation_id));
