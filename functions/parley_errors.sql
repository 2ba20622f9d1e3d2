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

create or replace function parley_internal.refuse(
  error_code text,
  reason text,
  message text,
  hint text
) returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = error_code,
    message = message,
    detail = reason,
    hint = coalesce(hint, '');
end
$$;

comment on function parley_internal.refuse(text, text, text, text) is
  'Raise a refusal: SQLSTATE error_code (HTTP status via PostgREST), stable reason in DETAIL, human message and hint.';

revoke all on function parley_internal.refuse(text, text, text, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.refuse(text, text, text, text) to anon, authenticated, service_role;
