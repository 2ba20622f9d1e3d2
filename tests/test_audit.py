"""The audit trail through the request path (issue 5; seed 002 "audit logging" and "admin override").

Entries name the actor, role, IP and user agent of the real request; only staff
with chat.audit_read read them, for their own organization; nobody changes
them; concurrent writers never fork a chain; an owner's direct edit is caught
by verify; staff reading a conversation outside membership leave a trace.
"""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity_support import as_definer, as_owner, organization_with, refusal
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "admin", "member", "agent", "other_owner", "other_admin", "stranger")
    return {name: database.create_user(f"au_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(api, database, people["owner"], admin=people["admin"], member=people["member"],
                             admin2=people["agent"])  # fmt: skip


@pytest.fixture(scope="module")
def other_organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(api, database, people["other_owner"], admin=people["other_admin"])


def newest_entry(api: Api, organization: str, token: str) -> dict[str, Any]:
    """The organization's newest audit entry, read as ``token``'s user (under RLS)."""
    rows = api.query(
        "select *, host(ip) as address from audit_log where organization_id = %s order by id desc limit 1",
        (organization,), token=token,
    )  # fmt: skip
    assert rows, "no audit entry visible"
    return rows[0]


def verify(api: Api, organization: str, token: str) -> dict[str, Any]:
    """verify_audit_log's single row."""
    return api.rpc("verify_audit_log", {"organization_id": organization}, token=token)


def test_a_role_change_through_the_api_records_actor_role_ip_user_agent_and_old_and_new_role(
    api: Api, people, organization
):
    owner, member = people["owner"], people["member"]
    headers = {"x-forwarded-for": "198.51.100.23, 10.0.0.2", "user-agent": "AcmeAdmin/2.1"}
    api.rpc(
        "set_member_role",
        {"organization_id": organization, "user_id": str(member.id), "role": "guest"},
        token=owner.token,
        headers=headers,
    )
    entry = newest_entry(api, organization, owner.token)
    assert (entry["action"], entry["table_name"], entry["object_id"]) == (
        "organization_member.role_change",
        "public.organization_members",
        str(member.id),
    )
    assert (str(entry["actor_id"]), entry["actor_role"], entry["address"], entry["user_agent"]) == (
        str(owner.id),
        "authenticated",
        "198.51.100.23",
        "AcmeAdmin/2.1",
    )
    assert (entry["old_values"], entry["new_values"]) == ({"role": "member"}, {"role": "guest"})
    api.rpc(
        "set_member_role",
        {"organization_id": organization, "user_id": str(member.id), "role": "member"},
        token=owner.token,
    )


@pytest.mark.parametrize(
    ("headers", "address"),
    [
        ({"x-real-ip": "203.0.113.9"}, "203.0.113.9"),
        ({"x-forwarded-for": "[2001:db8::7]:443", "x-real-ip": "203.0.113.9"}, "2001:db8::7"),
        ({"x-forwarded-for": "192.0.2.10:51234"}, "192.0.2.10"),
        ({"x-forwarded-for": "unknown", "x-real-ip": "203.0.113.9"}, None),
        ({"x-forwarded-for": "999.1.1.1"}, None),
        ({}, None),
    ],
    ids=["x-real-ip", "ipv6-with-port", "ipv4-with-port", "garbage-forwarded-for", "invalid-address", "no-header"],
)
def test_the_client_address_is_the_first_forwarded_address_else_x_real_ip_else_null(
    api: Api, people, organization, headers, address
):
    """A malformed address header gives a null IP; it never blocks the audited change."""
    admin = people["admin"]
    api.query(
        "update organization_settings set edit_window_seconds = coalesce(edit_window_seconds, 0) + 1 "
        "where organization_id = %s",
        (organization,),
        token=admin.token,
        method="PATCH",
        headers=headers,
    )
    entry = newest_entry(api, organization, admin.token)
    assert entry["action"] == "organization_settings.update"
    assert entry["address"] == address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.one_of(st.ip_addresses().map(str), st.text(max_size=40)),
    rest=st.text(max_size=30),
    agent=st.text(max_size=600),
)
def test_arbitrary_request_headers_never_block_an_audited_change(api: Api, people, organization, first, rest, agent):
    """Property: whatever x-forwarded-for and user-agent say, the change goes through and is recorded. A valid
    first forwarded address is the entry's IP; anything else gives a null or valid IP, never an error. The user
    agent is kept up to 512 characters (headers PostgreSQL's JSON cannot hold, such as NUL, give nulls)."""
    admin = people["admin"]
    forwarded = first + ("," + rest if rest else "")
    headers = {"x-forwarded-for": forwarded, "user-agent": agent}
    api.query(
        "update organization_settings set edit_window_seconds = coalesce(edit_window_seconds, 0) + 1 "
        "where organization_id = %s",
        (organization,),
        token=admin.token,
        method="PATCH",
        headers=headers,
    )
    entry = newest_entry(api, organization, admin.token)
    assert entry["action"] == "organization_settings.update"
    if "\x00" in forwarded + agent:
        assert (entry["address"], entry["user_agent"]) == (None, None)
        return
    assert entry["user_agent"] == agent[:512]
    if _is_address(first):
        assert ipaddress.ip_address(entry["address"]) == ipaddress.ip_address(first)
    else:
        assert entry["address"] is None or _is_address(entry["address"])


