-- Presence (issue 4): one row per user, written only by heartbeat().
--
-- Coarse by design: a status the user chose (online, away, busy, offline)
-- and when the user was last seen. heartbeat() writes at most once per 15
-- seconds per user unless the status changes; get_presence() reports a user
-- whose last heartbeat is older than 90 seconds as offline. Live "who is in
-- this conversation right now" is the realtime service's presence channel;
-- this table is the durable answer for inboxes and profiles.
--
-- Reading goes through the privacy rules (policies/presence.sql,
-- functions/presence.sql): yourself, or people you share an organization or
-- an accepted connection with, unless either blocked the other or the user
-- hides their online status.

create table if not exists public.presence (
  user_id uuid primary key references auth.users (id) on delete cascade,
  status text not null default 'online' check (status in ('online', 'away', 'busy', 'offline')),
  last_seen_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table public.presence is 'Each user''s coarse presence: chosen status and last heartbeat. Readable only where the privacy rules allow; written through heartbeat().';
comment on column public.presence.user_id is 'The user.';
comment on column public.presence.status is 'online, away, busy or offline, as last sent by heartbeat (get_presence reports a stale one as offline).';
comment on column public.presence.last_seen_at is 'When the user''s client last sent a heartbeat (stored at a 15-second granularity).';
comment on column public.presence.updated_at is 'When the status last changed.';

alter table public.presence enable row level security;
revoke all on table public.presence from anon, authenticated, service_role;
grant select on table public.presence to authenticated;
grant select, insert, update, delete on table public.presence to service_role;
