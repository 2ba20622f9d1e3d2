"""``parley worker export``: a user's data (export_my_data) and their files, written into one zip archive.

The archive holds ``export.json`` (the document ``export_my_data()`` returns,
each attachment given ``download_url``, a signed URL valid for ``url_seconds``,
and ``archive_path``, where its bytes are in the archive, or ``missing`` when the
object is gone) and ``files/<attachment id>-<file name>``. Everything is read
as the user (their token): the export shows exactly what the user may see of
their own data, and a file is signed and copied only if its storage.objects row
is visible to them.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.db import Api
from parley.storage.backends import StorageBackend
from parley.storage.errors import StorageRefusal
from parley.storage.files import signed_download_url
from parley.storage.names import safe_file_name

DEFAULT_URL_SECONDS = 3600


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    document: dict[str, Any]
    files_written: int
    files_missing: int


def export_archive(
    api: Api, backend: StorageBackend, *, token: str, destination: Path, url_seconds: int = DEFAULT_URL_SECONDS
) -> ExportResult:
    """Write the caller's export (``export_my_data`` plus their files) to ``destination`` as a zip archive."""
    document: dict[str, Any] = api.rpc("export_my_data", {}, token=token)
    written = missing = 0
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for attachment in document.get("attachments") or []:
            bucket, key = attachment["bucket_id"], attachment["object_name"]
            try:
                attachment["download_url"] = signed_download_url(
                    api, backend, token=token, bucket=bucket, key=key, expires_in=url_seconds
                )
                data = backend.get(bucket, key)
            except (StorageRefusal, FileNotFoundError, KeyError):
                attachment["missing"] = True
                missing += 1
                continue
            name = f"files/{attachment['id']}-{safe_file_name(attachment['file_name'])}"
            archive.writestr(name, data)
            attachment["archive_path"] = name
            written += 1
        archive.writestr("export.json", json.dumps(document, indent=2, ensure_ascii=False, default=str))
    partial.replace(destination)
    return ExportResult(destination, document, written, missing)
