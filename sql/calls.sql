-- Calls: audio and video call sessions (issue 15, seed 004 CallSession / CallParticipant).
--
-- call_sessions       one row per call in a conversation: media, initiator,
--                     state ringing -> active -> ended, end reason, the ring
--                     deadline, started / answered / ended times and the exact
--                     duration (ended_at - answered_at). At most one live
--                     (ringing or active) call per conversation: the partial
--                     unique index call_sessions_live_key, which start_call's
--                     insert ... on conflict do nothing relies on (glare).
--                     history_id orders call history (keyset by bigint).
-- call_participants   one row per user per call: invited / joined / left
--                     times, the participant's own state and its muted and
--                     camera flags.
-- parley_internal.call_settings
--                     one row: ring timeout, STUN/TURN urls and the TURN
--                     shared secret (coturn's REST scheme). Never readable by
--                     an API role; service_role writes it with set_call_settings.
--
-- Reads are table reads under RLS (members of the conversation); every write
-- is an RPC (functions/calls.sql). WebRTC signaling (offer, answer, ICE
-- candidates) is never stored: clients broadcast it on the private realtime
-- topic call:{id}.

create extension if not exists pgcrypto with schema extensions;

create table if not exists public.call_sessions (
  id uuid primary key default gen_random_uuid(),
  history_id bigint generated always as identity unique,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  media text not null check (media in ('audio', 'video')),
  initiator_id uuid references auth.users (id) on delete set null,
  state text not null default 'ringing' check (state in ('ringing', 'active', 'ended')),
  end_reason text check (end_reason in ('completed', 'missed', 'declined', 'cancelled', 'failed', 'busy')),
  ended_by uuid,
  started_at timestamptz not null default pg_catalog.now(),
  ring_deadline timestamptz not null,
  answered_at timestamptz,
  ended_at timestamptz,
  duration interval generated always as (ended_at - answered_at) stored,
  constraint call_sessions_ended check ((state = 'ended') = (end_reason is not null and ended_at is not null)),
  constraint call_sessions_answered check (state <> 'active' or answered_at is not null),
  constraint call_sessions_order check (answered_at is null or answered_at >= started_at)
);
create unique index if not exists call_sessions_live_key on public.call_sessions (conversation_id)
  where state in ('ringing', 'active');
create index if not exists call_sessions_conversation_history_idx on public.call_sessions (conversation_id, history_id);
create index if not exists call_sessions_organization_id_idx on public.call_sessions (organization_id);
create index if not exists call_sessions_initiator_id_idx on public.call_sessions (initiator_id);
-- The ring-timeout job: ringing calls by deadline.
create index if not exists call_sessions_ringing_idx on public.call_sessions (ring_deadline) where state = 'ringing';
comment on table public.call_sessions is 'Audio and video calls (seed 004 CallSession): one row per call in a conversation, ringing -> active -> ended. Members of the conversation read them; write through start_call, accept_call, decline_call, join_call, leave_call, end_call.';
comment on column public.call_sessions.id is 'Call id; its signaling topic is call:{id}.';
comment on column public.call_sessions.history_id is 'Monotonic id for call history pages (get_call_history before_history_id).';
comment on column public.call_sessions.conversation_id is 'The conversation the call belongs to (direct or group).';
comment on column public.call_sessions.organization_id is 'The conversation''s organization (whose plan must include chat.calls).';
comment on column public.call_sessions.media is 'audio or video (what the initiator asked for; participants toggle their camera with update_call_media).';
comment on column public.call_sessions.initiator_id is 'Who started the call.';
comment on column public.call_sessions.state is 'ringing (nobody answered yet), active (someone answered), ended.';
comment on column public.call_sessions.end_reason is 'Once ended: completed, missed (ring timeout), declined, cancelled (hung up while ringing), failed (a client reported a media failure) or busy (the callee was in another call).';
comment on column public.call_sessions.ended_by is 'Who ended it (null for the ring-timeout job and busy).';
comment on column public.call_sessions.started_at is 'When start_call created it.';
comment on column public.call_sessions.ring_deadline is 'Unanswered at this time, the call becomes missed (started_at + the configured ring timeout).';
comment on column public.call_sessions.answered_at is 'When the first callee accepted; null if nobody did.';
comment on column public.call_sessions.ended_at is 'When it ended.';
comment on column public.call_sessions.duration is 'ended_at - answered_at, exactly (null if never answered or not ended).';

create table if not exists public.call_participants (
  call_id uuid not null references public.call_sessions (id) on delete cascade,
  conversation_id uuid not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  state text not null check (state in ('ringing', 'joined', 'left', 'declined', 'missed', 'busy')),
  invited_by uuid,
  invited_at timestamptz not null default pg_catalog.now(),
  joined_at timestamptz,
  left_at timestamptz,
  muted boolean not null default false,
  camera_on boolean not null default false,
  primary key (call_id, user_id),
  constraint call_participants_joined check (state not in ('joined', 'left') or joined_at is not null)
);
-- Busy checks and "my live calls": a user's participations.
create index if not exists call_participants_user_idx on public.call_participants (user_id, call_id);
comment on table public.call_participants is 'Who is in each call (seed 004 CallParticipant): invited, joined and left times, the participant''s state and media flags. Members of the conversation read them; write through the call RPCs.';
comment on column public.call_participants.call_id is 'The call.';
comment on column public.call_participants.conversation_id is 'The call''s conversation (copied, so the read policy needs no join).';
comment on column public.call_participants.user_id is 'The participant.';
comment on column public.call_participants.state is 'ringing (invited, not answered), joined, left, declined, missed (did not answer in time) or busy (was in another call).';
comment on column public.call_participants.invited_by is 'Who invited them (the initiator); null for the initiator and for members who joined a group call by themselves.';
comment on column public.call_participants.invited_at is 'When they were invited (or joined uninvited).';
comment on column public.call_participants.joined_at is 'When they last joined; null if never.';
comment on column public.call_participants.left_at is 'When they left, declined or missed it.';
comment on column public.call_participants.muted is 'Their microphone is muted.';
comment on column public.call_participants.camera_on is 'Their camera is on.';

alter table public.call_sessions enable row level security;
revoke all on table public.call_sessions from anon, authenticated, service_role;
grant select on table public.call_sessions to authenticated;
grant select, insert, update, delete on table public.call_sessions to service_role;
alter table public.call_participants enable row level security;
revoke all on table public.call_participants from anon, authenticated, service_role;
grant select on table public.call_participants to authenticated;
grant select, insert, update, delete on table public.call_participants to service_role;

create table if not exists parley_internal.call_settings (
  id boolean primary key default true check (id),
  ring_timeout_seconds integer not null default 45 check (ring_timeout_seconds between 5 and 300),
  stun_urls text[] not null default '{}',
  turn_urls text[] not null default '{}',
  turn_secret text check (turn_secret is null or pg_catalog.length(turn_secret) >= 16),
  turn_ttl_seconds integer not null default 86400 check (turn_ttl_seconds between 60 and 604800),
  updated_at timestamptz not null default pg_catalog.now()
);
insert into parley_internal.call_settings (id) values (true) on conflict do nothing;
comment on table parley_internal.call_settings is 'Call configuration (one row): ring timeout, STUN/TURN urls, the TURN REST shared secret and credential lifetime. No API role reads it; service_role writes it through set_call_settings.';
alter table parley_internal.call_settings enable row level security;
revoke all on table parley_internal.call_settings from public, anon, authenticated, service_role;
