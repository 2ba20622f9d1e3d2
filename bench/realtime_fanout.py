"""Realtime fan-out benchmark: commit-to-client latency and delivered events/s through ``parley realtime``.

What it measures (docs/realtime.md, "Measured"):

1. ``plain_insert_per_s``: the most message rows per second ``writers``
   connections insert into a copy of ``public.messages`` that has the same
   columns, defaults, indexes and foreign key but no triggers (no realtime).
2. ``realtime_insert_per_s``: the same, into ``public.messages`` itself, so
   the realtime trigger broadcasts each message (``capture``: a
   ``realtime.messages`` row in ``table`` mode, a WAL message and no row in
   ``wal`` mode; docs/realtime.md, "Capture modes"), while the service
   decodes the WAL (no subscribers); ``realtime_over_plain`` is 2 / 1: what
   broadcasting from the database costs a writer.
3. ``send_message_per_s``: the same through the real ``send_message`` RPC
   (validation, rate limit, idempotency, and the trigger), when installed;
   ``send_message_over_plain`` is 3 / 1.
4. The paced run: ``subscribers`` WebSocket clients join the private topic
   ``conversation:{id}`` of one group whose members they are, and messages
   are sent at ``rate`` per second for ``seconds``. For every message and
   every client: latency = time the client read the ``message_created`` frame
   minus the time the writer's COMMIT returned (both ``time.time()`` on this
   machine, loopback). Reports p50/p90/p99/max, delivered events/s and loss
   (received / sent, per client).

Paced send path (``send_path``): ``rpc`` = ``public.send_message``, as each
member with ``role authenticated`` + JWT claims like the API, pipelined in
one round trip; ``insert`` = ``insert into public.messages`` as the owner
(the realtime trigger fires the same way); ``auto`` (default) = ``rpc`` when
it is installed. The result says which.

Clients: a lean asyncio client on raw sockets speaking the same protocol
(WebSocket handshake, Phoenix vsn 1.0.0 join with ``access_token`` and
``private: true``, heartbeat), which finds message ids by scanning the byte
stream instead of decoding frames and JSON; all subscribers in one process
of their own, so that neither a client library nor the service's process
limits the measurement. The service runs in its own
process too (unless ``service_url`` points at a running one for the same
database). On a 2-core machine all of them, the writers and PostgreSQL share
the CPUs: the numbers are a floor.

Usage::

    python -m bench.realtime_fanout --database-url URL [--jwt-secret S] [--rate 1000] [--seconds 10]
        [--subscribers 100] [--service-url ws://127.0.0.1:4000/realtime/v1] [--capture wal|table] [--json]

``--capture`` sets ``parley.realtime_capture`` on the database for the run
(``alter database``, restored afterwards); without it the database's own
setting applies. The result reports the mode and ``realtime_rows_per_send``
(realtime.messages rows the paced run wrote per message: 0 in ``wal`` mode).

The database must be migrated; the benchmark creates its users, organization
and group, and deletes them afterwards. ``realtime.messages`` rows it causes
are left to the retention job.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import statistics
import struct
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from parley import config, tokens
from parley.cluster import free_port
from parley.stack import set_realtime_capture

MESSAGE_ID_MARK = '"message": {"id": '
"""How a message_created frame carries the message id (jsonb orders short keys first; the service keeps the order)."""


@dataclass
class Fixture:
    """The benchmark's own users, organization and group."""

    tag: str
    organization_id: str
    conversation_id: str
    user_ids: list[str]

    @property
    def topic(self) -> str:
        return f"conversation:{self.conversation_id}"


# -- set-up and clean-up (as the database owner) -----------------------------------------------------


