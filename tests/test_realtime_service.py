"""parley realtime against the official ``realtime`` client: joins, delivery, presence, tokens, backpressure."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
import urllib.parse
import urllib.request

import psycopg
import pytest
import websockets
from realtime import RealtimeSubscribeStates

from parley import tokens
from realtime_support import (
    add_member,
    install_scratch_policies,
    send_from_database,
    subscribe,
    until,
)

REALTIME_CAPTURE = ("table", "wal")
"""The tests on the module's database run in both capture modes (tests/conftest.py): the same event contract."""

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR


@pytest.fixture(scope="module")
def people(database):
    install_scratch_policies(database.url)
    created = {name: database.create_user(name) for name in ("alice", "bob", "carol", "mallory", "reader")}
    for name in ("alice", "bob", "carol"):
        add_member(database.url, "room:main", created[name].id)
    add_member(database.url, "room:main", created["reader"].id, can_send=False)
    return created


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_member_joins_a_private_topic_and_a_stranger_is_refused(database, realtime_service, people):
    async def scenario():
        alice = await subscribe(realtime_service.url, people["alice"].token, "room:main")
        mallory = await subscribe(realtime_service.url, people["mallory"].token, "room:main")
        assert alice.state is SUBSCRIBED
        assert mallory.state is CHANNEL_ERROR
        assert "Unauthorized" in str(mallory.states[-1][1])
        await alice.close()
        await mallory.close()

    run(scenario())


