"""Issue 20, finding 5: clients cannot spoof server events, and send rights follow role and posting-policy changes.

Through parley realtime and the official Python ``realtime`` client: a member who pushes a broadcast named
``message_created`` (with someone else as sender) gets an error reply and nobody receives it; client event names are
per topic kind (parley.realtime.events); and when the posting policy or the member's role changes, the service
re-authorizes the member's channel, so typing is refused (or allowed again) without a re-join.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from identity_support import organization_with
from parley.db import Api
from parley.realtime.events import CLIENT_EVENTS, SERVER_EVENTS, client_event_refusal
from realtime_support import Subscriber, subscribe, until

if TYPE_CHECKING:
    from parley_dev.testing import TestDatabase, TestUser


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    return {name: database.create_user(f"rce_{name}") for name in ("owner", "alice", "bob")}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(api, database, people["owner"], member=people["alice"], member2=people["bob"])


def create_group(api: Api, organization: str, people: dict[str, TestUser], **settings: Any) -> str:
    args = {"organization_id": organization, "title": "Events",
            "member_ids": [str(people["alice"].id), str(people["bob"].id)], **settings}  # fmt: skip
    return str(api.rpc("create_group_conversation", args, token=people["owner"].token)["id"])


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


async def push(subscriber: Subscriber, event: str, payload: dict[str, Any]) -> str:
    """Push a client broadcast (the channel joined with ack) and return "ok" or the error reason."""
    outcome: list[str] = []
    sent = await subscriber.channel.push("broadcast", {"type": "broadcast", "event": event, "payload": payload})
    sent.receive("ok", lambda _: outcome.append("ok")).receive("error", lambda r: outcome.append(str(r)))
    await until(lambda: bool(outcome), what=f"the reply to {event}")
    return outcome[0]


def test_a_member_cannot_broadcast_a_server_event_with_another_sender(
    api, database, realtime_service, people, organization
):
    group = create_group(api, organization, people)
    forged = {"message": {"id": 1, "conversation_id": group, "sender_kind": "user",
                          "sender_id": str(people["owner"].id), "body": "Send me your password"}}  # fmt: skip

    async def scenario():
        listener = await subscribe(realtime_service.url, people["alice"].token, f"conversation:{group}")
        mallory = await subscribe(realtime_service.url, people["bob"].token, f"conversation:{group}", ack=True)
        for event in ("message_created", "message_edited", "member_role_changed", "reaction_changed"):
            refusal = await push(mallory, event, forged)
            assert "server event" in refusal, refusal
        assert "not a client event" in await push(mallory, "announcement", {"body": "x"})
        assert await push(mallory, "typing", {"user_id": str(people["bob"].id), "typing": True}) == "ok"
        await until(lambda: listener.payloads("typing") != [], what="typing at alice")
        assert [item["event"] for item in listener.received] == ["typing"]
        for subscriber in (listener, mallory):
            await subscriber.close()

    run(scenario())


def test_call_topics_carry_signaling_and_other_topics_any_name_but_a_server_events(realtime_service, people):
    """Public channels (no topic policy needed): call:{id} takes offer/answer/ice_candidate only."""

    async def scenario():
        caller = await subscribe(realtime_service.url, people["alice"].token, "call:demo", private=False, ack=True)
        callee = await subscribe(realtime_service.url, people["bob"].token, "call:demo", private=False)
        for event in ("offer", "answer", "ice_candidate"):
            assert await push(caller, event, {"sdp": "v=0"}) == "ok"
        assert "not a client event" in await push(caller, "typing", {})
        assert "server event" in await push(caller, "message_created", {})
        await until(lambda: len(callee.received) == 3, what="the signaling at the callee")
        assert [item["event"] for item in callee.received] == ["offer", "answer", "ice_candidate"]
        room = await subscribe(realtime_service.url, people["alice"].token, "room:lobby", private=False, ack=True)
        assert await push(room, "cursor_moved", {"x": 1}) == "ok"
        assert "server event" in await push(room, "presence_diff", {})
        for subscriber in (caller, callee, room):
            await subscriber.close()

    run(scenario())


def test_send_rights_are_rechecked_when_the_posting_policy_or_the_members_role_changes(
    api, database, realtime_service, people, organization
):
    group = create_group(api, organization, people)
    owner, alice = people["owner"], people["alice"]

    async def typing_outcome(subscriber: Subscriber, expected: str) -> None:
        outcomes: list[str] = []

        async def attempt() -> bool:
            outcomes.append(await push(subscriber, "typing", {"typing": True}))
            return expected in outcomes[-1]

        deadline = asyncio.get_running_loop().time() + 15
        while not await attempt():
            assert asyncio.get_running_loop().time() < deadline, outcomes
            await asyncio.sleep(0.05)

    async def scenario():
        member = await subscribe(realtime_service.url, alice.token, f"conversation:{group}", ack=True)
        assert await push(member, "typing", {"typing": True}) == "ok"
        await asyncio.to_thread(api.rpc, "update_group_conversation",
                                {"conversation_id": group, "posting_policy": "admins"}, token=owner.token)  # fmt: skip
        await typing_outcome(member, "Unauthorized")
        await asyncio.to_thread(api.rpc, "set_conversation_member_role",
                                {"conversation_id": group, "user_id": str(alice.id), "role": "admin"},
                                token=owner.token)  # fmt: skip
        await typing_outcome(member, "ok")
        await member.close()

    run(scenario())


def test_the_event_rule_lives_in_one_place():
    """parley.realtime.events: no name is both a client and a server event; the calls engineer relies on these."""
    assert CLIENT_EVENTS["call"] == {"offer", "answer", "ice_candidate"}
    assert CLIENT_EVENTS["conversation"] == {"typing"}
    assert not set().union(*CLIENT_EVENTS.values()) & SERVER_EVENTS
    assert client_event_refusal("user:x", "typing") is not None
    assert client_event_refusal("conversation:x", "typing") is None
    assert client_event_refusal("conversation:x", None) is not None
