-- Parley's own schemas.
--
-- public           the API surface PostgREST exposes: tables under RLS and
--                  the rpc/... functions, each granted explicitly.
-- parley_internal  never exposed through the API: SECURITY DEFINER helpers
--                  that policies call, trigger functions and private tables.
--                  API roles get USAGE so policies can call the helpers, and
--                  EXECUTE only on the helpers granted one by one.

create schema if not exists parley_internal;
revoke all on schema parley_internal from public;
grant usage on schema parley_internal to anon, authenticated, service_role;
comment on schema parley_internal is 'Parley internals: helpers, triggers and private tables. Never exposed through the API.';

-- Functions are executable by PUBLIC unless revoked; in parley_internal
-- nothing is, until granted next to its definition.
alter default privileges in schema parley_internal revoke execute on functions from public;
