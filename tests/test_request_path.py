"""The PostgREST-equivalent request path: settings per request, JWT checks, RPC calls, error mapping."""

from __future__ import annotations

import psycopg
import pytest

from parley import tokens
from parley.db import Api, ApiError, http_status


@pytest.fixture(scope="module", autouse=True)
def scratch_functions(database) -> None:
    """Functions that report the request settings or raise on demand."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            """
            create function public.scratch_echo(word text, times int default 1)
            returns text language sql stable set search_path = '' as $$ select repeat(word, times) $$;

            create function public.scratch_pair(left_id uuid, right_id uuid)
            returns table (side text, id uuid) language sql stable set search_path = ''
            as $$ values ('left', left_id), ('right', right_id) $$;

            create function public.scratch_refuse(state text) returns void language plpgsql
            set search_path = '' as $$
            begin
              raise sqlstate 'PT402' using message = 'refused', detail = 'state ' || state, hint = 'pay up';
            end $$;

            create function public.scratch_write() returns void language plpgsql volatile
            set search_path = '' as $$ begin create temporary table scratch_written (x int); end $$;
            """
        )


@pytest.mark.parametrize(
    ("sqlstate", "anonymous", "status"),
    [
        ("23505", False, 409),
        ("23503", False, 409),
        ("42501", True, 401),
        ("42501", False, 403),
        ("P0001", False, 400),
        ("PT402", False, 402),
        ("PT429", True, 429),
        ("42883", False, 404),
        ("42P01", False, 404),
        ("25006", False, 405),
        ("08006", False, 503),
        ("53300", False, 503),
        ("54001", False, 413),
        ("40001", False, 500),
        ("P0002", False, 500),
        ("XX000", False, 500),
        ("22P02", False, 400),
        ("23514", False, 400),
    ],
)
def test_sqlstate_maps_to_http_status_as_postgrest_does(sqlstate, anonymous, status):
    assert http_status(sqlstate, anonymous=anonymous) == status


def test_request_sets_role_claims_method_path_and_lowercased_headers(api: Api, database):
    user = database.create_user("settings")
    [row] = api.query(
        """
        select current_user as role,
               current_setting('request.jwt.claims')::jsonb ->> 'sub' as sub,
               current_setting('request.method') as method,
               current_setting('request.path') as path,
               current_setting('request.headers')::jsonb as headers
        """,
        token=user.token,
        method="POST",
        path="/rpc/anything",
        headers={"X-Forwarded-For": "198.51.100.4", "User-Agent": "pytest"},
    )
    assert row["role"] == "authenticated"
    assert row["sub"] == str(user.id)
    assert (row["method"], row["path"]) == ("POST", "/rpc/anything")
    assert row["headers"]["x-forwarded-for"] == "198.51.100.4"
    assert row["headers"]["user-agent"] == "pytest"


def test_settings_do_not_leak_into_the_next_request(api: Api, database):
    user = database.create_user("leak")
    api.query("select 1", token=user.token)
    [row] = api.query("select current_user as role, current_setting('request.jwt.claims', true) as claims")
    assert row == {"role": "anon", "claims": '{"role": "anon"}'}


def test_get_requests_are_read_only(api: Api):
    with pytest.raises(ApiError) as refusal:
        api.rpc("scratch_write", method="GET")
    assert (refusal.value.status, refusal.value.code) == (405, "25006")
    assert api.rpc("scratch_write", method="POST") is None


def test_invalid_and_expired_tokens_are_refused_with_401(api: Api, database):
    forged = tokens.mint("not-the-secret-but-long-enough-to-sign-with-hs256", role="service_role")
    with pytest.raises(ApiError) as invalid:
        api.query("select 1", token=forged)
    assert (invalid.value.status, invalid.value.code) == (401, "PGRST301")
    expired = tokens.mint(database.jwt_secret, role="anon", expires_in=-10)
    with pytest.raises(ApiError) as late:
        api.query("select 1", token=expired)
    assert (late.value.status, late.value.code, late.value.message) == (401, "PGRST303", "JWT expired")


def test_rpc_passes_named_arguments_typed_by_the_signature_and_uses_defaults(api: Api):
    assert api.rpc("scratch_echo", {"word": "ab"}) == "ab"
    assert api.rpc("scratch_echo", {"word": "ab", "times": 3}) == "ababab"


def test_rpc_returning_a_table_answers_a_list_of_objects(api: Api):
    left, right = "6f1a0c1e-0000-4000-8000-000000000001", "6f1a0c1e-0000-4000-8000-000000000002"
    assert api.rpc("scratch_pair", {"left_id": left, "right_id": right}) == [
        {"side": "left", "id": left},
        {"side": "right", "id": right},
    ]


def test_rpc_with_a_malformed_argument_is_a_400(api: Api):
    with pytest.raises(ApiError) as refusal:
        api.rpc("scratch_pair", {"left_id": "not-a-uuid", "right_id": "also-not"})
    assert (refusal.value.status, refusal.value.code) == (400, "22P02")


def test_rpc_to_an_unknown_function_or_argument_is_pgrst202(api: Api):
    with pytest.raises(ApiError) as unknown:
        api.rpc("no_such_function")
    assert (unknown.value.status, unknown.value.code) == (404, "PGRST202")
    with pytest.raises(ApiError) as wrong_argument:
        api.rpc("scratch_echo", {"wrd": "x"})
    assert wrong_argument.value.code == "PGRST202"


def test_custom_ptxyz_errors_keep_message_details_and_hint(api: Api):
    with pytest.raises(ApiError) as refusal:
        api.rpc("scratch_refuse", {"state": "unpaid"})
    assert refusal.value.status == 402
    assert refusal.value.body() == {
        "code": "PT402", "message": "refused", "details": "state unpaid", "hint": "pay up",
    }  # fmt: skip


def test_failed_request_rolls_back_everything_it_wrote(api: Api, database):
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute("create table public.scratch_log (entry text)")
        connection.execute("grant insert, select on public.scratch_log to service_role")
    service = database.token("service_role")
    with pytest.raises(ApiError), api.request(service) as connection:
        connection.execute("insert into public.scratch_log values ('half')")
        connection.execute("select 1/0")
    assert api.query("select count(*) as n from public.scratch_log", token=service)[0]["n"] == 0


def test_refuse_helper_carries_status_code_reason_message_and_hint(api: Api, database):
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            """
            create function public.scratch_slow_down() returns void language plpgsql security definer
            set search_path = ''
            as $$ begin perform parley_internal.refuse('PT429', 'rate_limited', 'Too many messages.',
                                                       'Retry after 3 seconds.'); end $$;
            """
        )
    with pytest.raises(ApiError) as refusal:
        api.rpc("scratch_slow_down", token=database.create_user("hasty").token)
    assert refusal.value.status == 429
    assert refusal.value.body() == {
        "code": "PT429", "message": "Too many messages.", "details": "rate_limited", "hint": "Retry after 3 seconds.",
    }  # fmt: skip
