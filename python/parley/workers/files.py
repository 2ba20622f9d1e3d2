"""``parley worker files``: verify new attachments, make thumbnails, delete files that must go.

One pass (:meth:`FileWorker.run_once`, the ``--once`` mode) does, in order:

1. **process** every attachment with status ``uploaded``, one per
   transaction, claimed with ``FOR UPDATE SKIP LOCKED`` (several worker
   processes never take the same row; a crash rolls back and the row is
   taken again): read the object, check it exists, its size and its sniffed
   type, compute SHA-256, image size and a JPEG thumbnail (stored at
   ``{conversation}/{uploader}/thumbnails/{attachment id}.jpg`` with its own
   storage.objects row), audio/video duration where cheap; mark it ``ready``,
   or ``rejected`` with a reason (its file is queued for deletion);
2. **sweep orphans**: attachments never sent after ``orphan_age`` (default
   24 h) are deleted (their files are queued by a trigger), and chat-files
   objects that no attachment references after the same age (uploads that
   were never registered) are queued;
3. **purge** the deletion queue (``parley_internal.file_deletions``): bytes
   from the backend, then the storage.objects row. Rows get there when an
   attachment row is deleted (orphan sweep, cancelled upload, message
   tombstoned or hard-deleted, conversation deleted) or rejected.

The worker connects with the database URL it is given (the owner or a
service connection: it bypasses RLS, as Supabase Storage's own server does).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from parley.storage.backends import StorageBackend
from parley.storage.buckets import CHAT_FILES, Bucket
from parley.storage.errors import StorageRefusal
from parley.storage.files import supabase_metadata
from parley.storage.sniff import decide
from parley.workers.media import (
    DECODED_IMAGE_TYPES,
    THUMBNAIL_CONTENT_TYPE,
    THUMBNAIL_MAX_SIDE,
    MediaRejected,
    probe_duration,
    probe_image,
)

log = logging.getLogger(__name__)

APPLICATION_NAME = "parley-file-worker"


class ProcessingFailed(Exception):
    """Processing one claimed attachment failed unexpectedly (the row stays ``uploaded``)."""

    def __init__(self, attachment_id: uuid.UUID) -> None:
        super().__init__(f"processing attachment {attachment_id} failed")
        self.attachment_id = attachment_id


@dataclass(frozen=True)
class FileWorkerSettings:
    """How the file worker runs."""

    database_url: str
    orphan_age: timedelta = timedelta(hours=24)
    poll_interval: float = 2.0
    sweep_interval: float = 300.0
    batch_size: int = 100
    thumbnail_max_side: int = THUMBNAIL_MAX_SIDE
    application_name: str = APPLICATION_NAME


@dataclass
class WorkerStats:
    """What one pass (or the whole run) did."""

    processed: list[str] = field(default_factory=list)
    ready: int = 0
    rejected: int = 0
    failed: int = 0
    orphans_deleted: int = 0
    unregistered_queued: int = 0
    files_deleted: int = 0

    def add(self, other: WorkerStats) -> None:
        """Accumulate another pass's numbers."""
        self.processed.extend(other.processed)
        self.ready += other.ready
        self.rejected += other.rejected
        self.failed += other.failed
        self.orphans_deleted += other.orphans_deleted
        self.unregistered_queued += other.unregistered_queued
        self.files_deleted += other.files_deleted

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (and the processed attachment ids)."""
        return {
            "processed": self.processed,
            "ready": self.ready,
            "rejected": self.rejected,
            "failed": self.failed,
            "orphans_deleted": self.orphans_deleted,
            "unregistered_queued": self.unregistered_queued,
            "files_deleted": self.files_deleted,
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome of inspecting one attachment's bytes."""

    rejection: str | None = None
    message: str = ""
    content_type: str | None = None
    checksum: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    thumbnail: bytes | None = None


def thumbnail_key(conversation_id: uuid.UUID, uploader_id: uuid.UUID | str, attachment_id: uuid.UUID) -> str:
    """Where an attachment's thumbnail lives: beside the upload (its folder), under ``thumbnails/``."""
    return f"{conversation_id}/{uploader_id}/thumbnails/{attachment_id}.jpg"


def upload_folder(object_name: str) -> str:
    """The upload's own folder: the uploader's id, or ``support`` for staff answering as the organization."""
    return object_name.split("/")[1]


