"""Retention and legal hold (issue 18), with a clock the tests control: message ages are set relative to a fixed
clock, and the job is given that clock (``retention_batch(now, ...)``, ``RetentionWorker.run_once(now)``).

Settings go through the request path as owners and admins; the job runs as the worker does (owner connection).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import GENEROUS_LIMITS, group, send, set_limits
from parley.db import Api
from parley.workers.retention import RetentionSettings, RetentionWorker
from parley_dev.testing import TestDatabase

CLOCK = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def world(api: Api, database: TestDatabase, tag: str) -> dict[str, Any]:
    people = {name: database.create_user(f"rt_{tag}_{name}") for name in ("owner", "admin", "member", "outsider")}
    organization = organization_with(api, database, people["owner"], admin=people["admin"], member=people["member"])
    set_limits(database, organization, **GENEROUS_LIMITS)
    room = group(database, organization, people["owner"], people["member"])
    return {"people": people, "organization": organization, "room": room}


def aged(api: Api, database: TestDatabase, w: dict[str, Any], room: str, *days_old: int) -> list[int]:
    """Messages sent by the member, then dated ``days_old`` days before CLOCK (set-up as the owner)."""
    ids = []
    for days in days_old:
        message = send(api, w["people"]["member"], room, f"{days} days old")
        as_owner(database, "update messages set created_at = %s where id = %s", (CLOCK - timedelta(days=days),
                                                                                 message["id"]))  # fmt: skip
        ids.append(message["id"])
    return ids


def remaining(database: TestDatabase, ids: list[int]) -> list[int]:
    rows = as_owner(database, "select id from messages where id = any(%s) order by id", (ids,))
    return [row[0] for row in rows]


def set_org_retention(api: Api, w: dict[str, Any], days: int | None) -> None:
    api.query("update organization_settings set message_retention_days = %s where organization_id = %s returning 1",
              (days, w["organization"]), token=w["people"]["owner"].token, method="PATCH")  # fmt: skip


@pytest.fixture
def worker(database: TestDatabase):
    made = RetentionWorker(RetentionSettings(database.url, batch_size=2))
    yield made
    made.close()


def test_organization_retention_deletes_only_expired_messages_in_batches(api: Api, database: TestDatabase, worker):
    w = world(api, database, "org")
    old = aged(api, database, w, w["room"], 45, 40, 31)
    young = aged(api, database, w, w["room"], 29, 1)
    set_org_retention(api, w, 30)
    result = worker.run_once(now=CLOCK)
    assert remaining(database, old + young) == young
    assert result.batches >= 2, "three messages with batch_size 2 take two batches"
    # A second pass finds nothing; the young messages expire when the clock moves on.
    assert worker.run_once(now=CLOCK).deleted == 0
    worker.run_once(now=CLOCK + timedelta(days=2))
    assert remaining(database, young) == [young[1]]
    [entry] = api.query("select new_values from audit_log where organization_id = %s and action = 'retention.delete' "
                        "order by id limit 1", (w["organization"],), token=w["people"]["owner"].token)  # fmt: skip
    assert entry["new_values"]["messages"] == 2 and entry["new_values"]["first_id"] == old[0]
    assert api.rpc("verify_audit_log", {"organization_id": w["organization"]}, token=w["people"]["owner"].token)["ok"]


def test_a_conversation_period_overrides_the_organization(api: Api, database: TestDatabase, worker):
    w = world(api, database, "conv")
    other_room = group(database, w["organization"], w["people"]["owner"], w["people"]["member"])
    in_room = aged(api, database, w, w["room"], 10, 3)
    in_other = aged(api, database, w, other_room, 10, 3)
    policy = api.rpc("set_conversation_retention", {"conversation_id": w["room"], "retention_days": 7},
                     token=w["people"]["admin"].token)  # fmt: skip
    assert policy["retention_days"] == 7
    worker.run_once(now=CLOCK)
    assert remaining(database, in_room) == [in_room[1]]
    assert remaining(database, in_other) == in_other, "no organization period: kept forever"
    # Members see the period of their conversation.
    [seen] = api.query("select retention_days from conversation_retention where conversation_id = %s",
                       (w["room"],), token=w["people"]["member"].token)  # fmt: skip
    assert seen["retention_days"] == 7


def test_a_legal_hold_pauses_retention_and_erasure_until_released(api: Api, database: TestDatabase, worker):
    w = world(api, database, "hold")
    owner, member = w["people"]["owner"], w["people"]["member"]
    held = aged(api, database, w, w["room"], 100, 90)
    set_org_retention(api, w, 30)
    hold = api.rpc("set_legal_hold", {"conversation_id": w["room"], "hold": True, "reason": "case 2031-17"},
                   token=owner.token)  # fmt: skip
    assert hold["legal_hold_at"] is not None and hold["legal_hold_reason"] == "case 2031-17"
    worker.run_once(now=CLOCK)
    assert remaining(database, held) == held
    # Erasure keeps held messages too.
    erased = api.rpc("erase_user", {"user_id": str(member.id)}, token=database.token("service_role"))
    assert erased["messages_tombstoned"] == 0
    assert [body for (body,) in as_owner(database, "select body from messages where id = any(%s) order by id",
                                         (held,))] == ["100 days old", "90 days old"]  # fmt: skip
    released = api.rpc("set_legal_hold", {"conversation_id": w["room"], "hold": False}, token=owner.token)
    assert released["legal_hold_at"] is None and released["legal_hold_reason"] is None
    worker.run_once(now=CLOCK)
    assert remaining(database, held) == []
    actions = [row["action"] for row in api.query(
        "select action from audit_log where organization_id = %s and action like 'retention.%%' order by id",
        (w["organization"],), token=owner.token)]  # fmt: skip
    assert actions == ["retention.legal_hold", "retention.legal_hold_release", "retention.delete"]


def test_expired_messages_take_their_files_and_reports_keep_their_evidence(api: Api, database: TestDatabase, worker):
    w = world(api, database, "files")
    owner, member = w["people"]["owner"], w["people"]["member"]
    [message] = aged(api, database, w, w["room"], 60)
    as_owner(database, """insert into attachments (conversation_id, uploader_id, object_name, file_name, content_type,
                            size_bytes, message_id, position, attached_at)
                          values (%s, %s, %s, 'old.txt', 'text/plain', 3, %s, 0, now())""",
             (w["room"], member.id, f"{w['room']}/{member.id}/retention-old.txt", message))  # fmt: skip
    report = api.rpc("report_message", {"message_id": message, "reason": "spam"}, token=owner.token)
    set_org_retention(api, w, 30)
    worker.run_once(now=CLOCK)
    assert remaining(database, [message]) == []
    assert as_owner(database, "select reason from parley_internal.file_deletions where object_name = %s",
                    (f"{w['room']}/{member.id}/retention-old.txt",)) == [("attachment_deleted",)]  # fmt: skip
    [kept] = api.query("select message_id, evidence from message_reports where id = %s", (report["id"],),
                       token=owner.token)  # fmt: skip
    assert kept["message_id"] is None and kept["evidence"]["body"] == "60 days old"


def test_a_batch_holds_no_lock_that_stops_senders(api: Api, database: TestDatabase):
    """While a retention batch's transaction is open (not committed), members still send to the conversation."""
    w = world(api, database, "locks")
    aged(api, database, w, w["room"], 50, 49, 48)
    set_org_retention(api, w, 30)
    with psycopg.connect(database.url) as job:
        [(deleted,)] = job.execute("select parley_internal.retention_batch(%s, 2)", (CLOCK,)).fetchall()
        assert deleted == 2
        result: dict[str, Any] = {}

        def sender() -> None:
            result["message"] = api.rpc("send_message", {"conversation_id": w["room"], "body": "still here"},
                                        token=w["people"]["member"].token, headers={})  # fmt: skip

        thread = threading.Thread(target=sender)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive() and result["message"]["body"] == "still here"
        job.rollback()


