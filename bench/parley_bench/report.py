"""Benchmark results: figures, ratios, targets; printed as a table and written as JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Line:
    """One row of the results table: a figure, its baseline, the ratio and the target."""

    label: str
    figure: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        """met / MISSED / blank when there is no target."""
        if self.met is None:
            return ""
        return "met" if self.met else "MISSED"


@dataclass
class Outcome:
    """One scenario's (or baseline's) result."""

    number: str
    title: str
    status: str = "ok"
    """ok, skipped, not available or failed."""
    note: str = ""
    lines: list[Line] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, line: Line) -> Line:
        """Append a table row."""
        self.lines.append(line)
        return line


def at_least(ratio: float, target: float) -> tuple[str, bool]:
    """Target text and verdict for a higher-is-better ratio."""
    return f">= {target}x", ratio >= target


def at_most(ratio: float, target: float) -> tuple[str, bool]:
    """Target text and verdict for a lower-is-better ratio."""
    return f"<= {target}x", ratio <= target


BASELINES = {
    "a": "(a) raw autocommit insert",
    "b": "(b) request-shaped insert",
    "c": "(c) peer chat send (Supabase-style RLS insert)",
}
"""The write baselines (docs/benchmarks.md), by the name ``--only`` accepts."""
OPENING_BASELINES = ("b", "a", "c")
"""The order the baselines run in before the send scenarios; they run again in reverse after them."""
RATIO_ORDER = ("b", "c", "a")
"""The order a send scenario's ratios are listed in."""
SEND_TARGETS = {"b": 0.6, "c": 0.75}
"""Scenario 1 (send): at least 0.6x (b) and 0.75x (c)."""
HOT_TARGETS = {"b": 0.5}
"""Scenario 2 (hot conversation): at least 0.5x (b)."""
RLS_TARGET = 1.3
"""Scenario 6: every read as a member at most 1.3x the same read as service_role (p50)."""
HISTORY_TARGET = 1.5
"""Scenario 4: a history page at depth at most 1.5x the bare keyset query (p50)."""


def bracket(wanted: Iterable[str], steps: list[T]) -> list[str | T]:
    """The write runs in order: the wanted baselines as b, a, c; ``steps``; then the baselines as c, a, b.

    Running every baseline before and after the scenarios it frames brackets drift on a shared machine;
    the figures used for ratios are the means of both runs.
    """
    chosen = set(wanted)
    opening = [name for name in OPENING_BASELINES if name in chosen]
    return [*opening, *steps, *reversed(opening)]


def baseline_means(runs: dict[str, list[float]]) -> dict[str, float]:
    """Each baseline's tx/s: the mean of its runs (baselines without a run are left out)."""
    return {name: statistics.fmean(values) for name, values in runs.items() if values}


def baseline_ratio_lines(figure: float, baselines: dict[str, float], targets: dict[str, float],
                         unit: str = "tx/s") -> list[Line]:  # fmt: skip
    """A throughput's ratio to each baseline present, (b), (c), (a) in that order, with targets where set.

    The label, the baseline cell and the target name the baseline, so a verdict says which one it is against.
    """
    lines = []
    for name in RATIO_ORDER:
        if name not in baselines or baselines[name] <= 0:
            continue
        ratio = figure / baselines[name]
        text, met = ("", None)
        if name in targets:
            text, met = at_least(ratio, targets[name])
            text = f"{text} ({name})"
        lines.append(Line(f"vs {BASELINES[name]}", f"{figure:,.0f} {unit}", f"({name}) {baselines[name]:,.0f} tx/s",
                          ratio, text, met))  # fmt: skip
    return lines


