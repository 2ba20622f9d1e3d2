"""The RLS matrix (issue 5): every exposed table x {anon, stranger, member, admin of another organization,
admin of this organization, service_role} x {select, insert, update, delete} against its expected outcome.

Each statement runs the way PostgREST runs a request: on a connection logged in
as ``authenticator``, in one transaction that sets ``role`` and
``request.jwt.claims`` (and the request headers), then rolled back. The
expectations live in tests/rls_matrix.py; a table in ``public`` without an
entry there fails ``test_every_exposed_table_has_a_matrix_entry``. A policy
deliberately broken in a scratch database is caught by the same matrix
(``test_a_deliberately_broken_policy_is_caught_by_the_matrix``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from parley_dev import testing
from rls_matrix import ACTOR_USERS, ACTORS, FIXTURE, MATRIX, OPERATIONS, Outcome

CASES = [(table, operation, actor) for table in MATRIX for operation in OPERATIONS for actor in ACTORS]


class Rollback(Exception):
    """Raised inside a probe's transaction so that it always rolls back."""


def claims_for(actor: str) -> dict[str, str]:
    """The verified JWT claims PostgREST would set for ``actor``."""
    if actor in ("anon", "service_role"):
        return {"role": actor}
    return {"sub": ACTOR_USERS[actor], "role": "authenticated", "aud": "authenticated"}


def probe(connection: psycopg.Connection, actor: str, statement: str) -> Outcome:
    """Run ``statement`` as ``actor`` in a rolled-back request; the row count, or the refusal's SQLSTATE."""
    claims = claims_for(actor)
    try:
        with connection.transaction():
            connection.execute(
                "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
                "set_config('request.method', 'POST', true), "
                "set_config('request.headers', '{\"user-agent\": \"rls-matrix\"}', true)",
                (claims["role"], json.dumps(claims)),
            )
            count = connection.execute(f"with probed as ({statement}) select count(*) from probed").fetchone()[0]
            raise Rollback(count)
    except Rollback as done:
        return int(done.args[0])
    except psycopg.Error as error:
        return error.diag.sqlstate or "XX000"


def build_fixture(database: testing.TestDatabase) -> None:
    """Two organizations with rows in every exposed table (set-up as the owner)."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(FIXTURE.encode())


@pytest.fixture(scope="module")
def matrix_connection(database: testing.TestDatabase) -> Iterator[psycopg.Connection]:
    build_fixture(database)
    with psycopg.connect(database.api_url, autocommit=True) as connection:
        yield connection


def exposed_tables(connection: psycopg.Connection) -> set[str]:
    """Every table, view and foreign table in the exposed schema, from the catalog."""
    rows = connection.execute(
        "select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')"
    ).fetchall()
    return {row[0] for row in rows}


def test_every_exposed_table_has_a_matrix_entry(matrix_connection):
    """A table added to public without its row in tests/rls_matrix.py fails here."""
    tables = exposed_tables(matrix_connection)
    assert tables, "no exposed table found"
    assert sorted(tables - set(MATRIX)) == [], "exposed tables without an RLS matrix entry"
    assert sorted(set(MATRIX) - tables) == [], "matrix entries for tables that do not exist"


@pytest.mark.parametrize(("table", "operation", "actor"), CASES, ids=["-".join(case) for case in CASES])
def test_rls_matrix(matrix_connection, table, operation, actor):
    """One cell of the matrix: ``actor`` doing ``operation`` on ``table`` gets exactly the expected outcome."""
    entry = MATRIX[table]
    assert probe(matrix_connection, actor, entry.statement(operation)) == entry.outcome(operation, actor)


# A broken policy of the kind a lint cannot see (no "true", no missing initplan): the audit log's read policy
# checks membership instead of chat.audit_read, so every member reads the trail.
BROKEN_POLICY = """
drop policy audit_log_select on public.audit_log;
create policy audit_log_select on public.audit_log for select to authenticated
  using (parley_internal.my_organization_member(organization_id));
"""


def test_a_deliberately_broken_policy_is_caught_by_the_matrix(server: testing.TestServer):
    """Issue 5 'Done when': a deliberately broken policy, added in a scratch database, is caught: the matrix
    reports exactly the cell it opened (a plain member reading the audit log), and nothing else."""
    scratch = server.create_database("rls_broken_policy")
    try:
        build_fixture(scratch)
        with psycopg.connect(scratch.url, autocommit=True) as owner:
            owner.execute(BROKEN_POLICY)
        with psycopg.connect(scratch.api_url, autocommit=True) as connection:
            mismatches = [
                (table, operation, actor, MATRIX[table].outcome(operation, actor), outcome)
                for table, operation, actor in CASES
                if table == "audit_log"
                and (outcome := probe(connection, actor, MATRIX[table].statement(operation)))
                != MATRIX[table].outcome(operation, actor)
            ]
    finally:
        server.drop_database(scratch)
    assert mismatches == [("audit_log", "select", "member", 0, 1)]
