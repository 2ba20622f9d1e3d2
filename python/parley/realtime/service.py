"""``parley realtime``: the WebSocket service that plays Supabase Realtime's role.

One asyncio loop runs the WebSocket server (``/realtime/v1/websocket`` and
``GET /health``), the change-stream poller (WAL → replay buffer → client
queues → refusal forwarding → slot advance), the presence privacy refresh and
the retention job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.http11 import Request, Response

from parley import tokens
from parley.realtime import auth
from parley.realtime.hub import BACKPRESSURE_CLOSE_CODE, VERSIONS, VSN_1, Hub, Session
from parley.realtime.presence import PresencePolicy
from parley.realtime.resume import ResumeStore
from parley.realtime.stream import (
    SLOT,
    SYNC_PREFIX,
    ChangeStream,
    Event,
    LogicalMessage,
    event_id,
    format_lsn,
    parse_lsn,
)

log = logging.getLogger("parley.realtime")

WEBSOCKET_PATH = "/realtime/v1/websocket"
HEALTH_PATH = "/health"
DEFAULT_PORT = 4000
"""Where `parley realtime` and `make run` listen unless told otherwise."""
RECORD_REFUSALS = ("parley_internal.record_refusals(jsonb, text)", "parley_internal.record_refusals(jsonb)")
"""Where refusal messages go (functions/monitoring.sql; source = the slot name), called only if one exists."""
FLUSH_WAIT = 1.0
"""Seconds a client's writer waits for its last write to be acknowledged by the client's TCP stack."""
SYNC_WAIT = 2.0
"""Seconds a ``replay.since`` join waits (wal capture) for the stream to read what was committed before it."""
REFUSAL_BATCH = 500
REFUSAL_BACKLOG = 10000
"""Refusals kept in memory while record_refusals fails; older ones are dropped (and counted) beyond this."""


@dataclass
class RealtimeConfig:
    """Settings of one service instance."""

    database_url: str
    """Owner (or replication-capable) URL: the slots live in this database."""
    jwt_secret: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    slot: str = SLOT
    poll_interval: float = 0.05
    """Polling mode: pause between empty polls. Streaming mode: longest wait for the next change."""
    streaming: bool | None = None
    """Stream the live slot with pg_recvlogical (None: when installed; False: poll through SQL)."""
    max_queue: int = 1000
    """Outgoing messages buffered per client before it is disconnected."""
    replay_window_events: int = 10000
    replay_window_seconds: float = 600.0
    retention_interval: float = 600.0
    """Seconds between calls of parley_internal.purge_realtime_messages(); 0 disables."""
    retention_older_than: str = "3 days"
    close_timeout: float = 2.0
    presence_refresh_interval: float = 15.0
    """Seconds between re-checks of shown presences against privacy settings and blocks; 0 disables."""
    presence_ttl: float = 10.0
    """Seconds a can_see_presence decision is reused before it is fetched again."""
    refusal_check_interval: float = 30.0
    """Seconds between checks for parley_internal.record_refusals while it does not exist."""
    resume_path: str | None = None
    """Journal of resume cursors and tickets (survives ``kill -9``); None keeps them in memory only."""
    resume_seconds: float = 300.0
    """How long a dropped channel's cursor waits for its user to rejoin (docs/realtime.md, Resume)."""


