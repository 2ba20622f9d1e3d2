"""The security lint (Supabase's splinter rules): the migrated schema passes, and every rule catches its mistake.

* The migrated database has no finding that tests/security_lint_exemptions.toml
  does not exempt with a reason, and no exemption there is stale.
* For every rule, a deliberately broken object created in a scratch database
  is reported by exactly that rule (plus, where the mistake is by nature two
  mistakes, the companion rule named in the case), and the fixed counterpart
  is reported by no rule. Each case runs in a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from parley_dev import lint, testing

EXEMPTIONS = Path(__file__).parent / "security_lint_exemptions.toml"

# A public table under RLS, the starting point of the policy cases.
NOTES = """
create table public.lint_notes (id bigint primary key, owner uuid not null, body text not null);
alter table public.lint_notes enable row level security;
"""

OWNER_READS = """
create policy lint_notes_own on public.lint_notes for select to authenticated
  using ((select auth.uid()) = owner);
"""


@dataclass(frozen=True)
class Case:
    """A broken object one rule must report as `reported`, and its fixed counterpart."""

    broken: str
    reported: str
    clean: str
    # Other (rule, object) findings the broken object necessarily causes.
    companions: tuple[tuple[str, str], ...] = ()


CASES: dict[str, Case] = {
    "rls_disabled_in_public": Case(
        broken="create table public.lint_open (id bigint primary key);",
        reported="public.lint_open",
        clean="""
        create table public.lint_open (id bigint primary key, owner uuid not null);
        alter table public.lint_open enable row level security;
        create policy lint_open_own on public.lint_open for select to authenticated
          using ((select auth.uid()) = owner);
        """,
    ),
    "policy_exists_rls_disabled": Case(
        broken="""
        create table public.lint_notes (id bigint primary key, owner uuid not null, body text not null);
        """
        + OWNER_READS,
        reported="public.lint_notes",
        clean=NOTES + OWNER_READS,
        # A public table with RLS disabled is also rls_disabled_in_public.
        companions=(("rls_disabled_in_public", "public.lint_notes"),),
    ),
    "rls_enabled_no_policy": Case(
        broken=NOTES,
        reported="public.lint_notes",
        clean=NOTES + OWNER_READS,
    ),
    "function_search_path_mutable": Case(
        broken="create function public.lint_add(a integer, b integer) returns integer language sql as 'select a + b';",
        reported="public.lint_add(integer,integer)",
        clean="create function public.lint_add(a integer, b integer) returns integer language sql "
        "set search_path = '' as 'select a + b';",
    ),
    "security_definer_view": Case(
        broken=NOTES + OWNER_READS + "create view public.lint_note_bodies as select id, body from public.lint_notes;",
        reported="public.lint_note_bodies",
        clean=NOTES + OWNER_READS + "create view public.lint_note_bodies with (security_invoker = true) "
        "as select id, body from public.lint_notes;",
    ),
    "auth_rls_initplan": Case(
        broken=NOTES
        + """
        create policy lint_notes_own on public.lint_notes for select to authenticated
          using (auth.uid() = owner);
        """,
        reported="public.lint_notes policy lint_notes_own",
        clean=NOTES
        + """
        create policy lint_notes_own on public.lint_notes for select to authenticated
          using ((select auth.uid()) = owner
                 or (select auth.jwt() ->> 'role') = 'service_role'
                 or owner::text = (select current_setting('request.jwt.claim.sub', true)));
        """,
    ),
    "multiple_permissive_policies": Case(
        broken=NOTES
        + OWNER_READS
        + """
        create policy lint_notes_unowned on public.lint_notes for all to authenticated
          using (owner = '00000000-0000-0000-0000-000000000000');
        """,
        reported="public.lint_notes role authenticated select",
        clean=NOTES
        + OWNER_READS
        + """
        create policy lint_notes_unowned on public.lint_notes as restrictive for all to authenticated
          using (owner <> '00000000-0000-0000-0000-000000000000');
        """,
    ),
    "rls_references_user_metadata": Case(
        broken=NOTES
        + """
        create policy lint_notes_admin on public.lint_notes for select to authenticated
          using (((select auth.jwt()) -> 'user_metadata' ->> 'role') = 'admin');
        """,
        reported="public.lint_notes policy lint_notes_admin",
        clean=NOTES
        + """
        create policy lint_notes_admin on public.lint_notes for select to authenticated
          using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
        """,
    ),
    "rls_policy_always_true": Case(
        broken=NOTES
        + OWNER_READS
        + """
        create policy lint_notes_edit on public.lint_notes for update to authenticated using (true);
        """,
        reported="public.lint_notes policy lint_notes_edit",
        # Public reads with USING (true) are deliberate and allowed.
        clean=NOTES
        + """
        create policy lint_notes_read on public.lint_notes for select to anon, authenticated using (true);
        create policy lint_notes_edit on public.lint_notes for update to authenticated
          using ((select auth.uid()) = owner) with check ((select auth.uid()) = owner);
        """,
    ),
    "auth_users_exposed": Case(
        broken="create view public.lint_user_emails as select id, email from auth.users;",
        reported="public.lint_user_emails",
        clean="""
        create view public.lint_user_emails as select id, email from auth.users;
        revoke all on public.lint_user_emails from anon, authenticated;
        """,
        # A view over auth.users that runs with its owner's rights is also a security definer view.
        companions=(("security_definer_view", "public.lint_user_emails"),),
    ),
    "sensitive_columns_exposed": Case(
        broken="""
        create table public.lint_accounts (id bigint primary key, handle text not null, api_token text);
        alter table public.lint_accounts enable row level security;
        create policy lint_accounts_read on public.lint_accounts for select to anon using (true);
        """,
        reported="public.lint_accounts.api_token",
        clean="""
        create table public.lint_accounts (id bigint primary key, handle text not null, api_token text);
        alter table public.lint_accounts enable row level security;
        create policy lint_accounts_read on public.lint_accounts for select to anon using (true);
        revoke all on public.lint_accounts from anon, authenticated;
        grant select (id, handle) on public.lint_accounts to anon, authenticated;
        """,
    ),
    "anon_security_definer_function_executable": Case(
        broken="""
        create function public.lint_count_users() returns bigint language sql security definer
          set search_path = '' as 'select count(*) from auth.users';
        revoke all on function public.lint_count_users() from public, authenticated;
        grant execute on function public.lint_count_users() to anon;
        """,
        reported="public.lint_count_users()",
        clean="""
        create function public.lint_count_users() returns bigint language sql security definer
          set search_path = '' as 'select count(*) from auth.users';
        revoke all on function public.lint_count_users() from public, anon, authenticated;
        grant execute on function public.lint_count_users() to service_role;
        """,
    ),
    "authenticated_security_definer_function_executable": Case(
        broken="""
        create function public.lint_count_users() returns bigint language sql security definer
          set search_path = '' as 'select count(*) from auth.users';
        revoke all on function public.lint_count_users() from public, anon;
        grant execute on function public.lint_count_users() to authenticated;
        """,
        reported="public.lint_count_users()",
        # Helpers in parley_internal are not exposed through the API.
        clean="""
        create function parley_internal.lint_count_users() returns bigint language sql security definer
          set search_path = '' as 'select count(*) from auth.users';
        grant execute on function parley_internal.lint_count_users() to anon, authenticated;
        """,
    ),
    "extension_in_public": Case(
        # Not pg_trgm: the migrations install it (in extensions) for message search.
        broken="create extension fuzzystrmatch schema public;",
        reported="fuzzystrmatch",
        clean="create extension fuzzystrmatch schema extensions;",
    ),
    "unindexed_foreign_keys": Case(
        broken="""
        create table parley_internal.lint_rooms (id bigint primary key);
        create table parley_internal.lint_posts (
          id bigint primary key, room_id bigint not null references parley_internal.lint_rooms);
        """,
        reported="parley_internal.lint_posts foreign key lint_posts_room_id_fkey",
        clean="""
        create table parley_internal.lint_rooms (id bigint primary key);
        create table parley_internal.lint_posts (
          id bigint primary key, room_id bigint not null references parley_internal.lint_rooms);
        create index lint_posts_room_id_created on parley_internal.lint_posts (room_id, id);
        """,
    ),
    "duplicate_index": Case(
        broken="""
        create table parley_internal.lint_posts (id bigint primary key, room_id bigint not null);
        create index lint_posts_room on parley_internal.lint_posts (room_id);
        create index lint_posts_room_again on parley_internal.lint_posts (room_id);
        """,
        reported="parley_internal.lint_posts indexes lint_posts_room, lint_posts_room_again",
        clean="""
        create table parley_internal.lint_posts (id bigint primary key, room_id bigint not null);
        create index lint_posts_room on parley_internal.lint_posts (room_id);
        create index lint_posts_room_recent on parley_internal.lint_posts (room_id, id desc);
        """,
    ),
    "no_primary_key": Case(
        broken="create table parley_internal.lint_log (body text not null);",
        reported="parley_internal.lint_log",
        clean="create table parley_internal.lint_log (id bigint generated always as identity primary key, "
        "body text not null);",
    ),
}

RULE_NAMES = [rule.name for rule in lint.RULES]


@pytest.fixture(scope="module")
def scratch(server: testing.TestServer) -> Iterator[psycopg.Connection]:
    """A connection, as the database owner, to a scratch database cloned from the migrated template."""
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


def format_findings(findings: list[lint.Finding]) -> str:
    return "\n".join(f"  {finding}" for finding in findings)


# -- The migrated schema ------------------------------------------------------


def test_migrated_schema_has_no_unexempted_findings(database: testing.TestDatabase):
    exemptions = lint.load_exemptions(EXEMPTIONS)
    with psycopg.connect(database.url) as connection:
        findings = lint.run_lint(connection)
    remaining, stale = lint.apply_exemptions(findings, exemptions)
    problems = []
    if remaining:
        problems.append(
            f"{len(remaining)} security lint finding(s); fix them or exempt them with a reason in "
            f"{EXEMPTIONS.name}:\n{format_findings(remaining)}"
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
    assert new_findings(scratch, case.broken) == {(rule, case.reported), *case.companions}


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_passes_clean_counterpart(scratch: psycopg.Connection, rule: str):
    assert new_findings(scratch, CASES[rule].clean) == set()


# -- Rule details beyond the basic case ---------------------------------------


def test_sensitive_columns_exposed_reports_table_without_rls(scratch: psycopg.Connection):
    ddl = "create table public.lint_users (id bigint primary key, password_hash text, email text);"
    assert new_findings(scratch, ddl) == {
        ("rls_disabled_in_public", "public.lint_users"),
        ("sensitive_columns_exposed", "public.lint_users.password_hash"),
    }


def test_auth_users_exposed_follows_views_of_views(scratch: psycopg.Connection):
    ddl = """
    create view parley_internal.lint_emails as select id, email from auth.users;
    create view public.lint_emails as select id from parley_internal.lint_emails;
    """
    assert ("auth_users_exposed", "public.lint_emails") in new_findings(scratch, ddl)


def test_auth_rls_initplan_checks_with_check_and_current_setting(scratch: psycopg.Connection):
    ddl = (
        NOTES
        + """
    create policy lint_notes_add on public.lint_notes for insert to authenticated
      with check (owner::text = current_setting('request.jwt.claim.sub', true));
    """
    )
    assert new_findings(scratch, ddl) == {("auth_rls_initplan", "public.lint_notes policy lint_notes_add")}


def test_rls_policy_always_true_reports_insert_with_check_true(scratch: psycopg.Connection):
    ddl = (
        NOTES
        + OWNER_READS
        + """
    create policy lint_notes_add on public.lint_notes for insert to anon with check (true);
    """
    )
    assert new_findings(scratch, ddl) == {("rls_policy_always_true", "public.lint_notes policy lint_notes_add")}


def test_function_search_path_mutable_covers_parley_internal_but_not_extensions(scratch: psycopg.Connection):
    ddl = """
    create function parley_internal.lint_touch() returns trigger language plpgsql
      as 'begin return new; end';
    create extension citext schema extensions;
    """
    assert new_findings(scratch, ddl) == {("function_search_path_mutable", "parley_internal.lint_touch()")}


def test_multiple_permissive_policies_expands_public_and_all(scratch: psycopg.Connection):
    ddl = (
        NOTES
        + OWNER_READS
        + """
    create policy lint_notes_public on public.lint_notes for all using ((select auth.uid()) = owner);
    """
    )
    assert new_findings(scratch, ddl) == {
        ("multiple_permissive_policies", "public.lint_notes role authenticated select")
    }


# -- Exemptions ---------------------------------------------------------------


FINDING = lint.Finding("rls_enabled_no_policy", "public.example", "INFO", "no policy")


def test_exemption_without_reason_is_refused(tmp_path: Path):
    path = tmp_path / "exemptions.toml"
    path.write_text('[[exemption]]\nrule = "rls_enabled_no_policy"\nobject = "public.example"\nreason = " "\n')
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
        '[[exemption]]\nrule = "rls_enabled_no_policy"\nobject = "public.example"\nreason = "service_role only"\n'
        '[[exemption]]\nrule = "no_primary_key"\nobject = "public.gone"\nreason = "removed since"\n'
    )
    exemptions = lint.load_exemptions(path)
    remaining, stale = lint.apply_exemptions([FINDING], exemptions)
    assert remaining == []
    assert [(e.rule, e.object) for e in stale] == [("no_primary_key", "public.gone")]


def test_auth_rls_initplan_reports_calls_inside_correlated_subqueries(scratch: psycopg.Connection):
    members = """
    create table public.lint_members (note_id bigint not null, user_id uuid not null,
                                      primary key (note_id, user_id));
    alter table public.lint_members enable row level security;
    create policy lint_members_own on public.lint_members for select to authenticated
      using (user_id = (select auth.uid()));
    """
    per_row = "exists (select 1 from public.lint_members as m where m.note_id = id and m.user_id = auth.uid())"
    once = "exists (select 1 from public.lint_members as m where m.note_id = id and m.user_id = (select auth.uid()))"
    policy = "create policy lint_notes_member on public.lint_notes for select to authenticated using ({});"
    assert new_findings(scratch, NOTES + members + policy.format(per_row)) == {
        ("auth_rls_initplan", "public.lint_notes policy lint_notes_member")
    }
    assert new_findings(scratch, NOTES + members + policy.format(once)) == set()
