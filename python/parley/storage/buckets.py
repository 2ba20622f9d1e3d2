"""The buckets Parley declares, as the upload path needs them.

storage/chat_files.sql writes the same values into ``storage.buckets`` and
supabase/config.toml declares them for the Supabase CLI;
tests/test_storage_buckets.py checks that the three agree.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Bucket:
    """A bucket's id and the upload rules Supabase Storage keeps in ``storage.buckets``."""

    id: str
    public: bool
    file_size_limit: int
    allowed_mime_types: frozenset[str]

    def allows(self, mime_type: str) -> bool:
        """Whether ``mime_type`` is on this bucket's allow-list."""
        return mime_type in self.allowed_mime_types


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

CHAT_FILES = Bucket(
    id="chat-files",
    public=False,
    file_size_limit=10 * MIB,
    allowed_mime_types=frozenset(
        {
            *IMAGE_TYPES,
            "image/heic",
            "audio/mpeg",
            "audio/mp4",
            "audio/aac",
            "audio/x-m4a",
            "audio/ogg",
            "audio/opus",
            "audio/webm",
            "audio/wav",
            "audio/x-wav",
            "video/mp4",
            "video/webm",
            "video/quicktime",
            "application/pdf",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "text/plain",
        }
    ),
)
"""Private chat attachments (seeds 002/003): 10 MiB, images, audio, video, PDF, office, text."""

AVATARS = Bucket(id="avatars", public=True, file_size_limit=2 * MIB, allowed_mime_types=frozenset(IMAGE_TYPES))
"""Public profile pictures: images only, 2 MiB."""

BUCKETS: dict[str, Bucket] = {bucket.id: bucket for bucket in (CHAT_FILES, AVATARS)}
