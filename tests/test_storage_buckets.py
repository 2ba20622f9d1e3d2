"""The buckets: storage/chat_files.sql, supabase/config.toml and parley.storage.buckets agree (seeds 002/003)."""

from __future__ import annotations

import re
import tomllib

import psycopg
import pytest
from psycopg.rows import dict_row

from parley import config, migrate
from parley.storage import BUCKETS

UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def toml_size(value: str | int) -> int:
    """The Supabase CLI's size strings ("10MiB") in bytes."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", value)
    assert match, value
    return int(match.group(1)) * UNITS[(match.group(2) or "B").upper()]


def toml_buckets() -> dict[str, dict]:
    document = tomllib.loads((config.project_root() / "supabase" / "config.toml").read_text())
    return document["storage"]["buckets"]


def database_buckets(url: str) -> dict[str, dict]:
    with psycopg.connect(url, row_factory=dict_row) as connection:
        rows = connection.execute(
            "select id, name, public, file_size_limit, allowed_mime_types from storage.buckets"
        ).fetchall()
    return {row["id"]: row for row in rows}


def test_migration_creates_private_chat_files_and_public_avatars(database):
    """Seed 002: one private chat-files bucket; seed 003: 10 MiB and a MIME allow-list."""
    rows = database_buckets(database.url)
    assert rows["chat-files"]["public"] is False
    assert rows["chat-files"]["file_size_limit"] == 10485760
    assert "text/html" not in rows["chat-files"]["allowed_mime_types"]
    assert {"audio/ogg", "audio/webm", "application/pdf", "text/plain"} <= set(rows["chat-files"]["allowed_mime_types"])
    assert rows["avatars"]["public"] is True
    assert rows["avatars"]["file_size_limit"] == 2097152
    assert all(mime.startswith("image/") for mime in rows["avatars"]["allowed_mime_types"])


@pytest.mark.parametrize("bucket_id", ["chat-files", "avatars"])
def test_config_toml_declares_the_bucket_exactly_as_the_migration(database, bucket_id):
    declared = toml_buckets()[bucket_id]
    row = database_buckets(database.url)[bucket_id]
    assert set(declared) == {"public", "file_size_limit", "allowed_mime_types"}
    assert declared["public"] == row["public"]
    assert toml_size(declared["file_size_limit"]) == row["file_size_limit"]
    assert sorted(declared["allowed_mime_types"]) == sorted(row["allowed_mime_types"])


@pytest.mark.parametrize("bucket_id", ["chat-files", "avatars"])
def test_python_bucket_rules_match_the_migration(database, bucket_id):
    """The upload path enforces exactly what storage.buckets says."""
    rule = BUCKETS[bucket_id]
    row = database_buckets(database.url)[bucket_id]
    assert (rule.public, rule.file_size_limit) == (row["public"], row["file_size_limit"])
    assert rule.allowed_mime_types == frozenset(row["allowed_mime_types"])


def test_only_declared_buckets_exist(database):
    assert set(database_buckets(database.url)) == set(toml_buckets()) == set(BUCKETS)


def test_bucket_file_reapplies_and_restores_a_tampered_bucket(database):
    """The file is re-appliable: applying it again repairs drift and duplicates nothing."""
    [file] = [file for file in migrate.load_files() if file.path == "storage/chat_files.sql"]
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute("update storage.buckets set public = true, file_size_limit = 1 where id = 'chat-files'")
        connection.execute((config.project_root() / file.path).read_bytes())
    row = database_buckets(database.url)["chat-files"]
    assert (row["public"], row["file_size_limit"]) == (False, 10485760)
    assert len(database_buckets(database.url)) == 2
