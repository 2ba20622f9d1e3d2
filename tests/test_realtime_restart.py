"""Resume with zero lost events across a killed service and a PostgreSQL restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from parley import migrate, stack
from parley.cluster import EmbeddedCluster, free_port
from parley.realtime import RealtimeConfig, ServiceThread
from parley.realtime.stream import ChangeStream
from realtime_js_support import JsClient
from realtime_support import add_member, install_scratch_policies, send_from_database, subscribe, until

REALTIME_CAPTURE = ("table", "wal")
"""The tests on the module's database run in both capture modes (tests/conftest.py): the same event contract."""


def start_process(database_url: str, secret: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "realtime", "--port", str(port), "--database-url", database_url],
        env={**os.environ, "PARLEY_JWT_SECRET": secret}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def test_killed_service_restarts_on_its_slot_and_a_resuming_client_loses_nothing(database):
    install_scratch_policies(database.url)
    user = database.create_user("resumer")
    add_member(database.url, "room:resume", user.id)
    port = free_port()
    url = f"ws://127.0.0.1:{port}/realtime/v1"
    process = start_process(database.url, database.jwt_secret, port)

    async def scenario():
        nonlocal process
        subscriber = await subscribe(url, user.token, "room:resume", replay={}, auto_reconnect=True,
                                     max_retries=30, initial_backoff=0.1)  # fmt: skip
        replay = subscriber.channel.params["config"]["broadcast"]["replay"]

        def remember(payload):  # what an app does: keep the last id in the rejoin payload
            replay["after"] = payload["meta"]["id"]

        subscriber.channel.on_broadcast("*", remember)
        await send_from_database(database.url, "room:resume", [("m", {"n": n}) for n in range(10)])
        await until(lambda: len(subscriber.received) == 10, what="first 10")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        # Committed while the service is dead: still in the slot.
        await send_from_database(database.url, "room:resume", [("m", {"n": n}) for n in range(10, 20)])
        process = start_process(database.url, database.jwt_secret, port)
        await until(lambda: len(subscriber.received) >= 20, timeout=30, what="events after the restart")
        await send_from_database(database.url, "room:resume", [("m", {"n": n}) for n in range(20, 25)])
        await until(lambda: len(subscriber.received) >= 25, what="live events after the restart")
        assert subscriber.payloads() == [{"n": n} for n in range(25)]
        ids = [item["meta"]["id"] for item in subscriber.received]
        assert ids == sorted(set(ids))
        await subscriber.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    finally:
        process.terminate()
        process.wait(10)
        asyncio.run(ChangeStream(database.url).drop_slots())


@pytest.fixture
def dedicated_cluster():
    folder = Path(tempfile.mkdtemp(prefix="parley-realtime-pg-"))
    folder.chmod(0o755)
    cluster = EmbeddedCluster(folder, throwaway=True)
    cluster.start()
    url = cluster.url("postgres")
    migrate.migrate(url)
    stack.prepare_authenticator(url, cluster.secrets.authenticator_password)
    yield cluster
    cluster.destroy()


def test_delivery_resumes_without_loss_after_postgresql_restarts(dedicated_cluster):
    cluster = dedicated_cluster
    url = cluster.url("postgres")
    install_scratch_policies(url)
    import uuid

    import psycopg

    from parley import tokens

    user_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("insert into auth.users (id, aud, role, email) values (%s, 'authenticated', "
                           "'authenticated', 'pg@test.parley')", (user_id,))  # fmt: skip
    add_member(url, "room:pg", user_id)
    token = tokens.mint(cluster.secrets.jwt_secret, user_id=user_id, email="pg@test.parley")
    service = ServiceThread(RealtimeConfig(url, cluster.secrets.jwt_secret, port=0, poll_interval=0.02,
                                           retention_interval=0)).start()  # fmt: skip

    js = JsClient(service.url, token)  # supabase-js on protocol 2.0.0, next to the Python client on 1.0.0

    def js_numbers():
        return [item["payload"]["n"] for item in js.broadcasts("room")]

    async def scenario():
        subscriber = await subscribe(service.url, token, "room:pg")
        js.subscribe("room", "room:pg")
        await send_from_database(url, "room:pg", [("m", {"n": n}) for n in range(10)])
        await until(lambda: len(subscriber.received) == 10 and len(js_numbers()) == 10, what="before the restart")
        await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(cluster.start)
        await send_from_database(url, "room:pg", [("m", {"n": n}) for n in range(10, 20)])
        await until(lambda: len(subscriber.received) >= 20 and len(js_numbers()) >= 20, timeout=30,
                    what="after the restart")  # fmt: skip
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        assert subscriber.payloads() == [{"n": n} for n in range(20)]
        assert js_numbers() == list(range(20))
        await subscriber.close()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    finally:
        js.close()
        service.stop(drop_slots=True)
