"""Supabase's database linter (splinter) rules, as catalog queries Parley runs in its tests.

Each :class:`Rule` is one lint with Supabase's name and level and a SQL query
over the system catalogs that returns one row per finding: ``object`` (what to
fix, e.g. ``public.notes`` or ``public.notes policy notes_own``) and
``detail`` (why). :func:`run_lint` runs them all against a database.

The queries are written for Parley from the rules' documented meaning; where
Parley is stricter than splinter, the rule's description says so. The queries
take no parameters: two placeholders are substituted before they run,

* ``:exposed_schemas``: a subquery listing the schemas PostgREST exposes
  (``public``), which the RLS and exposure rules look at;
* ``:parley_schemas``: a subquery listing the schemas Parley owns, i.e. every
  schema except PostgreSQL's own, the platform's (``auth``, ``storage``,
  ``realtime``, ``extensions``, Supabase's service schemas) and the test-only
  ``tap`` and ``tests``; the function and index rules look at these;
* ``:policy_schemas``: the exposed schemas plus ``storage`` and ``realtime``,
  whose ``objects``/``messages`` policies Parley writes and the Storage and
  Realtime APIs enforce; the policy-shape rules look at these.

Objects that belong to an extension (``pg_depend.deptype = 'e'``) are never
reported: they are the extension's to fix. Exemptions live in a TOML file
(see :func:`load_exemptions`); each names a rule, an object and a reason.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# Schemas that are not Parley's: PostgreSQL's, the Supabase platform's (created
# by the shim on vanilla PostgreSQL, by Supabase itself in production) and the
# test-only schemas loaded into the test template.
PLATFORM_SCHEMAS: tuple[str, ...] = (
    "information_schema", "pg_catalog", "pg_toast",
    "auth", "storage", "realtime", "extensions",
    "graphql", "graphql_public", "net", "pgbouncer", "pgsodium", "pgsodium_masks", "pgtle", "pgmq",
    "supabase_functions", "supabase_migrations", "vault", "cron", "_realtime", "_analytics", "repack",
    "tap", "tests",
)  # fmt: skip

# Platform schemas whose tables carry policies that Parley writes and an API enforces.
POLICY_PLATFORM_SCHEMAS: tuple[str, ...] = ("storage", "realtime")

# Column names that hold credentials or personal data. A column matches when its
# name (lowercased, '-' read as '_') is one of these or ends in '_' + one of these.
SENSITIVE_COLUMN_NAMES: tuple[str, ...] = (
    "password", "passwd", "pwd", "passphrase", "password_hash",
    "secret", "secret_key", "private_key", "api_key", "apikey", "auth_key",
    "token", "jwt", "access_token", "refresh_token", "oauth_token", "session_token", "bearer_token",
    "auth_code", "session_id", "session_key", "session_secret",
    "recovery_code", "backup_code", "verification_code", "otp", "two_factor", "totp_secret",
    "ssn", "social_security_number", "drivers_license", "passport_number", "national_id", "tax_id",
    "credit_card", "card_number", "cvv", "cvc", "bank_account", "account_number", "routing_number", "iban",
    "pgp_key", "ssh_key", "license_key", "activation_key",
)  # fmt: skip

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

_NOT_EXTENSION_RELATION = """not exists (select 1 from pg_catalog.pg_depend dep
                 where dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                   and dep.objid = c.oid and dep.deptype = 'e')"""

_NOT_EXTENSION_FUNCTION = """not exists (select 1 from pg_catalog.pg_depend dep
                 where dep.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                   and dep.objid = p.oid and dep.deptype = 'e')"""

_SECURITY_INVOKER = """exists (select 1 from pg_catalog.unnest(coalesce(c.reloptions, '{}')) as option
                 where pg_catalog.lower(option) in ('security_invoker=true', 'security_invoker=on',
                                                    'security_invoker=1', 'security_invoker=yes'))"""

# Every policy on a table in the policy schemas, with its deparsed expressions,
# the API roles it applies to (PUBLIC counts as both) and the commands it covers.
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


# -- The rules ----------------------------------------------------------------

RLS_DISABLED_IN_PUBLIC = Rule(
    name="rls_disabled_in_public",
    level="ERROR",
    description=(
        "A table in an exposed schema has row level security disabled, so every row is reachable through "
        "the API by any role granted on it. Parley reports it whatever the grants are (Supabase grants new "
        "public objects to anon and authenticated by default)."
    ),
    query=f"""