def inspect(
    data: bytes | None, *, content_type: str, size_bytes: int, bucket: Bucket = CHAT_FILES, max_side: int
) -> Verdict:
    """Verify one file's bytes against its attachment row; compute what the row records.

    ``data`` is None when the object is missing. Rejections: object_missing,
    size_mismatch, file_too_large, empty_file, type_mismatch, type_not_allowed,
    corrupt_image, image_too_large.
    """
    if data is None:
        return Verdict("object_missing", "the object is not in the storage backend")
    if len(data) != size_bytes:
        return Verdict("size_mismatch", f"the object has {len(data)} bytes, the upload recorded {size_bytes}")
    if len(data) > bucket.file_size_limit:
        return Verdict("file_too_large", f"{len(data)} bytes is more than {bucket.file_size_limit}")
    try:
        sniffed = decide(data, content_type, bucket)
    except StorageRefusal as refusal:
        return Verdict(refusal.reason, refusal.message)
    checksum = hashlib.sha256(data).hexdigest()
    width = height = None
    thumbnail = None
    if sniffed in DECODED_IMAGE_TYPES:
        try:
            image = probe_image(data, max_side=max_side)
        except MediaRejected as rejected:
            return Verdict(rejected.reason, str(rejected))
        width, height, thumbnail = image.width, image.height, image.thumbnail
    duration = probe_duration(data, sniffed) if sniffed.split("/")[0] in ("audio", "video") else None
    return Verdict(None, "", sniffed, checksum, width, height, duration, thumbnail)


