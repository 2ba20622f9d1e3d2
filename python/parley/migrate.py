"""The migration runner behind ``parley migrate``.

One ordered manifest (``migrations.txt``) lists every SQL file. A ledger table,
``parley_migrations.applied_files``, records each applied file and its
checksum, so a second run applies nothing.

Two kinds of file:

* **schema** files (``sql/``) define tables, types and indexes. They are
  applied once. Changing one after it was applied is refused: the fix is a new
  file appended to the manifest.
* **re-appliable** files (``policies/``, ``functions/``, ``storage/``) hold
  definitions that can be replaced in place (functions, policies, views,
  grants). When their checksum changes they are applied again.

Each file runs in its own transaction. A failure stops the run and names the
file, the line and the PostgreSQL error. The whole plan is checked before the
first file runs, so a refused change writes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psycopg
from psycopg import sql

from parley.config import project_root

MANIFEST_NAME = "migrations.txt"
LEDGER_SCHEMA = "parley_migrations"
REAPPLIABLE_FOLDERS = ("policies", "functions", "storage")
SCHEMA_FOLDERS = ("sql",)
ADVISORY_LOCK_KEY = 0x7061726C6579  # "parley": one migration run at a time per database


class FileKind(StrEnum):
    """How a manifest entry may evolve once applied."""

    SCHEMA = "schema"
    REAPPLIABLE = "reappliable"


class MigrationError(RuntimeError):
    """A migration could not be planned or applied."""


@dataclass(frozen=True)
class MigrationFile:
    """One manifest entry, read from disk."""

    path: str
    text: str

    @property
    def kind(self) -> FileKind:
        """Schema files live in sql/; everything else may be re-applied."""
        folder = self.path.split("/", 1)[0]
        return FileKind.REAPPLIABLE if folder in REAPPLIABLE_FOLDERS else FileKind.SCHEMA

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's bytes."""
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class Step:
    """What the runner will do with one file."""

    file: MigrationFile
    action: str  # "apply" | "reapply"


def read_manifest(root: Path | None = None) -> list[str]:
    """The manifest's entries in order: paths relative to the project root."""
    root = root or project_root()
    entries = []
    for raw in (root / MANIFEST_NAME).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            entries.append(line)
    duplicates = {entry for entry in entries if entries.count(entry) > 1}
    if duplicates:
        raise MigrationError(f"{MANIFEST_NAME} lists these files more than once: {sorted(duplicates)}")
    for entry in entries:
        folder = entry.split("/", 1)[0]
        if folder not in REAPPLIABLE_FOLDERS + SCHEMA_FOLDERS:
            raise MigrationError(f"{MANIFEST_NAME}: {entry} is not under sql/, policies/, functions/ or storage/")
    return entries


def sync_config_schema_paths(root: Path | None = None) -> bool:
    """Rewrite supabase/config.toml's [db.migrations] schema_paths from the manifest; True if it changed."""
    root = root or project_root()
    config_path = root / "supabase" / "config.toml"
    text = config_path.read_text()
    start = text.index("schema_paths = [")
    end = text.index("]", start) + 1
    listed = "".join(f'  "../{entry}",\n' for entry in read_manifest(root))
    updated = text[:start] + "schema_paths = [\n" + listed + "]" + text[end:]
    if updated == text:
        return False
    config_path.write_text(updated)
    return True


def load_files(root: Path | None = None) -> list[MigrationFile]:
    """Read every manifest entry from disk."""
    root = root or project_root()
    files = []
    for entry in read_manifest(root):
        path = root / entry
        if not path.is_file():
            raise MigrationError(f"{MANIFEST_NAME} lists {entry}, which does not exist")
        files.append(MigrationFile(entry, path.read_text()))
    return files


def ensure_ledger(connection: psycopg.Connection) -> None:
    """Create the ledger schema and table if missing."""
    connection.execute(
        sql.SQL(
            """
            create schema if not exists {schema};
            revoke all on schema {schema} from public;
            create table if not exists {schema}.applied_files (
              path text primary key,
              kind text not null check (kind in ('schema', 'reappliable')),
              checksum text not null,
              first_applied_at timestamptz not null default now(),
              last_applied_at timestamptz not null default now(),
              times_applied integer not null default 1
            );
            comment on table {schema}.applied_files is
              'Ledger of the migration runner: one row per manifest file applied, with its checksum.';
            """
        ).format(schema=sql.Identifier(LEDGER_SCHEMA))
    )


