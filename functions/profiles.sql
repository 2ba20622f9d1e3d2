-- Profiles and privacy settings: creation on sign-up, validation, and the
-- display-info RPCs.

-- Validation of profile fields. Runs before every insert and update so the
-- rules hold for the trigger, the API and service_role alike.
create or replace function parley_internal.validate_profile()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.username is null or new.username !~ '^[A-Za-z0-9_][A-Za-z0-9_.]{2,31}$' then
    perform parley_internal.refuse('P0001', 'invalid_username',
      'A username has 3 to 32 letters, digits, underscores or dots and does not start with a dot.',
      'Choose another username.');
  end if;
  if new.display_name is null or pg_catalog.length(parley_internal.trim_whitespace(new.display_name)) not between 1 and 80 then
    perform parley_internal.refuse('P0001', 'invalid_display_name', 'A display name has 1 to 80 characters.',
      'Choose a shorter or non-empty name.');
  end if;
  if new.avatar_url is not null and (new.avatar_url !~ '^https?://' or pg_catalog.length(new.avatar_url) > 2048) then
    perform parley_internal.refuse('P0001', 'invalid_avatar_url', 'An avatar URL is an http(s) URL.',
      'Upload the avatar and use its URL.');
  end if;
  if new.bio is not null and pg_catalog.length(new.bio) > 500 then
    perform parley_internal.refuse('P0001', 'bio_too_long', 'A bio has at most 500 characters.', 'Shorten the bio.');
  end if;
  if new.locale is null or new.locale !~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$' then
    perform parley_internal.refuse('P0001', 'invalid_locale', 'A locale is a language tag such as en or pt-BR.',
      'Pass a BCP 47 language tag.');
  end if;
  if new.time_zone is null or not exists (select 1 from pg_catalog.pg_timezone_names z where z.name = new.time_zone) then
    perform parley_internal.refuse('P0001', 'invalid_time_zone', 'A time zone is an IANA name such as Europe/Paris.',
      'Pass an IANA time zone name.');
  end if;
  new.display_name := parley_internal.trim_whitespace(new.display_name);
  if tg_op = 'INSERT' or new.username is distinct from old.username then
    if exists (select 1 from public.profiles p
               where pg_catalog.lower(p.username) = pg_catalog.lower(new.username) and p.id <> new.id) then
      perform parley_internal.refuse('PT409', 'username_taken', 'That username is taken.', 'Choose another username.');
    end if;
  end if;
  if tg_op = 'UPDATE' then
    new.updated_at := pg_catalog.now();
  end if;
  return new;
end
$$;
comment on function parley_internal.validate_profile() is
  'Trigger: validate profile fields (P0001 invalid_*, PT409 username_taken) and stamp updated_at.';
revoke all on function parley_internal.validate_profile() from public, anon, authenticated, service_role;

drop trigger if exists profiles_validate on public.profiles;
create trigger profiles_validate before insert or update on public.profiles
  for each row execute function parley_internal.validate_profile();

create or replace function parley_internal.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
comment on function parley_internal.touch_updated_at() is 'Trigger: set updated_at to now().';
revoke all on function parley_internal.touch_updated_at() from public, anon, authenticated, service_role;

drop trigger if exists privacy_settings_touch on public.privacy_settings;
create trigger privacy_settings_touch before update on public.privacy_settings
  for each row execute function parley_internal.touch_updated_at();

-- Create the profile and privacy settings of one user. The username is
-- derived from the account email (never from user metadata), made unique
-- with a numeric suffix; metadata only supplies the default display name.
create or replace function parley_internal.create_profile_for(user_id uuid, email text, metadata jsonb)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  base text;
  candidate text;
  name text;
  attempt integer := 0;
begin
  base := pg_catalog.lower(pg_catalog.split_part(coalesce(create_profile_for.email, ''), '@', 1));
  base := pg_catalog.regexp_replace(base, '[^a-z0-9_]+', '_', 'g');
  base := pg_catalog.left(pg_catalog.btrim(base, '_'), 24);
  if pg_catalog.length(base) < 3 then
    base := 'user' || base;
  end if;
  name := pg_catalog.btrim(coalesce(create_profile_for.metadata ->> 'display_name',
                                    create_profile_for.metadata ->> 'full_name',
                                    create_profile_for.metadata ->> 'name', ''));
  name := pg_catalog.left(pg_catalog.regexp_replace(name, '[[:cntrl:]]', '', 'g'), 80);
  if name = '' then
    name := base;
  end if;
  candidate := base;
  loop
    begin
      insert into public.profiles (id, username, display_name)
      values (create_profile_for.user_id, candidate, name)
      on conflict (id) do nothing;
      exit;
    exception when unique_violation or sqlstate 'PT409' then
      attempt := attempt + 1;
      if attempt > 20 then
        raise;
      end if;
      candidate := base || '_' || pg_catalog.floor(pg_catalog.random() * 100000)::integer::text;
    end;
  end loop;
  insert into public.privacy_settings (user_id) values (create_profile_for.user_id) on conflict on constraint privacy_settings_pkey do nothing;