class FileWorker:
    """Processes attachments and deletes files; safe to run as several processes at once."""

    def __init__(self, settings: FileWorkerSettings, backend: StorageBackend, *, bucket: Bucket = CHAT_FILES) -> None:
        self.settings = settings
        self.backend = backend
        self.bucket = bucket
        self._connection: psycopg.Connection[dict[str, Any]] | None = None

    # -- connection ---------------------------------------------------------

    def connection(self) -> psycopg.Connection[dict[str, Any]]:
        """The worker's own connection (opened on first use, reopened after a loss)."""
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                self.settings.database_url, row_factory=dict_row, application_name=self.settings.application_name
            )
        return self._connection

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- 1. processing ------------------------------------------------------

    def process_next(self, skip: set[uuid.UUID] | None = None) -> tuple[uuid.UUID, str] | None:
        """Claim and process the oldest unprocessed attachment; (id, new status), or None when none is left.

        The row stays locked (``FOR UPDATE SKIP LOCKED``) while its bytes are
        inspected and the thumbnail written; the status changes in the same
        transaction. ``skip`` holds ids that failed in this pass.
        """
        connection = self.connection()
        thumbnail_written: str | None = None
        try:
            with connection.transaction():
                row = connection.execute(
                    """
                    select id, conversation_id, uploader_id, bucket_id, object_name, content_type, size_bytes
                    from public.attachments
                    where status = 'uploaded' and not (id = any(%s))
                    order by created_at, id
                    limit 1
                    for update skip locked
                    """,
                    (list(skip or ()),),
                ).fetchone()
                if row is None:
                    return None
                try:
                    verdict = self._inspect(row)
                except Exception as error:
                    raise ProcessingFailed(row["id"]) from error
                if verdict.rejection is not None:
                    self._reject(connection, row, verdict)
                    log.info("attachment %s rejected: %s (%s)", row["id"], verdict.rejection, verdict.message)
                    return row["id"], "rejected"
                thumbnail_name = None
                if verdict.thumbnail is not None:
                    thumbnail_name = thumbnail_key(row["conversation_id"], upload_folder(row["object_name"]), row["id"])
                    self._store_thumbnail(connection, row, thumbnail_name, verdict.thumbnail)
                    thumbnail_written = thumbnail_name
                connection.execute(
                    """
                    update public.attachments
                       set status = 'ready', content_type = %s, checksum_sha256 = %s, width = %s, height = %s,
                           duration_ms = %s, thumbnail_object_name = %s, processed_at = now()
                     where id = %s
                    """,
                    (verdict.content_type, verdict.checksum, verdict.width, verdict.height, verdict.duration_ms,
                     thumbnail_name, row["id"]),
                )  # fmt: skip
            log.info(
                "attachment %s ready: %s, %d bytes%s%s", row["id"], verdict.content_type, row["size_bytes"],
                f", {verdict.width}x{verdict.height} with thumbnail" if verdict.width else "",
                f", {verdict.duration_ms} ms" if verdict.duration_ms is not None else "",
            )  # fmt: skip
            return row["id"], "ready"
        except BaseException:
            if thumbnail_written is not None:
                self._delete_quietly(self.bucket.id, thumbnail_written)
            raise

    def _inspect(self, row: dict[str, Any]) -> Verdict:
        try:
            data: bytes | None = self.backend.get(row["bucket_id"], row["object_name"])
        except FileNotFoundError:
            data = None
        return inspect(
            data, content_type=row["content_type"], size_bytes=row["size_bytes"], bucket=self.bucket,
            max_side=self.settings.thumbnail_max_side,
        )  # fmt: skip

    def _reject(self, connection: psycopg.Connection[dict[str, Any]], row: dict[str, Any], verdict: Verdict) -> None:
        connection.execute(
            """
            update public.attachments
               set status = 'rejected', rejection_reason = %s, processed_at = now()
             where id = %s
            """,
            (verdict.rejection, row["id"]),
        )
        connection.execute(
            """
            insert into parley_internal.file_deletions (bucket_id, object_name, reason)
            values (%s, %s, 'rejected')
            """,
            (row["bucket_id"], row["object_name"]),
        )

    def _store_thumbnail(
        self, connection: psycopg.Connection[dict[str, Any]], row: dict[str, Any], name: str, data: bytes
    ) -> None:
        """Write the thumbnail's bytes and its storage.objects row (owned by the uploader; by nobody when staff
        uploaded as Support, whom the conversation's customer must never see: issue 12)."""
        self.backend.put(self.bucket.id, name, data, THUMBNAIL_CONTENT_TYPE)
        etag = hashlib.md5(data).hexdigest()
        owner = (
            None if row["uploader_id"] is None or upload_folder(row["object_name"]) == "support" else row["uploader_id"]
        )
        connection.execute(
            """
            insert into storage.objects (bucket_id, name, owner, owner_id, metadata, version)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (bucket_id, name) do update set metadata = excluded.metadata, updated_at = now()
            """,
            (self.bucket.id, name, owner, None if owner is None else str(owner),
             Jsonb(supabase_metadata(len(data), THUMBNAIL_CONTENT_TYPE, etag)), str(uuid.uuid4())),
        )  # fmt: skip

    def process_pending(self, limit: int | None = None) -> WorkerStats:
        """Process attachments until none is waiting (or ``limit`` were handled)."""
        stats = WorkerStats()
        failed: set[uuid.UUID] = set()
        while limit is None or len(stats.processed) < limit:
            try:
                outcome = self.process_next(failed)
            except ProcessingFailed as error:
                # An unexpected error (e.g. the backend is unreachable): the row stays queued for a later pass.
                log.exception("%s; it stays queued", error)
                stats.failed += 1
                failed.add(error.attachment_id)
                continue
            if outcome is None:
                break
            attachment_id, status = outcome
            stats.processed.append(str(attachment_id))
            if status == "ready":
                stats.ready += 1
            else:
                stats.rejected += 1
        return stats

    def queue_depth(self) -> int:
        """Attachments still waiting to be processed."""
        connection = self.connection()
        with connection.transaction():
            row = connection.execute(
                "select count(*) as n from public.attachments where status = 'uploaded'"
            ).fetchone()
        return int(row["n"]) if row else 0

    # -- 2. sweeping -------------------------------------------------------

    def sweep_orphans(self) -> int:
        """Delete attachments never sent within ``orphan_age``; their files are queued for deletion."""
        deleted = 0
        connection = self.connection()
        while True:
            with connection.transaction():
                rows = connection.execute(
                    """
                    delete from public.attachments a
                    where a.id in (
                      select id from public.attachments
                      where message_id is null and created_at < now() - %s
                      order by created_at
                      limit %s
                      for update skip locked)
                    returning a.id
                    """,
                    (self.settings.orphan_age, self.settings.batch_size),
                ).fetchall()
            deleted += len(rows)
            for row in rows:
                log.info("attachment %s deleted: never sent within %s", row["id"], self.settings.orphan_age)
            if len(rows) < self.settings.batch_size:
                return deleted

    def sweep_unregistered(self) -> int:
        """Queue chat-files objects older than ``orphan_age`` that no attachment references."""
        connection = self.connection()
        with connection.transaction():
            rows = connection.execute(
                """
                insert into parley_internal.file_deletions (bucket_id, object_name, reason)
                select o.bucket_id, o.name, 'unregistered'
                from storage.objects o
                where o.bucket_id = %s and o.created_at < now() - %s
                  and not exists (select 1 from public.attachments a where a.object_name = o.name)
                  and not exists (select 1 from public.attachments a where a.thumbnail_object_name = o.name)
                  and not exists (select 1 from parley_internal.file_deletions d
                                  where d.object_name = o.name and d.bucket_id = o.bucket_id)
                limit %s
                returning object_name
                """,
                (self.bucket.id, self.settings.orphan_age, self.settings.batch_size),
            ).fetchall()
        for row in rows:
            log.info("object %s queued for deletion: no attachment references it", row["object_name"])
        return len(rows)

    # -- 3. purging ----------------------------------------------------------

    def purge_deletions(self) -> int:
        """Delete queued files: the bytes, then the storage.objects row, then the queue entry."""
        purged = 0
        connection = self.connection()
        while True:
            done: list[int] = []
            with connection.transaction():
                rows = connection.execute(
                    """
                    select id, bucket_id, object_name from parley_internal.file_deletions
                    order by id limit %s for update skip locked
                    """,
                    (self.settings.batch_size,),
                ).fetchall()
                for row in rows:
                    try:
                        self.backend.delete(row["bucket_id"], row["object_name"])
                    except Exception:
                        log.exception("could not delete %s/%s; it stays queued", row["bucket_id"], row["object_name"])
                        continue
                    done.append(row["id"])
                if done:
                    # As Supabase Storage deletes: its statement trigger (storage.protect_delete) refuses a
                    # DELETE on storage.objects unless the transaction sets storage.allow_delete_query.
                    connection.execute("select pg_catalog.set_config('storage.allow_delete_query', 'true', true)")
                    connection.execute(
                        """
                        delete from storage.objects o
                        using parley_internal.file_deletions d
                        where d.id = any(%s) and o.bucket_id = d.bucket_id and o.name = d.object_name
                          and not exists (select 1 from public.attachments a
                                          where (a.object_name = o.name and a.status <> 'rejected')
                                             or a.thumbnail_object_name = o.name)
                        """,
                        (done,),
                    )
                    connection.execute("delete from parley_internal.file_deletions where id = any(%s)", (done,))
            purged += len(done)
            for row in rows:
                if row["id"] in done:
                    log.info("deleted %s/%s", row["bucket_id"], row["object_name"])
            if len(rows) < self.settings.batch_size or not done:
                return purged

    # -- passes ----------------------------------------------------------------

    def run_once(self, *, sweep: bool = True) -> WorkerStats:
        """One full pass: process everything waiting, sweep (unless ``sweep`` is false), purge."""
        stats = self.process_pending()
        if sweep:
            stats.orphans_deleted = self.sweep_orphans()
            stats.unregistered_queued = self.sweep_unregistered()
        stats.files_deleted = self.purge_deletions()
        if stats.processed or stats.failed or stats.orphans_deleted or stats.files_deleted:
            log.info(
                "file worker pass: %d processed (%d ready, %d rejected, %d failed), %d still queued; "
                "%d orphans deleted, %d unregistered objects queued, %d files deleted",
                len(stats.processed), stats.ready, stats.rejected, stats.failed, self.queue_depth(),
                stats.orphans_deleted, stats.unregistered_queued, stats.files_deleted,
            )  # fmt: skip
        return stats

    def run(self, stop: threading.Event) -> WorkerStats:
        """Poll until ``stop`` is set: process and purge every ``poll_interval``, sweep every ``sweep_interval``."""
        total = WorkerStats()
        last_sweep = float("-inf")
        log.info("file worker started (orphan age %s, bucket %s)", self.settings.orphan_age, self.bucket.id)
        while not stop.is_set():
            try:
                sweep = time.monotonic() - last_sweep >= self.settings.sweep_interval
                total.add(self.run_once(sweep=sweep))
                if sweep:
                    last_sweep = time.monotonic()
            except psycopg.Error:
                log.exception("file worker: database error; reconnecting")
                self.close()
            except Exception:  # keep the service alive; the next pass retries
                log.exception("file worker: pass failed")
            stop.wait(self.settings.poll_interval)
        self.close()
        log.info("file worker stopped")
        return total

    def _delete_quietly(self, bucket: str, key: str) -> None:
        try:
            self.backend.delete(bucket, key)
        except Exception:
            log.exception("could not delete %s/%s", bucket, key)


class FileWorkerThread:
    """The file worker on a background thread (``make run``)."""

    def __init__(self, worker: FileWorker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parley-file-worker", daemon=True)

    def _run(self) -> None:
        self.worker.run(self._stop)

    def start(self) -> FileWorkerThread:
        """Start polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the worker to stop and wait for the current item to finish."""
        self._stop.set()
        self._thread.join(timeout=60)
