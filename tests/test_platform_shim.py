"""The Supabase platform shim: roles, auth helpers, RLS bypass, and leaving existing objects alone."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from parley import config, migrate
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
    """What Parley relies on, not the exact role list (Supabase's own build grants authenticator more roles)."""
    with psycopg.connect(database.url) as connection:
        rows = connection.execute(
            """
            select rolname, rolcanlogin, rolsuper, rolbypassrls from pg_roles
            where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by rolname
            """
        ).fetchall()
        [(authenticator_inherits,)] = connection.execute(
            "select rolinherit from pg_roles where rolname = 'authenticator'"
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
    # authenticator gets nothing by itself: every privilege comes from the role PostgREST switches to.
    assert authenticator_inherits is False
    assert {"anon", "authenticated", "service_role"} <= {name for (name,) in members}


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


def test_realtime_send_inserts_a_private_broadcast_row_with_its_id_in_the_payload(database):
    """As Supabase's realtime.send: the row id is added to the payload, unless the payload has an id."""
    with psycopg.connect(database.url) as connection:
        connection.execute("""select realtime.send('{"x": 1}', 'ping', 'room:1')""")
        connection.execute("""select realtime.send('{"id": "mine"}', 'ping', 'room:2')""")
        row = connection.execute(
            "select topic, event, payload, private, extension, id::text from realtime.messages where topic = 'room:1'"
        ).fetchone()
        [own_id] = connection.execute("select payload from realtime.messages where topic = 'room:2'").fetchone()
        publication = connection.execute(
            "select count(*) from pg_publication where pubname = 'supabase_realtime'"
        ).fetchone()
    assert row[:5] == ("room:1", "ping", {"x": 1, "id": row[5]}, True, "broadcast")
    assert own_id == {"id": "mine"}
    assert publication == (1,)


def test_realtime_messages_is_partitioned_by_day_as_on_supabase(database):
    with psycopg.connect(database.url) as connection:
        [(kind, strategy, key)] = connection.execute(
            """
            select c.relkind::text, p.partstrat::text, pg_get_partkeydef(c.oid)
            from pg_class c left join pg_partitioned_table p on p.partrelid = c.oid
            where c.oid = 'realtime.messages'::regclass
            """
        ).fetchall()
        [today] = connection.execute(
            "select to_regclass('realtime.messages_' || to_char((now() at time zone 'utc')::date, 'YYYY_MM_DD'))::text"
        ).fetchone()
        defaults = connection.execute(
            "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'realtime.messages'::regclass and pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'"
        ).fetchone()
    assert (kind, strategy, key) == ("p", "r", "RANGE (inserted_at)")
    assert today is not None
    assert defaults == (0,)


def test_storage_refuses_direct_deletes_unless_allow_delete_query_is_set(database):
    """Supabase Storage's protect_delete trigger: a stray DELETE cannot orphan files in the object store."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            "insert into storage.buckets (id, name) values ('parity', 'parity') on conflict do nothing;"
            "insert into storage.objects (bucket_id, name) values ('parity', 'a/b.txt')"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Direct deletion from storage tables"):
            connection.execute("delete from storage.objects where bucket_id = 'parity'")
        with connection.transaction():
            connection.execute("select set_config('storage.allow_delete_query', 'true', true)")
            deleted = connection.execute("delete from storage.objects where bucket_id = 'parity' returning name")
            assert deleted.fetchall() == [("a/b.txt",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("delete from storage.buckets where id = 'parity'")


def test_auth_helpers_are_inlinable_as_gotrue_defines_them(database):
    """No SET clause, SQL, STABLE, invoker: the planner inlines auth.uid() into policies and queries."""
    with psycopg.connect(database.url) as connection:
        rows = connection.execute(
            """
            select p.proname, l.lanname, p.provolatile::text, p.prosecdef, p.proconfig
            from pg_proc p join pg_language l on l.oid = p.prolang
            where p.pronamespace = 'auth'::regnamespace and p.proname in ('uid', 'role', 'email', 'jwt')
            order by 1
            """
        ).fetchall()
        plan = connection.execute(
            "explain (verbose, costs off) select 1 from auth.users where id = auth.uid()"
        ).fetchall()
    assert rows == [(name, "sql", "s", False, None) for name in ("email", "jwt", "role", "uid")]
    text = "\n".join(line for (line,) in plan)
    assert "current_setting" in text and "auth.uid()" not in text, text


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


def test_migration_without_the_owner_grant_stops_naming_the_missing_grant(server: testing.TestServer):
    """Hosted roles without supautils: a migration role that does not own storage.objects (nor belongs to its
    owner) is stopped with a message that names the owner and the GRANT to run (docs/supabase-compatibility.md).
    """
    if server.target != "platform":
        pytest.skip("needs Supabase's platform SQL with postgres lacking the owner roles (the platform target)")
    role = f"hosted_probe_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server.superuser_url, autocommit=True) as connection:
        connection.execute(
            f"create role {role} login nosuperuser createdb bypassrls password '{password}' in role postgres"
        )
        connection.execute(f"create database {role} owner {role} template template1")
    url = psycopg.conninfo.make_conninfo(server.admin_url, user=role, password=password, dbname=role)
    try:
        with pytest.raises(migrate.MigrationError) as refused:
            migrate.migrate(url)
        message = str(refused.value)
        assert "storage/chat_files.sql" in message and "must be owner of table objects" in message
        assert f"storage.objects belongs to supabase_storage_admin, and {role} is neither" in message
        assert f"GRANT supabase_storage_admin TO {role};" in message
    finally:
        with psycopg.connect(server.superuser_url, autocommit=True) as connection:
            connection.execute(f"drop database if exists {role} with (force)")
            connection.execute(f"drop role if exists {role}")


def test_a_database_migrated_with_the_first_shim_is_upgraded_in_place(server: testing.TestServer, tmp_path):
    """The _v2 files turn the first shim's plain realtime.messages into the partitioned table (recent rows and
    policies kept), make the auth helpers inlinable and add the delete protection."""
    v2_files = {
        "sql/platform_roles_v2.sql",
        "sql/platform_auth_v2.sql",
        "sql/platform_storage_v2.sql",
        "sql/platform_realtime_v2.sql",
    }
    root = config.project_root()
    for folder in ("sql", "policies", "functions", "storage"):
        (tmp_path / folder).symlink_to(root / folder)
    manifest = [line for line in (root / "migrations.txt").read_text().splitlines() if line.strip() not in v2_files]
    (tmp_path / "migrations.txt").write_text("\n".join(manifest) + "\n")
    target = server.create_database("first_shim", empty=True)
    try:
        migrate.migrate(target.url, tmp_path)
        with psycopg.connect(target.url, autocommit=True) as connection:
            assert connection.execute(
                "select relkind::text from pg_class where oid = 'realtime.messages'::regclass"
            ).fetchone() == ("r",)
            connection.execute(
                "insert into realtime.messages (topic, extension, event, payload, inserted_at) values "
                "('room:recent', 'broadcast', 'x', '{}', now() - interval '1 day'), "
                "('room:ancient', 'broadcast', 'x', '{}', now() - interval '30 days')"
            )
            policies_before = connection.execute(
                "select policyname, cmd, roles::text, qual, with_check from pg_policies "
                "where schemaname = 'realtime' and tablename = 'messages' order by 1"
            ).fetchall()
        assert policies_before, "policies/realtime.sql puts policies on realtime.messages"

        steps = migrate.migrate(target.url)
        assert {step.file.path for step in steps} == v2_files

        with psycopg.connect(target.url, autocommit=True) as connection:
            assert connection.execute(
                "select relkind::text from pg_class where oid = 'realtime.messages'::regclass"
            ).fetchone() == ("p",)
            assert connection.execute("select topic from realtime.messages order by 1").fetchall() == [("room:recent",)]
            assert (
                connection.execute(
                    "select policyname, cmd, roles::text, qual, with_check from pg_policies "
                    "where schemaname = 'realtime' and tablename = 'messages' order by 1"
                ).fetchall()
                == policies_before
            )
            assert connection.execute("select to_regclass('realtime.messages_unpartitioned')").fetchone() == (None,)
            assert connection.execute(
                "select proconfig from pg_proc where oid = 'auth.uid()'::regprocedure"
            ).fetchone() == (None,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute("delete from storage.objects")
            connection.execute("""select realtime.send('{"a": 1}', 'e', 'room:new')""")
            [payload] = connection.execute("select payload from realtime.messages where topic = 'room:new'").fetchone()
            assert set(payload) == {"a", "id"}
    finally:
        server.drop_database(target)
