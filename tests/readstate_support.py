"""Set-up for the read state, inbox and presence tests (issue 4).

Fixtures are written as the database owner (conversations, rosters, inbox
entries, messages, mentions) so that each test controls exactly which rows
exist; the behaviour under test always goes through the request path (``api``).
Joining goes through ``parley_internal.add_conversation_member`` (functions/conversations.sql):
a new member's watermarks start at the conversation's newest message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from identity_support import as_owner
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser


def add_member(database: TestDatabase, conversation: str, user: TestUser, role: str = "member") -> None:
    """Put ``user`` on the roster with an inbox entry through parley_internal.add_conversation_member."""
    as_owner(
        database, "select parley_internal.add_conversation_member(%s, %s, %s, null)", (conversation, user.id, role)
    )


def remove_member(database: TestDatabase, conversation: str, user: TestUser) -> None:
    """Take ``user`` off the roster (the inbox entry goes with it)."""
    as_owner(database, "delete from conversation_members where conversation_id = %s and user_id = %s",
             (conversation, user.id))  # fmt: skip


def make_conversation(
    database: TestDatabase,
    organization: str,
    members: Iterable[TestUser],
    *,
    kind: str = "group",
    title: str | None = "Group",
    avatar_url: str | None = None,
    history_visibility: str = "shared",
    subject: TestUser | None = None,
    persona: str | None = None,
) -> str:
    """Create a conversation of ``kind`` with ``members`` (the first one owns a group); return its id."""
    members = list(members)
    direct_key = None
    if kind == "direct":
        direct_key = (
            f"persona:{persona}:{subject.id}" if persona else "users:" + ":".join(sorted(str(m.id) for m in members))
        )
    [(conversation,)] = as_owner(
        database,
        """
        insert into conversations (organization_id, kind, title, avatar_url, subject_user_id, persona_id, direct_key,
                                   history_visibility, support_status)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id::text
        """,
        (organization, kind, title if kind == "group" else None, avatar_url, subject.id if subject else None, persona,
         direct_key, history_visibility, "open" if kind == "support" else None),
    )  # fmt: skip
    for index, member in enumerate(members):
        add_member(database, conversation, member, "owner" if kind == "group" and index == 0 else "member")
    return conversation


def post(
    database: TestDatabase,
    conversation: str,
    sender: TestUser | None,
    body: str = "hello",
    *,
    persona: str | None = None,
    mentions: Iterable[TestUser] = (),
    kind: str = "text",
) -> int:
    """Insert a message (user, persona when ``persona`` is set, or system when ``sender`` is None); return its id."""
    sender_kind = "persona" if persona else ("user" if sender else "system")
    [(message,)] = as_owner(
        database,
        """
        insert into messages (conversation_id, sender_kind, sender_id, persona_id, kind, body)
        values (%s, %s, %s, %s, %s, %s) returning id
        """,
        (conversation, sender_kind, sender.id if sender_kind == "user" else None, persona, kind, body),
    )
    for user in mentions:
        as_owner(database, "insert into message_mentions (user_id, conversation_id, message_id) values (%s, %s, %s)",
                 (user.id, conversation, message))  # fmt: skip
    return message


def post_many(database: TestDatabase, conversation: str, sender: TestUser | None, count: int) -> list[int]:
    """Insert ``count`` messages at once; return their ids in order."""
    rows = as_owner(
        database,
        """
        insert into messages (conversation_id, sender_kind, sender_id, body)
        select %s, case when %s::uuid is null then 'system' else 'user' end, %s::uuid, 'bulk ' || n
        from generate_series(1, %s) n returning id
        """,
        (conversation, sender.id if sender else None, sender.id if sender else None, count),
    )
    return sorted(row[0] for row in rows)


def tombstone(database: TestDatabase, message: int) -> None:
    """Delete a message the way delete_message leaves it: a tombstone."""
    as_owner(database, "update messages set body = null, deleted_at = now() where id = %s", (message,))


def counts(api: Api, user: TestUser) -> dict[str, dict[str, Any]]:
    """get_unread_counts of ``user``, keyed by conversation id."""
    return {row["conversation_id"]: row for row in api.rpc("get_unread_counts", token=user.token)}


def inbox(api: Api, user: TestUser, **args: Any) -> list[dict[str, Any]]:
    """One get_inbox page of ``user``."""
    return api.rpc("get_inbox", args, token=user.token)


def entry(database: TestDatabase, conversation: str, user: TestUser) -> dict[str, Any]:
    """The stored inbox entry (read as the owner, to check what an RPC wrote)."""
    [row] = as_owner(
        database,
        """
        select last_read_message_id, last_delivered_message_id, archived_at_message_id, hidden_at_message_id,
               muted_until, pinned_at, notification_level
        from inbox_entries where conversation_id = %s and user_id = %s
        """,
        (conversation, user.id),
    )
    names = ("last_read_message_id", "last_delivered_message_id", "archived_at_message_id", "hidden_at_message_id",
             "muted_until", "pinned_at", "notification_level")  # fmt: skip
    return dict(zip(names, row, strict=True))
