"""Data-subject rights through the request path (issue 18): export_my_data, the export archive, erase_user (by
RPC and by deleting the auth.users row), and the audit chain staying verifiable after erasure.

Set-up of conversations as the owner (messaging_support); everything asserted as the users or service_role.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import GENEROUS_LIMITS, group, send, set_limits
from parley import tokens
from parley.db import Api
from parley.storage import LocalBackend, upload
from parley.workers import FileWorker, FileWorkerSettings
from parley.workers.data_export import export_archive
from parley_dev.testing import TestDatabase


def service_token(database: TestDatabase) -> str:
    return tokens.mint(database.jwt_secret, role="service_role")


@pytest.fixture
def backend(tmp_path: Path, database: TestDatabase) -> LocalBackend:
    return LocalBackend(tmp_path / "storage", database.jwt_secret)


def world(api: Api, database: TestDatabase, tag: str) -> dict[str, Any]:
    """An organization with an owner, an admin and the data subject ``alice``, and a group of the three."""
    people = {name: database.create_user(f"dr_{tag}_{name}") for name in ("owner", "admin", "alice", "bob")}
    organization = organization_with(api, database, people["owner"], admin=people["admin"], member=people["alice"],
                                     member2=people["bob"])  # fmt: skip
    set_limits(database, organization, **GENEROUS_LIMITS)
    room = group(database, organization, people["owner"], people["alice"], people["bob"], admins=(people["admin"],))
    return {"people": people, "organization": organization, "room": room}


def alice_leaves_traces(api: Api, backend: LocalBackend, w: dict[str, Any]) -> dict[str, Any]:
    """Alice sends, edits, reacts, uploads a file, is mentioned, reports, and has her role changed (audited
    with her request's IP); returns what she made."""
    alice, bob, owner = w["people"]["alice"], w["people"]["bob"], w["people"]["owner"]
    headers = {"x-forwarded-for": "198.51.100.77", "user-agent": "AliceBrowser/1.0"}
    first = api.rpc("send_message", {"conversation_id": w["room"], "body": "my secret plan"}, token=alice.token,
                    headers=headers)  # fmt: skip
    api.rpc("edit_message", {"message_id": first["id"], "body": "my secret plan v2"}, token=alice.token,
            headers=headers)  # fmt: skip
    bobs = send(api, bob, w["room"], "hi alice", mentioned_user_ids=[str(alice.id)])
    api.rpc("toggle_reaction", {"message_id": bobs["id"], "emoji": "👍"}, token=alice.token)
    uploaded = upload(api, backend, token=alice.token, conversation_id=uuid.UUID(w["room"]), file_name="cv.txt",
                      source=b"alice's curriculum vitae", claimed_type="text/plain")  # fmt: skip
    file_args = {"conversation_id": w["room"], "body": "my cv", "kind": "file",
                 "attachment_ids": [str(uploaded.attachment_id)]}  # fmt: skip
    with_file = api.rpc("send_message", file_args, token=alice.token)
    api.rpc("report_message", {"message_id": bobs["id"], "reason": "spam", "note": "alice thinks so"},
            token=alice.token)  # fmt: skip
    api.rpc("set_member_role", {"organization_id": w["organization"], "user_id": str(alice.id), "role": "admin"},
            token=owner.token)  # fmt: skip
    call = api.rpc("start_call", {"conversation_id": w["room"], "media": "audio"}, token=alice.token)
    return {"message": first, "file_message": with_file, "attachment": str(uploaded.attachment_id), "bobs": bobs,
            "call": call}  # fmt: skip


def test_export_my_data_holds_everything_about_the_caller_and_nothing_of_others(
    api: Api, database: TestDatabase, backend: LocalBackend
):
    w = world(api, database, "export")
    made = alice_leaves_traces(api, backend, w)
    alice = w["people"]["alice"]
    document = api.rpc("export_my_data", {}, token=alice.token)
    assert document["format"] == "parley.export.v1" and document["user_id"] == str(alice.id)
    assert document["profile"]["id"] == str(alice.id) and document["account"]["email"] == alice.email
    assert [o["organization_id"] for o in document["organizations"]] == [w["organization"]]
    [membership] = document["conversations"]
    assert membership["conversation_id"] == w["room"] and "last_read_message_id" in membership["read_state"]
    bodies = {m["id"]: m["body"] for m in document["messages"]}
    assert bodies == {made["message"]["id"]: "my secret plan v2", made["file_message"]["id"]: "my cv"}
    assert [e["previous_body"] for e in document["message_edits"]] == ["my secret plan"]
    assert [(r["message_id"], r["emoji"]) for r in document["reactions"]] == [(made["bobs"]["id"], "👍")]
    assert [m["message_id"] for m in document["mentions"]] == [made["bobs"]["id"]]
    [attachment] = document["attachments"]
    assert attachment["file_name"] == "cv.txt" and attachment["object_name"].startswith(w["room"])
    assert [r["note"] for r in document["reports_filed"]] == ["alice thinks so"]
    [call] = document["calls"]
    assert (call["call_id"], call["initiated_by_me"], call["my_state"]) == (made["call"]["id"], True, "joined")
    # Bob's export has none of Alice's messages.
    bobs_export = api.rpc("export_my_data", {}, token=w["people"]["bob"].token)
    assert [m["body"] for m in bobs_export["messages"]] == ["hi alice"]
    assert [(c["call_id"], c["initiated_by_me"], c["my_state"]) for c in bobs_export["calls"]] == [
        (made["call"]["id"], False, "ringing")
    ]
    # A read-only request works (GET: supabase-js rpc(..., { get: true })).
    assert api.rpc("export_my_data", {}, token=alice.token, method="GET")["user_id"] == str(alice.id)
    assert refusal(lambda: api.rpc("export_my_data", {})).status == 401


def test_the_export_archive_holds_the_document_signed_urls_and_the_files(
    api: Api, database: TestDatabase, backend: LocalBackend, tmp_path: Path
):
    w = world(api, database, "archive")
    alice_leaves_traces(api, backend, w)
    result = export_archive(api, backend, token=w["people"]["alice"].token, destination=tmp_path / "alice.zip")
    assert (result.files_written, result.files_missing) == (1, 0)
    with zipfile.ZipFile(result.path) as archive:
        document = json.loads(archive.read("export.json"))
        [attachment] = document["attachments"]
        assert archive.read(attachment["archive_path"]) == b"alice's curriculum vitae"
    data, _ = backend.open_signed(attachment["download_url"])
    assert data == b"alice's curriculum vitae"


def audit_entries(database: TestDatabase, organization: str) -> list[dict[str, Any]]:
    with psycopg.connect(database.url) as connection:
        connection.row_factory = psycopg.rows.dict_row
        return connection.execute(
            "select id, action, actor_id, host(ip) as ip, user_agent, old_values, new_values, erased "
            "from audit_log where organization_id = %s order by id",
            (organization,),
        ).fetchall()


def test_erase_user_tombstones_messages_deletes_files_anonymises_and_the_audit_chain_still_verifies(
    api: Api, database: TestDatabase, backend: LocalBackend
):
    w = world(api, database, "erase")
    made = alice_leaves_traces(api, backend, w)
    alice, owner = w["people"]["alice"], w["people"]["owner"]
    before = audit_entries(database, w["organization"])
    assert any(e["ip"] == "198.51.100.77" and e["actor_id"] == alice.id for e in before)
    assert any((e["old_values"] or {}).get("body") == "my secret plan" for e in before)
    assert api.rpc("verify_audit_log", {"organization_id": w["organization"]}, token=owner.token)["ok"] is True

    summary = api.rpc("erase_user", {"user_id": str(alice.id)}, token=service_token(database))
    assert summary["messages_tombstoned"] == 2 and summary["profile_anonymised"] is True
    assert summary["attachments_removed"] == 0, "the tombstones took their files with them"
    assert summary["audit_values_erased"] > 0

    # Messages: tombstones; her reaction and the mention of her are gone.
    rows = as_owner(database, "select body, deleted_at is not null from messages where sender_id = %s", (alice.id,))
    assert rows and all(body is None and deleted for body, deleted in rows)
    assert as_owner(database, "select 1 from message_reactions where user_id = %s", (alice.id,)) == []
    assert as_owner(database, "select 1 from message_mentions where user_id = %s", (alice.id,)) == []
    assert as_owner(database, "select 1 from message_edits where message_id = %s", (made["message"]["id"],)) == []
    # Files: through the storage path (attachment row gone, object queued, then purged by the file worker).
    assert as_owner(database, "select 1 from attachments where id = %s", (made["attachment"],)) == []
    [(object_name,)] = as_owner(database, "select object_name from parley_internal.file_deletions "
                                          "where object_name like %s", (f"{w['room']}/{alice.id}/%",))  # fmt: skip
    worker = FileWorker(FileWorkerSettings(database.url), backend)
    try:
        worker.run_once()
    finally:
        worker.close()
    assert not backend.exists("chat-files", object_name)
    # Profile anonymised.
    [profile] = api.query("select username, display_name, avatar_url, bio from profiles where id = %s",
                          (alice.id,), token=owner.token)  # fmt: skip
    assert profile["display_name"] == "Deleted user" and profile["username"].startswith("deleted_")
    # Reports: the reporter is gone from hers.
    assert as_owner(database, "select 1 from message_reports where reporter_id = %s", (alice.id,)) == []

    # The audit trail: her IP, user agent and the bodies are replaced by their hashes...
    after = {e["id"]: e for e in audit_entries(database, w["organization"])}
    text = json.dumps([after[e["id"]] for e in before], default=str)
    for secret in ("198.51.100.77", "AliceBrowser", "my secret plan", "my cv"):
        assert secret not in text, f"{secret!r} survived the erasure"
    erased_edit = next(after[e["id"]] for e in before if (e["old_values"] or {}).get("body") == "my secret plan")
    digest = erased_edit["erased"]["old_values.body"]
    assert erased_edit["old_values"]["body"] == "sha256:" + digest and len(digest) == 64
    # ...the erasure itself is recorded...
    assert [e["action"] for e in after.values()][-1] == "user.erase"
    # ...and every chain still verifies.
    assert api.rpc("verify_audit_log", {"organization_id": w["organization"]}, token=owner.token)["ok"] is True
    chains = api.rpc("verify_all_audit_chains", {}, token=service_token(database))
    assert [c["chain"] for c in chains if not c["ok"]] == []
    # Idempotent: a second erasure finds nothing more to tombstone.
    again = api.rpc("erase_user", {"user_id": str(alice.id)}, token=service_token(database))
    assert again["messages_tombstoned"] == 0 and again["profile_anonymised"] is False


def test_an_organization_that_must_keep_messages_keeps_them(api: Api, database: TestDatabase, backend: LocalBackend):
    w = world(api, database, "keep")
    api.query("update organization_settings set keep_messages_on_erasure = true where organization_id = %s "
              "returning 1", (w["organization"],), token=w["people"]["owner"].token, method="PATCH")  # fmt: skip
    made = alice_leaves_traces(api, backend, w)
    summary = api.rpc("erase_user", {"user_id": str(w["people"]["alice"].id)}, token=service_token(database))
    assert (summary["messages_tombstoned"], summary["messages_kept"]) == (0, 2)
    [(body,)] = as_owner(database, "select body from messages where id = %s", (made["message"]["id"],))
    assert body == "my secret plan v2"
    assert as_owner(database, "select 1 from attachments where id = %s", (made["attachment"],)) != []


def test_deleting_the_auth_user_erases_first(api: Api, database: TestDatabase, backend: LocalBackend):
    w = world(api, database, "auth")
    alice = w["people"]["alice"]
    api.rpc("send_message", {"conversation_id": w["room"], "body": "delete me"}, token=alice.token,
            headers={"x-forwarded-for": "203.0.113.9"})  # fmt: skip
    api.rpc("set_member_role", {"organization_id": w["organization"], "user_id": str(alice.id), "role": "guest"},
            token=w["people"]["owner"].token)  # fmt: skip
    as_owner(database, "delete from auth.users where id = %s", (alice.id,))
    [(source, summary)] = as_owner(database, "select source, summary from parley_internal.user_erasures "
                                             "where user_id = %s", (alice.id,))  # fmt: skip
    assert source == "auth_user_deleted" and summary["messages_tombstoned"] == 1
    [(body,)] = as_owner(database, "select body from messages where sender_id = %s", (alice.id,))
    assert body is None
    chains = api.rpc("verify_all_audit_chains", {}, token=service_token(database))
    assert [c["chain"] for c in chains if not c["ok"]] == []


def test_only_service_role_erases_and_the_guard_still_refuses_any_other_audit_change(api: Api, database: TestDatabase):
    w = world(api, database, "guard")
    alice, owner = w["people"]["alice"], w["people"]["owner"]
    assert refusal(lambda: api.rpc("erase_user", {"user_id": str(alice.id)}, token=owner.token)).status == 403
    missing = refusal(lambda: api.rpc("erase_user", {"user_id": str(uuid.uuid4())}, token=service_token(database)))
    assert (missing.status, missing.details) == (404, "user_not_found")
    api.rpc("set_member_role", {"organization_id": w["organization"], "user_id": str(alice.id), "role": "guest"},
            token=owner.token, headers={"x-forwarded-for": "192.0.2.44"})  # fmt: skip
    [(entry_id,)] = as_owner(database, "select max(id) from audit_log where organization_id = %s",
                             (w["organization"],))  # fmt: skip
    # A "fake erasure": a value replaced by something that is not its digest.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_owner(database, """update audit_log set new_values = jsonb_set(new_values, '{role}', '"sha256:00"'),
                              erased = '{"new_values.role": "00"}' where id = %s""", (entry_id,))  # fmt: skip
    # Changing a value without marking it erased.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_owner(database, 'update audit_log set new_values = \'{"role": "owner"}\' where id = %s', (entry_id,))
    # The real erasure of that entry is allowed and keeps the chain intact.
    [(count,)] = as_owner(database, "select parley_internal.audit_erase_values(%s, true, null)", (entry_id,))
    assert count >= 2
    assert api.rpc("verify_audit_log", {"organization_id": w["organization"]}, token=owner.token)["ok"] is True


def test_parley_worker_export_writes_the_archive(api: Api, database: TestDatabase, tmp_path: Path):
    """The worker command: the files of a user, read from the storage backend the environment names."""
    import subprocess
    import sys

    w = world(api, database, "cli")
    storage = LocalBackend(tmp_path / "storage", database.jwt_secret)
    alice_leaves_traces(api, storage, w)
    output = tmp_path / "out" / "alice.zip"
    completed = subprocess.run(
        [sys.executable, "-m", "parley.cli", "worker", "export", "--user", w["people"]["alice"].email,
         "--output", str(output), "--database-url", database.url],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "PARLEY_STATE_DIR": str(tmp_path / "state"),
             "PARLEY_STORAGE_DIR": str(tmp_path / "storage")},
    )  # fmt: skip
    assert "1 file(s), 0 missing" in completed.stdout
    with zipfile.ZipFile(output) as archive:
        document = json.loads(archive.read("export.json"))
        assert archive.read(document["attachments"][0]["archive_path"]) == b"alice's curriculum vitae"


def test_the_auth_users_trigger_is_optional_where_the_role_may_not_create_it(database: TestDatabase):
    """Hosted Supabase caveat: applying the trigger block as a role without the privilege warns, never fails."""
    block = (Path(__file__).parents[1] / "functions" / "data_rights.sql").read_text()
    do_block = block[block.index("do $auth_trigger$") :]
    role = f"parley_probe_{uuid.uuid4().hex[:8]}"
    warnings: list[str] = []
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.add_notice_handler(lambda diagnostic: warnings.append(diagnostic.message_primary or ""))
        connection.execute(f"create role {role} nologin")
        try:
            connection.execute(f"grant usage on schema auth, parley_internal to {role}")
            connection.execute(f"grant {role} to current_user")  # not a superuser on the hosted target
            connection.execute(f"set role {role}")
            connection.execute(do_block)
            connection.execute("reset role")
            triggers = connection.execute(
                "select tgname from pg_trigger where tgrelid = 'auth.users'::regclass and not tgisinternal"
            ).fetchall()
        finally:
            connection.execute("reset role")
            connection.execute(f"revoke all on schema auth, parley_internal from {role}")
            connection.execute(f"drop role {role}")
    assert any("may not create a trigger on auth.users" in warning for warning in warnings)
    assert ("parley_on_auth_user_deleted",) in triggers, "the owner's trigger is left as it was"
