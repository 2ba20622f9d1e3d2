"""The manifest and supabase/config.toml list the same migration files in the same order."""

from __future__ import annotations

import tomllib
from pathlib import PurePosixPath

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
