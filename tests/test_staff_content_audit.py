"""Staff read a customer's content only through audited paths (issue 20 finding 6, seed 002 "admin override").

Support agents handle a customer's support conversation without being on its
roster. Its messages they read with get_messages, which writes
conversation.staff_read. Its attachments rows, chat-files objects (and so
download URLs) and its realtime topic (message bodies) used to be open to them
without any trace; now only within 15 minutes after such an audited read.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest

from identity_support import as_owner, organization_with
from messaging_support import send
from parley.db import Api
from parley.storage import LocalBackend, StorageRefusal, attachment_download_url, upload
from parley_dev.testing import TestDatabase
from storage_support import image_bytes


@pytest.fixture(scope="module")
def setting(api: Api, database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    owner, agent, customer = (database.create_user(name) for name in ("ca_owner", "ca_agent", "ca_customer"))
    organization = organization_with(api, database, owner, admin=agent, member=customer)
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=customer.token)
    backend = LocalBackend(tmp_path_factory.mktemp("content-audit") / "storage", "test-signing-secret")
    stored = upload(
        api, backend, token=customer.token, conversation_id=uuid.UUID(support["id"]), file_name="invoice.png",
        source=io.BytesIO(image_bytes("PNG")), claimed_type="image/png",
    )  # fmt: skip
    send(api, customer, support["id"], "My invoice", kind="image", attachment_ids=[stored.attachment["id"]])
    return {"agent": agent, "customer": customer, "support": support["id"], "backend": backend,
            "attachment": stored.attachment["id"], "organization": organization}  # fmt: skip


def staff_view(api: Api, s: dict[str, Any]) -> dict[str, Any]:
    """What the agent reads outside get_messages: attachment rows, chat-files objects, the conversation topic."""
    token = s["agent"].token
    try:
        url: str | None = attachment_download_url(api, s["backend"], token=token, attachment_id=s["attachment"])
    except StorageRefusal:
        url = None
    [receive] = api.query("select parley_internal.my_realtime_can_receive(%s) as ok", (f"conversation:{s['support']}",),
                          token=token)  # fmt: skip
    return {
        "attachments": len(api.query("select id from attachments", token=token)),
        "objects": len(api.query("select id from storage.objects where bucket_id = 'chat-files'", token=token)),
        "download": url is not None,
        "realtime": receive["ok"],
    }


CLOSED = {"attachments": 0, "objects": 0, "download": False, "realtime": False}
OPEN = {"attachments": 1, "objects": 1, "download": True, "realtime": True}


def test_staff_see_no_attachment_file_or_topic_before_an_audited_read(api: Api, setting):
    assert staff_view(api, setting) == CLOSED
    # The customer, a member, reads all of it without any audit.
    customer = setting["customer"]
    assert len(api.query("select id from attachments", token=customer.token)) == 1


def test_an_audited_read_opens_them_for_15_minutes(api: Api, database: TestDatabase, setting):
    agent = setting["agent"]
    page = api.rpc("get_messages", {"conversation_id": setting["support"]}, token=agent.token)
    assert [m["body"] for m in page] == ["My invoice"]
    traces = as_owner(
        database,
        "select count(*) from audit_log where action = 'conversation.staff_read' and actor_id = %s and object_id = %s",
        (agent.id, setting["support"]),
    )
    assert traces == [(1,)]
    assert staff_view(api, setting) == OPEN
    # 16 minutes later, without a newer audited read, they are closed again.
    as_owner(database, "update parley_internal.audit_staff_reads set recorded_at = now() - interval '16 minutes' "
                       "where user_id = %s", (agent.id,))  # fmt: skip
    assert staff_view(api, setting) == CLOSED
    api.rpc("get_messages", {"conversation_id": setting["support"]}, token=agent.token)
    assert staff_view(api, setting) == OPEN


def test_chat_upload_folder_names_the_member_or_support(api: Api, setting):
    """The docs/api.md example: a member uploads into their own folder, staff into support."""
    customer, agent = setting["customer"], setting["agent"]
    folder = api.rpc("chat_upload_folder", {"conversation_id": setting["support"]}, token=customer.token)
    assert folder == str(customer.id)
    assert api.rpc("chat_upload_folder", {"conversation_id": setting["support"]}, token=agent.token) == "support"