class RealtimeService:
    """The service; ``await start()`` then ``await stop()`` (or use :class:`ServiceThread`)."""

    def __init__(self, config: RealtimeConfig) -> None:
        self.config = config
        self.stream = ChangeStream(
            config.database_url, config.slot, streaming=config.streaming, wait=config.poll_interval,
            window_events=config.replay_window_events, window_seconds=config.replay_window_seconds,
        )  # fmt: skip
        self.pool = AsyncConnectionPool(
            config.database_url, min_size=1, max_size=4, open=False,
            check=AsyncConnectionPool.check_connection, kwargs={"connect_timeout": 5},
        )  # fmt: skip
        self.presence = PresencePolicy(self.pool, ttl=config.presence_ttl)
        self.resume = ResumeStore(config.resume_path, ttl=config.resume_seconds)
        self.hub = Hub(
            config.jwt_secret, self._authorize, self.stream.replay_after, self._read_since,
            presence_filter=self.presence.filter, presence_prepare=self.presence.prepare,
            position=self._position, resume=self.resume,
        )  # fmt: skip
        self.server: Server | None = None
        self.refusals_pending: list[LogicalMessage] = []
        self.refusals_forwarded = 0
        self.refusals_dropped = 0
        self._record_refusals: str | None = None
        """The record_refusals signature found, or None (not looked up yet, or missing)."""
        self._record_refusals_exists: bool | None = None
        self._record_refusals_checked = 0.0
        self._record_refusals_missing_logged = False
        self.database_ok = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.started_at = time.time()

    # -- lifecycle -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self.server is not None
        return int(next(iter(self.server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL for clients: ``ws://host:port/realtime/v1`` (clients append ``/websocket``)."""
        return f"ws://{self.config.host}:{self.port}/realtime/v1"

    @property
    def health_url(self) -> str:
        """The health endpoint's URL."""
        return f"http://{self.config.host}:{self.port}{HEALTH_PATH}"

    def _position(self) -> str | None:
        """An id at or after every event fanned out so far (every later event compares greater)."""
        return event_id(self.stream.last_lsn, 99999) if self.stream.last_lsn else None

    async def start(self) -> None:
        """Open the change stream (rebuilding the replay buffer), then accept clients."""
        await self.stream.open()
        self.resume.load()
        self.database_ok = True
        await self.pool.open(wait=False)
        await self.ensure_partitions()
        # No permessage-deflate (Phoenix's default too): an event is framed once and written to every client
        # as is; compressing every frame for every client would cost more than the fan-out itself.
        self.server = await serve(
            self._handle, self.config.host, self.config.port,
            process_request=self._process_request, close_timeout=self.config.close_timeout, compression=None,
            create_connection=RealtimeConnection,
        )  # fmt: skip
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="realtime-poll"))
        if self.config.retention_interval > 0:
            self._tasks.append(asyncio.create_task(self._retention_loop(), name="realtime-retention"))
        if self.config.presence_refresh_interval > 0:
            self._tasks.append(asyncio.create_task(self._presence_loop(), name="realtime-presence"))
        log.info("parley realtime listening on %s", self.url)

    async def stop(self, *, drop_slots: bool = False) -> None:
        """Stop accepting, close clients, stop polling; optionally drop the slots."""
        self._stopping.set()
        # Every open channel leaves a resume ticket: clients reconnecting to the next run miss nothing.
        for session in list(self.hub.sessions):
            self.hub.remove_session(session)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pool.close()
        self.resume.close()
        if drop_slots:
            await self.stream.drop_slots()
        else:
            await self.stream.close()

    # -- database side ----------------------------------------------------------

    async def _authorize(self, topic: str, claims: dict[str, Any]) -> auth.Access:
        return await auth.check_access(self.pool, topic, claims)

    async def _read_since(self, topic: str, private: bool, since_ms: int, limit: int) -> list[Event]:
        """Supabase-style replay: the topic's broadcasts committed since ``since_ms`` (epoch ms), oldest first.

        Stored realtime.messages rows (``table`` capture), and the replay buffer's events that have no row
        (``wal`` capture: only the WAL held them, so the buffer's window is the limit).
        """
        limit = max(1, min(limit, 1000))
        async with self.pool.connection() as connection:
            # wal capture: what was committed before this join is only in the WAL, so wait (briefly) until the
            # stream has read past a marker written now; then the replay buffer holds it.
            cursor = await connection.execute(
                "select case when current_setting('parley.realtime_capture', true) = 'wal' "
                "then pg_logical_emit_message(false, %s, '')::text end",
                (SYNC_PREFIX,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] is not None:
                marker, deadline = parse_lsn(row[0]), time.monotonic() + SYNC_WAIT
                while self.stream.last_lsn < marker and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            cursor = await connection.execute(
                """
                select id::text, event, payload,
                       extract(epoch from inserted_at at time zone current_setting('TimeZone')) * 1000
                from realtime.messages
                where topic = %s and private = %s and extension = 'broadcast'
                  and event is distinct from %s
                  and inserted_at >= to_timestamp(%s / 1000.0) at time zone current_setting('TimeZone')
                order by inserted_at, id limit %s
                """,
                (topic, private, auth.PROBE_EVENT, since_ms, limit),
            )
            rows = await cursor.fetchall()
        found: list[tuple[float, Event]] = [
            (float(at), Event(id="", lsn=0, topic=topic, event=event or "", payload=payload if payload is not None
                              else {}, private=private, message_id=message_id, extension="broadcast",
                              committed_at=None))
            for message_id, event, payload, at in rows
        ]  # fmt: skip
        for event in self.stream.buffer:
            if event.stored or event.topic != topic or event.private != private:
                continue
            at = committed_ms(event.committed_at)
            if at is not None and at >= since_ms:
                found.append((at, event))
        found.sort(key=lambda item: item[0])  # stable: rows keep their order, buffered events their commit order
        return [event for _, event in found[:limit]]

    async def _poll_loop(self) -> None:
        """WAL → replay buffer → client queues → slot advance, reconnecting with backoff."""
        backoff = 0.2
        last_lag = 0.0
        while not self._stopping.is_set():
            try:
                if not self.database_ok:
                    await self.stream.connect()
                    self.database_ok = True
                    backoff = 0.2
                    log.info("change stream reconnected at %s", format_lsn(self.stream.confirmed_lsn))
                events = await self.stream.poll()
                if events:
                    self.hub.deliver(events)
                await self.forward_refusals()
                await self.stream.confirm()
                await self.stream.trim()
                if time.monotonic() - last_lag > 1.0:
                    await self.stream.measure_lag()
                    last_lag = time.monotonic()
                if not events and not self.stream.streaming:
                    await asyncio.sleep(self.config.poll_interval)
            except asyncio.CancelledError:
                raise
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if self.database_ok:
                    log.warning("change stream lost the database: %s", str(error).strip())
                self.database_ok = False
                with contextlib.suppress(Exception):
                    await self.stream.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("change stream step failed")
                await asyncio.sleep(1.0)

    async def forward_refusals(self) -> None:
        """Hand the refusal messages read from the slot to parley_internal.record_refusals, in batches.

        Before that function exists they are dropped (logged once). While it
        fails they are kept (up to REFUSAL_BACKLOG) and retried after the next
        poll. The slot advances past them either way: delivery to the audit
        log is at least once while the service runs, at most once across a
        crash with a backlog.
        """
        self.refusals_pending.extend(self.stream.take_refusals())
        if not self.refusals_pending:
            return
        if not await self._record_refusals_available():
            if not self._record_refusals_missing_logged:
                log.warning("%s does not exist: refusal events are dropped until it does (logged once)",
                            RECORD_REFUSALS[0])  # fmt: skip
                self._record_refusals_missing_logged = True
            self.refusals_dropped += len(self.refusals_pending)
            self.refusals_pending = []
            return
        while self.refusals_pending:
            batch = self.refusals_pending[:REFUSAL_BATCH]
            events = [refusal_event(message) for message in batch]
            try:
                async with self.pool.connection() as connection:
                    if self._record_refusals == RECORD_REFUSALS[0]:
                        await connection.execute(
                            "select parley_internal.record_refusals(%s::jsonb, source => %s)",
                            (Jsonb(events), self.config.slot),
                        )
                    else:
                        await connection.execute("select parley_internal.record_refusals(%s::jsonb)", (Jsonb(events),))
            except psycopg.Error as error:
                log.warning("record_refusals failed (%d event(s) kept for retry): %s",
                            len(self.refusals_pending), str(error).strip())  # fmt: skip
                self._record_refusals_exists = None  # it may have been dropped: check again
                overflow = len(self.refusals_pending) - REFUSAL_BACKLOG
                if overflow > 0:
                    del self.refusals_pending[:overflow]
                    self.refusals_dropped += overflow
                return
            del self.refusals_pending[: len(batch)]
            self.refusals_forwarded += len(batch)

    async def _record_refusals_available(self) -> bool:
        now = time.monotonic()
        stale = now - self._record_refusals_checked > self.config.refusal_check_interval
        if self._record_refusals_exists is None or (not self._record_refusals_exists and stale):
            try:
                async with self.pool.connection() as connection:
                    cursor = await connection.execute(
                        "select to_regprocedure(%s) is not null, to_regprocedure(%s) is not null", RECORD_REFUSALS
                    )
                    row = await cursor.fetchone()
            except psycopg.Error as error:
                log.warning("could not check for %s: %s", RECORD_REFUSALS[0], str(error).strip())
                return False
            self._record_refusals = next(
                (signature for signature, exists in zip(RECORD_REFUSALS, row or (), strict=False) if exists), None
            )
            self._record_refusals_exists = self._record_refusals is not None
            self._record_refusals_checked = now
            if self._record_refusals_exists:
                self._record_refusals_missing_logged = False
        return bool(self._record_refusals_exists)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.presence_refresh_interval)
            try:
                await self.hub.refresh_presence()
            except Exception:
                log.exception("presence refresh failed")

    async def ensure_partitions(self) -> int:
        """Create the coming days' realtime.messages partitions (as Supabase Realtime does); return how many."""
        try:
            async with self.pool.connection() as connection:
                cursor = await connection.execute("select parley_internal.ensure_realtime_partitions()")
                row = await cursor.fetchone()
        except psycopg.Error as error:
            log.warning("creating realtime.messages partitions failed: %s", str(error).strip())
            return 0
        return int(row[0]) if row else 0

    async def purge(self) -> int:
        """Create the coming days' partitions, then drop/delete realtime.messages rows past retention."""
        await self.ensure_partitions()
        async with self.pool.connection() as connection:
            cursor = await connection.execute(
                "select parley_internal.purge_realtime_messages(%s::interval)", (self.config.retention_older_than,)
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.retention_interval)
            try:
                removed = await self.purge()
                log.info("retention: purged %d realtime.messages row(s) older than %s",
                         removed, self.config.retention_older_than)  # fmt: skip
            except psycopg.Error as error:
                log.warning("retention failed: %s", str(error).strip())

    # -- HTTP and WebSocket --------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What ``GET /health`` answers."""
        return {
            "status": "ok" if self.database_ok else "degraded",
            "database": "connected" if self.database_ok else "reconnecting",
            "slot": self.stream.slot,
            "last_lsn": format_lsn(self.stream.last_lsn),
            "confirmed_lsn": format_lsn(self.stream.confirmed_lsn),
            "slot_lag_bytes": self.stream.lag_bytes,
            "replay_buffer_events": len(self.stream.buffer),
            "clients": len(self.hub.sessions),
            "channels": sum(len(members) for members in self.hub.topics.values()),
            "delivered": self.hub.delivered,
            "backpressure_disconnects": self.hub.backpressure_disconnects,
            "refusals_forwarded": self.refusals_forwarded,
            "refusals_dropped": self.refusals_dropped,
            "resume_tickets": self.resume.ticket_count,
            "resumed": self.resume.resumed,
            "uptime_seconds": round(time.time() - self.started_at, 1),
        }

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path)
        if path.path == HEALTH_PATH:
            body = json.dumps(self.health()).encode()
            headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        if path.path.rstrip("/") != WEBSOCKET_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        query = parse_qs(path.query)
        apikey = (query.get("apikey") or [None])[0]
        vsn = (query.get("vsn") or [VSN_1])[0]
        if vsn not in VERSIONS:
            return connection.respond(HTTPStatus.BAD_REQUEST, f"unsupported vsn {vsn!r} (1.0.0 or 2.0.0)\n")
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return connection.respond(HTTPStatus.UPGRADE_REQUIRED, "this is a WebSocket endpoint (Supabase Realtime "
                                      "protocol); connect with a realtime client\n")  # fmt: skip
        try:
            if not apikey:
                raise tokens.TokenError("PGRST301", "apikey query parameter is required")
            tokens.verify(self.config.jwt_secret, apikey)
        except tokens.TokenError as error:
            return connection.respond(HTTPStatus.FORBIDDEN, f"{error.message}\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        query = parse_qs(urlsplit(connection.request.path).query)
        apikey = (query.get("apikey") or [None])[0]
        vsn = (query.get("vsn") or [VSN_1])[0]
        session = Session(self.hub, partial(send_batch, connection), apikey, self.config.max_queue, vsn)
        closing: list[asyncio.Task[None]] = []

        def overloaded(session: Session) -> None:
            closing.append(asyncio.create_task(self._close(connection, session.close_reason or "backpressure")))
            writer.cancel()

        session.on_overload = overloaded
        session.abort = connection.transport.abort
        self.hub.add_session(session)
        writer = asyncio.create_task(session.write_loop())
        log.info("client %s connected from %s", session.id, connection.remote_address)
        try:
            async for raw in connection:
                if session.closed:
                    break
                await session.handle(raw)
        except ConnectionClosed:
            pass
        finally:
            # A client that closed normally (1000, or 1001 going away) ended on purpose: no resume ticket.
            # No close frame (a dropped connection) or any other code: its channels' cursors wait for it.
            received = connection.protocol.close_rcvd
            self.hub.remove_session(session, keep=received is None or received.code not in (1000, 1001))
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            for task in closing:
                with contextlib.suppress(Exception):
                    await task
            suffix = f" ({session.close_reason})" if session.close_reason else ""
            log.info("client %s disconnected%s", session.id, suffix)

    async def _close(self, connection: ServerConnection, reason: str) -> None:
        """Close with a reason; a client that does not read gets its TCP connection aborted."""
        try:
            await asyncio.wait_for(connection.close(BACKPRESSURE_CLOSE_CODE, reason[:120]), self.config.close_timeout)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            if connection.transport is not None and not connection.transport.is_closing():
                connection.transport.abort()


_NOT_WEBSOCKET_BODY = b"parley realtime: a WebSocket endpoint (GET /realtime/v1/websocket, GET /health)\n"
NOT_WEBSOCKET = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_NOT_WEBSOCKET_BODY)
    + _NOT_WEBSOCKET_BODY
)
"""The answer to a request websockets cannot parse as a GET (POST, HEAD, garbage): short, and no log traceback."""


