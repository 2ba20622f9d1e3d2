"""Test infrastructure shared by the pytest fixtures and the pgTAP collector.

One throwaway cluster per test run (fsync off), or PARLEY_DATABASE_URL's
server when set. Migrations run once into a template database; every test
module and every pgTAP file gets its own database cloned from it with
``CREATE DATABASE ... TEMPLATE``, which takes a fraction of a second.

Three targets (PARLEY_TEST_TARGET or ``pytest --target``; docs/testing.md):

* ``shim`` (default): a vanilla cluster; Parley's own sql/platform_*.sql
  create the Supabase objects it uses.
* ``platform``: the cluster's bootstrap superuser is ``supabase_admin`` and
  Supabase's own platform SQL (../shared/supabase-platform, apply.sh) is
  applied to template1 before anything else; ``postgres`` stays a superuser.
* ``hosted``: the same, plus ``apply.sh --hosted``: ``postgres`` is demoted
  as on hosted Supabase, and migrations and tests run as that role.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
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
from parley.cluster import (
    DURABLE_SETTINGS,
    SERVER_OS_USER,
    THROWAWAY_SETTINGS,
    EmbeddedCluster,
    find_server_binaries,
)

TEMPLATE_DATABASE = "parley_template"
TARGETS = ("shim", "platform", "hosted")
PLATFORM_SUPERUSER = "supabase_admin"
TEST_HELPERS = "tests/pgtap/helpers.sql"
_counter = itertools.count()


def _with_database(url: str, database: str) -> str:
    return make_conninfo(url, dbname=database)


def selected_target() -> str:
    """The target this run tests: PARLEY_TEST_TARGET (set by ``pytest --target``), default ``shim``."""
    target = os.environ.get("PARLEY_TEST_TARGET", "shim") or "shim"
    if target not in TARGETS:
        raise ValueError(f"PARLEY_TEST_TARGET={target!r}: expected one of {', '.join(TARGETS)}")
    return target


def platform_dir() -> Path:
    """Supabase's platform SQL snapshot: PARLEY_PLATFORM_DIR, default ../shared/supabase-platform."""
    override = os.environ.get("PARLEY_PLATFORM_DIR")
    return Path(override) if override else config.project_root().parent / "shared" / "supabase-platform"


def platform_missing_reason() -> str | None:
    """Why the platform targets cannot run here, or None when they can."""
    folder = platform_dir()
    if not (folder / "apply.sh").is_file():
        return f"{folder}/apply.sh not found (Supabase's platform SQL snapshot; set PARLEY_PLATFORM_DIR)"
    return None


