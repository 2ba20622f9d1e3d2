"""``parley import astegni|pea-support``: the thin driver of the SQL import (functions/imports.sql).

The logic is SQL in the ``parley_import`` schema; this module only connects,
wires a remote legacy database through postgres_fdw when ``--source`` names
another database, calls the steps, commits after each batch, shows progress
(rows/s, ETA) on stderr and prints the exceptions, conflicts and the
verification report. See docs/imports.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

SOURCES = {"astegni": "legacy_astegni", "pea-support": "legacy_pea"}
STEPS = {
    "astegni": ("astegni_prepare", "astegni_messages", "astegni_finish"),
    "pea-support": ("pea_prepare", "pea_messages", "pea_finish"),
}
STREAM_TOTAL = {
    "astegni": "select (select count(*) from legacy_astegni.chat_messages)"
    " + (select count(*) from legacy_astegni.call_logs)",
    "pea-support": "select count(*) from legacy_pea.chat_messages m "
    "cross join parley_import.pea_groups() g "
    "where parley_import.pea_in_scope(m.group_id, m.support_conversation_user_id, g.support_groups, g.all_groups)",
}


class ImportRefused(RuntimeError):
    """A refusal of the import driver (bad options, missing schema, another target organization)."""


@dataclass
class Options:
    """What one ``parley import`` run does."""

    source: str
    database_url: str
    legacy_url: str | None = None
    organization_id: str | None = None
    dry_run: bool = False
    batch_size: int = 5000
    bulk: bool = True
    pause_ms: int = 0
    retire_source: bool = False
    max_batches: int | None = None
    """Stop the message step after this many batches (import in slices; the next run resumes)."""


@dataclass
class Report:
    """The outcome of a run: its summary, the verification rows, exceptions and conflicts."""

    run_id: int
    summary: dict[str, Any]
    verification: list[tuple[str, int, int, int, bool]]
    exceptions: list[tuple[str, str, str, Any]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0
    bulk: bool = True
    message_seconds: float = 0.0
    """Time spent in the batched message step alone."""
    complete: bool = True
    """False when --max-batches stopped the message step early."""

    @property
    def verified(self) -> bool:
        """Every verification row matched."""
        return all(row[4] for row in self.verification)


class Progress:
    """Rows done, rows/s and ETA on a terminal line (or one line per update when not a terminal)."""

    def __init__(self, total: int, done: int, stream: TextIO, interval: float = 1.0) -> None:
        self.total, self.done, self.stream, self.interval = total, done, stream, interval
        self.started = time.monotonic()
        self.first = done
        self.shown = 0.0

    def update(self, rows: int, *, force: bool = False) -> None:
        """Add ``rows`` and redraw at most once per interval."""
        self.done += rows
        now = time.monotonic()
        if not force and now - self.shown < self.interval:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-6)
        rate = (self.done - self.first) / elapsed
        left = max(self.total - self.done, 0)
        eta = f"{left / rate:,.0f} s" if rate > 0 else "?"
        percent = 100.0 * self.done / self.total if self.total else 100.0
        line = f"messages {self.done:,}/{self.total:,} ({percent:.1f}%)  {rate:,.0f} rows/s  ETA {eta}"
        end = "\r" if self.stream.isatty() and not force else "\n"
        print(line, end=end, file=self.stream, flush=True)


def _same_database(a: str, b: str) -> bool:
    one, two = conninfo_to_dict(a), conninfo_to_dict(b)
    keys = ("host", "port", "dbname")
    return all(str(one.get(k) or "") == str(two.get(k) or "") for k in keys)


def wire_source(connection: psycopg.Connection, source: str, legacy_url: str | None, database_url: str) -> str:
    """Make the legacy schema readable in the Parley database; return how ('local' or 'postgres_fdw').

    A source URL naming the Parley database itself (or none) reads the schema in place. Another
    database is mounted through postgres_fdw: IMPORT FOREIGN SCHEMA of the remote schema (the URL's
    ``schema`` parameter, default the supported name) into the local schema of the supported name.
    """
    schema = SOURCES[source]
    if not legacy_url or _same_database(legacy_url, database_url):
        return "local"
    params = conninfo_to_dict(legacy_url)
    remote_schema = str(params.pop("schema", schema))
    user, password = params.pop("user", None), params.pop("password", None)
    server = f"parley_import_{source.replace('-', '_')}"
    existing = connection.execute(
        "select count(*) filter (where c.relkind <> 'f'), count(*) from pg_class c join pg_namespace n"
        " on n.oid = c.relnamespace where n.nspname = %s",
        (schema,),
    ).fetchone()
    if existing and existing[0]:
        raise ImportRefused(f"schema {schema} holds local tables; drop or rename it before importing from {legacy_url}")
    connection.execute("create extension if not exists postgres_fdw")
    options = {k: str(v) for k, v in params.items() if k in ("host", "port", "dbname", "sslmode")}
    connection.execute(sql.SQL("drop server if exists {} cascade").format(sql.Identifier(server)))
    connection.execute(
        sql.SQL("create server {} foreign data wrapper postgres_fdw options ({})").format(
            sql.Identifier(server),
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in options.items()),
        )
    )
    mapping = {"user": user, "password": password}
    mapping_options = [(k, v) for k, v in mapping.items() if v]
    statement = sql.SQL("create user mapping for current_user server {}").format(sql.Identifier(server))
    if mapping_options:
        statement += sql.SQL(" options ({})").format(
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in mapping_options)
        )
    connection.execute(statement)
    connection.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    connection.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    connection.execute(
        sql.SQL("import foreign schema {} from server {} into {}").format(
            sql.Identifier(remote_schema), sql.Identifier(server), sql.Identifier(schema)
        )
    )
    return "postgres_fdw"


def _bulk_allowed(connection: psycopg.Connection) -> bool:
    """Whether this role may turn triggers off for its own transactions (session_replication_role)."""
    try:
        with connection.transaction():
            connection.execute("select set_config('session_replication_role', 'replica', true)")
            connection.execute("select set_config('session_replication_role', 'origin', true)")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


def run(options: Options, *, progress: TextIO = sys.stderr, log: Callable[[str], None] | None = None) -> Report:
    """Run (or dry-run) one import; returns its report. Each batch commits unless ``dry_run``."""
    say = log or (lambda line: print(line, file=progress, flush=True))
    if options.source not in SOURCES:
        raise ImportRefused(f"unknown source {options.source!r}; use one of {', '.join(SOURCES)}")
    if options.batch_size < 1:
        raise ImportRefused("--batch-size must be at least 1")
    prepare, batch, finish = STEPS[options.source]
    started = time.monotonic()
    with psycopg.connect(options.database_url, autocommit=True) as connection:
        how = wire_source(connection, options.source, options.legacy_url, options.database_url)
        schema = SOURCES[options.source]
        if not connection.execute("select to_regnamespace(%s) is not null", (schema,)).fetchone()[0]:
            raise ImportRefused(
                f"no schema {schema}: load the legacy data there (docs/imports.md) or pass --source URL"
            )
        organization = options.organization_id or _known_target(connection, options.source)
        if organization is None:
            raise ImportRefused("--organization is required on the first run of a source")
        bulk = options.bulk and _bulk_allowed(connection)
        if options.bulk and not bulk:
            say("note: this role may not set session_replication_role; importing with triggers on (slower)")
        say(f"import {options.source}: legacy schema {schema} ({how}), organization {organization}"
            + (", DRY RUN (rolled back at the end)" if options.dry_run else ""))  # fmt: skip
        connection.autocommit = False
        try:
            run_id = connection.execute(
                "select parley_import.begin_run(%s, %s, %s, %s, %s)",
                (options.source, organization, options.dry_run, options.batch_size, bulk),
            ).fetchone()[0]
            _commit(connection, options)
            step = time.monotonic()
            figures = connection.execute(f"select parley_import.{prepare}(%s)", (run_id,)).fetchone()[0]
            _commit(connection, options)
            say(f"prepared in {time.monotonic() - step:.1f} s: {figures}")
            total = connection.execute(STREAM_TOTAL[options.source]).fetchone()[0]
            row = connection.execute(
                "select rows_done from parley_import.checkpoints where source = %s", (options.source,)
            ).fetchone()
            done = row[0] if row else 0
            if done:
                say(f"resuming after {done:,} legacy rows (checkpoint)")
            meter = Progress(total, done, progress)
            imported_before = _mapped(connection, options.source)
            batches = 0
            complete = True
            message_started = time.monotonic()
            while True:
                if options.max_batches is not None and batches >= options.max_batches:
                    complete = False
                    break
                batches += 1
                consumed = connection.execute(
                    f"select parley_import.{batch}(%s, %s)", (run_id, options.batch_size)
                ).fetchone()[0]
                _commit(connection, options)
                if not consumed:
                    break
                meter.update(consumed)
                if options.pause_ms:
                    time.sleep(options.pause_ms / 1000)
            meter.update(0, force=True)
            message_seconds = time.monotonic() - message_started
            messages = _mapped(connection, options.source) - imported_before
            if not complete:
                say(f"stopped after {batches} batches (--max-batches); run again to continue")
                return Report(run_id, {}, [], messages=messages, seconds=time.monotonic() - started, bulk=bulk,
                              message_seconds=message_seconds, complete=False)  # fmt: skip
            arguments: tuple[Any, ...] = (
                (run_id, options.retire_source) if options.source == "pea-support" else (run_id,)
            )
            placeholders = ", ".join(["%s"] * len(arguments))
            step = time.monotonic()
            summary = connection.execute(f"select parley_import.{finish}({placeholders})", arguments).fetchone()[0]
            _commit(connection, options)
            say(f"finished in {time.monotonic() - step:.1f} s")
            step = time.monotonic()
            verification = [
                tuple(r) for r in connection.execute("select * from parley_import.verify(%s)", (options.source,))
            ]
            exceptions = [tuple(r) for r in connection.execute(
                "select legacy_table, legacy_key, reason, detail from parley_import.exceptions where source = %s"
                " order by legacy_table, reason, legacy_key", (options.source,))]  # fmt: skip
            conflicts = [
                tuple(r) for r in connection.execute("select * from parley_import.conflicts(%s)", (options.source,))
            ]
            say(f"verified in {time.monotonic() - step:.1f} s")
        finally:
            connection.rollback()  # a dry run ends here; a real run has committed everything already
    return Report(run_id, summary, verification, exceptions, conflicts, messages,  # type: ignore[arg-type]
                  time.monotonic() - started, bulk, message_seconds)  # fmt: skip


def _commit(connection: psycopg.Connection, options: Options) -> None:
    if not options.dry_run:
        connection.commit()


def _mapped(connection: psycopg.Connection, source: str) -> int:
    return connection.execute("select count(*) from parley_import.message_map where source = %s", (source,)).fetchone()[
        0
    ]


def _known_target(connection: psycopg.Connection, source: str) -> str | None:
    row = connection.execute("select organization_id::text from parley_import.targets where source = %s", (source,))
    found = row.fetchone()
    return found[0] if found else None


def print_report(report: Report, options: Options, out: TextIO = sys.stdout) -> None:
    """The human-readable end of a run: exceptions (dry run: every one), conflicts, verification."""
    by_reason: dict[tuple[str, str], int] = {}
    for table, _key, reason, _detail in report.exceptions:
        by_reason[(table, reason)] = by_reason.get((table, reason), 0) + 1
    print(f"run {report.run_id}: {report.messages:,} messages imported in {report.seconds:.1f} s"
          + (f" ({report.messages / report.seconds:,.0f} messages/s)" if report.seconds and report.messages else "")
          + ("" if report.bulk else " [triggers on]"), file=out)  # fmt: skip
    print(f"summary: {report.summary}", file=out)
    print("exceptions (legacy rows not imported):", file=out)
    for (table, reason), count in sorted(by_reason.items()):
        print(f"  {table:<28} {reason:<32} {count:>8,}", file=out)
    if options.dry_run:
        for table, key, reason, detail in report.exceptions:
            print(f"  exception {table} {key}: {reason} {detail}", file=out)
    print(f"conflicts ({len(report.conflicts)}):", file=out)
    for kind, detail in report.conflicts if options.dry_run else report.conflicts[:20]:
        print(f"  {kind}: {detail}", file=out)
    if not options.dry_run and len(report.conflicts) > 20:
        print(f"  ... {len(report.conflicts) - 20} more (select * from parley_import.conflicts(...))", file=out)
    print("verification (legacy = imported + exceptions):", file=out)
    for item, legacy, imported, exceptions, ok in report.verification:
        print(f"  {item:<36} legacy {legacy:>9,}  imported {imported:>9,}  exceptions {exceptions:>7,}  "
              f"{'ok' if ok else 'MISMATCH'}", file=out)  # fmt: skip
    if options.dry_run:
        print("dry run: nothing was written (everything above was rolled back)", file=out)


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The options of ``parley import``."""
    command.add_argument("source", choices=sorted(SOURCES), help="which legacy system")
    command.add_argument("--source", dest="legacy_url", metavar="URL",
                         help="the legacy database; omitted or the Parley database itself: read its schema in place, "
                              "else mounted through postgres_fdw (?schema=NAME picks the remote schema)")  # fmt: skip
    command.add_argument("--organization", dest="organization_id", help="target organization id (first run)")
    command.add_argument("--dry-run", action="store_true", help="do everything, print it, roll it all back")
    command.add_argument("--batch-size", type=int, default=5000, help="legacy messages per committed batch")
    command.add_argument("--pause-ms", type=int, default=0, help="sleep between batches (leave room for live traffic)")
    command.add_argument("--max-batches", type=int, help="stop after this many message batches (resume later)")
    command.add_argument("--with-triggers", action="store_true",
                         help="keep per-row realtime and audit triggers on (slow; default: bulk mode)")  # fmt: skip
    command.add_argument("--retire-source", action="store_true",
                         help="pea-support: deactivate the legacy support group at the end")  # fmt: skip
    command.add_argument("--database-url", help="the Parley database (default: PARLEY_DATABASE_URL or embedded)")


def command(arguments: argparse.Namespace, database_url: str) -> int:
    """``parley import``: run, print the report; exit 0 when verified, 2 when the report shows a mismatch."""
    options = Options(
        source=arguments.source, database_url=database_url, legacy_url=arguments.legacy_url,
        organization_id=arguments.organization_id, dry_run=arguments.dry_run, batch_size=arguments.batch_size,
        bulk=not arguments.with_triggers, pause_ms=arguments.pause_ms, retire_source=arguments.retire_source,
        max_batches=arguments.max_batches,
    )  # fmt: skip
    try:
        report = run(options)
    except (ImportRefused, psycopg.Error) as error:
        print(f"parley import: {error}", file=sys.stderr)
        return 1
    if not report.complete:
        print(f"run {report.run_id}: {report.messages:,} messages imported; stopped early (--max-batches)")
        return 0
    print_report(report, options)
    return 0 if report.verified else 2


__all__ = ["Options", "Report", "add_arguments", "command", "print_report", "run"]
