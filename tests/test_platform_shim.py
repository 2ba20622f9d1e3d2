"""The Supabase platform shim: roles, auth helpers, RLS bypass, and leaving existing objects alone."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from parley import migrate
from parley.db import Api, ApiError
from parley_dev import testing


@pytest.fixture(scope="module")
def scratch_table(database: testing.TestDatabase) -> str:
    """A table under RLS whose only policy lets a user read their own rows."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            """
            create table public.scratch_notes (id bigint generated always as identity primary key,
                                               owner uuid not null, body text not null);
            alter table public.scratch_notes enable row level security;
            revoke all on public.scratch_notes from anon, authenticated, service_role;
            grant select on public.scratch_notes to anon, authenticated, service_role;
            create policy scratch_notes_own on public.scratch_notes for select to authenticated
              using (owner = (select auth.uid()));
            """
        )
    return "public.scratch_notes"


def test_api_roles_have_supabase_attributes(database):
    with psycopg.connect(database.url) as connection:
        rows = connection.execute(
            """
            select rolname, rolcanlogin, rolinherit, rolbypassrls from pg_roles
            where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by rolname
            """
        ).fetchall()
        members = connection.execute(
            "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "join pg_roles u on u.oid = m.member where u.rolname = 'authenticator' order by 1"
        ).fetchall()
    assert rows == [
        ("anon", False, False, False),
        ("authenticated", False, False, False),
        ("authenticator", True, False, False),
        ("service_role", False, False, True),
    ]
    assert [name for (name,) in members] == ["anon", "authenticated", "service_role"]


def test_auth_uid_role_email_jwt_read_request_jwt_claims(api: Api, database):
    user = database.create_user("claims")
    [row] = api.query("select auth.uid() as uid, auth.role() as role, auth.email() as email, auth.jwt() as jwt",
                      token=user.token)  # fmt: skip
    assert row["uid"] == user.id
    assert row["role"] == "authenticated"
    assert row["email"] == user.email
    assert row["jwt"]["sub"] == str(user.id)


def test_auth_uid_falls_back_to_legacy_per_claim_settings(database):
    legacy_id = uuid.uuid4()
    with psycopg.connect(database.url) as connection:
        connection.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(legacy_id),))
        assert connection.execute("select auth.uid()").fetchone() == (legacy_id,)


def test_auth_uid_is_null_for_anon(api: Api):
    assert api.query("select auth.uid() as uid")[0]["uid"] is None


def test_service_role_bypasses_rls_while_anon_and_authenticated_do_not(api: Api, database, scratch_table):
    owner = database.create_user("owner")
    other = database.create_user("other")
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(f"insert into {scratch_table} (owner, body) values (%s, 'mine')", (owner.id,))
    count = f"select count(*) as n from {scratch_table}"
    assert api.query(count, token=owner.token)[0]["n"] == 1
    assert api.query(count, token=other.token)[0]["n"] == 0
    assert api.query(count)[0]["n"] == 0  # anon: no policy for anon
    assert api.query(count, token=database.token("service_role"))[0]["n"] == 1


def test_api_roles_cannot_read_auth_users(api: Api, database):
    user = database.create_user("snoop")
    with pytest.raises(ApiError) as refusal:
        api.query("select * from auth.users", token=user.token)
    assert (refusal.value.status, refusal.value.code) == (403, "42501")
    with pytest.raises(ApiError) as anonymous:
        api.query("select * from auth.users")
    assert (anonymous.value.status, anonymous.value.code) == (401, "42501")


def test_storage_path_helpers_match_supabase(api: Api):
    [row] = api.query(
        "select storage.foldername('a/b/c.png') as folders, storage.filename('a/b/c.png') as file, "
        "storage.extension('a/b/c.tar.gz') as extension"
    )
    assert row == {"folders": ["a", "b"], "file": "c.png", "extension": "gz"}


def test_realtime_send_inserts_a_private_broadcast_row(database):
    with psycopg.connect(database.url) as connection:
        connection.execute("""select realtime.send('{"x": 1}', 'ping', 'room:1')""")
        row = connection.execute(
            "select topic, event, payload, private, extension from realtime.messages where topic = 'room:1'"
        ).fetchone()
        publication = connection.execute(
            "select count(*) from pg_publication where pubname = 'supabase_realtime'"
        ).fetchone()
    assert row == ("room:1", "ping", {"x": 1}, True, "broadcast")
    assert publication == (1,)


def test_shim_leaves_existing_platform_objects_alone(server: testing.TestServer):
    """On a Supabase database the platform objects exist already; the shim must not replace them."""
    target = server.create_database("existing_platform", empty=True)
    try:
        with psycopg.connect(target.url, autocommit=True) as connection:
            connection.execute(
                """
                create schema auth;
                create table auth.users (id uuid primary key, email text, marker text default 'supabase');
                create function auth.uid() returns uuid language sql stable
                  as $$ select '11111111-1111-1111-1111-111111111111'::uuid $$;
                create schema realtime;
                create table realtime.messages (id bigint primary key, topic text, marker text);
                """
            )
        migrate.migrate(target.url)
        with psycopg.connect(target.url) as connection:
            assert connection.execute("select auth.uid()").fetchone() == (
                uuid.UUID("11111111-1111-1111-1111-111111111111"),
            )
            columns = connection.execute(
                "select array_agg(column_name::text order by ordinal_position) from information_schema.columns "
                "where table_schema = 'auth' and table_name = 'users'"
            ).fetchone()
            assert columns == (["id", "email", "marker"],)
            realtime_columns = connection.execute(
                "select count(*) from information_schema.columns "
                "where table_schema = 'realtime' and table_name = 'messages'"
            ).fetchone()
            assert realtime_columns == (3,)
            # What was missing was still created.
            assert connection.execute("select to_regprocedure('auth.role()') is not null").fetchone() == (True,)
    finally:
        server.drop_database(target)
