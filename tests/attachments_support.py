"""Set-up shared by the attachment and file worker tests: conversations, backends, sends."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from parley.db import Api
from parley.storage import LocalBackend, S3Backend, S3Settings, StorageBackend
from parley_dev.testing import TestDatabase, TestUser


def owner_query(database: TestDatabase, statement: str, params: Any = None) -> list[dict[str, Any]]:
    """Set-up and inspection only: run SQL as the database owner."""
    with psycopg.connect(database.url, autocommit=True, row_factory=dict_row) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def organization(api: Api, owner: TestUser, *members: TestUser) -> uuid.UUID:
    """An organization (plan chat) owned by ``owner``; each of ``members`` joins as a member."""
    created = api.rpc("create_organization", {"name": "Files Org"}, token=owner.token)["id"]
    for member in members:
        invitation = api.rpc("create_invitation", {"organization_id": created, "role": "member"}, token=owner.token)
        api.rpc("accept_invitation", {"token": invitation["token"]}, token=member.token)
    return uuid.UUID(str(created))


def group(
    database: TestDatabase,
    organization_id: uuid.UUID,
    owner: TestUser,
    *members: TestUser,
    posting_policy: str = "everyone",
    history_visibility: str = "shared",
) -> uuid.UUID:
    """A group conversation with roster and inbox entries, created as the database owner (set-up)."""
    conversation = uuid.uuid4()
    owner_query(
        database,
        """
        insert into public.conversations (id, organization_id, kind, title, posting_policy, history_visibility,
                                          created_by)
        values (%s, %s, 'group', 'Files', %s, %s, %s)
        """,
        (conversation, organization_id, posting_policy, history_visibility, owner.id),
    )
    for user, role in [(owner, "owner"), *((member, "member") for member in members)]:
        add_member(database, conversation, user, role)
    return conversation


def add_member(database: TestDatabase, conversation: uuid.UUID, user: TestUser, role: str = "member") -> None:
    """Put ``user`` on the roster from the newest message on (set-up)."""
    owner_query(
        database,
        """
        with newest as (select coalesce(max(id), 0) as id from public.messages where conversation_id = %(c)s)
        insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id)
        select %(c)s, %(u)s, %(r)s,
               case when c.history_visibility = 'since_joined' then newest.id else 0 end
        from public.conversations c, newest where c.id = %(c)s
        """,
        {"c": conversation, "u": user.id, "r": role},
    )
    owner_query(database, "insert into public.inbox_entries (user_id, conversation_id) values (%s, %s)",
                (user.id, conversation))  # fmt: skip


def send_message_rpc_exists(database: TestDatabase) -> bool:
    """Whether send_message (issue 4's messages work) is in this database yet."""
    return bool(owner_query(database, "select 1 from pg_proc where proname = 'send_message' and "
                                      "pronamespace = 'public'::regnamespace"))  # fmt: skip


def post_with_claim(
    database: TestDatabase, conversation: uuid.UUID, sender: TestUser, attachment_ids: list[Any], body: str = "files"
) -> int:
    """What send_message does for attachments, in one transaction as the owner: insert the message, claim.

    Used to test claim_attachments itself; the end-to-end test goes through send_message.
    """
    with psycopg.connect(database.url, row_factory=dict_row) as connection, connection.transaction():
        row = connection.execute(
            """
            insert into public.messages (conversation_id, sender_kind, sender_id, kind, body)
            values (%s, 'user', %s, 'file', %s) returning id
            """,
            (conversation, sender.id, body),
        ).fetchone()
        assert row is not None
        connection.execute(
            "select parley_internal.claim_attachments(%s, %s, %s, %s::uuid[])",
            (row["id"], conversation, sender.id, [str(each) for each in attachment_ids]),
        )
        return int(row["id"])


def make_backend(kind: str, tmp_path: Any, s3_endpoint: str | None = None) -> StorageBackend:
    """A fresh local backend under ``tmp_path``, or an S3 backend on its own buckets of the moto server."""
    if kind == "local":
        return LocalBackend(tmp_path / "storage", "test-signing-secret")
    assert s3_endpoint is not None
    s3 = S3Backend(
        S3Settings(endpoint_url=s3_endpoint, access_key_id="testing", secret_access_key="testing",
                   bucket_prefix=f"t{uuid.uuid4().hex[:12]}-")
    )  # fmt: skip
    s3.ensure_bucket("chat-files")
    return s3
