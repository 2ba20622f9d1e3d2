"""Staff stay hidden behind personas and Support, everywhere (issue 12 part 1, seed 001).

A support agent works a customer's support conversation and persona
conversation through their organization permission: send, edit, delete,
pin, unpin, react, upload, notice, status change, assignment. After each
action the walker reads, as the customer, everything the customer can read:

* every table and view of every schema that ``authenticated`` may SELECT,
  discovered from the catalog (public, storage.objects and storage.buckets,
  realtime.messages, ...): a new table or column is walked without editing
  this test;
* every realtime payload on a topic the customer may receive
  (parley_internal.realtime_can_receive decides, as the realtime service
  does);
* every RPC a customer reads with, each called with the customer's
  conversations and messages (the catalog check below makes a new RPC fail
  until it is classified).

Each read is serialized whole (to_jsonb of the row, the RPC's JSON), so any
column or key naming the staff user is caught, wherever it is. The customer
legitimately knows the agent as a member of the organization (roster,
profile) before any staff action: those rows are the baseline, and no row of
a conversation is allowed in it. After each action nothing the customer reads
may name the agent (or the owner) outside that baseline.

The audit log keeps who really acted (read by staff with chat.audit_read).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from identity_support import as_owner, organization_with
from messaging_support import persona, send
from parley.db import Api, ApiError
from parley.storage import LocalBackend, upload
from parley.workers import FileWorker, FileWorkerSettings
from parley_dev.testing import TestDatabase, TestUser
from realtime_support import Broadcasts
from storage_support import image_bytes

# RPCs the customer reads, with the arguments the walk passes (s: the setting).
CUSTOMER_READS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "get_messages": lambda s: {"conversation_id": s["support"]},
    "get_pinned_messages": lambda s: {"conversation_id": s["support"]},
    "get_inbox": lambda s: {},
    "get_unread_counts": lambda s: {},
    "get_unread_total": lambda s: {},
    "get_message_receipts": lambda s: {"message_id": s["customer_message"]},
    "get_or_create_support_conversation": lambda s: {"organization_id": s["organization"]},
    "get_or_create_persona_conversation": lambda s: {"persona_id": s["persona"]},
    "get_or_create_notices_conversation": lambda s: {"organization_id": s["organization"]},
    "get_user_display_info": lambda s: {"user_id": s["customer"].id},
    "get_user_contacts": lambda s: {},
    "export_my_data": lambda s: {},
    "my_reports": lambda s: {},
    "my_restrictions": lambda s: {},
    "search_messages": lambda s: {"query": "hello or hi or edited or ada or plan or renews"},
    "my_permissions": lambda s: {"organization_id": s["organization"]},
    "organization_features": lambda s: {"organization_id": s["organization"]},
}
# The same reads for the persona and notices conversations.
REALTIME_CAPTURE = ("table", "wal")
"""The realtime payloads the customer may receive are checked in both capture modes (tests/conftest.py)."""

PER_CONVERSATION = ("get_messages", "get_pinned_messages")

# Every other RPC, and why it needs no walk: it writes (its result is the row
# the walk reads anyway from the table, or a refusal for a customer), or only
# staff may call it (the customer is refused), or it answers about users the
# caller names rather than about staff actions.
NOT_CUSTOMER_READS: dict[str, str] = {
    "ban_user": "moderators only (chat.moderate)",
    "kick_member": "moderators only (chat.moderate)",
    "lift_restriction": "moderators only (chat.moderate)",
    "mute_user": "moderators only (chat.moderate)",
    "resolve_report": "moderators only (chat.moderate)",
    "report_message": "write; returns the caller's report (read back through my_reports, walked)",
    "set_conversation_retention": "owners/admins only",
    "set_legal_hold": "owners/admins only",
    "accept_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "decline_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "end_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "get_call": "calls: none exist in support, persona and notices conversations (calls_not_supported)",
    "get_call_history": "calls: none exist in support, persona and notices conversations (calls_not_supported)",
    "get_ice_servers": "the caller's own TURN credentials; names nobody else",
    "join_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "leave_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "start_call": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "update_call_media": "calls: refused in support, persona and notices conversations (calls_not_supported)",
    "accept_connection": "write; returns the connections row (walked as a table)",
    "accept_invitation": "write; returns the caller's organization_members row",
    "act_as_persona": "staff only (chat.support_agent)",
    "add_conversation_members": "write (groups); returns conversation_members rows (walked)",
    "allow_group_readd": "write: the caller's consent to be added back to a group",
    "archive_conversation": "write; returns the caller's inbox_entries row (walked)",
    "are_users_connected": "boolean about a user the caller names",
    "assign_support_conversation": "staff only (chat.support_agent)",
    "block_user": "write; returns the caller's blocks row (walked)",
    "can_call": "decision about a user the caller names",
    "can_message": "decision about a user the caller names",
    "cancel_connection_request": "write; void",
    "chat_upload_folder": "the caller's own upload folder",
    "clear_role_permission": "owner/admin only",
    "create_attachment": "write; returns the caller's attachments row (walked)",
    "create_group_conversation": "write; returns the new conversations row (walked)",
    "create_invitation": "owner/admin only",
    "create_organization": "write; returns the new organizations row",
    "create_persona": "owner/admin only",
    "decline_connection": "write; void",
    "delete_attachment": "write; void",
    "delete_message": "write; returns the messages row (walked)",
    "edit_message": "write; returns the messages row (walked)",
    "export_compliance_messages": "chat.audit_read only, in compliance mode (names the real sender by design)",
    "find_user_by_username": "about a user the caller names",
    "get_active_conversations": "operators only (monitoring)",
    "get_messages_per_minute": "operators only (monitoring)",
    "get_monitoring_summary": "operators only (monitoring)",
    "get_or_create_direct_conversation": "with a user the caller names (staff answer support through permissions)",
    "get_presence": "about users the caller names",
    "get_refusal_counts": "operators only (monitoring)",
    "get_support_backlog": "operators only (monitoring)",
    "get_support_queue": "staff only (chat.support_agent)",
    "has_permission": "boolean about the caller",
    "heartbeat": "write; the caller's presence row",
    "hide_conversation": "write; returns the caller's inbox_entries row (walked)",
    "is_user_blocked": "boolean about a user the caller names",
    "leave_conversation": "write; returns the caller's roster row",
    "leave_organization": "write; void",
    "mark_delivered": "write; returns the caller's inbox_entries row (walked)",
    "mark_read": "write; returns the caller's inbox_entries row (walked)",
    "mark_unread": "write; returns the caller's inbox_entries row (walked)",
    "mute_conversation": "write; returns the caller's inbox_entries row (walked)",
    "pin_conversation": "write; returns the caller's inbox_entries row (walked)",
    "pin_message": "write; returns the messages row (walked)",
    "remove_connection": "write; void",
    "remove_conversation_member": "write (groups); returns the roster row",
    "remove_member": "owner/admin only",
    "request_connection": "write; returns the connections row (walked)",
    "revoke_invitation": "owner/admin only",
    "send_message": "write; returns the messages row (walked)",
    "send_notice": "staff only (chat.send_notice)",
    "set_compliance_mode": "owner only",
    "set_conversation_member_role": "write (groups)",
    "set_member_role": "owner/admin only",
    "set_notification_level": "write; returns the caller's inbox_entries row (walked)",
    "set_role_permission": "owner/admin only",
    "set_support_status": "staff only (chat.support_agent)",
    "toggle_reaction": "write; its result is probed after each action by the walk (reaction summary)",
    "transfer_conversation_ownership": "write (groups)",
    "transfer_ownership": "owner only",
    "unblock_user": "write; void",
    "unmute_conversation": "write; returns the caller's inbox_entries row (walked)",
    "update_group_conversation": "write (groups)",
    "verify_audit_log": "chat.audit_read only",
}


@pytest.fixture(scope="module")
def broadcasts(database: TestDatabase) -> Iterator[Broadcasts]:
    """Every database broadcast of the module's database from its start, in either capture mode."""
    recorder = Broadcasts(database.url)
    yield recorder
    recorder.drop()


