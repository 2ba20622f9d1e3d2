"""Scenario 12: legacy import throughput (issue 16), messages/s of ``parley import astegni``.

Generates the Astegni legacy schema (parley.imports.fixtures) in the loaded benchmark database
with ``scale.import_messages`` messages (PARLEY_BENCH_IMPORT_MESSAGES overrides it), then:

* two dry runs of the same first slice (``max_batches``; everything rolled back): one with the
  per-row realtime and audit triggers on, one in bulk mode — the ratio is what bulk mode buys;
* the real import in bulk mode, end to end (prepare, batches, finish, verification), whose
  messages/s is the headline figure, and a second run, which must import nothing.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

import psycopg

from parley import imports
from parley.imports import fixtures
from parley_bench.report import Line, Outcome
from parley_bench.scale import Scale

BATCH = 10_000
SLICE_BATCHES = 3


def import_messages(scale: Scale) -> int:
    """Legacy messages to generate: the scale's, unless PARLEY_BENCH_IMPORT_MESSAGES says otherwise."""
    return int(os.environ.get("PARLEY_BENCH_IMPORT_MESSAGES", scale.import_messages))


def scenario_import(owner_url: str, scale: Scale, seed: int, log: Callable[[str], None]) -> Outcome:
    """11. Import throughput of the Astegni legacy import."""
    outcome = Outcome("12", "Legacy import (Astegni, seed 000)")
    count = import_messages(scale)
    users = max(50, count // 250)
    with psycopg.connect(owner_url, autocommit=True) as connection:
        began = time.perf_counter()
        rows = fixtures.generate_astegni(connection, users=users, messages=count, seed=seed).rows
        generated = time.perf_counter() - began
        [(owner,)] = connection.execute(
            "insert into auth.users (id, aud, role, email) values (gen_random_uuid(), 'authenticated',"
            " 'authenticated', 'import-bench-owner@example.org') returning id"
        ).fetchall()
        [(organization,)] = connection.execute(
            "insert into organizations (name, created_by) values ('Astegni import', %s) returning id", (owner,)
        ).fetchall()
        connection.execute(
            "insert into organization_members (organization_id, user_id, role) values (%s, %s, 'owner')",
            (organization, owner),
        )
    legacy = rows["legacy_astegni.chat_messages"] + rows["legacy_astegni.call_logs"]
    log(f"  legacy data: {legacy:,} messages and calls, {users:,} users, generated in {generated:.1f} s")

    def run(**options: object) -> imports.Report:
        return imports.run(
            imports.Options(source="astegni", database_url=owner_url, organization_id=str(organization),
                            batch_size=BATCH, **options),  # type: ignore[arg-type]
            progress=io.StringIO(),
        )  # fmt: skip

    slices = {}
    for label, bulk in (("triggers on", False), ("bulk", True)):
        report = run(dry_run=True, bulk=bulk, max_batches=SLICE_BATCHES)
        slices[label] = report.messages / report.message_seconds
        log(f"  dry-run slice, {label}: {report.messages:,} messages in {report.message_seconds:.1f} s")
    full = run()
    if not full.verified:
        raise RuntimeError(f"verification failed: {full.verification}")
    again = run()
    rate = full.messages / full.seconds
    outcome.add(Line("end to end (prepare, batches, finish, verify)", f"{rate:,.0f} messages/s",
                     f"{full.messages:,} messages in {full.seconds:.1f} s"))  # fmt: skip
    outcome.add(Line("message batches alone", f"{full.messages / full.message_seconds:,.0f} messages/s",
                     f"{full.message_seconds:.1f} s, batches of {BATCH:,}"))  # fmt: skip
    outcome.add(Line(f"slice of {SLICE_BATCHES} batches, bulk", f"{slices['bulk']:,.0f} messages/s",
                     f"triggers on: {slices['triggers on']:,.0f} messages/s",
                     slices["bulk"] / slices["triggers on"]))  # fmt: skip
    outcome.add(Line("second run", f"{again.messages} messages imported", f"{again.seconds:.1f} s"))
    outcome.figures.update(legacy_rows=rows, messages=full.messages, seconds=round(full.seconds, 2),
                           message_seconds=round(full.message_seconds, 2), messages_per_second=round(rate),
                           slice_rates={k: round(v) for k, v in slices.items()},
                           rerun_messages=again.messages, summary=full.summary)  # fmt: skip
    return outcome
