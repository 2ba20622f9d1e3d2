"""Gap-free resume with the official clients' defaults: no replay bookkeeping in the test clients.

Both official clients (Python ``realtime`` on protocol 1.0.0, supabase-js on
2.0.0) subscribe with plain join parameters, a writer commits a numbered
stream of events, and in the middle the service is killed (SIGKILL) and
restarted, or the connections are dropped (no close frame). Each client must
end with every event exactly once, in order: the service remembers where
each user's channel stopped and replays from there on the automatic rejoin
(docs/realtime.md, "Resume").
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

from parley.cluster import free_port
from parley.realtime.stream import ChangeStream
from realtime_js_support import JsClient
from realtime_support import add_member, install_scratch_policies, subscribe, until

REALTIME_CAPTURE = ("table", "wal")
"""The tests on the module's database run in both capture modes (tests/conftest.py): the same event contract."""

EVENTS = 600


def start_process(database_url: str, secret: str, port: int, journal: Path) -> subprocess.Popen:
    log = (journal.parent / "service.log").open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "realtime", "--port", str(port), "--database-url", database_url,
         "--resume-journal", str(journal)],
        env={**os.environ, "PARLEY_JWT_SECRET": secret}, stdout=log, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("parley realtime did not come up")


async def write_stream(url: str, topic: str, count: int, per_second: float) -> None:
    """Commit ``count`` numbered events at about ``per_second``, one transaction each."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        for n in range(count):
            await connection.execute(
                "select parley_internal.broadcast(jsonb_build_object('n', %s::int), 'm', %s, true)", (n, topic)
            )
            await asyncio.sleep(1 / per_second)


def numbers_python(subscriber) -> list[int]:
    return [item["payload"]["n"] for item in subscriber.received]


def numbers_js(client: JsClient) -> list[int]:
    return [item["payload"]["n"] for item in client.broadcasts("room")]


IN_FLIGHT = 8
"""At most this many events may come twice after a kill -9: frames the client's kernel had received but not
acknowledged when the service died (docs/realtime.md, "The last instant before a kill"). 100 events/s: 80 ms."""


def assert_every_event_once_in_order_but_what_was_in_flight(numbers: list[int]) -> None:
    """No loss and no reordering; at most IN_FLIGHT repeats (of events already delivered before the kill),
    which a client drops by keeping events whose number is greater than the last it kept."""
    kept: list[int] = []
    for number in numbers:
        if not kept or number > kept[-1]:
            kept.append(number)
    assert kept == list(range(EVENTS)), "lost or reordered events"
    repeats = len(numbers) - len(kept)
    assert repeats <= IN_FLIGHT, f"{repeats} events came twice: more than the frames in flight at the kill"


async def wait_all(subscriber, client: JsClient, what: str) -> None:
    await until(lambda: len(numbers_python(subscriber)) >= EVENTS and len(numbers_js(client)) >= EVENTS,
                timeout=60, what=what)  # fmt: skip
    await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now


def test_a_killed_service_loses_nothing_and_repeats_only_frames_in_flight_for_either_official_client(
    database, tmp_path
):
    install_scratch_policies(database.url)
    topic = "room:killed"
    alice, bob = database.create_user("kill-alice"), database.create_user("kill-bob")
    add_member(database.url, topic, alice.id)
    add_member(database.url, topic, bob.id)
    port = free_port()
    url = f"ws://127.0.0.1:{port}/realtime/v1"
    journal = tmp_path / "resume.journal"
    process = start_process(database.url, database.jwt_secret, port, journal)
    js = JsClient(url, bob.token)

    async def scenario():
        nonlocal process
        python = await subscribe(url, alice.token, topic, auto_reconnect=True, max_retries=60, initial_backoff=0.1)
        js.subscribe("room", topic)
        writer = asyncio.create_task(write_stream(database.url, topic, EVENTS, 100))
        await until(lambda: len(numbers_python(python)) >= 150 and len(numbers_js(js)) >= 150, what="first events")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await asyncio.sleep(1.5)  # events keep being committed while the service is dead
        process = start_process(database.url, database.jwt_secret, port, journal)
        await writer
        await wait_all(python, js, "every event after the restart")
        assert_every_event_once_in_order_but_what_was_in_flight(numbers_python(python))
        assert_every_event_once_in_order_but_what_was_in_flight(numbers_js(js))
        assert js.statuses("room").count("SUBSCRIBED") >= 2  # it did rejoin by itself
        await python.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 150))
    finally:
        js.close()
        process.terminate()
        process.wait(10)
        asyncio.run(ChangeStream(database.url).drop_slots())


def test_dropped_connections_lose_and_repeat_nothing_for_either_official_client(database, realtime_service):
    install_scratch_policies(database.url)
    topic = "room:dropped"
    alice, bob = database.create_user("drop-alice"), database.create_user("drop-bob")
    add_member(database.url, topic, alice.id)
    add_member(database.url, topic, bob.id)
    url = realtime_service.url
    js = JsClient(url, bob.token)

    async def abort_python_connection(user_id: str) -> int:
        """A network drop as the server sees it: the TCP connection is reset, no close frame either way."""
        sessions = [session for session in realtime_service.service.hub.sessions
                    if any(channel.user_id == user_id for channel in session.channels.values())]  # fmt: skip
        for session in sessions:
            session.abort()
        return len(sessions)

    async def scenario():
        python = await subscribe(url, alice.token, topic, auto_reconnect=True, max_retries=60, initial_backoff=0.1)
        js.subscribe("room", topic)
        writer = asyncio.create_task(write_stream(database.url, topic, EVENTS, 100))
        await until(lambda: len(numbers_python(python)) >= 150 and len(numbers_js(js)) >= 150, what="first events")
        js.command(op="drop")  # client side: the socket is destroyed under supabase-js
        aborted = realtime_service.call(abort_python_connection(str(alice.id)))
        assert aborted == 1
        await until(lambda: len(numbers_python(python)) >= 350 and len(numbers_js(js)) >= 350, what="more events")
        js.command(op="drop")
        realtime_service.call(abort_python_connection(str(alice.id)))
        await writer
        await wait_all(python, js, "every event after the drops")
        assert numbers_python(python) == list(range(EVENTS))
        assert numbers_js(js) == list(range(EVENTS))
        assert js.statuses("room").count("SUBSCRIBED") >= 3
        await python.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 150))
    finally:
        js.close()
