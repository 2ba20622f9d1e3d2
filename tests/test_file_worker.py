"""The file worker (`parley worker files`, issue 6): verify, measure, thumbnail, reject, sweep, purge.

Files are uploaded through parley.storage.upload as a member (the request
path); the worker runs in-process (FileWorker) or as real `parley worker files
--once` processes. Two concurrent workers must process every attachment
exactly once (FOR UPDATE SKIP LOCKED), proven by their processed ids.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from PIL import Image

from attachments_support import group, make_backend, organization, owner_query, post_with_claim
from parley.storage import LocalBackend, StorageRefusal, attachment_download_url, upload
from parley.workers import FileWorker, FileWorkerSettings
from parley.workers.files import APPLICATION_NAME
from parley.workers.media import mp4_duration_ms, probe_image, webm_duration_ms
from storage_support import PDF, image_bytes, wav_bytes, webm_bytes


@pytest.fixture(scope="module")
def alice(database):
    return database.create_user("alice")


@pytest.fixture(scope="module")
def bob(database):
    return database.create_user("bob")


@pytest.fixture(scope="module")
def org(api, alice, bob):
    return organization(api, alice, bob)


@pytest.fixture
def chat(database, org, alice, bob):
    return group(database, org, alice, bob)


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    return make_backend(request.param, tmp_path, endpoint)


@pytest.fixture
def worker_for(database):
    """A factory of in-process workers on the module's database; closed after the test."""
    made: list[FileWorker] = []

    def make(backend, **settings) -> FileWorker:
        worker = FileWorker(FileWorkerSettings(database.url, **settings), backend)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


def put(api, backend, user, conversation, data: bytes, name: str, claimed: str | None):
    return upload(api, backend, token=user.token, conversation_id=conversation, file_name=name,
                  source=io.BytesIO(data), claimed_type=claimed)  # fmt: skip


def attachment(database, attachment_id) -> dict:
    [row] = owner_query(database, "select * from public.attachments where id = %s", (attachment_id,))
    return row


def objects(database, conversation) -> list[str]:
    return sorted(row["name"] for row in owner_query(
        database, "select name from storage.objects where name like %s", (f"{conversation}/%",)))  # fmt: skip


def mp4_with_duration(timescale: int, duration: int) -> bytes:
    """An ISO-BMFF file: ftyp (isom) and a moov box whose mvhd (version 0) says timescale and duration."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload) + 8) + kind + payload

    mvhd = box(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, duration) + b"\x00" * 80)
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2") + box(b"moov", mvhd) + box(b"mdat", b"\x00" * 64)


def webm_with_duration(duration_ticks: float, timecode_scale: int = 1_000_000) -> bytes:
    """A WebM file: EBML header, a Segment of unknown size with Info (TimecodeScale, Duration), then a Cluster."""
    scale = timecode_scale.to_bytes((timecode_scale.bit_length() + 7) // 8, "big")
    info = b"\x2a\xd7\xb1" + bytes([0x80 | len(scale)]) + scale + b"\x44\x89\x88" + struct.pack(">d", duration_ticks)
    segment = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x15\x49\xa9\x66" + bytes([0x80 | len(info)])
    return webm_bytes() + segment + info + b"\x1f\x43\xb6\x75\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 32


# -- media probing -----------------------------------------------------------------------------------------------


def test_mp4_and_webm_durations_are_read_from_their_headers():
    assert mp4_duration_ms(mp4_with_duration(600, 1500)) == 2500
    assert mp4_duration_ms(mp4_with_duration(600, 0)) is None, "unset duration (fragmented recording)"
    assert webm_duration_ms(webm_with_duration(4200.0)) == 4200
    assert webm_duration_ms(webm_with_duration(2.5, timecode_scale=1_000_000_000)) == 2500, "ticks of one second"
    assert webm_duration_ms(webm_bytes()) is None, "MediaRecorder-style file without Duration"


def test_thumbnails_fit_320_pixels_and_exif_orientation_is_applied():
    """A 1000x400 JPEG stored rotated (EXIF orientation 6) is displayed 400x1000; its thumbnail is 128x320."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (1000, 400), (10, 200, 10)).save(buffer, format="JPEG", exif=exif.tobytes())
    info = probe_image(buffer.getvalue())
    assert (info.width, info.height) == (400, 1000)
    with Image.open(io.BytesIO(info.thumbnail)) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (128, 320))
    transparent = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(transparent, format="PNG")
    with Image.open(io.BytesIO(probe_image(transparent.getvalue()).thumbnail)) as flattened:
        assert flattened.getpixel((0, 0)) == (255, 255, 255), "transparency is flattened onto white"


# -- processing -----------------------------------------------------------------------------------------------------