def create_fixture(database_url: str, members: int) -> Fixture:
    """Users, an organization on the default plan, and a group with every user in it."""
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(database_url, autocommit=True) as connection, connection.transaction():
        user_ids = [
            str(row[0])
            for row in connection.execute(
                "insert into auth.users (id, aud, role, email) "
                "select gen_random_uuid(), 'authenticated', 'authenticated', "
                "       'bench-' || %s || '-' || n || '@bench.parley' from generate_series(1, %s) as n returning id",
                (tag, members),
            ).fetchall()
        ]
        [(organization_id,)] = connection.execute(
            "insert into public.organizations (name, created_by) values (%s, %s) returning id::text",
            (f"Bench {tag}", user_ids[0]),
        ).fetchall()
        connection.execute(
            "insert into public.organization_members (organization_id, user_id, role) "
            "select %s, u, case when u = %s then 'owner' else 'member' end from unnest(%s::uuid[]) as u",
            (organization_id, user_ids[0], user_ids),
        )
        # Rate limits out of the way: the benchmark sends 1000/s from 100 members.
        connection.execute(
            "update public.organization_settings set send_rate_per_minute = 100000, send_burst = 10000 "
            "where organization_id = %s",
            (organization_id,),
        )
        [(conversation_id,)] = connection.execute(
            "insert into public.conversations (organization_id, kind, title, created_by) "
            "values (%s, 'group', 'Bench', %s) returning id::text",
            (organization_id, user_ids[0]),
        ).fetchall()
        connection.execute(
            "select parley_internal.add_conversation_member(%s, u, case when u = %s then 'owner' else 'member' end, "
            "null) from unnest(%s::uuid[]) as u",
            (conversation_id, user_ids[0], user_ids),
        )
    return Fixture(tag, organization_id, conversation_id, user_ids)


def drop_fixture(database_url: str, fixture: Fixture) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("delete from public.conversations where id = %s", (fixture.conversation_id,))
        connection.execute("delete from public.organizations where id = %s", (fixture.organization_id,))
        connection.execute("delete from auth.users where id = any(%s::uuid[])", (fixture.user_ids,))
        connection.execute("drop table if exists public.parley_bench_plain")


def has_send_message(database_url: str) -> bool:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "select exists (select 1 from pg_proc where proname = 'send_message' "
            "and pronamespace = 'public'::regnamespace)"
        ).fetchone()
    return bool(row and row[0])


# -- writers ------------------------------------------------------------------------------------------------


