-- Group safety (issue 20): leaving a group sticks. A row here records that a
-- user left a group of their own accord; nobody adds them back until they
-- allow it (allow_group_readd). Never exposed: read and written only by the
-- group functions (functions/group_safety.sql).

create table if not exists parley_internal.group_departures (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  left_at timestamptz not null default pg_catalog.now(),
  primary key (conversation_id, user_id)
);
create index if not exists group_departures_user_id_idx on parley_internal.group_departures (user_id);
comment on table parley_internal.group_departures is
  'Users who left a group themselves: others cannot add them back until they call allow_group_readd. Never exposed.';
comment on column parley_internal.group_departures.conversation_id is 'The group left.';
comment on column parley_internal.group_departures.user_id is 'Who left.';
comment on column parley_internal.group_departures.left_at is 'When they (last) left.';

alter table parley_internal.group_departures enable row level security;
revoke all on table parley_internal.group_departures from anon, authenticated, service_role;
