"""The change stream: realtime.messages inserts read from WAL with wal2json.

Two logical replication slots per database, both owned by the service:

* ``<slot>`` (live): polled with ``pg_logical_slot_peek_changes`` and advanced
  with ``pg_replication_slot_advance`` right after each batch has been handed
  to the clients' queues. A crash before the advance re-reads the batch; event
  ids are derived from WAL positions, so the re-read events get the same ids
  and are skipped or de-duplicated.
* ``<slot>_history`` (replay window): trails the live slot by the replay
  window and is only read when the service starts, to rebuild the in-memory
  replay buffer exactly (same ids, same order) after a restart.

Event id: ``"<commit LSN, 16 upper-case hex digits>-<position in transaction, 5 digits>"``.
The commit LSN is the end of the transaction's commit record, unique per
transaction and increasing in commit order, so ids compare as strings and
increase in delivery order.

The same slot also carries logical decoding messages with the prefix
``parley.refusal`` (``pg_logical_emit_message(false, 'parley.refusal', json)``
from ``parley_internal.refuse``): non-transactional, so they survive the
refused transaction's rollback. They are collected in ``ChangeStream.refusals``
for the service to forward to ``parley_internal.record_refusals``; the slot
advances past them like past a commit.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

log = logging.getLogger("parley.realtime.stream")

SLOT = "parley_realtime"
HISTORY_SUFFIX = "_history"
PLUGIN = "wal2json"
DECODING_OPTIONS = (
    "format-version", "2",
    "include-timestamp", "1",
    "include-types", "0",
    "add-tables", "realtime.messages",
    "actions", "insert",
    "add-msg-prefixes", "parley.refusal",
)  # fmt: skip
REFUSAL_PREFIX = "parley.refusal"
_OPTIONS_SQL = ", ".join(f"'{option}'" for option in DECODING_OPTIONS)


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` → integer position."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    """Integer position → PostgreSQL's ``X/Y`` text form."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def event_id(lsn: int, position: int) -> str:
    """The id of the ``position``-th (1-based) event of the transaction committed at ``lsn``."""
    return f"{lsn:016X}-{position:05d}"


def parse_event_id(value: str) -> tuple[int, int]:
    """Inverse of :func:`event_id`; raises ValueError on anything else."""
    lsn_part, _, position_part = value.partition("-")
    if len(lsn_part) != 16 or not position_part.isdigit():
        raise ValueError(f"not a realtime event id: {value!r}")
    return int(lsn_part, 16), int(position_part)


@dataclass(frozen=True, slots=True)
class Event:
    """One committed realtime.messages row, as delivered to clients."""

    id: str
    lsn: int
    topic: str
    event: str
    payload: Any
    private: bool
    message_id: str
    extension: str
    committed_at: str | None
    received: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    """One logical decoding message (``pg_logical_emit_message``) read from the slot."""

    lsn: int
    prefix: str
    content: str
    transactional: bool


@dataclass
class Decoded:
    """What one batch of wal2json rows holds."""

    events: list[Event]
    last_position: int | None
    """The LSN of the last commit or message seen (the slot may advance to it)."""
    messages: list[LogicalMessage]


