-- Connections (contacts) between two users, stored once per pair:
-- user_low < user_high, unique. Requests are pending rows; accepting turns
-- them accepted; decline, cancel and remove delete the row.

do $types$
begin
  if to_regtype('public.connection_status') is null then
    create type public.connection_status as enum ('pending', 'accepted');
    comment on type public.connection_status is 'A connection request waiting for an answer, or an accepted connection.';
  end if;
end
$types$;

create table if not exists public.connections (
  id uuid primary key default gen_random_uuid(),
  user_low uuid not null references auth.users (id) on delete cascade,
  user_high uuid not null references auth.users (id) on delete cascade,
  requested_by uuid not null references auth.users (id) on delete cascade,
  status public.connection_status not null default 'pending',
  created_at timestamptz not null default pg_catalog.now(),
  accepted_at timestamptz,
  constraint connections_ordered_pair check (user_low < user_high),
  constraint connections_requester_in_pair check (requested_by in (user_low, user_high)),
  constraint connections_pair_key unique (user_low, user_high)
);
create index if not exists connections_user_high_idx on public.connections (user_high);
create index if not exists connections_requested_by_idx on public.connections (requested_by);
comment on table public.connections is 'One row per pair of users: a pending request or an accepted connection.';
comment on column public.connections.id is 'Connection id.';
comment on column public.connections.user_low is 'The smaller user id of the pair.';
comment on column public.connections.user_high is 'The larger user id of the pair.';
comment on column public.connections.requested_by is 'Who sent the request (one of the pair).';
comment on column public.connections.status is 'pending or accepted.';
comment on column public.connections.created_at is 'When the request was sent.';
comment on column public.connections.accepted_at is 'When the request was accepted (null while pending).';

alter table public.connections enable row level security;
revoke all on table public.connections from anon, authenticated, service_role;
grant select on table public.connections to authenticated;
grant select, insert, update, delete on table public.connections to service_role;
