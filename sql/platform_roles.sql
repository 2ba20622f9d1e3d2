-- Supabase platform compatibility: API roles.
--
-- On a Supabase database these roles already exist and this file changes
-- nothing. On a vanilla PostgreSQL it creates them with Supabase's names and
-- attributes. See docs/supabase-compatibility.md.

do $roles$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticator') then
    -- PostgREST logs in as authenticator and switches to one of the three
    -- API roles per request. NOINHERIT: it holds no privilege of its own.
    create role authenticator login noinherit;
    grant anon, authenticated, service_role to authenticator;
    -- A Supabase database grants every new object in public to the three API
    -- roles by default. Reproduce that on vanilla PostgreSQL so that a file
    -- which forgets its explicit REVOKE fails the tests here, not in
    -- production. Parley's files revoke and grant explicitly.
    alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
  end if;
end
$roles$;

-- Every API role may look into public; what it can touch there is granted
-- object by object, next to each object's definition.
grant usage on schema public to anon, authenticated, service_role;

-- Supabase keeps extensions out of public (splinter: extension_in_public).
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
