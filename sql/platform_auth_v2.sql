-- Supabase platform compatibility, second step: the claim helpers as GoTrue
-- defines them.
--
-- GoTrue's auth.uid(), auth.role(), auth.email() and auth.jwt() are plain
-- `language sql stable` functions with no SET clause, so the planner inlines
-- them into the queries (and policies) that call them. The shim's first
-- version pinned `search_path = ''`, which blocks inlining; this file
-- replaces them with the inlinable form, every name schema-qualified
-- (coalesce/nullif are keywords; casts and ->> resolve in pg_catalog).
--
-- Only the shim's own functions are replaced (recognised by their comment);
-- on a Supabase database GoTrue's functions are left untouched.

do $auth_inlinable$
begin
  if pg_catalog.obj_description('auth.uid()'::pg_catalog.regprocedure, 'pg_proc')
     = 'The current user''s id: the sub claim of the request JWT, or null.' then
    create or replace function auth.uid() returns uuid
    language sql stable
    as $body$
      select coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
        (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $body$;
  end if;

  if pg_catalog.obj_description('auth.role()'::pg_catalog.regprocedure, 'pg_proc')
     = 'The role claim of the request JWT (anon, authenticated, service_role).' then
    create or replace function auth.role() returns text
    language sql stable
    as $body$
      select coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim.role', true), ''),
        (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $body$;
  end if;

  if pg_catalog.obj_description('auth.email()'::pg_catalog.regprocedure, 'pg_proc')
     = 'The email claim of the request JWT.' then
    create or replace function auth.email() returns text
    language sql stable
    as $body$
      select coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim.email', true), ''),
        (nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $body$;
  end if;

  if pg_catalog.obj_description('auth.jwt()'::pg_catalog.regprocedure, 'pg_proc')
     = 'All claims of the request JWT as jsonb.' then
    create or replace function auth.jwt() returns jsonb
    language sql stable
    as $body$
      select coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
        nullif(pg_catalog.current_setting('request.jwt.claims', true), '')
      )::jsonb
    $body$;
  end if;
end
$auth_inlinable$;
