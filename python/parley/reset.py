"""``parley reset`` / ``make reset``: a fresh embedded database, migrated and seeded (seed 004).

Drops the embedded cluster's ``postgres`` database (the one ``make run``
uses), creates it again, applies every migration and supabase/seed.sql.
Only the embedded cluster: a database named by PARLEY_DATABASE_URL is never
dropped. Refuses while ``make run``'s realtime service holds its slot.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from parley import config, migrate, stack
from parley.cluster import EmbeddedCluster

DATABASE = "postgres"


class ResetRefused(RuntimeError):
    """The reset cannot run (external database, or the stack is in use)."""


def reset_embedded(*, log: bool = True) -> stack.Stack:
    """Drop and recreate the embedded database, migrate and seed; return the fresh stack."""
    if config.external_database_url():
        raise ResetRefused(
            "PARLEY_DATABASE_URL is set: `parley reset` only drops the embedded database. "
            "Reset an external database with its own tools (e.g. `supabase db reset`)."
        )
    cluster = EmbeddedCluster(config.state_dir(), port=config.requested_port())
    cluster.start()
    with psycopg.connect(cluster.url("template1"), autocommit=True) as connection:
        active = connection.execute(
            "select slot_name from pg_replication_slots where database = %s and active", (DATABASE,)
        ).fetchall()
        if active:
            names = ", ".join(name for (name,) in active)
            raise ResetRefused(f"the realtime service is using the database (slot {names}): stop `make run` first")
        # Slots pin a database: drop them with it (the realtime service recreates them on start).
        connection.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = %s", (DATABASE,)
        )
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    if log:
        print(f"Dropped and recreated database {DATABASE!r} on 127.0.0.1:{cluster.port}; migrating:")
    url = cluster.url(DATABASE)
    migrate.migrate(url, log=log)
    stack.set_realtime_capture(url, config.realtime_capture() or "wal")  # a database-level setting: dropped with it
    stack.prepare_authenticator(url, cluster.secrets.authenticator_password)
    stack.apply_seed(url)
    if log:
        print(f"Seeded from {stack.SEED_FILE}. The database is fresh.")
    return stack.Stack(url, cluster.url(DATABASE, user="authenticator"), cluster.secrets.jwt_secret, cluster)
