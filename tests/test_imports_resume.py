"""Legacy imports (issue 16), faults and the CLI: a run killed mid-way resumes from its checkpoint, a dry
run writes nothing and lists every exception and conflict, a session terminated by the server resumes too,
and a legacy database on another server is read through postgres_fdw.

``parley import`` runs as a real subprocess; it is killed with SIGKILL (no clean-up of any kind).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from identity_support import as_owner
from imports_support import generate, organization, run_import, scalar, snapshot
from parley import config
from parley.db import Api


def cli(database, *arguments: str) -> subprocess.Popen:
    """``parley import ...`` as a subprocess against the test database."""
    environment = {**os.environ, "PYTHONPATH": str(config.project_root() / "python")}
    return subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "import", *arguments, "--database-url", database.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )  # fmt: skip


@pytest.fixture(scope="module")
def target(api: Api, database) -> str:
    owner = database.create_user("resumeowner")
    return organization(api, owner)


def test_dry_run_writes_nothing_and_lists_every_exception_and_conflict(target, database):
    generate(database, "astegni", users=20, messages=800, seed=3)
    before = snapshot(database)
    process = cli(database, "astegni", "--organization", target, "--dry-run", "--batch-size", "100")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert snapshot(database) == before
    assert scalar(database, "select count(*) from parley_import.runs") == 0
    assert scalar(database, "select count(*) from parley_import.targets") == 0
    assert "DRY RUN" in err and "dry run: nothing was written" in out
    assert "merged_conversations: legacy conversations" in out
    assert "merged_accounts: legacy users 1, 21 share the email" in out
    assert "exception chat_messages" in out and "body_too_long" in out
    assert "exception conversations" in out and "self_conversation" in out
    # Every exception the real run records was listed by the dry run.
    report = run_import(database, "astegni", target, batch_size=100)
    listed = {line.removeprefix("  exception ").split(": ")[0] for line in out.splitlines() if "  exception " in line}
    recorded = {f"{table} {key}" for table, key, *_ in report.exceptions}
    assert recorded and recorded == listed


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_verified(server, database):
    fresh = server.create_database("imports_kill")
    try:
        with Api(fresh.api_url, fresh.jwt_secret) as api:
            org = organization(api, fresh.create_user("killowner"))
        generate(fresh, "pea-support", users=30, messages=1200, seed=5)
        process = cli(fresh, "pea-support", "--organization", org, "--batch-size", "40", "--pause-ms", "150")
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("messages ") and not line.startswith("messages 0/"):
                break
        time.sleep(0.4)  # a few more batches commit
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        [(done, imported, total)] = as_owner(fresh, """
            select (select rows_done from parley_import.checkpoints where source = 'pea-support'),
                   (select count(*) from parley_import.message_map where source = 'pea-support'),
                   (select count(*) from legacy_pea.chat_messages where group_id = 1)""")  # fmt: skip
        assert 0 < imported < total and done <= total
        assert scalar(fresh, "select count(*) from parley_import.runs where status = 'running'") == 1

        resumed = cli(fresh, "pea-support", "--batch-size", "500")
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err + out
        assert f"resuming after {done:,} legacy rows" in err
        assert "MISMATCH" not in out
        statuses = as_owner(fresh, "select status from parley_import.runs order by id")
        assert statuses == [("interrupted",), ("finished",)]
        # No message twice, every legacy id once, ids in legacy order across the kill.
        assert scalar(fresh, "select count(*) from messages") == scalar(
            fresh, "select count(*) from parley_import.message_map where source = 'pea-support'")  # fmt: skip
        assert scalar(fresh, """
            select count(*) from (select m.legacy_id, lag(l.created_at) over (order by m.message_id) as previous,
                                         l.created_at
                                  from parley_import.message_map m join legacy_pea.chat_messages l on l.id = m.legacy_id
                                  where m.source = 'pea-support') s
            where s.created_at < s.previous""") == 0  # fmt: skip
    finally:
        server.drop_database(fresh)


def test_an_import_session_terminated_by_the_server_resumes(server, database):
    fresh = server.create_database("imports_terminate")
    try:
        with Api(fresh.api_url, fresh.jwt_secret) as api:
            org = organization(api, fresh.create_user("termowner"))
        generate(fresh, "astegni", users=20, messages=1500, seed=11)
        failure: list[BaseException] = []

        def importing() -> None:
            try:
                run_import(fresh, "astegni", org, batch_size=50, pause_ms=100)
            except BaseException as error:  # the terminated session's error, expected
                failure.append(error)

        thread = threading.Thread(target=importing)
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if as_owner(fresh, "select 1 from parley_import.checkpoints where rows_done >= 200"):
                break
            time.sleep(0.05)
        as_owner(fresh, """select pg_terminate_backend(pid) from pg_stat_activity
                           where datname = current_database() and pid <> pg_backend_pid()
                             and application_name <> 'parley-test-api'""")  # fmt: skip
        thread.join(timeout=60)
        assert failure and isinstance(failure[0], psycopg.Error)
        partial = scalar(fresh, "select count(*) from parley_import.message_map")
        assert 0 < partial < 1500
        report = run_import(fresh, "astegni", None, batch_size=500)
        assert report.verified, report.verification
        assert scalar(fresh, "select count(*) from parley_import.message_map") == partial + report.messages
    finally:
        server.drop_database(fresh)


def test_a_legacy_database_on_another_server_is_read_through_postgres_fdw(server, target, database):
    legacy = server.create_database("imports_legacy_remote", empty=True)
    try:
        generate(legacy, "astegni", users=12, messages=300, seed=9)
        parley = server.create_database("imports_fdw_target")
        try:
            if server.superuser_url != server.admin_url:
                # Hosted target: postgres is not a superuser. On hosted Supabase supautils lets it create
                # postgres_fdw (a privileged extension) and grants it the wrapper; stand in for that here.
                superuser = make_conninfo(server.superuser_url, dbname=parley.name)
                with psycopg.connect(superuser, autocommit=True) as connection:
                    connection.execute("create extension if not exists postgres_fdw schema extensions")
                    connection.execute("grant usage on foreign data wrapper postgres_fdw to postgres")
            with Api(parley.api_url, parley.jwt_secret) as api:
                org = organization(api, parley.create_user("fdwowner"))
            report = run_import(parley, "astegni", org, legacy_url=legacy.url, batch_size=100)
            assert report.verified, report.verification
            assert report.messages > 250
            assert (
                scalar(
                    parley,
                    "select count(*) from pg_foreign_table ft join pg_class c on c.oid = ft.ftrelid"
                    " join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'legacy_astegni'",
                )
                == 10
            )
        finally:
            server.drop_database(parley)
    finally:
        server.drop_database(legacy)
