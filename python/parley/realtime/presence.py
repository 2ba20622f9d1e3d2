"""Presence privacy: who may see whose presence, decided by the database and cached briefly per pair.

``parley_internal.can_see_presence(viewer, target)`` says whether ``viewer``
may see ``target`` online: not blocked either way, and ``target`` shows their
online status (privacy_settings.show_online_status). The hub's presence filter
is synchronous, so decisions are fetched beforehand (:meth:`PresencePolicy.prepare`,
one query per batch of pairs) and looked up afterwards (:meth:`PresencePolicy.allows`).
A pair never fetched is denied: presence fails closed.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from parley.realtime.hub import Channel

log = logging.getLogger("parley.realtime.presence")

BATCH = 1000


class PresencePolicy:
    """Cached ``can_see_presence`` decisions: fresh for ``ttl`` seconds, forgotten after ``forget_after``."""

    def __init__(self, pool: AsyncConnectionPool, *, ttl: float = 10.0, forget_after: float = 300.0) -> None:
        self.pool = pool
        self.ttl = ttl
        self.forget_after = forget_after
        self._decisions: dict[tuple[str, str], tuple[bool, float]] = {}
        self.queries = 0

    def allows(self, viewer: str | None, owner: str | None) -> bool:
        """Whether ``viewer`` may see ``owner``'s presence (owner None: a presence without a user, public)."""
        if owner is None:
            return True
        if viewer is None:
            return False
        if viewer == owner:
            return True
        decision = self._decisions.get((viewer, owner))
        return bool(decision and decision[0])

    def filter(self, viewer: Channel, owner: str | None, key: str, meta: dict[str, Any]) -> bool:
        """The hub's presence filter (see parley.realtime.hub.PresenceFilter)."""
        return self.allows(viewer.user_id, owner)

    async def prepare(self, pairs: set[tuple[str, str]]) -> None:
        """Fetch the decisions of ``pairs`` that are missing or older than ``ttl``."""
        now = time.monotonic()
        wanted = [
            (viewer, owner)
            for viewer, owner in pairs
            if viewer != owner
            and _is_uuid(viewer)
            and _is_uuid(owner)
            and not ((decision := self._decisions.get((viewer, owner))) and now - decision[1] < self.ttl)
        ]
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            try:
                async with self.pool.connection() as connection:
                    cursor = await connection.execute(
                        "select p.position, parley_internal.can_see_presence(p.viewer, p.target) "
                        "from unnest(%s::uuid[], %s::uuid[]) with ordinality as p(viewer, target, position)",
                        ([viewer for viewer, _ in chunk], [owner for _, owner in chunk]),
                    )
                    rows = await cursor.fetchall()
                self.queries += 1
            except psycopg.Error as error:
                # Keep earlier decisions; unknown pairs stay hidden until the next attempt.
                log.warning("presence privacy check failed: %s", str(error).strip())
                return
            fetched = time.monotonic()
            for position, visible in rows:
                self._decisions[chunk[position - 1]] = (bool(visible), fetched)
        self._forget(now)

    def _forget(self, now: float) -> None:
        if len(self._decisions) < 10000:
            return
        for pair, (_, fetched) in list(self._decisions.items()):
            if now - fetched > self.forget_after:
                del self._decisions[pair]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