@pytest.fixture(scope="module")
def setting(
    api: Api, database: TestDatabase, broadcasts: Broadcasts, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    owner, agent, customer = (database.create_user(name) for name in ("sp_owner", "sp_agent", "sp_customer"))
    organization = organization_with(api, database, owner, admin=agent, member=customer)
    team = persona(api, organization, owner, "Ada from Support")
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=customer.token)
    persona_chat = api.rpc("get_or_create_persona_conversation", {"persona_id": team}, token=customer.token)
    notices = api.rpc("get_or_create_notices_conversation", {"organization_id": organization}, token=customer.token)
    customer_message = send(api, customer, support["id"], "My order is late")["id"]
    customer_persona_message = send(api, customer, persona_chat["id"], "Hi Ada")["id"]
    spare = send(api, customer, support["id"], "Also, a second thing")["id"]
    return {
        "organization": organization,
        "owner": owner,
        "agent": agent,
        "customer": customer,
        "persona": team,
        "support": support["id"],
        "persona_chat": persona_chat["id"],
        "notices": notices["id"],
        "customer_message": customer_message,
        "customer_persona_message": customer_persona_message,
        "spare": spare,
        "backend": LocalBackend(tmp_path_factory.mktemp("staff-privacy") / "storage", "test-signing-secret"),
        "broadcasts": broadcasts,
    }


