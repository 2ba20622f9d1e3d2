"""Parley's own lint: the checks Supabase's linter (splinter) does not make.

Supabase's linter itself (``../shared/splinter/splinter.sql``) runs over the
migrated schema in tests/test_splinter.py, on every test target; its rules
(RLS state, exposure, search_path, views, indexes, keys, ...) are not repeated
here. What splinter skips is the ``storage`` schema: its policy rules leave out
Supabase's own schemas, yet Parley writes the ``storage.objects`` policies
that the Storage API enforces (storage/chat_files.sql). So this module keeps
splinter's four policy-shape rules, with splinter's names and levels, for the
policies on ``storage`` tables:

* ``auth_rls_initplan``: auth.uid()/jwt()/role()/email() or current_setting()
  called once per row instead of once per statement;
* ``multiple_permissive_policies``: several permissive policies for the same
  API role and command;
* ``rls_references_user_metadata``: authorization on user-editable metadata;
* ``rls_policy_always_true``: a write policy that lets everything through.

Each :class:`Rule` is a SQL query over the system catalogs returning one row
per finding: ``object`` (e.g. ``storage.objects policy chat_files_select``)
and ``detail``. :func:`run_lint` runs them. Exemptions live in a TOML file
(see :func:`load_exemptions`); each names a rule, an object and a reason.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# The schemas whose tables' policies this lint checks: those splinter's policy rules leave out although
# Parley writes policies there (storage.objects, enforced by the Storage API).
POLICY_SCHEMAS: tuple[str, ...] = ("storage",)

LEVELS: tuple[str, ...] = ("ERROR", "WARN", "INFO")


@dataclass(frozen=True)
class Rule:
    """One lint: its splinter name, level (ERROR, WARN or INFO), what it means, and its query."""

    name: str
    level: str
    description: str
    query: str


@dataclass(frozen=True, order=True)
class Finding:
    """One object a rule reports."""

    rule: str
    object: str
    level: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.rule}: {self.object}: {self.detail}"


@dataclass(frozen=True)
class Exemption:
    """A finding the project accepts on purpose, and why."""

    rule: str
    object: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        """Whether this exemption covers the finding."""
        return finding.rule == self.rule and finding.object == self.object


class ExemptionError(ValueError):
    """An exemption file entry that is malformed, unknown or stale."""


# -- SQL building blocks ------------------------------------------------------

_POLICIES = """
policies as (
  select pol.oid as policy_oid,
         c.oid as table_oid,
         c.relrowsecurity as rls_enabled,
         pg_catalog.format('%s policy %I', c.oid::pg_catalog.regclass, pol.polname) as object,
         pol.polname as policy_name,
         pol.polpermissive as permissive,
         case pol.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                         when 'd' then 'delete' else 'all' end as command,
         pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) as qual,
         pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) as with_check,
         array(select role.rolname::text from pg_catalog.pg_roles as role
               where role.rolname in ('anon', 'authenticated')
                 and (role.oid = any(pol.polroles) or 0::oid = any(pol.polroles))
               order by 1) as api_roles
  from pg_catalog.pg_policy as pol
  join pg_catalog.pg_class as c on c.oid = pol.polrelid
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
  where n.nspname in :policy_schemas
)"""

# An expression "is always true" when, without blanks and in lower case, it is one of these.
_ALWAYS_TRUE = "('true', '(true)', '1=1', '(1=1)')"


def _normalized(expression: str) -> str:
    return f"pg_catalog.lower(pg_catalog.regexp_replace(coalesce({expression}, ''), '\\s', '', 'g'))"


# -- The rules (splinter's, for the storage schema) ---------------------------

# Calls to the claim helpers that are not wrapped in a scalar subquery. The
# deparsed expressions are reduced from the innermost parentheses outwards:
# a "( SELECT ...)" group without FROM disappears (its calls run once, as an
# initPlan); any other group, including a correlated "EXISTS ( SELECT ... FROM
# ... WHERE x = auth.uid())", keeps its text with the parentheses turned into
# brackets. What is left names the calls made once per row: "auth.uid[" etc.
AUTH_RLS_INITPLAN = Rule(
    name="auth_rls_initplan",
    level="WARN",
    description=(
        "A policy calls auth.uid(), auth.jwt(), auth.role(), auth.email() or current_setting() directly, "
        "so it is evaluated once per row; wrap the call as `(select auth.uid())` to evaluate it once per "
        "statement."
    ),
    query=f"""
