"""Where object bytes live: one small protocol, a local and an S3 implementation.

Both map a Supabase bucket id and an object key (the ``storage.objects.name``)
to bytes. The local backend is durable (atomic, fsynced writes) and signs its
own short-lived URLs; the S3 backend talks to any S3-compatible endpoint
(Supabase Storage's S3 endpoint, MinIO, AWS) and presigns GET URLs with boto3.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jwt

from parley.storage.errors import InvalidKey, SignedUrlError

SIGNED_URL_PATH = "/storage/v1/object/sign/"
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@runtime_checkable
class StorageBackend(Protocol):
    """What the upload and download paths need from a place that keeps bytes."""

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``bucket``/``key`` (replacing any object there)."""
        ...

    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when there is none."""
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    def exists(self, bucket: str, key: str) -> bool:
        """Whether an object is stored under ``bucket``/``key``."""
        ...

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in ``bucket`` starting with ``prefix``, sorted."""
        ...

    def signed_url(self, bucket: str, key: str, expires_in: int) -> str:
        """A URL anyone holding it can GET the object with, for ``expires_in`` seconds."""
        ...


def check_key(bucket: str, key: str) -> PurePosixPath:
    """Refuse bucket names and keys that could leave their bucket; return the key as a path.

    Keys are relative, ``/``-separated, with no empty, ``.`` or ``..`` segment,
    no backslash and no control character.
    """
    if not _BUCKET_NAME.match(bucket):
        raise InvalidKey(f"invalid bucket name {bucket!r}")
    if not key or len(key) > 1024 or key.startswith("/") or "\\" in key:
        raise InvalidKey(f"invalid object key {key!r}")
    if any(ord(character) < 32 or ord(character) == 127 for character in key):
        raise InvalidKey(f"object key {key!r} contains control characters")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidKey(f"object key {key!r} has an empty, '.' or '..' segment")
    return PurePosixPath(*parts)


# -- local ---------------------------------------------------------------


@dataclass(frozen=True)
class SignedObject:
    """What a verified signed URL grants: one object, until ``expires_at`` (epoch seconds)."""

    bucket: str
    key: str
    expires_at: int


class LocalBackend:
    """Objects as files under ``root/objects/<bucket>/<key>``, metadata beside them.

    Writes go to a temporary file in the target folder, are fsynced, renamed
    over the target and the folder fsynced: a crash leaves the old object or
    the new one, never half of one. Keys are confined to their bucket's folder
    twice: by :func:`check_key` and by resolving the final path.

    Signed URLs have Supabase Storage's shape,
    ``{public_url}/storage/v1/object/sign/<bucket>/<key>?token=<jwt>``; the token
    is an HS256 JWT over ``{"url": "<bucket>/<key>", "iat", "exp"}`` signed
    with a key derived from ``signing_secret`` (the stack's JWT secret or a
    dedicated key), so it is useless as an API token.
    """

    def __init__(self, root: Path, signing_secret: str, *, public_url: str = "http://127.0.0.1:54321") -> None:
        if not signing_secret:
            raise ValueError("a signing secret is required")
        self.root = Path(root).resolve()
        self.public_url = public_url.rstrip("/")
        self._signing_key = hmac.new(signing_secret.encode(), b"parley-storage-signed-url", hashlib.sha256).digest()

    # -- paths --

    def _path(self, area: str, bucket: str, key: str) -> Path:
        relative = check_key(bucket, key)
        base = (self.root / area / bucket).resolve()
        path = (base / relative).resolve()
        if not path.is_relative_to(base) or path == base:
            raise InvalidKey(f"object key {key!r} escapes bucket {bucket!r}")
        return path

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._path("objects", bucket, key)

    def _meta_path(self, bucket: str, key: str) -> Path:
        path = self._path("meta", bucket, key)
        return path.with_name(path.name + ".json")

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    # -- protocol --

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Write the object, then its metadata (content type, size, MD5), each atomically."""
        path = self._object_path(bucket, key)
        meta = self._meta_path(bucket, key)
        self._write_atomically(path, data)
        record = {"content_type": content_type, "size": len(data), "md5": hashlib.md5(data).hexdigest()}
        self._write_atomically(meta, json.dumps(record).encode())

    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes (``FileNotFoundError`` when missing)."""
        return self._object_path(bucket, key).read_bytes()

    def content_type(self, bucket: str, key: str) -> str:
        """The content type the object was stored with."""
        return str(json.loads(self._meta_path(bucket, key).read_text())["content_type"])

    def delete(self, bucket: str, key: str) -> None:
        """Remove object and metadata; a missing object is fine."""
        self._object_path(bucket, key).unlink(missing_ok=True)
        self._meta_path(bucket, key).unlink(missing_ok=True)

    def exists(self, bucket: str, key: str) -> bool:
        """Whether the object file exists."""
        return self._object_path(bucket, key).is_file()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every stored key of ``bucket`` starting with ``prefix`` (temporary files excluded)."""
        check_key(bucket, "probe")
        base = self.root / "objects" / bucket
        if not base.is_dir():
            return []
        found = (path.relative_to(base).as_posix() for path in self._files(base))
        return sorted(key for key in found if key.startswith(prefix))

    @staticmethod
    def _files(base: Path) -> Iterator[Path]:
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path

    def signed_url(self, bucket: str, key: str, expires_in: int) -> str:
        """A Supabase-shaped signed URL for the object, valid ``expires_in`` seconds."""
        check_key(bucket, key)
        if not 0 < expires_in <= MAX_SIGNED_URL_SECONDS:
            raise ValueError(f"expires_in must be between 1 and {MAX_SIGNED_URL_SECONDS} seconds")
        now = int(time.time())
        token = jwt.encode({"url": f"{bucket}/{key}", "iat": now, "exp": now + expires_in}, self._signing_key, "HS256")
        return f"{self.public_url}{SIGNED_URL_PATH}{quote(bucket)}/{quote(key)}?token={token}"

    def verify_signed_url(self, url: str, *, now: float | None = None) -> SignedObject:
        """Check a signed URL (path, signature, expiry); return what it grants.

        Raises :class:`SignedUrlError` with reason ``invalid`` (wrong shape,
        tampered path or token) or ``expired``.
        """
        parts = urlsplit(url)
        if not parts.path.startswith(SIGNED_URL_PATH):
            raise SignedUrlError("invalid", "not a signed object URL")
        bucket, _, key = unquote(parts.path[len(SIGNED_URL_PATH) :]).partition("/")
        token = parse_qs(parts.query).get("token", [""])[0]
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._signing_key, algorithms=["HS256"], options={"verify_exp": False, "require": ["exp", "url"]}
            )
        except jwt.PyJWTError as error:
            raise SignedUrlError("invalid", f"bad token: {error}") from error
        if not hmac.compare_digest(str(claims["url"]), f"{bucket}/{key}"):
            raise SignedUrlError("invalid", "the token was signed for another object")
        expires_at = int(claims["exp"])
        if (time.time() if now is None else now) >= expires_at:
            raise SignedUrlError("expired", "the signed URL has expired")
        try:
            check_key(bucket, key)
        except InvalidKey as error:
            raise SignedUrlError("invalid", str(error)) from error
        return SignedObject(bucket, key, expires_at)

    def open_signed(self, url: str, *, now: float | None = None) -> tuple[bytes, str]:
        """Serve a signed URL: verify it, then return the object's bytes and content type."""
        granted = self.verify_signed_url(url, now=now)
        return self.get(granted.bucket, granted.key), self.content_type(granted.bucket, granted.key)