def test_only_staff_with_chat_audit_read_read_their_own_organizations_entries(
    api: Api, people, organization, other_organization
):
    owner, admin, member = people["owner"], people["admin"], people["member"]
    other_admin, stranger = people["other_admin"], people["stranger"]
    statement = "select count(*) as entries from audit_log where organization_id = %s"
    everything = api.query(statement, (organization,), token=admin.token)[0]["entries"]
    assert everything > 0
    assert api.query(statement, (organization,), token=member.token)[0]["entries"] == 0
    assert api.query(statement, (organization,), token=other_admin.token)[0]["entries"] == 0
    assert api.query(statement, (organization,), token=stranger.token)[0]["entries"] == 0
    assert api.query(statement, (other_organization,), token=admin.token)[0]["entries"] == 0
    anonymous = refusal(lambda: api.query(statement, (organization,)))
    assert (anonymous.status, anonymous.code) == (401, "42501")

    grant = {"organization_id": organization, "role": "member", "permission": "chat.audit_read", "granted": True}
    api.rpc("set_role_permission", grant, token=owner.token)
    try:
        # The grant itself is an entry, so the member now sees one more than the admin saw before.
        assert api.query(statement, (organization,), token=member.token)[0]["entries"] == everything + 1
    finally:
        api.rpc(
            "clear_role_permission", {k: grant[k] for k in ("organization_id", "role", "permission")}, token=owner.token
        )
    assert api.query(statement, (organization,), token=member.token)[0]["entries"] == 0


@pytest.mark.parametrize("statement", [
    "update audit_log set action = 'fake.edit' returning id",
    "delete from audit_log returning id",
    "insert into audit_log (chain, chain_seq, actor_role, action, table_name, hash) "
    "values ('global', 99, 'x', 'fake.entry', 'x', sha256('x')) returning id",
])  # fmt: skip
@pytest.mark.parametrize("actor", ["admin", "service_role"])
def test_no_api_role_service_role_included_writes_the_audit_log(
    api: Api, database, people, organization, statement, actor
):
    token = database.token("service_role") if actor == "service_role" else people[actor].token
    before = as_owner(database, "select count(*), max(id) from audit_log")
    denied = refusal(lambda: api.query(statement, token=token, method="POST"))
    assert (denied.status, denied.code) == (403, "42501")
    assert as_owner(database, "select count(*), max(id) from audit_log") == before


def test_verify_reports_ok_then_the_entry_the_table_owner_edited_directly(api: Api, database, people):
    """Issue 5 'Done when': editing an audit row directly as the table owner is detected by verify."""
    owner, admin = database.create_user("tamper_owner"), database.create_user("tamper_admin")
    organization = organization_with(api, database, owner, admin=admin)
    api.rpc("set_role_permission", {"organization_id": organization, "role": "member", "permission": "chat.delete",
                                    "granted": False}, token=owner.token)  # fmt: skip
    intact = verify(api, organization, admin.token)
    assert intact["ok"] is True and intact["broken_entry_id"] is None and intact["entries_checked"] >= 5
    assert verify(api, organization, database.token("service_role")) == intact

    [(target, original)] = as_owner(
        database, "select id, new_values from audit_log where organization_id = %s and action = %s",
        (organization, "organization_permission.create"),
    )  # fmt: skip
    with psycopg.connect(database.url) as connection:  # the owner, bypassing the guard trigger
        connection.execute("alter table audit_log disable trigger audit_log_immutable")
        connection.execute(
            "update audit_log set new_values = new_values || '{\"granted\": true}' where id = %s", (target,)
        )
        connection.execute("alter table audit_log enable trigger audit_log_immutable")
    broken = verify(api, organization, admin.token)
    assert (broken["ok"], broken["broken_entry_id"], broken["reason"]) == (False, target, "hash_mismatch")
    assert broken["entries_checked"] < intact["entries_checked"]

    with psycopg.connect(database.url) as connection:  # put the original back: the chain verifies again
        connection.execute("alter table audit_log disable trigger audit_log_immutable")
        connection.execute(
            "update audit_log set new_values = %s where id = %s", (psycopg.types.json.Jsonb(original), target)
        )
        connection.execute("alter table audit_log enable trigger audit_log_immutable")
    assert verify(api, organization, admin.token) == intact


