"""Running pgbench with custom scripts and reading its results.

Every run uses the extended protocol with prepared statements (``-M
prepared``, as PostgREST does), a fixed random seed, and per-transaction
logs from which latency percentiles are computed.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from parley.cluster import find_server_binaries

SEARCH_PATH = '"public", "extensions"'


@dataclass
class Connection:
    """Where pgbench connects: host, port, database, login user and password."""

    host: str
    port: int
    database: str
    user: str
    password: str


@dataclass
class Result:
    """What one pgbench run measured."""

    transactions: int
    seconds: float
    tps: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    failed: int = 0
    aborted_clients: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failed transaction and no aborted client."""
        return self.failed == 0 and self.aborted_clients == 0 and self.transactions > 0

    def percentile(self, fraction: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
        return ordered[index]

    def summary(self) -> dict[str, float | int | list[str]]:
        """JSON-ready figures."""
        figures: dict[str, float | int | list[str]] = {
            "transactions": self.transactions,
            "seconds": round(self.seconds, 3),
            "tps": round(self.tps, 1),
            "failed": self.failed,
            "aborted_clients": self.aborted_clients,
        }
        if self.latencies_ms:
            figures.update(
                p50_ms=round(self.percentile(0.50), 3),
                p95_ms=round(self.percentile(0.95), 3),
                p99_ms=round(self.percentile(0.99), 3),
                mean_ms=round(statistics.fmean(self.latencies_ms), 3),
            )
        if self.errors:
            figures["errors"] = self.errors[:5]
        return figures


def sql_literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def uuid_array(values: list[str]) -> str:
    """A uuid[] array literal expression."""
    return "(array[" + ", ".join(sql_literal(v) for v in values) + "]::uuid[])"


def text_array(values: list[str]) -> str:
    """A text[] array literal expression."""
    return "(array[" + ", ".join(sql_literal(v) for v in values) + "]::text[])"


def bigint_array(values: list[int]) -> str:
    """A bigint[] array literal expression."""
    return "(array[" + ", ".join(str(v) for v in values) + "]::bigint[])"


def claims_json(user_id: str | None, role: str = "authenticated") -> str:
    """The JWT claims PostgREST would set for a verified token (compact JSON)."""
    claims: dict[str, object] = {"role": role, "aud": role, "iss": "parley-bench", "exp": 4_102_444_800}
    if user_id is not None:
        claims.update(sub=user_id, email=f"{user_id}@bench.parley", aal="aal1", session_id=user_id)
    return json.dumps(claims, separators=(",", ":"))


def framing(claims_sql: str, role: str, method: str, path: str) -> str:
    """The statement PostgREST runs at the start of each request transaction.

    ``claims_sql`` is an SQL expression yielding the claims JSON text.
    """
    headers = '{"user-agent":"pgbench","content-type":"application/json"}'
    return (
        f"select set_config('search_path', {sql_literal(SEARCH_PATH)}, true), "
        f"set_config('role', {sql_literal(role)}, true), "
        f"set_config('request.jwt.claims', {claims_sql}, true), "
        f"set_config('request.method', {sql_literal(method)}, true), "
        f"set_config('request.path', {sql_literal(path)}, true), "
        f"set_config('request.headers', {sql_literal(headers)}, true), "
        "set_config('request.cookies', '{}', true);"
    )


def request_script(
    setup: list[str],
    claims_sql: str,
    statement: str,
    *,
    role: str = "authenticated",
    method: str = "POST",
    path: str = "/",
) -> str:
    """A pgbench script running ``statement`` as one PostgREST-style request transaction."""
    begin = "begin isolation level read committed read only;" if method == "GET" else "begin;"
    lines = [*setup, begin, framing(claims_sql, role, method, path), statement.rstrip(";") + ";", "commit;"]
    return "\n".join(lines) + "\n"


def session_options(role: str, user_id: str | None) -> str:
    """PGOPTIONS giving a whole session a request's role and claims (for statement-only latency)."""
    claims = claims_json(user_id, role).replace(" ", "\\ ")
    path = SEARCH_PATH.replace(" ", "\\ ")
    return f"-c role={role} -c request.jwt.claims={claims} -c search_path={path} -c request.method=GET"


_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")
_FAILED = re.compile(r"number of failed transactions: (\d+)")
_DURATION = re.compile(r"duration: (\d+) s")


def run(
    connection: Connection,
    scripts: list[str] | list[tuple[str, int]],
    *,
    clients: int = 1,
    threads: int | None = None,
    seconds: int | None = None,
    transactions: int | None = None,
    options: str | None = None,
    seed: int = 1,
    workdir: Path | None = None,
) -> Result:
    """Run pgbench with the given scripts (text, or (text, weight)); return tps and latencies."""
    bindir = find_server_binaries()
    with tempfile.TemporaryDirectory(prefix="pgbench-", dir=workdir) as folder:
        arguments = [
            str(bindir / "pgbench"), "-n", "-M", "prepared", "-c", str(clients),
            "-j", str(threads or min(clients, 2)), f"--random-seed={seed}", "-l",
            f"--log-prefix={folder}/log", "-h", connection.host, "-p", str(connection.port),
            "-U", connection.user,
        ]  # fmt: skip
        if seconds is not None:
            arguments += ["-T", str(seconds)]
        else:
            arguments += ["-t", str(transactions or 1)]
        for number, script in enumerate(scripts):
            text, weight = script if isinstance(script, tuple) else (script, 1)
            path = Path(folder) / f"script{number}.sql"
            path.write_text(text)
            arguments += ["-f", f"{path}@{weight}"]
        arguments.append(connection.database)
        environment = {**os.environ, "PGPASSWORD": connection.password}
        if options:
            environment["PGOPTIONS"] = options
        completed = subprocess.run(arguments, capture_output=True, text=True, env=environment, cwd=folder, check=False)
        output = completed.stdout + completed.stderr
        latencies = []
        for log in Path(folder).glob("log*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1000)
    processed = _PROCESSED.search(output)
    tps = _TPS.search(output)
    failed = _FAILED.search(output)
    errors = [line for line in output.splitlines() if "ERROR" in line or "aborted" in line or "FATAL" in line]
    aborted = sum(1 for line in output.splitlines() if re.search(r"client \d+ aborted", line))
    count = int(processed.group(1)) if processed else 0
    rate = float(tps.group(1)) if tps else 0.0
    duration = float(seconds) if seconds else (count / rate if rate else 0.0)
    if completed.returncode not in (0, 2) or (processed is None and not errors):
        errors.append(f"pgbench exited with {completed.returncode}: {output.strip()[-500:]}")
    return Result(count, duration, rate, latencies, int(failed.group(1)) if failed else 0, aborted, errors)
