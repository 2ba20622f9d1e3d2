-- What-if: make bench BENCH_ARGS="--apply bench/whatif/helpers_plpgsql.sql"
-- Every scalar LANGUAGE sql helper in parley_internal re-created as LANGUAGE plpgsql with the same
-- signature, attributes and body (return (<body>)), so its plan is cached for the session. SECURITY
-- DEFINER / SET search_path SQL functions are never inlined, and PostgreSQL 15 keeps a non-inlined SQL
-- function's plan only as long as the calling query (or plpgsql expression, within one transaction)
-- lives: every request plans every helper it calls again.
do $whatif$
declare
  f record;
  definition text;
  body text;
begin
  for f in
    select p.oid, p.prosrc from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_type t on t.oid = p.prorettype
    where n.nspname = 'parley_internal' and p.prokind = 'f' and not p.proretset
      and p.prolang = (select oid from pg_catalog.pg_language where lanname = 'sql')
      and t.typtype in ('b', 'e', 'd') and p.prorettype <> 'void'::regtype
  loop
    definition := pg_catalog.pg_get_functiondef(f.oid);
    body := pg_catalog.rtrim(pg_catalog.btrim(f.prosrc, E' \n\t'), E'; \n\t');
    definition := pg_catalog.replace(definition, 'LANGUAGE sql', 'LANGUAGE plpgsql');
    definition := pg_catalog.replace(definition, f.prosrc,
      E'\n#variable_conflict use_column\nbegin\n  return (' || body || E');\nend\n');
    execute definition;
  end loop;
end
$whatif$;
