"""File names and object keys.

Chat attachments live at ``{conversation_id}/{user_id}/{uuid}-{safe_file_name}``
so that ``storage.foldername(name)`` gives the conversation (``[1]``) and the
uploader (``[2]``) for storage.objects policies.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from parley.storage.errors import StorageRefusal

MAX_FILE_NAME_LENGTH = 100
"""Longest sanitized file name (the extension is kept within it)."""

MAX_EXTENSION_LENGTH = 16
FALLBACK_NAME = "file"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_REPEATS = re.compile(r"([._-])\1+")
_UNDERSCORE_RUNS = re.compile(r"_+")


def _is_control(character: str) -> bool:
    return unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _ascii_fold(text: str) -> str:
    """Drop accents where a plain ASCII letter exists (``é`` → ``e``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def safe_file_name(name: str | None, *, max_length: int = MAX_FILE_NAME_LENGTH) -> str:
    """A file name safe to use as the last segment of an object key; never empty.

    NFC-normalizes, keeps only the last path component (``/`` and ``\\`` both
    count as separators, so ``../../etc/passwd`` becomes ``passwd``), drops NUL
    and control characters, folds accents, replaces anything outside
    ``[A-Za-z0-9._-]`` with ``_``, collapses runs of ``.``, ``_`` and ``-``,
    strips leading dots and dashes and trailing separators from the stem, and caps the length at ``max_length``
    keeping the extension.
    """
    if max_length < 8:
        raise ValueError("max_length must be at least 8")
    # One pass can expose a new "extension" (``e._e`` after stripping), so repeat to a fixed point: after the
    # first pass every character is safe and each further pass only shortens the name, so this ends quickly.
    result = _sanitize_once(name, max_length)
    while (again := _sanitize_once(result, max_length)) != result:
        result = again
    return result


def _sanitize_once(name: str | None, max_length: int) -> str:
    """One sanitizing pass of :func:`safe_file_name`."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(character for character in text if not _is_control(character))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _ascii_fold(text)
    text = _UNSAFE.sub("_", text)
    text = _REPEATS.sub(r"\1", text)
    text = _UNDERSCORE_RUNS.sub("_", text)
    text = text.rstrip(".")
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION_LENGTH:
        # No extension, a hidden file (".bashrc") or an over-long "extension": one stem.
        stem, extension = text, ""
    extension = extension.strip("-_")
    if not extension:
        # "e._" has no real extension: treat it all as the stem, so a second pass changes nothing.
        stem = text
    suffix = f".{extension}" if extension else ""
    stem = stem.lstrip(".-_")[: max_length - len(suffix)].rstrip(".-_") or FALLBACK_NAME
    return (stem + suffix)[:max_length]


def check_file_name(name: str | None) -> str:
    """Refuse names only a hostile or broken client sends; return the sanitized name.

    Browsers send a bare file name. A name with a path separator, a ``..``
    segment, a NUL or control character, or nothing visible is refused with
    ``bad_file_name`` instead of being quietly rewritten.
    """
    if name is None or not name.strip():
        raise StorageRefusal("bad_file_name", "The file has no name.")
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise StorageRefusal("bad_file_name", "File names must not contain a path.")
    if any(_is_control(character) for character in name):
        raise StorageRefusal("bad_file_name", "File names must not contain control characters.")
    if len(name) > 1024:
        raise StorageRefusal("bad_file_name", "The file name is too long.")
    return safe_file_name(name)


def chat_file_key(conversation_id: uuid.UUID, user_id: uuid.UUID | str, file_name: str, *, object_id: uuid.UUID) -> str:
    """``{conversation_id}/{user_id}/{object_id}-{safe_file_name}`` (the folder is ``support`` for staff answering
    as the organization: ``chat_upload_folder``)."""
    return f"{conversation_id}/{user_id}/{object_id}-{safe_file_name(file_name)}"
