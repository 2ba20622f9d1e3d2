"""Content sniffing: the real type of an upload, decided from its bytes.

The client's claimed type is never trusted. :func:`sniff` reads magic numbers
(own signatures for everything Parley allows, then the ``filetype`` package for
the rest, so that executables and archives are named too); :func:`decide`
applies a bucket's allow-list and refuses dangerous mismatches.
"""

from __future__ import annotations

import io
import zipfile

import filetype

from parley.storage.buckets import Bucket
from parley.storage.errors import StorageRefusal

GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

COMPATIBLE_CLAIMS: dict[str, frozenset[str]] = {
    "video/mp4": frozenset({"video/mp4", "audio/mp4", "audio/x-m4a", "audio/m4a", "audio/aac"}),
    "audio/mp4": frozenset({"audio/mp4", "audio/x-m4a", "audio/m4a", "audio/aac", "video/mp4"}),
    "video/webm": frozenset({"video/webm", "audio/webm"}),
    "audio/ogg": frozenset({"audio/ogg", "application/ogg"}),
    "audio/opus": frozenset({"audio/opus", "audio/ogg", "application/ogg"}),
    "audio/wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "audio/mpeg": frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3"}),
    "image/jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "application/x-ole-storage": frozenset(
        {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
    ),
}
"""Claims that name the same bytes more precisely than sniffing can (audio vs video webm, say)."""

DANGEROUS_TYPES = frozenset(
    {
        "text/html", "image/svg+xml", "application/xml", "application/xhtml+xml", "text/javascript",
        "application/x-msdownload", "application/x-executable", "application/x-mach-binary",
        "application/x-sh", "application/x-shockwave-flash", "application/java-archive",
    }
)  # fmt: skip
"""Active content and executables: never stored, whatever the claim."""

_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"F4A "}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_OLE_STREAMS = (
    ("WordDocument", "application/msword"),
    ("Workbook", "application/vnd.ms-excel"),
    ("Book", "application/vnd.ms-excel"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)
_MARKUP_PREFIXES = (
    (b"<!doctype html", "text/html"), (b"<html", "text/html"), (b"<head", "text/html"), (b"<body", "text/html"),
    (b"<script", "text/html"), (b"<iframe", "text/html"), (b"<svg", "image/svg+xml"),
    (b"<?xml", "application/xml"), (b"#!", "application/x-sh"),
)  # fmt: skip
_SNIFF_WINDOW = 1024


def _ftyp(data: bytes) -> str | None:
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    brand = data[8:12]
    if brand in _HEIC_BRANDS:
        return "image/heic"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in _MP4_AUDIO_BRANDS:
        return "audio/mp4"
    return "video/mp4"


def _zip_container(data: bytes) -> str:
    """Office Open XML (via ``[Content_Types].xml``) and OpenDocument; any other zip is application/zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument."):
                    return declared
            if "[Content_Types].xml" in names:
                content_types = archive.read("[Content_Types].xml")
                if b"wordprocessingml" in content_types and "word/document.xml" in names:
                    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                if b"spreadsheetml" in content_types and "xl/workbook.xml" in names:
                    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if b"presentationml" in content_types and "ppt/presentation.xml" in names:
                    return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            if "META-INF/MANIFEST.MF" in names:
                return "application/java-archive"
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, RuntimeError, ValueError):
        return "application/zip"
    return "application/zip"


def _ole(data: bytes) -> str:
    """Legacy Office (Compound File Binary): tell doc/xls/ppt apart by their stream names."""
    for stream, mime in _OLE_STREAMS:
        if stream.encode("utf-16-le") in data:
            return mime
    return "application/x-ole-storage"


def _text(data: bytes) -> str | None:
    """text/plain for UTF-8 without binary control bytes; markup is named so it can be refused."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any((ord(character) < 32 and character not in "\t\n\r\f") or ord(character) == 127 for character in text):
        return None
    head = body[:_SNIFF_WINDOW].lstrip().lower()
    for prefix, mime in _MARKUP_PREFIXES:
        if head.startswith(prefix):
            return mime
    if b"<script" in head or b"<html" in head or b"<svg" in head:
        return "text/html"
    return "text/plain"


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes really are, or None when nothing is recognised."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"OggS"):
        return "audio/opus" if b"OpusHead" in data[:_SNIFF_WINDOW] else "audio/ogg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in data[:_SNIFF_WINDOW] else "video/x-matroska"
    if (kind := _ftyp(data)) is not None:
        return kind
    if data.startswith(b"ID3"):
        return "audio/mpeg"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "audio/aac"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return "audio/mpeg"
    if data.startswith(b"PK\x03\x04"):
        return _zip_container(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole(data)
    if data.startswith(b"MZ"):
        return "application/x-msdownload"
    if data.startswith(b"\x7fELF"):
        return "application/x-executable"
    if data[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
        return "application/x-mach-binary"
    if (text := _text(data)) is not None:
        return text
    guess = filetype.guess(data[:8192])
    return guess.mime if guess is not None else None


def _normalize(claimed: str | None) -> str:
    """``Image/PNG; charset=x`` → ``image/png``."""
    return (claimed or "").split(";", 1)[0].strip().lower()


def _family(mime: str) -> str:
    top = mime.split("/", 1)[0]
    if top in ("audio", "video"):
        return "media"
    return top


def decide(data: bytes, claimed_type: str | None, bucket: Bucket) -> str:
    """The content type to store ``data`` under in ``bucket``, or a :class:`StorageRefusal`.

    * empty → ``empty_file``;
    * the sniffed type is active content or an executable, or the bytes claim
      one family (image, media, application, text) and are another →
      ``type_mismatch`` when the claim looked acceptable, else ``type_not_allowed``;
    * the sniffed type (or a compatible, more precise claim) is not on the
      bucket's allow-list → ``type_not_allowed``.

    A benign mismatch inside one family (a JPEG named image/png) is stored under
    the sniffed type.
    """
    if not data:
        raise StorageRefusal("empty_file", "The file is empty.")
    claimed = _normalize(claimed_type)
    sniffed = sniff(data)
    claim_is_specific = claimed not in GENERIC_TYPES
    unusable = sniffed is None or sniffed in DANGEROUS_TYPES
    if unusable or (not bucket.allows(sniffed) and sniffed not in COMPATIBLE_CLAIMS):
        if claim_is_specific and bucket.allows(claimed):
            raise StorageRefusal(
                "type_mismatch", f"The file claims to be {claimed} but its content is {sniffed or 'unrecognised'}."
            )
        raise StorageRefusal("type_not_allowed", f"Files of type {sniffed or 'unrecognised'} are not accepted here.")
    if claim_is_specific and claimed in COMPATIBLE_CLAIMS.get(sniffed, frozenset()) and bucket.allows(claimed):
        return claimed
    if claim_is_specific and _family(claimed) != _family(sniffed):
        raise StorageRefusal("type_mismatch", f"The file claims to be {claimed} but its content is {sniffed}.")
    if not bucket.allows(sniffed):
        raise StorageRefusal("type_not_allowed", f"Files of type {sniffed} are not accepted here.")
    return sniffed