def test_an_image_becomes_ready_with_checksum_size_and_a_readable_thumbnail(
    database, api, alice, bob, chat, backend, worker_for
):
    import hashlib

    png = image_bytes("PNG", (900, 600))
    uploaded = put(api, backend, alice, chat, png, "view.png", "image/png")
    post_with_claim(database, chat, alice, [uploaded.attachment_id])
    stats = worker_for(backend).run_once()
    assert (stats.processed, stats.ready, stats.rejected) == ([str(uploaded.attachment_id)], 1, 0)
    row = attachment(database, uploaded.attachment_id)
    assert (row["status"], row["width"], row["height"]) == ("ready", 900, 600)
    assert row["checksum_sha256"] == hashlib.sha256(png).hexdigest() and row["processed_at"] is not None
    assert row["thumbnail_object_name"] == f"{chat}/{alice.id}/thumbnails/{uploaded.attachment_id}.jpg"
    with Image.open(io.BytesIO(backend.get("chat-files", row["thumbnail_object_name"]))) as thumbnail:
        assert thumbnail.size == (320, 213)
    assert objects(database, chat) == sorted([row["object_name"], row["thumbnail_object_name"]])
    assert attachment_download_url(api, backend, token=bob.token, attachment_id=row["id"], thumbnail=True)
    assert worker_for(backend).run_once().processed == [], "nothing is processed twice"


@pytest.mark.parametrize(
    ("data", "name", "claimed", "content_type", "duration_ms"),
    [
        (wav_bytes(), "memo.wav", "audio/wav", "audio/wav", 100),
        (mp4_with_duration(1000, 61_500), "clip.mp4", "video/mp4", "video/mp4", 61_500),
        (webm_with_duration(2750.0), "voice.webm", "audio/webm", "audio/webm", 2750),
        (PDF, "doc.pdf", "application/pdf", "application/pdf", None),
    ],
    ids=["wav-mutagen", "mp4-mvhd", "webm-info", "pdf"],
)
def test_audio_and_video_get_a_duration_and_other_files_none(
    database, api, alice, chat, tmp_path, worker_for, data, name, claimed, content_type, duration_ms
):
    backend = make_backend("local", tmp_path)
    uploaded = put(api, backend, alice, chat, data, name, claimed)
    worker_for(backend).run_once()
    row = attachment(database, uploaded.attachment_id)
    assert (row["status"], row["content_type"], row["duration_ms"]) == ("ready", content_type, duration_ms)
    assert (row["width"], row["thumbnail_object_name"]) == (None, None)


def tamper(backend, key: str, how: str) -> None:
    if how == "missing":
        backend.delete("chat-files", key)
    elif how == "truncated":
        backend.put("chat-files", key, backend.get("chat-files", key)[:-7], "image/png")
    elif how == "swapped_for_html":
        original = backend.get("chat-files", key)
        html = b"<html><script>alert(1)</script>" + b" " * (len(original) - 31) + b"</html>"
        backend.put("chat-files", key, html[: len(original)], "image/png")
    elif how == "corrupt_pixels":
        original = backend.get("chat-files", key)
        backend.put("chat-files", key, original[:40] + b"\x00" * (len(original) - 40), "image/png")


@pytest.mark.parametrize(
    ("how", "reason"),
    [("missing", "object_missing"), ("truncated", "size_mismatch"), ("swapped_for_html", "type_mismatch"),
     ("corrupt_pixels", "corrupt_image")],
)  # fmt: skip
def test_a_file_that_fails_verification_is_rejected_and_deleted(
    database, api, alice, bob, chat, backend, worker_for, how, reason
):
    """The worker re-reads the bytes: gone, resized, retyped or undecodable files are rejected with a reason,
    their bytes and storage.objects row deleted, and nobody can sign them any more."""
    uploaded = put(api, backend, alice, chat, image_bytes("PNG", (64, 64)), "pic.png", "image/png")
    post_with_claim(database, chat, alice, [uploaded.attachment_id])
    tamper(backend, uploaded.object.key, how)
    stats = worker_for(backend).run_once()
    assert (stats.rejected, stats.ready) == (1, 0)
    row = attachment(database, uploaded.attachment_id)
    assert (row["status"], row["rejection_reason"]) == ("rejected", reason)
    assert backend.keys("chat-files", f"{chat}/") == [] and objects(database, chat) == []
    for user in (alice, bob):
        with pytest.raises(StorageRefusal) as refused:
            attachment_download_url(api, backend, token=user.token, attachment_id=row["id"])
        assert refused.value.reason == "file_rejected"


class FlakyBackend(LocalBackend):
    """Fails every read while ``down`` is set, like an unreachable S3 endpoint."""

    down = True

    def get(self, bucket, key):
        if self.down:
            raise ConnectionError("endpoint unreachable")
        return super().get(bucket, key)


def test_an_unreachable_backend_leaves_the_attachment_queued_for_a_later_pass(
    database, api, alice, chat, tmp_path, worker_for
):
    backend = FlakyBackend(tmp_path / "flaky", "secret")
    uploaded = put(api, backend, alice, chat, PDF, "a.pdf", "application/pdf")
    worker = worker_for(backend)
    first = worker.run_once()
    assert (first.failed, first.processed) == (1, [])
    assert attachment(database, uploaded.attachment_id)["status"] == "uploaded"
    backend.down = False
    assert worker.run_once().processed == [str(uploaded.attachment_id)]
    assert attachment(database, uploaded.attachment_id)["status"] == "ready"


# -- sweeping -------------------------------------------------------------------------------------------------------


