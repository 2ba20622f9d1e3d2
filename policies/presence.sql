-- Presence: each row readable by the user and by those the privacy rules
-- allow (parley_internal.presence_visible: shared organization or accepted
-- connection, no block either way, online status shown). No write policies:
-- heartbeat() is the only writer.

drop policy if exists presence_select on public.presence;
create policy presence_select on public.presence for select to authenticated
  using (user_id = (select auth.uid()) or parley_internal.my_presence_visible(user_id));
