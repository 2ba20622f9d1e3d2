-- Blocks: blocker_id blocked blocked_id. A block stops direct messages and
-- calls in both directions and hides presence. Only the blocker sees it.

create table if not exists public.blocks (
  blocker_id uuid not null references auth.users (id) on delete cascade,
  blocked_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (blocker_id, blocked_id),
  constraint blocks_not_self check (blocker_id <> blocked_id)
);
create index if not exists blocks_blocked_id_idx on public.blocks (blocked_id);
comment on table public.blocks is 'Users a user has blocked; visible to the blocker only.';
comment on column public.blocks.blocker_id is 'Who blocked.';
comment on column public.blocks.blocked_id is 'Who is blocked.';
comment on column public.blocks.created_at is 'When the block was made.';

alter table public.blocks enable row level security;
revoke all on table public.blocks from anon, authenticated, service_role;
grant select on table public.blocks to authenticated;
grant select, insert, update, delete on table public.blocks to service_role;
