"""The ``parley`` command: run the stack, migrate, mint tokens."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

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


def command_migrate(arguments: argparse.Namespace) -> int:
    """Apply pending migrations and report what ran."""
    url = _database_url(arguments.database_url)
    steps = migrate.migrate(url, log=True)
    print(f"{len(steps)} file(s) applied." if steps else "Nothing to apply: the database is up to date.")
    return 0


def start_realtime(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Callable[[stack.Stack], Callable[[], None]]:
    """An extra service for ``stack.run``: the realtime service on its own thread."""

    def start(running: stack.Stack) -> Callable[[], None]:
        from parley.realtime import RealtimeConfig, ServiceThread

        thread = ServiceThread(RealtimeConfig(running.database_url, running.jwt_secret, host=host, port=port)).start()
        assert thread.service is not None
        running.services.append(f"Realtime (Supabase protocol) on {thread.url}  (health: {thread.service.health_url})")
        return thread.stop

    return start


def command_run(arguments: argparse.Namespace) -> int:
    """Start the embedded stack and wait for Ctrl-C."""
    stack.run(extra_services=[start_realtime(port=arguments.realtime_port)])
    return 0


def command_realtime(arguments: argparse.Namespace) -> int:
    """Run only the realtime service against the database until Ctrl-C."""
    import asyncio
    import logging

    from parley.realtime import RealtimeConfig, serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = _database_url(arguments.database_url)
    secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
    settings = RealtimeConfig(url, secret, host=arguments.host, port=arguments.port, slot=arguments.slot,
                              max_queue=arguments.max_queue)  # fmt: skip
    try:
        asyncio.run(serve_forever(settings))
    except KeyboardInterrupt:
        pass
    return 0


def command_worker_files(arguments: argparse.Namespace) -> int:
    """Run the file worker: until Ctrl-C, or one pass with --once (its numbers printed as JSON)."""
    import json
    import logging
    import threading
    from datetime import timedelta

    from parley.storage import backend_from_env
    from parley.workers import FileWorker, FileWorkerSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = _database_url(arguments.database_url)
    signing_key = os.environ.get("PARLEY_STORAGE_SIGNING_KEY")
    if not signing_key:
        signing_key = config.load_or_create_secrets(config.state_dir()).jwt_secret
    settings = FileWorkerSettings(
        url, orphan_age=timedelta(hours=arguments.orphan_age_hours), poll_interval=arguments.poll_interval,
        sweep_interval=arguments.sweep_interval,
    )  # fmt: skip
    worker = FileWorker(settings, backend_from_env(signing_key))
    try:
        if arguments.once:
            stats = worker.run_once()
            print(json.dumps(stats.as_dict()), flush=True)
            return 1 if stats.failed else 0
        stop = threading.Event()
        try:
            worker.run(stop)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        worker.close()


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


def command_manifest(arguments: argparse.Namespace) -> int:
    """Make supabase/config.toml list the manifest's files, in its order."""
    changed = migrate.sync_config_schema_paths()
    print("supabase/config.toml " + ("updated" if changed else "already matches migrations.txt"))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``parley`` command."""
    root = argparse.ArgumentParser(prog="parley", description="Parley chat backend tools")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the embedded stack (make run)")
    run.add_argument("--realtime-port", type=int, default=DEFAULT_PORT, help="port of the realtime service")
    run.set_defaults(handler=command_run)

    realtime = commands.add_parser("realtime", help="run the realtime (WebSocket) service")
    realtime.add_argument("--host", default="127.0.0.1")
    realtime.add_argument("--port", type=int, default=DEFAULT_PORT)
    realtime.add_argument("--slot", default="parley_realtime", help="logical replication slot name")
    realtime.add_argument("--max-queue", type=int, default=1000, help="outgoing messages buffered per client")
    realtime.add_argument("--database-url")
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

    migrate_command = commands.add_parser("migrate", help="apply pending migrations")
    migrate_command.add_argument("--database-url", help="target database (default: PARLEY_DATABASE_URL or embedded)")
    migrate_command.set_defaults(handler=command_migrate)

    manifest = commands.add_parser("manifest", help="rewrite supabase/config.toml schema_paths from migrations.txt")
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
