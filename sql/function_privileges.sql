-- New functions are executable by nobody until granted (issue 20 finding 4).
--
-- PostgreSQL lets PUBLIC execute every new function unless the creating
-- role's default privileges say otherwise. sql/parley_schemas.sql revoked it
-- per schema for parley_internal, but a per-schema default can only add to
-- the global one, so that revoke never took effect. This is the global one
-- for the role that runs the migrations: a function it creates later, in any
-- schema, is executable by no one but its owner until a migration grants it
-- (restrict_function / publish_function, functions/parley_api.sql).
-- Per-schema defaults that grant the API roles EXECUTE in public (Supabase's,
-- or sql/platform_roles.sql) are left as they are: published RPCs are granted
-- explicitly anyway. tests/test_function_allow_list.py lists every function an
-- API role may execute, in every schema, with the reason.

alter default privileges revoke execute on functions from public;
