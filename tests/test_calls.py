"""Calls (issue 15; seed 004 CallSession/CallParticipant and chat.initiate_call, seed 000 can_call).

Every call RPC runs through the request path (``Api``, as PostgREST would);
the database owner only sets up (privacy settings, plans, clock moves for the
ring timeout). Signaling goes through ``parley realtime`` with two official
``realtime`` clients on the private topic call:{id}.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from realtime import RealtimeSubscribeStates

from identity_support import as_owner, organization_with, refusal
from messaging_support import group
from parley.db import Api
from parley.workers import CallWorker
from realtime_support import subscribe, until

if TYPE_CHECKING:
    from parley_dev.testing import TestDatabase, TestUser

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "alice", "bob", "carol", "dave", "erin", "frank", "guest", "outsider")
    users = {name: database.create_user(f"call_{name}") for name in names}
    # Calls are accepted from everyone in these tests unless a test says otherwise (the default is connections).
    as_owner(database, "update privacy_settings set who_can_call = 'everyone' where user_id = any(%s)",
             ([user.id for user in users.values()],))  # fmt: skip
    return users


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    names = ("alice", "bob", "carol", "dave", "erin", "frank")
    members = {f"member{index}": people[name] for index, name in enumerate(names)}
    return organization_with(api, database, people["owner"], guest=people["guest"], **members)


def direct(api: Api, organization: str, first: TestUser, second: TestUser) -> str:
    """The direct conversation of two members (get-or-create through the API)."""
    arguments = {"organization_id": organization, "other_user_id": str(second.id)}
    row = api.rpc("get_or_create_direct_conversation", arguments, token=first.token)
    return str(row["id"])


def start(api: Api, user: TestUser, conversation: str, media: str = "audio") -> dict[str, Any]:
    return api.rpc("start_call", {"conversation_id": conversation, "media": media}, token=user.token)


def call_rpc(api: Api, name: str, user: TestUser, call: dict[str, Any] | str, **arguments: Any) -> dict[str, Any]:
    call_id = call if isinstance(call, str) else call["id"]
    return api.rpc(name, {"call_id": call_id, **arguments}, token=user.token)


def states(call: dict[str, Any]) -> dict[str, str]:
    return {participant["user_id"]: participant["state"] for participant in call["participants"]}


def newest_message(database: TestDatabase) -> int:
    """The newest message id anywhere: call_messages(..., since) counts what a test posted after it."""
    [(newest,)] = as_owner(database, "select coalesce(max(id), 0) from messages")
    return int(newest)


def call_messages(database: TestDatabase, conversation: str, since: int) -> list[dict[str, Any]]:
    rows = as_owner(database, "select body, metadata from messages where conversation_id = %s and kind = 'call' "
                    "and id > %s order by id", (conversation, since))  # fmt: skip
    return [{"body": body, **metadata} for body, metadata in rows]


def end_everything(database: TestDatabase) -> None:
    """Between tests: no live call anywhere (busy and glare tests need a clean slate)."""
    as_owner(database, "update call_participants set state = 'left', left_at = now() where state = 'joined'")
    as_owner(database, "update call_participants set state = 'missed', left_at = now() where state = 'ringing'")
    as_owner(database, "update call_sessions set state = 'ended', end_reason = 'completed', ended_at = now(), "
             "answered_at = coalesce(answered_at, started_at) where state <> 'ended'")  # fmt: skip


@pytest.fixture(autouse=True)
def clean_slate(database: TestDatabase) -> None:
    end_everything(database)


def test_a_direct_call_rings_is_answered_and_ends_with_an_exact_duration_and_one_call_message(
    api, database, people, organization
):
    since = newest_message(database)
    alice, bob = people["alice"], people["bob"]
    conversation = direct(api, organization, alice, bob)
    call = start(api, alice, conversation, "video")
    assert call["state"] == "ringing" and call["media"] == "video" and call["initiator_id"] == str(alice.id)
    assert states(call) == {str(alice.id): "joined", str(bob.id): "ringing"}
    answered = call_rpc(api, "accept_call", bob, call)
    assert answered["state"] == "active" and answered["answered_at"] is not None
    assert states(answered) == {str(alice.id): "joined", str(bob.id): "joined"}
    # Move the call 83.25 s into the past (set-up), then hang up: the duration is ended_at - answered_at exactly.
    as_owner(database, "update call_sessions set started_at = started_at - interval '90 seconds', "
             "answered_at = answered_at - interval '83.25 seconds' where id = %s", (call["id"],))  # fmt: skip
    ended = call_rpc(api, "end_call", bob, call)
    assert ended["state"] == "ended" and ended["end_reason"] == "completed"
    [(answered_at, ended_at)] = as_owner(database, "select answered_at, ended_at from call_sessions where id = %s",
                                         (call["id"],))  # fmt: skip
    elapsed: timedelta = ended_at - answered_at
    exact = Decimal(elapsed.days * 86400 + elapsed.seconds) + Decimal(elapsed.microseconds) / Decimal(1_000_000)
    assert exact > Decimal("83.25")
    assert Decimal(str(ended["duration_seconds"])) == exact
    [message] = call_messages(database, conversation, since)
    assert Decimal(str(message["duration_seconds"])) == exact
    assert message["media"] == "video" and message["end_reason"] == "completed" and message["call_id"] == call["id"]
    assert message["body"].startswith("Video call (0:01:2")
    # Calls show in the inbox preview.
    inbox = api.rpc("get_inbox", {}, token=bob.token)
    row = next(item for item in inbox if item["conversation_id"] == conversation)
    assert row["last_message_kind"] == "call" and row["last_message_preview"] == message["body"]
    # Ending again is refused; nothing else is posted.
    error = refusal(lambda: call_rpc(api, "end_call", alice, call))
    assert (error.status, error.details) == (409, "call_ended")
    assert len(call_messages(database, conversation, since)) == 1
    assert call_rpc(api, "get_call", alice, call)["duration_seconds"] == ended["duration_seconds"]


def start_at_once(database: TestDatabase, conversation: str, *users: TestUser) -> list[dict[str, Any]]:
    """start_call by every user at the same moment, each on its own connection (threads behind a barrier)."""
    barrier = threading.Barrier(len(users))
    results: list[Any] = [None] * len(users)

    def call_as(index: int, user: TestUser) -> None:
        try:
            with Api(database.api_url, database.jwt_secret) as own:
                barrier.wait()
                results[index] = start(own, user, conversation)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=call_as, args=pair) for pair in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    errors = [result for result in results if not isinstance(result, dict)]
    assert not errors, errors
    return results


def test_glare_both_sides_calling_at_once_gives_one_call_that_both_are_in(api, database, people, organization):
    carol, dave = people["carol"], people["dave"]
    conversation = direct(api, organization, carol, dave)
    for _round in range(5):
        end_everything(database)
        from_carol, from_dave = start_at_once(database, conversation, carol, dave)
        assert from_carol["id"] == from_dave["id"]
        [(live,)] = as_owner(database, "select count(*) from call_sessions where conversation_id = %s "
                             "and state <> 'ended'", (conversation,))  # fmt: skip
        assert live == 1
        final = call_rpc(api, "get_call", carol, from_carol)
        assert final["state"] == "active"
        assert set(states(final).values()) == {"joined"}


def test_a_callee_in_another_call_is_busy_and_the_call_ends_at_once(api, database, people, organization):
    since = newest_message(database)
    alice, carol, dave = people["alice"], people["carol"], people["dave"]
    busy_line = direct(api, organization, carol, dave)
    first = start(api, carol, busy_line)
    call_rpc(api, "accept_call", dave, first)
    conversation = direct(api, organization, alice, dave)
    call = start(api, alice, conversation)
    assert call["state"] == "ended" and call["end_reason"] == "busy"
    assert states(call)[str(dave.id)] == "busy"
    [message] = call_messages(database, conversation, since)
    assert message["end_reason"] == "busy"
    # Dave's call goes on.
    assert call_rpc(api, "get_call", dave, first)["state"] == "active"


def test_an_unanswered_call_becomes_missed_through_the_ring_timeout_job_once(api, database, people, organization):
    since = newest_message(database)
    alice, bob = people["alice"], people["bob"]
    conversation = direct(api, organization, alice, bob)
    call = start(api, alice, conversation)
    [(deadline,)] = as_owner(database, "select ring_deadline from call_sessions where id = %s", (call["id"],))
    expire = "select parley_internal.expire_ringing_calls(%s)"
    assert as_owner(database, expire, (deadline - timedelta(seconds=1),)) == [(0,)]
    assert call_rpc(api, "get_call", bob, call)["state"] == "ringing"
    assert as_owner(database, expire, (deadline,)) == [(1,)]
    missed = call_rpc(api, "get_call", bob, call)
    assert (missed["state"], missed["end_reason"]) == ("ended", "missed")
    assert states(missed) == {str(alice.id): "left", str(bob.id): "missed"}
    assert as_owner(database, expire, (deadline + timedelta(minutes=5),)) == [(0,)]  # idempotent
    [message] = call_messages(database, conversation, since)
    assert message["end_reason"] == "missed" and message["body"] == "Missed audio call"
    # The missed call is unread for Bob, not for Alice who called.
    counts = {row["conversation_id"]: row["unread_count"] for row in api.rpc("get_inbox", {}, token=bob.token)}
    assert counts[conversation] >= 1
    # Accepting after the timeout is refused.
    error = refusal(lambda: call_rpc(api, "accept_call", bob, call))
    assert (error.status, error.details) == (409, "call_ended")


def test_the_worker_runs_the_ring_timeout_where_pg_cron_is_absent(api, database, people, organization):
    since = newest_message(database)
    alice, erin = people["alice"], people["erin"]
    conversation = direct(api, organization, alice, erin)
    call = start(api, alice, conversation)
    worker = CallWorker(database.url, interval=0.05)
    try:
        assert worker.run_once() == 0
        # The configured timeout passes (set-up moves the deadline; the worker uses the real clock).
        as_owner(database, "update call_sessions set ring_deadline = now() - interval '1 second' where id = %s",
                 (call["id"],))  # fmt: skip
        stop = threading.Event()
        runner = threading.Thread(target=worker.run, args=(stop,))
        runner.start()
        deadline = time.monotonic() + 10
        while call_rpc(api, "get_call", erin, call)["state"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        runner.join(10)
    finally:
        worker.close()
    assert call_rpc(api, "get_call", erin, call)["end_reason"] == "missed"
    assert len(call_messages(database, conversation, since)) == 1


def test_the_ring_timeout_comes_from_the_configuration(api, database, people, organization):
    alice, frank = people["alice"], people["frank"]
    api.rpc("set_call_settings", {"ring_timeout_seconds": 20}, token=database.token("service_role"))
    try:
        call = start(api, alice, direct(api, organization, alice, frank))
        [(timeout,)] = as_owner(database, "select extract(epoch from ring_deadline - started_at)::int "
                                "from call_sessions where id = %s", (call["id"],))  # fmt: skip
        assert timeout == 20
    finally:
        api.rpc("set_call_settings", {"ring_timeout_seconds": 45}, token=database.token("service_role"))


def test_blocks_either_way_and_privacy_settings_refuse_a_call(api, database, people, organization):
    since = newest_message(database)
    alice, bob = people["alice"], people["bob"]
    conversation = direct(api, organization, alice, bob)
    api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
    try:
        error = refusal(lambda: start(api, alice, conversation))
        assert (error.status, error.code, error.details) == (403, "42501", "blocked")
        error = refusal(lambda: start(api, bob, conversation))
        assert (error.status, error.details) == (403, "privacy")  # the blocked party is not told
    finally:
        api.rpc("unblock_user", {"user_id": str(bob.id)}, token=alice.token)
    # A call that started before a block cannot be accepted once blocked.
    call = start(api, alice, conversation)
    api.rpc("block_user", {"user_id": str(alice.id)}, token=bob.token)
    try:
        error = refusal(lambda: call_rpc(api, "accept_call", bob, call))
        assert error.details == "blocked"
    finally:
        api.rpc("unblock_user", {"user_id": str(alice.id)}, token=bob.token)
    end_everything(database)
    for setting, reason in (("nobody", "privacy"), ("connections", "not_connected")):
        as_owner(database, "update privacy_settings set who_can_call = %s where user_id = %s", (setting, bob.id))
        try:
            error = refusal(lambda: start(api, alice, conversation))
            assert (error.status, error.details) == (403, reason)
            assert api.rpc("can_call", {"recipient_id": str(bob.id)}, token=alice.token)["reason"] == reason
        finally:
            as_owner(database, "update privacy_settings set who_can_call = 'everyone' where user_id = %s", (bob.id,))
    assert call_messages(database, conversation, since) == []


def test_a_guest_without_chat_initiate_call_is_refused_but_can_answer(api, database, people, organization):
    alice, guest = people["alice"], people["guest"]
    conversation = direct(api, organization, alice, guest)
    error = refusal(lambda: start(api, guest, conversation))
    assert (error.status, error.details) == (403, "no_permission")
    call = start(api, alice, conversation)
    assert call_rpc(api, "accept_call", guest, call)["state"] == "active"


def test_without_the_chat_calls_feature_every_call_rpc_answers_402(api, database, people):
    owner, alice, bob = people["owner"], people["alice"], people["bob"]
    lite = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = direct(api, lite, alice, bob)
    call = start(api, alice, conversation)
    as_owner(database, "update organizations set plan_id = 'chat_lite' where id = %s", (lite,))
    try:
        for attempt in (
            lambda: start(api, alice, conversation),
            lambda: call_rpc(api, "accept_call", bob, call),
            lambda: call_rpc(api, "decline_call", bob, call),
            lambda: call_rpc(api, "end_call", alice, call),
        ):
            error = refusal(attempt)
            assert (error.status, error.code, error.details) == (402, "PT402", "feature_disabled")
    finally:
        as_owner(database, "update organizations set plan_id = 'chat' where id = %s", (lite,))


def test_group_calls_ring_members_who_join_decline_and_leave(api, database, people, organization):
    since = newest_message(database)
    owner, alice, bob, carol, dave = (people[name] for name in ("owner", "alice", "bob", "carol", "dave"))
    conversation = group(database, organization, owner, alice, bob, carol, dave)
    api.rpc("block_user", {"user_id": str(dave.id)}, token=owner.token)
    try:
        call = start(api, owner, conversation, "video")
        assert states(call) == {
            str(owner.id): "joined",
            str(alice.id): "ringing",
            str(bob.id): "ringing",
            str(carol.id): "ringing",
        }  # fmt: skip  (dave: blocked, not rung)
        error = refusal(lambda: call_rpc(api, "join_call", dave, call))
        assert error.details == "privacy"
    finally:
        api.rpc("unblock_user", {"user_id": str(dave.id)}, token=owner.token)
    assert call_rpc(api, "accept_call", alice, call)["state"] == "active"
    assert states(call_rpc(api, "decline_call", bob, call))[str(bob.id)] == "declined"
    muted = call_rpc(api, "update_call_media", alice, call, muted=True, camera_on=False)
    mine = next(p for p in muted["participants"] if p["user_id"] == str(alice.id))
    assert (mine["muted"], mine["camera_on"]) == (True, False)
    joined = call_rpc(api, "join_call", dave, call)  # unblocked now: anyone in the group may join
    assert states(joined)[str(dave.id)] == "joined"
    error = refusal(lambda: call_rpc(api, "end_call", alice, call))
    assert (error.status, error.details) == (403, "not_call_host")
    for user in (owner, alice):
        assert call_rpc(api, "leave_call", user, call)["state"] == "active"
    last = call_rpc(api, "leave_call", dave, call)
    assert (last["state"], last["end_reason"]) == ("ended", "completed")
    assert states(last)[str(carol.id)] == "missed"
    assert [m["end_reason"] for m in call_messages(database, conversation, since)] == ["completed"]


def test_hanging_up_before_an_answer_cancels_and_declining_declines(api, database, people, organization):
    since = newest_message(database)
    alice, bob = people["alice"], people["bob"]
    conversation = direct(api, organization, alice, bob)
    cancelled = call_rpc(api, "end_call", alice, start(api, alice, conversation))
    assert cancelled["end_reason"] == "cancelled" and states(cancelled)[str(bob.id)] == "missed"
    declined = call_rpc(api, "decline_call", bob, start(api, alice, conversation))
    assert declined["end_reason"] == "declined"
    failed = start(api, alice, conversation)
    call_rpc(api, "accept_call", bob, failed)
    assert call_rpc(api, "end_call", alice, failed, reason="failed")["end_reason"] == "failed"
    assert [m["end_reason"] for m in call_messages(database, conversation, since)] == [
        "cancelled",
        "declined",
        "failed",
    ]
    error = refusal(lambda: call_rpc(api, "end_call", alice, start(api, alice, conversation), reason="nope"))
    assert (error.status, error.details) == (400, "invalid_end_reason")


def test_outsiders_cannot_see_or_touch_a_call(api, database, people, organization):
    alice, bob, outsider, carol = people["alice"], people["bob"], people["outsider"], people["carol"]
    conversation = direct(api, organization, alice, bob)
    call = start(api, alice, conversation)
    for user in (outsider, carol):
        for name in ("get_call", "accept_call", "join_call", "leave_call", "decline_call"):
            error = refusal(lambda name=name, user=user: call_rpc(api, name, user, call))
            assert (error.status, error.details) == (404, "call_not_found")
        assert api.query("select * from call_sessions where id = %s", (call["id"],), token=user.token) == []
        assert api.query("select * from call_participants where call_id = %s", (call["id"],), token=user.token) == []
    assert len(api.query("select * from call_participants where call_id = %s", (call["id"],), token=bob.token)) == 2
    error = refusal(lambda: api.query("update call_sessions set state = 'ended' where id = %s", (call["id"],),
                                      token=alice.token, method="PATCH"))  # fmt: skip
    assert error.code == "42501"


def test_call_history_pages_newest_first_by_history_id(api, database, people, organization):
    alice, bob = people["alice"], people["bob"]
    conversation = direct(api, organization, alice, bob)
    made = [call_rpc(api, "end_call", alice, start(api, alice, conversation))["id"] for _ in range(5)]
    first = api.rpc("get_call_history", {"conversation_id": conversation, "page_size": 3}, token=bob.token)
    second = api.rpc("get_call_history", {"conversation_id": conversation, "page_size": 3,
                                          "before_history_id": first[-1]["history_id"]}, token=bob.token)  # fmt: skip
    ids = [row["id"] for row in first + second]
    assert ids[:5] == list(reversed(made))
    mine = api.rpc("get_call_history", {"page_size": 100}, token=alice.token)
    assert set(made) <= {row["id"] for row in mine}
    error = refusal(lambda: api.rpc("get_call_history", {"page_size": 0}, token=alice.token))
    assert error.details == "invalid_page_size"


def test_ice_servers_carry_coturn_rest_credentials_from_a_secret_no_api_role_reads(api, database, people):
    alice = people["alice"]
    secret = "s3cret-shared-with-coturn"
    api.rpc("set_call_settings", {"stun_urls": ["stun:stun.example.com:3478"],
                                  "turn_urls": ["turn:turn.example.com:3478?transport=udp"],
                                  "turn_secret": secret, "turn_ttl_seconds": 3600},
            token=database.token("service_role"))  # fmt: skip
    before = int(time.time())
    servers = api.rpc("get_ice_servers", {}, token=alice.token)
    stun, turn = servers["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    expiry, user_id = turn["username"].split(":")
    assert user_id == str(alice.id) and before + 3600 - 5 <= int(expiry) <= int(time.time()) + 3600
    expected = base64.b64encode(hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected and servers["ttl_seconds"] == 3600
    # Nobody reads the secret through the API, nor sets it but service_role.
    for token in (alice.token, database.token("anon")):
        error = refusal(lambda token=token: api.query("select turn_secret from parley_internal.call_settings",
                                                      token=token))  # fmt: skip
        assert error.code == "42501"
    error = refusal(lambda: api.rpc("set_call_settings", {"turn_secret": "x" * 20}, token=alice.token))
    assert error.code == "42501"
    error = refusal(lambda: api.rpc("set_call_settings", {"turn_urls": ["http://nope"]},
                                    token=database.token("service_role")))  # fmt: skip
    assert error.details == "invalid_ice_url"


@pytest.mark.realtime_capture("table", "wal")
def test_two_official_clients_exchange_offer_answer_and_candidates_on_the_call_topic(
    api, database, realtime_service, people, organization
):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    conversation = direct(api, organization, alice, bob)

    async def scenario() -> None:
        bob_inbox = await subscribe(realtime_service.url, bob.token, f"user:{bob.id}")
        alice_inbox = await subscribe(realtime_service.url, alice.token, f"user:{alice.id}")
        assert bob_inbox.state is SUBSCRIBED and alice_inbox.state is SUBSCRIBED
        call = start(api, alice, conversation, "video")
        await until(lambda: bob_inbox.payloads("call_ringing"), what="call_ringing on the callee's user topic")
        assert bob_inbox.payloads("call_ringing")[0]["call"]["id"] == call["id"]
        topic = f"call:{call['id']}"
        caller = await subscribe(realtime_service.url, alice.token, topic)
        callee = await subscribe(realtime_service.url, bob.token, topic)
        outsider = await subscribe(realtime_service.url, carol.token, topic)
        try:
            assert caller.state is SUBSCRIBED and callee.state is SUBSCRIBED
            assert outsider.state is CHANNEL_ERROR  # not a participant: refused by RLS on realtime.messages
            call_rpc(api, "accept_call", bob, call)
            await until(lambda: alice_inbox.payloads("call_accepted"), what="call_accepted for the caller")
            assert alice_inbox.payloads("call_accepted")[0]["call"]["state"] == "active"
            call_rpc(api, "update_call_media", bob, call, muted=True)
            updates = alice_inbox.payloads
            await until(lambda: any(p["participant"]["muted"] for p in updates("call_participant_updated")),
                        what="call_participant_updated (muted)")  # fmt: skip
            joined = [p["participant"] for p in alice_inbox.payloads("call_participant_updated")]
            assert joined[0] == {**joined[0], "user_id": str(bob.id), "state": "joined"}
            await caller.channel.send_broadcast("offer", {"sdp": "v=0 offer", "type": "offer"})
            await until(lambda: callee.payloads("offer"), what="offer")
            await callee.channel.send_broadcast("answer", {"sdp": "v=0 answer", "type": "answer"})
            for index in range(3):
                await caller.channel.send_broadcast("ice_candidate", {"candidate": f"candidate:{index}"})
                await callee.channel.send_broadcast("ice_candidate", {"candidate": f"candidate:b{index}"})
            await until(lambda: len(callee.payloads("ice_candidate")) == 3 and caller.payloads("answer")
                        and len(caller.payloads("ice_candidate")) == 3, what="candidates")  # fmt: skip
            assert callee.payloads("offer")[0]["sdp"] == "v=0 offer"
            assert caller.payloads("answer")[0]["type"] == "answer"
            assert [p["candidate"] for p in callee.payloads("ice_candidate")] == [
                "candidate:0", "candidate:1", "candidate:2"]  # fmt: skip
            assert outsider.received == []
            call_rpc(api, "end_call", bob, call)
            await until(lambda: alice_inbox.payloads("call_ended"), what="call_ended")
            assert alice_inbox.payloads("call_ended")[0]["call"]["end_reason"] == "completed"
            # Nothing of the signaling was stored.
            [(stored,)] = as_owner(database, "select count(*) from realtime.messages where topic = %s", (topic,))
            assert stored == 0
            # After the call, the topic refuses even its participants.
            late = await subscribe(realtime_service.url, bob.token, topic)
            assert late.state is CHANNEL_ERROR
            await late.close()
        finally:
            for subscriber in (caller, callee, outsider, bob_inbox, alice_inbox):
                await subscriber.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_answering_a_second_call_leaves_the_first_and_a_group_nobody_answers_ends_declined(
    api, database, people, organization
):
    since = newest_message(database)
    alice, bob, carol, owner, dave = (people[name] for name in ("alice", "bob", "carol", "owner", "dave"))
    first = start(api, alice, direct(api, organization, alice, bob))
    call_rpc(api, "accept_call", bob, first)
    # Alice is joined in a direct call: a group call records her as busy (not rung) and rings the others.
    conversation = group(database, organization, owner, alice, carol, dave)
    ringing = start(api, owner, conversation)
    assert states(ringing)[str(alice.id)] == "busy" and states(ringing)[str(carol.id)] == "ringing"
    # Bob is not in the group: he cannot join its call (404, as for a missing call).
    error = refusal(lambda: call_rpc(api, "join_call", bob, ringing))
    assert error.details == "call_not_found"
    # Alice switches: joining the group call leaves (and so ends) her direct call with Bob.
    call_rpc(api, "join_call", alice, ringing)
    ended = call_rpc(api, "get_call", bob, first)
    assert (ended["state"], ended["end_reason"]) == ("ended", "completed")
    assert call_rpc(api, "get_call", alice, ringing)["state"] == "active"
    call_rpc(api, "end_call", owner, ringing)
    # A group call that every invitee declines ends as declined.
    again = start(api, owner, conversation)
    for user in (alice, carol):
        assert call_rpc(api, "decline_call", user, again)["state"] == "ringing"
    last = call_rpc(api, "decline_call", dave, again)
    assert (last["state"], last["end_reason"]) == ("ended", "declined")
    reasons = [m["end_reason"] for m in call_messages(database, conversation, since)]
    assert reasons == ["completed", "declined"]