def readable_relations(database: TestDatabase) -> list[str]:
    """Every table and view, in every schema, that authenticated may SELECT (from the catalog)."""
    rows = as_owner(
        database,
        """
        select pg_catalog.format('%I.%I', n.nspname, c.relname)
        from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'v', 'm', 'p', 'f')
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
          and pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT')
          -- Extensions' own relations (pgTAP's in test databases) hold no chat data.
          and not exists (select 1 from pg_catalog.pg_depend d
                          where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
        order by 1
        """,
    )
    return [name for (name,) in rows]


def customer_view(api: Api, database: TestDatabase, s: dict[str, Any]) -> list[tuple[str, str]]:
    """Everything the customer can read now, as (where, serialized row) pairs."""
    customer: TestUser = s["customer"]
    seen: list[tuple[str, str]] = []
    for relation in readable_relations(database):
        try:
            rows = api.query(f"select to_jsonb(t)::text as row from {relation} t", token=customer.token)
        except ApiError as error:
            assert error.status in (401, 403), (relation, error)
            continue
        seen += [(relation, row["row"]) for row in rows]
    # Realtime: every payload on a topic the customer may receive (conversation and user topics), as the
    # realtime service reads them in either capture mode (rows or WAL messages).
    broadcasts = s["broadcasts"].events()
    receivable = {topic for (topic,) in as_owner(
        database, "select t from unnest(%s::text[]) t where parley_internal.realtime_can_receive(t, %s)",
        (sorted({event.topic for event in broadcasts}), customer.id),
    )}  # fmt: skip
    for event in broadcasts:
        if event.topic in receivable:
            seen.append((f"realtime {event.topic} {event.event}", json.dumps(event.payload)))
    # RPC results.
    for name, arguments in CUSTOMER_READS.items():
        seen.append((f"rpc {name}", json.dumps(api.rpc(name, arguments(s), token=customer.token), default=str)))
    for name in PER_CONVERSATION:
        for conversation in ("persona_chat", "notices"):
            result = api.rpc(name, {"conversation_id": s[conversation]}, token=customer.token)
            seen.append((f"rpc {name} {conversation}", json.dumps(result, default=str)))
    return seen


def naming_staff(view: list[tuple[str, str]], s: dict[str, Any]) -> set[tuple[str, str]]:
    staff = (str(s["agent"].id), str(s["owner"].id))
    return {(where, row) for where, row in view if any(member in row for member in staff)}


@pytest.fixture(scope="module")
def baseline(api: Api, database: TestDatabase, setting: dict[str, Any]) -> set[tuple[str, str]]:
    known = naming_staff(customer_view(api, database, setting), setting)
    conversations = {setting["support"], setting["persona_chat"], setting["notices"]}
    # What the customer may know before any staff action: the agent is a member of the organization.
    # Nothing about a conversation may be in it.
    assert not [(where, row) for where, row in known if any(c in row for c in conversations)]
    assert {where for where, _ in known} >= {"public.organization_members"}  # the walk reads something
    return known


def staff_upload(api: Api, s: dict[str, Any]) -> dict[str, Any]:
    stored = upload(
        api, s["backend"], token=s["agent"].token, conversation_id=uuid.UUID(s["support"]), file_name="label.png",
        source=io.BytesIO(image_bytes("PNG", (40, 30))), claimed_type="image/png",
    )  # fmt: skip
    assert stored.object.key.split("/")[1] == "support"
    return send(api, s["agent"], s["support"], "Here is your label", kind="image",
                attachment_ids=[stored.attachment["id"]])  # fmt: skip


