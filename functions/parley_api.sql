-- Publishing RPCs: one definition, one call.
--
-- Parley's RPC logic lives in SECURITY DEFINER functions in parley_internal
-- (never exposed). What PostgREST exposes is a SECURITY INVOKER wrapper of the
-- same name in public (splinter 0028/0029 forbid SECURITY DEFINER functions
-- that anon or authenticated can call in an exposed schema). Writing each
-- wrapper, its comment and its grants by hand repeats the signature four
-- times, so parley_internal.publish_function derives the wrapper from the
-- implementation's catalog entry:
--   * same name, arguments (with defaults), result type and volatility;
--   * body: select * from parley_internal.<name>(arg => arg, ...);
--   * the implementation's comment, copied (refused if it has none);
--   * EXECUTE revoked from PUBLIC and every API role, then granted to
--     `grantees`, on both the wrapper and the implementation.
-- Re-running it replaces the wrapper, so function files stay re-appliable.

create or replace function parley_internal.restrict_function(target regprocedure, grantees text[])
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  grantee text;
begin
  execute pg_catalog.format('revoke all on function %s from public, anon, authenticated, service_role', target);
  foreach grantee in array coalesce(grantees, '{}') loop
    if grantee not in ('anon', 'authenticated', 'service_role') then
      raise exception 'restrict_function: % is not an API role', grantee using errcode = '22023';
    end if;
    execute pg_catalog.format('grant execute on function %s to %I', target, grantee);
  end loop;
end
$$;
comment on function parley_internal.restrict_function(regprocedure, text[]) is
  'Migration helper: revoke EXECUTE on a function from PUBLIC and all API roles, then grant it to the listed API roles.';
revoke all on function parley_internal.restrict_function(regprocedure, text[]) from public, anon, authenticated, service_role;

create or replace function parley_internal.publish_function(
  implementation regprocedure,
  grantees text[] default array['authenticated']
)
returns regprocedure
language plpgsql
volatile
set search_path = ''
as $$
declare
  source pg_catalog.pg_proc;
  description text;
  call_arguments text;
  volatility text;
  wrapper regprocedure;
begin
  select * into source from pg_catalog.pg_proc where oid = implementation;
  if source.pronamespace <> 'parley_internal'::regnamespace then
    raise exception 'publish_function: % is not in parley_internal', implementation using errcode = '22023';
  end if;
  description := pg_catalog.obj_description(implementation, 'pg_proc');
  if description is null then
    raise exception 'publish_function: % has no comment; PostgREST shows it to frontend developers', implementation
      using errcode = '22023';
  end if;
  -- Input arguments only (i = in, b = inout, v = variadic); OUT/TABLE columns are not passed.
  select pg_catalog.string_agg(
           case when mode = 'v' then pg_catalog.format('variadic %1$I => %2$I.%1$I', name, source.proname)
                else pg_catalog.format('%1$I => %2$I.%1$I', name, source.proname) end,
           ', ' order by position)
    into call_arguments
  from rows from (pg_catalog.unnest(source.proargnames),
                  pg_catalog.unnest(coalesce(source.proargmodes, pg_catalog.array_fill('i'::"char",
                    array[coalesce(pg_catalog.cardinality(source.proargnames), 0)]))))
       with ordinality as a(name, mode, position)
  where mode in ('i', 'b', 'v');
  volatility := case source.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end;

  execute pg_catalog.format(
    'create or replace function public.%I(%s) returns %s language sql %s security invoker set search_path = '''' '
    'as $wrapper$ select * from parley_internal.%I(%s) $wrapper$',
    source.proname, pg_catalog.pg_get_function_arguments(implementation),
    pg_catalog.pg_get_function_result(implementation), volatility, source.proname, coalesce(call_arguments, ''));
  wrapper := pg_catalog.format('public.%I(%s)', source.proname,
                               pg_catalog.oidvectortypes(source.proargtypes))::regprocedure;
  execute pg_catalog.format('comment on function %s is %L', wrapper, description);
  perform parley_internal.restrict_function(implementation, grantees);
  perform parley_internal.restrict_function(wrapper, grantees);
  return wrapper;
end
$$;
comment on function parley_internal.publish_function(regprocedure, text[]) is
  'Migration helper: expose a parley_internal function as a SECURITY INVOKER wrapper of the same name in public, with its comment and explicit grants.';
revoke all on function parley_internal.publish_function(regprocedure, text[]) from public, anon, authenticated, service_role;
