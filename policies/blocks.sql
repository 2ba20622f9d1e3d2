-- Blocks: only the blocker sees a block; the blocked user sees nothing.

drop policy if exists blocks_select on public.blocks;
create policy blocks_select on public.blocks for select to authenticated
  using (blocker_id = (select auth.uid()));
