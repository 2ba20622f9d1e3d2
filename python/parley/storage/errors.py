"""Typed refusals of the storage layer, with stable reasons."""

from __future__ import annotations

STATUS_BY_REASON: dict[str, int] = {
    "file_too_large": 413,
    "type_not_allowed": 415,
    "type_mismatch": 415,
    "empty_file": 400,
    "bad_file_name": 400,
    "not_found": 404,
    "file_rejected": 409,
}
"""Every reason a :class:`StorageRefusal` can carry, with its HTTP status."""


class StorageRefusal(Exception):
    """An upload or download refused before anything was written or signed.

    ``reason`` is a stable snake_case string frontends switch on (see
    docs/storage.md); ``status`` is the HTTP status to answer with.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in STATUS_BY_REASON:
            raise ValueError(f"unknown storage refusal reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.status = STATUS_BY_REASON[reason]
        self.message = message

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason}: {self.message}"

    def body(self) -> dict[str, str | int]:
        """A JSON error body in the shape Supabase Storage answers."""
        return {"statusCode": self.status, "error": self.reason, "message": self.message}


class InvalidKey(ValueError):
    """An object key or bucket name that could escape its bucket (a bug upstream, never user input)."""


class SignedUrlError(ValueError):
    """A signed URL that is malformed, tampered with or expired (``reason``: invalid or expired)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