select c.oid::pg_catalog.regclass::text as object,
       'row level security is disabled; API roles with privileges on it: '
       || coalesce((select pg_catalog.string_agg(role, ', ' order by role)
                    from pg_catalog.unnest(array['anon', 'authenticated']) as role
                    where pg_catalog.has_table_privilege(role, c.oid,
                            'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')), 'none')
         as detail
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname in :exposed_schemas
  and not c.relrowsecurity
  and {_NOT_EXTENSION_RELATION}
""",
)

POLICY_EXISTS_RLS_DISABLED = Rule(
    name="policy_exists_rls_disabled",
    level="ERROR",
    description=(
        "A table in an exposed schema has policies but row level security is disabled, so the policies are not applied."
    ),
    query=f"""
select c.oid::pg_catalog.regclass::text as object,
       'row level security is disabled, so its policies are ignored: '
       || (select pg_catalog.string_agg(pol.polname, ', ' order by pol.polname)
           from pg_catalog.pg_policy as pol where pol.polrelid = c.oid) as detail
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname in :exposed_schemas
  and not c.relrowsecurity
  and exists (select 1 from pg_catalog.pg_policy as pol where pol.polrelid = c.oid)
  and {_NOT_EXTENSION_RELATION}
""",
)

RLS_ENABLED_NO_POLICY = Rule(
    name="rls_enabled_no_policy",
    level="INFO",
    description=(
        "A table in an exposed schema has row level security enabled but no policy, so API roles other "
        "than service_role see no rows; either add the policies or say why in an exemption."
    ),
    query=f"""
select c.oid::pg_catalog.regclass::text as object,
       'row level security is enabled but the table has no policy' as detail
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and n.nspname in :exposed_schemas
  and c.relrowsecurity
  and not exists (select 1 from pg_catalog.pg_policy as pol where pol.polrelid = c.oid)
  and {_NOT_EXTENSION_RELATION}
""",
)

FUNCTION_SEARCH_PATH_MUTABLE = Rule(
    name="function_search_path_mutable",
    level="WARN",
    description=(
        "A function in a Parley schema does not set search_path, so the objects it names are resolved "
        "through the caller's search_path (a hijacking risk for SECURITY DEFINER functions). Set "
        "`set search_path = ''` and qualify names."
    ),
    query=f"""
select pg_catalog.format('%s', p.oid::pg_catalog.regprocedure) as object,
       case when p.prosecdef then 'SECURITY DEFINER function' else 'function' end
       || ' has no search_path setting' as detail
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
join pg_catalog.pg_language as l on l.oid = p.prolang
where n.nspname in :parley_schemas
  and p.prokind in ('f', 'p')
  and l.lanname not in ('c', 'internal')
  and not exists (select 1 from pg_catalog.unnest(coalesce(p.proconfig, '{{}}')) as setting
                  where setting ~ '^search_path=')
  and {_NOT_EXTENSION_FUNCTION}
""",
)

SECURITY_DEFINER_VIEW = Rule(
    name="security_definer_view",
    level="ERROR",
    description=(
        "A view in an exposed schema that API roles may read runs with its owner's rights (no "
        "security_invoker), so it bypasses the row level security of the tables it reads."
    ),
    query=f"""
