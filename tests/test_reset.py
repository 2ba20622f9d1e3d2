"""`parley reset` / `make reset` (seed 004): drop the embedded database, migrate and seed, after a confirmation."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from parley import migrate, stack


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    folder = tmp_path / "state"
    monkeypatch.setenv("PARLEY_STATE_DIR", str(folder))
    monkeypatch.delenv("PARLEY_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARLEY_DB_PORT", raising=False)
    yield folder
    from parley.cluster import EmbeddedCluster

    EmbeddedCluster(folder).destroy()


def parley_reset(state_dir, *arguments: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PARLEY_STATE_DIR": str(state_dir)}
    if database_url:
        environment["PARLEY_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "parley.cli", "reset", *arguments],
        capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL, check=False, timeout=300,
    )  # fmt: skip


def test_reset_drops_everything_then_migrates_and_seeds_only_with_confirmation(state_dir):
    running = stack.start(log=False)
    with psycopg.connect(running.database_url, autocommit=True) as connection:
        connection.execute("create table public.reset_marker (x int)")
        connection.execute("delete from public.profiles")

    unconfirmed = parley_reset(state_dir)
    assert unconfirmed.returncode == 1 and "not confirmed" in unconfirmed.stderr
    with psycopg.connect(running.database_url) as connection:
        assert connection.execute("select to_regclass('public.reset_marker')::text").fetchone() == ("reset_marker",), (
            "without --yes nothing is dropped"
        )

    confirmed = parley_reset(state_dir, "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "Seeded" in confirmed.stdout
    with psycopg.connect(running.database_url) as connection:
        assert connection.execute("select to_regclass('public.reset_marker')").fetchone() == (None,)
        users = connection.execute("select count(*) from auth.users").fetchone()[0]
        profiles = connection.execute("select count(*) from public.profiles").fetchone()[0]
        ledger = connection.execute("select count(*), max(times_applied) from parley_migrations.applied_files")
        assert ledger.fetchone() == (len(migrate.read_manifest()), 1)
    assert users == len(stack.DEMO_USERS) and profiles >= len(stack.DEMO_USERS)
    stack.check_credentials(running)  # the authenticator's password and the demo tokens work again


def test_reset_never_drops_an_external_database(state_dir, database):
    refused = parley_reset(state_dir, "--yes", database_url=database.url)
    assert refused.returncode == 1
    assert "only drops the embedded database" in refused.stderr
