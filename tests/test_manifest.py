"""The manifest and supabase/config.toml list the same migration files in the same order."""

from __future__ import annotations

import tomllib
from pathlib import PurePosixPath

import psycopg

from parley import config, migrate


def config_schema_paths() -> list[str]:
    document = tomllib.loads((config.project_root() / "supabase" / "config.toml").read_text())
    paths = document["db"]["migrations"]["schema_paths"]
    # config.toml paths are relative to supabase/; the manifest's to the project root.
    return [str(PurePosixPath("supabase", path)).replace("supabase/../", "") for path in paths]


def test_config_toml_schema_paths_match_the_manifest_in_order():
    assert config_schema_paths() == migrate.read_manifest()


def test_every_sql_file_in_the_migration_folders_is_in_the_manifest():
    """A file left out of the manifest would silently never be applied."""
    root = config.project_root()
    on_disk = {
        str(path.relative_to(root))
        for folder in ("sql", "policies", "functions", "storage")
        for path in (root / folder).glob("*.sql")
    }
    assert on_disk == set(migrate.read_manifest())


def test_every_manifest_entry_exists_and_has_a_kind():
    files = migrate.load_files()
    assert files, "the manifest lists no files"
    for file in files:
        expected = migrate.FileKind.SCHEMA if file.path.startswith("sql/") else migrate.FileKind.REAPPLIABLE
        assert file.kind is expected


def test_supabase_migrations_are_generated_from_the_manifest_and_up_to_date():
    """supabase/migrations/ (what `supabase db reset`/`db push` apply) must follow migrations.txt.

    Stale? Run `parley manifest` (docs/migrations.md).
    """
    pending = migrate.pending_supabase_migrations()
    assert [migration.source for migration, _ in pending] == [], "supabase/migrations/ is stale: run `parley manifest`"
    latest = {migration.source: migration for migration in migrate.generated_migrations()}
    assert set(migrate.read_manifest()) <= set(latest)
    folder = config.project_root() / migrate.SUPABASE_MIGRATIONS
    for file in migrate.load_files():
        text = (folder / latest[file.path].filename).read_text()
        assert text.endswith(file.text), f"{latest[file.path].filename} is not {file.path}"


def test_supabase_migrations_applied_in_order_build_the_same_schema_as_the_runner(server, database):
    """What the Supabase CLI applies (each file once, by version) yields the objects `parley migrate` makes."""
    fresh = server.create_database("supabase_cli", bare_platform=True)
    folder = config.project_root() / migrate.SUPABASE_MIGRATIONS
    try:
        with psycopg.connect(fresh.url, autocommit=True) as connection:
            for migration in migrate.generated_migrations():
                with connection.transaction():
                    connection.execute((folder / migration.filename).read_text().encode())
        assert schema_fingerprint(fresh.url) == schema_fingerprint(database.url)
    finally:
        server.drop_database(fresh)


def schema_fingerprint(url: str) -> dict[str, list]:
    """Relations, functions, policies and triggers of Parley's schemas and the platform ones it touches."""
    schemas = ["public", "parley_internal", "auth", "storage", "realtime"]
    with psycopg.connect(url) as connection:
        return {
            "relations": connection.execute(
                "select n.nspname, c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = "
                "c.relnamespace where n.nspname = any(%s) and c.relname !~ '^messages_[0-9]' order by 1, 2",
                (schemas,),
            ).fetchall(),
            "functions": connection.execute(
                "select p.oid::regprocedure::text, md5(p.prosrc) from pg_proc p join pg_namespace n "
                "on n.oid = p.pronamespace where n.nspname = any(%s) order by 1",
                (schemas,),
            ).fetchall(),
            "policies": connection.execute(
                "select schemaname, tablename, policyname, cmd, roles::text, qual, with_check from pg_policies "
                "where schemaname = any(%s) order by 1, 2, 3",
                (schemas,),
            ).fetchall(),
            "triggers": connection.execute(
                "select tgrelid::regclass::text, tgname from pg_trigger where not tgisinternal order by 1, 2"
            ).fetchall(),
        }
