"""Monitoring for operators (issue 5; seed 002 "monitoring"), through the request path.

Messages per minute, active conversations, the support backlog with its oldest
unanswered message, and refusals by reason, each readable by owners, admins and
holders of chat.audit_read of their own organization (and service_role). The
refusal counts come from the parley.refusal WAL messages that
parley_internal.refuse emits: this module decodes them with wal2json from a
logical slot of its own and feeds them to record_refusals, as the realtime
service does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from identity_support import as_definer, as_owner, organization_with, refusal
from parley.db import Api, ApiError
from parley_dev.testing import TestDatabase, TestUser

MONITORING_RPCS = {
    "get_messages_per_minute": {},
    "get_active_conversations": {"window_minutes": 60},
    "get_support_backlog": {},
    "get_refusal_counts": {},
    "get_monitoring_summary": {},
}
DECODING = ("format-version", "2", "include-lsn", "1", "include-transaction", "0",
            "add-msg-prefixes", "parley.refusal")  # fmt: skip


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "admin", "member", "auditor", "alice", "bob", "carol", "other_owner", "stranger")
    return {name: database.create_user(f"mo_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, people: dict[str, TestUser], database: TestDatabase) -> str:
    organization = organization_with(
        api, database, people["owner"], admin=people["admin"], member=people["member"], guest=people["auditor"],
        member2=people["alice"], member3=people["bob"], member4=people["carol"],
    )  # fmt: skip
    # The auditor is a guest holding only chat.view and chat.audit_read.
    api.rpc("set_role_permission", {"organization_id": organization, "role": "guest", "permission": "chat.audit_read",
                                    "granted": True}, token=people["owner"].token)  # fmt: skip
    return organization


@pytest.fixture(scope="module")
def other_organization(api: Api, people: dict[str, TestUser], database: TestDatabase) -> str:
    return organization_with(api, database, people["other_owner"])


@pytest.fixture(scope="module")
def traffic(api: Api, database: TestDatabase, people, organization, other_organization) -> dict[str, Any]:
    """Conversations and an hour of messages, written oldest first (messages are stored in send order).

    alice's support conversation waits since 40 minutes; bob's was answered by a persona; carol's is resolved;
    a group talks 50 and 10 minutes ago; the other organization's message must never be counted.
    """
    owner, admin = people["owner"], people["admin"]
    support = {
        name: api.rpc("get_or_create_support_conversation", {"organization_id": organization},
                      token=people[name].token)["id"]
        for name in ("alice", "bob", "carol")
    }  # fmt: skip
    api.rpc("set_support_status", {"conversation_id": support["carol"], "status": "resolved"}, token=admin.token)
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Monitoring tutors", "member_ids": [str(people["member"].id)]},
        token=owner.token,
    )["id"]
    elsewhere = api.rpc("create_group_conversation", {"organization_id": other_organization, "title": "Elsewhere"},
                        token=people["other_owner"].token)["id"]  # fmt: skip
    persona = api.rpc(
        "create_persona", {"organization_id": organization, "display_name": "Support Team"}, token=owner.token
    )["id"]
    user = "user"
    timeline = [  # (minutes ago, conversation, sender kind, sender or persona)
        (50, group, user, people["member"].id),
        (40, support["alice"], user, people["alice"].id),
        (35, support["bob"], user, people["bob"].id),
        (30, support["bob"], "persona", persona),
        (10, group, user, owner.id),
        (10, group, user, people["member"].id),
        (10, group, user, owner.id),
        (2, elsewhere, user, people["other_owner"].id),
        (1, support["alice"], user, people["alice"].id),
        (0.5, support["carol"], user, people["carol"].id),
    ]
    sent = []
    with psycopg.connect(database.url, autocommit=True) as connection:  # set-up as the owner
        # System messages the RPCs above posted (group created, members added) move two hours back, so that
        # the hour below holds exactly the timeline and messages stay in send order.
        connection.execute("update messages set created_at = now() - interval '2 hours'")
        for minutes, conversation, kind, sender in timeline:
            row = connection.execute(
                "insert into messages (conversation_id, sender_kind, sender_id, persona_id, body, created_at) "
                "values (%s, %s, %s, %s, 'hello', now() - make_interval(secs => %s)) "
                "returning id, conversation_id::text, created_at, date_trunc('minute', created_at) as minute",
                (conversation, kind, sender if kind == user else None, sender if kind != user else None,
                 minutes * 60),
            ).fetchone()  # fmt: skip
            sent.append(dict(zip(("id", "conversation", "created_at", "minute"), row, strict=True)))
    mine = [message for message in sent if message["conversation"] != elsewhere]
    return {"support": support, "group": group, "elsewhere": elsewhere, "sent": mine}


@pytest.mark.parametrize("rpc", sorted(MONITORING_RPCS))
@pytest.mark.parametrize(
    ("actor", "status", "reason"),
    [
        ("anon", 401, None),
        ("stranger", 404, "organization_not_found"),
        ("other_owner", 404, "organization_not_found"),
        ("member", 403, "no_permission"),
        ("admin", 200, None),
        ("auditor", 200, None),
        ("service_role", 200, None),
    ],
)
def test_monitoring_is_for_owners_admins_and_audit_readers_of_their_own_organization(
    api: Api, database, people, organization, rpc, actor, status, reason
):
    tokens = {"anon": None, "service_role": database.token("service_role")}
    token = tokens[actor] if actor in tokens else people[actor].token
    call = lambda: api.rpc(rpc, {"organization_id": organization, **MONITORING_RPCS[rpc]}, token=token)  # noqa: E731
    if status == 200:
        assert call() is not None
    else:
        denied = refusal(call)
        assert (denied.status, denied.details if reason else reason) == (status, reason)


def test_messages_per_minute_counts_the_last_60_minutes_of_this_organization_only(
    api: Api, people, organization, traffic
):
    rows = api.rpc("get_messages_per_minute", {"organization_id": organization}, token=people["admin"].token)
    assert len(rows) == 60
    minutes = [datetime.fromisoformat(row["minute"]) for row in rows]
    assert minutes == sorted(minutes) and len(set(minutes)) == 60
    expected = Counter(message["minute"] for message in traffic["sent"])
    assert {minute: row["messages"] for minute, row in zip(minutes, rows, strict=True) if row["messages"]} == expected
    assert sum(row["messages"] for row in rows) == len(traffic["sent"])


def test_active_conversations_are_those_with_a_message_in_the_window(api: Api, people, organization, traffic):
    admin = people["admin"]
    recent = api.rpc("get_active_conversations", {"organization_id": organization}, token=admin.token)
    support = traffic["support"]
    assert [row["conversation_id"] for row in recent] == [support["carol"], support["alice"], traffic["group"]]
    assert [row["messages"] for row in recent] == [1, 1, 3]
    hour = api.rpc(
        "get_active_conversations", {"organization_id": organization, "window_minutes": 60}, token=admin.token
    )
    assert {row["conversation_id"] for row in hour} == {*support.values(), traffic["group"]}
    assert sum(row["messages"] for row in hour) == len(traffic["sent"])
    first = api.rpc("get_active_conversations", {"organization_id": organization, "window_minutes": 60,
                                                 "page_size": 1}, token=admin.token)  # fmt: skip
    assert first == hour[:1]


def test_support_backlog_shows_open_conversations_and_the_oldest_unanswered_message(
    api: Api, people, organization, traffic
):
    rows = api.rpc("get_support_backlog", {"organization_id": organization}, token=people["auditor"].token)
    support, sent = traffic["support"], traffic["sent"]
    by_conversation = {row["conversation_id"]: row for row in rows}
    assert set(by_conversation) == {support["alice"], support["bob"]}  # carol's is resolved
    assert rows[0]["conversation_id"] == support["alice"]  # longest waiting first
    alice_first = next(message for message in sent if message["conversation"] == support["alice"])
    alice = by_conversation[support["alice"]]
    assert (alice["unanswered_message_id"], alice["last_reply_message_id"]) == (alice_first["id"], None)
    assert 40 * 60 - 5 <= alice["waiting_seconds"] <= 40 * 60 + 120
    bob = by_conversation[support["bob"]]
    bob_reply = [message for message in sent if message["conversation"] == support["bob"]][-1]
    assert (bob["unanswered_message_id"], bob["last_reply_message_id"]) == (None, bob_reply["id"])


def test_the_summary_agrees_with_the_detailed_rpcs(api: Api, people, organization, traffic):
    token = people["admin"].token
    summary = api.rpc("get_monitoring_summary", {"organization_id": organization}, token=token)
    backlog = api.rpc("get_support_backlog", {"organization_id": organization}, token=token)
    active = api.rpc("get_active_conversations", {"organization_id": organization}, token=token)
    refusals = api.rpc("get_refusal_counts", {"organization_id": organization}, token=token)
    waiting = [row for row in backlog if row["unanswered_message_id"] is not None]
    assert summary == {
        "messages_last_hour": len(traffic["sent"]),
        "active_conversations": len(active),
        "open_support_conversations": len(backlog),
        "unanswered_support_conversations": len(waiting),
        "oldest_unanswered_message_id": min(row["unanswered_message_id"] for row in waiting),
        "oldest_unanswered_since": min(row["unanswered_since"] for row in waiting),
        "refusals_last_hour": sum(row["refusals"] for row in refusals),
    }


@pytest.mark.parametrize(
    ("rpc", "args", "reason"),
    [
        ("get_active_conversations", {"window_minutes": 0}, "invalid_window"),
        ("get_active_conversations", {"window_minutes": 100000}, "invalid_window"),
        ("get_active_conversations", {"page_size": -1}, "invalid_page_size"),
        ("get_support_backlog", {"page_size": 501}, "invalid_page_size"),
        ("get_refusal_counts", {"window_minutes": -5}, "invalid_window"),
    ],
)
def test_monitoring_windows_and_page_sizes_are_bounded(api: Api, people, organization, rpc, args, reason):
    bad = refusal(lambda: api.rpc(rpc, {"organization_id": organization, **args}, token=people["admin"].token))
    assert (bad.status, bad.code, bad.details) == (400, "P0001", reason)


# -- refusals: WAL messages -> record_refusals -> get_refusal_counts ------------------------------


@pytest.fixture
def refusal_slot(database: TestDatabase) -> Iterator[tuple[psycopg.Connection, str]]:
    """A logical slot of this test's own (wal2json), dropped afterwards."""
    name = f"test_refusals_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute("select pg_create_logical_replication_slot(%s, 'wal2json')", (name,))
        try:
            yield connection, name
        finally:
            connection.execute("select pg_drop_replication_slot(%s)", (name,))


