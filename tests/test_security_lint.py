"""Parley's own lint (python/parley_dev/lint.py): splinter's policy rules for the storage schema it skips.

Supabase's linter itself runs in tests/test_splinter.py. This file checks:

* the migrated schema's storage policies have no finding that
  tests/security_lint_exemptions.toml does not exempt with a reason, and no
  exemption there is stale;
* every rule catches its mistake: a deliberately broken policy on
  storage.objects, created in a scratch database inside a transaction that is
  rolled back, is reported by exactly that rule, and its fixed counterpart by
  no rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from parley_dev import lint, testing

EXEMPTIONS = Path(__file__).parent / "security_lint_exemptions.toml"


@dataclass(frozen=True)
class Case:
    """A broken object one rule must report as `reported`, and its fixed counterpart."""

    broken: str
    reported: str
    clean: str


CASES: dict[str, Case] = {
    "auth_rls_initplan": Case(
        broken="""
        create policy lint_avatars_own on storage.objects for update to authenticated
          using (bucket_id = 'avatars' and owner_id = auth.uid()::text);
        """,
        reported="storage.objects policy lint_avatars_own",
        clean="""
        create policy lint_avatars_own on storage.objects for update to authenticated
          using (bucket_id = 'avatars' and owner_id = (select auth.uid())::text
                 and (select auth.jwt() ->> 'role') = 'authenticated'
                 and owner_id = (select current_setting('request.jwt.claim.sub', true)));
        """,
    ),
    "multiple_permissive_policies": Case(
        broken="""
        create policy lint_avatars_read on storage.objects for select to authenticated
          using (bucket_id = 'avatars');
        """,
        reported="storage.objects role authenticated select",
        clean="""
        create policy lint_avatars_read on storage.objects as restrictive for select to authenticated
          using (bucket_id <> 'quarantine');
        """,
    ),
    "rls_references_user_metadata": Case(
        broken="""
        create policy lint_avatars_admin on storage.objects for update to authenticated
          using (((select auth.jwt()) -> 'user_metadata' ->> 'role') = 'admin');
        """,
        reported="storage.objects policy lint_avatars_admin",
        clean="""
        create policy lint_avatars_admin on storage.objects for update to authenticated
          using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
        """,
    ),
    "rls_policy_always_true": Case(
        broken="create policy lint_avatars_edit on storage.objects for update to authenticated using (true);",
        reported="storage.objects policy lint_avatars_edit",
        # Public reads with USING (true) are deliberate and allowed.
        clean="""
        create policy lint_avatars_read on storage.objects for select to anon using (true);
        create policy lint_avatars_edit on storage.objects for update to authenticated
          using (owner_id = (select auth.uid())::text) with check (owner_id = (select auth.uid())::text);
        """,
    ),
}

RULE_NAMES = [rule.name for rule in lint.RULES]


@pytest.fixture(scope="module")
def scratch(server: testing.TestServer) -> Iterator[psycopg.Connection]:
    """A connection, as the migration role, to a scratch database cloned from the migrated template."""
    created = server.create_database("lint_scratch")
    try:
        with psycopg.connect(created.url) as connection:
            yield connection
    finally:
        server.drop_database(created)


def new_findings(connection: psycopg.Connection, ddl: str) -> set[tuple[str, str]]:
    """Create the objects in a transaction that is rolled back; return the (rule, object) pairs they add."""
    with connection.transaction(force_rollback=True):
        before = set(lint.run_lint(connection))
        connection.execute(ddl.encode())
        after = set(lint.run_lint(connection))
    return {(finding.rule, finding.object) for finding in after - before}


# -- The migrated schema ------------------------------------------------------


def test_migrated_storage_policies_have_no_unexempted_findings(database: testing.TestDatabase):
    exemptions = lint.load_exemptions(EXEMPTIONS)
    with psycopg.connect(database.url) as connection:
        findings = lint.run_lint(connection)
    remaining, stale = lint.apply_exemptions(findings, exemptions)
    problems = []
    if remaining:
        problems.append(
            f"{len(remaining)} lint finding(s); fix them or exempt them with a reason in {EXEMPTIONS.name}:\n"
            + "\n".join(f"  {finding}" for finding in remaining)
        )
    if stale:
        problems.append(
            "stale exemptions (they match no finding; delete them):\n"
            + "\n".join(f"  {exemption.rule}: {exemption.object}" for exemption in stale)
        )
    assert not problems, "\n\n".join(problems)


def test_exemption_file_is_valid():
    assert isinstance(lint.load_exemptions(EXEMPTIONS), list)


# -- Every rule catches its mistake -------------------------------------------


def test_every_rule_has_a_case_and_a_known_level():
    assert sorted(CASES) == sorted(RULE_NAMES)
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    assert {rule.level for rule in lint.RULES} <= set(lint.LEVELS)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_reports_broken_object(scratch: psycopg.Connection, rule: str):
    case = CASES[rule]
    assert new_findings(scratch, case.broken) == {(rule, case.reported)}


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_passes_clean_counterpart(scratch: psycopg.Connection, rule: str):
    assert new_findings(scratch, CASES[rule].clean) == set()


def test_auth_rls_initplan_checks_with_check_and_current_setting(scratch: psycopg.Connection):
    ddl = """
    create policy lint_avatars_add on storage.objects for insert to authenticated
      with check (owner_id = current_setting('request.jwt.claim.sub', true) and bucket_id = 'avatars');
    """
    assert ("auth_rls_initplan", "storage.objects policy lint_avatars_add") in new_findings(scratch, ddl)


def test_auth_rls_initplan_reports_calls_inside_correlated_subqueries(scratch: psycopg.Connection):
    per_row = "exists (select 1 from storage.buckets as b where b.id = bucket_id and b.owner = auth.uid())"
    once = "exists (select 1 from storage.buckets as b where b.id = bucket_id and b.owner = (select auth.uid()))"
    policy = "create policy lint_bucket_owner on storage.objects for update to authenticated using ({});"
    assert new_findings(scratch, policy.format(per_row)) == {
        ("auth_rls_initplan", "storage.objects policy lint_bucket_owner")
    }
    assert new_findings(scratch, policy.format(once)) == set()


def test_rls_policy_always_true_reports_insert_with_check_true(scratch: psycopg.Connection):
    ddl = "create policy lint_avatars_add on storage.objects for insert to anon with check (true);"
    assert new_findings(scratch, ddl) == {("rls_policy_always_true", "storage.objects policy lint_avatars_add")}


def test_multiple_permissive_policies_expands_public_and_all(scratch: psycopg.Connection):
    """A policy `for all` to PUBLIC overlaps every chat-files policy of authenticated (select, insert, delete)."""
    ddl = "create policy lint_public_all on storage.objects for all using (bucket_id = 'avatars');"
    assert new_findings(scratch, ddl) == {
        ("multiple_permissive_policies", f"storage.objects role authenticated {command}")
        for command in ("select", "insert", "delete")
    }


def test_policies_outside_storage_are_left_to_splinter(scratch: psycopg.Connection):
    ddl = """
    create table public.lint_notes (id bigint primary key, owner uuid not null);
    alter table public.lint_notes enable row level security;
    create policy lint_notes_own on public.lint_notes for select to authenticated using (auth.uid() = owner);
    """
    assert new_findings(scratch, ddl) == set()


# -- Exemptions ---------------------------------------------------------------


FINDING = lint.Finding("rls_policy_always_true", "storage.objects policy example", "WARN", "always true")


def test_exemption_without_reason_is_refused(tmp_path: Path):
    path = tmp_path / "exemptions.toml"
    path.write_text(
        '[[exemption]]\nrule = "rls_policy_always_true"\nobject = "storage.objects policy x"\nreason = " "\n'
    )
    with pytest.raises(lint.ExemptionError, match="a reason is required"):
        lint.load_exemptions(path)


def test_exemption_for_unknown_rule_is_refused(tmp_path: Path):
    path = tmp_path / "exemptions.toml"
    path.write_text('[[exemption]]\nrule = "no_such_rule"\nobject = "public.example"\nreason = "because"\n')
    with pytest.raises(lint.ExemptionError, match="unknown rule"):
        lint.load_exemptions(path)


def test_exemption_covers_its_finding_and_stale_ones_are_reported(tmp_path: Path):
    path = tmp_path / "exemptions.toml"
    path.write_text(
        '[[exemption]]\nrule = "rls_policy_always_true"\nobject = "storage.objects policy example"\n'
        'reason = "service uploads only"\n'
        '[[exemption]]\nrule = "auth_rls_initplan"\nobject = "storage.objects policy gone"\nreason = "removed"\n'
    )
    exemptions = lint.load_exemptions(path)
    remaining, stale = lint.apply_exemptions([FINDING], exemptions)
    assert remaining == []
    assert [(e.rule, e.object) for e in stale] == [("auth_rls_initplan", "storage.objects policy gone")]
