"""Attachments through the request path (issue 6): upload, authorization, claim on send, deletion.

Every upload goes through parley.storage.upload as the user (JWT, RLS), on the
local backend and on S3 (moto's server on 127.0.0.1). Conversations are set up
as the database owner; everything under test runs as the users.
"""

from __future__ import annotations

import io
import threading
import uuid

import psycopg
import pytest

from attachments_support import (
    add_member,
    group,
    make_backend,
    organization,
    owner_query,
    post_with_claim,
    send_message_rpc_exists,
)
from parley.db import ApiError
from parley.storage import (
    CHAT_FILES,
    LocalBackend,
    StorageRefusal,
    attachment_download_url,
    signed_download_url,
    upload,
)
from parley.workers import FileWorker, FileWorkerSettings
from storage_support import HTML, PDF, http_get, image_bytes


@pytest.fixture(scope="module")
def people(database):
    return {name: database.create_user(name) for name in ("alice", "bob", "carol", "mallory", "newbie")}


@pytest.fixture(scope="module")
def org(api, people):
    """Alice owns it; Bob, Carol and Newbie are members; Mallory is a stranger (no organization)."""
    return organization(api, people["alice"], people["bob"], people["carol"], people["newbie"])


@pytest.fixture
def chat(database, org, people):
    """A fresh group: Alice (owner), Bob and Carol (members)."""
    return group(database, org, people["alice"], people["bob"], people["carol"])


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    return make_backend(request.param, tmp_path, endpoint)


def put(api, backend, user, conversation, data=None, name="photo.png", claimed="image/png", **kwargs):
    source = io.BytesIO(image_bytes("PNG") if data is None else data)
    return upload(api, backend, token=user.token, conversation_id=conversation, file_name=name, source=source,
                  claimed_type=claimed, **kwargs)  # fmt: skip


def fetch(backend, url: str) -> bytes:
    """Download a signed URL: over HTTP for S3 (moto), through the signed-URL check for the local backend."""
    if isinstance(backend, LocalBackend):
        return backend.open_signed(url)[0]
    status, body = http_get(url)
    assert status == 200
    return body


def leftovers(database, backend, conversation) -> tuple[list[str], list[str], list[str]]:
    """(object keys in the backend, storage.objects names, attachment ids) under the conversation's folder."""
    keys = backend.keys("chat-files", f"{conversation}/")
    objects = [row["name"] for row in owner_query(
        database, "select name from storage.objects where bucket_id = 'chat-files' and name like %s",
        (f"{conversation}/%",))]  # fmt: skip
    rows = [str(row["id"]) for row in owner_query(
        database, "select id from public.attachments where conversation_id = %s", (conversation,))]  # fmt: skip
    return keys, objects, rows


def refusal(call) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


