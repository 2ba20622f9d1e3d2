"""Helpers shared by the storage tests: sample files of every allowed kind, a loopback HTTP GET."""

from __future__ import annotations

import io
import struct
import urllib.request
import wave
import zipfile

from PIL import Image


def image_bytes(kind: str, size: tuple[int, int] = (4, 4)) -> bytes:
    """A real image encoded by Pillow (PNG, JPEG, GIF, WEBP)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


def ogg_bytes(opus: bool) -> bytes:
    head = b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00" if opus else b"\x01vorbis\x00\x00\x00\x00"
    return b"OggS\x00\x02" + b"\x00" * 20 + bytes([1, len(head)]) + head


def mp4_bytes(brand: bytes) -> bytes:
    box = b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"isom"
    return struct.pack(">I", len(box) + 4) + box + b"\x00\x00\x00\x08free"


def webm_bytes() -> bytes:
    return b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04" + b"\x00" * 16


def mp3_bytes() -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 64


def ooxml_bytes(kind: str) -> bytes:
    """A minimal docx/xlsx/pptx: the zip parts sniffing looks at."""
    part, main = {
        "docx": ("wordprocessingml.document.main+xml", "word/document.xml"),
        "xlsx": ("spreadsheetml.sheet.main+xml", "xl/workbook.xml"),
        "pptx": ("presentationml.presentation.main+xml", "ppt/presentation.xml"),
    }[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types><Override PartName="/{main}" ContentType="application/vnd.openxmlformats-officedocument.{part}"/>'
            "</Types>",
        )
        archive.writestr(main, "<x/>")
    return buffer.getvalue()


def odf_bytes(mime: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", mime)
        archive.writestr("content.xml", "<x/>")
    return buffer.getvalue()


def ole_bytes(stream: str) -> bytes:
    """A Compound File header plus a directory entry naming ``stream`` (as legacy Office writes)."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + stream.encode("utf-16-le") + b"\x00" * 64


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
EXE = b"MZ\x90\x00\x03" + b"\x00" * 200


def http_get(url: str) -> tuple[int, bytes]:
    """GET a loopback URL without any proxy; (status, body) — errors answer their status too."""
    assert url.startswith("http://127.0.0.1:"), url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
