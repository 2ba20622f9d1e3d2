"""The ``parley`` command: run the stack, migrate, mint tokens."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Protocol

import psycopg

from parley import config, migrate, stack, tokens
from parley.cluster import ClusterError, EmbeddedCluster
from parley.realtime.service import DEFAULT_PORT


def _database_url(explicit: str | None) -> str:
    """--database-url, else PARLEY_DATABASE_URL, else the embedded cluster (started if needed)."""
    if explicit:
        return explicit
    external = config.external_database_url()
    if external:
        return external
    cluster = EmbeddedCluster(config.state_dir(), port=config.requested_port())
    cluster.start()
    return cluster.url("postgres")


class _LoopingWorker(Protocol):
    """What the long-running workers share: run until ``stop`` is set, then close."""

    def run(self, stop: threading.Event) -> None: ...

    def close(self) -> None: ...


def _log_to_stderr() -> None:
    """The workers' log format: time, logger, level, message."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def _serve_worker(worker: _LoopingWorker, once: Callable[[], tuple[str, int]] | None) -> int:
    """One pass when ``once`` is given (print its report, return its exit code), else run until Ctrl-C.

    The worker is closed either way.
    """
    try:
        if once is not None:
            report, code = once()
            print(report, flush=True)
            return code
        stop = threading.Event()
        try:
            worker.run(stop)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        worker.close()


def command_migrate(arguments: argparse.Namespace) -> int:
    """Apply pending migrations and report what ran."""
    url = _database_url(arguments.database_url)
    steps = migrate.migrate(url, log=True)
    print(f"{len(steps)} file(s) applied." if steps else "Nothing to apply: the database is up to date.")
    return 0


def realtime_port() -> int:
    """PARLEY_REALTIME_PORT, else 4000."""
    return int(os.environ.get("PARLEY_REALTIME_PORT") or DEFAULT_PORT)


def resume_journal(slot: str) -> str:
    """Where the realtime service journals resume cursors: ``<state dir>/realtime-<slot>.resume``."""
    return str(config.state_dir() / f"realtime-{slot}.resume")


