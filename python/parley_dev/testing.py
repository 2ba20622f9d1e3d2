"""Test infrastructure shared by the pytest fixtures and the pgTAP collector.

One throwaway cluster per test run (fsync off), or PARLEY_DATABASE_URL's
server when set. Migrations run once into a template database; every test
module and every pgTAP file gets its own database cloned from it with
``CREATE DATABASE ... TEMPLATE``, which takes a fraction of a second.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from parley import config, migrate, stack, tokens
from parley.cluster import EmbeddedCluster, find_server_binaries

TEMPLATE_DATABASE = "parley_template"
TEST_HELPERS = "tests/pgtap/helpers.sql"
_counter = itertools.count()


def _with_database(url: str, database: str) -> str:
    return make_conninfo(url, dbname=database)


@dataclass
class TestUser:
    """A user created in auth.users for a test, with a signed access token."""

    __test__ = False  # a test helper, not a class of tests for pytest to collect

    id: uuid.UUID
    email: str
    token: str


@dataclass
class TestDatabase:
    """One cloned database: an owner URL for set-up, an authenticator URL for the API."""

    __test__ = False  # a test helper, not a class of tests for pytest to collect

    name: str
    url: str
    api_url: str
    jwt_secret: str
    _users: dict[str, TestUser] = field(default_factory=dict)

    def create_user(self, name: str | None = None, *, metadata: dict | None = None) -> TestUser:
        """Insert an auth.users row as GoTrue would on sign-up; return it with a token."""
        name = name or f"user{next(_counter)}"
        user_id = uuid.uuid4()
        email = f"{name}-{user_id.hex[:8]}@test.parley"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(
                """
                insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
                values (%s, 'authenticated', 'authenticated', %s, '{"provider": "email"}', %s)
                """,
                (user_id, email, psycopg.types.json.Jsonb(metadata or {"display_name": name})),
            )
        user = TestUser(user_id, email, tokens.mint(self.jwt_secret, user_id=user_id, email=email))
        self._users[name] = user
        return user

    def token(self, role: str) -> str:
        """A bare token for the anon or service_role API role."""
        return tokens.mint(self.jwt_secret, role=role)


@dataclass
class TapResult:
    """One line of TAP output from a pgTAP file."""

    number: int
    ok: bool
    description: str
    diagnostics: list[str] = field(default_factory=list)


class TestServer:
    """The server a test run uses, and the template its databases are cloned from."""

    __test__ = False  # a test helper, not a class of tests for pytest to collect

    def __init__(self) -> None:
        external = config.external_database_url()
        self._lock = threading.Lock()
        self._template_ready = False
        if external:
            self.cluster = None
            self.admin_url = external
            self.authenticator_password: str | None = None
            self.jwt_secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
        else:
            folder = Path(tempfile.mkdtemp(prefix="parley-test-"))
            folder.chmod(0o755)
            self.cluster = EmbeddedCluster(folder, throwaway=True)
            self.cluster.start()
            self.admin_url = self.cluster.url("postgres")
            self.authenticator_password = self.cluster.secrets.authenticator_password
            self.jwt_secret = self.cluster.secrets.jwt_secret

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def _drop(self, connection: psycopg.Connection, name: str) -> None:
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    def ensure_template(self) -> None:
        """Migrate the template database once per run, with pgTAP and the test helpers."""
        with self._lock:
            if self._template_ready:
                return
            with self._admin() as connection:
                self._drop(connection, TEMPLATE_DATABASE)
                connection.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE_DATABASE)))
            template_url = _with_database(self.admin_url, TEMPLATE_DATABASE)
            migrate.migrate(template_url)
            if self.authenticator_password:
                stack.prepare_authenticator(template_url, self.authenticator_password)
            helpers = (config.project_root() / TEST_HELPERS).read_text()
            with psycopg.connect(template_url, autocommit=True) as connection:
                connection.execute(helpers.encode())
            self._template_ready = True

    def create_database(self, label: str, *, empty: bool = False) -> TestDatabase:
        """A fresh database cloned from the migrated template (or an empty one from template0)."""
        template = "template0" if empty else TEMPLATE_DATABASE
        if not empty:
            self.ensure_template()
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
        name = f"test_{slug}_{next(_counter)}"
        with self._admin() as connection:
            connection.execute(
                sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        url = _with_database(self.admin_url, name)
        if self.authenticator_password:
            api_url = make_conninfo(url, user="authenticator", password=self.authenticator_password)
        else:
            api_url = url
        return TestDatabase(name, url, api_url, self.jwt_secret)

    def drop_database(self, database: TestDatabase) -> None:
        """Drop a cloned database, disconnecting whoever still uses it."""
        with self._admin() as connection:
            self._drop(connection, database.name)

    def run_pgtap(self, path: Path) -> tuple[list[TapResult], list[str]]:
        """Run one pgTAP file in its own database; return the results and any problems.

        Problems are a SQL error that stopped the file, or a plan that does not
        match the number of results.
        """
        database = self.create_database(path.stem)
        try:
            params = conninfo_to_dict(database.url)
            environment = {
                **os.environ,
                "PGHOST": str(params.get("host", "127.0.0.1")),
                "PGPORT": str(params.get("port", "5432")),
                "PGUSER": str(params.get("user", "postgres")),
                "PGPASSWORD": str(params.get("password", "")),
                "PGDATABASE": database.name,
            }
            completed = subprocess.run(
                [str(find_server_binaries() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                 "-f", str(path)],
                capture_output=True, text=True, env=environment, check=False, timeout=600,
            )  # fmt: skip
        finally:
            self.drop_database(database)
        return parse_tap(completed.stdout, completed.stderr, completed.returncode)

    def shutdown(self) -> None:
        """Destroy the throwaway cluster (external servers keep their template)."""
        if self.cluster is not None:
            self.cluster.destroy()
            self.cluster = None


_TAP_LINE = re.compile(r"^(not ok|ok) (\d+)(?: - (.*))?$")


def parse_tap(stdout: str, stderr: str, returncode: int) -> tuple[list[TapResult], list[str]]:
    """Parse pgTAP's output into results and problems."""
    results: list[TapResult] = []
    problems: list[str] = []
    planned: int | None = None
    for line in stdout.splitlines():
        line = line.rstrip()
        if match := re.match(r"^1\.\.(\d+)$", line):
            planned = int(match.group(1))
        elif match := _TAP_LINE.match(line):
            results.append(TapResult(int(match.group(2)), match.group(1) == "ok", match.group(3) or ""))
        elif line.startswith("#") and results:
            results[-1].diagnostics.append(line)
    if returncode != 0:
        problems.append(f"psql exited with {returncode}: {stderr.strip()}")
    if planned is None:
        problems.append("no plan: the file must call plan(n) or no_plan()")
    elif planned != len(results):
        problems.append(f"planned {planned} tests but ran {len(results)}")
    return results, problems


_server: TestServer | None = None
_server_lock = threading.Lock()


def server() -> TestServer:
    """The test run's server, started on first use and destroyed at exit."""
    global _server
    with _server_lock:
        if _server is None:
            _server = TestServer()
            atexit.register(shutdown)
        return _server


def shutdown() -> None:
    """Destroy the test run's server if one was started."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.shutdown()
            _server = None