def process_files(database: TestDatabase, s: dict[str, Any]) -> None:
    FileWorker(FileWorkerSettings(database.url), s["backend"]).process_pending()


def agent_call(name: str, arguments: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    return lambda api, database, s: api.rpc(name, arguments(s), token=s["agent"].token)


def edit_last(kind: str, conversation: str) -> Callable[..., Any]:
    def run(api: Api, database: TestDatabase, s: dict[str, Any]) -> Any:
        [(message,)] = as_owner(
            database, "select max(id) from messages where conversation_id = %s and sender_kind = %s",
            (s[conversation], kind),
        )  # fmt: skip
        return api.rpc("edit_message", {"message_id": message, "body": "Edited by the team"}, token=s["agent"].token)

    return run


# Each kind of staff action, in order (later ones build on earlier ones).
STAFF_ACTIONS: list[tuple[str, Callable[..., Any]]] = [
    ("send as Support", agent_call("send_message", lambda s: {"conversation_id": s["support"], "body": "Hello!"})),
    (
        "send as persona",
        agent_call(
            "send_message",
            lambda s: {"conversation_id": s["persona_chat"], "body": "Hi!", "as_persona_id": s["persona"]},
        ),
    ),
    (
        "send as persona in support",
        agent_call(
            "send_message",
            lambda s: {"conversation_id": s["support"], "body": "Ada here", "as_persona_id": s["persona"]},
        ),
    ),
    ("edit Support reply", edit_last("support", "support")),
    ("edit persona message", edit_last("persona", "persona_chat")),
    ("pin", agent_call("pin_message", lambda s: {"message_id": s["customer_message"]})),
    ("pin in persona conversation", agent_call("pin_message", lambda s: {"message_id": s["customer_persona_message"]})),
    ("react", agent_call("toggle_reaction", lambda s: {"message_id": s["customer_message"], "emoji": "👍"})),
    (
        "react in persona conversation",
        agent_call("toggle_reaction", lambda s: {"message_id": s["customer_persona_message"], "emoji": "❤️"}),
    ),
    ("upload and send a file", lambda api, database, s: staff_upload(api, s)),
    ("file worker verifies it (thumbnail)", lambda api, database, s: process_files(database, s)),
    ("unpin", agent_call("pin_message", lambda s: {"message_id": s["customer_message"], "pinned": False})),
    ("delete a customer message", agent_call("delete_message", lambda s: {"message_id": s["spare"]})),
    (
        "delete a persona message",
        lambda api, database, s: api.rpc(
            "delete_message",
            {
                "message_id": as_owner(
                    database,
                    "select max(id) from messages where conversation_id = %s and sender_kind = 'persona'",
                    (s["persona_chat"],),
                )[0][0]
            },
            token=s["agent"].token,
        ),
    ),
    (
        "notice",
        agent_call(
            "send_notice",
            lambda s: {
                "organization_id": s["organization"],
                "user_id": s["customer"].id,
                "body": "Your plan renews soon",
                "style": {},
            },
        ),
    ),
    (
        "status change",
        agent_call("set_support_status", lambda s: {"conversation_id": s["support"], "status": "pending"}),
    ),
    (
        "assignment",
        agent_call(
            "assign_support_conversation", lambda s: {"conversation_id": s["support"], "assignee_id": s["agent"].id}
        ),
    ),
    (
        "reassignment to the owner",
        agent_call(
            "assign_support_conversation", lambda s: {"conversation_id": s["support"], "assignee_id": s["owner"].id}
        ),
    ),
]


def test_every_rpc_is_walked_or_classified(database: TestDatabase):
    """A new RPC fails here until it is walked (CUSTOMER_READS) or classified with a reason."""
    rows = as_owner(
        database,
        """
        select p.proname from pg_catalog.pg_proc p
        where p.pronamespace = 'public'::regnamespace
          and pg_catalog.has_function_privilege('authenticated', p.oid, 'EXECUTE')
        """,
    )
    exposed = {name for (name,) in rows}
    classified = set(CUSTOMER_READS) | set(NOT_CUSTOMER_READS)
    assert exposed - classified == set(), "walk or classify these RPCs"
    assert classified - exposed == set(), "stale entries"


def test_customer_never_reads_a_staff_user_after_any_staff_action(
    api: Api, database: TestDatabase, setting: dict[str, Any], baseline: set[tuple[str, str]]
):
    """Issue 12 (seed 001): after each kind of staff action, nothing the customer reads names the staff user."""
    leaks: dict[str, list[tuple[str, str]]] = {}
    for action, run in STAFF_ACTIONS:
        run(api, database, setting)
        view = customer_view(api, database, setting)
        new = sorted(naming_staff(view, setting) - baseline)
        if new:
            leaks[action] = [(where, row[:300]) for where, row in new]
        # The customer's reaction summary of the staff-reacted message, as toggle_reaction would return it.
    assert leaks == {}
    # The walk saw what the staff did: it is not vacuous.
    seen = "\n".join(row for _, row in customer_view(api, database, setting))
    for text in ("Edited by the team", "label.png", "Your plan renews soon", "pending", "👍", "❤️", "support/"):
        assert text in seen, text


def test_customer_sees_the_persona_or_support_in_each_actor_column(
    api: Api, database: TestDatabase, setting: dict[str, Any]
):
    """What each actor column shows the customer after the walk above: the persona, or Support (null)."""
    customer = setting["customer"]
    support_page = api.rpc("get_messages", {"conversation_id": setting["support"]}, token=customer.token)
    kinds = {(m["sender_kind"], m["sender_id"], m["persona_id"]) for m in support_page}
    assert ("support", None, None) in kinds and ("persona", None, setting["persona"]) in kinds
    deleted = next(m for m in support_page if m["id"] == setting["spare"])
    assert deleted["deleted_at"] is not None and deleted["deleted_by"] is None
    edits = api.query("select edited_by from message_edits", token=customer.token)
    assert edits and all(row["edited_by"] is None for row in edits)
    reactions = api.query("select user_id, persona_id, emoji from message_reactions order by emoji",
                          token=customer.token)  # fmt: skip
    assert {(r["user_id"], r["persona_id"] and str(r["persona_id"]), r["emoji"]) for r in reactions} == {
        (None, None, "👍"),
        (None, setting["persona"], "❤️"),
    }
    persona_pin = api.query("select pinned_by, pinned_at from messages where id = %s",
                            (setting["customer_persona_message"],), token=customer.token)  # fmt: skip
    assert persona_pin[0]["pinned_at"] is not None and persona_pin[0]["pinned_by"] is None
    [conversation] = api.query("select support_status, support_assignee_id from conversations where id = %s",
                               (setting["support"],), token=customer.token)  # fmt: skip
    assert conversation == {"support_status": "pending", "support_assignee_id": None}
    [attachment] = api.query("select uploader_id, object_name from attachments", token=customer.token)
    assert attachment["uploader_id"] is None and attachment["object_name"].split("/")[1] == "support"
    objects = api.query("select owner, owner_id, name from storage.objects", token=customer.token)
    assert len(objects) == 2 and all(o["owner"] is None and o["owner_id"] is None for o in objects)  # file, thumbnail


def test_staff_still_see_who_really_acted(api: Api, database: TestDatabase, setting: dict[str, Any]):
    """The audit log (chat.audit_read) names the agent for each hidden action; the support RPCs name the assignee."""
    agent, owner = setting["agent"], setting["owner"]
    entries = api.query(
        "select action, actor_id from audit_log where organization_id = %s and actor_id = %s",
        (setting["organization"], agent.id), token=owner.token,
    )  # fmt: skip
    actions = {entry["action"] for entry in entries}
    assert actions >= {
        "message.send_as_support", "message.send_as_persona", "message.send_notice", "message.edit",
        "message.delete", "message.pin", "message.unpin", "message.react", "conversation.support_status",
        "conversation.support_assign",
    }  # fmt: skip
    queue = api.rpc("get_support_queue", {"organization_id": setting["organization"], "status": None},
                    token=agent.token)  # fmt: skip
    assert [str(row["support_assignee_id"]) for row in queue if row["id"] == setting["support"]] == [str(owner.id)]
    backlog = api.rpc("get_support_backlog", {"organization_id": setting["organization"]}, token=owner.token)
    assert [str(row["support_assignee_id"]) for row in backlog if row["conversation_id"] == setting["support"]] == [
        str(owner.id)
    ]
    # The owner, now assigned, was told on their own topic; the customer's topics carry no assignee.
    assigned = [event.payload for event in setting["broadcasts"].events()
                if event.topic == f"user:{owner.id}" and event.event == "support_assigned"]  # fmt: skip
    assert assigned and assigned[-1]["conversation"]["support_assignee_id"] == str(owner.id)
