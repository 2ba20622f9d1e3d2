"""Presence on conversation topics (issue 7): keyed by user id, members only, privacy settings and blocks honoured.

Clients are the official ``realtime`` client; a raw WebSocket observer records
every presence frame, to prove that a hidden user's presence never reaches the
wire (not even as a leave).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import websockets
from realtime import RealtimeSubscribeStates

from identity_support import organization_with
from parley.db import Api
from parley.realtime import RealtimeConfig, ServiceThread
from realtime_support import Subscriber, subscribe, until

if TYPE_CHECKING:
    from parley_dev.testing import TestDatabase, TestUser

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "alice", "bob", "carol", "dave", "mallory")
    return {name: database.create_user(f"pr_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(
        api,
        database,
        people["owner"],
        member=people["alice"],
        member2=people["bob"],
        member3=people["carol"],
        member4=people["dave"],
        member5=people["mallory"],
    )


@pytest.fixture(scope="module")
def group(api: Api, organization: str, people: dict[str, TestUser]) -> str:
    members = [str(people[name].id) for name in ("alice", "bob", "carol", "dave")]
    created = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Presence", "member_ids": members},
        token=people["owner"].token,
    )
    return f"conversation:{created['id']}"


@pytest.fixture(scope="module")
def presence_service(database: TestDatabase) -> Iterator[ServiceThread]:
    """The service with a fast privacy refresh (0.2 s) and short decision cache (0.1 s), on its own slot."""
    config = RealtimeConfig(
        database.url,
        database.jwt_secret,
        port=0,
        slot="parley_realtime_presence",
        poll_interval=0.02,
        retention_interval=0,
        presence_refresh_interval=0.2,
        presence_ttl=0.1,
    )
    service = ServiceThread(config).start()
    yield service
    service.stop(drop_slots=True)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


def set_privacy(api: Api, user: TestUser, **settings: bool) -> None:
    """The user changes their own privacy settings through the API."""
    assignments = ", ".join(f"{column} = %({column})s" for column in settings)
    api.query(
        f"update privacy_settings set {assignments} where user_id = %(me)s",
        {**settings, "me": user.id},
        token=user.token,
        method="PATCH",
    )


async def present(url: str, user: TestUser, topic: str, **options: Any) -> Subscriber:
    """Join with presence enabled and track; the client's own key is ignored on Parley topics."""
    subscriber = await subscribe(url, user.token, topic, presence=True, presence_key="spoofed-key", **options)
    assert subscriber.state is SUBSCRIBED, subscriber.states
    await subscriber.channel.track({"status": "online"})
    return subscriber


def keys(subscriber: Subscriber) -> set[str]:
    return set(subscriber.channel.presence_state())


class Observer:
    """A raw Phoenix client that joins with presence and records every presence frame it is sent."""

    def __init__(self, url: str, token: str, topic: str) -> None:
        self.url = f"{url}/websocket?apikey={token}&vsn=1.0.0"
        self.token = token
        self.topic = f"realtime:{topic}"
        self.frames: list[dict[str, Any]] = []
        self.joined = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.joined.wait(), 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with websockets.connect(self.url) as socket:
            join = {"config": {"private": True, "presence": {"enabled": True}, "broadcast": {}}}
            await socket.send(
                json.dumps({"topic": self.topic, "event": "phx_join", "payload": {**join, "access_token": self.token},
                            "ref": "1", "join_ref": "1"})
            )  # fmt: skip
            async for raw in socket:
                frame = json.loads(raw)
                if frame["event"] == "phx_reply" and frame["ref"] == "1":
                    assert frame["payload"]["status"] == "ok", frame
                    self.joined.set()
                elif frame["event"] in ("presence_state", "presence_diff"):
                    self.frames.append(frame)

    def seen(self, user: TestUser) -> bool:
        return str(user.id) in json.dumps(self.frames)


def test_members_see_each_others_presence_under_their_user_id(presence_service, people, group):
    alice, bob = people["alice"], people["bob"]

    async def scenario():
        first = await present(presence_service.url, alice, group)
        second = await present(presence_service.url, bob, group)
        await until(lambda: str(alice.id) in keys(second), what="alice at bob")
        await until(lambda: str(bob.id) in keys(first), what="bob at alice")
        assert "spoofed-key" not in keys(first) | keys(second)
        assert second.channel.presence_state()[str(alice.id)][0]["status"] == "online"
        await first.channel.untrack()
        await until(lambda: str(alice.id) not in keys(second), what="alice's untrack at bob")
        await first.channel.track({"status": "back"})
        await until(lambda: str(alice.id) in keys(second), what="alice back")
        await first.close()
        await until(lambda: str(alice.id) not in keys(second), what="alice's disconnect at bob")
        await second.close()

    run(scenario())


