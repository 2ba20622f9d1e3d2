-- Supabase platform compatibility, second step: default privileges in public
-- for every database, not only the first one.
--
-- A Supabase database grants every new table, sequence and function in public
-- to anon, authenticated and service_role by default. The first version of
-- the shim (platform_roles.sql) set that up only in the branch that created
-- the roles, and roles are cluster-wide: a second database on the same
-- vanilla cluster got no default privileges. Default privileges are
-- per-database, so they are set here whenever the migration role has none in
-- public yet. On Supabase (where postgres has them) this changes nothing.

do $default_privileges$
begin
  if not exists (select 1 from pg_catalog.pg_default_acl
                 where defaclrole = (select oid from pg_catalog.pg_roles where rolname = current_user)
                   and defaclnamespace = 'public'::pg_catalog.regnamespace) then
    alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
  end if;
end
$default_privileges$;
