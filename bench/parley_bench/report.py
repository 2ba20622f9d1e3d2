"""Benchmark results: figures, ratios, targets; printed as a table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