def applied_checksums(connection: psycopg.Connection) -> dict[str, str]:
    """path -> checksum of every file the ledger records."""
    rows = connection.execute(
        sql.SQL("select path, checksum from {}.applied_files").format(sql.Identifier(LEDGER_SCHEMA))
    ).fetchall()
    return {path: checksum for path, checksum in rows}


def plan(files: list[MigrationFile], applied: dict[str, str]) -> list[Step]:
    """Decide what to run; refuse before anything runs if a schema file changed."""
    steps = []
    refused = []
    for file in files:
        known = applied.get(file.path)
        if known is None:
            steps.append(Step(file, "apply"))
        elif known == file.checksum:
            continue
        elif file.kind is FileKind.REAPPLIABLE:
            steps.append(Step(file, "reapply"))
        else:
            refused.append(file.path)
    if refused:
        names = ", ".join(refused)
        raise MigrationError(
            f"refusing to run: {names} changed after it was applied. Schema files under sql/ are "
            "applied once; restore the applied version and put the change in a new file appended "
            f"to {MANIFEST_NAME} (and to supabase/config.toml schema_paths)."
        )
    return steps


def _line_of(text: str, position: int | None) -> int | None:
    """1-based line of a 1-based character position in ``text``."""
    if not position:
        return None
    return text.count("\n", 0, position - 1) + 1


