"""The migration runner: ledger, idempotency, re-applying, refusals and error locations."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from parley import config, migrate
from parley_dev import testing

FOLDERS = ("sql", "policies", "functions", "storage")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's migration files that a test may edit."""
    root = config.project_root()
    shutil.copy(root / migrate.MANIFEST_NAME, tmp_path / migrate.MANIFEST_NAME)
    for folder in FOLDERS:
        if (root / folder).exists():
            shutil.copytree(root / folder, tmp_path / folder)
        else:
            (tmp_path / folder).mkdir()
    return tmp_path


@pytest.fixture
def empty_database(server: testing.TestServer) -> Iterator[testing.TestDatabase]:
    created = server.create_database("migrations", empty=True)
    yield created
    server.drop_database(created)


def append_to_manifest(project: Path, relative: str, text: str) -> None:
    (project / relative).write_text(text)
    with (project / migrate.MANIFEST_NAME).open("a") as manifest:
        manifest.write(f"\n{relative}\n")


def ledger(url: str) -> dict[str, tuple[str, int]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "select path, checksum, times_applied from parley_migrations.applied_files"
        ).fetchall()
    return {path: (checksum, times) for path, checksum, times in rows}


def test_first_run_applies_every_manifest_file_and_records_checksums(empty_database, project):
    steps = migrate.migrate(empty_database.url, project)
    assert [step.file.path for step in steps] == migrate.read_manifest(project)
    recorded = ledger(empty_database.url)
    for file in migrate.load_files(project):
        assert recorded[file.path] == (file.checksum, 1)


def test_second_run_applies_nothing(empty_database, project):
    migrate.migrate(empty_database.url, project)
    before = ledger(empty_database.url)
    assert migrate.migrate(empty_database.url, project) == []
    assert ledger(empty_database.url) == before


def test_changed_reappliable_file_is_applied_again(empty_database, project):
    append_to_manifest(
        project,
        "functions/scratch_answer.sql",
        "create or replace function public.scratch_answer() returns int language sql set search_path = '' "
        "as $$ select 41 $$;",
    )
    migrate.migrate(empty_database.url, project)
    (project / "functions/scratch_answer.sql").write_text(
        "create or replace function public.scratch_answer() returns int language sql set search_path = '' "
        "as $$ select 42 $$;"
    )
    steps = migrate.migrate(empty_database.url, project)
    assert [(step.action, step.file.path) for step in steps] == [("reapply", "functions/scratch_answer.sql")]
    with psycopg.connect(empty_database.url) as connection:
        assert connection.execute("select public.scratch_answer()").fetchone() == (42,)
    assert ledger(empty_database.url)["functions/scratch_answer.sql"][1] == 2


def test_changed_applied_schema_file_is_refused_before_anything_runs(empty_database, project):
    append_to_manifest(project, "sql/scratch_table.sql", "create table public.scratch (id int primary key);")
    migrate.migrate(empty_database.url, project)
    (project / "sql/scratch_table.sql").write_text("create table public.scratch (id bigint primary key);")
    # A new re-appliable file that comes after: it must not run either.
    append_to_manifest(project, "functions/after_refusal.sql", "create schema after_refusal;")
    with pytest.raises(migrate.MigrationError) as refusal:
        migrate.migrate(empty_database.url, project)
    message = str(refusal.value)
    assert "sql/scratch_table.sql changed after it was applied" in message
    assert "new file" in message
    with psycopg.connect(empty_database.url) as connection:
        assert connection.execute("select to_regnamespace('after_refusal')").fetchone() == (None,)


def test_failure_names_file_line_and_postgres_error_and_rolls_the_file_back(empty_database, project):
    append_to_manifest(
        project,
        "sql/broken.sql",
        "create table public.half_done (id int);\n\n-- the third statement fails\nselect 1;\n"
        "select * from public.missing_table;\n",
    )
    with pytest.raises(migrate.MigrationError) as failure:
        migrate.migrate(empty_database.url, project)
    message = str(failure.value)
    assert message.startswith("sql/broken.sql:5: ERROR 42P01:")
    assert 'relation "public.missing_table" does not exist' in message
    with psycopg.connect(empty_database.url) as connection:
        assert connection.execute("select to_regclass('public.half_done')").fetchone() == (None,)
    assert "sql/broken.sql" not in ledger(empty_database.url)
    # Files before the broken one stay applied and recorded.
    assert "sql/platform_roles.sql" in ledger(empty_database.url)


def test_error_inside_a_function_body_points_at_its_line(empty_database, project):
    append_to_manifest(
        project,
        "functions/bad_body.sql",
        "-- line 1\ncreate function public.bad_body() returns int\nlanguage plpgsql as $$\nbegin\n"
        "  retrun 1;\nend\n$$;\n",
    )
    with pytest.raises(migrate.MigrationError) as failure:
        migrate.migrate(empty_database.url, project)
    assert str(failure.value).startswith("functions/bad_body.sql:5: ERROR 42601")


def test_manifest_entry_outside_the_migration_folders_is_refused(project):
    (project / migrate.MANIFEST_NAME).write_text("docs/notes.sql\n")
    with pytest.raises(migrate.MigrationError, match="not under sql/"):
        migrate.read_manifest(project)


def test_parley_migrate_command_twice_applies_nothing_the_second_time(empty_database):
    def run() -> str:
        completed = subprocess.run(
            [sys.executable, "-m", "parley.cli", "migrate", "--database-url", empty_database.url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return completed.stdout

    first = run()
    assert "apply    sql/platform_roles.sql" in first
    assert run().strip() == "Nothing to apply: the database is up to date."
