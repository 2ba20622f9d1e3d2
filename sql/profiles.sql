-- Profiles and privacy settings: one chat identity per account (seed 000).
--
-- A profile and a privacy_settings row are created for every auth.users row
-- by parley_internal.handle_new_user (functions/profiles.sql). Application
-- roles (student, tutor, parent...) are attributes of the one identity.

do $types$
begin
  if to_regtype('public.contact_audience') is null then
    create type public.contact_audience as enum ('everyone', 'shared_organization', 'connections', 'nobody');
    comment on type public.contact_audience is 'Who may contact a user: everyone, people sharing an organization, connections, nobody.';
  end if;
  if to_regtype('public.user_display_info') is null then
    create type public.user_display_info as (id uuid, username text, display_name text, avatar_url text);
    comment on type public.user_display_info is 'What others see of a user in chat: id, username, display name, avatar.';
  end if;
end
$types$;

create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null,
  display_name text not null,
  avatar_url text,
  bio text,
  locale text not null default 'en',
  time_zone text not null default 'UTC',
  app_roles text[] not null default '{}',
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now()
);
create unique index if not exists profiles_username_lower_key on public.profiles (pg_catalog.lower(username));
comment on table public.profiles is 'One chat identity per account: display name, unique username, avatar, bio, locale, time zone.';
comment on column public.profiles.id is 'The user (auth.users.id).';
comment on column public.profiles.username is 'Unique handle, case-insensitively (3-32 of a-z, 0-9, _ and .).';
comment on column public.profiles.display_name is 'Name shown to others (1-80 characters).';
comment on column public.profiles.avatar_url is 'Avatar image URL (http or https), or null.';
comment on column public.profiles.bio is 'Short self-description (up to 500 characters).';
comment on column public.profiles.locale is 'Preferred language tag, e.g. en or pt-BR.';
comment on column public.profiles.time_zone is 'IANA time zone name, e.g. Europe/Paris.';
comment on column public.profiles.app_roles is 'Application roles (student, tutor, parent...) as attributes of the one identity; set by service_role only.';
comment on column public.profiles.created_at is 'When the profile was created.';
comment on column public.profiles.updated_at is 'When the profile last changed.';

create table if not exists public.privacy_settings (
  user_id uuid primary key references auth.users (id) on delete cascade,
  who_can_message public.contact_audience not null default 'everyone',
  who_can_call public.contact_audience not null default 'connections',
  show_online_status boolean not null default true,
  send_read_receipts boolean not null default true,
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table public.privacy_settings is 'Per-user privacy: who may message or call me, online status, read receipts.';
comment on column public.privacy_settings.user_id is 'The user these settings belong to.';
comment on column public.privacy_settings.who_can_message is 'Who may send me direct messages.';
comment on column public.privacy_settings.who_can_call is 'Who may call me.';
comment on column public.privacy_settings.show_online_status is 'Whether others may see when I am online.';
comment on column public.privacy_settings.send_read_receipts is 'Whether others see when I have read their messages.';
comment on column public.privacy_settings.updated_at is 'When the settings last changed.';

alter table public.profiles enable row level security;
alter table public.privacy_settings enable row level security;

revoke all on table public.profiles from anon, authenticated, service_role;
revoke all on table public.privacy_settings from anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant update (username, display_name, avatar_url, bio, locale, time_zone) on table public.profiles to authenticated;
grant select on table public.privacy_settings to authenticated;
grant update (who_can_message, who_can_call, show_online_status, send_read_receipts) on table public.privacy_settings to authenticated;
grant select, insert, update, delete on table public.profiles, public.privacy_settings to service_role;