class Decoder:
    """Turns wal2json format-version 2 rows into events, one whole transaction at a time."""

    def __init__(self) -> None:
        self._pending: list[dict[str, Any]] = []
        self._pending_messages: list[tuple[str, str]] = []
        self._timestamp: str | None = None

    def feed(self, rows: Iterable[tuple[str, str]]) -> Decoded:
        """Decode rows of ``(lsn, data)``: committed events, logical messages, the last position seen."""
        events: list[Event] = []
        messages: list[LogicalMessage] = []
        last_position: int | None = None
        for lsn_text, data in rows:
            change = json.loads(data)
            action = change.get("action")
            if action == "B":
                self._pending = []
                self._pending_messages = []
                self._timestamp = change.get("timestamp")
            elif action == "I" and change.get("schema") == "realtime" and change.get("table") == "messages":
                self._pending.append({column["name"]: column.get("value") for column in change["columns"]})
            elif action == "M":
                prefix, content = str(change.get("prefix") or ""), str(change.get("content") or "")
                if change.get("transactional"):
                    self._pending_messages.append((prefix, content))  # delivered with its commit
                else:
                    last_position = parse_lsn(lsn_text)
                    messages.append(LogicalMessage(last_position, prefix, content, False))
            elif action == "C":
                commit = parse_lsn(lsn_text)
                last_position = commit
                messages.extend(LogicalMessage(commit, prefix, content, True)
                                for prefix, content in self._pending_messages)  # fmt: skip
                self._pending_messages = []
                for position, row in enumerate(self._pending, start=1):
                    if row.get("extension") != "broadcast":
                        continue
                    payload = row.get("payload")
                    if isinstance(payload, str):
                        payload = json.loads(payload)
                    events.append(
                        Event(
                            id=event_id(commit, position),
                            lsn=commit,
                            topic=row.get("topic") or "",
                            event=row.get("event") or "",
                            payload=payload if payload is not None else {},
                            private=bool(row.get("private")),
                            message_id=str(row.get("id")),
                            extension="broadcast",
                            committed_at=change.get("timestamp") or self._timestamp,
                        )
                    )
                self._pending = []
        return Decoded(events, last_position, messages)


@dataclass
class ReplayResult:
    """What a rejoining client gets: the buffered events after its id, and whether some are gone."""

    events: list[Event]
    complete: bool