select c.oid::pg_catalog.regclass::text as object,
       'view without security_invoker, readable by '
       || (select pg_catalog.string_agg(role, ', ' order by role)
           from pg_catalog.unnest(array['anon', 'authenticated']) as role
           where pg_catalog.has_table_privilege(role, c.oid, 'SELECT')) as detail
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where c.relkind = 'v'
  and n.nspname in :exposed_schemas
  and not {_SECURITY_INVOKER}
  and (pg_catalog.has_table_privilege('anon', c.oid, 'SELECT')
       or pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT'))
  and {_NOT_EXTENSION_RELATION}
""",
)

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

AUTH_USERS_EXPOSED = Rule(
    name="auth_users_exposed",
    level="ERROR",
    description=(
        "A view or materialized view in an exposed schema reads auth.users (directly or through other "
        "views) with its owner's rights and API roles may read it, so user emails and metadata leak."
    ),
    query=f"""
with recursive reads(view_oid, relation_oid, depth) as (
  select r.ev_class, d.refobjid, 1
  from pg_catalog.pg_rewrite as r
  join pg_catalog.pg_depend as d
    on d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.objid = r.oid
   and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjid <> r.ev_class
  join pg_catalog.pg_class as c on c.oid = r.ev_class
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
  where n.nspname in :exposed_schemas and c.relkind in ('v', 'm')
  union
  select reads.view_oid, d.refobjid, reads.depth + 1
  from reads
  join pg_catalog.pg_rewrite as r on r.ev_class = reads.relation_oid
  join pg_catalog.pg_depend as d
    on d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass and d.objid = r.oid
   and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjid <> r.ev_class
  where reads.depth < 16
)
select c.oid::pg_catalog.regclass::text as object,
       case c.relkind when 'm' then 'materialized view' else 'view' end
       || ' reads auth.users with its owner''s rights and is readable by '
       || (select pg_catalog.string_agg(role, ', ' order by role)
           from pg_catalog.unnest(array['anon', 'authenticated']) as role
           where pg_catalog.has_table_privilege(role, c.oid, 'SELECT')) as detail
from pg_catalog.pg_class as c
where c.oid in (select view_oid from reads
                where relation_oid = pg_catalog.to_regclass('auth.users')::pg_catalog.oid)
  and (c.relkind = 'm' or not {_SECURITY_INVOKER})
  and (pg_catalog.has_table_privilege('anon', c.oid, 'SELECT')
       or pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT'))
  and {_NOT_EXTENSION_RELATION}
""",
)

_SENSITIVE_NAMES_ARRAY = "array[" + ", ".join(f"'{name}'" for name in SENSITIVE_COLUMN_NAMES) + "]"

SENSITIVE_COLUMNS_EXPOSED = Rule(
    name="sensitive_columns_exposed",
    level="ERROR",
    description=(
        "A table in an exposed schema has a column named like a credential or personal identifier "
        "(password, secret, token, api_key, ssn, card_number, ...) that anon or authenticated may SELECT "
        "while nothing limits the rows: row level security is disabled, or a permissive SELECT/ALL policy "
        "for that role is always true. Parley checks column privileges, so granting only the safe columns "
        "fixes it; it also catches the always-true read policy, which splinter does not."
    ),
    query=f"""
with {_POLICIES.replace(":policy_schemas", ":exposed_schemas")},
columns as (
  select c.oid as table_oid, c.relrowsecurity as rls_enabled, a.attname
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
  join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  where c.relkind in ('r', 'p')
    and n.nspname in :exposed_schemas
    and {_NOT_EXTENSION_RELATION}
    and exists (select 1 from pg_catalog.unnest({_SENSITIVE_NAMES_ARRAY}) as pattern
                where pg_catalog.replace(pg_catalog.lower(a.attname), '-', '_') = pattern
                   or pg_catalog.replace(pg_catalog.lower(a.attname), '-', '_') like '%\\_' || pattern)
),
exposures as (
  select col.table_oid, col.attname, role,
         case when not col.rls_enabled then 'row level security is disabled'
              else 'policy ' || (select pg_catalog.string_agg(pg_catalog.quote_ident(p.policy_name), ', ')
                                 from policies as p
                                 where p.table_oid = col.table_oid and p.permissive
                                   and p.command in ('select', 'all') and role = any(p.api_roles)
                                   and {_normalized("p.qual")} in {_ALWAYS_TRUE})
                   || ' lets every row through' end as why
  from columns as col
  cross join pg_catalog.unnest(array['anon', 'authenticated']) as role
  where pg_catalog.has_column_privilege(role, col.table_oid, col.attname, 'SELECT')
)
select pg_catalog.format('%s.%I', e.table_oid::pg_catalog.regclass, e.attname) as object,
       'sensitive column readable by ' || pg_catalog.string_agg(e.role, ', ' order by e.role)
       || ': ' || pg_catalog.min(e.why) as detail
from exposures as e
where e.why is not null
group by e.table_oid, e.attname
""",
)


def _security_definer_executable(role: str) -> Rule:
    return Rule(
        name=f"{role}_security_definer_function_executable",
        level="WARN",
        description=(
            f"A SECURITY DEFINER function in an exposed schema is executable by {role}, so it is callable "
            f"as /rest/v1/rpc/... with its owner's rights by {'anyone' if role == 'anon' else 'any signed-in user'}. "
            "Revoke EXECUTE, move it to parley_internal, or make it SECURITY INVOKER."
        ),
        query=f"""
select pg_catalog.format('%s', p.oid::pg_catalog.regprocedure) as object,
       'SECURITY DEFINER function executable by {role} through the API' as detail
from pg_catalog.pg_proc as p
join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where n.nspname in :exposed_schemas
  and p.prosecdef
  and pg_catalog.has_function_privilege('{role}', p.oid, 'EXECUTE')
  and {_NOT_EXTENSION_FUNCTION}
""",
    )


ANON_SECURITY_DEFINER_FUNCTION_EXECUTABLE = _security_definer_executable("anon")
AUTHENTICATED_SECURITY_DEFINER_FUNCTION_EXECUTABLE = _security_definer_executable("authenticated")

EXTENSION_IN_PUBLIC = Rule(
    name="extension_in_public",
    level="WARN",
    description=(
        "An extension is installed into an exposed schema, so its functions and tables become part of the "
        "API. Install extensions with `schema extensions`."
    ),
    query="""
select e.extname::text as object,
       'extension installed in exposed schema ' || n.nspname as detail
from pg_catalog.pg_extension as e
join pg_catalog.pg_namespace as n on n.oid = e.extnamespace
where n.nspname in :exposed_schemas
""",
)

UNINDEXED_FOREIGN_KEYS = Rule(
    name="unindexed_foreign_keys",
    level="INFO",
    description=(
        "A foreign key in a Parley schema has no index whose leading columns are the key's columns, so "
        "joins, policy lookups and cascades on it scan the table."
    ),
    query=f"""
select pg_catalog.format('%s foreign key %I', c.oid::pg_catalog.regclass, con.conname) as object,
       'no index starts with the columns ('
       || (select pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' order by k.ordinality)
           from pg_catalog.unnest(con.conkey) with ordinality as k(attnum, ordinality)
           join pg_catalog.pg_attribute as a on a.attrelid = c.oid and a.attnum = k.attnum)
       || ') of this foreign key' as detail
from pg_catalog.pg_constraint as con
join pg_catalog.pg_class as c on c.oid = con.conrelid
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where con.contype = 'f'
  and n.nspname in :parley_schemas
  and {_NOT_EXTENSION_RELATION}
  and not exists (
    select 1 from pg_catalog.pg_index as i
    where i.indrelid = con.conrelid
      and i.indpred is null
      and i.indnkeyatts >= pg_catalog.cardinality(con.conkey)
      and array(select k from pg_catalog.unnest(i.indkey) with ordinality as u(k, ordinality)
                where u.ordinality <= pg_catalog.cardinality(con.conkey) order by k)
          = array(select k from pg_catalog.unnest(con.conkey) as u(k) order by k)
  )
""",
)

DUPLICATE_INDEX = Rule(
    name="duplicate_index",
    level="WARN",
    description=(
        "Two or more indexes on a table in a Parley schema are identical (same access method, columns, "
        "operator classes, collations, options, expressions and predicate); drop all but one."
    ),
    query=f"""
select pg_catalog.format('%s indexes %s', c.oid::pg_catalog.regclass,
                         pg_catalog.string_agg(pg_catalog.quote_ident(ic.relname), ', ' order by ic.relname))
         as object,
       'identical indexes: ' || pg_catalog.string_agg(pg_catalog.pg_get_indexdef(i.indexrelid), '; '
                                                      order by ic.relname) as detail
from pg_catalog.pg_index as i
join pg_catalog.pg_class as ic on ic.oid = i.indexrelid
join pg_catalog.pg_class as c on c.oid = i.indrelid
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where n.nspname in :parley_schemas
  and {_NOT_EXTENSION_RELATION}
group by c.oid, ic.relam, i.indkey::text, i.indclass::text, i.indcollation::text, i.indoption::text,
         i.indnkeyatts, coalesce(pg_catalog.pg_get_expr(i.indexprs, i.indrelid), ''),
         coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')
having pg_catalog.count(*) > 1
""",
)

NO_PRIMARY_KEY = Rule(
    name="no_primary_key",
    level="INFO",
    description=(
        "A table in a Parley schema has no primary key: rows cannot be addressed one by one (PostgREST "
        "updates, logical replication, Realtime) and duplicates go unnoticed."
    ),
    query=f"""
select c.oid::pg_catalog.regclass::text as object,
       'table has no primary key' as detail
from pg_catalog.pg_class as c
join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p')
  and not c.relispartition
  and n.nspname in :parley_schemas
  and not exists (select 1 from pg_catalog.pg_constraint as con
                  where con.conrelid = c.oid and con.contype = 'p')
  and {_NOT_EXTENSION_RELATION}
""",
)

RULES: tuple[Rule, ...] = (
    RLS_DISABLED_IN_PUBLIC,
    POLICY_EXISTS_RLS_DISABLED,
    RLS_ENABLED_NO_POLICY,
    FUNCTION_SEARCH_PATH_MUTABLE,
    SECURITY_DEFINER_VIEW,
    AUTH_RLS_INITPLAN,
    MULTIPLE_PERMISSIVE_POLICIES,
    RLS_REFERENCES_USER_METADATA,
    RLS_POLICY_ALWAYS_TRUE,
    AUTH_USERS_EXPOSED,
    SENSITIVE_COLUMNS_EXPOSED,
    ANON_SECURITY_DEFINER_FUNCTION_EXECUTABLE,
    AUTHENTICATED_SECURITY_DEFINER_FUNCTION_EXECUTABLE,
    EXTENSION_IN_PUBLIC,
    UNINDEXED_FOREIGN_KEYS,
    DUPLICATE_INDEX,
    NO_PRIMARY_KEY,
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


# -- Running ------------------------------------------------------------------


def _schema_list(connection: psycopg.Connection, names: Iterable[str]) -> str:
    literal = sql.Literal(sorted(set(names))).as_string(connection)
    return f"(select pg_catalog.unnest({literal}::text[]))"


def render(rule: Rule, connection: psycopg.Connection, exposed_schemas: Sequence[str]) -> str:
    """The rule's query with the schema placeholders replaced by literal lists."""
    excluded = sql.Literal(sorted(set(PLATFORM_SCHEMAS) - set(exposed_schemas))).as_string(connection)
    parley = (
        "(select nspname::text from pg_catalog.pg_namespace"
        f" where nspname <> all({excluded}::text[]) and nspname !~ '^pg_')"
    )
    return (
        rule.query.replace(":exposed_schemas", _schema_list(connection, exposed_schemas))
        .replace(":policy_schemas", _schema_list(connection, [*exposed_schemas, *POLICY_PLATFORM_SCHEMAS]))
        .replace(":parley_schemas", parley)
    )


def run_lint(
    connection: psycopg.Connection,
    exposed_schemas: Sequence[str] = ("public",),
    rules: Iterable[Rule] = RULES,
) -> list[Finding]:
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
            cursor.execute(render(rule, connection, exposed_schemas).encode())
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