class Writer:
    """One connection that sends messages: the real RPC as a member, or a plain insert as the owner."""

    def __init__(self, database_url: str, fixture: Fixture, *, rpc: bool, table: str = "public.messages") -> None:
        self.connection = psycopg.connect(database_url, autocommit=True)
        self.fixture = fixture
        self.rpc = rpc
        self.table = table
        self.counter = 0

    def send(self) -> int:
        """Send one message; return its id once the commit has returned."""
        self.counter += 1
        sender = self.fixture.user_ids[self.counter % len(self.fixture.user_ids)]
        body = f"bench message {self.counter}"
        if self.rpc:
            # One round trip: the request's transaction (role + JWT claims, as the API sets them, then the RPC)
            # is pipelined.
            claims = json.dumps({"sub": sender, "role": "authenticated", "aud": "authenticated"})
            with self.connection.pipeline():
                self.connection.execute("begin")
                self.connection.execute(
                    "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                    (claims,),
                )
                cursor = self.connection.execute(
                    "select id from public.send_message(conversation_id => %s, body => %s)",
                    (self.fixture.conversation_id, body),
                )
                self.connection.execute("commit")
            row = cursor.fetchone()
        else:
            row = self.connection.execute(
                f"insert into {self.table} (conversation_id, sender_kind, sender_id, body) "
                "values (%s, 'user', %s, %s) returning id",
                (self.fixture.conversation_id, sender, body),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def close(self) -> None:
        self.connection.close()


def saturate(database_url: str, fixture: Fixture, *, writers: int, seconds: float, rpc: bool, table: str) -> float:
    """Messages per second that ``writers`` connections commit, sending as fast as they can."""
    pool = [Writer(database_url, fixture, rpc=rpc, table=table) for _ in range(writers)]
    counts = [0] * writers
    deadline = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < deadline:
            pool[index].send()
            counts[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for writer in pool:
        writer.close()
    return sum(counts) / elapsed


def paced(
    database_url: str, fixture: Fixture, *, writers: int, rate: float, seconds: float, rpc: bool
) -> dict[int, float]:
    """Send ``rate`` messages per second for ``seconds``; return message id → time.time() after its commit."""
    total = int(rate * seconds)
    pool = [Writer(database_url, fixture, rpc=rpc) for _ in range(writers)]
    acknowledged: list[dict[int, float]] = [{} for _ in range(writers)]
    start = time.time() + 0.2

    def work(index: int) -> None:
        for number in range(index, total, writers):
            delay = start + number / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            message_id = pool[index].send()
            acknowledged[index][message_id] = time.time()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in pool:
        writer.close()
    merged: dict[int, float] = {}
    for part in acknowledged:
        merged.update(part)
    return merged


def create_plain_table(database_url: str) -> None:
    """public.messages' shape (columns, defaults, identity, indexes, checks, conversation foreign key), no triggers."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("drop table if exists public.parley_bench_plain")
        connection.execute("create table public.parley_bench_plain (like public.messages including all)")
        connection.execute(
            "alter table public.parley_bench_plain add foreign key (conversation_id) "
            "references public.conversations (id) on delete cascade"
        )
        connection.execute("alter table public.parley_bench_plain enable row level security")


# -- the service and the clients (processes of their own) -------------------------------------------------


def _serve(database_url: str, jwt_secret: str, port: int, slot: str, max_queue: int) -> None:
    from parley.realtime import RealtimeConfig, serve_forever

    settings = RealtimeConfig(database_url, jwt_secret, port=port, slot=slot, max_queue=max_queue, retention_interval=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(settings))


def wait_healthy(health_url: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _masked_text_frame(text: str) -> bytes:
    """A client-to-server text frame (clients must mask)."""
    body = text.encode()
    mask = os.urandom(4)
    if len(body) < 126:
        header = bytes([0x81, 0x80 | len(body)])
    elif len(body) < 65536:
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(body))
    else:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", len(body))
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(body))


async def _client(url: str, token: str, topic: str, received: dict[int, float], ready: asyncio.Event) -> None:
    """One subscriber on a raw socket: handshake, join, then note when each message id first arrives.

    Server frames are unmasked and each carries one JSON message, so the
    client does not parse frames: it scans the byte stream for the message id
    of message_created payloads (the last bytes of each read are scanned
    again with the next one, so nothing split across reads is missed or cut).
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 22)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {parts.path}/websocket?apikey={token}&vsn=1.0.0 HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    join = {"config": {"private": True, "broadcast": {"self": False}, "presence": {"enabled": False}}}
    writer.write(
        _masked_text_frame(
            json.dumps(
                {
                    "topic": f"realtime:{topic}",
                    "event": "phx_join",
                    "payload": {**join, "access_token": token},
                    "ref": "1",
                    "join_ref": "1",
                }
            )
        )
    )
    first = await reader.read(65536)
    if b'"status": "ok"' not in first:
        raise RuntimeError(f"join refused: {first[:200]!r}")
    ready.set()
    mark = MESSAGE_ID_MARK.encode()
    keep = len(mark) + 24
    tail = b""
    last_heartbeat = time.monotonic()
    try:
        while True:
            chunk = await reader.read(1 << 20)
            now = time.time()
            if not chunk:
                return
            data = tail + chunk
            position = data.find(mark)
            while position >= 0:
                start = end = position + len(mark)
                while end < len(data) and 48 <= data[end] <= 57:
                    end += 1
                if end < len(data) and end > start:
                    received.setdefault(int(data[start:end]), now)
                position = data.find(mark, start)
            tail = data[-keep:]
            if time.monotonic() - last_heartbeat > 20:
                writer.write(
                    _masked_text_frame('{"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "hb"}')
                )
                last_heartbeat = time.monotonic()
    finally:
        writer.close()


def _clients(url: str, token_list: list[str], topic: str, pipe: Connection) -> None:
    """Client process: join every client, report ready; on ("drain", ids, seconds) wait for those ids, report."""

    async def main() -> list[dict[int, float]]:
        received: list[dict[int, float]] = [{} for _ in token_list]
        ready = [asyncio.Event() for _ in token_list]
        tasks = [
            asyncio.create_task(_client(url, token, topic, received[index], ready[index]))
            for index, token in enumerate(token_list)
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)
        pipe.send("ready")
        _, ids, seconds = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not all(all(i in times for i in ids) for times in received):
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return received

    pipe.send(asyncio.run(main()))


# -- the run ------------------------------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(
    database_url: str,
    jwt_secret: str,
    *,
    rate: float = 1000,
    seconds: float = 10,
    subscribers: int = 100,
    service_url: str | None = None,
    writers: int = 8,
    saturation_seconds: float = 3.0,
    max_queue: int = 1000,
    drain_seconds: float = 10.0,
    send_path: str = "auto",
    capture: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; return the measurements (see the module docstring)."""
    if send_path not in ("auto", "rpc", "insert"):
        raise ValueError("send_path is auto, rpc or insert")
    previous_capture = capture_mode(database_url)
    if capture is not None:
        set_realtime_capture(database_url, capture)  # new sessions (every connection below) follow it
    try:
        return _run(database_url, jwt_secret, rate=rate, seconds=seconds, subscribers=subscribers,
                    service_url=service_url, writers=writers, saturation_seconds=saturation_seconds,
                    max_queue=max_queue, drain_seconds=drain_seconds, send_path=send_path)  # fmt: skip
    finally:
        if capture is not None and capture != previous_capture:
            restore_capture(database_url, previous_capture)


def capture_mode(database_url: str) -> str | None:
    """The database's parley.realtime_capture as a new session sees it (None: unset, i.e. table)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        [(mode,)] = connection.execute("select current_setting('parley.realtime_capture', true)").fetchall()
    return mode or None


def restore_capture(database_url: str, mode: str | None) -> None:
    """Put the database's parley.realtime_capture back as it was before the run."""
    if mode is not None:
        set_realtime_capture(database_url, mode)
        return
    with psycopg.connect(database_url, autocommit=True) as connection:
        [(name,)] = connection.execute("select current_database()").fetchall()
        connection.execute(sql.SQL("alter database {} reset parley.realtime_capture").format(sql.Identifier(name)))


def realtime_rows(database_url: str, topic: str) -> int:
    """realtime.messages rows on ``topic``."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        [(count,)] = connection.execute("select count(*) from realtime.messages where topic = %s", (topic,)).fetchall()
    return int(count)


def _run(
    database_url: str,
    jwt_secret: str,
    *,
    rate: float,
    seconds: float,
    subscribers: int,
    service_url: str | None,
    writers: int,
    saturation_seconds: float,
    max_queue: int,
    drain_seconds: float,
    send_path: str,
) -> dict[str, Any]:
    capture = capture_mode(database_url) or "table"
    fixture = create_fixture(database_url, subscribers)
    installed = has_send_message(database_url)
    if send_path == "rpc" and not installed:
        raise RuntimeError("public.send_message is not installed")
    rpc = installed if send_path == "auto" else send_path == "rpc"
    context = multiprocessing.get_context("spawn")
    service: multiprocessing.process.BaseProcess | None = None
    slot = f"parley_bench_{fixture.tag}"
    try:
        create_plain_table(database_url)
        plain = saturate(
            database_url,
            fixture,
            writers=writers,
            seconds=saturation_seconds,
            rpc=False,
            table="public.parley_bench_plain",
        )

        if service_url is None:
            port = free_port()
            service = context.Process(
                target=_serve, args=(database_url, jwt_secret, port, slot, max_queue), daemon=True
            )
            service.start()
            service_url = f"ws://127.0.0.1:{port}/realtime/v1"
        health_url = service_url.replace("ws://", "http://").replace("/realtime/v1", "/health")
        wait_healthy(health_url)

        through_trigger = saturate(
            database_url, fixture, writers=writers, seconds=saturation_seconds, rpc=False, table="public.messages"
        )
        through_rpc = (
            saturate(
                database_url, fixture, writers=writers, seconds=saturation_seconds, rpc=True, table="public.messages"
            )
            if installed
            else None
        )
        # Let the service drain what the saturation wrote before the clients join.
        deadline = time.monotonic() + 60
        while (wait_healthy(health_url).get("slot_lag_bytes") or 0) > 64 * 1024 and time.monotonic() < deadline:
            time.sleep(0.2)

        token_list = [tokens.mint(jwt_secret, user_id=user_id, expires_in=3600) for user_id in fixture.user_ids]
        ours, theirs = context.Pipe()
        clients = context.Process(target=_clients, args=(service_url, token_list[:subscribers], fixture.topic, theirs))
        clients.start()
        if not ours.poll(90) or ours.recv() != "ready":
            raise RuntimeError("the clients did not join")
        before = wait_healthy(health_url)
        rows_before = realtime_rows(database_url, fixture.topic)
        sent_at = paced(database_url, fixture, writers=writers, rate=rate, seconds=seconds, rpc=rpc)
        rows_written = realtime_rows(database_url, fixture.topic) - rows_before
        send_window = (max(sent_at.values()) - min(sent_at.values())) if sent_at else 0.0
        # Every client waits for every sent id, or until the drain time is up (what is missing then is lost).
        ours.send(("drain", sorted(sent_at), drain_seconds))
        received: list[dict[int, float]] = ours.recv()
        after = wait_healthy(health_url)
        clients.join(30)
    finally:
        if service is not None:
            service.terminate()
            service.join(30)
        with contextlib.suppress(psycopg.Error), psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = any(%s)",
                ([slot, slot + "_history"],),
            )
        drop_fixture(database_url, fixture)

    latencies: list[float] = []
    per_client: list[float] = []
    last_receive = 0.0
    for times in received:
        got = 0
        for message_id, acknowledged in sent_at.items():
            seen = times.get(message_id)
            if seen is not None:
                got += 1
                latencies.append(seen - acknowledged)
                last_receive = max(last_receive, seen)
        per_client.append(got / len(sent_at) if sent_at else 0.0)
    latencies.sort()
    first_send = min(sent_at.values()) if sent_at else 0.0
    delivered = len(latencies)
    delivery_window = (last_receive - first_send) if delivered else float("nan")
    return {
        "send_path": "rpc: public.send_message as each member (role authenticated + JWT claims, one round trip)"
        if rpc
        else "insert: insert into public.messages as the owner (the realtime trigger fires as for send_message)",
        "capture": capture,
        "realtime_rows_per_send": round(rows_written / len(sent_at), 3) if sent_at else None,
        "client": "lean raw-socket WebSocket client (Phoenix vsn 1.0.0), one process for all subscribers",
        "subscribers": subscribers,
        "writers": writers,
        "rate_target_per_s": rate,
        "messages_sent": len(sent_at),
        "rate_achieved_per_s": round(len(sent_at) / send_window, 1) if send_window else None,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else None,
            "mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        },
        "deliveries": delivered,
        "deliveries_expected": len(sent_at) * subscribers,
        "delivered_events_per_s": round(delivered / delivery_window, 1) if delivered else 0.0,
        "loss": {
            "min_received_fraction": round(min(per_client), 6) if per_client else None,
            "mean_received_fraction": round(statistics.fmean(per_client), 6) if per_client else None,
            "lost_deliveries": len(sent_at) * subscribers - delivered,
        },
        "service": {
            "backpressure_disconnects": after.get("backpressure_disconnects", 0)
            - before.get("backpressure_disconnects", 0),
        },
        "plain_insert_per_s": round(plain, 1),
        "realtime_insert_per_s": round(through_trigger, 1),
        "realtime_over_plain": round(through_trigger / plain, 3) if plain else None,
        "send_message_per_s": round(through_rpc, 1) if through_rpc is not None else None,
        "send_message_over_plain": round(through_rpc / plain, 3) if through_rpc is not None and plain else None,
        "delivered_events_per_s_over_plain_insert_per_s": round(delivered / delivery_window / plain, 3)
        if delivered and plain
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime_fanout", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PARLEY_DATABASE_URL"),
        help="migrated database (owner); default: PARLEY_DATABASE_URL or the embedded cluster",
    )
    parser.add_argument("--jwt-secret", default=None, help="default: PARLEY_JWT_SECRET or the stack's secret")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--service-url", default=None, help="use a running service (same database)")
    parser.add_argument(
        "--send-path",
        choices=("auto", "rpc", "insert"),
        default="auto",
        help="paced run: send_message RPC, plain insert, or the RPC when installed",
    )
    parser.add_argument(
        "--capture",
        choices=config.REALTIME_CAPTURE_MODES,
        default=None,
        help="parley.realtime_capture for the run (restored after); default: the database's setting",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    arguments = parser.parse_args(argv)
    database_url = arguments.database_url
    if not database_url:
        from parley.cluster import EmbeddedCluster

        cluster = EmbeddedCluster(config.state_dir(), port=config.requested_port())
        cluster.start()
        database_url = cluster.url("postgres")
    secret = arguments.jwt_secret or config.load_or_create_secrets(config.state_dir()).jwt_secret
    result = run(
        database_url,
        secret,
        rate=arguments.rate,
        seconds=arguments.seconds,
        subscribers=arguments.subscribers,
        service_url=arguments.service_url,
        send_path=arguments.send_path,
        writers=arguments.writers,
        capture=arguments.capture,
    )
    if arguments.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
