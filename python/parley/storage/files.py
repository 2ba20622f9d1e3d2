"""Uploads and signed downloads of chat files, authorized through the request path.

Upload order (no orphans either way):

1. refuse bad names, read at most ``file_size_limit + 1`` bytes, sniff the type
   (nothing written anywhere on a refusal);
2. open ONE request transaction as the uploading user
   (``parley.db.Api.request(token)``): insert the ``storage.objects`` row (the
   storage.objects policies decide: own folder of a conversation where the user
   may post), register the attachment with ``create_attachment`` (chat-files),
   run ``in_transaction``;
3. still inside that transaction, write the bytes to the backend; a refusal in
   step 2 therefore writes no bytes at all;
4. commit. If step 3 or the commit fails, the object is deleted again and the
   transaction is rolled back: neither object nor row is left.

Downloads: the user's request selects the ``storage.objects`` row (or the
attachment) under RLS; only when it is visible is a short-lived URL signed.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
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
    """The stored object, its attachment row (chat-files) and whatever ``in_transaction`` returned."""

    object: StoredObject
    extra: T | None
    attachment: dict[str, Any] | None = None

    @property
    def attachment_id(self) -> uuid.UUID:
        """The attachment's id, to pass in ``send_message(attachment_ids)``."""
        if self.attachment is None:
            raise ValueError("this upload registered no attachment")
        return uuid.UUID(str(self.attachment["id"]))


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


MAX_DISPLAY_NAME = 255


def display_name(name: str) -> str:
    """The name shown for a file: the client's name (already checked), NFC, trimmed, at most 255 characters."""
    text = unicodedata.normalize("NFC", name).strip()
    if len(text) <= MAX_DISPLAY_NAME:
        return text
    stem, dot, extension = text.rpartition(".")
    if dot and stem and len(extension) <= 16:
        return stem[: MAX_DISPLAY_NAME - len(extension) - 1].rstrip() + "." + extension
    return text[:MAX_DISPLAY_NAME]


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
    """Store one chat file for the token's user at ``{conversation_id}/{folder}/{uuid}-{name}``.

    The folder is the user's id, or ``support`` for staff answering the conversation as the organization
    (``chat_upload_folder``), so the customer never reads a staff user's id in a file's name.

    For the chat-files bucket the file is registered as an attachment
    (``create_attachment``, status ``uploaded``) in the same transaction; its
    row is ``result.attachment`` and its id goes into ``send_message``.

    Raises :class:`StorageRefusal` (nothing written) for a bad name, an empty,
    too large or wrongly typed file; :class:`parley.db.ApiError` when the
    storage.objects insert (RLS: 403), ``create_attachment`` (e.g. 404
    conversation_not_found, 403 cannot_post) or the ``in_transaction`` hook's
    SQL is refused. Any failure after the bytes were written deletes them again.
    """
    user_id = _user_id(api, token)
    clean_name = check_file_name(file_name)
    shown_name = display_name(file_name)
    data = read_capped(source, bucket.file_size_limit, declared_size=declared_size)
    content_type = decide(data, claimed_type, bucket)
    object_id = uuid.uuid4()
    folder: uuid.UUID | str = user_id
    if bucket.id == CHAT_FILES.id:
        # Staff answering as Support upload into the conversation's "support" folder (issue 12).
        [row] = api.query(
            "select public.chat_upload_folder(conversation_id => %s) as folder",
            (conversation_id,),
            token=token,
            method="POST",
            path="/rest/v1/rpc/chat_upload_folder",
        )
        folder = row["folder"]
    key = chat_file_key(conversation_id, folder, clean_name, object_id=object_id)
    etag = hashlib.md5(data).hexdigest()
    stored = StoredObject(object_id, bucket.id, key, user_id, clean_name, content_type, len(data), etag)

    attempted = False
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
            attachment = None
            if bucket.id == CHAT_FILES.id:
                row = connection.execute(
                    "select to_jsonb(a) as row from public.create_attachment(object_name => %s, file_name => %s) a",
                    (key, shown_name),
                ).fetchone()
                attachment = row["row"] if row else None
            extra = in_transaction(connection, stored) if in_transaction is not None else None
            attempted = True
            backend.put(bucket.id, key, data, content_type)
    except BaseException:
        if attempted:
            _discard(backend, bucket.id, key)
        raise
    return UploadResult(stored, extra, attachment)


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


def attachment_download_url(
    api: Api,
    backend: StorageBackend,
    *,
    token: str | None,
    attachment_id: uuid.UUID | str,
    thumbnail: bool = False,
    expires_in: int = DEFAULT_URL_SECONDS,
) -> str:
    """A short-lived URL for an attachment's file (or its thumbnail), after an authorization check as the caller.

    One read-only request as the caller selects the attachment and its
    storage.objects row under RLS. Invisible, missing, or (for ``thumbnail``)
    without a thumbnail: ``not_found``; rejected: ``file_rejected``. Nothing is
    signed unless the caller can see both rows.
    """
    if not 0 < expires_in <= MAX_URL_SECONDS:
        raise ValueError(f"expires_in must be between 1 and {MAX_URL_SECONDS} seconds")
    try:
        wanted = uuid.UUID(str(attachment_id))
    except ValueError as error:
        raise StorageRefusal("not_found", "No such file.") from error
    if token is None:
        raise StorageRefusal("not_found", "The file does not exist or is not visible to you.")
    column = "thumbnail_object_name" if thumbnail else "object_name"
    rows = api.query(
        f"""
        select a.status, a.{column} as key,
               exists (select 1 from storage.objects o
                       where o.bucket_id = a.bucket_id and o.name = a.{column}) as stored
        from public.attachments a where a.id = %s
        """,
        (wanted,),
        token=token,
        method="GET",
        path=f"/rest/v1/attachments?id=eq.{wanted}",
    )
    if not rows:
        raise StorageRefusal("not_found", "The file does not exist or is not visible to you.")
    [row] = rows
    if row["status"] == "rejected":
        raise StorageRefusal("file_rejected", "The file was rejected and deleted.")
    if row["key"] is None or not row["stored"]:
        raise StorageRefusal("not_found", "There is no such file (yet)." if thumbnail else "The file is gone.")
    return backend.signed_url(CHAT_FILES.id, row["key"], expires_in)