def table(outcomes: list[Outcome]) -> str:
    """The human-readable results table."""
    header = ("#", "measurement", "figure", "baseline", "ratio", "target", "verdict")
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        if outcome.status != "ok":
            rows.append(
                (outcome.number, outcome.title, f"{outcome.status}: {outcome.note}".strip(": "), "", "", "", "")
            )
            continue
        for index, line in enumerate(outcome.lines):
            label = f"{outcome.title}: {line.label}" if index == 0 else f"  {line.label}"
            ratio = "" if line.ratio is None else f"{line.ratio:.2f}x"
            rows.append((outcome.number if index == 0 else "", label, line.figure, line.baseline, ratio,
                         line.target, line.verdict))  # fmt: skip
        if outcome.note:
            rows.append(("", f"  note: {outcome.note}", "", "", "", "", ""))
    measured = [
        row for row in rows if row[3] or row[4] or not row[2].startswith(("skipped", "not available", "failed"))
    ]
    widths = [max(len(header[i]), *(len(row[i]) for row in measured)) if measured else len(header[i]) for i in range(7)]

    def render(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([render(header), separator, *(render(row) for row in rows)])


def write_json(path: Path, meta: dict[str, Any], outcomes: list[Outcome]) -> None:
    """Write the run's metadata and every outcome as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "results": [asdict(outcome) for outcome in outcomes]}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


ANALYSIS_MARKER = "<!-- analysis: everything below is kept when the table above is regenerated -->"


def markdown(meta: dict[str, Any], outcomes: list[Outcome]) -> str:
    """The recorded run as Markdown: machine, date, commit, command, settings and the results table."""
    machine = meta.get("machine", {})
    cluster = meta.get("cluster", {})
    settings = cluster.get("settings", {}) if isinstance(cluster, dict) else {}
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python -m parley_bench --results-md bench/RESULTS.md` from the run below; see",
        "[docs/benchmarks.md](../docs/benchmarks.md) for what each row measures and how ratios are defined.",
        "",
        f"- **Date:** {meta.get('date')}",
        f"- **Commit:** `{meta.get('commit')}`",
        f"- **Command:** `{meta.get('command')}`" + (f" (arguments: `{' '.join(meta.get('argv', []))}`)"),
        f"- **Machine:** {machine.get('cpus')} CPUs ({machine.get('cpu')}), {machine.get('memory_gib')} GiB RAM,"
        f" kernel {machine.get('kernel')}; load average {meta.get('load_average_start')} at the start,"
        f" {meta.get('load_average_end')} at the end",
        f"- **Server:** {cluster.get('server') if isinstance(cluster, dict) else ''}",
        "- **Settings:** " + ", ".join(f"`{k}={v}`" for k, v in settings.items()),
        f"- **Run time:** {meta.get('elapsed_seconds')} s",
    ]
    if meta.get("applied"):
        lines.append(f"- **WHAT-IF run:** applied {', '.join(meta['applied'])}")
    lines += ["", "| # | measurement | figure | baseline | ratio | target | verdict |", "|---|---|---|---|---|---|---|"]
    for outcome in outcomes:
        if outcome.status != "ok":
            lines.append(f"| {outcome.number} | {outcome.title} | {outcome.status}: {outcome.note} | | | | |")
            continue
        for index, line in enumerate(outcome.lines):
            label = f"{outcome.title}: {line.label}" if index == 0 else line.label
            ratio = "" if line.ratio is None else f"{line.ratio:.2f}x"
            verdict = f"**{line.verdict}**" if line.verdict == "MISSED" else line.verdict
            cells = [outcome.number if index == 0 else "", label, line.figure, line.baseline, ratio,
                     line.target.replace(">=", "≥").replace("<=", "≤"), verdict]  # fmt: skip
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if outcome.note:
            lines.append(f"| | *{outcome.note}* | | | | | |")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, meta: dict[str, Any], outcomes: list[Outcome]) -> None:
    """Write the run's Markdown, keeping whatever follows the analysis marker in an existing file."""
    kept = ""
    if path.exists():
        text = path.read_text()
        if ANALYSIS_MARKER in text:
            kept = text.split(ANALYSIS_MARKER, 1)[1]
    path.write_text(markdown(meta, outcomes) + "\n" + ANALYSIS_MARKER + (kept or "\n"))


def read_json(path: Path) -> tuple[dict[str, Any], list[Outcome]]:
    """A results file written by :func:`write_json`, back as metadata and outcomes."""
    document = json.loads(path.read_text())
    outcomes = []
    for item in document["results"]:
        lines = [Line(**line) for line in item.pop("lines")]
        outcomes.append(Outcome(**item, lines=lines))
    return document["meta"], outcomes