with recursive {_POLICIES},
reduced(policy_oid, expression, step) as (
  select policy_oid, coalesce(qual, '') || ' ' || coalesce(with_check, ''), 0 from policies
  union all
  select policy_oid,
         pg_catalog.regexp_replace(
           pg_catalog.regexp_replace(expression, '\\(\\s*SELECT\\s(?:(?!\\mFROM\\M)[^()])*\\)', '#subquery#', 'g'),
           '\\(([^()]*)\\)', '[\\1]', 'g'),
         step + 1
  from reduced
  where expression ~ '[()]' and step < 200
),
final as (
  select distinct on (policy_oid) policy_oid, expression
  from reduced order by policy_oid, step desc
),
per_row as (
  select f.policy_oid,
         array(select distinct m[1] || '()'
               from pg_catalog.regexp_matches(f.expression,
                      '((?:auth\\.(?:uid|jwt|role|email))|current_setting)\\[', 'g') as m
               order by 1) as calls
  from final as f
)
select p.object,
       'calls ' || pg_catalog.array_to_string(r.calls, ', ')
       || ' once per row; wrap each as (select ...)' as detail
from policies as p
join per_row as r using (policy_oid)
where pg_catalog.cardinality(r.calls) > 0
""",
)

MULTIPLE_PERMISSIVE_POLICIES = Rule(
    name="multiple_permissive_policies",
    level="WARN",
    description=(
        "A table has more than one permissive policy for the same API role and command; every one of them "
        "is evaluated for every row. Merge them into one policy (or make the extra ones restrictive)."
    ),
    query=f"""
with {_POLICIES},
expanded as (
  select p.table_oid, p.policy_name, r.role, k.command
  from policies as p
  cross join lateral pg_catalog.unnest(p.api_roles) as r(role)
  cross join lateral pg_catalog.unnest(
    case p.command when 'all' then array['select', 'insert', 'update', 'delete'] else array[p.command] end
  ) as k(command)
  where p.permissive
)
select pg_catalog.format('%s role %s %s', e.table_oid::pg_catalog.regclass, e.role, e.command) as object,
       'permissive policies ' || pg_catalog.string_agg(pg_catalog.quote_ident(e.policy_name), ', '
                                                      order by e.policy_name)
       || ' all apply to ' || e.role || ' for ' || e.command as detail
from expanded as e
group by e.table_oid, e.role, e.command
having pg_catalog.count(*) > 1
""",
)

RLS_REFERENCES_USER_METADATA = Rule(
    name="rls_references_user_metadata",
    level="ERROR",
    description=(
        "A policy reads user_metadata (auth.jwt() -> 'user_metadata', or auth.users.raw_user_meta_data), "
        "which the user can edit themselves; authorize on app_metadata or on Parley's own tables instead."
    ),
    query=f"""
with {_POLICIES}
select p.object,
       'policy reads user-editable metadata: '
       || coalesce(p.qual, '') || case when p.with_check is null then '' else ' / ' || p.with_check end
         as detail
from policies as p
where coalesce(p.qual, '') || ' ' || coalesce(p.with_check, '') ~ '(user_metadata|raw_user_meta_data)'
""",
)

RLS_POLICY_ALWAYS_TRUE = Rule(
    name="rls_policy_always_true",
    level="WARN",
    description=(
        "A permissive policy for anon, authenticated or PUBLIC lets writes through unconditionally: "
        "USING (true) (or no USING) for UPDATE, DELETE or ALL, or WITH CHECK (true) (or no WITH CHECK "
        "behind an always-true USING). SELECT policies with USING (true) are public reads and allowed."
    ),
    query=f"""
