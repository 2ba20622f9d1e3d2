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

Capture modes (issue 13, ``parley.realtime_capture``, functions/realtime_broadcast.sql):
a database event is either a realtime.messages row (``table``, Supabase's
way) or a transactional logical decoding message with the prefix
``parley.broadcast`` and no row (``wal``, the self-hosted stack). The decoder
reads both from the same slot and turns them into the same :class:`Event`:
positions count rows and broadcast messages together, in WAL order, so a
transaction mixing both still numbers its events 1, 2, 3...

The same slot also carries logical decoding messages with the prefix
``parley.refusal`` (``pg_logical_emit_message(false, 'parley.refusal', json)``
from ``parley_internal.refuse``): non-transactional, so they survive the
refused transaction's rollback. They are collected in ``ChangeStream.refusals``
for the service to forward to ``parley_internal.record_refusals``; the slot
advances past them like past a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from parley.cluster import ClusterError, find_server_binaries

log = logging.getLogger("parley.realtime.stream")

SLOT = "parley_realtime"
HISTORY_SUFFIX = "_history"
PLUGIN = "wal2json"
DECODING_OPTIONS = (
    "format-version", "2",
    "include-timestamp", "1",
    "include-types", "0",
    "include-lsn", "1",
    "add-tables", "realtime.*",  # realtime.messages and its daily partitions (see is_messages_table)
    "actions", "insert",
    "add-msg-prefixes", "parley.refusal,parley.broadcast,parley.sync",
)  # fmt: skip
REFUSAL_PREFIX = "parley.refusal"
BROADCAST_PREFIX = "parley.broadcast"
"""Transactional logical messages written by parley_internal.broadcast in ``wal`` capture mode."""
SYNC_PREFIX = "parley.sync"
"""Non-transactional marker the service writes to learn when its stream has read everything committed before."""
_OPTIONS_SQL = ", ".join(f"'{option}'" for option in DECODING_OPTIONS)


_PARTITION_NAME = re.compile(r"messages_\d{4}_\d{2}_\d{2}")


def is_messages_table(name: object) -> bool:
    """Whether a wal2json table name is realtime.messages or one of its daily partitions.

    realtime.messages is partitioned by day (on Supabase and in the shim), and
    logical decoding names the partition a row went to (``messages_2026_12_05``),
    so the slot reads the whole realtime schema and this keeps the messages.
    """
    return name == "messages" or (isinstance(name, str) and _PARTITION_NAME.fullmatch(name) is not None)


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
    """One committed database broadcast (a realtime.messages row or a parley.broadcast message), as delivered."""

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
    stored: bool = True
    """Whether a realtime.messages row holds it (``table`` capture); False: a WAL message only (``wal``)."""


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
        self._pending: list[tuple[dict[str, Any], bool]] = []
        """The transaction's broadcasts so far, in WAL order: (row or message content, stored in a row)."""
        self._pending_messages: list[tuple[str, str]] = []
        self._timestamp: str | None = None

    def feed(self, rows: Iterable[tuple[str | None, str | bytes]]) -> Decoded:
        """Decode rows of ``(lsn, data)``: committed events, logical messages, the last position seen.

        Positions come from wal2json's ``include-lsn`` fields when present (a
        commit's ``nextlsn``, a message's ``lsn``: the same values the SQL
        functions return in their lsn column, which is the fallback), so
        streamed and peeked changes get the same event ids.
        """
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
            elif action == "I" and change.get("schema") == "realtime" and is_messages_table(change.get("table")):
                self._pending.append(({column["name"]: column.get("value") for column in change["columns"]}, True))
            elif action == "M":
                prefix, content = str(change.get("prefix") or ""), str(change.get("content") or "")
                if not change.get("transactional"):
                    last_position = parse_lsn(change.get("lsn") or lsn_text)
                    messages.append(LogicalMessage(last_position, prefix, content, False))
                elif prefix == BROADCAST_PREFIX:
                    self._pending.append((_broadcast_row(content), False))  # numbered with the rows, in WAL order
                else:
                    self._pending_messages.append((prefix, content))  # delivered with its commit
            elif action == "C":
                commit = parse_lsn(change.get("nextlsn") or lsn_text)
                last_position = commit
                messages.extend(LogicalMessage(commit, prefix, content, True)
                                for prefix, content in self._pending_messages)  # fmt: skip
                self._pending_messages = []
                committed_at = change.get("timestamp") or self._timestamp
                for position, (row, stored) in enumerate(self._pending, start=1):
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
                            committed_at=committed_at,
                            stored=stored,
                        )
                    )
                self._pending = []
        return Decoded(events, last_position, messages)