def test_database_broadcasts_arrive_in_commit_order_with_payloads_and_increasing_ids(
    database, realtime_service, people
):
    async def scenario():
        bob = await subscribe(realtime_service.url, people["bob"].token, "room:main")
        await send_from_database(database.url, "room:main", [("message_created", {"n": n}) for n in range(20)])
        await send_from_database(
            database.url, "room:main", [("message_created", {"n": n}) for n in range(20, 25)], one_transaction=True
        )
        await until(lambda: len(bob.received) >= 25, what="25 broadcasts")
        assert [item["payload"] for item in bob.received] == [{"n": n} for n in range(25)]
        assert {item["event"] for item in bob.received} == {"message_created"}
        ids = [item["meta"]["id"] for item in bob.received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        await bob.close()

    run(scenario())


def test_a_stranger_never_receives_a_private_topics_events(database, realtime_service, people):
    async def scenario():
        carol = await subscribe(realtime_service.url, people["carol"].token, "room:main")
        # The stranger tries both doors: the private channel (refused) and a public channel of the same name.
        refused = await subscribe(realtime_service.url, people["mallory"].token, "room:main")
        public = await subscribe(realtime_service.url, people["mallory"].token, "room:main", private=False)
        assert refused.state is CHANNEL_ERROR and public.state is SUBSCRIBED
        await send_from_database(database.url, "room:main", [("message_created", {"secret": True})])
        await until(lambda: len(carol.received) >= 1, what="the member's copy")
        await asyncio.sleep(0.3)
        assert refused.received == [] and public.received == []
        for subscriber in (carol, refused, public):
            await subscriber.close()

    run(scenario())


def test_typing_is_relayed_to_other_subscribers_and_never_stored(database, realtime_service, people):
    async def scenario():
        alice = await subscribe(realtime_service.url, people["alice"].token, "room:main")
        bob = await subscribe(realtime_service.url, people["bob"].token, "room:main")
        carol_self = await subscribe(realtime_service.url, people["carol"].token, "room:main", self_broadcast=True)
        await alice.channel.send_broadcast("typing", {"user": "alice"})
        await carol_self.channel.send_broadcast("typing", {"user": "carol"})
        await until(lambda: len(bob.payloads("typing")) >= 2, what="typing at bob")
        await until(
            lambda: carol_self.payloads("typing") == [{"user": "alice"}, {"user": "carol"}],
            what="carol's own typing (self: true)",
        )
        await until(lambda: alice.payloads("typing") == [{"user": "carol"}], what="carol's typing at alice")
        assert {"user": "alice"} not in alice.payloads("typing"), "self: false must not echo"
        with psycopg.connect(database.url) as connection:
            stored = connection.execute("select count(*) from realtime.messages where event = 'typing'").fetchone()
        assert stored == (0,)
        for subscriber in (alice, bob, carol_self):
            await subscriber.close()

    run(scenario())


def test_client_broadcast_needs_the_send_check_on_a_private_topic(database, realtime_service, people):
    async def scenario():
        reader = await subscribe(realtime_service.url, people["reader"].token, "room:main", ack=True)
        alice = await subscribe(realtime_service.url, people["alice"].token, "room:main")
        assert reader.state is SUBSCRIBED  # may receive...
        outcome: list[str] = []
        push = await reader.channel.push("broadcast", {"type": "broadcast", "event": "typing", "payload": {}})
        push.receive("ok", lambda _: outcome.append("ok")).receive("error", lambda r: outcome.append(str(r)))
        await until(lambda: bool(outcome), what="the broadcast reply")
        assert "Unauthorized" in outcome[0]  # ...but not send
        await send_from_database(database.url, "room:main", [("message_created", {"after": "typing"})])
        await until(lambda: len(alice.received) >= 1, what="a later database event")
        assert alice.payloads("typing") == []
        await reader.close()
        await alice.close()

    run(scenario())


def test_presence_joins_and_leaves_reach_other_subscribers(database, realtime_service, people):
    async def scenario():
        bob = await subscribe(realtime_service.url, people["bob"].token, "room:main", presence=True, presence_key="bob")
        alice = await subscribe(
            realtime_service.url, people["alice"].token, "room:main", presence=True, presence_key="alice"
        )
        await alice.channel.track({"status": "online"})
        await until(lambda: "alice" in bob.channel.presence_state(), what="alice's presence at bob")
        assert bob.channel.presence_state()["alice"][0]["status"] == "online"
        await bob.channel.track({"status": "away"})
        await until(lambda: "bob" in alice.channel.presence_state(), what="bob's presence at alice")
        await alice.channel.untrack()
        await until(lambda: "alice" not in bob.channel.presence_state(), what="alice's untrack")
        await alice.channel.track({"status": "back"})
        await until(lambda: "alice" in bob.channel.presence_state(), what="alice tracked again")
        await alice.close()  # disconnecting leaves too
        await until(lambda: "alice" not in bob.channel.presence_state(), what="alice's disconnect")
        late = await subscribe(realtime_service.url, people["carol"].token, "room:main", presence=True)
        await until(lambda: "bob" in late.channel.presence_state(), what="presence_state for a late joiner")
        await bob.close()
        await late.close()

    run(scenario())


def test_an_expired_token_closes_the_channel_and_stops_delivery(database, realtime_service, people):
    user = people["carol"]
    short = tokens.mint(database.jwt_secret, user_id=user.id, email=user.email, expires_in=2)

    async def scenario():
        control = await subscribe(realtime_service.url, people["bob"].token, "room:main")
        expiring = await subscribe(realtime_service.url, short, "room:main")
        assert expiring.state is SUBSCRIBED
        await send_from_database(database.url, "room:main", [("message_created", {"n": "before"})])
        await until(lambda: len(expiring.received) == 1, what="delivery before expiry")
        await until(lambda: expiring.state is RealtimeSubscribeStates.CLOSED, timeout=10, what="the channel closing")
        errors = [str(error) for state, error in expiring.states if state is CHANNEL_ERROR]
        assert any("Token has expired" in error for error in errors), expiring.states
        await send_from_database(database.url, "room:main", [("message_created", {"n": "after"})])
        await until(lambda: {"n": "after"} in control.payloads(), what="the control subscriber's copy")
        await asyncio.sleep(0.3)
        assert expiring.payloads() == [{"n": "before"}]
        await control.close()
        await expiring.close()

    run(scenario())


def test_a_refreshed_access_token_is_verified_and_reauthorized(database, realtime_service, people):
    async def scenario():
        alice = await subscribe(realtime_service.url, people["alice"].token, "room:main")
        fresh = tokens.mint(database.jwt_secret, user_id=people["alice"].id, email=people["alice"].email)
        await alice.client.set_auth(fresh)
        await send_from_database(database.url, "room:main", [("message_created", {"n": 1})])
        await until(lambda: len(alice.received) == 1, what="delivery after a valid refresh")
        await alice.client.set_auth(people["mallory"].token)  # valid JWT, but not a member
        await until(lambda: alice.state is RealtimeSubscribeStates.CLOSED, what="close after a denied refresh")
        assert any("Unauthorized" in str(error) for _, error in alice.states if error)
        await alice.close()

    run(scenario())


def test_rejoining_with_the_last_seen_id_replays_everything_since_in_order(database, realtime_service, people):
    async def scenario():
        first = await subscribe(realtime_service.url, people["bob"].token, "room:main")
        await send_from_database(database.url, "room:main", [("message_created", {"n": n}) for n in range(3)])
        await until(lambda: len(first.received) == 3, what="first batch")
        last_id = first.received[-1]["meta"]["id"]
        await first.close()
        await send_from_database(database.url, "room:main", [("message_created", {"n": n}) for n in range(3, 8)])
        await asyncio.sleep(0.5)  # let the service read them while nobody listens (not an assertion)
        again = await subscribe(realtime_service.url, people["bob"].token, "room:main", replay={"after": last_id})
        await send_from_database(database.url, "room:main", [("message_created", {"n": 8})])
        await until(lambda: len(again.received) >= 6, what="replay plus live")
        assert again.payloads() == [{"n": n} for n in range(3, 9)]
        assert [item["meta"].get("replayed", False) for item in again.received] == [True] * 5 + [False]
        await again.close()

    run(scenario())


def test_supabase_style_replay_since_reads_stored_rows(database, realtime_service, people):
    async def scenario():
        since = int(time.time() * 1000) - 1000
        await send_from_database(database.url, "room:since", [("message_created", {"k": k}) for k in "abc"])
        add_member(database.url, "room:since", people["alice"].id)
        alice = await subscribe(
            realtime_service.url, people["alice"].token, "room:since", replay={"since": since, "limit": 10}
        )
        await until(lambda: len(alice.received) >= 3, what="replayed rows")
        assert alice.payloads() == [{"k": "a"}, {"k": "b"}, {"k": "c"}]
        assert all(item["meta"]["replayed"] for item in alice.received)
        await alice.close()

    run(scenario())


def test_a_client_that_does_not_read_is_disconnected_and_does_not_stall_others(database, realtime_service, people):
    base = realtime_service.url.replace("/realtime/v1", "")
    ws_url = f"{realtime_service.url}/websocket?apikey={people['carol'].token}&vsn=1.0.0"
    blob = "x" * 60000

    async def scenario():
        reader = await subscribe(realtime_service.url, people["bob"].token, "room:main")
        stalled = stalled_client(ws_url, {
            "topic": "realtime:room:main", "event": "phx_join", "ref": "1", "join_ref": "1",
            "payload": {"config": {"private": True, "broadcast": {}, "presence": {}}},
        })  # fmt: skip
        try:
            await until(lambda: health(base)["clients"] >= 2, what="both clients connected")
            # Paced so that the reading client never holds more than 20 (its bound is 50); the stalled one piles up.
            for start in range(0, 400, 20):
                await send_from_database(
                    database.url, "room:main", [("bulk", {"i": i, "blob": blob}) for i in range(start, start + 20)]
                )
                await until(lambda n=start + 20: len(reader.payloads("bulk")) == n, what="the reader keeping up")
                if health(base)["backpressure_disconnects"]:
                    break
            assert health(base)["backpressure_disconnects"] == 1
            assert [p["i"] for p in reader.payloads("bulk")] == list(range(len(reader.payloads("bulk"))))
            assert reader.state is SUBSCRIBED
        finally:
            stalled.close()
        await reader.close()

    run(scenario())


def stalled_client(ws_url: str, join: dict) -> socket.socket:
    """A WebSocket client that joins and then never reads (tiny receive buffer)."""
    parts = urllib.parse.urlsplit(ws_url)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    body = json.dumps(join).encode()
    mask = os.urandom(4)
    length = bytes([0x80 | len(body)]) if len(body) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(body))
    raw.sendall(bytes([0x81]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
    return raw


def health(base_ws: str) -> dict:
    with urllib.request.urlopen(base_ws.replace("ws://", "http://") + "/health", timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


def test_health_reports_slot_position_lag_and_clients(database, realtime_service):
    report = health(realtime_service.url.replace("/realtime/v1", ""))
    assert report["status"] == "ok"
    assert report["slot"] == "parley_realtime"
    assert "/" in report["last_lsn"] and isinstance(report["clients"], int)
    assert "slot_lag_bytes" in report


def test_heartbeat_is_answered_and_bad_apikeys_or_paths_are_refused(database, realtime_service, people):
    url = f"{realtime_service.url}/websocket"

    async def scenario():
        async with websockets.connect(f"{url}?apikey={people['alice'].token}&vsn=1.0.0") as socket:
            await socket.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "7"}))
            answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert answer["event"] == "phx_reply" and answer["ref"] == "7"
            assert answer["payload"] == {"status": "ok", "response": {}}
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await websockets.connect(f"{url}?apikey=not-a-jwt&vsn=1.0.0")
        assert refused.value.response.status_code == 403
        with pytest.raises(websockets.exceptions.InvalidStatus) as missing:
            await websockets.connect(url.replace("/realtime/v1/websocket", "/elsewhere"))
        assert missing.value.response.status_code == 404

    run(scenario())