end
$$;
comment on function parley_internal.create_profile_for(uuid, text, jsonb) is
  'Create a user''s profile (unique username derived from the email) and default privacy settings, if missing.';
revoke all on function parley_internal.create_profile_for(uuid, text, jsonb) from public, anon, authenticated, service_role;

create or replace function parley_internal.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- to_jsonb: tolerate auth.users copies without every GoTrue column.
  perform parley_internal.create_profile_for(new.id, pg_catalog.to_jsonb(new) ->> 'email',
                                            pg_catalog.to_jsonb(new) -> 'raw_user_meta_data');
  return new;
end
$$;
comment on function parley_internal.handle_new_user() is
  'Trigger on auth.users: every new account gets one profile and default privacy settings.';
revoke all on function parley_internal.handle_new_user() from public, anon, authenticated, service_role;

drop trigger if exists parley_on_auth_user_created on auth.users;
create trigger parley_on_auth_user_created after insert on auth.users
  for each row execute function parley_internal.handle_new_user();

-- Accounts that existed before this file was applied get theirs too.
do $backfill$
declare
  account record;
begin
  for account in
    select u.id, pg_catalog.to_jsonb(u) ->> 'email' as email, pg_catalog.to_jsonb(u) -> 'raw_user_meta_data' as metadata
    from auth.users u
    where not exists (select 1 from public.profiles p where p.id = u.id)
       or not exists (select 1 from public.privacy_settings s where s.user_id = u.id)
  loop
    perform parley_internal.create_profile_for(account.id, account.email, account.metadata);
  end loop;
end
$backfill$;

-- Who may see whose full profile row: yourself, people you share an
-- organization with, and people you have a connection or request with.
create or replace function parley_internal.can_see_profile(viewer uuid, target uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select viewer is not null and (
    viewer = target
    or parley_internal.shares_organization(viewer, target)
    or exists (select 1 from public.connections c
               where c.user_low = least(viewer, target) and c.user_high = greatest(viewer, target))
  )
$$;
comment on function parley_internal.can_see_profile(uuid, uuid) is
  'Whether viewer may read target''s profile row: self, shared organization, or a connection/request between them.';
revoke all on function parley_internal.can_see_profile(uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.can_see_profile(uuid, uuid) to service_role;

create or replace function parley_internal.my_profile_visible(target uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.can_see_profile((select auth.uid()), my_profile_visible.target)
$$;
comment on function parley_internal.my_profile_visible(uuid) is
  'Policy helper: whether the current user may read target''s profile row.';
select parley_internal.restrict_function('parley_internal.my_profile_visible(uuid)', '{authenticated}');

create or replace function parley_internal.get_user_display_info(user_id uuid)
returns public.user_display_info
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  info public.user_display_info;
begin
  perform parley_internal.require_user();
  select p.id, p.username, p.display_name, p.avatar_url into info
  from public.profiles p where p.id = get_user_display_info.user_id;
  if not found then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such user.', 'Check the user id.');
  end if;
  return info;
end
$$;
comment on function parley_internal.get_user_display_info(uuid) is
  'Display info (username, display name, avatar) of any user by id, for chat headers and member lists.';
select parley_internal.publish_function('parley_internal.get_user_display_info(uuid)');

create or replace function parley_internal.find_user_by_username(username text)
returns public.user_display_info
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  info public.user_display_info;
begin
  perform parley_internal.require_user();
  select p.id, p.username, p.display_name, p.avatar_url into info
  from public.profiles p where pg_catalog.lower(p.username) = pg_catalog.lower(find_user_by_username.username);
  if not found then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No user has that username.', 'Check the spelling.');
  end if;
  return info;
end
$$;
comment on function parley_internal.find_user_by_username(text) is
  'Display info of the user with exactly this username (case-insensitive), to start a connection or DM.';
select parley_internal.publish_function('parley_internal.find_user_by_username(text)');
