-- Refusals: one way to say no, everywhere.
--
-- Every refusal Parley raises carries
--   code    the SQLSTATE, which PostgREST turns into the HTTP status
--           (P0001 -> 400, 42501 -> 401/403, PT402 -> 402, PT404 -> 404,
--            PT409 -> 409, PT429 -> 429, ...);
--   details a stable, snake_case reason a frontend can switch on
--           (for example body_too_long, blocked, feature_disabled);
--   message a sentence for people;
--   hint    what to do about it.
-- docs/errors.md lists the reasons.
--
-- Monitoring counts refusals by reason (docs/monitoring.md). A refusal rolls
-- its transaction back, so it cannot be counted by an insert; before raising,
-- refuse emits a NON-transactional logical decoding message, prefix
-- 'parley.refusal', content {"sqlstate", "reason", "user_id",
-- "organization_id", "role", "at"}: a WAL record that survives the rollback.
-- The realtime service decodes it with wal2json and hands batches to
-- parley_internal.record_refusals. The emit is skipped when nothing could
-- decode it (wal_level below logical, a standby) or when the setting
-- parley.refusal_events is 'off', and any failure of it is swallowed: it
-- never replaces the refusal. Code that knows the organization may say so
-- with parley_internal.set_refusal_organization(organization_id) first.

create or replace function parley_internal.refuse(
  error_code text,
  reason text,
  message text,
  hint text
) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if pg_catalog.current_setting('wal_level') = 'logical'
     and coalesce(pg_catalog.current_setting('parley.refusal_events', true), '') <> 'off' then
    begin
      perform pg_catalog.pg_logical_emit_message(false, 'parley.refusal', pg_catalog.json_build_object(
        'sqlstate', error_code,
        'reason', reason,
        'user_id', nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::json ->> 'sub',
        'organization_id', nullif(pg_catalog.current_setting('parley.refusal_organization_id', true), ''),
        'role', coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::json ->> 'role',
                         pg_catalog.current_setting('role')),
        'at', pg_catalog.clock_timestamp())::text);
    exception when others then
      null;  -- monitoring must never hide or replace the refusal itself
    end;
  end if;
  raise exception using
    errcode = error_code,
    message = message,
    detail = reason,
    hint = coalesce(hint, '');
end
$$;

comment on function parley_internal.refuse(text, text, text, text) is
  'Raise a refusal: SQLSTATE error_code (HTTP status via PostgREST), stable reason in DETAIL, human message and hint. Emits a non-transactional parley.refusal WAL message first, for monitoring.';

revoke all on function parley_internal.refuse(text, text, text, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.refuse(text, text, text, text) to service_role;

create or replace function parley_internal.set_refusal_organization(organization_id uuid)
returns void
language sql
volatile
set search_path = ''
as $$
  select pg_catalog.set_config('parley.refusal_organization_id', coalesce(organization_id::text, ''), true)
$$;
comment on function parley_internal.set_refusal_organization(uuid) is
  'Attribute the refusals of the rest of this transaction to the organization (monitoring counts them under it).';

revoke all on function parley_internal.set_refusal_organization(uuid) from public, anon, authenticated, service_role;
grant execute on function parley_internal.set_refusal_organization(uuid) to service_role;

-- Input hygiene shared by the RPCs: names and titles are trimmed of all
-- whitespace (btrim alone only trims spaces, so a name of tabs would pass),
-- Unicode's blank-looking characters included (issue 20: a name of only
-- NBSP, U+3000 or zero-width characters is empty).
create or replace function parley_internal.trim_whitespace(value text)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.regexp_replace(value, '^[[:space:]\u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+|[[:space:]\u0085\u00a0\u1680\u180e\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+$', '', 'g')
$$;
comment on function parley_internal.trim_whitespace(text) is
  'The text without leading and trailing whitespace of any kind: spaces, tabs, newlines, NEL, no-break and ideographic spaces, zero-width characters.';
revoke all on function parley_internal.trim_whitespace(text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.trim_whitespace(text) to service_role;

-- Id lists from JSON: PostgREST turns [[id]] into a two-dimensional array,
-- which unnest flattens silently and array_position refuses with a bare
-- 0A000 (issue 20). Every RPC taking a uuid[] refuses it first, clearly.
create or replace function parley_internal.require_flat_id_list(ids uuid[], reason text, what text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if pg_catalog.array_ndims(ids) > 1 then
    perform parley_internal.refuse('P0001', reason, pg_catalog.format('%s is a list of ids, not a list of lists.', what),
      'Pass a flat JSON array of ids, e.g. ["4e8b…", "9c1d…"].');
  end if;
end
$$;
comment on function parley_internal.require_flat_id_list(uuid[], text, text) is
  'Refuse (P0001 reason) an id array of more than one dimension ([[id]] from JSON).';
revoke all on function parley_internal.require_flat_id_list(uuid[], text, text) from public, anon, authenticated, service_role;
