"""``parley worker webhooks``: outbox events from the WAL, posted to a configured URL, at least once.

The outbox (functions/outbox.sql) writes no row: triggers emit transactional
logical decoding messages with the prefix ``parley.outbox``. This worker owns a
logical replication slot (wal2json, only those messages, no table changes) and
runs two steps in a loop:

1. **take**: peek the slot, give each event its id ``"<commit LSN>-<position>"``
   (unique, increasing in commit order; the same on every re-read), insert the
   events into ``parley_internal.webhook_deliveries`` (``on conflict do
   nothing``) and only then advance the slot. A crash before the advance re-reads
   the same events with the same ids: nothing is lost, nothing is queued twice.
2. **deliver**: the due pending deliveries in commit order (``for update skip
   locked``: several workers never post the same row at once), each POSTed as
   JSON with ``X-Parley-Event-Id`` / ``Idempotency-Key`` (the event id),
   ``X-Parley-Event-Type`` and ``X-Parley-Signature: t=<unix time>,v1=<hex
   HMAC-SHA256(secret, "<t>.<body>")>``. A 2xx marks it delivered; anything else
   (status, timeout, refused connection) schedules a retry after
   ``backoff * 2^(attempts-1)`` seconds (capped, with jitter) and after
   ``max_attempts`` marks it dead (``parley_internal.requeue_dead_webhooks()``
   puts dead ones back). A crash after a receiver accepted but before the row
   was marked delivered posts it again: at least once, with the same
   idempotency key, so receivers de-duplicate by ``X-Parley-Event-Id``.

Metrics (counters since start, and the queue from the table) are returned by
:meth:`WebhookWorker.metrics` and served as Prometheus text on
``--metrics-port`` (``/metrics``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from parley.realtime.stream import PLUGIN, Decoder, event_id, format_lsn

log = logging.getLogger(__name__)

APPLICATION_NAME = "parley-webhook-worker"
OUTBOX_PREFIX = "parley.outbox"
SLOT = "parley_outbox"
DECODING_OPTIONS = (
    "format-version", "2",
    "include-timestamp", "1",
    "include-lsn", "1",
    "filter-tables", "*.*",
    "add-msg-prefixes", OUTBOX_PREFIX,
)  # fmt: skip
_OPTIONS_SQL = ", ".join(f"'{option}'" for option in DECODING_OPTIONS)


@dataclass(frozen=True)
class WebhookSettings:
    """Where events come from and go to."""

    database_url: str
    url: str
    secret: str
    slot: str = SLOT
    batch_size: int = 500
    max_attempts: int = 8
    backoff: float = 1.0
    max_backoff: float = 300.0
    timeout: float = 10.0
    poll_interval: float = 0.5
    keep_delivered_hours: float = 24.0


@dataclass
class Counters:
    """What this worker did since it started."""

    taken: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.time)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: float = 300.0) -> bool:
    """Receivers: whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class WebhookWorker:
    """Takes outbox events from the slot into the delivery queue and posts them."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.counters = Counters()
        self._connection = psycopg.connect(settings.database_url, autocommit=True, application_name=APPLICATION_NAME,
                                           row_factory=dict_row)  # fmt: skip
        row = self._connection.execute(
            "select 1 from pg_replication_slots where slot_name = %s and database = current_database()",
            (settings.slot,),
        ).fetchone()
        if row is None:
            self._connection.execute("select pg_create_logical_replication_slot(%s, %s)", (settings.slot, PLUGIN))
            log.info("created logical replication slot %s", settings.slot)

    def close(self) -> None:
        """Close the connection (the slot is kept)."""
        self._connection.close()

    def drop_slot(self) -> None:
        """Drop the slot (uninstall, tests)."""
        self._connection.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
            "where slot_name = %s and database = current_database()",
            (self.settings.slot,),
        )

    # -- 1. take ----------------------------------------------------------------

    def take(self) -> int:
        """Move committed outbox events from the slot into the queue; returns how many were new."""
        rows = self._connection.execute(
            f"select lsn::text as lsn, data from pg_logical_slot_peek_changes(%s, null, %s, {_OPTIONS_SQL})",
            (self.settings.slot, self.settings.batch_size),
        ).fetchall()
        if not rows:
            return 0
        decoded = Decoder().feed([(row["lsn"], row["data"]) for row in rows])
        queued: list[tuple[Any, ...]] = []
        positions: dict[int, int] = {}
        for message in decoded.messages:
            if message.prefix != OUTBOX_PREFIX or not message.transactional:
                continue
            position = positions[message.lsn] = positions.get(message.lsn, 0) + 1
            event = json.loads(message.content)
            queued.append((event_id(message.lsn, position), format_lsn(message.lsn), position,
                           str(event.get("type") or "unknown"), Jsonb(event)))  # fmt: skip
        if queued:
            with self._connection.transaction(), self._connection.cursor() as cursor:
                cursor.executemany(
                    "insert into parley_internal.webhook_deliveries (event_id, lsn, position, event_type, payload) "
                    "values (%s, %s::pg_lsn, %s, %s, %s) on conflict (event_id) do nothing",
                    queued,
                )
        # The queue rows are committed: only now may the slot forget them.
        if decoded.last_position is not None:
            self._connection.execute(
                "select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.settings.slot,
                                                                       format_lsn(decoded.last_position))
            )  # fmt: skip
        self.counters.taken += len(queued)
        return len(queued)

    # -- 2. deliver ---------------------------------------------------------------

    def _post(self, event_id_: str, event_type: str, body: bytes) -> tuple[int | None, str | None]:
        """POST one event; (status, error) where error is None for a 2xx."""
        timestamp = int(time.time())
        request = urllib.request.Request(
            self.settings.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "parley-webhooks/1",
                     "X-Parley-Event-Id": event_id_, "Idempotency-Key": event_id_,
                     "X-Parley-Event-Type": event_type,
                     "X-Parley-Signature": sign(self.settings.secret, timestamp, body)},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                response.read()
                return response.status, None
        except urllib.error.HTTPError as error:
            return error.code, f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            return None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"

    def _delay(self, attempts: int) -> float:
        base = min(self.settings.backoff * (2 ** max(attempts - 1, 0)), self.settings.max_backoff)
        return base * random.uniform(0.8, 1.2)

    def deliver(self) -> int:
        """Post pending deliveries strictly in commit order, each in its own transaction, until the oldest is
        not yet due or one fails; returns how many were attempted."""
        attempted = 0
        while attempted < self.settings.batch_size:
            with self._connection.transaction():
                # Head of line: the oldest pending event goes first, so receivers see commit order; while it
                # waits for its retry, later events wait too (a dead event stops blocking the line).
                row = self._connection.execute(
                    "select event_id, event_type, payload, attempts, next_attempt_at <= now() as due "
                    "from parley_internal.webhook_deliveries "
                    "where status = 'pending' order by lsn, position limit 1 for update skip locked"
                ).fetchone()
                if row is None or not row["due"]:
                    return attempted
                attempted += 1
                body = json.dumps({"id": row["event_id"], **row["payload"]}, separators=(",", ":"),
                                  sort_keys=True).encode()  # fmt: skip
                status, error = self._post(row["event_id"], row["event_type"], body)
                attempts = row["attempts"] + 1
                if error is None:
                    self._connection.execute(
                        "update parley_internal.webhook_deliveries set status = 'delivered', attempts = %s, "
                        "last_status = %s, last_error = null, delivered_at = now() where event_id = %s",
                        (attempts, status, row["event_id"]),
                    )
                    self.counters.delivered += 1
                    continue
                self.counters.failed_attempts += 1
                self.counters.last_error = error
                dead = attempts >= self.settings.max_attempts
                self._connection.execute(
                    "update parley_internal.webhook_deliveries set status = %s, attempts = %s, last_status = %s, "
                    "last_error = %s, next_attempt_at = now() + make_interval(secs => %s) where event_id = %s",
                    ("dead" if dead else "pending", attempts, status, error, self._delay(attempts), row["event_id"]),
                )
                if dead:
                    self.counters.dead += 1
                    log.warning("webhook %s dead after %d attempts: %s", row["event_id"], attempts, error)
            if error is not None:
                # A failing receiver: the rest waits for the next pass instead of failing the same way now.
                return attempted
        return attempted

    def purge(self) -> int:
        """Forget deliveries delivered longer ago than keep_delivered_hours."""
        cursor = self._connection.execute(
            "delete from parley_internal.webhook_deliveries where status = 'delivered' "
            "and delivered_at < now() - make_interval(secs => %s)",
            (self.settings.keep_delivered_hours * 3600,),
        )
        return cursor.rowcount

    def run_once(self) -> dict[str, int]:
        """Take, then deliver until nothing due is left or a delivery fails; returns the numbers of this pass."""
        taken = self.take()
        return {"taken": taken, "attempted": self.deliver()}

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; database errors are logged and retried after the poll interval."""
        last_purge = 0.0
        while not stop.is_set():
            try:
                self.run_once()
                if time.monotonic() - last_purge > 3600:
                    self.purge()
                    last_purge = time.monotonic()
            except psycopg.Error:
                log.exception("webhook worker pass failed; retrying")
            stop.wait(self.settings.poll_interval)

    # -- metrics ----------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        """Counters since start, and the queue by state (pending, due, dead, delivered) with the oldest pending age.

        Read on a connection of its own: the metrics endpoint calls it from another thread."""
        with psycopg.connect(self.settings.database_url, autocommit=True, row_factory=dict_row) as connection:
            return self._metrics(connection)

    def _metrics(self, connection: psycopg.Connection[Any]) -> dict[str, Any]:
        queue = connection.execute(
            "select count(*) filter (where status = 'pending') as pending, "
            "count(*) filter (where status = 'pending' and next_attempt_at <= now()) as due, "
            "count(*) filter (where status = 'dead') as dead, "
            "count(*) filter (where status = 'delivered') as delivered, "
            "coalesce(extract(epoch from now() - min(received_at) filter (where status = 'pending')), 0)::float "
            "  as oldest_pending_seconds "
            "from parley_internal.webhook_deliveries"
        ).fetchone()
        lag = connection.execute(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint as lag "
            "from pg_replication_slots where slot_name = %s and database = current_database()",
            (self.settings.slot,),
        ).fetchone()
        return {
            "taken_total": self.counters.taken,
            "delivered_total": self.counters.delivered,
            "failed_attempts_total": self.counters.failed_attempts,
            "dead_total": self.counters.dead,
            "queue": dict(queue or {}),
            "slot_lag_bytes": (lag or {}).get("lag"),
            "last_error": self.counters.last_error,
        }

    def prometheus(self) -> str:
        """The metrics in Prometheus text format."""
        values = self.metrics()
        lines = [
            f"parley_webhooks_taken_total {values['taken_total']}",
            f"parley_webhooks_delivered_total {values['delivered_total']}",
            f"parley_webhooks_failed_attempts_total {values['failed_attempts_total']}",
            f"parley_webhooks_dead_total {values['dead_total']}",
        ]
        for state in ("pending", "due", "dead", "delivered"):
            lines.append(f'parley_webhooks_queue{{state="{state}"}} {values["queue"].get(state, 0)}')
        lines.append(f"parley_webhooks_oldest_pending_seconds {values['queue'].get('oldest_pending_seconds', 0)}")
        if values["slot_lag_bytes"] is not None:
            lines.append(f"parley_webhooks_slot_lag_bytes {values['slot_lag_bytes']}")
        return "\n".join(lines) + "\n"


def serve_metrics(worker: WebhookWorker, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` (Prometheus text) on a thread; returns the server (``shutdown()`` to stop)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self.send_error(404)
                return
            with lock:
                body = worker.prometheus().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="parley-webhook-metrics").start()
    return server
