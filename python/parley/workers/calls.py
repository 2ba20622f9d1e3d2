"""``parley worker calls``: the ring-timeout job where pg_cron is not installed.

Every ``interval`` seconds it runs ``parley_internal.expire_ringing_calls()``
(functions/calls.sql): ringing calls past their ring deadline end as missed,
each with one call message. The function is idempotent and skips calls that
are locked (being answered right now), so running this next to pg_cron, or
twice, is harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import psycopg

log = logging.getLogger("parley.workers.calls")


class CallWorker:
    """Expires unanswered calls through the SQL job function."""

    def __init__(self, database_url: str, *, interval: float = 5.0) -> None:
        self.database_url = database_url
        self.interval = interval
        self._connection: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        """One autocommit connection, reopened after a failure."""
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self.database_url, autocommit=True)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def run_once(self, at: datetime | None = None) -> int:
        """One pass; ``at`` overrides the clock (tests). Returns how many calls became missed."""
        try:
            if at is None:
                row = self.connection().execute("select parley_internal.expire_ringing_calls()").fetchone()
            else:
                row = self.connection().execute("select parley_internal.expire_ringing_calls(%s)", (at,)).fetchone()
        except psycopg.OperationalError:
            self.close()
            raise
        return int(row[0]) if row else 0

    def run(self, stop: threading.Event) -> int:
        """Pass after pass until ``stop`` is set; returns the total of calls expired."""
        total = 0
        while not stop.is_set():
            try:
                expired = self.run_once()
            except psycopg.Error as error:
                log.warning("expire_ringing_calls failed: %s", error)
                expired = 0
            if expired:
                log.info("%d unanswered call(s) marked missed", expired)
            total += expired
            stop.wait(self.interval)
        return total
