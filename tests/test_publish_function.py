"""parley_internal.publish_function derives the public SECURITY INVOKER wrapper of an internal RPC."""

from __future__ import annotations

import psycopg
import pytest

from identity_support import as_owner
from parley.db import Api, ApiError
from parley_dev.testing import TestDatabase

IMPLEMENTATION = """
create function parley_internal.published_echo(word text, times integer default 2)
returns table (place integer, echoed text)
language sql stable security definer set search_path = ''
as $$ select g, word from pg_catalog.generate_series(1, times) as g $$;
comment on function parley_internal.published_echo(text, integer) is 'Echo a word.';
select parley_internal.publish_function('parley_internal.published_echo(text, integer)');
"""


@pytest.fixture(scope="module")
def published(database: TestDatabase) -> TestDatabase:
    as_owner(database, IMPLEMENTATION)
    return database


def test_wrapper_is_security_invoker_with_pinned_search_path_and_copied_comment(published: TestDatabase):
    rows = as_owner(
        published,
        """
        select p.prosecdef, p.proconfig, p.provolatile, pg_catalog.obj_description(p.oid, 'pg_proc'),
               pg_catalog.pg_get_function_arguments(p.oid)
        from pg_catalog.pg_proc p where p.oid = 'public.published_echo(text, integer)'::regprocedure
        """,
    )
    assert rows == [(False, ['search_path=""'], "s", "Echo a word.", "word text, times integer DEFAULT 2")]


def test_wrapper_and_implementation_are_executable_only_by_the_grantees(published: TestDatabase):
    rows = as_owner(
        published,
        """
        select role, pg_catalog.has_function_privilege(role, f, 'execute')
        from unnest(array['anon', 'authenticated', 'service_role']) as role,
             unnest(array['public.published_echo(text, integer)'::regprocedure,
                          'parley_internal.published_echo(text, integer)'::regprocedure]) as f
        order by 1, 2
        """,
    )
    assert {role for role, allowed in rows if allowed} == {"authenticated"}
    assert len([allowed for _, allowed in rows if allowed]) == 2


def test_wrapper_passes_named_arguments_and_defaults_through_the_request_path(published: TestDatabase, api: Api):
    user = published.create_user("echoer")
    assert api.rpc("published_echo", {"word": "hi"}, token=user.token) == [
        {"place": 1, "echoed": "hi"},
        {"place": 2, "echoed": "hi"},
    ]
    with pytest.raises(ApiError) as refused:
        api.rpc("published_echo", {"word": "hi"}, token=published.token("anon"))
    assert refused.value.status == 401


def test_publishing_a_function_without_a_comment_is_refused(published: TestDatabase):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="has no comment"):
        as_owner(
            published,
            """
            create function parley_internal.published_silent() returns integer
            language sql set search_path = '' as $$ select 1 $$;
            select parley_internal.publish_function('parley_internal.published_silent()');
            """,
        )
