"""The embedded stack behind `make run`: start, credentials, restart keeps the data."""

from __future__ import annotations

import psycopg
import pytest

from parley import stack


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    folder = tmp_path / "state"
    monkeypatch.setenv("PARLEY_STATE_DIR", str(folder))
    monkeypatch.delenv("PARLEY_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARLEY_DB_PORT", raising=False)
    yield folder
    from parley.cluster import EmbeddedCluster

    EmbeddedCluster(folder).destroy()


def test_second_start_reuses_the_data_and_applies_no_migration(state_dir):
    first = stack.start(log=False)
    stack.check_credentials(first)
    with psycopg.connect(first.database_url, autocommit=True) as connection:
        connection.execute("create table public.survives_restart (marker text)")
        connection.execute("insert into public.survives_restart values ('kept')")
        users = connection.execute("select count(*) from auth.users").fetchone()
    assert users == (len(stack.DEMO_USERS),)  # the seed's users (carol included, printed by make run)
    first.cluster.stop()

    second = stack.start(log=False)
    with psycopg.connect(second.database_url) as connection:
        assert connection.execute("select marker from public.survives_restart").fetchall() == [("kept",)]
        ledger = connection.execute("select max(times_applied) from parley_migrations.applied_files").fetchone()
    assert ledger == (1,)
    # The seed is idempotent: applying it again adds nothing.
    with psycopg.connect(second.database_url) as connection:
        assert connection.execute("select count(*) from auth.users").fetchone() == users
    assert second.jwt_secret == first.jwt_secret
    stack.check_credentials(second)
