"""The local stack: a database (embedded or external), migrated and seeded.

``make run`` calls :func:`run`, which prints the credentials and keeps the
services up until Ctrl-C. Tests build on :class:`Stack` too.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psycopg
from psycopg import sql

from parley import config, migrate, tokens
from parley.cluster import EmbeddedCluster

SEED_FILE = "supabase/seed.sql"

DEMO_USERS = {
    "alice": ("00000000-0000-4000-8000-00000000a11c", "alice@example.com"),
    "bob": ("00000000-0000-4000-8000-000000000b0b", "bob@example.com"),
    "admin": ("00000000-0000-4000-8000-0000000ad317", "admin@example.com"),
    "carol": ("00000000-0000-4000-8000-0000000ca201", "carol@example.com"),
}
"""Demo users created by supabase/seed.sql, by name: (id, email)."""

DEMO_ROLES = {"alice": "member", "bob": "member", "admin": "owner", "carol": "guest"}
"""Each demo user's role in the demo organization (supabase/seed.sql)."""

DEMO_ORGANIZATION = ("00000000-0000-4000-8000-0000000ac3e0", "Acme Tutoring")
"""The demo organization: (id, name)."""

DEMO_PERSONA = ("00000000-0000-4000-8000-00000005a9e0", "Support Team")
"""The demo organization's persona: (id, display name)."""


@dataclass
class Stack:
    """A migrated database plus the secrets needed to talk to it as the API does."""

    database_url: str
    api_url: str
    jwt_secret: str
    cluster: EmbeddedCluster | None = None
    services: list[str] = field(default_factory=list)

    def token(self, role: str = "authenticated", user: str | None = None, expires_in: int = 3600) -> str:
        """A JWT for a demo user by name (see DEMO_USERS), or a bare role token."""
        if user is None:
            return tokens.mint(self.jwt_secret, role=role, expires_in=expires_in)
        user_id, email = DEMO_USERS[user]
        return tokens.mint(self.jwt_secret, role=role, user_id=user_id, email=email, expires_in=expires_in)


def prepare_authenticator(database_url: str, password: str) -> None:
    """Give the shim's authenticator role the embedded stack's password."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("alter role authenticator with login password {}").format(sql.Literal(password)))


def apply_seed(database_url: str, root: Path | None = None) -> None:
    """Load the demo data in supabase/seed.sql (idempotent)."""
    seed = ((root or config.project_root()) / SEED_FILE).read_text()
    with psycopg.connect(database_url, autocommit=True) as connection, connection.transaction():
        connection.execute(seed.encode())


def set_realtime_capture(owner_url: str, mode: str) -> None:
    """``alter database <this one> set parley.realtime_capture = mode`` (``wal`` or ``table``; docs/realtime.md).

    A database-level setting: sessions opened afterwards follow it (pooled connections already open keep
    the mode they started with until they reconnect).
    """
    if mode not in config.REALTIME_CAPTURE_MODES:
        raise ValueError(f"realtime capture mode must be one of {', '.join(config.REALTIME_CAPTURE_MODES)}: {mode!r}")
    with psycopg.connect(owner_url, autocommit=True) as connection:
        [(name,)] = connection.execute("select current_database()").fetchall()
        statement = sql.SQL("alter database {} set parley.realtime_capture = {}")
        connection.execute(statement.format(sql.Identifier(name), sql.Literal(mode)))


def start(*, seed: bool = True, log: bool = True) -> Stack:
    """Start (or reuse) the database, apply migrations and, optionally, the seed."""
    external = config.external_database_url()
    if external:
        migrate.migrate(external, log=log)
        capture = config.realtime_capture(external=True)
        if capture:
            set_realtime_capture(external, capture)
        if seed:
            apply_seed(external)
        return Stack(
            database_url=external,
            api_url=external,
            jwt_secret=config.load_or_create_secrets(config.state_dir()).jwt_secret,
        )
    cluster = EmbeddedCluster(config.state_dir(), port=config.requested_port())
    cluster.start()
    database_url = cluster.url("postgres")
    migrate.migrate(database_url, log=log)
    set_realtime_capture(database_url, config.realtime_capture() or "wal")
    prepare_authenticator(database_url, cluster.secrets.authenticator_password)
    if seed:
        apply_seed(database_url)
    return Stack(
        database_url=database_url,
        api_url=cluster.url("postgres", user="authenticator"),
        jwt_secret=cluster.secrets.jwt_secret,
        cluster=cluster,
        services=[f"PostgreSQL {cluster.bin.parent.name} on 127.0.0.1:{cluster.port} (data: {cluster.data_dir})"],
    )


def check_credentials(stack: Stack) -> None:
    """Prove the printed credentials work: a demo user's token through the request path."""
    from parley.db import Api

    user_id, _ = DEMO_USERS["alice"]
    with Api(stack.api_url, stack.jwt_secret, max_connections=1) as api:
        [row] = api.query("select auth.uid()::text as uid", token=stack.token(user="alice"))
    if row["uid"] != user_id:
        raise RuntimeError(f"credential check failed: auth.uid() was {row['uid']}, expected {user_id}")


