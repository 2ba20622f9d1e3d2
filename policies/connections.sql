-- Connections: each party sees the pair's row; changes go through the RPCs.

drop policy if exists connections_select on public.connections;
create policy connections_select on public.connections for select to authenticated
  using ((select auth.uid()) in (user_low, user_high));
