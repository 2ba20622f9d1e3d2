"""Parley's storage layer: buckets, safe names, content sniffing, backends, uploads.

See docs/storage.md. The public API:

* :data:`CHAT_FILES`, :data:`AVATARS`, :class:`Bucket`: the declared buckets;
* :func:`safe_file_name`, :func:`check_file_name`, :func:`chat_file_key`: names and keys;
* :func:`sniff`, :func:`decide`: the real type of an upload and the bucket's verdict;
* :class:`StorageBackend`, :class:`LocalBackend`, :class:`S3Backend`, :func:`backend_from_env`;
* :func:`upload`, :func:`signed_download_url`, :func:`attachment_download_url`: the authorized upload and
  download paths;
* :class:`StorageRefusal`: every refusal, with ``status`` and a stable ``reason``.
"""

from parley.storage.backends import LocalBackend, S3Backend, S3Settings, SignedObject, StorageBackend, check_key
from parley.storage.buckets import AVATARS, BUCKETS, CHAT_FILES, Bucket
from parley.storage.errors import InvalidKey, SignedUrlError, StorageRefusal
from parley.storage.files import (
    StoredObject,
    UploadResult,
    attachment_download_url,
    read_capped,
    signed_download_url,
    upload,
)
from parley.storage.names import chat_file_key, check_file_name, safe_file_name
from parley.storage.settings import backend_from_env
from parley.storage.sniff import decide, sniff

__all__ = [
    "AVATARS", "BUCKETS", "CHAT_FILES", "Bucket", "InvalidKey", "LocalBackend", "S3Backend", "S3Settings",
    "SignedObject", "SignedUrlError", "StorageBackend", "StorageRefusal", "StoredObject", "UploadResult",
    "attachment_download_url", "backend_from_env", "chat_file_key", "check_file_name", "check_key", "decide",
    "read_capped", "safe_file_name", "signed_download_url", "sniff", "upload",
]  # fmt: skip