def describe(stack: Stack) -> str:
    """The banner ``make run`` prints: URLs, secret, ready-to-use tokens, services."""
    lines = [
        "Parley is ready.",
        "",
        f"  Database URL (owner):       {stack.database_url}",
        f"  API URL (authenticator):    {stack.api_url}",
        f"  JWT secret (HS256):         {stack.jwt_secret}",
        "",
        "  Tokens (valid 24 h; mint more with `parley token --user EMAIL`):",
        f"    anon          {stack.token('anon', expires_in=86400)}",
        f"    service_role  {stack.token('service_role', expires_in=86400)}",
    ]
    for name in DEMO_USERS:
        lines.append(f"    {name:<13} {stack.token(user=name, expires_in=86400)}")
    lines += [
        "",
        f"  Organization: {DEMO_ORGANIZATION[1]}  {DEMO_ORGANIZATION[0]}",
        f"  Persona:      {DEMO_PERSONA[1]}  {DEMO_PERSONA[0]}",
        "  Users:",
    ]
    lines += [f"    {name:<13} {user_id}  {email}  ({DEMO_ROLES[name]})"
              for name, (user_id, email) in DEMO_USERS.items()]  # fmt: skip
    lines += ["", '  Call the API from Python or supabase-js: see README.md, "First calls".', "", "  Services:"]
    lines += [f"    - {service}" for service in stack.services] or ["    - (external database)"]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def start_file_worker(running: Stack) -> Callable[[], None]:
    """``make run``'s file worker on a thread, with the storage backend the environment configures.

    The local backend (default, under ``.parley/storage``) also gets the server
    for its signed URLs; an S3 backend gets its bucket created when missing.
    The worker logs to ``<state dir>/file-worker.log``. Returns the stop function.
    """
    import logging

    from parley.storage import LocalBackend, S3Backend, backend_from_env
    from parley.storage.server import SignedUrlServer
    from parley.workers import FileWorker, FileWorkerSettings, FileWorkerThread

    log_file = config.state_dir() / "file-worker.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    worker_log = logging.getLogger("parley.workers")
    worker_log.setLevel(logging.INFO)
    worker_log.addHandler(handler)

    backend = backend_from_env(running.jwt_secret)
    stops: list[Callable[[], None]] = []
    if isinstance(backend, LocalBackend):
        try:
            server = SignedUrlServer(backend).start()
        except OSError as error:  # the port is taken, most likely
            worker_log.removeHandler(handler)
            handler.close()
            raise StartupError(
                f"the storage signed-URL server cannot listen on {backend.public_url}: {error.strerror or error} "
                "(set PARLEY_STORAGE_PUBLIC_URL to another port)"
            ) from error
        else:
            stops.append(server.stop)
            running.services.append(f"Storage: local files in {backend.root}; signed URLs served on {server.url}")
    elif isinstance(backend, S3Backend):
        backend.ensure_bucket("chat-files")
        running.services.append(f"Storage: S3 at {backend.settings.endpoint_url or 'AWS'}")
    thread = FileWorkerThread(FileWorker(FileWorkerSettings(running.database_url), backend)).start()
    stops.append(thread.stop)
    running.services.append(f"File worker (parley worker files; log: {log_file})")

    def stop() -> None:
        for each in reversed(stops):
            each()
        worker_log.removeHandler(handler)
        handler.close()

    return stop


class StartupError(RuntimeError):
    """A service of ``make run`` could not start (a port in use, say); the message is one line for the console."""


def run(extra_services: list[Callable[[Stack], Callable[[], None]]] | None = None) -> int:
    """``make run``: start everything, print the banner, wait for SIGINT/SIGTERM, stop cleanly. Returns the exit code.

    The file worker always starts (:func:`start_file_worker`); each extra
    service is started with the stack and returns its stop function. If
    anything fails to start (a port in use), one line says what and
    everything already started is stopped again.
    """
    stopping = threading.Event()
    started = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if not started.is_set():
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    running: Stack | None = None
    stoppers: list[Callable[[], None]] = []

    def stop_all() -> None:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"parley run: stopping a service failed: {error}", file=sys.stderr, flush=True)
        stoppers.clear()
        if running is not None and running.cluster is not None:
            running.cluster.stop()

    try:
        running = start()
        check_credentials(running)
        for service in [start_file_worker, *(extra_services or [])]:
            stoppers.append(service(running))
        started.set()
    except StartupError as error:
        print(f"parley run: {error}", file=sys.stderr, flush=True)
        stop_all()
        print("parley run: stopped everything it had started.", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        stop_all()
        print("Stopped during start-up.", flush=True)
        return 130
    print(describe(running), flush=True)
    stopping.wait()
    print("\nStopping…", flush=True)
    stop_all()
    print("Stopped. Data is kept; `make run` again picks it up.", flush=True)
    return 0
