"""parley_internal.publish_function derives the public SECURITY INVOKER wrapper of an internal RPC."""

from __future__ import annotations

import psycopg
import pytest

from identity_support import as_owner
from parley.db import Api, ApiError
from parley_dev import testing
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


# -- Every public function is derived -----------------------------------------

# Parley's public functions (not an extension's), fully qualified (the session runs with search_path '').
PUBLIC_FUNCTIONS = """
select p.oid::regprocedure::text
from pg_catalog.pg_proc p
where p.pronamespace = 'public'::regnamespace
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
order by 1
"""

# What publish_function decides: the whole definition, the ACL (as a set) and the comment.
STATE = """
select pg_catalog.pg_get_functiondef(f.oid),
       (select pg_catalog.array_agg(a::text order by a::text) from pg_catalog.unnest(p.proacl) as a),
       pg_catalog.obj_description(f.oid, 'pg_proc')
from (select %s::regprocedure::oid as oid) f join pg_catalog.pg_proc p on p.oid = f.oid
"""

IMPLEMENTATION_OF = """
select pg_catalog.to_regprocedure(pg_catalog.format('parley_internal.%%I(%%s)', p.proname,
                                                   pg_catalog.oidvectortypes(p.proargtypes)))::text,
       coalesce((select pg_catalog.array_agg(distinct r.rolname::text order by r.rolname::text)
                 from pg_catalog.aclexplode(p.proacl) as a join pg_catalog.pg_roles r on r.oid = a.grantee
                 where a.privilege_type = 'EXECUTE' and r.rolname in ('anon', 'authenticated', 'service_role')),
                '{}')
from pg_catalog.pg_proc p where p.oid = %s::regprocedure
"""


def underived_public_functions(connection: psycopg.Connection, ignore: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each public function that differs from what publish_function derives from its implementation, and how.

    Re-publishes every public function (from the parley_internal function of the same
    name and argument types, to the API roles that may execute it now) and compares
    definition, grants and comment, wrapper and implementation both, before and after.
    Rolls everything back.
    """
    problems: dict[str, str] = {}
    with connection.transaction(force_rollback=True):
        connection.execute("set local search_path = ''")
        for (wrapper,) in connection.execute(PUBLIC_FUNCTIONS).fetchall():
            if wrapper in ignore:
                continue
            implementation, grantees = connection.execute(IMPLEMENTATION_OF, (wrapper,)).fetchone()
            if implementation is None:
                problems[wrapper] = "no parley_internal implementation of the same name and arguments"
                continue
            before = [connection.execute(STATE, (f,)).fetchone() for f in (wrapper, implementation)]
            try:
                with connection.transaction():
                    connection.execute("select parley_internal.publish_function(%s, %s)", (implementation, grantees))
                    after = [connection.execute(STATE, (f,)).fetchone() for f in (wrapper, implementation)]
            except psycopg.Error as error:
                problems[wrapper] = f"publish_function refuses it: {error.diag.message_primary}"
                continue
            changed = [
                f"{what} {part}"
                for what, old, new in zip(("wrapper", "implementation"), before, after, strict=True)
                for part, old_value, new_value in zip(("definition", "grants", "comment"), old, new, strict=True)
                if old_value != new_value
            ]
            if changed:
                problems[wrapper] = "differs from the derived one: " + ", ".join(changed)
    return problems


@pytest.fixture(scope="module")
def platform_public_functions(server: testing.TestServer) -> frozenset[str]:
    """The public functions the platform has before any migration (none on the shim): not Parley's."""
    bare = server.create_database("publish_function_bare", bare_platform=True)
    try:
        with psycopg.connect(bare.url) as connection:
            connection.execute("set search_path = ''")
            return frozenset(signature for (signature,) in connection.execute(PUBLIC_FUNCTIONS))
    finally:
        server.drop_database(bare)


def test_every_public_function_is_what_publish_function_derives(
    database: TestDatabase, platform_public_functions: frozenset[str]
):
    """No hand-written wrapper: each public RPC is publish_function's, with its implementation's comment and grants."""
    with psycopg.connect(database.url) as connection:
        assert underived_public_functions(connection, platform_public_functions) == {}


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            """
            create function parley_internal.hand_written(word text) returns text
            language sql stable security definer set search_path = '' as $$ select word $$;
            comment on function parley_internal.hand_written(text) is 'Say a word.';
            select parley_internal.restrict_function('parley_internal.hand_written(text)', '{authenticated}');
            create function public.hand_written(word text) returns text
            language sql stable security invoker set search_path = ''
            as $$ select parley_internal.hand_written(word => hand_written.word) $$;
            comment on function public.hand_written(text) is 'Say a word.';
            select parley_internal.restrict_function('public.hand_written(text)', '{authenticated}');
            """,
            "differs from the derived one: wrapper definition",
        ),
        (
            """
            create function parley_internal.hand_written(word text) returns text
            language sql stable security definer set search_path = '' as $$ select word $$;
            comment on function parley_internal.hand_written(text) is 'Say a word.';
            select parley_internal.publish_function('parley_internal.hand_written(text)');
            comment on function public.hand_written(text) is 'Say a word, loudly.';
            grant execute on function public.hand_written(text) to public;
            """,
            "differs from the derived one: wrapper grants, wrapper comment",
        ),
        (
            """
            create function public.hand_written(word text) returns text
            language sql stable security invoker set search_path = '' as $$ select word $$;
            """,
            "no parley_internal implementation of the same name and arguments",
        ),
    ],
    ids=["hand-written-body", "grants-and-comment-changed", "no-implementation"],
)
def test_a_hand_written_public_function_is_caught(
    database: TestDatabase, platform_public_functions: frozenset[str], statement: str, problem: str
):
    with psycopg.connect(database.url) as connection, connection.transaction(force_rollback=True):
        connection.execute(statement)
        found = underived_public_functions(connection, platform_public_functions)
    assert found == {"public.hand_written(text)": problem}