def test_purge_realtime_messages_deletes_only_old_rows_and_only_for_service_role(database, realtime_service):
    """realtime.messages is partitioned by day (as on Supabase): old rows go with their partitions."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(
            "insert into realtime.messages (topic, extension, event, payload, inserted_at) values "
            "('room:old', 'broadcast', 'x', '{}', now() - interval '2 days'), "
            "('room:new', 'broadcast', 'x', '{}', now())"
        )
        with connection.transaction():
            connection.execute("set local role service_role")
            [removed] = connection.execute("select parley_internal.purge_realtime_messages('1 day')").fetchone()
        assert removed == 1
        [old_partition] = connection.execute(
            "select to_regclass('realtime.messages_' || to_char((now() at time zone 'utc')::date - 2, 'YYYY_MM_DD'))"
        ).fetchone()
        assert old_partition is None, "a partition wholly past the retention window is dropped"
        assert connection.execute("select count(*) from realtime.messages where topic = 'room:new'").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), connection.transaction():
            connection.execute("set local role authenticated")
            connection.execute("select parley_internal.purge_realtime_messages()")
    assert realtime_service.call(realtime_service.service.purge()) == 0


def test_ensure_realtime_partitions_creates_the_coming_days_as_supabase_realtime_names_them(database):
    """No default partition (as on Supabase): a row for a day without a partition is refused until one exists."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        far = connection.execute("select (now() at time zone 'utc')::date + 20").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation):
            connection.execute(
                "insert into realtime.messages (topic, extension, event, payload, inserted_at) "
                "values ('room:far', 'broadcast', 'x', '{}', %s::timestamp + interval '1 hour')",
                (far,),
            )
        with connection.transaction():
            connection.execute("set local role service_role")
            created = connection.execute("select parley_internal.ensure_realtime_partitions(25)").fetchone()[0]
            again = connection.execute("select parley_internal.ensure_realtime_partitions(25)").fetchone()[0]
        assert created >= 13 and again == 0
        connection.execute(
            "insert into realtime.messages (topic, extension, event, payload, inserted_at) "
            "values ('room:far', 'broadcast', 'x', '{}', %s::timestamp + interval '1 hour')",
            (far,),
        )
        [partition] = connection.execute(
            "select tableoid::regclass::text from realtime.messages where topic = 'room:far'"
        ).fetchone()
        assert partition == f"realtime.messages_{far:%Y_%m_%d}"