def _broadcast_row(content: str) -> dict[str, Any]:
    """A parley.broadcast message's content as the realtime.messages row it stands for (a broken one: no event)."""
    try:
        message = json.loads(content)
    except ValueError:
        log.warning("ignoring a parley.broadcast message that is not JSON: %.200s", content)
        return {}
    if not isinstance(message, dict):
        return {}
    return {"topic": message.get("topic"), "event": message.get("event"), "payload": message.get("payload"),
            "private": message.get("private"), "id": message.get("id"), "extension": "broadcast"}  # fmt: skip


@dataclass
class ReplayResult:
    """What a rejoining client gets: the buffered events after its id, and whether some are gone."""

    events: list[Event]
    complete: bool


class Receiver:
    """``pg_recvlogical`` streaming the live slot over the replication protocol, one wal2json line at a time.

    The walsender decodes the WAL once, incrementally; the SQL functions
    (``pg_logical_slot_peek_changes`` / ``pg_replication_slot_advance``)
    decode again from the slot's restart point on every call, which lags the
    confirmed position by up to one running-transactions record (about 15 s
    of WAL), so under a steady write load every poll re-read megabytes.
    pg_recvlogical confirms what it has written to the pipe (``-F 0``,
    status every second); what the service had not yet read when it died is
    still covered by the history slot (see :meth:`ChangeStream.open`).
    """

    def __init__(self, url: str, slot: str, binary: Path) -> None:
        self.url = url
        self.slot = slot
        self.binary = binary
        self.process: asyncio.subprocess.Process | None = None
        self._lines: deque[bytes] = deque()
        self._arrived = asyncio.Event()
        self._errors: deque[str] = deque(maxlen=5)
        self._tasks: list[asyncio.Task[None]] = []
        self.eof = False

    @staticmethod
    def find() -> Path | None:
        """The pg_recvlogical binary next to the PostgreSQL server binaries, if installed."""
        try:
            candidate = find_server_binaries() / "pg_recvlogical"
        except ClusterError:
            return None
        return candidate if candidate.exists() else None

    async def start(self) -> None:
        params = conninfo_to_dict(self.url)
        password = params.pop("password", None)
        environment = dict(os.environ)
        if password:
            environment["PGPASSWORD"] = str(password)  # not on the command line, where ps shows it
        arguments = [str(self.binary), "-d", make_conninfo(**params), "--slot", self.slot, "--start", "--no-loop",
                     "--fsync-interval", "0", "--status-interval", "1", "--file", "-"]  # fmt: skip
        for name, value in zip(DECODING_OPTIONS[::2], DECODING_OPTIONS[1::2], strict=True):
            arguments += ["--option", f"{name}={value}"]
        self.process = await asyncio.create_subprocess_exec(
            *arguments, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment, limit=1 << 26, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.eof = False
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._read_errors())]

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self._lines.append(line)
            self._arrived.set()
        self.eof = True
        self._arrived.set()

    async def _read_errors(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            text = line.decode(errors="replace").strip()
            self._errors.append(text)
            log.warning("pg_recvlogical: %s", text)

    async def take(self, wait: float, limit: int) -> list[bytes]:
        """Up to ``limit`` lines, waiting up to ``wait`` seconds for the first; raises once the stream has ended."""
        if not self._lines and not self.eof:
            self._arrived.clear()
            if not self._lines and not self.eof:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), wait)
        taken: list[bytes] = []
        while self._lines and len(taken) < limit:
            taken.append(self._lines.popleft())
        if not taken and self.eof:
            code = await self.process.wait() if self.process is not None else None
            raise psycopg.OperationalError(f"pg_recvlogical exited ({code}): {' / '.join(self._errors) or 'no output'}")
        return taken

    async def stop(self) -> None:
        """Stop streaming (pg_recvlogical sends its last status and exits)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self.process = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the service's thread dies, so no orphan keeps the slot busy."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ChangeStream:
    """The service's view of the WAL: slots, the replay buffer and positions.

    Not thread-safe; one asyncio task drives it. ``poll`` returns new events
    (already appended to the replay buffer); ``confirm`` advances the live
    slot past them (SQL mode; in streaming mode pg_recvlogical confirms);
    ``trim`` applies the replay window and, at most every
    ``history_interval`` seconds, advances the history slot.

    Streaming mode (pg_recvlogical, see :class:`Receiver`) is used when the
    binary is installed; otherwise the live slot is polled through SQL.
    """

    def __init__(
        self,
        url: str,
        slot: str = SLOT,
        *,
        batch_size: int = 5000,
        window_events: int = 10000,
        window_seconds: float = 600.0,
        streaming: bool | None = None,
        wait: float = 0.05,
        history_interval: float = 10.0,
    ) -> None:
        self.url = url
        self.slot = slot
        self.history_slot = slot + HISTORY_SUFFIX
        self.batch_size = batch_size
        self.window_events = window_events
        self.window_seconds = window_seconds
        self.wait = wait
        """Streaming mode: how long ``poll`` waits for the first change."""
        self.history_interval = history_interval
        self.binary = Receiver.find() if streaming is not False else None
        if streaming and self.binary is None:
            raise RuntimeError("pg_recvlogical is not installed (postgresql-15 ships it)")
        self.buffer: deque[Event] = deque()
        self.last_lsn = 0
        """LSN of the last commit (or logical message) handed out."""
        self.confirmed_lsn = 0
        """Where the live slot is confirmed."""
        self.history_lsn = 0
        """Where the history slot is confirmed: every event after it is in ``buffer`` (or was trimmed)."""
        self.trimmed_lsn = 0
        """The newest commit LSN removed from ``buffer``: a replay from before it is incomplete."""
        self.lag_bytes: int | None = None
        self.refusals: list[LogicalMessage] = []
        """parley.refusal messages read but not yet taken by the service (see :meth:`take_refusals`)."""
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._receiver: Receiver | None = None
        self._decoder = Decoder()
        self._history_advanced = 0.0

    @property
    def streaming(self) -> bool:
        """Whether the live slot is streamed (``poll`` waits for changes itself)."""
        return self.binary is not None

    # -- connection and slots ----------------------------------------------

    async def connect(self, *, receive: bool = True) -> None:
        """(Re)open the connection, create the slots if missing (history first, so it never leads), stream."""
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
        if receive:
            await self._start_receiver()

    async def _start_receiver(self) -> None:
        if self.binary is not None:
            self._receiver = Receiver(self.url, self.slot, self.binary)
            await self._receiver.start()

    async def open(self) -> None:
        """Connect, rebuild the replay buffer from the history slot (exact ids after a restart), then stream."""
        await self.connect(receive=False)
        connection = self._require()
        positions = await self._positions()
        self.confirmed_lsn = self.last_lsn = positions[self.slot]
        self.history_lsn = self.trimmed_lsn = positions[self.history_slot]
        if self.history_lsn < self.confirmed_lsn:
            # Everything the live slot has confirmed since the history slot: the replay window, plus (in
            # streaming mode) what pg_recvlogical confirmed but a crashed service never handed out.
            cursor = await connection.execute(
                f"select lsn::text, data from pg_logical_slot_peek_changes(%s, %s::pg_lsn, null, {_OPTIONS_SQL})",
                (self.history_slot, format_lsn(self.confirmed_lsn)),
            )
            decoded = Decoder().feed(await cursor.fetchall())
            self.buffer.extend(event for event in decoded.events if self.history_lsn < event.lsn <= self.confirmed_lsn)
            # Refusals of the window again: a crash may have lost some before they were recorded, and
            # record_refusals skips what it has recorded already (by lsn).
            self.refusals.extend(
                message for message in decoded.messages
                if message.prefix == REFUSAL_PREFIX and self.history_lsn < message.lsn <= self.confirmed_lsn
            )  # fmt: skip
        await self._start_receiver()
        log.info(
            "change stream open (%s): slot %s at %s, %d event(s) in the replay buffer",
            "streaming" if self.streaming else "polling", self.slot, format_lsn(self.confirmed_lsn), len(self.buffer),
        )  # fmt: skip

    async def close(self) -> None:
        """Stop streaming and close the connection (slots are kept)."""
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            await receiver.stop()
        if self._connection is not None:
            try:
                await self._connection.close()
            finally:
                self._connection = None

    async def drop_slots(self) -> None:
        """Drop both slots (tests, uninstall). The service must be stopped or about to stop."""
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            await receiver.stop()
        connection = self._connection or await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        try:
            for name in (self.slot, self.history_slot):
                deadline = time.monotonic() + 10
                while True:
                    try:
                        await connection.execute(
                            "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                            "where slot_name = %s and database = current_database()",
                            (name,),
                        )
                        break
                    except psycopg.errors.ObjectInUse:  # the walsender has not let go yet
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
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
        if self._receiver is not None:
            lines = await self._receiver.take(self.wait, self.batch_size)
            rows: list[tuple[str | None, str | bytes]] = [(None, line) for line in lines]
        else:
            cursor = await self._require().execute(
                f"select lsn::text, data from pg_logical_slot_peek_changes(%s, null, %s, {_OPTIONS_SQL})",
                (self.slot, self.batch_size),
            )
            rows = list(await cursor.fetchall())
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
        """Advance the live slot to everything handed out so far (SQL mode; pg_recvlogical confirms by itself)."""
        if self._receiver is None and self.last_lsn > self.confirmed_lsn:
            await self._require().execute(
                "select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, format_lsn(self.last_lsn))
            )
            self.confirmed_lsn = self.last_lsn

    async def trim(self) -> None:
        """Drop events outside the replay window; now and then advance the history slot behind them.

        Advancing a slot through SQL decodes from its restart point, so the
        history slot moves at most every ``history_interval`` seconds; the
        replay window's completeness follows ``trimmed_lsn``, not the slot.
        """
        now = time.monotonic()
        while self.buffer and (
            len(self.buffer) > self.window_events or now - self.buffer[0].received > self.window_seconds
        ):
            cut = self.buffer[0].lsn
            while self.buffer and self.buffer[0].lsn == cut:
                self.buffer.popleft()
            self.trimmed_lsn = max(self.trimmed_lsn, cut)
        if now - self._history_advanced < self.history_interval:
            return
        # Everything up to the oldest buffered event may go; with nothing buffered, everything handed out.
        target = self.buffer[0].lsn - 1 if self.buffer else self.last_lsn
        target = min(max(target, self.trimmed_lsn), self.last_lsn)
        if target > self.history_lsn:
            await self._require().execute(
                "select pg_replication_slot_advance(%s, %s::pg_lsn)", (self.history_slot, format_lsn(target))
            )
            self.history_lsn = target
        self._history_advanced = now

    async def measure_lag(self) -> int | None:
        """Bytes of WAL between the live slot's confirmed position and the server's current position."""
        cursor = await self._require().execute(
            "select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, confirmed_flush_lsn::text "
            "from pg_replication_slots where slot_name = %s and database = current_database()",
            (self.slot,),
        )
        row = await cursor.fetchone()
        self.lag_bytes = int(row[0]) if row and row[0] is not None else None
        if row and row[1] and self._receiver is not None:
            self.confirmed_lsn = parse_lsn(row[1])
        return self.lag_bytes

    # -- replay ----------------------------------------------------------------

    def replay_after(self, last_id: str, topic: str, private: bool) -> ReplayResult:
        """Buffered events of ``topic`` after ``last_id``, in order; ``complete`` is False when some are gone."""
        after = parse_event_id(last_id)
        complete = after[0] >= self.trimmed_lsn
        events = [
            event
            for event in self.buffer
            if event.topic == topic and event.private == private and parse_event_id(event.id) > after
        ]
        return ReplayResult(events, complete)
