-- Connections: request, accept, decline, cancel, remove, list contacts.
--
-- One row per pair (user_low < user_high, unique). Every RPC first makes
-- sure the row is visible to it (INSERT ... ON CONFLICT DO NOTHING waits for
-- a concurrent insert of the same pair to commit), then locks it FOR UPDATE
-- and decides from its current state, so two users requesting or accepting
-- each other at once end with one accepted connection.

create or replace function parley_internal.are_connected(user_a uuid, user_b uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.connections c
    where c.user_low = least(are_connected.user_a, are_connected.user_b)
      and c.user_high = greatest(are_connected.user_a, are_connected.user_b)
      and c.status = 'accepted'
  )
$$;
comment on function parley_internal.are_connected(uuid, uuid) is
  'Whether the two users have an accepted connection.';
revoke all on function parley_internal.are_connected(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.are_connected(uuid, uuid) to service_role;

create or replace function parley_internal.are_users_connected(other_user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return parley_internal.are_connected(parley_internal.require_user(), are_users_connected.other_user_id);
end
$$;
comment on function parley_internal.are_users_connected(uuid) is 'Whether the current user and the other user are connected.';
select parley_internal.publish_function('parley_internal.are_users_connected(uuid)');

-- Lock the pair's row; null when there is none.
create or replace function parley_internal.lock_connection(user_a uuid, user_b uuid)
returns public.connections
language sql
volatile
security definer
set search_path = ''
as $$
  select * from public.connections c
  where c.user_low = least(lock_connection.user_a, lock_connection.user_b)
    and c.user_high = greatest(lock_connection.user_a, lock_connection.user_b)
  for update
$$;
comment on function parley_internal.lock_connection(uuid, uuid) is
  'The connection row of a pair, locked FOR UPDATE (null if none).';
revoke all on function parley_internal.lock_connection(uuid, uuid) from public, anon, authenticated, service_role;

create or replace function parley_internal.request_connection(user_id uuid)
returns public.connections
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  pair public.connections;
begin
  if request_connection.user_id is null or request_connection.user_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'You cannot connect with yourself.', 'Pass another user''s id.');
  end if;
  if not exists (select 1 from public.profiles p where p.id = request_connection.user_id) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such user.', 'Check the user id.');
  end if;
  if exists (select 1 from public.blocks b where b.blocker_id = caller and b.blocked_id = request_connection.user_id) then
    perform parley_internal.refuse('42501', 'blocked', 'You blocked this user.', 'Unblock them first.');
  end if;
  if exists (select 1 from public.blocks b where b.blocker_id = request_connection.user_id and b.blocked_id = caller) then
    -- Neutral: the blocked party learns only that they cannot connect.
    perform parley_internal.refuse('42501', 'privacy', 'This user does not accept connection requests from you.',
      'You cannot connect with this user.');
  end if;
  insert into public.connections (user_low, user_high, requested_by)
  values (least(caller, request_connection.user_id), greatest(caller, request_connection.user_id), caller)
  on conflict on constraint connections_pair_key do nothing
  returning * into pair;
  if pair.id is not null then
    return pair;
  end if;
  pair := parley_internal.lock_connection(caller, request_connection.user_id);
  if pair.id is null then
    -- Removed between our insert attempt and the lock: ask again.
    insert into public.connections (user_low, user_high, requested_by)
    values (least(caller, request_connection.user_id), greatest(caller, request_connection.user_id), caller)
    returning * into pair;
    return pair;
  end if;
  if pair.status = 'pending' and pair.requested_by <> caller then
    -- They asked us already: asking back accepts.
    update public.connections c set status = 'accepted', accepted_at = pg_catalog.now()
    where c.id = pair.id returning * into pair;
  end if;
  -- Otherwise our own pending request or an accepted connection: unchanged.
  return pair;
end
$$;
comment on function parley_internal.request_connection(uuid) is
  'Ask to connect with a user (idempotent). If they already asked you, this accepts their request.';
select parley_internal.publish_function('parley_internal.request_connection(uuid)');

create or replace function parley_internal.accept_connection(user_id uuid)
returns public.connections
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  pair public.connections;
begin
  if accept_connection.user_id is null or accept_connection.user_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'You cannot connect with yourself.', 'Pass another user''s id.');
  end if;
  pair := parley_internal.lock_connection(caller, accept_connection.user_id);
  if pair.id is null or (pair.status = 'pending' and pair.requested_by = caller) then
    perform parley_internal.refuse('PT404', 'request_not_found', 'There is no request from this user to accept.',
      'See your pending requests in connections.');
  end if;
  if pair.status = 'accepted' then
    return pair;
  end if;
  update public.connections c set status = 'accepted', accepted_at = pg_catalog.now()
  where c.id = pair.id returning * into pair;
  return pair;