def refusal_events(connection: psycopg.Connection, slot: str, expected: int, timeout: float = 15.0) -> list[dict]:
    """Decode the slot's parley.refusal messages (as the realtime service does) until ``expected`` arrived.

    A refusal's message is written but not flushed by its (rolled back) transaction; a committed
    synchronous transaction flushes the WAL up to its commit, so decoding sees everything before it.
    """
    with connection.transaction():
        connection.execute("set local synchronous_commit = on")
        connection.execute("select pg_logical_emit_message(true, 'parley.test_flush', '')")
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        rows = connection.execute(
            f"select data from pg_logical_slot_get_changes(%s, null, null, {', '.join(['%s'] * len(DECODING))})",
            (slot, *DECODING),
        ).fetchall()
        for (data,) in rows:
            message = json.loads(data)
            if message.get("action") == "M" and message.get("prefix") == "parley.refusal":
                events.append({**json.loads(message["content"]), "lsn": message["lsn"]})
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def record(api: Api, database: TestDatabase, events: list[dict] | Any, source: str) -> int:
    rows = api.query(
        "select parley_internal.record_refusals(%s::jsonb, %s) as recorded",
        (json.dumps(events), source),
        token=database.token("service_role"),
        method="POST",
    )
    return rows[0]["recorded"]


