"""``parley worker retention``: delete expired messages in short batches (where pg_cron is not installed).

Each batch is one transaction calling ``parley_internal.retention_batch(now,
batch_size)`` (functions/retention.sql): at most ``batch_size`` messages,
oldest first, of conversations whose retention period has run out and that are
not on legal hold; their reactions, edits, mentions and attachments cascade and
their files are queued for ``parley worker files``. A pass repeats batches
until one deletes nothing. The clock is the database's ``now()`` unless a pass
is given one (tests control it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)

APPLICATION_NAME = "parley-retention-worker"


@dataclass(frozen=True)
class RetentionSettings:
    """Where and how the retention worker runs."""

    database_url: str
    batch_size: int = 1000
    interval: float = 600.0
    max_batches: int = 10000


@dataclass(frozen=True)
class RetentionPass:
    """What one pass did."""

    batches: int
    deleted: int

    def as_dict(self) -> dict[str, int]:
        """The numbers, for --once's JSON line."""
        return {"batches": self.batches, "deleted": self.deleted}


class RetentionWorker:
    """Runs retention passes against one database."""

    def __init__(self, settings: RetentionSettings) -> None:
        self.settings = settings
        self._connection = psycopg.connect(settings.database_url, autocommit=True, application_name=APPLICATION_NAME)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def run_once(self, now: datetime | None = None) -> RetentionPass:
        """Batches until one deletes nothing (or max_batches); each batch commits on its own."""
        batches = deleted = 0
        while batches < self.settings.max_batches:
            with self._connection.transaction():
                row = self._connection.execute(
                    "select parley_internal.retention_batch(coalesce(%s, now()), %s)", (now, self.settings.batch_size)
                ).fetchone()
            count = int(row[0]) if row else 0
            if count == 0:
                break
            batches += 1
            deleted += count
        if deleted:
            log.info("retention: deleted %d message(s) in %d batch(es)", deleted, batches)
        return RetentionPass(batches, deleted)

    def run(self, stop: threading.Event) -> None:
        """A pass every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.run_once()
            except psycopg.Error:
                log.exception("retention pass failed; retrying after the interval")
            stop.wait(self.settings.interval)
