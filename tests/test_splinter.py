"""Supabase's own linter (splinter, ../shared/splinter/splinter.sql) over the migrated schema.

Runs on every target (the shim and Supabase's platform SQL): the schema must
have no ERROR or WARN finding, and every INFO finding is either fixed or
exempted with a one-line reason in tests/splinter_exemptions.toml. Parley's own
lint (python/parley_dev/lint.py) keeps only what splinter does not check.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from parley import config, migrate
from parley_dev import testing

EXEMPTIONS = Path(__file__).parent / "splinter_exemptions.toml"


def splinter_path() -> Path:
    """PARLEY_SPLINTER_SQL, default ../shared/splinter/splinter.sql next to the checkout."""
    override = os.environ.get("PARLEY_SPLINTER_SQL")
    return Path(override) if override else config.project_root().parent / "shared" / "splinter" / "splinter.sql"


@dataclass(frozen=True, order=True)
class Finding:
    """One splinter row."""

    name: str
    level: str
    detail: str
    cache_key: str


def run_splinter(connection: psycopg.Connection, exposed: str = "public") -> list[Finding]:
    """splinter.sql in one transaction, as its README says: pgrst.db_schemas, its search_path, the union."""
    text = splinter_path().read_text()
    first_statement, _, union = text.partition(";")
    assert first_statement.strip() == "set local search_path = ''", "splinter.sql no longer starts as expected"
    with connection.transaction():
        connection.execute("select set_config('pgrst.db_schemas', %s, true)", (exposed,))
        connection.execute(first_statement)
        rows = connection.execute(
            f"select name, level, detail, cache_key from ({union.strip().rstrip(';')}) lints"
        ).fetchall()
    return sorted(Finding(*row) for row in rows)


@pytest.fixture(scope="module")
def migrated(server: testing.TestServer) -> Iterator[testing.TestDatabase]:
    """The manifest applied to the bare platform (no pgTAP, no test helpers): what a project would lint."""
    if not splinter_path().is_file():
        pytest.skip(f"{splinter_path()} not found (Supabase's linter; set PARLEY_SPLINTER_SQL)")
    created = server.create_database("splinter", bare_platform=True)
    try:
        migrate.migrate(created.url)
        yield created
    finally:
        server.drop_database(created)


@pytest.fixture(scope="module")
def findings(migrated: testing.TestDatabase) -> list[Finding]:
    with psycopg.connect(migrated.url) as connection:
        return run_splinter(connection)


def load_exemptions() -> tuple[dict[str, str], dict[str, str]]:
    """(rule name -> reason, cache_key -> reason) from tests/splinter_exemptions.toml."""
    data = tomllib.loads(EXEMPTIONS.read_text())
    assert set(data) <= {"rule", "finding"}, f"unknown tables in {EXEMPTIONS.name}: {set(data)}"
    rules = {entry["name"]: entry.get("reason", "").strip() for entry in data.get("rule", [])}
    keys = {entry["cache_key"]: entry.get("reason", "").strip() for entry in data.get("finding", [])}
    return rules, keys


def test_splinter_reports_no_error_and_no_warning(findings: list[Finding]):
    serious = [f"[{f.level}] {f.name}: {f.detail}" for f in findings if f.level in ("ERROR", "WARN")]
    assert serious == [], "fix these (ERROR and WARN cannot be exempted):\n" + "\n".join(serious)


def test_every_info_finding_is_fixed_or_exempted_with_a_reason(findings: list[Finding]):
    rules, keys = load_exemptions()
    open_findings = [
        f"{f.cache_key}  ({f.name}: {f.detail})"
        for f in findings
        if f.level == "INFO" and f.name not in rules and f.cache_key not in keys
    ]
    assert open_findings == [], (
        f"fix these, or add a [[finding]] with cache_key and a one-line reason to {EXEMPTIONS.name}:\n"
        + "\n".join(open_findings)
    )


def test_exemptions_have_reasons_name_info_rules_and_are_not_stale(findings: list[Finding]):
    rules, keys = load_exemptions()
    assert all(rules.values()) and all(keys.values()), "every exemption needs a reason"
    levels = {f.name: f.level for f in findings}
    assert all(levels.get(name, "INFO") == "INFO" for name in rules), "only INFO rules can be exempted"
    present = {f.cache_key: f.level for f in findings}
    stale = sorted(key for key in keys if key not in present)
    assert stale == [], f"stale exemptions (no such finding any more; remove them): {stale}"
    assert all(present[key] == "INFO" for key in keys), "only INFO findings can be exempted"


def test_splinter_catches_a_table_exposed_without_rls(migrated: testing.TestDatabase):
    """The harness is not vacuous: a public table without RLS is an ERROR, and rolling back removes it."""
    with psycopg.connect(migrated.url) as connection:
        connection.execute("create table public.splinter_probe (id bigint primary key)")
        connection.execute("grant select on public.splinter_probe to anon")
        found = run_splinter(connection)
        connection.rollback()
    assert ("rls_disabled_in_public", "ERROR") in {(f.name, f.level) for f in found if "splinter_probe" in f.detail}