def start_realtime(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Callable[[stack.Stack], Callable[[], None]]:
    """An extra service for ``stack.run``: the realtime service on its own thread."""

    def start(running: stack.Stack) -> Callable[[], None]:
        from parley.realtime import RealtimeConfig, ServiceThread

        settings = RealtimeConfig(running.database_url, running.jwt_secret, host=host, port=port,
                                  resume_path=resume_journal("parley_realtime"))  # fmt: skip
        try:
            thread = ServiceThread(settings).start()
        except RuntimeError as error:
            cause = error.__cause__
            detail = (cause.strerror if isinstance(cause, OSError) else None) or str(cause or error)
            raise stack.StartupError(f"the realtime service cannot listen on {host}:{port}: {detail} "
                                     "(set PARLEY_REALTIME_PORT to another port)") from error  # fmt: skip
        assert thread.service is not None
        running.services.append(f"Realtime (Supabase protocol) on {thread.url}  (health: {thread.service.health_url})")
        return thread.stop

    return start


def command_run(arguments: argparse.Namespace) -> int:
    """Start the embedded stack and wait for Ctrl-C."""
    port = arguments.realtime_port if arguments.realtime_port is not None else realtime_port()
    return stack.run(extra_services=[start_realtime(port=port)])


def command_realtime(arguments: argparse.Namespace) -> int:
    """Run only the realtime service against the database until Ctrl-C."""
    import asyncio

    from parley.realtime import RealtimeConfig, serve_forever

    _log_to_stderr()
    url = _database_url(arguments.database_url)
    secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
    port = arguments.port if arguments.port is not None else realtime_port()
    settings = RealtimeConfig(url, secret, host=arguments.host, port=port, slot=arguments.slot,
                              max_queue=arguments.max_queue,
                              resume_path=arguments.resume_journal or resume_journal(arguments.slot))  # fmt: skip
    try:
        asyncio.run(serve_forever(settings))
    except OSError as error:  # the port is taken, most likely
        print(f"parley realtime: cannot listen on {arguments.host}:{port}: {error.strerror or error}; "
              "set PARLEY_REALTIME_PORT or --port", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def command_worker_files(arguments: argparse.Namespace) -> int:
    """Run the file worker: until Ctrl-C, or one pass with --once (its numbers printed as JSON)."""
    from datetime import timedelta

    from parley.storage import backend_from_env
    from parley.workers import FileWorker, FileWorkerSettings

    _log_to_stderr()
    url = _database_url(arguments.database_url)
    signing_key = os.environ.get("PARLEY_STORAGE_SIGNING_KEY")
    if not signing_key:
        signing_key = config.load_or_create_secrets(config.state_dir()).jwt_secret
    settings = FileWorkerSettings(
        url, orphan_age=timedelta(hours=arguments.orphan_age_hours), poll_interval=arguments.poll_interval,
        sweep_interval=arguments.sweep_interval,
    )  # fmt: skip
    worker = FileWorker(settings, backend_from_env(signing_key))

    def once() -> tuple[str, int]:
        stats = worker.run_once()
        return json.dumps(stats.as_dict()), 1 if stats.failed else 0

    return _serve_worker(worker, once if arguments.once else None)


def command_worker_calls(arguments: argparse.Namespace) -> int:
    """Run the ring-timeout job (where pg_cron is not installed): until Ctrl-C, or one pass with --once."""
    from parley.workers import CallWorker

    _log_to_stderr()
    worker = CallWorker(_database_url(arguments.database_url), interval=arguments.interval)
    return _serve_worker(worker, (lambda: (str(worker.run_once()), 0)) if arguments.once else None)


def command_worker_export(arguments: argparse.Namespace) -> int:
    """Write one user's data export (export_my_data and their files) into a zip archive."""
    from pathlib import Path

    from parley.db import Api
    from parley.storage import backend_from_env
    from parley.workers.data_export import export_archive

    url = _database_url(arguments.database_url)
    secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
    signing_key = os.environ.get("PARLEY_STORAGE_SIGNING_KEY") or secret
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "select id, email from auth.users where email = %s or id::text = %s", (arguments.user, arguments.user)
        ).fetchone()
    if row is None:
        print(f"no user {arguments.user!r} in auth.users", file=sys.stderr)
        return 1
    token = tokens.mint(secret, role="authenticated", user_id=row[0], email=row[1], expires_in=600)
    with Api(url, secret, max_connections=1) as api:
        result = export_archive(api, backend_from_env(signing_key), token=token, destination=Path(arguments.output),
                                url_seconds=arguments.url_seconds)  # fmt: skip
    print(f"{result.path}: {result.files_written} file(s), {result.files_missing} missing")
    return 0


def command_worker_retention(arguments: argparse.Namespace) -> int:
    """Run the retention job: until Ctrl-C, or one pass with --once (its numbers printed as JSON)."""
    from parley.workers.retention import RetentionSettings, RetentionWorker

    _log_to_stderr()
    settings = RetentionSettings(_database_url(arguments.database_url), batch_size=arguments.batch_size,
                                 interval=arguments.interval)  # fmt: skip
    worker = RetentionWorker(settings)
    return _serve_worker(worker, (lambda: (json.dumps(worker.run_once().as_dict()), 0)) if arguments.once else None)


def command_worker_webhooks(arguments: argparse.Namespace) -> int:
    """Run the webhook worker: until Ctrl-C, or one pass with --once (its numbers printed as JSON)."""
    from parley.workers.webhooks import WebhookSettings, WebhookWorker, serve_metrics

    _log_to_stderr()
    url = arguments.url or os.environ.get("PARLEY_WEBHOOK_URL")
    secret = arguments.secret or os.environ.get("PARLEY_WEBHOOK_SECRET")
    if not url or not secret:
        print("parley worker webhooks: set --url and --secret (or PARLEY_WEBHOOK_URL, PARLEY_WEBHOOK_SECRET)",
              file=sys.stderr)  # fmt: skip
        return 2
    settings = WebhookSettings(_database_url(arguments.database_url), url, secret, slot=arguments.slot,
                               max_attempts=arguments.max_attempts, backoff=arguments.backoff)  # fmt: skip
    worker = WebhookWorker(settings)
    server = serve_metrics(worker, arguments.metrics_port) if arguments.metrics_port else None
    try:
        return _serve_worker(worker, (lambda: (json.dumps(worker.run_once()), 0)) if arguments.once else None)
    finally:
        if server is not None:
            server.shutdown()


def command_token(arguments: argparse.Namespace) -> int:
    """Print a signed JWT for a user (by email or id) or for a bare API role."""
    secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
    if arguments.user is None:
        print(tokens.mint(secret, role=arguments.role, expires_in=arguments.expires_in))
        return 0
    url = _database_url(arguments.database_url)
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "select id, email from auth.users where email = %s or id::text = %s",
            (arguments.user, arguments.user),
        ).fetchone()
    if row is None:
        print(f"no user {arguments.user!r} in auth.users", file=sys.stderr)
        return 1
    print(tokens.mint(secret, role=arguments.role, user_id=row[0], email=row[1], expires_in=arguments.expires_in))
    return 0


