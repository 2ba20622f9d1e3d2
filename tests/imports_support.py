"""Shared set-up for the legacy import tests (issue 16, seeds 000 and 001).

The legacy data is generated into the test database's legacy schemas as the
database owner (that is the DBA's situation); the import runs through
``parley.imports.run`` (or the ``parley import`` CLI); what users see
afterwards is checked through the request path (``api``).
"""

from __future__ import annotations

from typing import Any

import psycopg

from identity_support import as_owner
from parley import imports, tokens
from parley.db import Api
from parley.imports import fixtures
from parley_dev.testing import TestDatabase, TestUser


def organization(api: Api, owner: TestUser, name: str = "Imported") -> str:
    """The target organization, created through the API by its owner."""
    return api.rpc("create_organization", {"name": name}, token=owner.token)["id"]


def generate(database: TestDatabase, source: str, **shape: Any) -> fixtures.Counts:
    """Generate the legacy data of ``source`` into the database (as the owner)."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        if source == "astegni":
            return fixtures.generate_astegni(connection, **shape)
        return fixtures.generate_pea(connection, **shape)


def run_import(database: TestDatabase, source: str, organization_id: str | None, **options: Any) -> imports.Report:
    """One import run against the database; progress lines are discarded."""
    import io

    return imports.run(
        imports.Options(source=source, database_url=database.url, organization_id=organization_id, **options),
        progress=io.StringIO(),
    )


def token_for(database: TestDatabase, user_id: str) -> str:
    """An access token for an imported account."""
    return tokens.mint(database.jwt_secret, user_id=user_id)


def scalar(database: TestDatabase, statement: str, params: Any = None) -> Any:
    """The single value of a query run as the owner."""
    [(value,)] = as_owner(database, statement, params)
    return value


SNAPSHOT_QUERIES = {
    "messages": "select count(*), coalesce(max(id), 0),"
    " md5(string_agg(coalesce(body, '') || conversation_id, ',' order by id)) from messages",
    "conversations": "select count(*) from conversations",
    "members": "select count(*) from conversation_members",
    "entries": "select md5(string_agg(user_id::text || conversation_id || last_read_message_id"
    " || coalesce(archived_at_message_id, -1) || coalesce(muted_until::text, ''), ','"
    " order by user_id, conversation_id)) from inbox_entries",
    "reactions": "select count(*) from message_reactions",
    "blocks": "select count(*) from blocks",
    "privacy": "select md5(string_agg(user_id::text || who_can_message || who_can_call || show_online_status"
    " || send_read_receipts, ',' order by user_id)) from privacy_settings",
    "users": "select count(*) from auth.users",
    "org_members": "select count(*) from organization_members",
    "personas": "select count(*) from personas",
    "senders": "select count(*) from parley_internal.message_senders",
    "exceptions": "select count(*) from parley_import.exceptions",
}


def snapshot(database: TestDatabase) -> dict[str, tuple]:
    """What the import writes, summarized (for "a second run changes nothing")."""
    return {name: tuple(as_owner(database, query)[0]) for name, query in SNAPSHOT_QUERIES.items()}