def test_a_user_hiding_online_status_is_never_shown_not_even_as_a_leave(api, presence_service, people, group):
    alice, carol, dave = people["alice"], people["carol"], people["dave"]
    set_privacy(api, carol, show_online_status=False)

    async def scenario():
        async with Observer(presence_service.url, dave.token, group) as observer:
            hiding = await present(presence_service.url, carol, group)
            visible = await present(presence_service.url, alice, group)
            await until(lambda: str(alice.id) in keys(hiding), what="alice at carol: hiding yourself hides only you")
            await until(lambda: observer.seen(alice), what="alice at the observer")
            await visible.channel.track({"status": "typing"})
            await hiding.channel.track({"status": "still here"})
            await hiding.close()
            await visible.close()
            await until(
                lambda: (
                    sum(str(alice.id) in json.dumps(frame["payload"].get("leaves", {})) for frame in observer.frames)
                    >= 1
                ),
                what="alice's leave at the observer",
            )
            assert str(carol.id) not in keys(visible)
            assert not observer.seen(carol)

    try:
        run(scenario())
    finally:
        set_privacy(api, carol, show_online_status=True)


def test_blocked_users_never_see_each_other_while_others_see_both(api, presence_service, people, group):
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    api.rpc("block_user", {"user_id": str(dave.id)}, token=bob.token)

    async def scenario():
        blocker = await present(presence_service.url, bob, group)
        blocked = await present(presence_service.url, dave, group)
        bystander = await present(presence_service.url, alice, group)
        await until(lambda: {str(bob.id), str(dave.id)} <= keys(bystander), what="both at alice")
        await until(lambda: str(alice.id) in keys(blocker) and str(alice.id) in keys(blocked), what="alice at both")
        assert str(dave.id) not in keys(blocker)
        assert str(bob.id) not in keys(blocked)
        for subscriber in (blocker, blocked, bystander):
            await subscriber.close()

    try:
        run(scenario())
    finally:
        api.rpc("unblock_user", {"user_id": str(dave.id)}, token=bob.token)


def test_privacy_changes_and_blocks_made_while_online_take_effect_without_rejoining(
    api, presence_service, people, group
):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]

    async def scenario():
        watcher = await present(presence_service.url, alice, group)
        shy = await present(presence_service.url, carol, group)
        other = await present(presence_service.url, bob, group)
        await until(lambda: {str(carol.id), str(bob.id)} <= keys(watcher), what="carol and bob at alice")
        set_privacy(api, carol, show_online_status=False)
        await until(lambda: str(carol.id) not in keys(watcher), what="carol hidden after turning status off")
        set_privacy(api, carol, show_online_status=True)
        await until(lambda: str(carol.id) in keys(watcher), what="carol shown again")
        api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
        try:
            await until(lambda: str(bob.id) not in keys(watcher), what="bob hidden from alice after the block")
            await until(lambda: str(alice.id) not in keys(other), what="alice hidden from bob after the block")
            assert str(carol.id) in keys(watcher)
        finally:
            api.rpc("unblock_user", {"user_id": str(bob.id)}, token=alice.token)
        await until(lambda: str(bob.id) in keys(watcher), what="bob shown again after the unblock")
        for subscriber in (watcher, shy, other):
            await subscriber.close()

    try:
        run(scenario())
    finally:
        set_privacy(api, carol, show_online_status=True)


def test_only_members_track_presence_staff_reading_a_support_conversation_do_not(
    api, presence_service, people, organization, group
):
    owner, alice, mallory = people["owner"], people["alice"], people["mallory"]
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=alice.token)
    topic = f"conversation:{support['id']}"

    # Staff open the conversation with get_messages first: an audited read (issue 20 finding 6).
    api.rpc("get_messages", {"conversation_id": support["id"]}, token=owner.token)

    async def scenario():
        customer = await present(presence_service.url, alice, topic)
        agent = await subscribe(presence_service.url, owner.token, topic, presence=True)
        assert agent.state is SUBSCRIBED  # staff may read the support conversation...
        outcome: list[str] = []
        push = await agent.channel.push("presence", {"event": "track", "payload": {"status": "online"}})
        push.receive("ok", lambda _: outcome.append("ok")).receive("error", lambda r: outcome.append(str(r)))
        await until(lambda: bool(outcome), what="the track reply")
        assert "Unauthorized" in outcome[0]  # ...but never shows up in its presence as themselves
        await until(lambda: str(alice.id) in keys(agent), what="the customer at the agent")
        assert str(owner.id) not in keys(customer)
        stranger = await subscribe(presence_service.url, mallory.token, group, presence=True)
        assert stranger.state is CHANNEL_ERROR
        for subscriber in (customer, agent, stranger):
            await subscriber.close()

    run(scenario())