def test_orphans_older_than_the_configured_age_are_deleted_with_their_files(
    database, api, alice, chat, tmp_path, worker_for
):
    """Unsent for more than orphan_age (here 2 h): gone with bytes and rows. Sent or younger files stay."""
    backend = make_backend("local", tmp_path)
    old_unsent, old_sent, young_unsent = (put(api, backend, alice, chat, PDF, f"{n}.pdf", "application/pdf")
                                          for n in ("old", "sent", "young"))  # fmt: skip
    post_with_claim(database, chat, alice, [old_sent.attachment_id])
    owner_query(database, "update public.attachments set created_at = now() - interval '3 hours' where id = any(%s)",
                ([old_unsent.attachment_id, old_sent.attachment_id],))  # fmt: skip
    stats = worker_for(backend, orphan_age=timedelta(hours=2)).run_once()
    assert (stats.orphans_deleted, stats.files_deleted) == (1, 1)
    remaining = {row["id"] for row in owner_query(database, "select id from public.attachments where "
                                                            "conversation_id = %s", (chat,))}  # fmt: skip
    assert remaining == {old_sent.attachment_id, young_unsent.attachment_id}
    assert not backend.exists("chat-files", old_unsent.object.key)
    assert old_unsent.object.key not in objects(database, chat)
    assert backend.exists("chat-files", young_unsent.object.key)


def test_objects_no_attachment_references_are_swept_after_the_orphan_age(database, alice, chat, tmp_path, worker_for):
    """A chat-files object registered by nobody (e.g. a direct upload never followed by create_attachment)."""
    backend = make_backend("local", tmp_path)
    key = f"{chat}/{alice.id}/00000000-0000-4000-8000-000000000001-stray.pdf"
    backend.put("chat-files", key, PDF, "application/pdf")
    owner_query(database, "insert into storage.objects (bucket_id, name, owner_id, metadata, created_at) "
                          "values ('chat-files', %s, %s, '{}', now() - interval '2 days')",
                (key, str(alice.id)))  # fmt: skip
    stats = worker_for(backend).run_once()
    assert (stats.unregistered_queued, stats.files_deleted) == (1, 1)
    assert not backend.exists("chat-files", key) and objects(database, chat) == []


# -- concurrency ----------------------------------------------------------------------------------------------------


def test_two_worker_threads_process_each_attachment_exactly_once(database, api, alice, chat, tmp_path, worker_for):
    backend = make_backend("local", tmp_path)
    uploaded = {str(put(api, backend, alice, chat, image_bytes("PNG", (200, 200)), f"{n}.png", "image/png")
                    .attachment_id) for n in range(16)}  # fmt: skip
    workers = [worker_for(backend), worker_for(backend)]
    barrier = threading.Barrier(2)
    results: list[list[str]] = [[], []]

    def run(index: int) -> None:
        barrier.wait()
        results[index] = workers[index].run_once(sweep=False).processed

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(results[0]) & set(results[1])
    assert len(results[0]) + len(results[1]) == len(uploaded)
    assert set(results[0]) | set(results[1]) == uploaded


def test_two_worker_processes_process_each_attachment_exactly_once(database, api, alice, chat, tmp_path):
    """Two `parley worker files --once` processes start while the test holds a lock that blocks their first
    claim; once both wait on it, it is released, so they really run at the same time."""
    storage = tmp_path / "storage"
    backend = LocalBackend(storage, "process-test-key")
    uploaded = {str(put(api, backend, alice, chat, image_bytes("PNG", (300, 200)), f"{n}.png", "image/png")
                    .attachment_id) for n in range(24)}  # fmt: skip
    environment = {**os.environ, "PARLEY_STORAGE_BACKEND": "local", "PARLEY_STORAGE_DIR": str(storage),
                   "PARLEY_STORAGE_SIGNING_KEY": "process-test-key"}  # fmt: skip
    command = [sys.executable, "-m", "parley.cli", "worker", "files", "--once", "--database-url", database.url]
    with psycopg.connect(database.url) as gate, psycopg.connect(database.url, autocommit=True) as observer:
        gate.execute("lock table public.attachments in exclusive mode")
        processes = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(2)]  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = observer.execute(
                """
                select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid
                where not l.granted and l.relation = 'public.attachments'::regclass and a.application_name = %s
                """,
                (APPLICATION_NAME,),
            ).fetchone()[0]
            if waiting == 2 or any(process.poll() is not None for process in processes):
                break
            time.sleep(0.05)
        assert waiting == 2, "both workers must be waiting for their first claim"
        gate.rollback()
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    processed = [json.loads(out.strip().splitlines()[-1])["processed"] for out, _ in outputs]
    assert not set(processed[0]) & set(processed[1])
    assert len(processed[0]) + len(processed[1]) == len(uploaded)
    assert set(processed[0]) | set(processed[1]) == uploaded
    assert {row["status"] for row in owner_query(database, "select status from public.attachments where "
                                                           "conversation_id = %s", (chat,))} == {"ready"}  # fmt: skip
    assert "attachment" in outputs[0][1] + outputs[1][1], "the workers log their progress"
