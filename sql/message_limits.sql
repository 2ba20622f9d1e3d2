-- Send-path rate limits (issue 5): private state, never exposed.
--
-- send_allowances  one token bucket per user per organization: `tokens`
--                  left at `refilled_at`; the bucket refills at the
--                  organization's send_rate_per_minute up to send_burst.
--                  Each send takes one token in a single
--                  insert ... on conflict do update ... where statement
--                  (functions/message_limits.sql), so concurrent sends of one
--                  user queue on that user's row and can never overdraw it.
-- slow_mode_sends  when each user last posted in each slow-mode
--                  conversation; the same single-statement check.
--
-- A flood from one user only ever writes that user's rows; other users'
-- sends never wait on them. Neither table is in an exposed schema; RLS is on
-- with no policy and the API roles have no privileges, so only the SECURITY
-- DEFINER send functions (running as the owner) touch them.

create table if not exists parley_internal.send_allowances (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  tokens double precision not null check (tokens >= 0),
  refilled_at timestamptz not null,
  primary key (organization_id, user_id)
);
create index if not exists send_allowances_user_id_idx on parley_internal.send_allowances (user_id);
comment on table parley_internal.send_allowances is 'Per-user send token bucket per organization (issue 5): tokens left at refilled_at; refills at organization_settings.send_rate_per_minute up to send_burst.';
comment on column parley_internal.send_allowances.organization_id is 'The organization whose limit applies.';
comment on column parley_internal.send_allowances.user_id is 'The real user sending (the staff user behind a persona or notice).';
comment on column parley_internal.send_allowances.tokens is 'Sends left at refilled_at (fractional while refilling).';
comment on column parley_internal.send_allowances.refilled_at is 'When tokens was computed (the last charged send).';

create table if not exists parley_internal.slow_mode_sends (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  last_sent_at timestamptz not null,
  primary key (conversation_id, user_id)
);
create index if not exists slow_mode_sends_user_id_idx on parley_internal.slow_mode_sends (user_id);
comment on table parley_internal.slow_mode_sends is 'When each user last posted in each slow-mode conversation (conversations.slow_mode_seconds > 0).';
comment on column parley_internal.slow_mode_sends.conversation_id is 'The slow-mode conversation.';
comment on column parley_internal.slow_mode_sends.user_id is 'The member.';
comment on column parley_internal.slow_mode_sends.last_sent_at is 'When their last counted message was sent.';

alter table parley_internal.send_allowances enable row level security;
alter table parley_internal.slow_mode_sends enable row level security;
revoke all on table parley_internal.send_allowances, parley_internal.slow_mode_sends
  from public, anon, authenticated, service_role;