def command_import(arguments: argparse.Namespace) -> int:
    """Import a legacy system's chat (docs/imports.md)."""
    from parley import imports

    return imports.command(arguments, _database_url(arguments.database_url))


def command_stop(arguments: argparse.Namespace) -> int:
    """Stop the embedded cluster if it runs (data is kept)."""
    EmbeddedCluster(config.state_dir()).stop()
    return 0


def command_reset(arguments: argparse.Namespace) -> int:
    """Drop the embedded database, migrate and seed it (asks first unless --yes)."""
    from parley import reset

    if not arguments.yes:
        prompt = f"This deletes ALL data of the embedded database in {config.state_dir()}. Type 'yes' to go on: "
        try:
            answer = input(prompt) if sys.stdin.isatty() else ""
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("parley reset: not confirmed; nothing was changed (pass --yes to skip the question)", file=sys.stderr)
            return 1
    try:
        reset.reset_embedded()
    except reset.ResetRefused as error:
        print(f"parley reset: {error}", file=sys.stderr)
        return 1
    return 0


def command_manifest(arguments: argparse.Namespace) -> int:
    """Make supabase/config.toml and supabase/migrations/ follow the manifest (docs/migrations.md)."""
    changed = migrate.sync_config_schema_paths()
    print("supabase/config.toml " + ("updated" if changed else "already matches migrations.txt"))
    written = migrate.sync_supabase_migrations()
    for name in written:
        print(f"  wrote {migrate.SUPABASE_MIGRATIONS}/{name}")
    print(f"{migrate.SUPABASE_MIGRATIONS}/: " + (f"{len(written)} file(s) added" if written else "up to date"))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``parley`` command."""
    root = argparse.ArgumentParser(prog="parley", description="Parley chat backend tools")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the embedded stack (make run)")
    run.add_argument("--realtime-port", type=int, default=None,
                     help="port of the realtime service (PARLEY_REALTIME_PORT, 4000)")  # fmt: skip
    run.set_defaults(handler=command_run)

    realtime = commands.add_parser("realtime", help="run the realtime (WebSocket) service")
    realtime.add_argument("--host", default="127.0.0.1")
    realtime.add_argument("--port", type=int, default=None, help="PARLEY_REALTIME_PORT, 4000")
    realtime.add_argument("--slot", default="parley_realtime", help="logical replication slot name")
    realtime.add_argument("--max-queue", type=int, default=1000, help="outgoing messages buffered per client")
    realtime.add_argument("--database-url")
    realtime.add_argument("--resume-journal", help="resume cursor journal (default: <state dir>/realtime-SLOT.resume)")
    realtime.set_defaults(handler=command_realtime)

    worker = commands.add_parser("worker", help="run a background worker")
    workers = worker.add_subparsers(dest="worker", required=True)
    files = workers.add_parser("files", help="verify attachments, make thumbnails, delete orphaned files")
    files.add_argument("--once", action="store_true", help="one pass, print its numbers as JSON, exit")
    files.add_argument(
        "--orphan-age-hours",
        type=float,
        default=float(os.environ.get("PARLEY_ORPHAN_AGE_HOURS", 24)),
        help="delete attachments never sent after this many hours (PARLEY_ORPHAN_AGE_HOURS, 24)",
    )
    files.add_argument("--poll-interval", type=float, default=2.0, help="seconds between passes")
    files.add_argument("--sweep-interval", type=float, default=300.0, help="seconds between orphan sweeps")
    files.add_argument("--database-url")
    files.set_defaults(handler=command_worker_files)
    calls = workers.add_parser("calls", help="mark unanswered calls missed (the ring timeout, where pg_cron is absent)")
    calls.add_argument("--once", action="store_true", help="one pass, print how many calls it expired, exit")
    calls.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    calls.add_argument("--database-url")
    calls.set_defaults(handler=command_worker_calls)

    export = workers.add_parser("export", help="write a user's data export and files into a zip archive")
    export.add_argument("--user", required=True, help="email or id of an auth.users row")
    export.add_argument("--output", required=True, help="the archive to write (.zip)")
    export.add_argument("--url-seconds", type=int, default=3600, help="lifetime of the signed URLs in export.json")
    export.add_argument("--database-url")
    export.set_defaults(handler=command_worker_export)

    retention = workers.add_parser("retention", help="delete expired messages in batches (where pg_cron is absent)")
    retention.add_argument("--once", action="store_true", help="one pass, print its numbers as JSON, exit")
    retention.add_argument("--batch-size", type=int, default=1000, help="messages per batch (one transaction each)")
    retention.add_argument("--interval", type=float, default=600.0, help="seconds between passes")
    retention.add_argument("--database-url")
    retention.set_defaults(handler=command_worker_retention)

    webhooks = workers.add_parser("webhooks", help="post outbox events to a URL (HMAC-signed, retried, at least once)")
    webhooks.add_argument("--url", help="receiver URL (PARLEY_WEBHOOK_URL)")
    webhooks.add_argument("--secret", help="HMAC signing secret (PARLEY_WEBHOOK_SECRET)")
    webhooks.add_argument("--slot", default="parley_outbox", help="logical replication slot of the worker")
    webhooks.add_argument("--max-attempts", type=int, default=8, help="attempts before an event is dead")
    webhooks.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds (doubles)")
    webhooks.add_argument("--metrics-port", type=int, default=0, help="serve /metrics on this port (0: off)")
    webhooks.add_argument("--once", action="store_true", help="one pass, print its numbers as JSON, exit")
    webhooks.add_argument("--database-url")
    webhooks.set_defaults(handler=command_worker_webhooks)

    migrate_command = commands.add_parser("migrate", help="apply pending migrations")
    migrate_command.add_argument("--database-url", help="target database (default: PARLEY_DATABASE_URL or embedded)")
    migrate_command.set_defaults(handler=command_migrate)

    reset_command = commands.add_parser("reset", help="drop the embedded database, migrate and seed (make reset)")
    reset_command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset_command.set_defaults(handler=command_reset)

    manifest = commands.add_parser(
        "manifest", help="regenerate supabase/config.toml schema_paths and supabase/migrations/ from migrations.txt"
    )
    manifest.set_defaults(handler=command_manifest)

    token = commands.add_parser("token", help="mint a JWT signed with the local secret")
    token.add_argument("--user", help="email or id of an auth.users row")
    token.add_argument("--role", default=None, choices=tokens.API_ROLES)
    token.add_argument("--expires-in", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--database-url")
    token.set_defaults(handler=command_token)

    import_command = commands.add_parser("import", help="import a legacy chat system (docs/imports.md)")
    from parley.imports import add_arguments as add_import_arguments

    add_import_arguments(import_command)
    import_command.set_defaults(handler=command_import)

    stop = commands.add_parser("stop", help="stop the embedded cluster")
    stop.set_defaults(handler=command_stop)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``parley`` console script."""
    arguments = parser().parse_args(argv)
    if arguments.command == "token" and arguments.role is None:
        arguments.role = "authenticated" if arguments.user else "anon"
    try:
        return int(arguments.handler(arguments))
    except (migrate.MigrationError, ClusterError) as error:
        print(f"parley {arguments.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
