"""parley realtime against the official JavaScript client (@supabase/supabase-js 2.109.0 under node, tests/js).

supabase-js speaks Phoenix protocol 2.0.0 by default (array frames; client
broadcasts as binary frames): join, database broadcast, client broadcast
(also to a Python client on 1.0.0), presence, the ``accessToken`` callback and
token refresh, refusal of outsiders, and 1.0.0 when asked for.
"""

from __future__ import annotations

import asyncio

import pytest

from parley import tokens
from realtime_js_support import JsClient
from realtime_support import add_member, install_scratch_policies, send_from_database, subscribe, until

REALTIME_CAPTURE = ("table", "wal")
"""The tests on the module's database run in both capture modes (tests/conftest.py): the same event contract."""

TOPIC = "room:js"


@pytest.fixture(scope="module")
def people(database):
    install_scratch_policies(database.url)
    created = {name: database.create_user(name) for name in ("alice", "bob", "carol", "mallory")}
    for name in ("alice", "bob", "carol"):
        add_member(database.url, TOPIC, created[name].id)
    return created


@pytest.fixture
def clients():
    started: list[JsClient] = []
    yield started
    for client in started:
        client.close()


def js(clients, realtime_service, token, **options) -> JsClient:
    client = JsClient(realtime_service.url, token, **options)
    clients.append(client)
    return client


def send(database, messages, topic=TOPIC):
    asyncio.run(send_from_database(database.url, topic, messages))


def test_supabase_js_joins_over_protocol_2_and_receives_database_broadcasts_in_order(
    database, realtime_service, people, clients
):
    alice = js(clients, realtime_service, people["alice"].token)
    assert alice.vsn == "2.0.0"  # the client's default: what failed before (TIMED_OUT)
    alice.subscribe("room", f"{TOPIC}")
    send(database, [("message_created", {"n": n}) for n in range(5)])
    received = alice.wait(lambda: len(alice.broadcasts("room")) >= 5 and alice.broadcasts("room"), what="5 events")
    # realtime.send adds the realtime.messages row id to the payload, as Supabase's does (docs/realtime.md).
    assert [{k: v for k, v in item["payload"].items() if k != "id"} for item in received] == [
        {"n": n} for n in range(5)
    ]
    assert all(item["payload"].get("id") for item in received)
    ids = [item["meta"]["id"] for item in received]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_client_broadcasts_reach_js_clients_as_binary_and_python_clients_as_json(
    database, realtime_service, people, clients
):
    alice = js(clients, realtime_service, people["alice"].token)
    bob = js(clients, realtime_service, people["bob"].token)
    alice.subscribe("room", TOPIC, broadcast_self=True, ack=True)
    bob.subscribe("room", TOPIC)

    async def with_python_listener():
        carol = await subscribe(realtime_service.url, people["carol"].token, TOPIC)  # vsn 1.0.0
        alice.command(op="send", name="room", event="typing", payload={"user": "alice", "typing": True})
        await until(lambda: carol.received, what="the Python client's copy")
        await carol.close()
        return carol.received

    carol_received = asyncio.run(with_python_listener())
    bob.wait(lambda: bob.broadcasts("room", "typing"), what="bob's copy")
    alice.wait(lambda: alice.of("reply", "room", op="send"), what="ack")
    assert bob.broadcasts("room", "typing")[0]["payload"] == {"user": "alice", "typing": True}
    assert alice.of("reply", "room", op="send")[0]["result"] == "ok"
    assert alice.broadcasts("room", "typing")[0]["payload"] == {"user": "alice", "typing": True}  # self: true
    assert carol_received[0]["event"] == "typing" and carol_received[0]["payload"] == {"user": "alice", "typing": True}


def test_presence_track_reaches_other_js_clients(database, realtime_service, people, clients):
    alice = js(clients, realtime_service, people["alice"].token)
    bob = js(clients, realtime_service, people["bob"].token)
    alice.subscribe("room", TOPIC, presenceKey="")
    bob.subscribe("room", TOPIC, presenceKey="")
    alice.command(op="track", name="room", payload={"status": "online"})
    alice.wait(lambda: alice.of("reply", "room", op="track"), what="track reply")
    assert alice.of("reply", "room", op="track")[0]["result"] == "ok"
    seen = bob.wait(lambda: [e for e in bob.of("presence", "room", event="sync") if e["state"]], what="bob's sync")
    state = seen[-1]["state"]
    # On room: topics the client's key is kept; the meta carries what alice tracked.
    assert any(meta.get("status") == "online" for metas in state.values() for meta in metas)
    alice.command(op="untrack", name="room")
    bob.wait(lambda: bob.of("presence", "room", event="leave"), what="bob sees the leave")


def test_an_outsider_is_refused_with_a_reason(database, realtime_service, people, clients):
    mallory = js(clients, realtime_service, people["mallory"].token)
    mallory.command(op="subscribe", name="room", topic=TOPIC)
    statuses = mallory.wait(lambda: mallory.of("status", "room"), what="refusal")
    assert statuses[0]["status"] == "CHANNEL_ERROR"
    assert "Unauthorized" in (statuses[0]["error"] or "")
    send(database, [("message_created", {"secret": True})])
    member = js(clients, realtime_service, people["alice"].token)
    member.subscribe("room", TOPIC)
    send(database, [("message_created", {"after": True})])
    member.wait(lambda: member.broadcasts("room"), what="a member's delivery")
    assert mallory.broadcasts("room") == []


def test_access_token_callback_subscribes_at_once_and_refresh_is_reauthorized(
    database, realtime_service, people, clients
):
    anon = tokens.mint(database.jwt_secret, role="anon")
    alice = js(clients, realtime_service, people["alice"].token, anon_key=anon, access_token=True)
    alice.subscribe("room", TOPIC)  # first status SUBSCRIBED: no CHANNEL_ERROR before the token is set
    fresh = tokens.mint(database.jwt_secret, user_id=people["alice"].id, email=people["alice"].email)
    alice.command(op="token", token=fresh)
    alice.wait(lambda: alice.of("reply", op="token"), what="token set")
    send(database, [("message_created", {"refreshed": True})])
    alice.wait(lambda: alice.broadcasts("room"), what="delivery after a valid refresh")
    alice.command(op="token", token=people["mallory"].token)  # valid JWT, not a member: the channel is closed
    alice.wait(lambda: [s for s in alice.statuses("room") if s in ("CHANNEL_ERROR", "CLOSED")], what="close")
    assert alice.statuses("room")[0] == "SUBSCRIBED"


def test_protocol_1_still_works_for_js_clients_that_ask_for_it(database, realtime_service, people, clients):
    bob = js(clients, realtime_service, people["bob"].token, vsn="1.0.0")
    carol = js(clients, realtime_service, people["carol"].token, vsn="1.0.0")
    assert bob.vsn == "1.0.0"
    bob.subscribe("room", TOPIC)
    carol.subscribe("room", TOPIC)
    send(database, [("message_created", {"v": 1})])
    bob.wait(lambda: bob.broadcasts("room"), what="database broadcast on 1.0.0")
    carol.command(op="send", name="room", event="typing", payload={"v": 1})
    bob.wait(lambda: bob.broadcasts("room", "typing"), what="client broadcast on 1.0.0")
