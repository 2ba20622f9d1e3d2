"""What the file worker reads from a file's bytes: image size and thumbnail, audio/video duration.

Images (JPEG, PNG, GIF, WEBP) go through Pillow: dimensions as displayed
(EXIF orientation applied), a JPEG thumbnail of at most ``max_side`` pixels a
side. HEIC is not decoded (Pillow cannot without a plug-in): no dimensions,
no thumbnail, not an error.

Durations are read only where it is cheap, from headers, never by decoding:

* ISO-BMFF (video/mp4, video/quicktime, audio/mp4, audio/x-m4a): the ``mvhd``
  box (movie duration / timescale), parsed here;
* WebM/Matroska (audio/webm, video/webm): the Segment Info ``Duration``
  element, parsed here. Browser recorders (MediaRecorder) often write no
  duration; then it stays unknown;
* MP3, Ogg Vorbis/Opus, WAV, AAC (ADTS): mutagen (pure Python).

A duration that cannot be read is ``None``: never a reason to reject a file.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

DECODED_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGE_PIXELS = 50_000_000
"""Images with more pixels are rejected (image_too_large) before decoding: a decompression bomb guard."""

THUMBNAIL_MAX_SIDE = 320
THUMBNAIL_CONTENT_TYPE = "image/jpeg"


class MediaRejected(Exception):
    """The bytes claim to be a media type but cannot be what they claim (``reason`` is stable)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    """An image's displayed size and its JPEG thumbnail."""

    width: int
    height: int
    thumbnail: bytes


def probe_image(data: bytes, *, max_side: int = THUMBNAIL_MAX_SIDE) -> ImageInfo:
    """Decode an image; return its displayed size and a JPEG thumbnail fitting ``max_side`` x ``max_side``.

    Raises :class:`MediaRejected` ``image_too_large`` (more than
    :data:`MAX_IMAGE_PIXELS`) or ``corrupt_image`` (Pillow cannot decode it).
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_IMAGE_PIXELS:
                raise MediaRejected("image_too_large", f"{width}x{height} pixels is more than {MAX_IMAGE_PIXELS}")
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            width, height = image.size
            thumbnail = image.copy()
    except MediaRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MediaRejected("corrupt_image", f"the image cannot be decoded: {error}") from error
    thumbnail.thumbnail((max_side, max_side))
    return ImageInfo(width, height, _jpeg(thumbnail))


def _jpeg(image: Image.Image) -> bytes:
    """Encode as JPEG, flattening transparency onto white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80, optimize=True)
    return buffer.getvalue()


# -- durations -------------------------------------------------------------

ISO_BMFF_TYPES = frozenset({"video/mp4", "video/quicktime", "audio/mp4", "audio/x-m4a"})
MATROSKA_TYPES = frozenset({"video/webm", "audio/webm"})


def probe_duration(data: bytes, content_type: str) -> int | None:
    """The duration in milliseconds when the headers say it cheaply; ``None`` otherwise (never raises)."""
    try:
        if content_type in ISO_BMFF_TYPES:
            return mp4_duration_ms(data)
        if content_type in MATROSKA_TYPES:
            return webm_duration_ms(data)
        return _mutagen_duration_ms(data, content_type)
    except Exception:  # a broken header is not the worker's problem: the duration stays unknown
        log.debug("could not read the duration of a %s file", content_type, exc_info=True)
        return None


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """ISO-BMFF boxes between ``start`` and ``end``: (type, payload start, box end)."""
    found = []
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            if position + 16 > end:
                break
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            break
        found.append((kind, position + header, position + size))
        position += size
    return found


def mp4_duration_ms(data: bytes) -> int | None:
    """Duration from the ``moov/mvhd`` box of an MP4/QuickTime/M4A file; ``None`` if absent or unset."""
    for kind, payload, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for child, child_payload, child_end in _boxes(data, payload, end):
            if child != b"mvhd" or child_end - child_payload < 20:
                continue
            version = data[child_payload]
            if version == 1:
                timescale, duration = struct.unpack_from(">IQ", data, child_payload + 20)
                unknown = 0xFFFFFFFFFFFFFFFF
            else:
                timescale, duration = struct.unpack_from(">II", data, child_payload + 12)
                unknown = 0xFFFFFFFF
            if timescale == 0 or duration in (0, unknown):
                return None
            return duration * 1000 // timescale
    return None


_EBML_HEADER = 0x1A45DFA3
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_DURATION = 0x4489
_CLUSTER = 0x1F43B675


def _vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """An EBML variable-length integer at ``position``: (value, length, all value bits set)."""
    first = data[position]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or position + length > len(data):
        raise ValueError("bad EBML integer")
    value = first if keep_marker else first & (mask - 1)
    for byte in data[position + 1 : position + length]:
        value = (value << 8) | byte
    all_ones = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, all_ones


def webm_duration_ms(data: bytes) -> int | None:
    """Duration from a WebM/Matroska Segment Info element; ``None`` when the file has none (live recordings)."""
    position = 0
    end = len(data)
    scale = 1_000_000
    duration: float | None = None
    in_info_until: int | None = None
    while position < end:
        element, id_length, _ = _vint(data, position, keep_marker=True)
        size, size_length, unknown_size = _vint(data, position + id_length, keep_marker=False)
        payload = position + id_length + size_length
        if element == _SEGMENT:
            position = payload  # descend (its size is often unknown)
            continue
        if element == _INFO and not unknown_size:
            in_info_until = payload + size
            position = payload  # descend into Info
            continue
        if element == _CLUSTER or unknown_size:
            break  # media data: Info comes before it
        if in_info_until is not None and payload + size <= in_info_until:
            if element == _TIMECODE_SCALE and 1 <= size <= 8:
                scale = int.from_bytes(data[payload : payload + size], "big")
            elif element == _DURATION and size in (4, 8):
                duration = struct.unpack(">f" if size == 4 else ">d", data[payload : payload + size])[0]
        position = payload + size
        if in_info_until is not None and position >= in_info_until:
            break
    if duration is None or duration <= 0:
        return None
    return int(duration * scale / 1_000_000)


def _mutagen_duration_ms(data: bytes, content_type: str) -> int | None:
    from mutagen.aac import AAC
    from mutagen.mp3 import MP3
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    readers: dict[str, tuple[type, ...]] = {
        "audio/mpeg": (MP3,),
        "audio/ogg": (OggOpus, OggVorbis),
        "audio/opus": (OggOpus,),
        "audio/wav": (WAVE,),
        "audio/x-wav": (WAVE,),
        "audio/aac": (AAC,),
    }
    for reader in readers.get(content_type, ()):
        try:
            length = reader(io.BytesIO(data)).info.length
        except Exception:
            continue
        if length and length > 0:
            return int(length * 1000)
    return None
