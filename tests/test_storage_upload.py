"""upload() and signed_download_url() through the request path, on the local and S3 backends.

Uploads go to a real group conversation under the real storage.objects
policies (storage/chat_files.sql); tests/test_attachments.py covers the
authorization matrix, claims and failures around the attachment row. Here:
the storage.objects row as Supabase Storage writes it, streaming limits,
precise audio types, anonymous callers and the S3 backend over HTTP (seeds 002/003).
"""

from __future__ import annotations

import io

import psycopg
import pytest

from attachments_support import group, make_backend, organization
from parley.storage import CHAT_FILES, LocalBackend, S3Backend, S3Settings, StorageRefusal, signed_download_url, upload
from storage_support import PDF, http_get, image_bytes, webm_bytes


@pytest.fixture(scope="module")
def alice(database):
    return database.create_user("alice")


@pytest.fixture(scope="module")
def bob(database):
    return database.create_user("bob")


@pytest.fixture(scope="module")
def org(api, alice):
    return organization(api, alice)


@pytest.fixture
def conversation(database, org, alice):
    return group(database, org, alice)


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    return make_backend(request.param, tmp_path, endpoint)


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


def test_upload_stores_object_and_row_then_signed_url_downloads_the_bytes(database, api, alice, conversation, backend):
    """Seed 002 layout {conversation}/{user}/{uuid}-{name}; metadata as Supabase Storage writes it."""
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


def test_voice_note_keeps_its_precise_audio_type(api, alice, conversation, backend):
    result = upload(api, backend, token=alice.token, conversation_id=conversation, file_name="voice.webm",
                    source=webm_bytes(), claimed_type="audio/webm")  # fmt: skip
    assert result.object.content_type == "audio/webm"


def test_oversized_upload_is_refused_before_reading_it_all_and_leaves_nothing(
    database, api, alice, conversation, backend
):
    """Seed 003: 10 MiB per file. The stream is read only up to the limit + 1 byte."""
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


class SigningSpy:
    """Wraps a backend and records every signing request."""

    def __init__(self, inner):
        self.inner, self.signed = inner, []

    def signed_url(self, bucket, key, expires_in):
        self.signed.append(key)
        return self.inner.signed_url(bucket, key, expires_in)


def test_a_user_without_access_gets_no_signed_url(database, api, alice, bob, conversation, backend):
    """Bob cannot see Alice's storage.objects row, so nothing is signed for him; anon neither."""
    result = upload(api, backend, token=alice.token, conversation_id=conversation, file_name="private.pdf",
                    source=PDF, claimed_type="application/pdf")  # fmt: skip
    spy = SigningSpy(backend)
    for token in (bob.token, None):
        with pytest.raises(StorageRefusal) as refused:
            signed_download_url(api, spy, token=token, bucket="chat-files", key=result.object.key)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.reason) == (404, "not_found")
    with pytest.raises(StorageRefusal):
        signed_download_url(api, spy, token=alice.token, bucket="chat-files", key="missing/key.pdf")  # type: ignore[arg-type]
    assert spy.signed == []


def test_anonymous_callers_cannot_upload(database, api, conversation, backend, server):
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
