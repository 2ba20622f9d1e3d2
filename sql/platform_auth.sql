-- Supabase platform compatibility: the auth schema (GoTrue's tables) and the
-- claim helpers auth.uid(), auth.role(), auth.jwt(), auth.email().
--
-- Only the subset Parley uses, with Supabase's names and types. Every object
-- is created only when missing, so a Supabase database is left untouched.

do $auth_schema$
begin
  if to_regnamespace('auth') is null then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  if to_regclass('auth.users') is null then
    create table auth.users (
      instance_id uuid,
      id uuid not null primary key,
      aud character varying(255),
      role character varying(255),
      email character varying(255),
      encrypted_password character varying(255),
      email_confirmed_at timestamp with time zone,
      phone text unique default null,
      phone_confirmed_at timestamp with time zone,
      raw_app_meta_data jsonb,
      raw_user_meta_data jsonb,
      is_super_admin boolean,
      created_at timestamp with time zone default now(),
      updated_at timestamp with time zone default now(),
      last_sign_in_at timestamp with time zone,
      banned_until timestamp with time zone,
      deleted_at timestamp with time zone,
      is_sso_user boolean not null default false,
      is_anonymous boolean not null default false
    );
    create unique index users_email_partial_key on auth.users (email) where (is_sso_user = false);
    -- As on Supabase: RLS on, no policy; only GoTrue (the owner) and
    -- service_role (BYPASSRLS) ever read it.
    alter table auth.users enable row level security;
    -- GoTrue owns auth.users. The API roles never read it directly
    -- (splinter: auth_users_exposed); service_role may, as on Supabase.
    revoke all on table auth.users from public, anon, authenticated;
    grant select, insert, update, delete on table auth.users to service_role;
    comment on table auth.users is 'Compatibility copy of GoTrue''s users table (subset of columns).';
  end if;
end
$auth_schema$;

-- The claim helpers read request.jwt.claims (PostgREST 9+), falling back to
-- the legacy per-claim settings request.jwt.claim.*, as Supabase's do.
do $claim_helpers$
begin
  if to_regprocedure('auth.uid()') is null then
    execute $fn$
      create function auth.uid() returns uuid
      language sql stable
      set search_path = ''
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
          (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $body$
    $fn$;
    comment on function auth.uid() is 'The current user''s id: the sub claim of the request JWT, or null.';
  end if;

  if to_regprocedure('auth.role()') is null then
    execute $fn$
      create function auth.role() returns text
      language sql stable
      set search_path = ''
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim.role', true), ''),
          (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
      $body$
    $fn$;
    comment on function auth.role() is 'The role claim of the request JWT (anon, authenticated, service_role).';
  end if;

  if to_regprocedure('auth.email()') is null then
    execute $fn$
      create function auth.email() returns text
      language sql stable
      set search_path = ''
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim.email', true), ''),
          (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
        )::text
      $body$
    $fn$;
    comment on function auth.email() is 'The email claim of the request JWT.';
  end if;

  if to_regprocedure('auth.jwt()') is null then
    execute $fn$
      create function auth.jwt() returns jsonb
      language sql stable
      set search_path = ''
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')
        )::jsonb
      $body$
    $fn$;
    comment on function auth.jwt() is 'All claims of the request JWT as jsonb.';
  end if;
end
$claim_helpers$;