def _describe_failure(file: MigrationFile, error: psycopg.Error) -> str:
    diag = error.diag
    position = diag.statement_position
    line = _line_of(file.text, int(position)) if position else None
    where = f"{file.path}:{line}" if line else file.path
    parts = [f"{where}: {diag.severity or 'ERROR'} {diag.sqlstate or ''}: {diag.message_primary or error}"]
    if diag.message_detail:
        parts.append(f"DETAIL: {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"HINT: {diag.message_hint}")
    if diag.context:
        parts.append(f"CONTEXT: {diag.context.strip()}")
    return "\n".join(parts)


_OWNER_REQUIRED = re.compile(r"must be owner of (?:table|relation) (\S+)")


def _missing_grant_hint(connection: psycopg.Connection, error: psycopg.Error) -> str | None:
    """For "must be owner of table X" (hosted roles): which role owns X, and the grant that is missing.

    On hosted Supabase, ``postgres`` is not a superuser and does not own the
    platform's tables; supautils (``policy_grants``) lets it manage the
    policies of realtime.messages and storage.objects all the same. Where
    supautils is absent, the migration role must be a member of the owning
    role instead (docs/supabase-compatibility.md, "Hosted roles").
    """
    match = _OWNER_REQUIRED.search(error.diag.message_primary or "")
    if error.diag.sqlstate != "42501" or match is None:
        return None
    name = match.group(1).strip('"')
    rows = connection.execute(
        """
        select c.oid::regclass::text, pg_get_userbyid(c.relowner), current_user
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relname = %s and not pg_has_role(current_user, c.relowner, 'USAGE')
        order by n.nspname in ('realtime', 'storage', 'auth') desc, 1
        """,
        (name,),
    ).fetchall()
    if not rows:
        return None
    table, owner, role = rows[0]
    return (
        f"MISSING GRANT: {table} belongs to {owner}, and {role} is neither its owner nor a member of {owner}, "
        f"so it cannot create or change policies on it. On hosted Supabase, supautils (policy_grants) allows "
        f"{role} to manage the policies of realtime.messages and storage.objects; without supautils, run as a "
        f'superuser: GRANT {owner} TO {role}; (see docs/supabase-compatibility.md, "Hosted roles").'
    )


def _record(connection: psycopg.Connection, file: MigrationFile) -> None:
    connection.execute(
        sql.SQL(
            """
            insert into {}.applied_files (path, kind, checksum) values (%s, %s, %s)
            on conflict (path) do update
              set checksum = excluded.checksum,
                  last_applied_at = now(),
                  times_applied = applied_files.times_applied + 1
            """
        ).format(sql.Identifier(LEDGER_SCHEMA)),
        (file.path, file.kind.value, file.checksum),
    )


def migrate(database_url: str, root: Path | None = None, *, log: bool = False) -> list[Step]:
    """Apply every pending file of the manifest to ``database_url``; return what ran."""
    files = load_files(root)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("select pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            ensure_ledger(connection)
            steps = plan(files, applied_checksums(connection))
            for step in steps:
                try:
                    with connection.transaction():
                        connection.execute(step.file.text.encode())
                        _record(connection, step.file)
                except psycopg.Error as error:
                    description = _describe_failure(step.file, error)
                    hint = _missing_grant_hint(connection, error)
                    raise MigrationError(description + (f"\n{hint}" if hint else "")) from error
                if log:
                    print(f"  {step.action:8} {step.file.path}")
            return steps
        finally:
            connection.execute("select pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


# -- supabase/migrations: the same files for the Supabase CLI ---------------------------------------------------

SUPABASE_MIGRATIONS = "supabase/migrations"
FIRST_SUPABASE_VERSION = 20261205000001
"""Version of the first generated migration; each later one is the previous highest plus one."""
_GENERATED_HEADER = "-- parley-source: {path} sha256:{checksum}\n"
_GENERATED_NOTE = (
    "-- Generated by `parley manifest` from {path} (migrations.txt); do not edit: edit {path} and run\n"
    "-- `parley manifest` again. {kind}\n\n"
)
_KIND_NOTES = {
    FileKind.SCHEMA: "Schema file: applied once.",
    FileKind.REAPPLIABLE: "Re-appliable file: each changed version is appended as a new migration.",
}


@dataclass(frozen=True)
class GeneratedMigration:
    """One file of supabase/migrations/: a version of one manifest file."""

    version: int
    source: str
    checksum: str

    @property
    def filename(self) -> str:
        """``<version>_<folder>_<name>.sql``, the form the Supabase CLI reads."""
        return f"{self.version}_{self.source.removesuffix('.sql').replace('/', '_')}.sql"


def generated_migrations(root: Path | None = None) -> list[GeneratedMigration]:
    """The files already in supabase/migrations/, oldest first (read from their parley-source header)."""
    folder = (root or project_root()) / SUPABASE_MIGRATIONS
    found = []
    for path in sorted(folder.glob("*.sql")) if folder.is_dir() else []:
        version, _, _ = path.name.partition("_")
        first_line = path.read_text().split("\n", 1)[0]
        if not version.isdigit() or not first_line.startswith("-- parley-source: "):
            raise MigrationError(f"{SUPABASE_MIGRATIONS}/{path.name} was not generated by `parley manifest`")
        source, _, checksum = first_line.removeprefix("-- parley-source: ").partition(" sha256:")
        found.append(GeneratedMigration(int(version), source, checksum))
    return sorted(found, key=lambda migration: migration.version)


def pending_supabase_migrations(root: Path | None = None) -> list[tuple[GeneratedMigration, str]]:
    """What `parley manifest` would append to supabase/migrations/: (migration, file text) pairs.

    supabase/migrations/ is an append-only log, because the Supabase CLI applies
    each version once (``supabase db push`` skips versions it recorded). Every
    manifest file gets a migration when it first appears; a re-appliable file
    gets a new one whenever it changes (as ``parley migrate`` re-applies it),
    in manifest order. A changed schema file is refused, as the runner refuses it.
    """
    root = root or project_root()
    existing = generated_migrations(root)
    latest = {migration.source: migration.checksum for migration in existing}
    version = max([migration.version for migration in existing], default=FIRST_SUPABASE_VERSION - 1)
    pending = []
    refused = []
    for file in load_files(root):
        known = latest.get(file.path)
        if known == file.checksum:
            continue
        if known is not None and file.kind is FileKind.SCHEMA:
            refused.append(file.path)
            continue
        version += 1
        migration = GeneratedMigration(version, file.path, file.checksum)
        header = _GENERATED_HEADER.format(path=file.path, checksum=file.checksum)
        note = _GENERATED_NOTE.format(path=file.path, kind=_KIND_NOTES[file.kind])
        pending.append((migration, header + note + file.text))
    if refused:
        raise MigrationError(
            f"refusing to generate: {', '.join(refused)} changed after its migration was generated. Schema files "
            "under sql/ are applied once; restore it and put the change in a new file appended to "
            f"{MANIFEST_NAME}."
        )
    return pending


def sync_supabase_migrations(root: Path | None = None) -> list[str]:
    """Append the pending migrations to supabase/migrations/; return the new file names."""
    root = root or project_root()
    folder = root / SUPABASE_MIGRATIONS
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for migration, text in pending_supabase_migrations(root):
        (folder / migration.filename).write_text(text)
        written.append(migration.filename)
    return written
