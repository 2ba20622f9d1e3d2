"""upload() and signed_download_url() through the request path, on the local and S3 backends.

storage.objects policies here are SCRATCH policies created as the database
owner (insert/select only inside your own ``{conversation}/{you}/`` folder);
the real conversation-membership policies come with the conversations work.
Every refusal is checked to leave nothing behind: no object, no row (seeds 002/003).
"""

from __future__ import annotations

import io
import uuid

import psycopg
import pytest

from parley.db import ApiError
from parley.storage import CHAT_FILES, LocalBackend, S3Backend, S3Settings, StorageRefusal, signed_download_url, upload
from storage_support import HTML, PDF, http_get, image_bytes, webm_bytes

BLOCKED_CONVERSATION = uuid.UUID("00000000-0000-4000-8000-00000000dead")

SCRATCH_POLICIES = f"""
create policy scratch_insert_own_folder on storage.objects for insert to authenticated
  with check (bucket_id = 'chat-files' and (storage.foldername(name))[2] = (select auth.uid())::text);
create policy scratch_select_own_folder on storage.objects for select to authenticated
  using (bucket_id = 'chat-files' and (storage.foldername(name))[2] = (select auth.uid())::text);
create policy scratch_deny_blocked on storage.objects as restrictive for insert to authenticated
  with check ((storage.foldername(name))[1] <> '{BLOCKED_CONVERSATION}');
"""


@pytest.fixture(scope="module", autouse=True)
def scratch_policies(database):
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(SCRATCH_POLICIES)


@pytest.fixture(scope="module")
def alice(database):
    return database.create_user("alice")


@pytest.fixture(scope="module")
def bob(database):
    return database.create_user("bob")


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalBackend(tmp_path / "storage", "test-signing-secret")
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3Backend(
        S3Settings(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing",
                   bucket_prefix=f"t{uuid.uuid4().hex[:12]}-")
    )  # fmt: skip
    s3.ensure_bucket("chat-files")
    return s3


def object_rows(database, prefix: str = "") -> list[dict]:
    """storage.objects rows, read as the owner (set-up/inspection only)."""
    with psycopg.connect(database.url, row_factory=psycopg.rows.dict_row) as connection:
        return connection.execute(
            "select * from storage.objects where bucket_id = 'chat-files' and name like %s order by name",
            (prefix + "%",),
        ).fetchall()


def assert_nothing_left(database, backend, conversation):
    assert backend.keys("chat-files", f"{conversation}/") == []
    assert object_rows(database, f"{conversation}/") == []


def fetch(backend, url: str) -> bytes:
    if isinstance(backend, LocalBackend):
        return backend.open_signed(url)[0]
    status, body = http_get(url)
    assert status == 200
    return body


def test_upload_stores_object_and_row_then_signed_url_downloads_the_bytes(database, api, alice, backend):
    """Seed 002 layout {conversation}/{user}/{uuid}-{name}; metadata as Supabase Storage writes it."""
    conversation = uuid.uuid4()
    png = image_bytes("PNG")
    result = upload(api, backend, token=alice.token, conversation_id=conversation, file_name="Holiday pic.png",
                    source=io.BytesIO(png), claimed_type="image/png")  # fmt: skip
    stored = result.object
    assert stored.key.startswith(f"{conversation}/{alice.id}/{stored.id}-")
    assert stored.key.endswith("-Holiday_pic.png")
    assert backend.get("chat-files", stored.key) == png
    [row] = object_rows(database, f"{conversation}/")
    assert (row["id"], row["name"], row["owner"], row["owner_id"]) == (stored.id, stored.key, alice.id, str(alice.id))
    assert row["metadata"]["size"] == len(png) and row["metadata"]["mimetype"] == "image/png"
    assert row["metadata"]["eTag"] == f'"{stored.etag}"'
    url = signed_download_url(api, backend, token=alice.token, bucket="chat-files", key=stored.key)
    assert fetch(backend, url) == png


def test_voice_note_keeps_its_precise_audio_type(api, alice, backend):
    result = upload(api, backend, token=alice.token, conversation_id=uuid.uuid4(), file_name="voice.webm",
                    source=webm_bytes(), claimed_type="audio/webm")  # fmt: skip
    assert result.object.content_type == "audio/webm"


def test_oversized_upload_is_refused_before_reading_it_all_and_leaves_nothing(database, api, alice, backend):
    """Seed 003: 10 MiB per file. The stream is read only up to the limit + 1 byte."""
    conversation = uuid.uuid4()
    source = io.BytesIO(PDF + b"\x00" * CHAT_FILES.file_size_limit + b"tail" * 1000)
    with pytest.raises(StorageRefusal) as refused:
        upload(api, backend, token=alice.token, conversation_id=conversation, file_name="big.pdf",
               source=source, claimed_type="application/pdf")  # fmt: skip
    assert (refused.value.status, refused.value.reason) == (413, "file_too_large")
    assert source.tell() <= CHAT_FILES.file_size_limit + 1
    with pytest.raises(StorageRefusal):
        upload(api, backend, token=alice.token, conversation_id=conversation, file_name="big.pdf", source=b"",
               claimed_type="application/pdf", declared_size=CHAT_FILES.file_size_limit + 1)  # fmt: skip
    assert_nothing_left(database, backend, conversation)


def test_html_dressed_as_png_is_refused_and_leaves_nothing(database, api, alice, backend):
    """Seed 003 type validation: the bytes decide, not the name or the claimed type."""
    conversation = uuid.uuid4()
    with pytest.raises(StorageRefusal) as refused:
        upload(api, backend, token=alice.token, conversation_id=conversation, file_name="cute-cat.png",
               source=HTML, claimed_type="image/png")  # fmt: skip
    assert (refused.value.status, refused.value.reason) == (415, "type_mismatch")
    assert_nothing_left(database, backend, conversation)