def test_verify_audit_log_is_for_audit_readers_of_the_organization(api: Api, people, organization):
    assert verify(api, organization, people["admin"].token)["ok"] is True
    member = refusal(lambda: verify(api, organization, people["member"].token))
    assert (member.status, member.code, member.details) == (403, "42501", "no_permission")
    outsider = refusal(lambda: verify(api, organization, people["other_admin"].token))
    assert (outsider.status, outsider.code, outsider.details) == (404, "PT404", "organization_not_found")


def test_concurrent_writers_of_one_organization_never_fork_its_chain(api: Api, database):
    """Eight threads change the same organization's permissions at once (and a second organization's in
    parallel): every entry gets its own place in the chain and both chains verify."""
    owners = [database.create_user(f"race_owner{index}") for index in range(2)]
    organizations = [organization_with(api, database, owner) for owner in owners]
    permissions = [
        "chat.view",
        "chat.create_group",
        "chat.manage_group",
        "chat.delete",
        "chat.initiate_call",
        "chat.moderate",
        "chat.support_agent",
        "chat.send_notice",
    ]
    start = threading.Barrier(len(permissions) * 2)

    def hammer(which: int, permission: str) -> None:
        start.wait()
        for round_number in range(6):
            api.rpc("set_role_permission", {"organization_id": organizations[which], "role": "guest",
                                            "permission": permission, "granted": round_number % 2 == 0},
                    token=owners[which].token)  # fmt: skip

    with ThreadPoolExecutor(max_workers=len(permissions) * 2) as pool:
        futures = [pool.submit(hammer, which, permission) for which in (0, 1) for permission in permissions]
        for future in futures:
            future.result()
    for which, organization in enumerate(organizations):
        rows = as_owner(
            database, "select chain_seq from audit_log where organization_id = %s order by id", (organization,)
        )
        sequence = [row[0] for row in rows]
        assert sequence == list(range(1, len(sequence) + 1))
        [(overrides,)] = as_owner(
            database, "select count(*) from audit_log where organization_id = %s and table_name = %s",
            (organization, "public.organization_role_permissions"),
        )  # fmt: skip
        assert overrides == len(permissions) * 6
        result = verify(api, organization, owners[which].token)
        assert (result["ok"], result["entries_checked"]) == (True, len(sequence))


def test_conversation_rpcs_leave_membership_role_and_support_entries(api: Api, people, organization):
    owner, admin, member, agent = people["owner"], people["admin"], people["member"], people["agent"]
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Audit tutors", "member_ids": [str(member.id)]},
        token=owner.token,
    )
    api.rpc("set_conversation_member_role", {"conversation_id": group["id"], "user_id": str(member.id),
                                             "role": "admin"}, token=owner.token)  # fmt: skip
    api.rpc(
        "remove_conversation_member", {"conversation_id": group["id"], "user_id": str(member.id)}, token=owner.token
    )
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=member.token)
    api.rpc(
        "assign_support_conversation",
        {"conversation_id": support["id"], "assignee_id": str(agent.id)},
        token=admin.token,
    )
    api.rpc("set_support_status", {"conversation_id": support["id"], "status": "pending"}, token=agent.token)
    rows = api.query(
        "select action, object_id, actor_id::text as actor from audit_log where organization_id = %s "
        "and (object_id like %s or object_id like %s) order by id",
        (organization, f"{group['id']}%", f"{support['id']}%"), token=admin.token,
    )  # fmt: skip
    assert [(row["action"], row["actor"]) for row in rows] == [
        ("conversation_member.add", str(owner.id)),
        ("conversation_member.add", str(owner.id)),
        ("conversation_member.role_change", str(owner.id)),
        ("conversation_member.remove", str(owner.id)),
        ("conversation_member.add", str(member.id)),
        ("conversation.support_assign", str(admin.id)),
        ("conversation.support_status", str(agent.id)),
    ]