# -- S3 --------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    """How to reach an S3-compatible endpoint."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    path_style: bool = True
    bucket_prefix: str = ""


class S3Backend:
    """Objects in an S3-compatible service; Parley bucket ``b`` is S3 bucket ``{bucket_prefix}b``.

    Works against Supabase Storage's S3 endpoint
    (``https://<project>.supabase.co/storage/v1/s3``, path-style), MinIO and AWS.
    """

    def __init__(self, settings: S3Settings, *, client: Any = None) -> None:
        self.settings = settings
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=settings.endpoint_url,
                region_name=settings.region,
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key,
                aws_session_token=settings.session_token,
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path" if settings.path_style else "virtual"},
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        self.client = client

    def s3_bucket(self, bucket: str) -> str:
        """The S3 bucket name that holds Parley bucket ``bucket``."""
        check_key(bucket, "probe")
        return f"{self.settings.bucket_prefix}{bucket}"

    def ensure_bucket(self, bucket: str) -> None:
        """Create the S3 bucket when missing (for local set-ups and tests)."""
        from botocore.exceptions import ClientError

        name = self.s3_bucket(bucket)
        try:
            self.client.head_bucket(Bucket=name)
        except ClientError:
            self.client.create_bucket(Bucket=name)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """PUT the object with its content type."""
        check_key(bucket, key)
        self.client.put_object(Bucket=self.s3_bucket(bucket), Key=key, Body=data, ContentType=content_type)

    def get(self, bucket: str, key: str) -> bytes:
        """GET the object's bytes (``FileNotFoundError`` when missing)."""
        from botocore.exceptions import ClientError

        check_key(bucket, key)
        try:
            response = self.client.get_object(Bucket=self.s3_bucket(bucket), Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{bucket}/{key}") from error
            raise
        body = response["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def delete(self, bucket: str, key: str) -> None:
        """DELETE the object (S3 answers success for a missing key too)."""
        check_key(bucket, key)
        self.client.delete_object(Bucket=self.s3_bucket(bucket), Key=key)

    def exists(self, bucket: str, key: str) -> bool:
        """HEAD the object."""
        from botocore.exceptions import ClientError

        check_key(bucket, key)
        try:
            self.client.head_object(Bucket=self.s3_bucket(bucket), Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """List keys with ``prefix`` (all pages)."""
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[str] = []
        for page in paginator.paginate(Bucket=self.s3_bucket(bucket), Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def signed_url(self, bucket: str, key: str, expires_in: int) -> str:
        """A presigned GET URL (SigV4), valid ``expires_in`` seconds."""
        check_key(bucket, key)
        if not 0 < expires_in <= MAX_SIGNED_URL_SECONDS:
            raise ValueError(f"expires_in must be between 1 and {MAX_SIGNED_URL_SECONDS} seconds")
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.s3_bucket(bucket), "Key": key}, ExpiresIn=expires_in
            )
        )