def test_refusals_survive_their_rollback_as_wal_messages_and_are_counted_by_reason(
    api: Api, database, people, organization, refusal_slot
):
    """A refused request rolls back, yet its parley.refusal message is decoded from the WAL, recorded once
    (a replayed batch adds nothing) and counted for the organization of the refused member."""
    connection, slot = refusal_slot
    member, admin, stranger = people["member"], people["admin"], people["stranger"]
    attempts = [
        *[lambda: api.rpc("create_organization", {"name": "  "}, token=member.token)] * 3,
        *[lambda: api.rpc("get_monitoring_summary", {"organization_id": organization}, token=member.token)] * 2,
        # A GET (read-only) request refuses the same way.
        lambda: api.rpc("get_active_conversations", {"organization_id": organization, "window_minutes": 0},
                        token=admin.token, method="GET"),
        # A stranger's refusal is not this organization's...
        lambda: api.rpc("create_organization", {"name": ""}, token=stranger.token),
        # ...unless the refusing code attributes it.
        # (internal helpers: called as the definer code that uses them does)
        lambda: as_definer(database, stranger, "select parley_internal.set_refusal_organization(%s), "
                           "parley_internal.refuse('P0001', 'attributed_probe', 'Probe.', null)", (organization,)),
    ]  # fmt: skip
    for attempt in attempts:
        with pytest.raises((ApiError, psycopg.Error)):
            attempt()
    # Switched off for one request: no message at all.
    with pytest.raises(psycopg.Error):
        as_definer(database, stranger, "select set_config('parley.refusal_events', 'off', true), "
                   "parley_internal.refuse('P0001', 'silenced_probe', 'Probe.', null)")  # fmt: skip

    events = refusal_events(connection, slot, expected=len(attempts))
    assert len(events) == len(attempts)
    assert "silenced_probe" not in {event["reason"] for event in events}
    assert {event["user_id"] for event in events} == {str(member.id), str(admin.id), str(stranger.id)}
    assert [event["organization_id"] for event in events].count(organization) == 1

    source = f"test-{slot}"
    assert record(api, database, events, source) == len(attempts)
    assert record(api, database, events, source) == 0  # the same batch again: already recorded
    counts = api.rpc("get_refusal_counts", {"organization_id": organization}, token=admin.token)
    assert {(row["sqlstate"], row["reason"]): row["refusals"] for row in counts} == {
        ("P0001", "invalid_organization_name"): 3,
        ("42501", "no_permission"): 2,
        ("P0001", "invalid_window"): 1,
        ("P0001", "attributed_probe"): 1,
    }
    everything = api.rpc("get_refusal_counts", {"organization_id": None}, token=database.token("service_role"))
    assert sum(row["refusals"] for row in everything) == len(attempts)
    others = refusal(lambda: api.rpc("get_refusal_counts", {"organization_id": None}, token=admin.token))
    assert (others.status, others.details) == (404, "organization_not_found")


