-- Blocks: block / unblock, and the helpers decisions and presence use.

create or replace function parley_internal.is_blocked_between(user_a uuid, user_b uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  -- plpgsql, not SQL: the statement's plan is cached per session (a SECURITY DEFINER SQL function is planned
  -- again on every call); the send path, mentions and outbox fan-out call it per message.
  return exists (
    select 1 from public.blocks b
    where (b.blocker_id = is_blocked_between.user_a and b.blocked_id = is_blocked_between.user_b)
       or (b.blocker_id = is_blocked_between.user_b and b.blocked_id = is_blocked_between.user_a)
  );
end
$$;
comment on function parley_internal.is_blocked_between(uuid, uuid) is
  'Whether either user has blocked the other.';
revoke all on function parley_internal.is_blocked_between(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.is_blocked_between(uuid, uuid) to service_role;

create or replace function parley_internal.can_see_presence(viewer uuid, target uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select viewer is not null and (
    viewer = target
    or (not parley_internal.is_blocked_between(viewer, target)
        and coalesce((select s.show_online_status from public.privacy_settings s where s.user_id = target), true))
  )
$$;
comment on function parley_internal.can_see_presence(uuid, uuid) is
  'Whether viewer may see target''s online status: not blocked either way and target shows it.';
revoke all on function parley_internal.can_see_presence(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.can_see_presence(uuid, uuid) to service_role;

create or replace function parley_internal.is_user_blocked(other_user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  -- Only blocks the caller made: whether someone blocked you is not revealed.
  return exists (select 1 from public.blocks b
                 where b.blocker_id = caller and b.blocked_id = is_user_blocked.other_user_id);
end
$$;
comment on function parley_internal.is_user_blocked(uuid) is
  'Whether the current user has blocked the other user (never whether the other blocked you).';
revoke all on function parley_internal.is_user_blocked(uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.is_user_blocked(uuid) to authenticated;

select parley_internal.publish_function('parley_internal.is_user_blocked(uuid)');

create or replace function parley_internal.block_user(user_id uuid)
returns public.blocks
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  made public.blocks;
begin
  if block_user.user_id is null or block_user.user_id = caller then
    perform parley_internal.refuse('P0001', 'self', 'You cannot block yourself.', 'Pass another user''s id.');
  end if;
  if not exists (select 1 from public.profiles p where p.id = block_user.user_id) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such user.', 'Check the user id.');
  end if;
  insert into public.blocks (blocker_id, blocked_id) values (caller, block_user.user_id)
  on conflict (blocker_id, blocked_id) do nothing;
  select * into made from public.blocks b where b.blocker_id = caller and b.blocked_id = block_user.user_id;
  -- A block ends any connection or pending request between the two.
  delete from public.connections c
  where c.user_low = least(caller, block_user.user_id) and c.user_high = greatest(caller, block_user.user_id);
  return made;
end
$$;
comment on function parley_internal.block_user(uuid) is
  'Block a user (idempotent): no direct messages or calls either way, presence hidden, connection removed.';
revoke all on function parley_internal.block_user(uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.block_user(uuid) to authenticated;

select parley_internal.publish_function('parley_internal.block_user(uuid)');

create or replace function parley_internal.unblock_user(user_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  delete from public.blocks b where b.blocker_id = caller and b.blocked_id = unblock_user.user_id;
  if not found then
    perform parley_internal.refuse('PT404', 'block_not_found', 'You have not blocked this user.',
      'See your blocks in blocks.');
  end if;
end
$$;
comment on function parley_internal.unblock_user(uuid) is 'Remove a block you made.';
revoke all on function parley_internal.unblock_user(uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.unblock_user(uuid) to authenticated;

select parley_internal.publish_function('parley_internal.unblock_user(uuid)');
