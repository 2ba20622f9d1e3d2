"""Each chat.* permission gates what its name says (issue 12 part 2, seed 004).

One row per permission of the table in docs/identity.md ("What each permission
gates"): the owner grants the permission to the member role and a member can
do the gated thing; the owner revokes it and the same call is refused.
chat.view is the member role's by default: revoked, a member neither reads nor
sends in the organization's conversations (get_messages, send_message, the
message tables, the realtime topic); chat.manage_group lets a group member
change the group's settings and membership.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from identity_support import organization_with, refusal
from messaging_support import send
from parley.db import Api, ApiError
from parley_dev.testing import TestDatabase


@pytest.fixture(scope="module")
def org(api: Api, database: TestDatabase) -> dict[str, Any]:
    owner, member, other = (database.create_user(n) for n in ("pg_owner", "pg_member", "pg_other"))
    organization = organization_with(api, database, owner, member=member, member2=other)
    arguments = {"organization_id": organization, "title": "Team", "member_ids": [member.id, other.id]}
    group = api.rpc("create_group_conversation", arguments, token=owner.token)["id"]
    direct = api.rpc("get_or_create_direct_conversation", {"organization_id": organization, "other_user_id": other.id},
                     token=member.token)["id"]  # fmt: skip
    return {"id": organization, "owner": owner, "member": member, "other": other, "group": group, "direct": direct}


def as_member(name: str, arguments: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Api, dict], Any]:
    return lambda api, o: api.rpc(name, arguments(o), token=o["member"].token)


def others_message(api: Api, o: dict[str, Any]) -> int:
    return send(api, o["other"], o["group"], f"message {uuid.uuid4()}")["id"]


# permission -> the gated call, made by a plain member.
GATED: dict[str, Callable[[Api, dict[str, Any]], Any]] = {
    "chat.view": as_member("send_message", lambda o: {"conversation_id": o["direct"], "body": "hi"}),
    "chat.create_group": as_member("create_group_conversation", lambda o: {"organization_id": o["id"], "title": "New"}),
    "chat.manage_group": as_member(
        "update_group_conversation", lambda o: {"conversation_id": o["group"], "description": str(uuid.uuid4())}
    ),
    "chat.delete": lambda api, o: api.rpc(
        "delete_message", {"message_id": others_message(api, o)}, token=o["member"].token
    ),
    "chat.moderate": lambda api, o: api.rpc(
        "pin_message", {"message_id": others_message(api, o)}, token=o["member"].token
    ),
    "chat.support_agent": as_member("get_support_queue", lambda o: {"organization_id": o["id"]}),
    "chat.send_notice": as_member(
        "send_notice", lambda o: {"organization_id": o["id"], "user_id": o["other"].id, "body": "Notice", "style": {}}
    ),
    "chat.audit_read": as_member("verify_audit_log", lambda o: {"organization_id": o["id"]}),
}


def set_member_permission(api: Api, o: dict[str, Any], permission: str, granted: bool) -> None:
    api.rpc("set_role_permission", {"organization_id": o["id"], "role": "member", "permission": permission,
                                    "granted": granted}, token=o["owner"].token)  # fmt: skip


@pytest.mark.parametrize("permission", list(GATED))
def test_granting_allows_and_revoking_refuses(api: Api, org, permission):
    call = GATED[permission]
    set_member_permission(api, org, permission, True)
    try:
        call(api, org)
        set_member_permission(api, org, permission, False)
        refused = refusal(lambda: call(api, org))
        assert (refused.status, refused.code) == (403, "42501"), refused
    finally:
        api.rpc("clear_role_permission", {"organization_id": org["id"], "role": "member", "permission": permission},
                token=org["owner"].token)  # fmt: skip


def test_chat_initiate_call_gates_can_call(api: Api, org):
    def decision() -> bool:
        return api.rpc("can_call", {"recipient_id": org["other"].id}, token=org["member"].token)["allowed"]

    # Calls need a connection (the recipient's default privacy); then the permission decides.
    api.rpc("request_connection", {"user_id": org["other"].id}, token=org["member"].token)
    api.rpc("accept_connection", {"user_id": org["member"].id}, token=org["other"].token)

    set_member_permission(api, org, "chat.initiate_call", True)
    assert decision() is True
    set_member_permission(api, org, "chat.initiate_call", False)
    assert decision() is False
    api.rpc("clear_role_permission", {"organization_id": org["id"], "role": "member",
                                      "permission": "chat.initiate_call"}, token=org["owner"].token)  # fmt: skip


def test_without_chat_view_a_member_reads_nothing(api: Api, org):
    """get_messages (403 no_permission), the message tables and the conversation's realtime topic."""
    member = org["member"]
    sent = send(api, org["other"], org["direct"], "can you read this?")
    api.rpc("toggle_reaction", {"message_id": sent["id"], "emoji": "👀"}, token=org["other"].token)

    def reads() -> dict[str, Any]:
        try:
            page: Any = len(api.rpc("get_messages", {"conversation_id": org["direct"]}, token=member.token))
        except ApiError as error:
            page = (error.status, error.details)
        [receive] = api.query("select parley_internal.my_realtime_can_receive(%s) as ok",
                              (f"conversation:{org['direct']}",), token=member.token)  # fmt: skip
        return {
            "get_messages": page,
            "table": len(
                api.query("select id from messages where conversation_id = %s", (org["direct"],), token=member.token)
            ),
            "realtime": receive["ok"],
            "reactions": len(
                api.query(
                    "select emoji from message_reactions where message_id = %s", (sent["id"],), token=member.token
                )
            ),
        }

    before = reads()
    assert before["get_messages"] > 0 and before["table"] > 0 and before["realtime"] is True
    assert before["reactions"] == 1
    set_member_permission(api, org, "chat.view", False)
    try:
        assert reads() == {"get_messages": (403, "no_permission"), "table": 0, "realtime": False, "reactions": 0}
    finally:
        api.rpc("clear_role_permission", {"organization_id": org["id"], "role": "member", "permission": "chat.view"},
                token=org["owner"].token)  # fmt: skip
    assert reads() == before


def test_chat_manage_group_also_covers_membership(api: Api, database: TestDatabase, org):
    newcomer = database.create_user("pg_newcomer")
    invitation = api.rpc(
        "create_invitation", {"organization_id": org["id"], "role": "member"}, token=org["owner"].token
    )
    api.rpc("accept_invitation", {"token": invitation["token"]}, token=newcomer.token)
    add = {"conversation_id": org["group"], "user_ids": [newcomer.id]}
    assert refusal(lambda: api.rpc("add_conversation_members", add, token=org["member"].token)).status == 403
    set_member_permission(api, org, "chat.manage_group", True)
    try:
        api.rpc("add_conversation_members", add, token=org["member"].token)
        api.rpc("remove_conversation_member", {"conversation_id": org["group"], "user_id": newcomer.id},
                token=org["member"].token)  # fmt: skip
    finally:
        api.rpc("clear_role_permission", {"organization_id": org["id"], "role": "member",
                                          "permission": "chat.manage_group"}, token=org["owner"].token)  # fmt: skip