def test_the_cron_command_and_the_cli_run_the_same_batches(api: Api, database: TestDatabase):
    w = world(api, database, "proc")
    first = aged(api, database, w, w["room"], 40, 35)
    set_org_retention(api, w, 30)
    # What the pg_cron job runs every minute (with now()): one batch, its own transaction.
    with psycopg.connect(database.url, autocommit=True) as connection:
        [(deleted,)] = connection.execute("select parley_internal.retention_batch(%s, 5000)", (CLOCK,)).fetchall()
    assert deleted >= 2 and remaining(database, first) == []  # (other tests' leftovers expire too)
    second = aged(api, database, w, w["room"], 40)
    # The CLI uses the database's own clock: real time is years before CLOCK, so nothing has expired yet.
    completed = subprocess.run(
        [sys.executable, "-m", "parley.cli", "worker", "retention", "--once", "--database-url", database.url],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {"batches": 0, "deleted": 0}
    assert remaining(database, second) == second


def test_only_owners_and_admins_set_retention_and_holds(api: Api, database: TestDatabase):
    w = world(api, database, "perm")
    member, outsider, admin = w["people"]["member"], w["people"]["outsider"], w["people"]["admin"]
    hold = {"conversation_id": w["room"], "hold": True}
    assert refusal(lambda: api.rpc("set_legal_hold", hold, token=member.token)).details == "no_permission"
    assert refusal(lambda: api.rpc("set_legal_hold", hold, token=outsider.token)).status == 404
    days = {"conversation_id": w["room"], "retention_days": 0}
    assert refusal(lambda: api.rpc("set_conversation_retention", days, token=admin.token)).details == (
        "invalid_retention_days"
    )
    assert refusal(lambda: api.rpc("set_legal_hold", {**hold, "hold": None}, token=admin.token)).details == (
        "invalid_hold"
    )
    assert as_owner(database, "select 1 from conversation_retention where conversation_id = %s", (w["room"],)) == []


def test_retention_deletes_calls_that_ended_before_the_cut_off_and_never_a_live_one(
    api: Api, database: TestDatabase, worker
):
    """Call history is content too: ended calls past the period go with their participants; a live call, a
    recently ended one and a call in a conversation on legal hold stay."""
    w = world(api, database, "calls")
    owner, member = w["people"]["owner"], w["people"]["member"]
    held_room = group(database, w["organization"], owner, member)

    def call_in(room: str, ended_days_ago: int | None) -> str:
        call = api.rpc("start_call", {"conversation_id": room}, token=member.token)
        if ended_days_ago is not None:
            api.rpc("end_call", {"call_id": call["id"]}, token=member.token)
            as_owner(database, "update call_sessions set started_at = %s, ended_at = %s where id = %s",
                     (CLOCK - timedelta(days=ended_days_ago + 1), CLOCK - timedelta(days=ended_days_ago),
                      call["id"]))  # fmt: skip
        return call["id"]

    old, recent, held = call_in(w["room"], 40), call_in(w["room"], 5), call_in(held_room, 40)
    live = call_in(w["room"], None)
    api.rpc("set_legal_hold", {"conversation_id": held_room, "hold": True}, token=owner.token)
    set_org_retention(api, w, 30)
    worker.run_once(now=CLOCK)
    calls = [row[0] for row in as_owner(database, "select id::text from call_sessions where id = any(%s::uuid[])",
                                         ([old, recent, held, live],))]  # fmt: skip
    assert sorted(calls) == sorted([recent, held, live])
    assert as_owner(database, "select count(*) from call_participants where call_id = %s", (old,)) == [(0,)]
    entries = api.query("select new_values from audit_log where organization_id = %s and action = 'retention.delete'",
                        (w["organization"],), token=owner.token)  # fmt: skip
    assert sum(entry["new_values"]["calls"] for entry in entries) == 1, "the call summaries are messages, counted apart"
