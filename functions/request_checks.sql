-- PostgREST's pre-request hook (db-pre-request): a clear refusal for anon.
--
-- PostgREST runs `select parley_internal.check_request()` as the request's
-- role after setting request.jwt.claims, request.method and request.path,
-- before the request's own statement (parley.db.Api does the same). Without
-- it, anon calling an RPC or reading a table it has no grant on gets
-- PostgreSQL's bare `42501 permission denied for function ...` (401, no
-- details); with it, the same 401 carries the documented reason
-- `unauthenticated` (docs/api.md, docs/errors.md). Anything anon may use
-- (a grant exists) passes untouched, and other roles are never checked here.

create or replace function parley_internal.check_request()
returns void
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  path text := coalesce(pg_catalog.current_setting('request.path', true), '');
  target text;
  allowed boolean;
begin
  if pg_catalog.current_setting('role', true) is distinct from 'anon' and current_user <> 'anon' then
    return;
  end if;
  if path like '/rpc/%' then
    target := pg_catalog.split_part(pg_catalog.substr(path, 6), '?', 1);
    select pg_catalog.bool_or(pg_catalog.has_function_privilege('anon', p.oid, 'execute')) into allowed
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname = target;
  elsif path ~ '^/[^/?]+' then
    target := pg_catalog.split_part(pg_catalog.split_part(pg_catalog.substr(path, 2), '?', 1), '/', 1);
    select pg_catalog.has_table_privilege('anon', c.oid, 'select') into allowed
    from pg_catalog.pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relname = target;
  else
    return;
  end if;
  if allowed is false then  -- null: no such object; PostgREST's own 404 follows
    raise exception using
      errcode = '42501',
      message = 'Sign in first: this endpoint needs a signed-in user',
      detail = 'unauthenticated',
      hint = 'Send the user''s access token (Authorization: Bearer <JWT>), not only the anon key';
  end if;
end;
$$;

comment on function parley_internal.check_request() is
  'PostgREST db-pre-request hook: refuses anon with 42501 and details ''unauthenticated'' on an RPC or table it has no grant on (otherwise PostgreSQL''s bare permission error).';

revoke all on function parley_internal.check_request() from public;
grant execute on function parley_internal.check_request() to anon, authenticated, service_role;

-- PostgREST reads its in-database configuration from the authenticator role (db-config, on by default);
-- on Supabase this is the documented way to install a pre-request function. Reload: NOTIFY pgrst, 'reload config'.
-- A placeholder setting such as pgrst.* needs a superuser, or SET on the parameter (PostgreSQL 15), or
-- supautils' privileged_role_allowed_configs (hosted Supabase). Where none holds, the migration goes on
-- with a WARNING naming the statement to run as a role that may: without the hook, anon's refusals carry
-- PostgreSQL's bare 42501 instead of details 'unauthenticated' (docs/supabase-compatibility.md#hosted-roles).
do $pre_request$
begin
  alter role authenticator set pgrst.db_pre_request to 'parley_internal.check_request';
exception when insufficient_privilege then
  raise warning using
    message = 'Parley could not install its PostgREST pre-request hook: ' || sqlerrm,
    hint = 'As a role allowed to set pgrst.* on authenticator, run: alter role authenticator set '
      || 'pgrst.db_pre_request to ''parley_internal.check_request''; notify pgrst, ''reload config'';';
end;
$pre_request$;
