"""Compliance mode, per organization, off by default (issue 12 part 3, seed 002 admin matrix and audit).

Off (the default): staff read only the support, persona and notices
conversations they handle. On (the owner's switch, audited): holders of
chat.audit_read read any conversation of the organization through
get_messages (each read audited with actor, IP and time), every send, edit
and delete is in the audit chain, members see archived_by_organization on the
conversation row and in get_inbox, and auditors export messages as JSON lines
(audited).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import send
from parley.db import Api
from parley_dev.testing import TestDatabase

AUDITOR_HEADERS = {"x-forwarded-for": "198.51.100.23", "user-agent": "compliance-console"}


@pytest.fixture(scope="module")
def org(api: Api, database: TestDatabase) -> dict[str, Any]:
    owner, admin, alice, bob = (database.create_user(n) for n in ("cm_owner", "cm_admin", "cm_alice", "cm_bob"))
    organization = organization_with(api, database, owner, admin=admin, member=alice, member2=bob)
    chat = api.rpc("get_or_create_direct_conversation", {"organization_id": organization, "other_user_id": bob.id},
                   token=alice.token)["id"]  # fmt: skip
    first = send(api, alice, chat, "before compliance mode")["id"]
    return {"id": organization, "owner": owner, "admin": admin, "alice": alice, "bob": bob, "chat": chat,
            "first": first}  # fmt: skip


def entries(database: TestDatabase, organization: str, action: str) -> list[tuple]:
    return as_owner(
        database,
        "select actor_id::text, object_id, host(ip), user_agent, new_values from audit_log "
        "where organization_id = %s and action = %s order by id",
        (organization, action),
    )


def test_off_by_default_auditors_cannot_read_members_conversations(api: Api, org):
    admin = org["admin"]
    assert refusal(lambda: api.rpc("get_messages", {"conversation_id": org["chat"]}, token=admin.token)).status == 404
    error = refusal(lambda: api.rpc("export_compliance_messages", {"organization_id": org["id"]}, token=admin.token))
    assert (error.status, error.details) == (409, "compliance_mode_off")
    [row] = api.query("select archived_by_organization from conversations where id = %s", (org["chat"],),
                      token=org["alice"].token)  # fmt: skip
    assert row["archived_by_organization"] is False


def test_only_the_owner_switches_it_and_the_switch_is_audited(api: Api, database: TestDatabase, org):
    error = refusal(lambda: api.rpc("set_compliance_mode", {"organization_id": org["id"], "enabled": True},
                                    token=org["admin"].token))  # fmt: skip
    assert (error.status, error.details) == (403, "not_owner")
    stranger = database.create_user()
    error = refusal(lambda: api.rpc("set_compliance_mode", {"organization_id": org["id"], "enabled": True},
                                    token=stranger.token))  # fmt: skip
    assert (error.status, error.details) == (404, "organization_not_found")
    settings = api.rpc("set_compliance_mode", {"organization_id": org["id"], "enabled": True}, token=org["owner"].token)
    assert settings["compliance_mode"] is True
    error = refusal(lambda: api.rpc("set_compliance_mode", {"organization_id": org["id"], "enabled": True},
                                    token=org["owner"].token))  # fmt: skip
    assert (error.status, error.details) == (409, "compliance_mode_unchanged")
    [(actor, _, _, _, values)] = entries(database, org["id"], "organization_settings.compliance_mode")
    assert (actor, values) == (str(org["owner"].id), {"compliance_mode": True})


def test_members_are_told_on_the_conversation_row_and_in_the_inbox(api: Api, org):
    alice = org["alice"]
    [row] = api.query("select archived_by_organization from conversations where id = %s", (org["chat"],),
                      token=alice.token)  # fmt: skip
    assert row["archived_by_organization"] is True
    inbox = api.rpc("get_inbox", {}, token=alice.token)
    assert [r["archived_by_organization"] for r in inbox if r["conversation_id"] == org["chat"]] == [True]
    # A conversation created while the mode is on carries the flag too.
    support = api.rpc("get_or_create_support_conversation", {"organization_id": org["id"]}, token=alice.token)
    assert support["archived_by_organization"] is True


def test_every_send_edit_and_delete_is_in_the_audit_chain(api: Api, database: TestDatabase, org):
    alice = org["alice"]
    sent = send(api, alice, org["chat"], "archived message")
    api.rpc("edit_message", {"message_id": sent["id"], "body": "archived, edited"}, token=alice.token)
    api.rpc("delete_message", {"message_id": sent["id"]}, token=alice.token)
    for action in ("message.send", "message.edit", "message.delete"):
        assert (str(alice.id), str(sent["id"])) in [(a, o) for a, o, *_ in entries(database, org["id"], action)], action
    [send_entry] = [e for e in entries(database, org["id"], "message.send") if e[1] == str(sent["id"])]
    assert send_entry[4]["body"] == "archived message"
    verified = api.rpc("verify_audit_log", {"organization_id": org["id"]}, token=org["admin"].token)
    assert verified["ok"] is True


def test_auditors_read_any_conversation_through_get_messages_and_each_read_is_audited(
    api: Api, database: TestDatabase, org
):
    admin = org["admin"]
    page = api.rpc("get_messages", {"conversation_id": org["chat"]}, token=admin.token, headers=AUDITOR_HEADERS)
    assert "before compliance mode" in [m["body"] for m in page]
    reads = [e for e in entries(database, org["id"], "conversation.staff_read") if e[1] == org["chat"]]
    assert [(a, ip, agent, v["permission"]) for a, _, ip, agent, v in reads] == [
        (str(admin.id), "198.51.100.23", "compliance-console", "chat.audit_read")
    ]
    # A member without chat.audit_read still cannot read other members' conversations.
    outsider = org["bob"]
    support = api.rpc("get_or_create_support_conversation", {"organization_id": org["id"]}, token=org["alice"].token)
    assert (
        refusal(lambda: api.rpc("get_messages", {"conversation_id": support["id"]}, token=outsider.token)).status == 404
    )


def test_export_as_json_lines_by_conversation_or_time_range_is_audited(api: Api, database: TestDatabase, org):
    admin = org["admin"]
    text = api.rpc("export_compliance_messages", {"organization_id": org["id"], "conversation_id": org["chat"]},
                   token=admin.token)  # fmt: skip
    lines = [json.loads(line) for line in text.split("\n")]
    assert lines[0]["body"] == "before compliance mode" and lines[0]["real_sender_id"] == str(org["alice"].id)
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    [(started,)] = as_owner(database, "select created_at::text from messages where id = %s", (org["first"],))
    ranged = api.rpc("export_compliance_messages", {"organization_id": org["id"], "sent_until": started},
                     token=admin.token)  # fmt: skip
    assert ranged == ""  # nothing was sent before the first message
    paged = api.rpc("export_compliance_messages", {"organization_id": org["id"], "page_size": 1}, token=admin.token)
    assert len(paged.split("\n")) == 1
    exports = entries(database, org["id"], "conversation.compliance_export")
    assert len(exports) == 3 and all(actor == str(admin.id) for actor, *_ in exports)
    member = refusal(lambda: api.rpc("export_compliance_messages", {"organization_id": org["id"]},
                                     token=org["bob"].token))  # fmt: skip
    assert (member.status, member.details) == (403, "no_permission")


def test_switching_off_closes_the_auditors_door_again(api: Api, database: TestDatabase, org):
    api.rpc("set_compliance_mode", {"organization_id": org["id"], "enabled": False}, token=org["owner"].token)
    assert refusal(lambda: api.rpc("get_messages", {"conversation_id": org["chat"]},
                                   token=org["admin"].token)).status == 404  # fmt: skip
    switches = entries(database, org["id"], "organization_settings.compliance_mode")
    assert [values["compliance_mode"] for *_, values in switches] == [True, False]
    [row] = api.query("select archived_by_organization from conversations where id = %s", (org["chat"],),
                      token=org["alice"].token)  # fmt: skip
    assert row["archived_by_organization"] is False
