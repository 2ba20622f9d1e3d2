"""Support isolation (issue 4 'Done when', seed 001: zero cross-contamination).

Users A and B each write to their support conversation. B must not be able to
read, or infer, anything of A's: no row of any exposed table, no RPC result
and no error that differs from a missing conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from identity_support import as_owner, organization_with, refusal
from parley.db import Api, ApiError
from parley_dev.testing import TestDatabase, TestUser

SECRET = "my-account-number-is-{}"


@pytest.fixture(scope="module")
def setting(api: Api, database: TestDatabase) -> dict[str, Any]:
    owner, user_a, user_b = (database.create_user(name) for name in ("iso_owner", "iso_a", "iso_b"))
    organization = organization_with(api, database, owner, member=user_a, member2=user_b)
    conversations = {}
    for name, user in (("a", user_a), ("b", user_b)):
        support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=user.token)
        conversations[name] = support["id"]
        api.rpc(
            "send_message",
            {"conversation_id": support["id"], "body": SECRET.format(name), "client_msg_id": str(uuid.uuid4())},
            token=user.token,
        )
    api.rpc(
        "send_message",
        {"conversation_id": conversations["a"], "body": "Staff reply to A", "client_msg_id": str(uuid.uuid4())},
        token=owner.token,
    )
    [(message_a,)] = as_owner(
        database, "select min(id) from messages where conversation_id = %s", (conversations["a"],)
    )
    return {
        "organization": organization,
        "a": user_a,
        "b": user_b,
        "owner": owner,
        "conversations": conversations,
        "message_a": message_a,
    }


def exposed_tables(database: TestDatabase) -> list[str]:
    rows = as_owner(
        database,
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p') order by 1
    """,
    )
    return [name for (name,) in rows]


def test_no_exposed_table_shows_b_anything_of_a_support_conversation(api: Api, database, setting):
    """Every table and view in public, read in full as B, mentions neither A's conversation nor A's text."""
    user_b: TestUser = setting["b"]
    a_conversation = setting["conversations"]["a"]
    leaks = []
    for table in exposed_tables(database):
        try:
            rows = api.query(f'select to_jsonb(t)::text as row from public."{table}" t', token=user_b.token)
        except ApiError as error:
            assert error.status in (401, 403), (table, error)
            continue
        for row in rows:
            if a_conversation in row["row"] or SECRET.format("a") in row["row"] or "Staff reply to A" in row["row"]:
                leaks.append((table, row["row"][:200]))
    assert leaks == []
    # B's own conversation is visible to B: the check above is not vacuous.
    assert api.query("select id from conversations where id = %s", (setting["conversations"]["b"],), token=user_b.token)


RPC_PROBES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("get_messages", lambda s: {"conversation_id": s["conversations"]["a"]}),
    ("send_message", lambda s: {"conversation_id": s["conversations"]["a"], "body": "hi"}),
    ("mark_read", lambda s: {"conversation_id": s["conversations"]["a"], "message_id": s["message_a"]}),
    ("mark_delivered", lambda s: {"conversation_id": s["conversations"]["a"], "message_id": s["message_a"]}),
    ("get_message_receipts", lambda s: {"message_id": s["message_a"]}),
    ("toggle_reaction", lambda s: {"message_id": s["message_a"], "emoji": "👍"}),
    ("edit_message", lambda s: {"message_id": s["message_a"], "body": "mine now"}),
    ("delete_message", lambda s: {"message_id": s["message_a"]}),
    ("set_support_status", lambda s: {"conversation_id": s["conversations"]["a"], "status": "resolved"}),
    ("leave_conversation", lambda s: {"conversation_id": s["conversations"]["a"]}),
]


@pytest.mark.parametrize("function,arguments", RPC_PROBES, ids=[name for name, _ in RPC_PROBES])
def test_rpcs_answer_b_as_if_a_support_conversation_did_not_exist(api: Api, database, setting, function, arguments):
    """Refusals for A's conversation or message equal the refusals for a random, missing id."""
    user_b: TestUser = setting["b"]
    real = refusal(lambda: api.rpc(function, arguments(setting), token=user_b.token))
    missing_setting = dict(setting, conversations={"a": str(uuid.uuid4())}, message_a=setting["message_a"] + 10**12)
    missing = refusal(lambda: api.rpc(function, arguments(missing_setting), token=user_b.token))
    assert (real.status, real.code, real.details, real.message) == (
        missing.status,
        missing.code,
        missing.details,
        missing.message,
    )
    assert real.status == 404
    assert as_owner(database, "select body from messages where id = %s", (setting["message_a"],)) == [
        (SECRET.format("a"),)
    ]


def test_inbox_and_unread_counts_of_b_list_only_b_conversations(api: Api, setting):
    user_b: TestUser = setting["b"]
    inbox = api.rpc("get_inbox", {}, token=user_b.token)
    assert setting["conversations"]["a"] not in str(inbox)
    counts = api.rpc("get_unread_counts", {}, token=user_b.token)
    assert setting["conversations"]["a"] not in str(counts)


def test_staff_read_support_messages_only_through_get_messages_which_leaves_an_audit_trace(api: Api, database, setting):
    """Seed 002 'admin override': staff reading a conversation they are not a member of leaves a trace."""
    owner: TestUser = setting["owner"]
    a_conversation = setting["conversations"]["a"]
    # A plain table read shows staff nothing: it could not be recorded.
    assert api.query("select id from messages where conversation_id = %s", (a_conversation,), token=owner.token) == []
    page = api.rpc("get_messages", {"conversation_id": a_conversation}, token=owner.token)
    assert SECRET.format("a") in str(page)
    entries = as_owner(
        database,
        """
        select actor_id::text, object_id, ip::text, user_agent from audit_log
        where action = 'conversation.staff_read' and organization_id = %s
    """,
        (setting["organization"],),
    )
    assert (str(owner.id), a_conversation) in {(actor, object_id) for actor, object_id, _, _ in entries}
    # A member reading their own conversation leaves no such entry.
    api.rpc("get_messages", {"conversation_id": a_conversation}, token=setting["a"].token)
    assert not any(
        actor == str(setting["a"].id)
        for actor, *_ in as_owner(
            database,
            """
        select actor_id::text from audit_log where action = 'conversation.staff_read'
    """,
        )
    )
