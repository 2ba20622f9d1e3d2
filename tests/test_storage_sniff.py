"""Content sniffing: the stored type comes from the bytes, never from the client (seed 003 allow-list)."""

from __future__ import annotations

import pytest

from parley.storage import AVATARS, CHAT_FILES, StorageRefusal, decide, sniff
from storage_support import (
    EXE,
    HTML,
    PDF,
    image_bytes,
    mp3_bytes,
    mp4_bytes,
    odf_bytes,
    ogg_bytes,
    ole_bytes,
    ooxml_bytes,
    wav_bytes,
    webm_bytes,
)

OOXML = "application/vnd.openxmlformats-officedocument"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (mp4_bytes(b"heic"), "image/heic"),
        (PDF, "application/pdf"),
        (wav_bytes(), "audio/wav"),
        (ogg_bytes(opus=True), "audio/opus"),
        (ogg_bytes(opus=False), "audio/ogg"),
        (webm_bytes(), "video/webm"),
        (mp3_bytes(), "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 32, "audio/aac"),
        (mp4_bytes(b"isom"), "video/mp4"),
        (mp4_bytes(b"M4A "), "audio/mp4"),
        (mp4_bytes(b"qt  "), "video/quicktime"),
        (ooxml_bytes("docx"), f"{OOXML}.wordprocessingml.document"),
        (ooxml_bytes("xlsx"), f"{OOXML}.spreadsheetml.sheet"),
        (ooxml_bytes("pptx"), f"{OOXML}.presentationml.presentation"),
        (odf_bytes("application/vnd.oasis.opendocument.text"), "application/vnd.oasis.opendocument.text"),
        (ole_bytes("WordDocument"), "application/msword"),
        (ole_bytes("Workbook"), "application/vnd.ms-excel"),
        (ole_bytes("PowerPoint Document"), "application/vnd.ms-powerpoint"),
        ("héllo wörld\n".encode(), "text/plain"),
        (HTML, "text/html"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (EXE, "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "application/x-executable"),
        (b"\x00\x01\x02\x03garbage", None),
    ],
)
def test_sniff_recognises_the_real_type(data, expected):
    assert sniff(data) == expected


@pytest.mark.parametrize(
    ("data", "claimed", "stored"),
    [
        (image_bytes("PNG"), "image/png", "image/png"),
        (image_bytes("JPEG"), "image/png", "image/jpeg"),  # benign: stored as what it is
        (image_bytes("PNG"), None, "image/png"),
        (image_bytes("PNG"), "application/octet-stream", "image/png"),
        (webm_bytes(), "audio/webm", "audio/webm"),  # a voice note: the more precise claim is kept
        (mp4_bytes(b"M4A "), "audio/x-m4a", "audio/x-m4a"),
        (ogg_bytes(opus=True), "audio/ogg", "audio/ogg"),
        (ole_bytes("Book"), "application/vnd.ms-excel", "application/vnd.ms-excel"),
        (b"plain notes\n", "text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_decide_stores_the_sniffed_or_a_compatible_type(data, claimed, stored):
    assert decide(data, claimed, CHAT_FILES) == stored


@pytest.mark.parametrize(
    ("data", "claimed", "reason"),
    [
        (HTML, "image/png", "type_mismatch"),  # HTML dressed as a picture
        (EXE, "application/pdf", "type_mismatch"),
        (b"just text", "image/jpeg", "type_mismatch"),
        (image_bytes("PNG"), "text/plain", "type_mismatch"),
        (HTML, "text/html", "type_not_allowed"),
        (HTML, None, "type_not_allowed"),
        (EXE, "application/x-msdownload", "type_not_allowed"),
        (image_bytes("BMP"), "image/bmp", "type_not_allowed"),
        (b"\x00\x01\x02\x03garbage", None, "type_not_allowed"),
        (b"PK\x03\x04" + b"\x00" * 40, "application/zip", "type_not_allowed"),
    ],
)
def test_decide_refuses_disallowed_and_dangerous_content(data, claimed, reason):
    with pytest.raises(StorageRefusal) as refused:
        decide(data, claimed, CHAT_FILES)
    assert refused.value.reason == reason
    assert refused.value.status == 415


def test_empty_files_are_refused():
    with pytest.raises(StorageRefusal) as refused:
        decide(b"", "text/plain", CHAT_FILES)
    assert (refused.value.status, refused.value.reason) == (400, "empty_file")


def test_avatars_take_images_only():
    assert decide(image_bytes("WEBP"), "image/webp", AVATARS) == "image/webp"
    with pytest.raises(StorageRefusal) as refused:
        decide(PDF, "application/pdf", AVATARS)
    assert refused.value.reason == "type_not_allowed"
