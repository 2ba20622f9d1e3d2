"""Shared fixtures, and the collector that turns pgTAP files into pytest tests.

* ``server``: the run's PostgreSQL (a throwaway embedded cluster, or
  PARLEY_DATABASE_URL), with a migrated template database.
* ``database``: a database of the test module's own, cloned from the template.
* ``api``: the PostgREST-equivalent request path against that database.
* ``--target shim|platform|hosted`` (or PARLEY_TEST_TARGET) picks the
  database the whole suite runs on (docs/testing.md).

Every ``tests/pgtap/test_*.sql`` file runs in a database of its own; each of
its TAP assertions is reported as one pytest test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.db import Api
from parley.realtime import RealtimeConfig, ServiceThread
from parley.stack import set_realtime_capture
from parley_dev import testing


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        choices=testing.TARGETS,
        default=None,
        help="database the suite runs on: shim (vanilla PostgreSQL + Parley's shim, default), platform "
        "(Supabase's platform SQL) or hosted (the same with postgres demoted); also PARLEY_TEST_TARGET",
    )


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--target")
    if target:
        os.environ["PARLEY_TEST_TARGET"] = target
    reason = testing.platform_missing_reason()
    if testing.selected_target() != "shim" and reason and not os.environ.get("PARLEY_DATABASE_URL"):
        raise pytest.UsageError(f"test target {testing.selected_target()!r} cannot run: {reason}")


def pytest_report_header(config: pytest.Config) -> str:
    target = testing.selected_target()
    where = "" if target == "shim" else f" ({testing.platform_dir()})"
    return f"parley test target: {target}{where}"


@pytest.fixture(scope="session")
def server() -> testing.TestServer:
    return testing.server()


@pytest.fixture(scope="module")
def database(server: testing.TestServer, request: pytest.FixtureRequest) -> Iterator[testing.TestDatabase]:
    created = server.create_database(request.module.__name__.rsplit(".", 1)[-1])
    capture = getattr(request, "param", None)
    if capture is not None:  # a module that declares REALTIME_CAPTURE (see pytest_generate_tests)
        # As the cluster's superuser: on the hosted target postgres may not set a parley.* setting on a database
        # (no supautils allow-list names it). A Supabase database needs the default mode (table) anyway; wal is
        # the self-hosted stack's, whose owner is a superuser (docs/realtime.md "Capture modes").
        set_realtime_capture(server.superuser_url_of(created), capture)
    yield created
    server.drop_database(created)


@pytest.fixture(scope="module")
def api(database: testing.TestDatabase) -> Iterator[Api]:
    with Api(database.api_url, database.jwt_secret) as client:
        yield client


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a module's tests once per realtime capture mode when it declares ``REALTIME_CAPTURE = ("table", "wal")``
    (one test: ``@pytest.mark.realtime_capture("table", "wal")``).

    Each mode gets its own database (``alter database ... set parley.realtime_capture``, before any
    connection), so the same assertions check the same event contract in both (docs/realtime.md).
    PARLEY_TEST_CAPTURE=table|wal runs one mode only.
    """
    marker = metafunc.definition.get_closest_marker("realtime_capture")
    modes = marker.args if marker is not None else getattr(metafunc.module, "REALTIME_CAPTURE", None)
    if not modes or "database" not in metafunc.fixturenames:
        return
    only = os.environ.get("PARLEY_TEST_CAPTURE")
    selected = [mode for mode in modes if not only or mode == only]
    metafunc.parametrize("database", selected, indirect=True, scope="module", ids=[f"capture={m}" for m in selected])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    testing.shutdown()


# -- pgTAP ---------------------------------------------------------------


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".sql" and file_path.name.startswith("test_") and file_path.parent.name == "pgtap":
        return PgTapFile.from_parent(parent, path=file_path)
    return None


class PgTapFile(pytest.File):
    """A pgTAP file: run once in its own database, one item per assertion."""

    def collect(self) -> Iterator[pytest.Item]:
        results, problems = testing.server().run_pgtap(self.path)
        for result in results:
            name = f"{result.number} - {result.description}" if result.description else str(result.number)
            yield PgTapAssertion.from_parent(self, name=name, result=result)
        for index, problem in enumerate(problems):
            yield PgTapProblem.from_parent(self, name=f"file problem {index + 1}", problem=problem)


class PgTapAssertion(pytest.Item):
    """One ``ok``/``not ok`` line of a pgTAP run."""

    def __init__(self, *, result: testing.TapResult, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.result = result
        self.add_marker(pytest.mark.pgtap)

    def runtest(self) -> None:
        if not self.result.ok:
            raise PgTapFailure("\n".join([f"not ok {self.name}", *self.result.diagnostics]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"pgtap: {self.name}"


class PgTapProblem(pytest.Item):
    """A pgTAP file that errored or did not run its plan."""

    def __init__(self, *, problem: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.problem = problem

    def runtest(self) -> None:
        raise PgTapFailure(self.problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"pgtap: {self.name}"


class PgTapFailure(AssertionError):
    """A failed pgTAP assertion or a broken pgTAP file."""


# -- storage -------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-protocol server (moto's server mode) on 127.0.0.1, for the whole run."""
    from moto.server import ThreadedMotoServer

    from parley.cluster import free_port

    port = free_port()
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto_server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto_server.stop()


# -- realtime --------------------------------------------------------------


@pytest.fixture(scope="module")
def realtime_service(database: testing.TestDatabase) -> Iterator[ServiceThread]:
    """``parley realtime`` on a free loopback port, on the module's own database (slots dropped after)."""
    service = ServiceThread(
        RealtimeConfig(database.url, database.jwt_secret, port=0, poll_interval=0.02, max_queue=50,
                       retention_interval=0)
    ).start()  # fmt: skip
    yield service
    service.stop(drop_slots=True)