@pytest.mark.parametrize("name", ["../../../etc/passwd", "..\\..\\boot.ini", f"../{uuid.uuid4()}/x.png", "a\x00.png"])
def test_path_traversal_names_are_refused_and_leave_nothing(database, api, alice, backend, name):
    conversation = uuid.uuid4()
    with pytest.raises(StorageRefusal) as refused:
        upload(api, backend, token=alice.token, conversation_id=conversation, file_name=name,
               source=image_bytes("PNG"), claimed_type="image/png")  # fmt: skip
    assert (refused.value.status, refused.value.reason) == (400, "bad_file_name")
    assert_nothing_left(database, backend, conversation)


def test_rls_refusing_the_row_deletes_the_written_object(database, api, alice, backend):
    """A DB failure after the object write leaves no orphan (scratch restrictive policy denies the insert)."""
    with pytest.raises(ApiError) as refused:
        upload(api, backend, token=alice.token, conversation_id=BLOCKED_CONVERSATION, file_name="doc.pdf",
               source=PDF, claimed_type="application/pdf")  # fmt: skip
    assert refused.value.status == 403 and refused.value.code == "42501"
    assert_nothing_left(database, backend, BLOCKED_CONVERSATION)


def test_hook_runs_in_the_same_transaction_and_its_failure_undoes_everything(database, api, alice, backend):
    """The in_transaction hook (where the attachment row will go) shares the request transaction."""
    conversation = uuid.uuid4()

    def see_own_row(connection, stored):
        row = connection.execute("select name, auth.uid() as uid from storage.objects where id = %s",
                                 (stored.id,)).fetchone()  # fmt: skip
        return row

    result = upload(api, backend, token=alice.token, conversation_id=conversation, file_name="a.pdf", source=PDF,
                    claimed_type="application/pdf", in_transaction=see_own_row)  # fmt: skip
    assert result.extra == {"name": result.object.key, "uid": alice.id}

    def fail(connection, stored):
        connection.execute("select 1/0")

    other = uuid.uuid4()
    with pytest.raises(ApiError):
        upload(api, backend, token=alice.token, conversation_id=other, file_name="a.pdf", source=PDF,
               claimed_type="application/pdf", in_transaction=fail)  # fmt: skip
    assert_nothing_left(database, backend, other)


class BrokenBackend(LocalBackend):
    def put(self, bucket, key, data, content_type):
        raise OSError("disk full")


def test_a_failed_object_write_writes_no_row(database, api, alice, tmp_path):
    conversation = uuid.uuid4()
    with pytest.raises(OSError):
        upload(api, BrokenBackend(tmp_path, "s"), token=alice.token, conversation_id=conversation,
               file_name="a.pdf", source=PDF, claimed_type="application/pdf")  # fmt: skip
    assert object_rows(database, f"{conversation}/") == []


class SigningSpy:
    """Wraps a backend and records every signing request."""

    def __init__(self, inner):
        self.inner, self.signed = inner, []

    def signed_url(self, bucket, key, expires_in):
        self.signed.append(key)
        return self.inner.signed_url(bucket, key, expires_in)


def test_a_user_without_access_gets_no_signed_url(database, api, alice, bob, backend):
    """Bob cannot see Alice's storage.objects row, so nothing is signed for him; anon neither."""
    result = upload(api, backend, token=alice.token, conversation_id=uuid.uuid4(), file_name="private.pdf",
                    source=PDF, claimed_type="application/pdf")  # fmt: skip
    spy = SigningSpy(backend)
    for token in (bob.token, None):
        with pytest.raises(StorageRefusal) as refused:
            signed_download_url(api, spy, token=token, bucket="chat-files", key=result.object.key)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.reason) == (404, "not_found")
    with pytest.raises(StorageRefusal):
        signed_download_url(api, spy, token=alice.token, bucket="chat-files", key="missing/key.pdf")  # type: ignore[arg-type]
    assert spy.signed == []


def test_anonymous_callers_cannot_upload(database, api, backend, server):
    conversation = uuid.uuid4()
    with pytest.raises(StorageRefusal):
        upload(api, backend, token=database.token("anon"), conversation_id=conversation, file_name="a.pdf",
               source=PDF, claimed_type="application/pdf")  # fmt: skip
    assert_nothing_left(database, backend, conversation)


def test_s3_backend_round_trip_and_presigned_get_over_http(s3_endpoint):
    """The S3 backend's presigned SigV4 GET works over HTTP against the S3-protocol server on 127.0.0.1."""
    s3 = S3Backend(S3Settings(endpoint_url=s3_endpoint, access_key_id="testing", secret_access_key="testing",
                              bucket_prefix="presign-"))  # fmt: skip
    s3.ensure_bucket("chat-files")
    s3.put("chat-files", "c/u/o-file.txt", b"bytes over http", "text/plain")
    url = s3.signed_url("chat-files", "c/u/o-file.txt", 60)
    assert "X-Amz-Signature=" in url and "/presign-chat-files/c/u/o-file.txt" in url
    assert http_get(url) == (200, b"bytes over http")
    assert s3.exists("chat-files", "c/u/o-file.txt")
    s3.delete("chat-files", "c/u/o-file.txt")
    assert not s3.exists("chat-files", "c/u/o-file.txt")
    with pytest.raises(FileNotFoundError):
        s3.get("chat-files", "c/u/o-file.txt")
