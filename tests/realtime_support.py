"""Helpers for the realtime tests: the official ``realtime`` client, bounded waits, scratch policies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

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


async def send_from_database(owner_url: str, topic: str, messages: list[tuple[str, dict]], *,
                             private: bool = True, one_transaction: bool = False) -> None:
    """realtime.send() as the database owner, one transaction per message (or all in one)."""
    async with await psycopg.AsyncConnection.connect(owner_url, autocommit=True) as connection:
        if one_transaction:
            async with connection.transaction():
                for event, payload in messages:
                    await connection.execute("select realtime.send(%s::jsonb, %s, %s, %s)",
                                             (json.dumps(payload), event, topic, private))
        else:
            for event, payload in messages:
                await connection.execute("select realtime.send(%s::jsonb, %s, %s, %s)",
                                         (json.dumps(payload), event, topic, private))


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


async def subscribe(url: str, token: str, topic: str, *, private: bool = True, presence_key: str = "",
                    presence: bool = False, self_broadcast: bool = False, ack: bool = False,
                    replay: dict | None = None, auto_reconnect: bool = False, wait: bool = True,
                    **client_options: Any) -> Subscriber:
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
    channel.on_broadcast("*", lambda payload: subscriber.received.append(dict(payload)))
    channel.on_system(lambda payload: subscriber.system.append(payload))
    await asyncio.wait_for(
        channel.subscribe(lambda state, error: subscriber.states.append((state, error))), WAIT
    )
    if wait:
        await until(lambda: subscriber.state is not None, what="join reply")
    return subscriber
