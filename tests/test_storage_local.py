"""LocalBackend: durable files under the state folder, confined keys, HMAC-signed short-lived URLs."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from parley.storage import InvalidKey, LocalBackend, SignedUrlError, StorageBackend, backend_from_env

KEY = "11111111-1111-4111-8111-111111111111/22222222-2222-4222-8222-222222222222/abc-photo.png"


@pytest.fixture
def backend(tmp_path):
    return LocalBackend(tmp_path / "storage", "test-secret")


def test_round_trip_put_get_exists_delete(backend):
    assert isinstance(backend, StorageBackend)
    backend.put("chat-files", KEY, b"\x89PNG data", "image/png")
    assert backend.exists("chat-files", KEY)
    assert backend.get("chat-files", KEY) == b"\x89PNG data"
    assert backend.content_type("chat-files", KEY) == "image/png"
    assert backend.keys("chat-files") == [KEY]
    backend.delete("chat-files", KEY)
    backend.delete("chat-files", KEY)  # idempotent
    assert not backend.exists("chat-files", KEY)
    with pytest.raises(FileNotFoundError):
        backend.get("chat-files", KEY)


def test_writes_are_atomic_replacements_without_leftover_temporary_files(backend):
    backend.put("chat-files", KEY, b"one", "text/plain")
    backend.put("chat-files", KEY, b"two", "text/plain")
    assert backend.get("chat-files", KEY) == b"two"
    leftovers = [path for path in backend.root.rglob("*") if path.name.startswith(".tmp-")]
    assert leftovers == []


@pytest.mark.parametrize(
    "key",
    ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "a//b", "a/./b", "a\\..\\b", "a/\x00b", "", "a/.."],
)
def test_keys_that_could_escape_the_bucket_are_refused(backend, key):
    with pytest.raises(InvalidKey):
        backend.put("chat-files", key, b"x", "text/plain")
    assert not any(backend.root.parent.glob("outside*"))


@pytest.mark.parametrize("bucket", ["..", "../x", "a/b", "", "UPPER"])
def test_bucket_names_that_could_escape_are_refused(backend, bucket):
    with pytest.raises(InvalidKey):
        backend.get(bucket, "k")


def test_a_symlink_inside_the_bucket_cannot_lead_outside(backend, tmp_path):
    """Even a key that passes the syntax check is confined by resolving the real path."""
    (tmp_path / "elsewhere").mkdir()
    bucket_folder = backend.root / "objects" / "chat-files"
    bucket_folder.mkdir(parents=True)
    (bucket_folder / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidKey):
        backend.put("chat-files", "link/evil.txt", b"x", "text/plain")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_signed_url_has_supabase_shape_and_verifies(backend):
    backend.put("chat-files", KEY, b"hello", "text/plain")
    url = backend.signed_url("chat-files", KEY, 60)
    parts = urlsplit(url)
    assert parts.path == f"/storage/v1/object/sign/chat-files/{KEY}"
    assert parts.query.startswith("token=")
    granted = backend.verify_signed_url(url)
    assert (granted.bucket, granted.key) == ("chat-files", KEY)
    assert backend.open_signed(url) == (b"hello", "text/plain")


def test_signed_url_expires(backend):
    url = backend.signed_url("chat-files", KEY, 60)
    granted = backend.verify_signed_url(url)
    with pytest.raises(SignedUrlError) as refused:
        backend.verify_signed_url(url, now=granted.expires_at)
    assert refused.value.reason == "expired"
    assert backend.verify_signed_url(url, now=time.time()).key == KEY


def test_tampered_urls_are_rejected(backend):
    url = backend.signed_url("chat-files", KEY, 60)
    other_key = KEY.replace("abc-photo", "xyz-photo")
    path_swapped = url.replace(KEY, other_key)
    token = url.split("token=", 1)[1]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (
        path_swapped,
        url.replace("token=" + token, "token=" + flipped),
        url.replace("/chat-files/", "/avatars/"),
        url.split("?")[0],
        url.replace("/object/sign/", "/object/public/"),
    ):
        with pytest.raises(SignedUrlError) as refused:
            backend.verify_signed_url(bad)
        assert refused.value.reason == "invalid", bad


def test_a_url_signed_with_another_secret_is_rejected(backend, tmp_path):
    forger = LocalBackend(tmp_path / "storage", "another-secret")
    with pytest.raises(SignedUrlError):
        backend.verify_signed_url(forger.signed_url("chat-files", KEY, 60))


def test_signed_url_lifetime_is_bounded(backend):
    with pytest.raises(ValueError):
        backend.signed_url("chat-files", KEY, 0)
    with pytest.raises(ValueError):
        backend.signed_url("chat-files", KEY, 10**9)


def test_environment_selects_the_backend(tmp_path):
    local = backend_from_env("jwt", {"PARLEY_STORAGE_DIR": str(tmp_path / "s")})
    assert isinstance(local, LocalBackend) and local.root == (tmp_path / "s").resolve()
    s3 = backend_from_env(
        "jwt",
        {
            "PARLEY_STORAGE_BACKEND": "s3",
            "PARLEY_S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "PARLEY_S3_BUCKET_PREFIX": "parley-",
            "PARLEY_S3_ACCESS_KEY_ID": "k",
            "PARLEY_S3_SECRET_ACCESS_KEY": "s",
        },
    )
    assert s3.s3_bucket("chat-files") == "parley-chat-files"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        backend_from_env("jwt", {"PARLEY_STORAGE_BACKEND": "ftp"})