class PutSpy:
    """A backend wrapper that counts writes (to prove a refused upload never wrote bytes)."""

    def __init__(self, inner):
        self.inner, self.puts = inner, 0

    def put(self, bucket, key, data, content_type):
        self.puts += 1
        return self.inner.put(bucket, key, data, content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# -- upload ------------------------------------------------------------------------------------------------


def test_member_upload_records_object_and_attachment_row_with_sniffed_type(database, api, people, chat, backend):
    """A JPEG claimed as PNG is stored as image/jpeg at {conversation}/{user}/{uuid}-{safe name}; status uploaded."""
    alice = people["alice"]
    jpeg = image_bytes("JPEG", (40, 30))
    result = put(api, backend, alice, chat, jpeg, name="Été à Paris.png", claimed="image/png")
    row = result.attachment
    assert row is not None
    assert result.object.key == row["object_name"]
    assert row["object_name"].startswith(f"{chat}/{alice.id}/{result.object.id}-")
    assert row["object_name"].endswith("-Ete_a_Paris.png")
    assert (row["file_name"], row["content_type"], row["size_bytes"]) == ("Été à Paris.png", "image/jpeg", len(jpeg))
    assert (row["status"], row["message_id"], row["uploader_id"]) == ("uploaded", None, str(alice.id))
    assert backend.get("chat-files", row["object_name"]) == jpeg
    keys, objects, rows = leftovers(database, backend, chat)
    assert (keys, objects, rows) == ([row["object_name"]], [row["object_name"]], [row["id"]])


def test_a_stranger_cannot_upload_and_no_bytes_are_ever_written(database, api, people, chat, backend):
    """Mallory is in no organization: the storage.objects insert policy refuses (403) before any byte is written."""
    spy = PutSpy(backend)
    error = refusal(lambda: put(api, spy, people["mallory"], chat))
    assert (error.status, error.code) == (403, "42501")
    assert spy.puts == 0
    assert leftovers(database, backend, chat) == ([], [], [])


def test_a_member_of_an_announcement_group_cannot_upload_there(database, api, org, people, backend):
    """posting_policy admins: Bob may read but not post, so he cannot upload either."""
    announcements = group(database, org, people["alice"], people["bob"], posting_policy="admins")
    error = refusal(lambda: put(api, backend, people["bob"], announcements))
    assert (error.status, error.code) == (403, "42501")
    assert leftovers(database, backend, announcements) == ([], [], [])
    assert put(api, backend, people["alice"], announcements).attachment["status"] == "uploaded"


def test_uploading_to_a_conversation_that_does_not_exist_is_refused(database, api, people, backend):
    missing = uuid.uuid4()
    error = refusal(lambda: put(api, backend, people["alice"], missing))
    assert (error.status, error.code) == (403, "42501")
    assert leftovers(database, backend, missing) == ([], [], [])


def test_nobody_writes_into_another_users_folder(database, api, people, chat):
    """Bob inserts a storage.objects row in Alice's folder: refused by RLS; create_attachment refuses it too."""
    alice, bob = people["alice"], people["bob"]
    name = f"{chat}/{alice.id}/{uuid.uuid4()}-evil.png"
    error = refusal(lambda: api.query(
        "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) "
        "values ('chat-files', %s, %s, %s, '{\"size\": 1, \"mimetype\": \"image/png\"}')",
        (name, bob.id, str(bob.id)), token=bob.token, method="POST"))  # fmt: skip
    assert (error.status, error.code) == (403, "42501")
    spoofed_owner = f"{chat}/{bob.id}/{uuid.uuid4()}-mine.png"
    error = refusal(lambda: api.query(
        "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) "
        "values ('chat-files', %s, %s, %s, '{}')", (spoofed_owner, alice.id, str(alice.id)),
        token=bob.token, method="POST"))  # fmt: skip
    assert error.code == "42501", "owner_id must be the uploader"
    error = refusal(lambda: api.rpc("create_attachment", {"object_name": name}, token=bob.token))
    assert (error.status, error.code, error.details) == (400, "P0001", "invalid_object_name")
    assert owner_query(database, "select 1 from storage.objects where name like %s", (f"{chat}/%",)) == []


@pytest.mark.parametrize(
    ("data", "name", "claimed", "status", "reason"),
    [
        (PDF + b"\x00" * CHAT_FILES.file_size_limit, "big.pdf", "application/pdf", 413, "file_too_large"),
        (HTML, "cute-cat.png", "image/png", 415, "type_mismatch"),
        (b"MZ\x90\x00" + b"\x00" * 100, "setup.pdf", "application/pdf", 415, "type_mismatch"),
        (b"", "empty.txt", "text/plain", 400, "empty_file"),
        (PDF, "../../../etc/passwd", "application/pdf", 400, "bad_file_name"),
        (PDF, "..\\..\\boot.ini", "application/pdf", 400, "bad_file_name"),
        (PDF, "a\x00.pdf", "application/pdf", 400, "bad_file_name"),
    ],
    ids=["oversized", "html-as-png", "exe-as-pdf", "empty", "traversal", "backslash-traversal", "nul"],
)
def test_bad_uploads_are_refused_with_a_clear_reason_and_leave_nothing(
    database, api, people, chat, backend, data, name, claimed, status, reason
):
    spy = PutSpy(backend)
    with pytest.raises(StorageRefusal) as refused:
        put(api, spy, people["alice"], chat, data, name=name, claimed=claimed)
    assert (refused.value.status, refused.value.reason) == (status, reason)
    assert refused.value.body()["error"] == reason
    assert spy.puts == 0
    assert leftovers(database, backend, chat) == ([], [], [])


class FailingPut(LocalBackend):
    def put(self, bucket, key, data, content_type):
        super().put(bucket, key, data[:10], content_type)  # a partial write, then the failure
        raise OSError("connection reset while writing")


def test_a_failed_object_write_leaves_no_row_and_no_partial_object(database, api, people, chat, tmp_path):
    backend = FailingPut(tmp_path / "broken", "secret")
    with pytest.raises(OSError):
        put(api, backend, people["alice"], chat)
    assert leftovers(database, backend, chat) == ([], [], [])


def test_a_failure_after_the_rows_deletes_everything(database, api, people, chat, backend):
    """The in_transaction hook fails after storage.objects and attachments rows were inserted: all rolled back."""

    def fail(connection, stored):
        connection.execute("select 1/0")

    with pytest.raises(ApiError):
        put(api, backend, people["alice"], chat, in_transaction=fail)
    assert leftovers(database, backend, chat) == ([], [], [])

    class Boom(Exception):
        pass

    def python_error(connection, stored):
        raise Boom

    with pytest.raises(Boom):
        put(api, backend, people["alice"], chat, in_transaction=python_error)
    assert leftovers(database, backend, chat) == ([], [], [])


def test_a_failed_commit_deletes_the_written_object(database, api, people, chat, backend):
    """A deferred constraint fails at COMMIT, after the bytes were written: the object is deleted again."""
    owner_query(database, """
        create table if not exists public.commit_trap (id int primary key, ok boolean
          constraint commit_trap_ok check (ok) );
        alter table public.commit_trap enable row level security;
        create table if not exists public.commit_trap_ref (id int references public.commit_trap (id)
          deferrable initially deferred);
        create index if not exists commit_trap_ref_id on public.commit_trap_ref (id);
        grant insert on public.commit_trap_ref to authenticated;
    """)  # fmt: skip

    def deferred_violation(connection, stored):
        connection.execute("insert into public.commit_trap_ref (id) values (42)")

    with pytest.raises(ApiError) as raised:
        put(api, backend, people["alice"], chat, in_transaction=deferred_violation)
    assert raised.value.code == "23503"
    assert leftovers(database, backend, chat) == ([], [], [])
    owner_query(database, "drop table public.commit_trap_ref; drop table public.commit_trap")


# -- reading, signing, listing ---------------------------------------------------------------------------------


def test_unsent_uploads_are_private_to_the_uploader(database, api, people, chat, backend):
    """Before it is sent, only Alice sees her file: Bob (a member) cannot list, read the row or sign it."""
    result = put(api, backend, people["alice"], chat)
    key, attachment_id = result.object.key, result.attachment_id
    for user, visible in ((people["alice"], 1), (people["bob"], 0), (people["mallory"], 0)):
        assert len(api.query("select id from public.attachments where id = %s", (attachment_id,),
                             token=user.token)) == visible  # fmt: skip
        assert len(api.query("select name from storage.objects where bucket_id = 'chat-files' and name like %s",
                             (f"{chat}/%",), token=user.token)) == visible  # fmt: skip
    assert signed_download_url(api, backend, token=people["alice"].token, bucket="chat-files", key=key)
    with pytest.raises(StorageRefusal) as refused:
        signed_download_url(api, backend, token=people["bob"].token, bucket="chat-files", key=key)
    assert refused.value.reason == "not_found"
    with pytest.raises(StorageRefusal):
        attachment_download_url(api, backend, token=people["bob"].token, attachment_id=attachment_id)


def test_sent_files_are_readable_by_members_and_nobody_else(database, api, people, chat, backend):
    """After the send, Carol lists, reads and downloads the file; Mallory and anon see nothing and get no URL."""
    png = image_bytes("PNG", (12, 8))
    result = put(api, backend, people["alice"], chat, png)
    post_with_claim(database, chat, people["alice"], [result.attachment_id])
    carol = people["carol"]
    [row] = api.query("select object_name, message_id from public.attachments where conversation_id = %s", (chat,),
                      token=carol.token)  # fmt: skip
    assert row["message_id"] is not None
    url = attachment_download_url(api, backend, token=carol.token, attachment_id=result.attachment_id)
    assert fetch(backend, url) == png
    assert fetch(backend, signed_download_url(api, backend, token=carol.token, bucket="chat-files",
                                              key=row["object_name"])) == png  # fmt: skip
    assert api.query("select id from public.attachments where conversation_id = %s", (chat,),
                     token=people["mallory"].token) == []  # fmt: skip
    error = refusal(lambda: api.query("select id from public.attachments", token=None))
    assert (error.status, error.code) == (401, "42501"), "anon has no access to attachments at all"
    for token in (people["mallory"].token, None):
        assert api.query("select name from storage.objects where name like %s", (f"{chat}/%",), token=token) == []
        for sign in (
            lambda t: attachment_download_url(api, backend, token=t, attachment_id=result.attachment_id),
            lambda t: signed_download_url(api, backend, token=t, bucket="chat-files", key=row["object_name"]),
        ):
            with pytest.raises(StorageRefusal) as refused:
                sign(token)
            assert (refused.value.status, refused.value.reason) == (404, "not_found")


def test_a_since_joined_member_does_not_see_files_sent_before_they_joined(database, api, org, people, backend):
    room = group(database, org, people["alice"], people["bob"], history_visibility="since_joined")
    before = put(api, backend, people["alice"], room)
    post_with_claim(database, room, people["alice"], [before.attachment_id])
    add_member(database, room, people["newbie"])
    after = put(api, backend, people["alice"], room)
    post_with_claim(database, room, people["alice"], [after.attachment_id])
    newbie = people["newbie"].token
    seen = {row["id"] for row in api.query("select id from public.attachments where conversation_id = %s", (room,),
                                           token=newbie)}  # fmt: skip
    assert seen == {after.attachment_id}
    with pytest.raises(StorageRefusal):
        attachment_download_url(api, backend, token=newbie, attachment_id=before.attachment_id)
    assert attachment_download_url(api, backend, token=newbie, attachment_id=after.attachment_id)


# -- claiming (the send_message hook) -------------------------------------------------------------------------


def claim_error(database, chat, sender, ids) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as raised:
        post_with_claim(database, chat, sender, ids)
    return raised.value


def message_count(database, chat) -> int:
    return owner_query(database, "select count(*) as n from public.messages where conversation_id = %s",
                       (chat,))[0]["n"]  # fmt: skip


def test_claim_refuses_foreign_unknown_and_misplaced_files_and_rolls_the_message_back(
    database, api, org, people, chat, backend
):
    alice, bob = people["alice"], people["bob"]
    alices = put(api, backend, alice, chat).attachment_id
    elsewhere = group(database, org, alice, bob)
    other_room = put(api, backend, alice, elsewhere).attachment_id
    for sender, ids, reason in [
        (bob, [alices], "attachment_not_found"),
        (alice, [uuid.uuid4()], "attachment_not_found"),
        (alice, [other_room], "attachment_not_found"),
        (alice, [alices, alices], "invalid_attachment_ids"),
        (alice, [uuid.uuid4() for _ in range(11)], "too_many_attachments"),
    ]:
        error = claim_error(database, chat, sender, ids)
        assert error.diag.message_detail == reason
    assert message_count(database, chat) == 0, "every refused claim rolled its message back"
    rows = owner_query(database, "select message_id from public.attachments where id = any(%s)",
                       ([alices, other_room],))  # fmt: skip
    assert [row["message_id"] for row in rows] == [None, None]


def test_claim_keeps_the_order_and_refuses_a_second_message(database, api, people, chat, backend):
    alice = people["alice"]
    first, second = (put(api, backend, alice, chat).attachment_id for _ in range(2))
    message = post_with_claim(database, chat, alice, [second, first])
    rows = owner_query(database, "select id, position, message_id from public.attachments where message_id = %s "
                                 "order by position", (message,))  # fmt: skip
    assert [(row["id"], row["position"]) for row in rows] == [(second, 0), (first, 1)]
    error = claim_error(database, chat, alice, [first])
    assert (error.sqlstate, error.diag.message_detail) == ("PT409", "attachment_already_attached")
    assert message_count(database, chat) == 1


def test_claim_refuses_rejected_files(database, api, people, chat, backend):
    alice = people["alice"]
    attachment = put(api, backend, alice, chat).attachment_id
    owner_query(database, "update public.attachments set status = 'rejected', rejection_reason = 'type_mismatch', "
                          "processed_at = now() where id = %s", (attachment,))  # fmt: skip
    error = claim_error(database, chat, alice, [attachment])
    assert (error.sqlstate, error.diag.message_detail) == ("PT409", "attachment_rejected")


def test_two_concurrent_sends_of_the_same_file_attach_it_once(database, api, people, chat, backend):
    """Both sends lock the row; the second sees it attached and is refused with its whole message."""
    alice = people["alice"]
    attachment = put(api, backend, alice, chat).attachment_id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def send() -> None:
        barrier.wait()
        try:
            post_with_claim(database, chat, alice, [attachment])
            outcomes.append("sent")
        except psycopg.Error as error:
            outcomes.append(error.diag.message_detail or "")

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["attachment_already_attached", "sent"]
    assert message_count(database, chat) == 1


def test_claim_is_not_callable_through_the_api(api, people, chat):
    error = refusal(lambda: api.query("select parley_internal.claim_attachments(1, %s, %s, '{}')",
                                      (chat, people["alice"].id), token=people["alice"].token))  # fmt: skip
    assert error.code == "42501"


# -- deleting --------------------------------------------------------------------------------------------------


def test_delete_attachment_cancels_an_unsent_upload_only(database, api, people, chat, tmp_path):
    backend = make_backend("local", tmp_path)
    alice, bob = people["alice"], people["bob"]
    unsent = put(api, backend, alice, chat).attachment_id
    sent = put(api, backend, alice, chat).attachment_id
    post_with_claim(database, chat, alice, [sent])
    assert refusal(lambda: api.rpc("delete_attachment", {"attachment_id": str(unsent)}, token=bob.token)).details == (
        "attachment_not_found"
    )
    error = refusal(lambda: api.rpc("delete_attachment", {"attachment_id": str(sent)}, token=alice.token))
    assert (error.status, error.details) == (409, "attachment_attached")
    api.rpc("delete_attachment", {"attachment_id": str(unsent)}, token=alice.token)
    worker = FileWorker(FileWorkerSettings(database.url), backend)
    try:
        stats = worker.run_once(sweep=False)
    finally:
        worker.close()
    assert stats.files_deleted >= 1
    keys, objects, rows = leftovers(database, backend, chat)
    [sent_row] = owner_query(database, "select object_name, thumbnail_object_name from public.attachments "
                                       "where id = %s", (sent,))  # fmt: skip
    expected = sorted([sent_row["object_name"], sent_row["thumbnail_object_name"]])
    assert (rows, sorted(keys), sorted(objects)) == ([str(sent)], expected, expected)


@pytest.mark.parametrize("how", ["tombstone", "hard_delete", "conversation_deleted"])
def test_files_go_when_their_message_or_conversation_goes(database, api, org, people, tmp_path, how):
    """Decision (docs/storage.md): a tombstoned message loses its files like a hard-deleted one."""
    backend = make_backend("local", tmp_path)
    alice = people["alice"]
    room = group(database, org, alice, people["bob"])
    result = put(api, backend, alice, room)
    message = post_with_claim(database, room, alice, [result.attachment_id])
    worker = FileWorker(FileWorkerSettings(database.url), backend)
    try:
        worker.run_once(sweep=False)  # ready, with a thumbnail
        assert len(backend.keys("chat-files", f"{room}/")) == 2
        statement = {
            "tombstone": "update public.messages set deleted_at = now(), body = null where id = %(m)s",
            "hard_delete": "delete from public.messages where id = %(m)s",
            "conversation_deleted": "delete from public.conversations where id = %(c)s",
        }[how]
        owner_query(database, statement, {"m": message, "c": room})
        assert owner_query(database, "select id from public.attachments where id = %s", (result.attachment_id,)) == []
        with pytest.raises(StorageRefusal):
            signed_download_url(api, backend, token=people["bob"].token, bucket="chat-files", key=result.object.key)
        stats = worker.run_once(sweep=False)
    finally:
        worker.close()
    assert stats.files_deleted == 2
    assert leftovers(database, backend, room) == ([], [], [])


def test_storage_delete_policy_owner_or_moderator(database, api, org, people, tmp_path):
    """Bob (member) cannot delete Alice's object; Carol as group admin can; Alice can delete her own."""
    backend = make_backend("local", tmp_path)
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    room = group(database, org, alice, bob, carol)
    owner_query(database, "update public.conversation_members set role = 'admin' where conversation_id = %s "
                          "and user_id = %s", (room, carol.id))  # fmt: skip
    first, second = (put(api, backend, alice, room) for _ in range(2))
    post_with_claim(database, room, alice, [first.attachment_id, second.attachment_id])

    def delete(user, key):
        # As the Storage API deletes: the user's role, storage.allow_delete_query set (Supabase's delete protection).
        with api.request(user.token, method="DELETE") as connection:
            connection.execute("select set_config('storage.allow_delete_query', 'true', true)")
            return connection.execute(
                "delete from storage.objects where bucket_id = 'chat-files' and name = %s returning name", (key,)
            ).fetchall()

    assert delete(bob, first.object.key) == []
    assert delete(people["mallory"], first.object.key) == []
    assert delete(carol, first.object.key) == [{"name": first.object.key}]
    assert delete(alice, second.object.key) == [{"name": second.object.key}]


# -- end to end (Done when) -------------------------------------------------------------------------------------


def test_done_when_upload_send_download_thumbnail_and_a_stranger_refused_everywhere(
    database, api, people, chat, backend
):
    """Issue 6 "Done when": Alice uploads an image and sends it with send_message; Bob downloads it through a
    signed URL and its thumbnail exists; Mallory is refused at every step."""
    if not send_message_rpc_exists(database):
        pytest.skip("send_message (issue 4 messages work) has not landed on this branch yet")
    alice, bob, mallory = people["alice"], people["bob"], people["mallory"]
    photo = image_bytes("PNG", (1200, 800))
    uploaded = put(api, backend, alice, chat, photo, name="team photo.png")
    message = api.rpc("send_message", {"conversation_id": str(chat), "body": "our team",
                                       "attachment_ids": [str(uploaded.attachment_id)]}, token=alice.token)  # fmt: skip
    worker = FileWorker(FileWorkerSettings(database.url), backend)
    try:
        assert str(uploaded.attachment_id) in worker.run_once().processed
    finally:
        worker.close()
    [row] = api.query("select * from public.attachments where message_id = %s", (message["id"],), token=bob.token)
    assert (row["status"], row["width"], row["height"], row["content_type"]) == ("ready", 1200, 800, "image/png")
    assert fetch(backend, attachment_download_url(api, backend, token=bob.token, attachment_id=row["id"])) == photo
    thumbnail = fetch(backend, attachment_download_url(api, backend, token=bob.token, attachment_id=row["id"],
                                                       thumbnail=True))  # fmt: skip
    assert thumbnail[:3] == b"\xff\xd8\xff" and row["thumbnail_object_name"].startswith(f"{chat}/{alice.id}/")

    # Mallory: cannot upload, send, see, list or sign anything.
    assert refusal(lambda: put(api, backend, mallory, chat)).status == 403
    arguments = {"conversation_id": str(chat), "body": "hi", "attachment_ids": [str(row["id"])]}
    error = refusal(lambda: api.rpc("send_message", arguments, token=mallory.token))
    assert error.status in (403, 404)
    assert api.query("select 1 from public.attachments where id = %s", (row["id"],), token=mallory.token) == []
    assert api.query("select 1 from storage.objects where name like %s", (f"{chat}/%",), token=mallory.token) == []
    for thumbnail_wanted in (False, True):
        with pytest.raises(StorageRefusal):
            attachment_download_url(api, backend, token=mallory.token, attachment_id=row["id"],
                                    thumbnail=thumbnail_wanted)  # fmt: skip
    with pytest.raises(StorageRefusal):
        signed_download_url(api, backend, token=mallory.token, bucket="chat-files", key=row["object_name"])


def test_local_signed_urls_are_served_over_http_and_tampering_is_refused(database, api, people, chat, tmp_path):
    """make run's signed-URL server for the local backend: the member's URL works; a URL edited to point at
    another object, or an unsigned one, is refused."""
    from parley.cluster import free_port
    from parley.storage.server import SignedUrlServer

    backend = LocalBackend(tmp_path / "served", "served-secret", public_url=f"http://127.0.0.1:{free_port()}")
    server = SignedUrlServer(backend).start()
    try:
        pdf = put(api, backend, people["alice"], chat, PDF, name="a.pdf", claimed="application/pdf")
        png = put(api, backend, people["alice"], chat)
        post_with_claim(database, chat, people["alice"], [pdf.attachment_id, png.attachment_id])
        url = attachment_download_url(api, backend, token=people["bob"].token, attachment_id=pdf.attachment_id)
        assert http_get(url) == (200, PDF)
        assert http_get(url.replace(pdf.object.key, png.object.key))[0] == 400
        assert http_get(url.split("?")[0])[0] == 400
    finally:
        server.stop()


def test_deleting_a_sent_message_through_delete_message_removes_its_files(database, api, people, chat, tmp_path):
    """delete_message (tombstone) → the attachment row goes at once, the worker deletes bytes and thumbnail."""
    if not send_message_rpc_exists(database):
        pytest.skip("send_message/delete_message (issue 4 messages work) have not landed on this branch yet")
    backend = make_backend("local", tmp_path)
    alice, bob = people["alice"], people["bob"]
    uploaded = put(api, backend, alice, chat)
    message = api.rpc("send_message", {"conversation_id": str(chat), "body": "soon gone",
                                       "attachment_ids": [str(uploaded.attachment_id)]}, token=alice.token)  # fmt: skip
    worker = FileWorker(FileWorkerSettings(database.url), backend)
    try:
        worker.run_once(sweep=False)
        assert attachment_download_url(api, backend, token=bob.token, attachment_id=uploaded.attachment_id)
        api.rpc("delete_message", {"message_id": message["id"]}, token=alice.token)
        with pytest.raises(StorageRefusal):
            attachment_download_url(api, backend, token=bob.token, attachment_id=uploaded.attachment_id)
        assert worker.run_once(sweep=False).files_deleted == 2
    finally:
        worker.close()
    assert leftovers(database, backend, chat) == ([], [], [])