with {_POLICIES},
judged as (
  select p.*,
         p.command in ('update', 'delete', 'all')
           and (p.qual is null or {_normalized("p.qual")} in {_ALWAYS_TRUE}) as using_always_true,
         {_normalized("p.with_check")} in {_ALWAYS_TRUE}
           or (p.with_check is null and p.command = 'insert')
           or (p.with_check is null and p.command in ('update', 'all')
               and (p.qual is null or {_normalized("p.qual")} in {_ALWAYS_TRUE})) as check_always_true
  from policies as p
  where p.rls_enabled and p.permissive and pg_catalog.cardinality(p.api_roles) > 0
)
select j.object,
       pg_catalog.format('%s policy for %s lets every row through (%s)', j.command,
                         pg_catalog.array_to_string(j.api_roles, ', '),
                         case when j.using_always_true and j.check_always_true then 'USING and WITH CHECK'
                              when j.using_always_true then 'USING' else 'WITH CHECK' end) as detail
from judged as j
where j.using_always_true or j.check_always_true
""",
)


RULES: tuple[Rule, ...] = (
    AUTH_RLS_INITPLAN,
    MULTIPLE_PERMISSIVE_POLICIES,
    RLS_REFERENCES_USER_METADATA,
    RLS_POLICY_ALWAYS_TRUE,
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


# -- Running ------------------------------------------------------------------


def render(rule: Rule, connection: psycopg.Connection) -> str:
    """The rule's query with the :policy_schemas placeholder replaced by a literal list."""
    literal = sql.Literal(sorted(POLICY_SCHEMAS)).as_string(connection)
    return rule.query.replace(":policy_schemas", f"(select pg_catalog.unnest({literal}::text[]))")


def run_lint(connection: psycopg.Connection, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """Run the rules against the connection's database and return every finding, sorted.

    Runs inside the connection's current transaction (a savepoint) when there
    is one, so uncommitted objects are linted too. Names are printed schema
    qualified: search_path is empty while the rules run.
    """
    findings: list[Finding] = []
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("select pg_catalog.current_setting('search_path')")
        row = cursor.fetchone()
        previous = row[0] if row else ""
        cursor.execute("select pg_catalog.set_config('search_path', '', true)")
        for rule in rules:
            cursor.execute(render(rule, connection).encode())
            findings.extend(Finding(rule.name, obj, rule.level, detail) for obj, detail in cursor.fetchall())
        # On an error the savepoint's rollback restores search_path instead.
        cursor.execute("select pg_catalog.set_config('search_path', %s, true)", (previous,))
    return sorted(findings)


# -- Exemptions ---------------------------------------------------------------


def load_exemptions(path: Path) -> list[Exemption]:
    """Read ``[[exemption]]`` tables (rule, object, reason) from a TOML file.

    Raises :class:`ExemptionError` for an entry without a non-blank reason,
    with an unknown rule, or with keys other than those three.
    """
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    unknown_tables = set(data) - {"exemption"}
    if unknown_tables:
        raise ExemptionError(f"{path}: unknown top-level keys {sorted(unknown_tables)}; use [[exemption]]")
    exemptions: list[Exemption] = []
    for index, entry in enumerate(data.get("exemption", []), start=1):
        where = f"{path}: exemption #{index}"
        extra = set(entry) - {"rule", "object", "reason"}
        if extra:
            raise ExemptionError(f"{where}: unknown keys {sorted(extra)}")
        rule, obj, reason = (entry.get(key) for key in ("rule", "object", "reason"))
        if not isinstance(rule, str) or rule not in RULES_BY_NAME:
            raise ExemptionError(f"{where}: unknown rule {rule!r}")
        if not isinstance(obj, str) or not obj.strip():
            raise ExemptionError(f"{where}: an object is required")
        if not isinstance(reason, str) or not reason.strip():
            raise ExemptionError(f"{where} ({rule} {obj}): a reason is required")
        exemptions.append(Exemption(rule, obj, reason.strip()))
    return exemptions


def apply_exemptions(
    findings: Iterable[Finding], exemptions: Iterable[Exemption]
) -> tuple[list[Finding], list[Exemption]]:
    """Split off exempted findings; return (findings not exempted, stale exemptions matching nothing)."""
    findings = list(findings)
    exemptions = list(exemptions)
    remaining = [f for f in findings if not any(e.matches(f) for e in exemptions)]
    stale = [e for e in exemptions if not any(e.matches(f) for f in findings)]
    return remaining, stale