def test_record_refusals_ignores_malformed_events_and_is_for_service_role_only(api: Api, database, people):
    events = [
        1,
        "x",
        {"sqlstate": "bad", "reason": "x"},
        {"sqlstate": "P0001"},
        {"sqlstate": "P0001", "reason": "well_formed", "user_id": "not-a-uuid", "at": "yesterday-ish"},
        {"sqlstate": "PT429", "reason": "rate_limited", "user_id": str(people["member"].id), "lsn": "zz"},
    ]
    assert record(api, database, events, "test-malformed") == 2
    rows = as_owner(database, "select sqlstate, reason, user_id, refusals from parley_internal.refusal_counts "
                              "where reason in ('well_formed', 'rate_limited') order by reason")  # fmt: skip
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        ("PT429", "rate_limited", people["member"].id, 1),
        ("P0001", "well_formed", None, 1),
    ]
    not_a_list = refusal(lambda: record(api, database, {"sqlstate": "P0001"}, "test-malformed"))
    assert (not_a_list.status, not_a_list.details) == (400, "invalid_events")
    denied = refusal(
        lambda: api.query(
            "select parley_internal.record_refusals('[]'::jsonb)", token=people["admin"].token, method="POST"
        )
    )
    assert (denied.status, denied.code) == (403, "42501")