class ChangeStream:
    """The service's view of the WAL: slots, the replay buffer and positions.

    Not thread-safe; one asyncio task drives it. ``poll`` returns new events
    (already appended to the replay buffer); ``confirm`` advances the live
    slot past them; ``trim`` applies the replay window and advances the
    history slot.
    """

    def __init__(
        self,
        url: str,
        slot: str = SLOT,
        *,
        batch_size: int = 5000,
        window_events: int = 10000,
        window_seconds: float = 600.0,
    ) -> None:
        self.url = url
        self.slot = slot
        self.history_slot = slot + HISTORY_SUFFIX
        self.batch_size = batch_size
        self.window_events = window_events
        self.window_seconds = window_seconds
        self.buffer: deque[Event] = deque()
        self.last_lsn = 0
        """Commit LSN of the last transaction handed out (the live slot is advanced to it)."""
        self.confirmed_lsn = 0
        """Where the live slot is confirmed."""
        self.history_lsn = 0
        """Where the history slot is confirmed: every event after it is in ``buffer``."""
        self.lag_bytes: int | None = None
        self.refusals: list[LogicalMessage] = []
        """parley.refusal messages read but not yet taken by the service (see :meth:`take_refusals`)."""
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._decoder = Decoder()

    # -- connection and slots ----------------------------------------------

    async def connect(self) -> None:
        """(Re)open the connection and create the slots if missing (history first, so it never leads)."""
        await self.close()
        self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
        for name in (self.history_slot, self.slot):
            cursor = await self._connection.execute(
                "select confirmed_flush_lsn::text from pg_replication_slots where slot_name = %s and database = "
                "current_database()",
                (name,),
            )
            row = await cursor.fetchone()
            if row is None:
                await self._connection.execute("select pg_create_logical_replication_slot(%s, %s)", (name, PLUGIN))
                log.info("created logical replication slot %s", name)
        self._decoder = Decoder()

    async def open(self) -> None:
        """Connect, then rebuild the replay buffer from the history slot (exact ids after a restart)."""
        await self.connect()
        connection = self._require()
        positions = await self._positions()
        self.confirmed_lsn = self.last_lsn = positions[self.slot]
        self.history_lsn = positions[self.history_slot]
        if self.history_lsn < self.confirmed_lsn:
            cursor = await connection.execute(
                f"select lsn::text, data from pg_logical_slot_peek_changes(%s, %s::pg_lsn, null, {_OPTIONS_SQL})",
                (self.history_slot, format_lsn(self.confirmed_lsn)),
            )
            events = Decoder().feed(await cursor.fetchall()).events
            self.buffer.extend(event for event in events if self.history_lsn < event.lsn <= self.confirmed_lsn)
        log.info(
            "change stream open: slot %s at %s, %d event(s) in the replay buffer",
            self.slot, format_lsn(self.confirmed_lsn), len(self.buffer),
        )  # fmt: skip

    async def close(self) -> None:
        """Close the connection (slots are kept)."""
        if self._connection is not None:
            try:
                await self._connection.close()
            finally:
                self._connection = None

    async def drop_slots(self) -> None:
        """Drop both slots (tests, uninstall). The service must be stopped or about to stop."""
        connection = self._connection or await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        try:
            for name in (self.slot, self.history_slot):
                await connection.execute(
                    "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s "
                    "and database = current_database()",
                    (name,),
                )
        finally:
            await connection.close()
            self._connection = None

    def _require(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            raise psycopg.OperationalError("change stream is not connected")
        return self._connection

    async def _positions(self) -> dict[str, int]:
        cursor = await self._require().execute(
            "select slot_name::text, confirmed_flush_lsn::text from pg_replication_slots "
            "where slot_name = any(%s) and database = current_database()",
            ([self.slot, self.history_slot],),
        )
        return {name: parse_lsn(lsn) for name, lsn in await cursor.fetchall()}

    # -- the loop's steps ----------------------------------------------------

    async def poll(self) -> list[Event]:
        """Read committed changes after the last handed-out position; buffer and return the new events."""
        cursor = await self._require().execute(
            f"select lsn::text, data from pg_logical_slot_peek_changes(%s, null, %s, {_OPTIONS_SQL})",
            (self.slot, self.batch_size),
        )
        rows = await cursor.fetchall()
        if not rows:
            return []
        decoded = self._decoder.feed(rows)
        fresh = [event for event in decoded.events if event.lsn > self.last_lsn]
        self.refusals.extend(
            message for message in decoded.messages if message.lsn > self.last_lsn and message.prefix == REFUSAL_PREFIX
        )
        if decoded.last_position is not None and decoded.last_position > self.last_lsn:
            self.last_lsn = decoded.last_position
        self.buffer.extend(fresh)
        return fresh

    def take_refusals(self) -> list[LogicalMessage]:
        """Hand over (and forget) the refusal messages read so far."""
        taken, self.refusals = self.refusals, []
        return taken

    async def confirm(self) -> None:
        """Advance the live slot to everything handed out so far."""
        if self.last_lsn > self.confirmed_lsn:
            await self._require().execute(
                "select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, format_lsn(self.last_lsn))
            )
            self.confirmed_lsn = self.last_lsn

    async def trim(self) -> None:
        """Drop events outside the replay window and advance the history slot behind them."""
        now = time.monotonic()
        cut: int | None = None
        while self.buffer and (
            len(self.buffer) > self.window_events or now - self.buffer[0].received > self.window_seconds
        ):
            cut = self.buffer[0].lsn
            while self.buffer and self.buffer[0].lsn == cut:
                self.buffer.popleft()
        if not self.buffer:
            cut = self.confirmed_lsn  # nothing to keep: the history slot may catch up entirely
        if cut is not None and cut > self.history_lsn:
            await self._require().execute(
                "select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.history_slot, format_lsn(cut))
            )
            self.history_lsn = cut

    async def measure_lag(self) -> int | None:
        """Bytes of WAL between the live slot's confirmed position and the server's current position."""
        cursor = await self._require().execute(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint from pg_replication_slots "
            "where slot_name = %s and database = current_database()",
            (self.slot,),
        )
        row = await cursor.fetchone()
        self.lag_bytes = int(row[0]) if row and row[0] is not None else None
        return self.lag_bytes

    # -- replay ----------------------------------------------------------------

    def replay_after(self, last_id: str, topic: str, private: bool) -> ReplayResult:
        """Buffered events of ``topic`` after ``last_id``, in order; ``complete`` is False when some are gone."""
        after = parse_event_id(last_id)
        complete = after[0] >= self.history_lsn
        events = [
            event
            for event in self.buffer
            if event.topic == topic and event.private == private and parse_event_id(event.id) > after
        ]
        return ReplayResult(events, complete)
