"""Uploads and signed downloads of chat files, authorized through the request path.

Upload order (no orphans either way):

1. refuse bad names, read at most ``file_size_limit + 1`` bytes, sniff the type;
2. write the object to the backend (nothing in the database yet: a failed
   write leaves no row);
3. in ONE request transaction as the uploading user
   (``parley.db.Api.request(token)``), insert the ``storage.objects`` row, so
   storage.objects RLS decides, then run ``in_transaction`` (where later work
   inserts the attachment row);
4. if step 3 fails in any way, delete the object and re-raise.

Downloads: the user's request selects the ``storage.objects`` row under RLS;
only when it is visible is a short-lived URL signed.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Generic, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from parley.db import Api
from parley.storage.backends import StorageBackend
from parley.storage.buckets import CHAT_FILES, Bucket
from parley.storage.errors import StorageRefusal
from parley.storage.names import chat_file_key, check_file_name
from parley.storage.sniff import decide

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
DEFAULT_URL_SECONDS = 60
MAX_URL_SECONDS = 3600

T = TypeVar("T")
Source = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]


@dataclass(frozen=True)
class StoredObject:
    """An object written to the backend and recorded in ``storage.objects``."""

    id: uuid.UUID
    bucket: str
    key: str
    owner: uuid.UUID
    file_name: str
    content_type: str
    size: int
    etag: str

    @property
    def conversation_id(self) -> str:
        """The first folder of the key (chat-files layout)."""
        return self.key.split("/", 1)[0]


@dataclass(frozen=True)
class UploadResult(Generic[T]):
    """The stored object and whatever the ``in_transaction`` hook returned."""

    object: StoredObject
    extra: T | None


InTransaction = Callable[[psycopg.Connection[dict[str, Any]], StoredObject], T]
"""A hook run inside the upload's request transaction, after the storage.objects insert."""


def read_capped(source: Source, limit: int, *, declared_size: int | None = None) -> bytes:
    """Read ``source`` but never more than ``limit + 1`` bytes; refuse ``file_too_large`` past ``limit``.

    ``declared_size`` (a Content-Length) refuses before reading anything.
    """
    too_large = StorageRefusal("file_too_large", f"Files may be at most {limit} bytes.")
    if declared_size is not None and declared_size > limit:
        raise too_large
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) > limit:
            raise too_large
        return bytes(source)
    buffer = bytearray()
    if hasattr(source, "read"):
        reader: IO[bytes] = source  # type: ignore[assignment]
        while chunk := reader.read(min(CHUNK_SIZE, limit + 1 - len(buffer))):
            buffer.extend(chunk)
            if len(buffer) > limit:
                raise too_large
        return bytes(buffer)
    for chunk in source:  # type: ignore[union-attr]
        buffer.extend(chunk)
        if len(buffer) > limit:
            raise too_large
    return bytes(buffer)


def _user_id(api: Api, token: str) -> uuid.UUID:
    claims = api.claims_for(token)
    if claims.get("role") != "authenticated" or not claims.get("sub"):
        raise StorageRefusal("not_found", "Sign in to upload files.")
    return uuid.UUID(str(claims["sub"]))


def supabase_metadata(size: int, content_type: str, etag: str) -> dict[str, Any]:
    """``storage.objects.metadata`` as Supabase Storage writes it."""
    return {
        "eTag": f'"{etag}"',
        "size": size,
        "mimetype": content_type,
        "cacheControl": "max-age=3600",
        "lastModified": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "contentLength": size,
        "httpStatusCode": 200,
    }


def upload(
    api: Api,
    backend: StorageBackend,
    *,
    token: str,
    conversation_id: uuid.UUID,
    file_name: str,
    source: Source,
    claimed_type: str | None,
    declared_size: int | None = None,
    bucket: Bucket = CHAT_FILES,
    in_transaction: InTransaction[T] | None = None,
) -> UploadResult[T]:
    """Store one chat file for the token's user at ``{conversation_id}/{user_id}/{uuid}-{name}``.

    Raises :class:`StorageRefusal` (nothing written) for a bad name, an empty,
    too large or wrongly typed file; :class:`parley.db.ApiError` when the
    storage.objects insert (RLS) or the ``in_transaction`` hook's SQL is refused
    (the object is deleted again). Any other exception from the hook also
    deletes the object.
    """
    user_id = _user_id(api, token)
    clean_name = check_file_name(file_name)
    data = read_capped(source, bucket.file_size_limit, declared_size=declared_size)
    content_type = decide(data, claimed_type, bucket)
    object_id = uuid.uuid4()
    key = chat_file_key(conversation_id, user_id, clean_name, object_id=object_id)
    etag = hashlib.md5(data).hexdigest()
    stored = StoredObject(object_id, bucket.id, key, user_id, clean_name, content_type, len(data), etag)

    backend.put(bucket.id, key, data, content_type)
    try:
        with api.request(token, method="POST", path=f"/storage/v1/object/{bucket.id}/{key}") as connection:
            connection.execute(
                """
                insert into storage.objects (id, bucket_id, name, owner, owner_id, metadata, version)
                values (%s, %s, %s, %s, %s, %s, %s)
                """,
                (
                    object_id, bucket.id, key, user_id, str(user_id),
                    Jsonb(supabase_metadata(len(data), content_type, etag)), str(uuid.uuid4()),
                ),
            )  # fmt: skip
            extra = in_transaction(connection, stored) if in_transaction is not None else None
    except BaseException:
        _discard(backend, bucket.id, key)
        raise
    return UploadResult(stored, extra)


def _discard(backend: StorageBackend, bucket: str, key: str) -> None:
    try:
        backend.delete(bucket, key)
    except Exception:  # the original error matters more; the orphan is logged for cleanup
        log.exception("could not delete orphaned object %s/%s", bucket, key)


def signed_download_url(
    api: Api,
    backend: StorageBackend,
    *,
    token: str | None,
    bucket: str,
    key: str,
    expires_in: int = DEFAULT_URL_SECONDS,
) -> str:
    """A short-lived URL for one object, only if the caller can see its storage.objects row.

    The check is a read-only request as the caller (RLS decides); an invisible
    or missing object is ``not_found`` and nothing is signed.
    """
    if not 0 < expires_in <= MAX_URL_SECONDS:
        raise ValueError(f"expires_in must be between 1 and {MAX_URL_SECONDS} seconds")
    rows = api.query(
        "select id from storage.objects where bucket_id = %s and name = %s",
        (bucket, key),
        token=token,
        method="GET",
        path=f"/storage/v1/object/info/{bucket}/{key}",
    )
    if not rows:
        raise StorageRefusal("not_found", "The file does not exist or is not visible to you.")
    return backend.signed_url(bucket, key, expires_in)
