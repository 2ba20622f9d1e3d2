"""Where Parley finds its files, its state and its database.

Every setting comes from the environment, with a default that suits the
embedded stack started by ``make run``. See README.md, "Configuration".
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the folder holding migrations.txt."""


def project_root() -> Path:
    """The repository root, overridable with PARLEY_HOME."""
    return Path(os.environ.get("PARLEY_HOME", PROJECT_ROOT)).resolve()


def state_dir() -> Path:
    """The gitignored folder for the embedded cluster, secrets and logs."""
    return Path(os.environ.get("PARLEY_STATE_DIR", project_root() / ".parley")).resolve()


@dataclass(frozen=True)
class Secrets:
    """Credentials of one embedded stack, generated once and kept in the state folder."""

    superuser_password: str
    authenticator_password: str
    jwt_secret: str


def load_or_create_secrets(folder: Path) -> Secrets:
    """Read ``secrets.json`` from ``folder``, creating it (mode 0600) on first use.

    PARLEY_JWT_SECRET, when set, overrides the stored JWT secret.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        stored = {
            "superuser_password": secrets.token_urlsafe(24),
            "authenticator_password": secrets.token_urlsafe(24),
            "jwt_secret": secrets.token_urlsafe(48),
        }
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(stored, handle, indent=2)
    jwt_secret = os.environ.get("PARLEY_JWT_SECRET") or stored["jwt_secret"]
    return Secrets(stored["superuser_password"], stored["authenticator_password"], jwt_secret)


def external_database_url() -> str | None:
    """PARLEY_DATABASE_URL: an existing server to use instead of the embedded cluster."""
    return os.environ.get("PARLEY_DATABASE_URL") or None


def requested_port() -> int | None:
    """PARLEY_DB_PORT: a fixed port for the embedded cluster; otherwise a free one is chosen."""
    value = os.environ.get("PARLEY_DB_PORT")
    return int(value) if value else None


REALTIME_CAPTURE_MODES = ("wal", "table")
"""Values of parley.realtime_capture (functions/realtime_broadcast.sql, docs/realtime.md "Capture modes")."""


def realtime_capture(*, external: bool = False) -> str | None:
    """PARLEY_REALTIME_CAPTURE: how database events reach the realtime service, ``wal`` or ``table``.

    Default: ``wal`` for the embedded stack (its own `parley realtime` reads the WAL); None for an external
    database (PARLEY_DATABASE_URL, possibly a Supabase one, whose Realtime reads only realtime.messages):
    its setting is left as it is unless the variable names one.
    """
    value = (os.environ.get("PARLEY_REALTIME_CAPTURE") or "").strip().lower()
    if not value:
        return None if external else "wal"
    if value not in REALTIME_CAPTURE_MODES:
        raise ValueError(f"PARLEY_REALTIME_CAPTURE must be one of {', '.join(REALTIME_CAPTURE_MODES)}, not {value!r}")
    return value
