-- Presence (issue 4): heartbeat() and get_presence(). Table: sql/presence.sql.
--
-- Who may see a user's presence (parley_internal.presence_visible):
--   * the user themselves;
--   * otherwise people who share an organization with them or have an
--     accepted connection with them, and only if neither blocked the other
--     and the user shows their online status (parley_internal.can_see_presence).
-- Everyone else learns nothing: get_presence omits those users exactly as it
-- omits unknown ids.
--
-- Staleness: clients send heartbeat() about every 30 seconds; a user whose
-- last heartbeat is older than 90 seconds is reported offline, whatever
-- status was last sent.

create or replace function parley_internal.presence_visible(viewer uuid, target uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select viewer is not null and target is not null and (
    viewer = target
    or ((parley_internal.shares_organization(viewer, target) or parley_internal.are_connected(viewer, target))
        and parley_internal.can_see_presence(viewer, target))
  )
$$;
comment on function parley_internal.presence_visible(uuid, uuid) is
  'Whether viewer may see target''s presence: self, or sharing an organization or an accepted connection, with no block either way and target showing their online status.';
select parley_internal.restrict_function('parley_internal.presence_visible(uuid, uuid)', '{service_role}');

create or replace function parley_internal.my_presence_visible(target uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.presence_visible((select auth.uid()), my_presence_visible.target)
$$;
comment on function parley_internal.my_presence_visible(uuid) is
  'Policy helper: whether the current user may see target''s presence.';
select parley_internal.restrict_function('parley_internal.my_presence_visible(uuid)', '{authenticated}');

create or replace function parley_internal.heartbeat(status text default 'online')
returns public.presence
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  current_row public.presence;
begin
  if heartbeat.status is null or heartbeat.status not in ('online', 'away', 'busy', 'offline') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A presence status is online, away, busy or offline.',
      'Pass online, away, busy or offline.');
  end if;
  -- Coarse: an unchanged status refreshed within 15 seconds writes nothing.
  insert into public.presence as p (user_id, status, last_seen_at, updated_at)
  values (caller, heartbeat.status, pg_catalog.now(), pg_catalog.now())
  on conflict on constraint presence_pkey do update
    set status = excluded.status,
        last_seen_at = excluded.last_seen_at,
        updated_at = case when p.status = excluded.status then p.updated_at else excluded.updated_at end
    where p.status <> excluded.status or p.last_seen_at < pg_catalog.now() - interval '15 seconds'
  returning * into current_row;
  if not found then
    select * into strict current_row from public.presence p where p.user_id = caller;
  end if;
  return current_row;
end
$$;
comment on function parley_internal.heartbeat(text) is
  'Report that you are here, with a coarse status (online, away, busy, offline); send it about every 30 seconds. Returns your presence row.';
select parley_internal.publish_function('parley_internal.heartbeat(text)');

create or replace function parley_internal.get_presence(user_ids uuid[])
returns table (user_id uuid, status text, last_seen_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.require_flat_id_list(get_presence.user_ids, 'invalid_user_ids', 'user_ids');  -- issue 20
  if get_presence.user_ids is null or pg_catalog.cardinality(get_presence.user_ids) > 200 then
    perform parley_internal.refuse('P0001', 'too_many_users', 'Ask for the presence of 1 to 200 users at a time.',
      'Split the list.');
  end if;
  return query
    select requested.id,
           case when p.user_id is null or p.last_seen_at < pg_catalog.now() - interval '90 seconds' then 'offline'
                else p.status end,
           p.last_seen_at
    from (select distinct u.id from pg_catalog.unnest(get_presence.user_ids) as u(id) where u.id is not null) requested
    join public.profiles profile on profile.id = requested.id
    left join public.presence p on p.user_id = requested.id
    where parley_internal.presence_visible(caller, requested.id)
    order by requested.id;
end
$$;
comment on function parley_internal.get_presence(uuid[]) is
  'Presence (online, away, busy, offline; offline when the last heartbeat is over 90 seconds old or never came) and last_seen_at of up to 200 users. Users whose presence you may not see (unknown, blocked either way, hiding their status, or sharing no organization or connection with you) are left out.';
select parley_internal.publish_function('parley_internal.get_presence(uuid[])');