class RealtimeConnection(ServerConnection):
    """A server connection that answers anything but a GET with a short 400 instead of logging a traceback."""

    _head: bytes = b""
    _checked: bool = False

    def data_received(self, data: bytes) -> None:
        """Check the request method once (websockets would log a traceback and drop the connection unanswered)."""
        if self._checked:
            super().data_received(data)
            return
        self._head += data
        if len(self._head) < 4 and b"\n" not in self._head:
            return
        self._checked = True
        head, self._head = self._head, b""
        if not head.startswith(b"GET "):
            log.info("not a WebSocket request from %s: answered 400", self.remote_address)
            self.transport.write(NOT_WEBSOCKET)
            self.transport.close()
            return
        super().data_received(head)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        """websockets' handshake; a request that is no HTTP GET at all is logged in one line, not a traceback."""
        try:
            await super().handshake(*args, **kwargs)
        except InvalidMessage as error:
            log.info("not a WebSocket request from %s: %s", self.remote_address, error)
            if not self.transport.is_closing():
                self.transport.write(NOT_WEBSOCKET)
                self.transport.close()


def unacknowledged(sock: Any) -> int:
    """Bytes in a socket's send queue the peer has not acknowledged yet (Linux SIOCOUTQ; 0 where unsupported)."""
    if sock is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])
    except (OSError, ValueError):
        return 0


async def send_batch(connection: ServerConnection, frames: list[bytes], progress: Callable[[int], None]) -> None:
    """Write complete frames in one transport write, inside the connection's send context.

    The send context is what ``connection.send`` uses: it checks that the
    connection is open and waits for the transport to drain (flow control:
    a client that does not read stalls here, its queue fills, and it is
    disconnected). The frames are built once per event for all clients
    (hub.SharedFrame), which is valid because no extension is negotiated
    (compression is off) and a server never masks.

    Then, for up to ``FLUSH_WAIT`` seconds, ``progress`` is told how many of
    the bytes are not yet acknowledged by the client's TCP stack (still in
    the process, or in the kernel's send queue): the hub moves resume cursors
    past the frames the client's kernel has, which it delivers to the client
    even if this process dies the next instant.
    """
    if connection.protocol.extensions:  # pragma: no cover - serve() is called with compression=None
        raise RuntimeError("frames are prebuilt without extensions")
    async with connection.send_context():
        connection.transport.write(b"".join(frames))
    transport = connection.transport
    sock = transport.get_extra_info("socket")
    deadline = time.monotonic() + FLUSH_WAIT
    pause = 0.0
    while True:
        pending = transport.get_write_buffer_size() + unacknowledged(sock)
        progress(pending)
        if not pending or transport.is_closing() or time.monotonic() > deadline:
            return
        await asyncio.sleep(pause)
        pause = min(0.005, pause + 0.001)


def refusal_event(message: LogicalMessage) -> Any:
    """The JSON object a refusal message carries, plus its WAL position as ``lsn`` (record_refusals skips replays).

    Content that is not a JSON object is passed as ``{"content": text}`` (record_refusals ignores malformed events).
    """
    try:
        content = json.loads(message.content)
    except ValueError:
        content = None
    event = content if isinstance(content, dict) else {"content": message.content}
    return {**event, "lsn": format_lsn(message.lsn)}


class ServiceThread:
    """Runs a :class:`RealtimeService` on its own event loop in a daemon thread (tests, ``make run``)."""

    def __init__(self, config: RealtimeConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.service: RealtimeService | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="parley-realtime", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.service = RealtimeService(self.config)
            self.loop.run_until_complete(self.service.start())
        except BaseException as error:
            self._error = error
            if self.service is not None:  # what start() opened (the slot's pg_recvlogical child, the pool) closes
                with contextlib.suppress(Exception):
                    self.loop.run_until_complete(self.service.stop())
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self, timeout: float = 30.0) -> ServiceThread:
        """Start and wait until clients can connect."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("parley realtime did not start in time")
        if self._error is not None:
            raise RuntimeError(f"parley realtime failed to start: {self._error}") from self._error
        return self

    @property
    def url(self) -> str:
        """Client base URL (``ws://…/realtime/v1``)."""
        assert self.service is not None
        return self.service.url

    def call(self, coroutine: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the service's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, *, drop_slots: bool = False, timeout: float = 30.0) -> None:
        """Stop the service and its thread."""
        if self.service is not None and self._thread.is_alive():
            self.call(self.service.stop(drop_slots=drop_slots), timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        if not self.loop.is_running():
            self.loop.close()


async def serve_forever(config: RealtimeConfig) -> None:
    """``parley realtime``: run until SIGINT or SIGTERM, then stop cleanly (clients get resume tickets)."""
    import signal

    service = RealtimeService(config)
    try:
        await service.start()
    except BaseException:
        await service.stop()
        raise
    print(f"parley realtime: {service.url}/websocket (health: {service.health_url})",
          flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await service.stop()
        log.info("parley realtime stopped")


def committed_ms(timestamp: str | None) -> float | None:
    """A wal2json commit timestamp (``2026-12-06 01:33:40.123456+00``) as epoch milliseconds (None if absent)."""
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp).timestamp() * 1000
    except ValueError:
        return None
