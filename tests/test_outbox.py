"""The outbox and ``parley worker webhooks`` (issue 18), on loopback against a local HTTP receiver.

Events come from the WAL (transactional logical messages, no row), in commit order; the worker posts them
signed, retries with backoff, dead-letters, and survives crashes at both dangerous points (after queueing but
before advancing its slot; after the receiver accepted but before marking the delivery) with every event
delivered at least once under one idempotency key.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from identity_support import as_owner, organization_with
from messaging_support import GENEROUS_LIMITS, group, send, set_limits
from parley.cluster import free_port
from parley.db import Api
from parley.workers.webhooks import WebhookSettings, WebhookWorker, serve_metrics, verify_signature
from parley_dev.testing import TestDatabase

SECRET = "whsec-test"


class Receiver:
    """A loopback HTTP receiver: records what it accepts, fails on demand (status or down)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_next = 0
        self.fail_ratio = 0.0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self._counter = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests += 1
                    receiver._counter += 1
                    fail = receiver.fail_next > 0 or (
                        receiver.fail_ratio and (receiver._counter * 7919) % 100 < receiver.fail_ratio * 100
                    )
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                    if not fail:
                        receiver.accepted.append({"headers": dict(self.headers), "body": body,
                                                  "event": json.loads(body)})  # fmt: skip
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [a["event"] for a in self.accepted if kind is None or a["event"]["type"] == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def make_worker(database: TestDatabase) -> Iterator[Any]:
    made: list[WebhookWorker] = []

    def make(url: str, **settings: Any) -> WebhookWorker:
        worker = WebhookWorker(WebhookSettings(database.url, url, SECRET, **{"backoff": 0.05, **settings}))
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()
    # Each test starts from an empty queue and a fresh slot.
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                           "where slot_name = 'parley_outbox' and database = current_database()")  # fmt: skip
        connection.execute("delete from parley_internal.webhook_deliveries")


@pytest.fixture(scope="module")
def world(api: Api, database: TestDatabase) -> dict[str, Any]:
    people = {name: database.create_user(f"ob_{name}") for name in ("owner", "alice", "bob")}
    organization = organization_with(api, database, people["owner"], member=people["alice"], member2=people["bob"])
    set_limits(database, organization, **GENEROUS_LIMITS)
    room = group(database, organization, people["owner"], people["alice"], people["bob"])
    return {"people": people, "organization": organization, "room": room}


def wait_for_outbox(database: TestDatabase, count: int, timeout: float = 20.0, slot: str = "parley_outbox") -> None:
    """Wait until the worker's slot can decode ``count`` outbox messages (decoding through SQL reads only
    flushed WAL, and the test cluster commits with synchronous_commit off)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database.url, autocommit=True) as connection:
        while True:
            [(seen,)] = connection.execute(
                "select count(*) from pg_logical_slot_peek_changes(%s, null, null, "
                "'format-version', '2', 'filter-tables', '*.*', 'add-msg-prefixes', 'parley.outbox') "
                'where data like \'%%"action":"M"%%\'',
                (slot,),
            ).fetchall()
            if seen >= count:
                return
            assert time.monotonic() < deadline, f"only {seen} of {count} outbox messages decodable"
            time.sleep(0.05)


def drain(worker: WebhookWorker, until: Any, timeout: float = 20.0) -> None:
    """Run passes until ``until()`` is true."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        worker.run_once()
        time.sleep(0.02)