class PlatformCluster(EmbeddedCluster):
    """A throwaway cluster shaped like a Supabase project's database.

    Its bootstrap superuser is ``supabase_admin`` (as on hosted Supabase), and
    ``apply.sh`` puts Supabase's own roles and auth/storage/realtime schemas in
    template1, so every database the tests create starts like a Supabase one.
    ``postgres`` (created by the snapshot) gets the superuser password and is
    the role migrations and tests connect as; with ``hosted=True`` it is not a
    superuser.
    """

    def __init__(self, folder: Path, *, hosted: bool) -> None:
        super().__init__(folder, throwaway=True)
        self.hosted = hosted

    def initialize(self) -> None:
        """initdb with supabase_admin as the bootstrap superuser, then the embedded settings."""
        if self.initialized:
            return
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as password_file:
            password_file.write(self.secrets.superuser_password + "\n")
        try:
            if os.geteuid() == 0:
                shutil.chown(self.socket_dir, user=SERVER_OS_USER, group=SERVER_OS_USER)
                shutil.chown(password_file.name, user=SERVER_OS_USER, group=SERVER_OS_USER)
            self._run(
                [str(self.bin / "initdb"), "--pgdata", str(self.data_dir), "--username", PLATFORM_SUPERUSER,
                 "--pwfile", password_file.name, "--auth-local", "peer", "--auth-host", "scram-sha-256",
                 "--encoding", "UTF8", "--locale", "C.UTF-8"],
                "initdb",
            )  # fmt: skip
        finally:
            os.unlink(password_file.name)
        settings = {**DURABLE_SETTINGS, **THROWAWAY_SETTINGS}
        lines = ["", "# Parley test cluster (Supabase platform target)"]
        lines += [f"{name} = '{value}'" for name, value in settings.items()]
        lines += ["listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{self.socket_dir}'"]
        with (self.data_dir / "postgresql.conf").open("a") as settings_file:
            settings_file.write("\n".join(lines) + "\n")

    def superuser_url(self, database: str = "postgres") -> str:
        """A URL for the bootstrap superuser, supabase_admin."""
        return make_conninfo(self.url(database), user=PLATFORM_SUPERUSER)

    def apply_platform(self) -> None:
        """Run apply.sh on template1 (with --hosted for the hosted target); give postgres its password."""
        assert self.port is not None
        environment = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": PLATFORM_SUPERUSER,
            "PGPASSWORD": self.secrets.superuser_password,
            "PATH": f"{self.bin}:{os.environ.get('PATH', '')}",
        }
        command = ["bash", str(platform_dir() / "apply.sh"), "template1", *(["--hosted"] if self.hosted else [])]
        result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"apply.sh failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        with psycopg.connect(self.superuser_url("template1"), autocommit=True) as connection:
            connection.execute(
                sql.SQL("alter role postgres with login password {}").format(
                    sql.Literal(self.secrets.superuser_password)
                )
            )
            if self.hosted:
                # Stand-in for supautils' privileged_role_allowed_configs, which lists pgrst.* for postgres on
                # hosted Supabase (users set pgrst.db_schemas and pgrst.db_pre_request on authenticator there);
                # PostgreSQL 15 expresses that as SET on the parameter (docs/supabase-compatibility.md).
                connection.execute('grant set on parameter "pgrst.db_pre_request" to postgres')


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
        self.target = selected_target()
        self._lock = threading.Lock()
        self._template_ready = False
        self.cluster: EmbeddedCluster | None
        if external:
            self.cluster = None
            self.admin_url = external
            self.superuser_url = external
            self.authenticator_password: str | None = None
            self.jwt_secret = config.load_or_create_secrets(config.state_dir()).jwt_secret
            return
        folder = Path(tempfile.mkdtemp(prefix=f"parley-test-{self.target}-"))
        folder.chmod(0o755)
        if self.target == "shim":
            self.cluster = EmbeddedCluster(folder, throwaway=True)
            self.cluster.start()
            self.superuser_url = self.cluster.url("postgres")
        else:
            reason = platform_missing_reason()
            if reason:
                raise RuntimeError(f"test target {self.target!r} cannot run: {reason}")
            platform = PlatformCluster(folder, hosted=self.target == "hosted")
            self.cluster = platform
            platform.start()
            platform.apply_platform()
            self.superuser_url = platform.superuser_url()
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
            superuser_template_url = _with_database(self.superuser_url, TEMPLATE_DATABASE)
            if self.authenticator_password:
                stack.prepare_authenticator(superuser_template_url, self.authenticator_password)
            # pgTAP is not a trusted extension: on the hosted target only supabase_admin may install it. The
            # rest of the helpers is created by the migration role, as everything else in the template.
            with psycopg.connect(superuser_template_url, autocommit=True) as connection:
                owner = "postgres" if self.superuser_url != self.admin_url else "current_user"
                connection.execute(f"create schema if not exists tap authorization {owner}")
                connection.execute("create extension if not exists pgtap schema tap")
            helpers = (config.project_root() / TEST_HELPERS).read_text()
            with psycopg.connect(template_url, autocommit=True) as connection:
                connection.execute(helpers.encode())
            self._template_ready = True

    def create_database(self, label: str, *, empty: bool = False, bare_platform: bool = False) -> TestDatabase:
        """A fresh database cloned from the migrated template.

        ``empty``: from template0 (nothing of Supabase, whatever the target).
        ``bare_platform``: from template1, i.e. the platform before any migration
        (Supabase's platform SQL on the platform targets, nothing on the shim).
        """
        template = "template0" if empty else "template1" if bare_platform else TEMPLATE_DATABASE
        if not (empty or bare_platform):
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

    def superuser_url_of(self, database: TestDatabase) -> str:
        """The cluster's superuser, connected to ``database`` (set-up only a superuser may do on the hosted target)."""
        return _with_database(self.superuser_url, database.name)

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
