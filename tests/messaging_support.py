"""Shared set-up for the messaging tests (issue 4 messages, issue 5 send limits).

Conversations are set-up, not the behaviour under test here, so they are
created as the database owner with exactly the settings a test needs (the
conversation RPCs have their own tests); members join through
parley_internal.add_conversation_member (roster row plus inbox entry, history
cut-off for since_joined groups), as the conversation RPCs do.
Everything the tests assert goes through the request path (``api``).
"""

from __future__ import annotations

import uuid
from typing import Any

from identity_support import as_owner
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser

GENEROUS_LIMITS = {"send_rate_per_minute": 100000, "send_burst": 10000}


def set_limits(database: TestDatabase, organization: str, **settings: Any) -> None:
    """Set-up: change the organization's settings row (max_message_length, send_burst, ...)."""
    assignments = ", ".join(f"{name} = %s" for name in settings)
    as_owner(database, f"update organization_settings set {assignments} where organization_id = %s",
             (*settings.values(), organization))  # fmt: skip


def add_member(database: TestDatabase, conversation: str, user: TestUser, role: str = "member") -> None:
    """Set-up: parley_internal.add_conversation_member (roster row, inbox entry, since_joined cut-off)."""
    as_owner(
        database, "select parley_internal.add_conversation_member(%s, %s, %s, null)", (conversation, user.id, role)
    )


def _conversation(database: TestDatabase, organization: str, kind: str, **columns: Any) -> str:
    names = ["organization_id", "kind", *columns]
    placeholders = ", ".join(["%s"] * len(names))
    [(conversation,)] = as_owner(
        database,
        f"insert into conversations ({', '.join(names)}) values ({placeholders}) returning id::text",
        (organization, kind, *columns.values()),
    )
    return conversation


def group(
    database: TestDatabase,
    organization: str,
    owner: TestUser,
    *members: TestUser,
    admins: tuple[TestUser, ...] = (),
    **settings: Any,
) -> str:
    """Set-up: a group owned by ``owner`` with ``admins`` and ``members``; settings are conversations columns."""
    conversation = _conversation(database, organization, "group", title=settings.pop("title", "Test group"),
                                 created_by=owner.id, **settings)  # fmt: skip
    add_member(database, conversation, owner, "owner")
    for admin in admins:
        add_member(database, conversation, admin, "admin")
    for member in members:
        add_member(database, conversation, member)
    return conversation


def direct(database: TestDatabase, organization: str, first: TestUser, second: TestUser) -> str:
    """Set-up: the direct conversation of two users."""
    low, high = sorted([str(first.id), str(second.id)])
    conversation = _conversation(database, organization, "direct", direct_key=f"{low}:{high}", created_by=first.id)
    add_member(database, conversation, first)
    add_member(database, conversation, second)
    return conversation


def support(database: TestDatabase, organization: str, user: TestUser) -> str:
    """Set-up: ``user``'s support conversation (staff reach it by permission, not membership)."""
    conversation = _conversation(database, organization, "support", subject_user_id=user.id, support_status="open",
                                 created_by=user.id)  # fmt: skip
    add_member(database, conversation, user)
    return conversation


def persona_direct(database: TestDatabase, organization: str, persona: str, user: TestUser) -> str:
    """Set-up: the direct conversation between ``user`` and a persona."""
    conversation = _conversation(database, organization, "direct", persona_id=persona, subject_user_id=user.id,
                                 direct_key=f"persona:{persona}:{user.id}", created_by=user.id)  # fmt: skip
    add_member(database, conversation, user)
    return conversation


def persona(api: Api, organization: str, owner: TestUser, name: str = "Support Team") -> str:
    """A persona of the organization, created through the API by an owner."""
    return api.rpc("create_persona", {"organization_id": organization, "display_name": name}, token=owner.token)["id"]


def send(api: Api, user: TestUser, conversation: str, body: str | None = "hello", **arguments: Any) -> dict[str, Any]:
    """send_message as ``user``; returns the message row."""
    return api.rpc("send_message", {"conversation_id": conversation, "body": body, **arguments}, token=user.token)


def new_id() -> str:
    """A fresh client_msg_id."""
    return str(uuid.uuid4())


def message_count(database: TestDatabase, conversation: str) -> int:
    """How many messages the conversation has, counted by the owner."""
    [(count,)] = as_owner(database, "select count(*) from messages where conversation_id = %s", (conversation,))
    return count


def organization_message_count(database: TestDatabase, organization: str) -> int:
    """How many messages the organization's conversations have, counted by the owner."""
    [(count,)] = as_owner(database, """
        select count(*) from messages m join conversations c on c.id = m.conversation_id
        where c.organization_id = %s""", (organization,))  # fmt: skip
    return count
