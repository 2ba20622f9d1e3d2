"""Helpers for the realtime tests: the official ``realtime`` client, bounded waits, scratch policies."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

from parley.realtime.stream import DECODING_OPTIONS, PLUGIN, Decoder, Event

WAIT = 15.0

SCRATCH_POLICIES = """
create table if not exists public.scratch_members (topic text not null, user_id uuid not null,
                                                   can_send boolean not null default true);
grant select on public.scratch_members to authenticated;
drop policy if exists scratch_members_receive on realtime.messages;
create policy scratch_members_receive on realtime.messages for select to authenticated
  using (exists (select 1 from public.scratch_members m
                 where m.topic = (select realtime.topic()) and m.user_id = (select auth.uid())));
drop policy if exists scratch_members_send on realtime.messages;
create policy scratch_members_send on realtime.messages for insert to authenticated
  with check (exists (select 1 from public.scratch_members m
                      where m.topic = (select realtime.topic()) and m.user_id = (select auth.uid()) and m.can_send));
"""
"""Test-only Realtime Authorization: a scratch membership table decides who may receive and send."""


def install_scratch_policies(owner_url: str) -> None:
    with psycopg.connect(owner_url, autocommit=True) as connection:
        connection.execute(SCRATCH_POLICIES)


def add_member(owner_url: str, topic: str, user_id: Any, *, can_send: bool = True) -> None:
    with psycopg.connect(owner_url, autocommit=True) as connection:
        connection.execute("insert into public.scratch_members values (%s, %s, %s)", (topic, user_id, can_send))


BROADCAST = "select parley_internal.broadcast(%s::jsonb, %s, %s, %s)"


async def send_from_database(
    owner_url: str, topic: str, messages: list[tuple[str, dict]], *, private: bool = True, one_transaction: bool = False
) -> None:
    """parley_internal.broadcast() as the database owner (the triggers' way: realtime.send in ``table`` capture,
    a WAL message in ``wal``), one transaction per message (or all in one)."""
    async with await psycopg.AsyncConnection.connect(owner_url, autocommit=True) as connection:
        if one_transaction:
            async with connection.transaction():
                for event, payload in messages:
                    await connection.execute(BROADCAST, (json.dumps(payload), event, topic, private))
        else:
            for event, payload in messages:
                await connection.execute(BROADCAST, (json.dumps(payload), event, topic, private))


def without_row_id(frame: Any) -> dict[str, Any]:
    """A received database broadcast with the id realtime.send puts in the payload moved out of it.

    Supabase's realtime.send (and the shim's, sql/platform_realtime_v2.sql) adds the realtime.messages
    row id (a UUID) to the payload as ``id`` (the frame's ``meta.message_id``, when the client keeps
    meta). It is moved to ``row_id`` so tests compare Parley's own payload; anything else under ``id``
    is left in place (and the test's comparison shows it).
    """
    item = dict(frame)
    inner = item.get("payload")
    meta = item.get("meta") or {}
    if isinstance(inner, dict) and _is_row_id(inner.get("id"), meta.get("message_id")):
        item["row_id"] = inner["id"]
        item["payload"] = {key: value for key, value in inner.items() if key != "id"}
    return item


def _is_row_id(value: Any, message_id: Any) -> bool:
    if message_id is not None:
        return value == message_id
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


class Broadcasts:
    """Every database broadcast committed after it was created, in either capture mode (rows or WAL messages).

    A logical slot of its own, peeked (never advanced) and decoded by the service's own decoder, so a test
    reads the same events `parley realtime` delivers whether parley.realtime_capture is table or wal.
    """

    def __init__(self, owner_url: str, slot: str | None = None) -> None:
        self.url = owner_url
        self.slot = slot or f"test_broadcasts_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(owner_url, autocommit=True) as connection:
            connection.execute("select pg_create_logical_replication_slot(%s, %s)", (self.slot, PLUGIN))

    def events(self) -> list[Event]:
        """Everything committed since the slot was created, in commit order."""
        options = ", ".join(["%s"] * len(DECODING_OPTIONS))
        with psycopg.connect(self.url, autocommit=True) as connection:
            # Decoding stops at the flushed WAL: a synchronous commit that wrote WAL flushes everything before it
            # (the test server commits asynchronously; a message outside the decoder's prefixes is enough).
            connection.execute("set synchronous_commit = on")
            connection.execute("select pg_catalog.txid_current(), pg_logical_emit_message(true, 'parley.test', '')")
            rows = connection.execute(
                f"select lsn::text, data from pg_logical_slot_peek_changes(%s, null, null, {options})",
                (self.slot, *DECODING_OPTIONS),
            ).fetchall()
        return Decoder().feed(rows).events

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("select pg_drop_replication_slot(%s)", (self.slot,))


async def until(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
    """Wait (bounded) until predicate() is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Subscriber:
    """An official-client connection with one channel and everything it received."""

    client: AsyncRealtimeClient
    channel: AsyncRealtimeChannel
    received: list[dict[str, Any]] = field(default_factory=list)
    states: list[tuple[RealtimeSubscribeStates, Exception | None]] = field(default_factory=list)
    system: list[Any] = field(default_factory=list)

    @property
    def state(self) -> RealtimeSubscribeStates | None:
        return self.states[-1][0] if self.states else None

    def payloads(self, event: str | None = None) -> list[Any]:
        return [item["payload"] for item in self.received if event is None or item["event"] == event]

    async def close(self) -> None:
        await self.client.close()


async def subscribe(
    url: str,
    token: str,
    topic: str,
    *,
    private: bool = True,
    presence_key: str = "",
    presence: bool = False,
    self_broadcast: bool = False,
    ack: bool = False,
    replay: dict | None = None,
    auto_reconnect: bool = False,
    wait: bool = True,
    **client_options: Any,
) -> Subscriber:
    """Connect with the official client, join ``topic`` and wait for the join's outcome."""
    client = AsyncRealtimeClient(url, token, auto_reconnect=auto_reconnect, **client_options)
    await client.connect()
    broadcast: dict[str, Any] = {"self": self_broadcast, "ack": ack}
    if replay is not None:
        broadcast["replay"] = replay
    channel = client.channel(topic, {"config": {
        "broadcast": broadcast, "presence": {"key": presence_key, "enabled": presence}, "private": private,
    }})  # fmt: skip
    subscriber = Subscriber(client, channel)
    channel.on_broadcast("*", lambda payload: subscriber.received.append(without_row_id(payload)))
    channel.on_system(lambda payload: subscriber.system.append(payload))
    await asyncio.wait_for(channel.subscribe(lambda state, error: subscriber.states.append((state, error))), WAIT)
    if wait:
        await until(lambda: subscriber.state is not None, what="join reply")
    return subscriber


# -- Driving the chat tables (issue 7 database side) -----------------------------------------------


class Chat:
    """Writes that fire the realtime triggers: through the real RPC when it exists, else as the owner.

    The messages and read-state RPCs (issue 4) are written in parallel; until
    they land, the tests drive the tables directly as the database owner, the
    way those RPCs will write them. The triggers are on the tables, so the
    events are the same either way.
    """

    def __init__(self, api: Any, database: Any) -> None:
        self.api = api
        self.database = database
        self._rpcs: dict[str, bool] = {}

    def owner(self, statement: str, params: Any = None) -> list[tuple]:
        """Run SQL as the database owner (set-up, or a write path whose RPC has not landed)."""
        with psycopg.connect(self.database.url, autocommit=True) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def has_rpc(self, name: str) -> bool:
        """Whether public.<name> exists in this database."""
        if name not in self._rpcs:
            rows = self.owner("select exists (select 1 from pg_proc where proname = %s "
                              "and pronamespace = 'public'::regnamespace)", (name,))  # fmt: skip
            self._rpcs[name] = bool(rows[0][0])
        return self._rpcs[name]

    def send(self, user: Any, conversation: str, body: str) -> int:
        """Send a text message as ``user``; return its id."""
        if self.has_rpc("send_message"):
            row = self.api.rpc("send_message", {"conversation_id": conversation, "body": body}, token=user.token)
            return int(row["id"])
        [(message_id,)] = self.owner(
            "insert into messages (conversation_id, sender_kind, sender_id, body) values (%s, 'user', %s, %s) "
            "returning id", (conversation, user.id, body))  # fmt: skip
        return int(message_id)

    def send_as_persona(self, staff: Any, conversation: str, persona: str, body: str) -> int:
        """A staff member answers as a persona (the real sender only in parley_internal.message_senders)."""
        if self.has_rpc("send_message"):
            row = self.api.rpc("send_message", {"conversation_id": conversation, "body": body,
                                                "as_persona_id": persona}, token=staff.token)  # fmt: skip
            return int(row["id"])
        [(message_id,)] = self.owner(
            "with sent as (insert into messages (conversation_id, sender_kind, persona_id, body) "
            "values (%s, 'persona', %s, %s) returning id), "
            "hidden as (insert into parley_internal.message_senders (message_id, sender_id, persona_id) "
            "select id, %s, %s from sent) select id from sent",
            (conversation, persona, body, staff.id, persona))  # fmt: skip
        return int(message_id)

    def notice(self, staff: Any, organization: str, user: Any, body: str) -> int:
        """A staff notice to ``user`` (lands in their notices conversation)."""
        if self.has_rpc("send_notice"):
            row = self.api.rpc("send_notice", {"organization_id": organization, "user_id": str(user.id),
                                               "body": body, "style": None}, token=staff.token)  # fmt: skip
            return int(row["id"])
        notices = self.api.rpc("get_or_create_notices_conversation", {"organization_id": organization},
                               token=user.token)  # fmt: skip
        [(message_id,)] = self.owner(
            "with sent as (insert into messages (conversation_id, sender_kind, kind, body) "
            "values (%s, 'system', 'notice', %s) returning id), "
            "hidden as (insert into parley_internal.message_senders (message_id, sender_id) "
            "select id, %s from sent) select id from sent",
            (notices["id"], body, staff.id))  # fmt: skip
        return int(message_id)

    def edit(self, user: Any, message_id: int, body: str) -> None:
        if self.has_rpc("edit_message"):
            self.api.rpc("edit_message", {"message_id": message_id, "body": body}, token=user.token)
            return
        self.owner("insert into message_edits (message_id, edited_by, previous_body, previous_metadata) "
                   "select id, %s, body, metadata from messages where id = %s", (user.id, message_id))  # fmt: skip
        self.owner("update messages set body = %s, edited_at = now() where id = %s", (body, message_id))

    def delete(self, user: Any, message_id: int) -> None:
        if self.has_rpc("delete_message"):
            self.api.rpc("delete_message", {"message_id": message_id}, token=user.token)
            return
        self.owner("update messages set body = null, metadata = '{}', deleted_at = now(), deleted_by = %s "
                   "where id = %s", (user.id, message_id))  # fmt: skip

    def react(self, user: Any, message_id: int, emoji: str) -> None:
        """Toggle a reaction."""
        if self.has_rpc("toggle_reaction"):
            self.api.rpc("toggle_reaction", {"message_id": message_id, "emoji": emoji}, token=user.token)
            return
        removed = self.owner("delete from message_reactions where message_id = %s and emoji = %s and user_id = %s "
                             "returning 1", (message_id, emoji, user.id))  # fmt: skip
        if not removed:
            self.owner("insert into message_reactions (message_id, emoji, user_id) values (%s, %s, %s)",
                       (message_id, emoji, user.id))  # fmt: skip

    def mark(self, user: Any, conversation: str, message_id: int, *, watermark: str) -> None:
        """mark_read or mark_delivered (``watermark`` is ``read`` or ``delivered``)."""
        function = f"mark_{watermark}"
        if self.has_rpc(function):
            self.api.rpc(function, {"conversation_id": conversation, "message_id": message_id}, token=user.token)
            return
        column = {"read": "last_read_message_id", "delivered": "last_delivered_message_id"}[watermark]
        self.owner(f"update inbox_entries set {column} = greatest({column}, %s), updated_at = now() "
                   "where user_id = %s and conversation_id = %s", (message_id, user.id, conversation))  # fmt: skip
