"""``python -m parley_bench --scale small|full``: the whole benchmark run (``make bench``)."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psycopg

from parley import config
from parley_bench.generate import Generator
from parley_bench.harness import REALTIME_CAPTURE_MODES, BenchCluster, commit, machine
from parley_bench.imports import scenario_import
from parley_bench.pgbench import Result
from parley_bench.report import BASELINES, Line, Outcome, bracket, read_json, table, write_json, write_markdown
from parley_bench.scale import SCALES
from parley_bench.scenarios import Bench

DEFAULT_SEED = 20_260_108
SEND_SCENARIOS = ("1", "2", "8", "1s")
"""Send-shaped scenarios: each reports its ratio to the write baselines (a), (b) and (c)."""
SEND_TITLES = {"1": "Send throughput", "2": "Hot conversation", "8": "Retry storm"}


def log(message: str) -> None:
    """Progress on stderr-free stdout, flushed (make shows it live)."""
    print(message, flush=True)


def guarded(outcome_number: str, title: str, step: Callable[[], Outcome]) -> Outcome:
    """Run one scenario; a failure becomes a 'failed' row instead of ending the run."""
    began = time.perf_counter()
    log(f"[{outcome_number}] {title}")
    try:
        outcome = step()
    except Exception as error:  # any failure is reported in the table and the run goes on
        traceback.print_exc()
        outcome = Outcome(outcome_number, title, status="failed", note=f"{type(error).__name__}: {error}"[:300])
    outcome.figures["elapsed_seconds"] = round(time.perf_counter() - began, 1)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; write JSON under bench/results/."""
    parser = argparse.ArgumentParser(prog="parley_bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--results", type=Path, default=config.project_root() / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the cluster running afterwards (for EXPLAIN)")
    parser.add_argument("--throwaway", action="store_true", help="fsync and synchronous_commit off (not the default)")
    parser.add_argument("--results-md", type=Path, help="also write the run as Markdown (bench/RESULTS.md)")
    parser.add_argument("--from-json", type=Path, help="no run: print (and --results-md) a results JSON file")
    parser.add_argument("--only", help="comma-separated scenario numbers to run (e.g. 1,2,10); default all")
    parser.add_argument(
        "--apply",
        type=Path,
        action="append",
        default=[],
        help="what-if: apply this SQL file as the owner after the load (repeatable; the run is marked as such)",
    )
    parser.add_argument(
        "--realtime-capture",
        choices=REALTIME_CAPTURE_MODES,
        default="wal",
        help="parley.realtime_capture for the run: wal (default, the self-hosted stack's mode) or table "
        "(the Supabase mode: realtime.messages rows in the send transaction)",
    )
    parser.add_argument("--stat-statements", action="store_true", help="load pg_stat_statements (track = all)")
    arguments = parser.parse_args(argv)
    if arguments.from_json:
        recorded, recorded_outcomes = read_json(arguments.from_json)
        log(table(recorded_outcomes))
        if arguments.results_md:
            write_markdown(arguments.results_md, recorded, recorded_outcomes)
        return 0
    scale = SCALES[arguments.scale]
    started = time.perf_counter()
    stamp = datetime.datetime.now(datetime.UTC)
    meta: dict[str, object] = {
        "date": stamp.isoformat(timespec="seconds"),
        "commit": commit(),
        "command": f"make bench SCALE={scale.name}",
        "argv": sys.argv[1:] if argv is None else argv,
        "scale": scale.__dict__,
        "seed": arguments.seed,
        "machine": machine(),
        "applied": [str(path) for path in arguments.apply],
        "realtime_capture": arguments.realtime_capture,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    log(f"Parley benchmark, scale {scale.name}, seed {arguments.seed}, commit {meta['commit']}")
    log(f"Machine: {meta['machine']}")
    log(f"Realtime capture: {arguments.realtime_capture}")
    cluster = BenchCluster(scale, durable=not arguments.throwaway, stat_statements=arguments.stat_statements,
                           keep=arguments.keep, realtime_capture=arguments.realtime_capture)  # fmt: skip
    outcomes: list[Outcome] = []
    try:
        cluster.start()
        description = cluster.describe()
        meta["cluster"] = description
        log(f"Cluster: {description['server']}")
        log("Settings: " + ", ".join(f"{k}={v}" for k, v in description["settings"].items()))  # type: ignore[union-attr]
        log(f"Loading data (scale {scale.name})...")
        dataset = Generator(scale, arguments.seed).load(cluster.owner_url, log=lambda line: log(line))
        load = Outcome("0", "Data load (COPY as owner, triggers off, FKs verified)")
        seconds = dataset.load_seconds
        load.add(Line("total", f"{seconds['total']:.1f} s", f"{sum(dataset.rows.values()):,} rows"))
        load.add(Line("messages COPY", f"{seconds['public.messages']:.1f} s",
                      f"{dataset.rows['public.messages'] / seconds['public.messages']:,.0f} rows/s"))  # fmt: skip
        load.add(Line("messages index rebuild", f"{seconds['messages indexes']:.1f} s"))
        load.add(Line("FK verification + vacuum analyze", f"{seconds['verify'] + seconds['vacuum analyze']:.1f} s"))
        load.figures.update(rows=dataset.rows, seconds={k: round(v, 2) for k, v in seconds.items()})
        outcomes.append(load)
        for extra in arguments.apply:
            log(f"WHAT-IF RUN: applying {extra} after the load")
            with psycopg.connect(cluster.owner_url, autocommit=True) as connection:
                connection.execute(extra.read_text().encode())
                connection.execute("analyze")
        bench = Bench(cluster, dataset, log=log)
        wanted = set(arguments.only.split(",")) if arguments.only else None

        def want(*numbers: str) -> bool:
            return wanted is None or bool(wanted & set(numbers))

        for number, title, step in (
            ("10", "Disk per message", bench.scenario_disk),
            ("3", "Inbox", bench.scenario_inbox),
            ("4", "History at depth", bench.scenario_history),
            ("5", "Unread counts, mark_read", bench.scenario_unread),
            ("6", "RLS overhead", bench.scenario_rls),
            ("7", "Full-text search", bench.scenario_search),
        ):
            if want(number):
                outcomes.append(guarded(number, title, step))
        # The write part: baselines b, a, c; the send scenarios; baselines c, a, b (drift bracketing). A send
        # scenario needs all three baselines for its ratios; --only a,b,c runs just those named.
        sends = [number for number in SEND_SCENARIOS if want(number)]
        named = {"a", "b", "c"} if wanted is None else wanted & {"a", "b", "c"}
        baselines = {"a", "b", "c"} if sends else named
        writes: dict[str, Outcome] = {}
        results: dict[str, Result | None] = {}
        failures: list[str] = []

        def send_step(number: str) -> Callable[[], None]:
            def measure() -> Outcome:
                if number == "1":
                    results[number] = bench.run_send()
                elif number == "2":
                    results[number] = bench.run_hot()
                else:
                    return bench.scenario_retry_storm()
                return Outcome(number, SEND_TITLES[number])

            def run() -> None:
                writes[number] = guarded(number, SEND_TITLES[number], measure)

            return run

        for step in bracket(baselines, [send_step(number) for number in sends if number != "1s"]):
            if isinstance(step, str):
                log(f"[{step}] baseline {BASELINES[step]}")
                try:
                    bench.baseline(step)
                except Exception as error:  # reported in the baselines' row; the run goes on
                    traceback.print_exc()
                    failures.append(f"({step}): {type(error).__name__}: {error}"[:300])
            else:
                step()
        if baselines:
            entry = bench.baselines_outcome()
            if failures:
                entry.note = "failed runs: " + "; ".join(failures)
                if not entry.lines:
                    entry.status = "failed"
            outcomes.append(entry)
        # Ratios once both brackets have run: they use the means of the runs before and after.
        for number, outcome in writes.items():
            if outcome.status == "ok" and number in results:
                elapsed = outcome.figures["elapsed_seconds"]
                outcome = bench.send_outcome(results[number]) if number == "1" else bench.hot_outcome(results[number])
                outcome.figures["elapsed_seconds"] = elapsed
                writes[number] = outcome
            elif outcome.status == "ok" and "sends_per_second" in outcome.figures:
                bench.add_baseline_ratios(outcome, outcome.figures["sends_per_second"], unit="sends/s")
        outcomes.extend(writes.values())
        if want("1p") or (want("1") and arguments.stat_statements):
            outcomes.append(guarded("1p", "Send path profile", bench.profile_send))
        if want("9"):
            outcomes.append(guarded("9", "Realtime fan-out", bench.scenario_realtime))
        if want("11"):
            outcomes.append(guarded("11", "Call setup", bench.scenario_calls))
        if want("12"):  # after the others: it adds messages that other scenarios would count
            owner_url, seed = cluster.owner_url, arguments.seed
            outcomes.append(guarded("12", "Legacy import throughput",
                                    lambda: scenario_import(owner_url, scale, seed, log)))  # fmt: skip
        if want("1s"):
            # Last: it drops the search column (and re-adds it once) to measure its cost on the send path.
            # Outside the bracket (a table rewrite per re-add); its ratios use the bracket's means.
            search_cost = guarded("1s", "Send cost of the search index", bench.scenario_search_write_cost)
            if "with_tps" in search_cost.figures:
                bench.add_baseline_ratios(search_cost, search_cost.figures["with_tps"])
            outcomes.append(search_cost)
    finally:
        cluster.stop()
    order = ["0", "a/b", "a/b/c", "1", "1s", "1p", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
    outcomes.sort(key=lambda o: order.index(o.number) if o.number in order else len(order))
    meta["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    path = arguments.results / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}-{scale.name}.json"
    write_json(path, meta, outcomes)
    if arguments.results_md:
        write_markdown(arguments.results_md, meta, outcomes)
    log("")
    log(table(outcomes))
    log("")
    loads = f"{meta['load_average_start']} -> {meta['load_average_end']}"
    log(f"Run took {meta['elapsed_seconds']} s; load average {loads}")
    if arguments.apply:
        log("WHAT-IF RUN: applied " + ", ".join(str(p) for p in arguments.apply))
    log(f"JSON: {path}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