def test_events_arrive_in_commit_order_signed_with_an_idempotency_key(
    api: Api, database: TestDatabase, world, receiver, make_worker
):
    worker = make_worker(receiver.url)  # the slot exists from here on
    alice, bob, owner = world["people"]["alice"], world["people"]["bob"], world["people"]["owner"]
    first = send(api, alice, world["room"], "hello @bob", mentioned_user_ids=[str(bob.id)])
    api.rpc("edit_message", {"message_id": first["id"], "body": "hello @bob!"}, token=alice.token)
    second = send(api, bob, world["room"], "hi")
    api.rpc("report_message", {"message_id": second["id"], "reason": "spam"}, token=alice.token)
    api.rpc("delete_message", {"message_id": second["id"]}, token=bob.token)
    call = api.rpc("start_call", {"conversation_id": world["room"], "media": "video"}, token=owner.token)
    # A rolled-back transaction emits nothing.
    with psycopg.connect(database.url) as connection:
        connection.execute("insert into messages (conversation_id, sender_kind, sender_id, body) "
                           "values (%s, 'user', %s, 'never committed')", (world["room"], alice.id))  # fmt: skip
        connection.rollback()
    drain(worker, lambda: len(receiver.events()) >= 8)
    events = receiver.events()
    assert [e["type"] for e in events] == ["message.created", "message.mentioned", "message.edited",
                                           "message.created", "message_report.created", "message.deleted",
                                           "call.ringing", "call.ringing"]  # fmt: skip
    # A started call rings each other member, once, while it rings: who to wake, and which call.
    rung = events[6:]
    assert sorted(e["data"]["user_id"] for e in rung) == sorted([str(alice.id), str(bob.id)])
    assert {e["data"]["call"]["id"] for e in rung} == {call["id"]}
    assert all(e["data"]["call"]["media"] == "video" and e["conversation_id"] == world["room"] for e in rung)
    assert events[0]["data"]["message"]["body"] == "hello @bob" and events[1]["data"]["user_id"] == str(bob.id)
    assert all(e["organization_id"] == world["organization"] for e in events)
    assert "never committed" not in json.dumps(events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for accepted in receiver.accepted:
        headers = accepted["headers"]
        assert headers["Idempotency-Key"] == headers["X-Parley-Event-Id"] == accepted["event"]["id"]
        assert verify_signature(SECRET, headers["X-Parley-Signature"], accepted["body"])
        assert not verify_signature("wrong", headers["X-Parley-Signature"], accepted["body"])


def test_a_failing_receiver_gets_retries_with_backoff_then_everything(api: Api, world, receiver, make_worker):
    worker = make_worker(receiver.url)
    receiver.fail_next = 3
    sent = [send(api, world["people"]["alice"], world["room"], f"retry {n}")["id"] for n in range(5)]
    drain(worker, lambda: len(receiver.events("message.created")) >= 5)
    # A retried event arrives after later ones that went through (receivers order by the event id).
    assert sorted(e["data"]["message"]["id"] for e in receiver.events("message.created")) == sent
    assert receiver.requests == 5 + 3
    assert worker.metrics()["failed_attempts_total"] == 3


def test_a_receiver_that_is_down_then_recovers_loses_nothing(api: Api, database: TestDatabase, world, make_worker):
    receiver = Receiver()  # not started: connections are refused
    worker = make_worker(receiver.url)
    sent = [send(api, world["people"]["bob"], world["room"], f"down {n}")["id"] for n in range(3)]
    wait_for_outbox(database, len(sent))
    for _ in range(3):
        worker.run_once()
    assert worker.metrics()["queue"]["pending"] == 3
    assert "ConnectionRefusedError" in (worker.counters.last_error or "") or "URLError" in (
        worker.counters.last_error or ""
    )
    receiver.start()
    try:
        drain(worker, lambda: len(receiver.events("message.created")) >= 3)
    finally:
        receiver.stop()
    assert [e["data"]["message"]["id"] for e in receiver.events("message.created")] == sent


class CrashBeforeAdvance(WebhookWorker):
    """Dies after committing the queue rows and before advancing its slot."""

    def take(self) -> int:
        original = self._connection.execute

        def execute(query: Any, *args: Any, **kwargs: Any) -> Any:
            if "pg_replication_slot_advance" in str(query):
                raise RuntimeError("crash before the slot advanced")
            return original(query, *args, **kwargs)

        self._connection.execute = execute  # type: ignore[method-assign]
        try:
            return super().take()
        finally:
            self._connection.execute = original  # type: ignore[method-assign]


class CrashAfterPost(WebhookWorker):
    """Dies once right after the receiver accepted a delivery, before it is marked delivered."""

    crashed = False

    def _post(self, event_id_: str, event_type: str, body: bytes) -> tuple[int | None, str | None]:
        result = super()._post(event_id_, event_type, body)
        if not CrashAfterPost.crashed:
            CrashAfterPost.crashed = True
            raise RuntimeError("crash after the receiver accepted")
        return result


def test_crashes_at_either_point_lose_nothing_and_repeat_only_under_the_same_key(
    api: Api, database: TestDatabase, world, receiver, make_worker
):
    make_worker(receiver.url)  # creates the slot before the sends
    sent = [send(api, world["people"]["alice"], world["room"], f"crash {n}")["id"] for n in range(4)]
    wait_for_outbox(database, len(sent))
    crashing = CrashBeforeAdvance(WebhookSettings(database.url, receiver.url, SECRET, backoff=0.05))
    try:
        with pytest.raises(RuntimeError):
            crashing.take()
    finally:
        crashing.close()
    # The events are queued and the slot still holds them: the next worker re-reads, queues nothing twice.
    [(queued,)] = as_owner(database, "select count(*) from parley_internal.webhook_deliveries")
    assert queued == 4
    after_post = CrashAfterPost(WebhookSettings(database.url, receiver.url, SECRET, backoff=0.05))
    try:
        assert after_post.take() == 4
        [(queued,)] = as_owner(database, "select count(*) from parley_internal.webhook_deliveries")
        assert queued == 4
        with pytest.raises(RuntimeError):
            after_post.deliver()
        drain(after_post, lambda: as_owner(database, "select count(*) from parley_internal.webhook_deliveries "
                                                     "where status <> 'delivered'")[0][0] == 0)  # fmt: skip
    finally:
        after_post.close()
    delivered = [e["data"]["message"]["id"] for e in receiver.events("message.created")]
    assert sorted(set(delivered)) == sent, "every event arrived"
    assert len(delivered) == len(sent) + 1, "the one accepted before the crash arrived twice"
    keys = [a["headers"]["Idempotency-Key"] for a in receiver.accepted]
    assert len(set(keys)) == len(sent), "...under the same idempotency key"


def test_dead_letters_and_requeue_and_metrics(api: Api, database: TestDatabase, world, receiver, make_worker):
    worker = make_worker(receiver.url, max_attempts=2)
    receiver.fail_next = 1000
    send(api, world["people"]["alice"], world["room"], "doomed")
    drain(worker, lambda: worker.metrics()["queue"]["dead"] == 1)
    [(status, attempts, error)] = as_owner(database, "select status, attempts, last_error "
                                                     "from parley_internal.webhook_deliveries")  # fmt: skip
    assert (status, attempts, error) == ("dead", 2, "HTTP 500")
    server = serve_metrics(worker, free_port())
    try:
        import urllib.request

        text = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics").read().decode()
    finally:
        server.shutdown()
    assert 'parley_webhooks_queue{state="dead"} 1' in text and "parley_webhooks_dead_total 1" in text
    receiver.fail_next = 0
    [(requeued,)] = as_owner(database, "select parley_internal.requeue_dead_webhooks()")
    assert requeued == 1
    drain(worker, lambda: len(receiver.events()) == 1)
    assert receiver.events()[0]["data"]["message"]["body"] == "doomed"


def test_no_event_is_lost_under_concurrent_senders_and_a_flaky_receiver(api: Api, world, receiver, make_worker):
    worker = make_worker(receiver.url)
    receiver.fail_ratio = 0.3
    people = [world["people"][name] for name in ("alice", "bob", "owner")]
    sent: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    running.start()

    def sender(user: Any) -> None:
        for n in range(30):
            message = send(api, user, world["room"], f"load {n}")
            with lock:
                sent.append(message["id"])

    threads = [threading.Thread(target=sender, args=(user,)) for user in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 60
    while {e["data"]["message"]["id"] for e in receiver.events("message.created")} != set(sent):
        assert time.monotonic() < deadline, "not every message was delivered"
        time.sleep(0.1)
    stop.set()
    running.join(timeout=10)
    assert len(sent) == 90


def test_push_recipients_are_the_offline_members_who_want_it(api: Api, database: TestDatabase, world):
    alice, bob, owner = world["people"]["alice"], world["people"]["bob"], world["people"]["owner"]
    message = send(api, alice, world["room"], "ping")
    online = (
        "insert into presence (user_id, status, last_seen_at) values (%s, 'online', now()) "
        "on conflict (user_id) do update set status = 'online', last_seen_at = now()"
    )
    as_owner(database, online, (bob.id,))
    as_owner(database, "delete from presence where user_id = %s", (owner.id,))
    rows = as_owner(database, "select user_id from parley_internal.push_recipients(%s)", (message["id"],))
    assert [row[0] for row in rows] == [owner.id], "bob is online; alice sent it"
    as_owner(database, "update inbox_entries set muted_until = 'infinity' where user_id = %s and conversation_id = %s",
             (owner.id, world["room"]))  # fmt: skip
    assert as_owner(database, "select user_id from parley_internal.push_recipients(%s)", (message["id"],)) == []


def test_the_cli_runs_one_pass(api: Api, database: TestDatabase, world, receiver):
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "parley.cli", "worker", "webhooks", "--once", "--url", receiver.url,
             "--secret", SECRET, "--slot", "parley_outbox_cli", "--database-url", database.url],
            capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert json.loads(completed.stdout.strip().splitlines()[-1]) == {"taken": 0, "attempted": 0}
        send(api, world["people"]["bob"], world["room"], "via the cli")
        wait_for_outbox(database, 1, slot="parley_outbox_cli")
        completed = subprocess.run(
            [sys.executable, "-m", "parley.cli", "worker", "webhooks", "--once", "--url", receiver.url,
             "--secret", SECRET, "--slot", "parley_outbox_cli", "--database-url", database.url],
            capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert json.loads(completed.stdout.strip().splitlines()[-1])["attempted"] >= 1
        assert [e["data"]["message"]["body"] for e in receiver.events("message.created")] == ["via the cli"]
    finally:
        with psycopg.connect(database.url, autocommit=True) as connection:
            connection.execute("select pg_drop_replication_slot('parley_outbox_cli')")
            connection.execute("delete from parley_internal.webhook_deliveries")
