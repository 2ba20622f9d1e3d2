"""The embedded PostgreSQL cluster: a private server under the state folder.

``initdb`` and ``postgres`` refuse to run as root, so when Parley runs as root
the cluster's files belong to the unprivileged ``postgres`` OS user and every
server command runs through ``runuser``. The server listens on 127.0.0.1 only,
with password (SCRAM) authentication, and ``wal_level=logical`` for realtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from parley.config import Secrets, load_or_create_secrets

SERVER_OS_USER = "postgres"
MINIMUM_MAJOR_VERSION = 15

DURABLE_SETTINGS: Mapping[str, str] = {
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "max_connections": "200",
    "shared_buffers": "256MB",
}
"""Settings of every embedded cluster."""

THROWAWAY_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
"""Extra settings for clusters whose data may be lost (test runs)."""


class ClusterError(RuntimeError):
    """The embedded cluster could not be set up, started or stopped."""


def find_server_binaries() -> Path:
    """The bin folder of the newest installed PostgreSQL server, 15 or later.

    PARLEY_PG_BINDIR overrides the search.
    """
    override = os.environ.get("PARLEY_PG_BINDIR")
    if override:
        return Path(override)
    candidates = []
    for folder in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            major = int(folder.parent.name)
        except ValueError:
            continue
        if major >= MINIMUM_MAJOR_VERSION and (folder / "initdb").exists():
            candidates.append((major, folder))
    if not candidates:
        raise ClusterError(
            "no PostgreSQL server >= 15 found under /usr/lib/postgresql; "
            "run `make deps` (installs postgresql-15) or set PARLEY_PG_BINDIR"
        )
    return max(candidates)[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _server_user_can_reach(folder: Path) -> bool:
    """Whether the postgres OS user can traverse into ``folder``."""
    result = subprocess.run(
        ["runuser", "-u", SERVER_OS_USER, "--", "test", "-x", str(folder)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@dataclass
class EmbeddedCluster:
    """A private PostgreSQL cluster kept in ``folder``.

    ``throwaway=True`` trades durability for speed (fsync off); tests use it.
    """

    folder: Path
    port: int | None = None
    throwaway: bool = False
    extra_settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.secrets: Secrets = load_or_create_secrets(self.folder)
        self.bin = find_server_binaries()
        self.home = self._server_home()
        self.data_dir = self.home / "pgdata"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self._state_file = self.folder / "cluster.json"

    # -- layout ---------------------------------------------------------

    def _server_home(self) -> Path:
        """The folder the server's own files live in, owned by the server user.

        It is ``folder/server`` when the postgres OS user can reach ``folder``
        (for example a checkout under /root cannot be reached); otherwise a
        folder under /var/lib/parley named after ``folder``, linked from
        ``folder/server`` so the state stays in one place.
        """
        link = self.folder / "server"
        if not _running_as_root():
            link.mkdir(exist_ok=True)
            return link
        if link.is_symlink():
            return link.resolve()
        if link.exists() or _server_user_can_reach(self.folder):
            link.mkdir(exist_ok=True)
            shutil.chown(link, user=SERVER_OS_USER, group=SERVER_OS_USER)
            link.chmod(0o700)
            return link
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:16]
        outside = Path("/var/lib/parley") / digest
        outside.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        outside.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(outside, user=SERVER_OS_USER, group=SERVER_OS_USER)
        link.symlink_to(outside)
        return outside

    def _as_server_user(self, command: list[str]) -> list[str]:
        if _running_as_root():
            return ["runuser", "-u", SERVER_OS_USER, "--", *command]
        return command

    def _run(self, command: list[str], what: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._as_server_user(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ClusterError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    # -- lifecycle ------------------------------------------------------

    @property
    def initialized(self) -> bool:
        """Whether ``initdb`` has run here."""
        return (self.data_dir / "PG_VERSION").exists()

    def initialize(self) -> None:
        """Run ``initdb`` once: UTF-8, SCRAM on TCP, a generated superuser password."""
        if self.initialized:
            return
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as password_file:
            password_file.write(self.secrets.superuser_password + "\n")
        try:
            if _running_as_root():
                shutil.chown(self.socket_dir, user=SERVER_OS_USER, group=SERVER_OS_USER)
                shutil.chown(password_file.name, user=SERVER_OS_USER, group=SERVER_OS_USER)
            self._run(
                [
                    str(self.bin / "initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    "postgres",
                    "--pwfile",
                    password_file.name,
                    "--auth-local",
                    "peer",
                    "--auth-host",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C.UTF-8",
                ],
                "initdb",
            )
        finally:
            os.unlink(password_file.name)
        settings = {**DURABLE_SETTINGS, **(THROWAWAY_SETTINGS if self.throwaway else {})}
        settings.update(self.extra_settings)
        lines = ["", "# Parley embedded cluster"]
        lines += [f"{name} = '{value}'" for name, value in settings.items()]
        lines += ["listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{self.socket_dir}'"]
        with (self.data_dir / "postgresql.conf").open("a") as config:
            config.write("\n".join(lines) + "\n")

    def _choose_port(self) -> int:
        if self.port is not None:
            return self.port
        stored = None
        if self._state_file.exists():
            stored = json.loads(self._state_file.read_text()).get("port")
        if stored and port_is_free(stored):
            return int(stored)
        return free_port()

    def is_running(self) -> bool:
        """Whether this cluster's postmaster is alive."""
        if not self.initialized:
            return False
        result = subprocess.run(
            self._as_server_user([str(self.bin / "pg_ctl"), "status", "--pgdata", str(self.data_dir)]),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Initialize if needed and start the server; reuse it when already running."""
        self.initialize()
        if self.is_running():
            self.port = self._running_port()
            return
        self.port = self._choose_port()
        options = f"-p {self.port}"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                "60",
                "-o",
                options,
            ],
            "pg_ctl start (see " + str(self.log_file) + ")",
        )
        self._state_file.write_text(json.dumps({"port": self.port}))

    def _running_port(self) -> int:
        pid_file = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(pid_file[3])

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs."""
        if not self.is_running():
            return
        self._run(
            [str(self.bin / "pg_ctl"), "stop", "--pgdata", str(self.data_dir), "--mode", "fast", "--wait"],
            "pg_ctl stop",
        )

    def destroy(self) -> None:
        """Stop the server and delete all of its files."""
        self.stop()
        link = self.folder / "server"
        shutil.rmtree(self.home, ignore_errors=True)
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- connection strings ----------------------------------------------

    def url(self, database: str = "postgres", *, user: str = "postgres") -> str:
        """A libpq URL for ``user`` (postgres or authenticator) on 127.0.0.1."""
        if self.port is None:
            raise ClusterError("the cluster has not been started")
        password = {
            "postgres": self.secrets.superuser_password,
            "authenticator": self.secrets.authenticator_password,
        }[user]
        return f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
