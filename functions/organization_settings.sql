-- Organization settings: created with each organization, touched on change,
-- and read by the send path through organization_settings_of.

create or replace function parley_internal.create_organization_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.organization_settings (organization_id) values (new.id)
  on conflict (organization_id) do nothing;
  return new;
end
$$;
comment on function parley_internal.create_organization_settings() is
  'Trigger: give every new organization its settings row with the defaults.';
select parley_internal.restrict_function('parley_internal.create_organization_settings()', '{}');

drop trigger if exists organizations_create_settings on public.organizations;
create trigger organizations_create_settings after insert on public.organizations
  for each row execute function parley_internal.create_organization_settings();

drop trigger if exists organization_settings_touch on public.organization_settings;
create trigger organization_settings_touch before update on public.organization_settings
  for each row execute function parley_internal.touch_updated_at();

create or replace function parley_internal.organization_settings_of(organization_id uuid)
returns public.organization_settings
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  settings public.organization_settings;
begin
  select * into settings from public.organization_settings s
  where s.organization_id = organization_settings_of.organization_id;
  if not found then
    -- Organizations created before this table existed get their row (with the defaults) now.
    insert into public.organization_settings (organization_id) values (organization_settings_of.organization_id)
    on conflict on constraint organization_settings_pkey do update set organization_id = excluded.organization_id
    returning * into settings;
  end if;
  return settings;
end
$$;
comment on function parley_internal.organization_settings_of(uuid) is
  'The organization''s settings row (created with the defaults if missing).';
select parley_internal.restrict_function('parley_internal.organization_settings_of(uuid)', '{service_role}');
