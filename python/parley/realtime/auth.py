"""Realtime Authorization: RLS on realtime.messages decides who may join a private topic.

As Supabase Realtime does on a private join, in one transaction that is always
rolled back: a probe row for the topic is inserted (as the service's own user),
then, as the caller (``role`` and ``request.jwt.claims`` from the verified JWT,
``realtime.topic`` set to the topic), a ``select`` of that row decides whether
the caller may **receive**, and ``insert`` s of rows inside savepoints decide
whether the caller may **send**: one with extension ``broadcast`` (client
broadcasts such as typing), one with extension ``presence`` (tracking
presence), as Supabase Realtime checks them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from parley import tokens

PROBE_EVENT = "parley_realtime_authorization_probe"


@dataclass(frozen=True)
class Access:
    """The join decision for one channel, cached for its lifetime (or until the token is refreshed)."""

    can_read: bool
    can_write: bool
    """May send client broadcasts (extension ``broadcast``)."""
    can_track: bool = False
    """May track presence (extension ``presence``)."""


async def check_access(pool: AsyncConnectionPool, topic: str, claims: dict[str, Any]) -> Access:
    """Run the receive and send checks for ``topic`` as the user the claims describe."""
    role = claims.get("role")
    if role not in tokens.API_ROLES:
        return Access(False, False, False)
    async with pool.connection() as connection, connection.transaction(force_rollback=True):
        cursor = await connection.execute(
            "insert into realtime.messages (topic, extension, private, event, payload) "
            "values (%s, 'broadcast', true, %s, '{}') returning id",
            (topic, PROBE_EVENT),
        )
        probe = await cursor.fetchone()
        assert probe is not None
        await connection.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        await connection.execute(
            "select set_config('request.jwt.claims', %s, true), set_config('realtime.topic', %s, true)",
            (json.dumps(claims), topic),
        )
        cursor = await connection.execute(
            "select exists (select 1 from realtime.messages where id = %s and topic = %s)", (probe[0], topic)
        )
        row = await cursor.fetchone()
        can_read = bool(row and row[0])
        can_write = await _may_insert(connection, topic, "broadcast")
        can_track = await _may_insert(connection, topic, "presence")
    return Access(can_read, can_write, can_track)


async def _may_insert(connection: psycopg.AsyncConnection[Any], topic: str, extension: str) -> bool:
    """Whether the current role may insert a ``extension`` row for ``topic`` (in a savepoint, rolled back)."""
    try:
        async with connection.transaction():
            await connection.execute(
                "insert into realtime.messages (topic, extension, private, event, payload) "
                "values (%s, %s, true, %s, '{}')",
                (topic, extension, PROBE_EVENT),
            )
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True
