"""Choosing and configuring a backend from the environment (see docs/storage.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from parley import config
from parley.storage.backends import LocalBackend, S3Backend, S3Settings, StorageBackend


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def backend_from_env(jwt_secret: str, environ: Mapping[str, str] | None = None) -> StorageBackend:
    """The backend ``PARLEY_STORAGE_BACKEND`` (``local``, the default, or ``s3``) names.

    local: ``PARLEY_STORAGE_DIR`` (default ``<state dir>/storage``),
    ``PARLEY_STORAGE_SIGNING_KEY`` (default: the JWT secret),
    ``PARLEY_STORAGE_PUBLIC_URL`` (default ``http://127.0.0.1:54321``).
    s3: ``PARLEY_S3_ENDPOINT_URL``, ``PARLEY_S3_REGION``, ``PARLEY_S3_ACCESS_KEY_ID``,
    ``PARLEY_S3_SECRET_ACCESS_KEY``, ``PARLEY_S3_SESSION_TOKEN``,
    ``PARLEY_S3_FORCE_PATH_STYLE`` (default true), ``PARLEY_S3_BUCKET_PREFIX``.
    """
    env = os.environ if environ is None else environ
    kind = (env.get("PARLEY_STORAGE_BACKEND") or "local").strip().lower()
    if kind == "local":
        root = env.get("PARLEY_STORAGE_DIR") or str(config.state_dir() / "storage")
        return LocalBackend(
            root=Path(root),
            signing_secret=env.get("PARLEY_STORAGE_SIGNING_KEY") or jwt_secret,
            public_url=env.get("PARLEY_STORAGE_PUBLIC_URL") or "http://127.0.0.1:54321",
        )
    if kind == "s3":
        return S3Backend(
            S3Settings(
                endpoint_url=env.get("PARLEY_S3_ENDPOINT_URL") or None,
                region=env.get("PARLEY_S3_REGION") or "us-east-1",
                access_key_id=env.get("PARLEY_S3_ACCESS_KEY_ID") or None,
                secret_access_key=env.get("PARLEY_S3_SECRET_ACCESS_KEY") or None,
                session_token=env.get("PARLEY_S3_SESSION_TOKEN") or None,
                path_style=_flag(env.get("PARLEY_S3_FORCE_PATH_STYLE"), True),
                bucket_prefix=env.get("PARLEY_S3_BUCKET_PREFIX") or "",
            )
        )
    raise ValueError(f"PARLEY_STORAGE_BACKEND must be 'local' or 's3', not {kind!r}")