def test_staff_reading_a_support_conversation_outside_membership_leaves_one_trace(
    api: Api, database, people, organization
):
    """Seed 002 "admin override": a staff read outside membership is traced (once per 10 minutes); members'
    reads are not; a read-only (GET) request that would need a trace is refused with 405."""
    member, agent = people["member"], people["agent"]
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=member.token)
    as_owner(database, "delete from parley_internal.audit_staff_reads")
    # audit_staff_read is internal (get_messages calls it): called here as that definer code does.
    read = "select parley_internal.audit_staff_read(%s) as written"
    assert as_definer(database, agent, read, (support["id"],)) == [(True,)]
    assert as_definer(database, agent, read, (support["id"],)) == [(False,)]
    assert as_definer(database, member, read, (support["id"],)) == [(False,)]
    assert as_definer(database, people["other_admin"], read, (support["id"],)) == [(False,)]
    entry = newest_entry(api, organization, people["admin"].token)
    assert (entry["action"], entry["object_id"], str(entry["actor_id"])) == (
        "conversation.staff_read",
        support["id"],
        str(agent.id),
    )
    traces = as_owner(database, "select count(*) from audit_log where action = 'conversation.staff_read' "
                                "and object_id = %s", (support["id"],))  # fmt: skip
    assert traces == [(1,)]

    as_owner(database, "update parley_internal.audit_staff_reads set recorded_at = now() - interval '11 minutes'")
    refused = refusal(lambda: api.rpc("get_messages", {"conversation_id": support["id"]}, token=agent.token,
                                      method="GET"))  # fmt: skip
    assert (refused.status, refused.code, refused.details) == (405, "25006", "audit_requires_write")
    # A member's read-only call is fine: nothing to trace.
    assert as_definer(database, member, read, (support["id"],), read_only=True) == [(False,)]


def test_message_rpcs_leave_edit_delete_persona_and_notice_entries_with_the_real_staff_user(
    api: Api, people, organization
):
    """Seed 001/002: a persona message and a staff notice name the real staff user in the audit log (never in the
    message); edits and deletions keep the old body."""
    owner, admin, member, agent = people["owner"], people["admin"], people["member"], people["agent"]
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Audit desk"},
                      token=owner.token)["id"]  # fmt: skip
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=member.token)
    asked = api.rpc("send_message", {"conversation_id": support["id"], "body": "My exam is locked"},
                    token=member.token)  # fmt: skip
    answer = api.rpc("send_message", {"conversation_id": support["id"], "body": "Unlocked it",
                                      "as_persona_id": persona}, token=agent.token)  # fmt: skip
    assert answer["sender_id"] is None and answer["persona_id"] == persona
    api.rpc("edit_message", {"message_id": asked["id"], "body": "My exam was locked"}, token=member.token)
    api.rpc("delete_message", {"message_id": asked["id"]}, token=member.token)
    notice = api.rpc("send_notice", {"organization_id": organization, "user_id": str(member.id),
                                     "body": "Maintenance tonight", "style": {"background": "#fff3cd"}},
                     token=admin.token)  # fmt: skip
    rows = api.query(
        "select action, object_id, actor_id::text as actor, persona_id::text as persona, "
        "new_values ->> 'sender_id' as sender, old_values ->> 'body' as old_body, new_values ->> 'body' as new_body "
        "from audit_log where organization_id = %s and action like 'message.%%' and object_id in (%s, %s, %s) "
        "order by id",
        (organization, str(asked["id"]), str(answer["id"]), str(notice["id"])), token=admin.token,
    )  # fmt: skip
    assert [(row["action"], row["object_id"]) for row in rows] == [
        ("message.send_as_persona", str(answer["id"])),
        ("message.edit", str(asked["id"])),
        ("message.delete", str(asked["id"])),
        ("message.send_notice", str(notice["id"])),
    ]
    persona_send, edit, delete, notice_send = rows
    assert (persona_send["actor"], persona_send["persona"], persona_send["sender"]) == (
        str(agent.id),
        persona,
        str(agent.id),
    )
    assert (edit["actor"], edit["old_body"], edit["new_body"]) == (
        str(member.id),
        "My exam is locked",
        "My exam was locked",
    )
    assert (delete["old_body"], delete["new_body"]) == ("My exam was locked", None)
    assert (notice_send["actor"], notice_send["sender"]) == (str(admin.id), str(admin.id))
    # The member, who sees the persona message, cannot see who sent it.
    assert api.query("select 1 from audit_log", token=member.token) == []
