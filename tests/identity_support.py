"""Shared set-up for the identity tests (issue 3): organizations and roles through the request path."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from parley.db import Api, ApiError
from parley_dev.testing import TestDatabase, TestUser


def as_owner(database: TestDatabase, statement: str, params: Any = None) -> list[tuple]:
    """Set-up only: run SQL as the database owner (never for user-facing behaviour)."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def refusal(call) -> ApiError:
    """Run ``call`` and return the ApiError it must raise."""
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


def organization_with(api: Api, database: TestDatabase, owner: TestUser, **members: TestUser) -> str:
    """Create an organization owned by ``owner`` and add each member with the role named by its keyword.

    Keywords look like ``admin``, ``member``, ``member2``, ``guest``: the role is the text before any digit.
    """
    organization = api.rpc("create_organization", {"name": "Test Org"}, token=owner.token)["id"]
    for keyword, user in members.items():
        role = keyword.rstrip("0123456789")
        invitation = api.rpc("create_invitation", {"organization_id": organization, "role": role}, token=owner.token)
        api.rpc("accept_invitation", {"token": invitation["token"]}, token=user.token)
    return organization


def as_definer(
    database: TestDatabase, user: TestUser, statement: str, params: Any = None, *, read_only: bool = False
) -> list[tuple]:
    """Call parley_internal helpers as the SECURITY DEFINER code that uses them does: as the owner, inside a
    request of ``user`` (claims set). API roles may not execute them (issue 20 finding 4)."""
    with psycopg.connect(database.url) as connection, connection.transaction():
        if read_only:
            connection.execute("set transaction read only")
        connection.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(user.id), "role": "authenticated"}),),
        )
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []
