"""Channels, fan-out and presence: the Phoenix-channel (vsn 1.0.0) side of the service.

A :class:`Session` is one WebSocket connection; it joins :class:`Channel` s
(one per ``realtime:<name>`` topic). The :class:`Hub` knows every channel by
topic name, fans events out to their sessions' bounded queues and keeps the
presence registry. Everything here runs on the service's event loop; only
joins and token refreshes await the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from parley import tokens
from parley.realtime.auth import Access
from parley.realtime.events import client_event_refusal
from parley.realtime.resume import ResumeStore
from parley.realtime.stream import Event, ReplayResult

log = logging.getLogger("parley.realtime.hub")

TOPIC_PREFIX = "realtime:"
PHOENIX = "phoenix"
BACKPRESSURE_CLOSE_CODE = 4008
"""WebSocket close code sent to a client whose outgoing queue overflowed."""

PresenceFilter = Callable[["Channel", "str | None", str, dict[str, Any]], bool]
"""Hook deciding whether a viewer channel may see one presence: ``(viewer, owner user id, key, meta) -> bool``.

The owner is the ``sub`` of the JWT of the channel that tracked the presence
(None for tokens without a user). Default: everyone sees everyone. Parley
plugs privacy settings and blocks in here (parley.realtime.presence). The
hook is synchronous (fan-out never awaits); :data:`PresencePrepare` warms
whatever it reads before each decision.
"""

PresencePrepare = Callable[[set[tuple[str, str]]], Awaitable[None]]
"""Called (awaited) with the (viewer user id, owner user id) pairs the filter is about to decide."""

OWN_KEY_PREFIXES = ("conversation:", "user:")
"""Parley's topics: there the presence key is always the member's user id (a client cannot pose as another)."""

REVOKING_EVENTS = {"member_left": "user_id"}
"""Database events after which the named user may no longer read the topic: their channels on it are closed."""

CLOSING_EVENTS = {"conversation_deleted"}
"""Database events after which nobody may read the topic: every channel on it is closed."""

RECHECKING_EVENTS: dict[str, str | None] = {"member_role_changed": "user_id", "conversation_updated": None}
"""Database events that may change who may send on the topic (a member's role; the posting policy): the named
user's private channels (None: every private channel) are re-authorized, refusing client broadcasts meanwhile."""


VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
VERSIONS = (VSN_1, VSN_2)
"""Phoenix serializer versions spoken: 1.0.0 (JSON objects) and 2.0.0 (JSON arrays plus binary user broadcasts)."""

USER_BROADCAST_PUSH = 3
"""Binary frame kind of a client broadcast push (vsn 2.0.0, realtime-js's serializer)."""
USER_BROADCAST = 4
"""Binary frame kind of a relayed client broadcast (server to vsn 2.0.0 clients)."""
BINARY_ENCODING = 0
JSON_ENCODING = 1


@dataclass(frozen=True, slots=True)
class Message:
    """One Phoenix message, encoded per client (:meth:`encode`) for the protocol version it speaks."""

    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None

    def encode(self, vsn: str) -> str:
        """JSON text: an object for vsn 1.0.0, ``[join_ref, ref, topic, event, payload]`` for 2.0.0."""
        if vsn == VSN_2:
            return json.dumps([self.join_ref, self.ref, self.topic, self.event, self.payload])
        return json.dumps({"topic": self.topic, "event": self.event, "payload": self.payload,
                           "ref": self.ref, "join_ref": self.join_ref})  # fmt: skip


class SharedFrame:
    """A fan-out message whose WebSocket frame is built once per protocol version and shared by every client."""

    __slots__ = ("_frames", "binary", "message")

    def __init__(self, message: Message, binary: bytes | None = None) -> None:
        self.message = message
        self.binary = binary
        """For vsn 2.0.0 clients, a binary ``user_broadcast`` body sent instead of the JSON message."""
        self._frames: dict[str, bytes] = {}

    def frame(self, vsn: str) -> bytes:
        """The complete WebSocket frame for a client speaking ``vsn``."""
        frame = self._frames.get(vsn)
        if frame is None:
            if vsn == VSN_2 and self.binary is not None:
                frame = websocket_frame(self.binary, binary=True)
            else:
                frame = websocket_frame(self.message.encode(vsn).encode())
            self._frames[vsn] = frame
        return frame


def message(topic: str, event: str, payload: Any, ref: str | None = None, join_ref: str | None = None) -> Message:
    """One Phoenix message (encoded per client when queued)."""
    return Message(topic, event, payload, ref, join_ref)


def reply(topic: str, ref: str | None, status: str, response: dict[str, Any], join_ref: str | None = None) -> Message:
    """A ``phx_reply`` to the client push ``ref``."""
    return message(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)


def broadcast_message(topic_name: str, event: Event, *, replayed: bool = False) -> Message:
    """A database broadcast as Supabase sends it, with Parley's event id in ``meta.id``."""
    meta: dict[str, Any] = {"id": event.id, "message_id": event.message_id}
    if replayed:
        meta["replayed"] = True
    payload = {"type": "broadcast", "event": event.event, "payload": event.payload, "meta": meta}
    return message(TOPIC_PREFIX + topic_name, "broadcast", payload)


def system_message(topic_name: str, status: str, text: str, extension: str = "system") -> Message:
    """A ``system`` message (status ``ok`` or ``error``) as Supabase sends them."""
    payload = {"channel": topic_name, "extension": extension, "message": text, "status": status}
    return message(TOPIC_PREFIX + topic_name, "system", payload)


@dataclass(frozen=True, slots=True)
class UserBroadcastPush:
    """A binary client broadcast push (vsn 2.0.0): realtime-js sends ``channel.send({type: 'broadcast', ...})`` so."""

    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    encoding: int
    payload: bytes

    @classmethod
    def decode(cls, data: bytes) -> UserBroadcastPush:
        """Parse ``kind, len(join_ref), len(ref), len(topic), len(event), len(meta), encoding`` + fields + payload."""
        if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
            raise ValueError("not a user broadcast push")
        join_ref_len, ref_len, topic_len, event_len, meta_len, encoding = data[1:7]
        offset = 7
        fields = []
        for length in (join_ref_len, ref_len, topic_len, event_len, meta_len):
            if offset + length > len(data):
                raise ValueError("truncated user broadcast push")
            fields.append(data[offset : offset + length].decode())
            offset += length
        join_ref, ref, topic, event, _meta = fields
        return cls(join_ref or None, ref or None, topic, event, encoding, data[offset:])

    def json_payload(self) -> Any:
        """The payload as JSON (None when it is binary or not valid JSON)."""
        if self.encoding != JSON_ENCODING:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return None


def user_broadcast(topic: str, event: str, encoding: int, payload: bytes) -> bytes:
    """The binary ``user_broadcast`` body realtime-js decodes: kind, lengths, encoding, topic, event, payload."""
    topic_bytes, event_bytes = topic.encode(), event.encode()
    if len(topic_bytes) > 255 or len(event_bytes) > 255:
        raise ValueError("topic or event longer than 255 bytes")
    header = bytes((USER_BROADCAST, len(topic_bytes), len(event_bytes), 0, encoding))
    return header + topic_bytes + event_bytes + payload


@dataclass(eq=False)
class Channel:
    """One joined topic of one session, with its cached authorization."""

    session: Session
    name: str
    join_ref: str | None
    private: bool
    claims: dict[str, Any]
    access: Access
    broadcast_self: bool = False
    broadcast_ack: bool = False
    presence_key: str = ""
    presence_enabled: bool = False
    presence_ref: str | None = None
    seen_up_to: str | None = None
    """The event id the client resumed after: live events up to it are duplicates (see Hub.deliver)."""
    cursor: str | None = None
    """Resume cursor: the last database event id handed to the kernel (before any: the stream position at join)."""
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    expiry: asyncio.TimerHandle | None = None
    expires_at: float = field(default=float("inf"))
    shown: set[str] = field(default_factory=set)
    """phx_refs of the presences this channel has been shown (only those get a leave)."""

    @property
    def topic(self) -> str:
        """The wire topic, ``realtime:<name>``."""
        return TOPIC_PREFIX + self.name

    @property
    def user_id(self) -> str | None:
        """The JWT's ``sub`` (None for tokens without a user)."""
        sub = self.claims.get("sub")
        return str(sub) if sub else None

    @property
    def resume_key(self) -> tuple[str, str, bool] | None:
        """(user id, topic name, private): what automatic resume remembers this channel under (None: no user)."""
        user = self.user_id
        return (user, self.name, self.private) if user else None


def websocket_frame(data: bytes, *, binary: bool = False) -> bytes:
    """A complete, final, unmasked WebSocket text (or binary) frame, server to client, no extensions.

    Fan-out builds the frame of an event once and writes the same bytes to
    every client speaking the same protocol version (:class:`SharedFrame`);
    the service disables permessage-deflate, so no connection needs a frame
    of its own.
    """
    opcode = 0x82 if binary else 0x81
    length = len(data)
    if length < 126:
        header = bytes((opcode, length))
    elif length < 65536:
        header = bytes((opcode, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((opcode, 127)) + length.to_bytes(8, "big")
    return header + data


SendBatch = Callable[[list[bytes], Callable[[int], None]], Awaitable[None]]
"""Writes complete WebSocket frames (see :func:`websocket_frame`) to the connection, in order, in one write,
then reports (one or more times) how many of those bytes the client has not acknowledged yet."""

WRITE_BATCH = 1024
"""Most queued frames handed to the connection in one write (one syscall, one flow-control check)."""

Mark = tuple["Channel", str] | None
"""What a queued frame delivers: (channel, database event id), or None."""


class Session:
    """One WebSocket client: its channels, its protocol version and its bounded outgoing queue of frames."""

    def __init__(self, hub: Hub, send: SendBatch, apikey: str | None, max_queue: int, vsn: str = VSN_1) -> None:
        self.hub = hub
        self.id = uuid.uuid4().hex[:12]
        self._send = send
        self.apikey = apikey
        self.vsn = vsn if vsn in VERSIONS else VSN_1
        self.outbox: deque[tuple[bytes, Mark]] = deque()
        """Frames not yet handed to the connection (at most ``max_queue``), each with what it delivers."""
        self._wakeup = asyncio.Event()
        self.max_queue = max_queue
        self.channels: dict[str, Channel] = {}
        self.closed = False
        self.close_reason: str | None = None
        self.on_overload: Callable[[Session], None] | None = None
        self.abort: Callable[[], None] | None = None
        """Reset the connection without a close frame, as a network drop does (set by the service)."""

    def push(self, message: Message | SharedFrame, mark: Mark = None) -> None:
        """Queue one message, encoded for this client's protocol version (fan-out shares :class:`SharedFrame` s).

        ``mark`` names the database event the frame carries: once the frame
        is handed to the kernel, the channel's resume cursor moves to it.
        Overflowing the bound disconnects the client; never blocks the caller.
        """
        if self.closed:
            return
        if len(self.outbox) >= self.max_queue:
            self._overflow()
            return
        if isinstance(message, SharedFrame):
            frame = message.frame(self.vsn)
        else:
            frame = websocket_frame(message.encode(self.vsn).encode())
        self.outbox.append((frame, mark))
        if not self._wakeup.is_set():
            self._wakeup.set()

    def enqueue(self, items: list[tuple[bytes, Mark]]) -> None:
        """Queue already built frames (fan-out's batch for this client), in order: one bound check, one wake-up.

        As :meth:`push` one by one: the frames that fit are queued, and overflowing the bound disconnects.
        """
        if self.closed:
            return
        outbox = self.outbox
        room = self.max_queue - len(outbox)
        if len(items) > room:
            if room > 0:
                outbox.extend(items[:room])
            self._overflow()
            return
        outbox.extend(items)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _overflow(self) -> None:
        """The outgoing queue is full: disconnect (the client reconnects and resumes)."""
        self.closed = True
        self.hub.backpressure_disconnects += 1
        self.close_reason = f"backpressure: outgoing queue full ({self.max_queue} messages); reconnect and resume"
        log.warning("session %s: %s", self.id, self.close_reason)
        self.hub.remove_session(self)
        if self.on_overload is not None:
            self.on_overload(self)

    async def write_loop(self) -> None:
        """Send queued frames in order until cancelled, everything already queued in one write.

        After each write the resume cursors of the channels move to the last
        event whose frame the client's TCP stack acknowledged (waited for,
        briefly, so that an idle client's cursor is exact).
        """
        outbox = self.outbox
        while True:
            if not outbox:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if len(outbox) <= WRITE_BATCH:
                batch = list(outbox)
                outbox.clear()
            else:
                batch = [outbox.popleft() for _ in range(WRITE_BATCH)]
            await self._send([frame for frame, _ in batch], partial(self._advance, batch))

    def _advance(self, batch: list[tuple[bytes, Mark]], pending: int) -> None:
        """Move resume cursors past the frames of ``batch`` the client has (the last ``pending`` bytes it has not)."""
        sent = sum(len(frame) for frame, _ in batch) - pending
        moved: set[Channel] = set()
        for frame, mark in batch:
            sent -= len(frame)
            if sent < 0:
                break
            if mark is not None:
                channel, event_id = mark
                if channel.cursor is None or event_id > channel.cursor:
                    channel.cursor = event_id
                    moved.add(channel)
        if moved:
            self.hub.cursors_moved(moved)

    # -- incoming ----------------------------------------------------------

    async def handle(self, raw: str | bytes) -> None:
        """Dispatch one client message (vsn 1.0.0 objects, 2.0.0 arrays or binary user broadcast pushes)."""
        if isinstance(raw, bytes) and raw[:1] == bytes((USER_BROADCAST_PUSH,)):
            try:
                push = UserBroadcastPush.decode(raw)
            except (ValueError, UnicodeDecodeError):
                log.info("session %s: ignoring malformed binary message", self.id)
                return
            channel = self.channels.get(push.topic)
            if channel is None:
                self.push(reply(push.topic, push.ref, "error", {"reason": "unmatched topic"}, push.join_ref))
                return
            self.hub.client_broadcast(channel, {"event": push.event, "payload": push.json_payload()}, push.ref,
                                      binary=push)  # fmt: skip
            return
        try:
            incoming = json.loads(raw)
            if isinstance(incoming, list):
                join_ref, ref, topic, event, payload = incoming
                topic, event, payload = str(topic), str(event), payload or {}
            else:
                topic = str(incoming["topic"])
                event = str(incoming["event"])
                payload = incoming.get("payload") or {}
                ref = incoming.get("ref")
                join_ref = incoming.get("join_ref")
            if not isinstance(payload, dict):
                raise TypeError("payload must be an object")
        except (ValueError, KeyError, TypeError):
            log.info("session %s: ignoring malformed message", self.id)
            return
        if topic == PHOENIX:
            if event == "heartbeat":
                self.push(reply(PHOENIX, ref, "ok", {}))
            return
        if event == "phx_join":
            await self.hub.join(self, topic, payload, ref, join_ref or ref)
            return
        channel = self.channels.get(topic)
        if channel is None:
            self.push(reply(topic, ref, "error", {"reason": "unmatched topic"}, join_ref))
            return
        if event == "phx_leave":
            self.hub.leave(channel, keep=False)
            self.push(reply(topic, ref, "ok", {}, channel.join_ref))
        elif event == "broadcast":
            self.hub.client_broadcast(channel, payload, ref)
        elif event == "presence":
            await self.hub.presence_event(channel, payload, ref)
        elif event == "access_token":
            await self.hub.refresh_token(channel, payload, ref)
        else:
            self.push(reply(topic, ref, "error", {"reason": f"unknown event {event!r}"}, channel.join_ref))


Authorizer = Callable[[str, dict[str, Any]], Awaitable[Access]]
"""(topic name, claims) → the join decision (see parley.realtime.auth.check_access)."""

SinceReader = Callable[[str, bool, int, int], Awaitable[list[Event]]]
"""(topic name, private, since epoch ms, limit) → stored realtime.messages rows (Supabase-style replay)."""


class Hub:
    """Every channel by topic name, presence, and the join/leave/fan-out rules."""

    def __init__(
        self,
        jwt_secret: str,
        authorize: Authorizer,
        replay_after: Callable[[str, str, bool], ReplayResult],
        read_since: SinceReader | None = None,
        presence_filter: PresenceFilter | None = None,
        presence_prepare: PresencePrepare | None = None,
        position: Callable[[], str | None] | None = None,
        resume: ResumeStore | None = None,
    ) -> None:
        self.jwt_secret = jwt_secret
        self.position = position or (lambda: None)
        """The id below which every event read so far has been fanned out (a new channel's first cursor)."""
        self.resume = resume if resume is not None else ResumeStore()
        self.authorize = authorize
        self.replay_after = replay_after
        self.read_since = read_since
        self.presence_filter = presence_filter
        self.presence_prepare = presence_prepare
        self.topics: dict[str, set[Channel]] = {}
        self.sessions: set[Session] = set()
        self.presences: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        """topic name → presence key → phx_ref → meta."""
        self.presence_owners: dict[str, str | None] = {}
        """phx_ref → user id of the channel that tracked it."""
        self.delivered = 0
        self.backpressure_disconnects = 0
        self.rechecks: set[asyncio.Task[None]] = set()
        """Re-authorizations under way (see :meth:`_recheck`)."""

    # -- sessions and channels ------------------------------------------------

    def add_session(self, session: Session) -> None:
        """Register a connected client."""
        self.sessions.add(session)

    def remove_session(self, session: Session, *, keep: bool = True) -> None:
        """Forget a client and everything it joined (presence leaves are broadcast).

        ``keep``: the connection was lost rather than closed by the client, so its channels' cursors become
        resume tickets.
        """
        self.sessions.discard(session)
        for channel in list(session.channels.values()):
            self.leave(channel, keep=keep)

    def cursors_moved(self, channels: set[Channel]) -> None:
        """Frames of these channels reached the kernel (Session._advance): journal their cursors."""
        self.resume.moved(channel for channel in channels if channel.session.channels.get(channel.topic) is channel)

    def _verify(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise tokens.TokenError("PGRST301", "no access token")
        return tokens.verify(self.jwt_secret, token)

    async def join(self, session: Session, topic: str, payload: dict[str, Any], ref: str | None,
                   join_ref: str | None) -> None:  # fmt: skip
        """``phx_join``: verify the token, authorize private topics, register, replay, send presence state."""
        if not topic.startswith(TOPIC_PREFIX):
            session.push(reply(topic, ref, "error", {"reason": "topic must start with realtime:"}, join_ref))
            return
        name = topic[len(TOPIC_PREFIX) :]
        config = payload.get("config") or {}
        broadcast = config.get("broadcast") or {}
        presence = config.get("presence") or {}
        private = bool(config.get("private", False))
        if config.get("postgres_changes"):
            session.push(reply(topic, ref, "error", {
                "reason": "postgres_changes is not supported by parley realtime; use broadcast from the database"
            }, join_ref))  # fmt: skip
            return
        try:
            claims = self._verify(payload.get("access_token") or session.apikey)
        except tokens.TokenError as error:
            session.push(reply(topic, ref, "error", {"reason": error.message}, join_ref))
            return
        if private:
            access = await self.authorize(name, claims)
            if not access.can_read:
                log.info("join denied: %s on %s", claims.get("sub") or claims.get("role"), name)
                session.push(reply(topic, ref, "error", {
                    "reason": f"Unauthorized: You do not have permissions to read from this Channel topic: {name}"
                }, join_ref))  # fmt: skip
                return
        else:
            access = Access(True, True, True)
        since_rows: list[Event] = []
        replay = broadcast.get("replay") or {}
        if self.read_since is not None and isinstance(replay.get("since"), int) and "after" not in replay:
            since_rows = await self.read_since(name, private, replay["since"], int(replay.get("limit") or 25))
        presence_enabled = bool(presence.get("enabled", False))
        viewer_id = str(claims["sub"]) if claims.get("sub") else None
        if presence_enabled:
            await self._prepare({(viewer_id, owner) for owner in self._owners(name)} if viewer_id else set())
        if session.closed:
            return
        previous = session.channels.get(topic)
        after = replay.get("after")
        resumed = False
        viewer_key = (viewer_id, name, private) if viewer_id else None
        if not (isinstance(after, str) and after) and "since" not in replay and viewer_key is not None:
            # Automatic resume: the same socket re-joining (after an error or a refused token) continues
            # where its previous channel stopped; a new socket takes the ticket a dropped one left.
            if previous is not None and previous.resume_key == viewer_key and previous.cursor:
                after, resumed = previous.cursor, True
            else:
                ticket = self.resume.take(viewer_key)
                if ticket is not None:
                    after, resumed = ticket, True
        if previous is not None:
            self.leave(previous)
        presence_key = str(presence.get("key") or "") or str(uuid.uuid4())
        if viewer_id and name.startswith(OWN_KEY_PREFIXES):
            presence_key = viewer_id
        channel = Channel(
            session=session, name=name, join_ref=join_ref, private=private, claims=claims, access=access,
            broadcast_self=bool(broadcast.get("self", False)), broadcast_ack=bool(broadcast.get("ack", False)),
            presence_key=presence_key, presence_enabled=presence_enabled,
        )  # fmt: skip
        # From here to the end nothing awaits: replay and registration see the same buffer.
        session.channels[topic] = channel
        self.topics.setdefault(name, set()).add(channel)
        self._schedule_expiry(channel)
        session.push(reply(topic, ref, "ok", {"postgres_changes": []}, join_ref))
        for row in since_rows:
            session.push(message(topic, "broadcast", {
                "type": "broadcast", "event": row.event, "payload": row.payload,
                "meta": {"replayed": True, "id": row.message_id},
            }))  # fmt: skip
        channel.cursor = self.position()
        if isinstance(after, str) and after:
            try:
                result = self.replay_after(after, name, private)
            except ValueError:
                session.push(system_message(name, "ok", f"replay_ignored: {after!r} is not an event id", "broadcast"))
            else:
                if not result.complete:
                    session.push(system_message(
                        name, "ok", "replay_gap: some events after the given id are no longer buffered; "
                        "reload history", "broadcast"))  # fmt: skip
                for event in result.events:
                    session.push(broadcast_message(name, event, replayed=True), (channel, event.id))
                channel.seen_up_to = result.events[-1].id if result.events and result.events[-1].id > after else after
                channel.cursor = after if resumed or channel.cursor is None else max(after, channel.cursor)
                if resumed:
                    log.info("resume: %s on %s after %s (%d event(s))", viewer_id, name, after, len(result.events))
        self.resume.opened(channel)
        if channel.presence_enabled:
            session.push(message(topic, "presence_state", self._presence_state(channel)))
        log.info("join: %s on %s (private=%s)", claims.get("sub") or claims.get("role"), name, private)

    def leave(self, channel: Channel, *, keep: bool = False) -> None:
        """Remove a channel: untrack its presence, cancel its expiry timer; ``keep`` its cursor as a resume ticket."""
        session = channel.session
        self.resume.closed(channel, keep=keep)
        if session.channels.get(channel.topic) is channel:
            del session.channels[channel.topic]
        members = self.topics.get(channel.name)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.topics[channel.name]
        if channel.expiry is not None:
            channel.expiry.cancel()
            channel.expiry = None
        self._untrack(channel)

    def close_channel(self, channel: Channel, reason: str, *, keep: bool = False) -> None:
        """Server-side close, as Supabase does: a ``system`` error message, then ``phx_close``.

        ``keep``: the client may come back (expired token) and resume where the channel stopped.
        """
        log.info("closing %s for %s: %s", channel.name, channel.claims.get("sub") or channel.claims.get("role"), reason)
        self.leave(channel, keep=keep)
        channel.session.push(system_message(channel.name, "error", reason))
        channel.session.push(message(channel.topic, "phx_close", {}, channel.join_ref, channel.join_ref))

    # -- token lifetime ------------------------------------------------------

    def _schedule_expiry(self, channel: Channel) -> None:
        if channel.expiry is not None:
            channel.expiry.cancel()
            channel.expiry = None
        expires = channel.claims.get("exp")
        if not isinstance(expires, (int, float)):
            return
        channel.expires_at = float(expires)
        delay = max(0.0, channel.expires_at - time.time())
        channel.expiry = asyncio.get_running_loop().call_later(delay, self._expire, channel)

    def _expire(self, channel: Channel) -> None:
        channel.expiry = None
        if channel.session.channels.get(channel.topic) is channel:
            self.close_channel(channel, "Token has expired", keep=True)

    async def refresh_token(self, channel: Channel, payload: dict[str, Any], ref: str | None) -> None:
        """``access_token``: re-verify (and re-authorize a private topic) or close the channel."""
        try:
            claims = self._verify(payload.get("access_token"))
        except tokens.TokenError as error:
            reason = "Token has expired" if error.code == "PGRST303" else f"Invalid token: {error.message}"
            self.close_channel(channel, reason)
            return
        if channel.private:
            access = await self.authorize(channel.name, claims)
            if channel.session.channels.get(channel.topic) is not channel:
                return
            if not access.can_read:
                reason = f"Unauthorized: You do not have permissions to read from this Channel topic: {channel.name}"
                self.close_channel(channel, reason)
                return
            channel.access = access
        channel.claims = claims
        self._schedule_expiry(channel)
        channel.session.push(reply(channel.topic, ref, "ok", {}, channel.join_ref))

    def _live(self, channel: Channel, now: float) -> bool:
        """False (and the channel closed) when its token has expired; the only per-message check."""
        if channel.expires_at <= now:
            self.close_channel(channel, "Token has expired", keep=True)
            return False
        return True

    # -- fan-out -------------------------------------------------------------

    def deliver(self, events: list[Event]) -> None:
        """Fan database events out to the channels of their topic (privacy must match, as on Supabase).

        Each event's frame is built once per protocol version; each client's frames of the batch are queued
        together (:meth:`Session.enqueue`), in event order. A revoking event (a member left, the
        conversation was deleted) is delivered, then closes the channels that may no longer read the topic,
        before any later event goes out.
        """
        now = time.time()
        batch: dict[Session, list[tuple[bytes, Mark]]] = {}
        delivered = 0
        for event in events:
            members = self.topics.get(event.topic)
            if not members:
                continue
            shared = SharedFrame(broadcast_message(event.topic, event))
            frames: dict[str, bytes] = {}
            event_id, private = event.id, event.private
            for channel in list(members):
                if channel.private != private:
                    continue
                if channel.seen_up_to is not None and event_id <= channel.seen_up_to:
                    # Read again from the slot after a restart (pg_recvlogical confirms about once a
                    # second): the client resumed after this id, so it has the event already.
                    continue
                if channel.expires_at <= now:
                    self._flush(batch)  # the close comes after the frames already meant for this client
                    self._live(channel, now)
                    continue
                session = channel.session
                frame = frames.get(session.vsn)
                if frame is None:
                    frame = frames[session.vsn] = shared.frame(session.vsn)
                queued = batch.get(session)
                if queued is None:
                    batch[session] = [(frame, (channel, event_id))]
                else:
                    queued.append((frame, (channel, event_id)))
                delivered += 1
            if private and (event.event in REVOKING_EVENTS or event.event in CLOSING_EVENTS or
                            event.event in RECHECKING_EVENTS):  # fmt: skip
                self._flush(batch)
                if event.event in REVOKING_EVENTS or event.event in CLOSING_EVENTS:
                    self._revoke(event)
                if event.event in RECHECKING_EVENTS:
                    self._recheck(event)
        self._flush(batch)
        self.delivered += delivered

    @staticmethod
    def _flush(batch: dict[Session, list[tuple[bytes, Mark]]]) -> None:
        """Queue every client's pending frames of a fan-out batch, and start a new batch."""
        for session, items in batch.items():
            session.enqueue(items)
        batch.clear()

    def _revoke(self, event: Event) -> None:
        """Close the private channels a revoking event takes the right to read from."""
        field_name = REVOKING_EVENTS.get(event.event)
        target = event.payload.get(field_name) if field_name and isinstance(event.payload, dict) else None
        for channel in list(self.topics.get(event.topic, ())):
            if not channel.private:
                continue
            if event.event in CLOSING_EVENTS or (target is not None and channel.user_id == str(target)):
                reason = f"Unauthorized: You do not have permissions to read from this Channel topic: {channel.name}"
                self.close_channel(channel, reason)

    def _recheck(self, event: Event) -> None:
        """Re-authorize the private channels whose send rights ``event`` may have changed (see RECHECKING_EVENTS).

        Until the new decision is in, those channels send nothing (fail closed); a channel that may no longer
        read the topic is closed.
        """
        field_name = RECHECKING_EVENTS[event.event]
        target = event.payload.get(field_name) if field_name and isinstance(event.payload, dict) else None
        for channel in list(self.topics.get(event.topic, ())):
            if not channel.private or (field_name and (target is None or channel.user_id != str(target))):
                continue
            channel.access = replace(channel.access, can_write=False)
            task = asyncio.get_running_loop().create_task(self._reauthorize(channel))
            self.rechecks.add(task)
            task.add_done_callback(self.rechecks.discard)

    async def _reauthorize(self, channel: Channel) -> None:
        try:
            access = await self.authorize(channel.name, channel.claims)
        except Exception:  # a failed check leaves the channel unable to send until its next join or refresh
            log.exception("re-authorization of %s failed", channel.name)
            return
        if channel.session.channels.get(channel.topic) is not channel:
            return
        if not access.can_read:
            self.close_channel(channel, f"Unauthorized: You do not have permissions to read from this Channel topic: "
                                        f"{channel.name}")  # fmt: skip
            return
        channel.access = access

    def client_broadcast(self, channel: Channel, payload: dict[str, Any], ref: str | None,
                         binary: UserBroadcastPush | None = None) -> None:  # fmt: skip
        """Relay a client broadcast (typing, ...) to the topic's other subscribers; never stored.

        vsn 2.0.0 subscribers get it as a binary ``user_broadcast`` (as realtime-js expects), 1.0.0 ones as
        JSON; a binary-encoded payload (``ArrayBuffer``) has no JSON form and reaches 2.0.0 subscribers only.

        Only client event names go through (parley.realtime.events): server event names are reserved.
        """
        if not self._live(channel, time.time()):
            return
        if channel.private and not channel.access.can_write:
            channel.session.push(reply(channel.topic, ref, "error", {
                "reason": f"Unauthorized: You do not have permissions to write to this Channel topic: {channel.name}"
            }, channel.join_ref))  # fmt: skip
            return
        refusal = client_event_refusal(channel.name, payload.get("event"))
        if refusal is not None:
            channel.session.push(reply(channel.topic, ref, "error", {"reason": refusal}, channel.join_ref))
            return
        event = str(payload.get("event") or "")
        outgoing = {"type": "broadcast", "event": event, "payload": payload.get("payload") or {}}
        if binary is not None:
            encoding, body = binary.encoding, binary.payload
        else:
            encoding, body = JSON_ENCODING, json.dumps(outgoing["payload"]).encode()
        try:
            shared = SharedFrame(message(channel.topic, "broadcast", outgoing),
                                 user_broadcast(channel.topic, event, encoding, body))  # fmt: skip
        except ValueError:
            shared = SharedFrame(message(channel.topic, "broadcast", outgoing))
        json_form = encoding == JSON_ENCODING
        now = time.time()
        for member in list(self.topics.get(channel.name, ())):
            if member.private != channel.private or (member is channel and not channel.broadcast_self):
                continue
            if not json_form and member.session.vsn != VSN_2:
                continue
            if self._live(member, now):
                member.session.push(shared)
        if channel.broadcast_ack:
            channel.session.push(reply(channel.topic, ref, "ok", {}, channel.join_ref))

    # -- presence --------------------------------------------------------------

    async def presence_event(self, channel: Channel, payload: dict[str, Any], ref: str | None) -> None:
        """Client ``presence`` push: ``track`` (or update) and ``untrack``."""
        if not self._live(channel, time.time()):
            return
        kind = payload.get("event")
        if channel.private and not channel.access.can_track:
            channel.session.push(reply(channel.topic, ref, "error", {
                "reason": f"Unauthorized: You do not have permissions to track presence on this Channel topic: "
                f"{channel.name}"}, channel.join_ref))  # fmt: skip
            return
        if kind == "track":
            meta = dict(payload.get("payload") or {})
            owner = channel.user_id
            if owner is not None:
                await self._prepare({(viewer.user_id, owner) for viewer in self.topics.get(channel.name, ())
                                     if viewer.presence_enabled and viewer.user_id is not None})  # fmt: skip
                if channel.session.channels.get(channel.topic) is not channel:
                    return
            self._track(channel, meta)
        elif kind == "untrack":
            self._untrack(channel)
        else:
            channel.session.push(reply(channel.topic, ref, "error", {"reason": "unknown presence event"},
                                       channel.join_ref))  # fmt: skip
            return
        channel.session.push(reply(channel.topic, ref, "ok", {}, channel.join_ref))

    def _track(self, channel: Channel, meta: dict[str, Any]) -> None:
        registry = self.presences.setdefault(channel.name, {})
        leaves: dict[str, dict[str, Any]] = {}
        previous = channel.presence_ref
        if previous is not None:
            old = registry.get(channel.presence_key, {}).pop(previous, None)
            self.presence_owners.pop(previous, None)
            if old is not None:
                leaves[previous] = old
        phx_ref = uuid.uuid4().hex[:16]
        entry = {**meta, "phx_ref": phx_ref}
        if previous is not None:
            entry["phx_ref_prev"] = previous
        registry.setdefault(channel.presence_key, {})[phx_ref] = entry
        self.presence_owners[phx_ref] = channel.user_id
        channel.presence_ref = phx_ref
        self._send_diff(channel.name, channel.presence_key, {phx_ref: entry}, leaves)

    def _untrack(self, channel: Channel) -> None:
        if channel.presence_ref is None:
            return
        registry = self.presences.get(channel.name, {})
        metas = registry.get(channel.presence_key, {})
        old = metas.pop(channel.presence_ref, None)
        self.presence_owners.pop(channel.presence_ref, None)
        channel.presence_ref = None
        if not metas:
            registry.pop(channel.presence_key, None)
        if not registry:
            self.presences.pop(channel.name, None)
        if old is not None:
            self._send_diff(channel.name, channel.presence_key, {}, {old["phx_ref"]: old})

    def _owners(self, name: str) -> set[str]:
        """User ids that track presence on a topic."""
        return {
            owner
            for metas in self.presences.get(name, {}).values()
            for ref in metas
            if (owner := self.presence_owners.get(ref)) is not None
        }

    async def _prepare(self, pairs: set[tuple[str, str]]) -> None:
        if self.presence_prepare is not None and pairs:
            await self.presence_prepare(pairs)

    def _visible(self, viewer: Channel, ref: str, key: str, meta: dict[str, Any]) -> bool:
        if self.presence_filter is None:
            return True
        return self.presence_filter(viewer, self.presence_owners.get(ref), key, meta)

    def _presence_state(self, viewer: Channel) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for key, metas in self.presences.get(viewer.name, {}).items():
            visible = [meta for ref, meta in metas.items() if self._visible(viewer, ref, key, meta)]
            if visible:
                state[key] = {"metas": visible}
                viewer.shown.update(meta["phx_ref"] for meta in visible)
        return state

    def _send_diff(self, name: str, key: str, joins: dict[str, dict[str, Any]],
                   leaves: dict[str, dict[str, Any]]) -> None:  # fmt: skip
        for viewer in list(self.topics.get(name, ())):
            if not viewer.presence_enabled:
                continue
            seen_leaves = [meta for ref, meta in leaves.items() if ref in viewer.shown]
            visible_refs = [ref for ref, meta in joins.items() if self._visible(viewer, ref, key, meta)]
            seen_joins = [joins[ref] for ref in visible_refs]
            viewer.shown.difference_update(leaves)
            viewer.shown.update(visible_refs)
            if not seen_joins and not seen_leaves:
                continue
            diff = {
                "joins": {key: {"metas": seen_joins}} if seen_joins else {},
                "leaves": {key: {"metas": seen_leaves}} if seen_leaves else {},
            }
            viewer.session.push(message(viewer.topic, "presence_diff", diff))

    async def refresh_presence(self) -> None:
        """Re-decide every shown and hidden presence (privacy or blocks may have changed) and send the differences."""
        if self.presence_filter is None:
            return
        pairs = {
            (viewer.user_id, owner)
            for name in self.presences
            for owner in self._owners(name)
            for viewer in self.topics.get(name, ())
            if viewer.presence_enabled and viewer.user_id is not None
        }
        await self._prepare(pairs)
        for name, registry in list(self.presences.items()):
            for viewer in list(self.topics.get(name, ())):
                if not viewer.presence_enabled:
                    continue
                joins: dict[str, list[dict[str, Any]]] = {}
                leaves: dict[str, list[dict[str, Any]]] = {}
                for key, metas in registry.items():
                    for ref, meta in metas.items():
                        visible = self._visible(viewer, ref, key, meta)
                        if visible and ref not in viewer.shown:
                            joins.setdefault(key, []).append(meta)
                            viewer.shown.add(ref)
                        elif not visible and ref in viewer.shown:
                            leaves.setdefault(key, []).append(meta)
                            viewer.shown.discard(ref)
                if joins or leaves:
                    diff = {
                        "joins": {key: {"metas": metas} for key, metas in joins.items()},
                        "leaves": {key: {"metas": metas} for key, metas in leaves.items()},
                    }
                    viewer.session.push(message(viewer.topic, "presence_diff", diff))
