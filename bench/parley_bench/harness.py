"""The benchmark's own throwaway cluster: started, migrated, described, destroyed."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from parley import config, migrate, stack
from parley.cluster import DURABLE_SETTINGS, THROWAWAY_SETTINGS, EmbeddedCluster
from parley_bench.pgbench import Connection
from parley_bench.scale import Scale

DATABASE = "parley_bench"
REALTIME_CAPTURE_MODES = config.REALTIME_CAPTURE_MODES
"""``parley.realtime_capture``: ``wal`` (the self-hosted stack's mode: the realtime service derives events from
the WAL, a send writes no extra row) or ``table`` (Supabase's mode: broadcast rows in ``realtime.messages``)."""


def cluster_settings(scale: Scale, *, durable: bool, stat_statements: bool) -> dict[str, str]:
    """Settings added to the embedded cluster's defaults for a benchmark run."""
    settings = {
        "shared_buffers": scale.shared_buffers,
        "max_wal_size": "8GB",
        "checkpoint_timeout": "15min",
        "maintenance_work_mem": "1GB",
        "effective_cache_size": "12GB",
        "log_min_messages": "warning",
    }
    if not durable:
        settings.update(THROWAWAY_SETTINGS)
    if stat_statements:
        settings.update({"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"})
    return settings


@dataclass
class BenchCluster:
    """A private cluster under a temporary folder, with the migrated ``parley_bench`` database."""

    scale: Scale
    durable: bool = True
    stat_statements: bool = False
    keep: bool = False
    realtime_capture: str = "wal"

    def start(self) -> None:
        """initdb, start, create and migrate the database, set the authenticator's password."""
        self.folder = Path(tempfile.mkdtemp(prefix=f"parley-bench-{self.scale.name}-", dir=_scratch_dir()))
        self.folder.chmod(0o755)
        self.settings = cluster_settings(self.scale, durable=self.durable, stat_statements=self.stat_statements)
        self.cluster = EmbeddedCluster(self.folder, throwaway=False, extra_settings=self.settings)
        self.cluster.start()
        admin = self.cluster.url("postgres")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"create database {DATABASE}")
        self.owner_url = make_conninfo(admin, dbname=DATABASE)
        migrate.migrate(self.owner_url, log=False)
        stack.set_realtime_capture(self.owner_url, self.realtime_capture)
        stack.prepare_authenticator(self.owner_url, self.cluster.secrets.authenticator_password)
        self.api_url = make_conninfo(
            self.owner_url, user="authenticator", password=self.cluster.secrets.authenticator_password
        )
        if self.stat_statements:
            with psycopg.connect(self.owner_url, autocommit=True) as connection:
                connection.execute("create extension if not exists pg_stat_statements with schema extensions")

    @property
    def jwt_secret(self) -> str:
        """The cluster's JWT secret."""
        return self.cluster.secrets.jwt_secret

    def pgbench_connection(self, *, owner: bool = False) -> Connection:
        """Connection details for pgbench: the authenticator (API path) or the owner."""
        params = conninfo_to_dict(self.owner_url if owner else self.api_url)
        return Connection(
            host=str(params["host"]),
            port=int(str(params["port"])),
            database=DATABASE,
            user=str(params["user"]),
            password=str(params["password"]),
        )

    def describe(self) -> dict[str, object]:
        """Server version and effective settings, for the report."""
        with psycopg.connect(self.owner_url, autocommit=True) as connection:
            version = connection.execute("select version()").fetchone()[0]  # type: ignore[index]
            names = sorted({*DURABLE_SETTINGS, *self.settings, "fsync", "synchronous_commit", "wal_level", "jit"})
            rows = connection.execute(
                "select name, pg_catalog.current_setting(name) from pg_catalog.pg_settings"
                " where name = any(%s) order by name",
                (names,),
            ).fetchall()
            # A custom setting is not in pg_settings until something defines it: read it by name.
            [(capture,)] = connection.execute(
                "select pg_catalog.current_setting('parley.realtime_capture', true)"
            ).fetchall()
        settings = dict(rows)
        settings["parley.realtime_capture"] = capture
        return {"server": version, "settings": settings, "data_dir": str(self.cluster.data_dir)}

    def stop(self) -> None:
        """Stop and delete the cluster (unless ``keep``)."""
        if self.keep:
            print(f"Cluster kept: {self.cluster.data_dir} (port {self.cluster.port}); owner URL {self.owner_url}")
            return
        self.cluster.destroy()


def _scratch_dir() -> str | None:
    """Where the cluster lives: PARLEY_BENCH_DIR, else the system temporary folder."""
    return os.environ.get("PARLEY_BENCH_DIR") or None


def machine() -> dict[str, object]:
    """The machine the run happened on."""
    memory = 0
    try:
        with open("/proc/meminfo") as meminfo:
            memory = int(meminfo.readline().split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    disk = shutil.disk_usage(tempfile.gettempdir())
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "disk_free_gib": round(disk.free / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def commit() -> str:
    """The repository's current commit (with -dirty if the tree has changes)."""
    root = config.project_root()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")
