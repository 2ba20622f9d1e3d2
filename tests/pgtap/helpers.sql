-- Test-only objects, loaded into the test template database after the
-- migrations (never part of the manifest):
--   * pgTAP, in its own schema "tap";
--   * helpers in schema "tests" that create users and impersonate them the
--     way PostgREST does (role + request.jwt.claims), in the spirit of
--     Basejump's supabase-test-helpers.
--
-- The impersonation helpers change transaction-local settings, so they must
-- not carry a SET clause (a function's SET would undo the change on return).
-- They live outside every exposed schema and are exempt from the lint.

create schema if not exists tap;
create extension if not exists pgtap schema tap;
grant usage on schema tap to anon, authenticated, service_role;
grant execute on all functions in schema tap to anon, authenticated, service_role;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- Create an auth.users row named `identifier` (as GoTrue would on sign-up).
create or replace function tests.create_user(identifier text, metadata jsonb default null)
returns uuid
language plpgsql
security definer
as $$
declare
  new_id uuid := gen_random_uuid();
begin
  insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
  values (new_id, 'authenticated', 'authenticated', identifier || '@test.parley',
          '{"provider": "email"}', coalesce(metadata, jsonb_build_object('display_name', identifier)));
  return new_id;
end
$$;

-- The id of the user created as `identifier`.
create or replace function tests.user_id(identifier text)
returns uuid
language sql stable
security definer
as $$
  select id from auth.users where email = identifier || '@test.parley'
$$;

-- Act as user `identifier` for the rest of the transaction, as PostgREST would.
create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
as $$
declare
  user_id uuid := tests.user_id(identifier);
begin
  if user_id is null then
    raise exception 'tests.authenticate_as: no test user %', identifier;
  end if;
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', jsonb_build_object(
    'sub', user_id, 'role', 'authenticated', 'email', identifier || '@test.parley',
    'aud', 'authenticated')::text, true);
  perform set_config('request.method', 'POST', true);
  perform set_config('request.headers', '{"user-agent": "pgtap", "x-forwarded-for": "203.0.113.7"}', true);
end
$$;

-- Act as the anon API role (no user).
create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', '{"role": "anon"}', true);
end
$$;

-- Act as the service_role API role (bypasses RLS).
create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
as $$
begin
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
end
$$;

-- Go back to the test's own (superuser) role.
create or replace function tests.clear_authentication()
returns void
language plpgsql
as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;