end
$$;
comment on function parley_internal.accept_connection(uuid) is
  'Accept the pending request the user sent you (accepting an accepted connection returns it unchanged).';
select parley_internal.publish_function('parley_internal.accept_connection(uuid)');

-- Delete the pair's row if it is in the expected state for this action.
create or replace function parley_internal.end_connection(caller uuid, other uuid, action text)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  pair public.connections;
  expected boolean;
begin
  if other is null or other = caller then
    perform parley_internal.refuse('P0001', 'self', 'You cannot connect with yourself.', 'Pass another user''s id.');
  end if;
  pair := parley_internal.lock_connection(caller, other);
  expected := case action
    when 'decline' then pair.status = 'pending' and pair.requested_by = other
    when 'cancel' then pair.status = 'pending' and pair.requested_by = caller
    when 'remove' then pair.status = 'accepted'
  end;
  if pair.id is null or not coalesce(expected, false) then
    perform parley_internal.refuse('PT404',
      case action when 'remove' then 'connection_not_found' else 'request_not_found' end,
      case action when 'remove' then 'You are not connected with this user.'
                  else 'There is no such pending request.' end,
      'See your connections and requests in connections.');
  end if;
  delete from public.connections c where c.id = pair.id;
end
$$;
comment on function parley_internal.end_connection(uuid, uuid, text) is
  'Decline, cancel or remove the pair''s connection row (PT404 when it is not in that state).';
revoke all on function parley_internal.end_connection(uuid, uuid, text) from public, anon, authenticated, service_role;

create or replace function parley_internal.decline_connection(user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.end_connection(parley_internal.require_user(), decline_connection.user_id, 'decline');
end
$$;
comment on function parley_internal.decline_connection(uuid) is 'Decline the pending request the user sent you (deletes it).';
select parley_internal.publish_function('parley_internal.decline_connection(uuid)');

create or replace function parley_internal.cancel_connection_request(user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.end_connection(parley_internal.require_user(), cancel_connection_request.user_id, 'cancel');
end
$$;
comment on function parley_internal.cancel_connection_request(uuid) is 'Withdraw the pending request you sent the user.';
select parley_internal.publish_function('parley_internal.cancel_connection_request(uuid)');

create or replace function parley_internal.remove_connection(user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.end_connection(parley_internal.require_user(), remove_connection.user_id, 'remove');
end
$$;
comment on function parley_internal.remove_connection(uuid) is 'Remove an accepted connection.';
select parley_internal.publish_function('parley_internal.remove_connection(uuid)');

create or replace function parley_internal.get_user_contacts()
returns table (user_id uuid, username text, display_name text, avatar_url text, connected_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  return query
    select p.id, p.username, p.display_name, p.avatar_url, c.accepted_at
    from public.connections c
    join public.profiles p on p.id = case when c.user_low = caller then c.user_high else c.user_low end
    where (c.user_low = caller or c.user_high = caller) and c.status = 'accepted'
    order by pg_catalog.lower(p.display_name), p.id;
end
$$;
comment on function parley_internal.get_user_contacts() is 'The current user''s accepted connections with display info.';
select parley_internal.publish_function('parley_internal.get_user_contacts()');
