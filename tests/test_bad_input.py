"""The bad-input catalogue (issue 5): every hostile input of tests/bad_input_cases.py, through the request path.

One table-driven test. Each case calls an RPC, runs a statement on an exposed
table, or uploads through parley.storage, as a real user of a small world of
two organizations, and must get exactly its HTTP status, SQLSTATE and reason,
with nothing written: every table of public, parley_internal, storage and auth
has the same content before and after (and the storage backend holds no file).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bad_input_cases import CASES, Case, Ref, Template
from identity_support import organization_with
from parley.db import Api, ApiError
from parley.storage import LocalBackend, StorageRefusal, upload
from parley_dev.testing import TestDatabase, TestUser

SNAPSHOT_SCHEMAS = ("public", "parley_internal", "storage", "auth")


@pytest.fixture(scope="module")
def world(api: Api, database: TestDatabase) -> dict[str, Any]:
    """Two organizations with an owner, admin and member each, personas, invitations, a block, a group and a
    support conversation; ids by name for ``Ref``."""
    users: dict[str, TestUser] = {
        name: database.create_user(f"bi_{name}")
        for name in ("owner", "admin", "member", "stranger", "other_owner", "other_admin", "joiner", "ghost")
    }
    # A deleted account whose access token is still valid (issue 20).
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute("delete from auth.users where id = %s", (users["ghost"].id,))
    organization = organization_with(api, database, users["owner"], admin=users["admin"], member=users["member"])
    other = organization_with(api, database, users["other_owner"], admin=users["other_admin"])
    other_group = api.rpc("create_group_conversation", {"organization_id": other, "title": "Elsewhere"},
                          token=users["other_owner"].token)  # fmt: skip
    token = {name: user.token for name, user in users.items()}
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Help"},
                      token=token["owner"])["id"]  # fmt: skip
    other_persona = api.rpc("create_persona", {"organization_id": other, "display_name": "Other help"},
                            token=token["other_owner"])["id"]  # fmt: skip
    used = api.rpc("create_invitation", {"organization_id": organization}, token=token["owner"])["token"]
    api.rpc("accept_invitation", {"token": used}, token=token["joiner"])
    open_token = api.rpc("create_invitation", {"organization_id": organization}, token=token["owner"])["token"]
    other_invitation = api.rpc("create_invitation", {"organization_id": other}, token=token["other_owner"])
    api.rpc("block_user", {"user_id": str(users["stranger"].id)}, token=token["member"])
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Tutors", "member_ids": [str(users["member"].id)]},
        token=token["owner"],
    )
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization},
                      token=token["member"])  # fmt: skip
    notices = api.rpc("get_or_create_notices_conversation", {"organization_id": organization}, token=token["member"])
    client_msg_id = str(uuid.uuid4())

    def send(who: str, conversation: str, body: str, **extra: Any) -> int:
        args = {"conversation_id": conversation, "body": body, **extra}
        return api.rpc("send_message", args, token=token[who])["id"]

    owner_message = send("owner", group["id"], "Welcome")
    member_message = send("member", group["id"], "Hello", client_msg_id=client_msg_id)
    deleted_message = send("member", group["id"], "Oops")
    api.rpc("delete_message", {"message_id": deleted_message}, token=token["member"])
    other_message = send("other_owner", other_group["id"], "Elsewhere")
    return {
        "users": users,
        "ids": {
            **{name: str(user.id) for name, user in users.items()},
            "org": organization,
            "other_org": other,
            "persona": persona,
            "other_persona": other_persona,
            "used_token": used,
            "open_token": open_token,
            "other_invitation": other_invitation["invitation_id"],
            "group": group["id"],
            "other_group": other_group["id"],
            "support": support["id"],
            "missing": str(uuid.uuid4()),
            "many_ids": [str(uuid.uuid4()) for _ in range(501)],
            "huge_ids_then_null": [str(uuid.uuid4()) for _ in range(200_000)] + [None],
            "notices": notices["id"],
            "owner_message": owner_message,
            "member_message": member_message,
            "deleted_message": deleted_message,
            "other_message": other_message,
            "used_client_msg_id": client_msg_id,
        },
    }


@pytest.fixture
def backend(tmp_path: Path, database: TestDatabase) -> Iterator[LocalBackend]:
    yield LocalBackend(tmp_path / "storage", database.jwt_secret)


def resolve(value: Any, ids: dict[str, Any], caller: str | None) -> Any:
    """Replace every ``Ref`` in ``value`` by the world's id (``self`` is the caller)."""
    if isinstance(value, Ref):
        return caller if value.name == "self" else ids[value.name]
    if isinstance(value, Template):
        return value.text.format(**{**ids, "self": caller})
    if isinstance(value, dict):
        return {key: resolve(item, ids, caller) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, ids, caller) for item in value]
    return value


def snapshot(database: TestDatabase) -> dict[str, str]:
    """An md5 of every table's content in the snapshot schemas: any insert, update or delete changes one."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        tables = connection.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind in ('r', 'p') order by 1, 2",
            (list(SNAPSHOT_SCHEMAS),),
        ).fetchall()
        digests = sql.SQL(" union all ").join(
            sql.SQL(
                "select {name}, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t"
            ).format(name=sql.Literal(f"{schema}.{table}"), table=sql.Identifier(schema, table))
            for schema, table in tables
        )
        return dict(connection.execute(digests).fetchall())


def call(api: Api, database: TestDatabase, world: dict[str, Any], case: Case, backend: LocalBackend) -> None:
    """Make the case's request as its actor; it must raise."""
    users = world["users"]
    if case.actor == "anon":
        token, caller = None, None
    elif case.actor == "service_role":
        token, caller = database.token("service_role"), None
    else:
        token, caller = users[case.actor].token, str(users[case.actor].id)
    args = resolve(case.args, world["ids"], caller)
    if case.target == "sql":
        api.query(args["statement"], args["params"], token=token, method=case.method)
    elif case.target == "upload":
        upload(api, backend, token=token, conversation_id=uuid.UUID(world["ids"]["group"]),
               file_name=args["file_name"], source=args["data"], claimed_type="text/plain")  # fmt: skip
    else:
        api.rpc(case.target, args, token=token, method=case.method)


def marks(case: Case) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(reason=case.bug, strict=True)] if case.bug else []


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id, marks=marks(case)) for case in CASES])
def test_bad_input_is_refused_with_a_stable_code_and_writes_nothing(api: Api, database, world, backend, case):
    """Each hostile input gets its exact status, SQLSTATE and reason, and leaves every table as it was."""
    before = snapshot(database)
    with pytest.raises((ApiError, StorageRefusal)) as raised:
        call(api, database, world, case, backend)
    error = raised.value
    if isinstance(error, StorageRefusal):
        assert (error.status, None, error.reason) == (case.status, case.code, case.reason)
        assert backend.keys("chat-files") == []
    else:
        assert (error.status, error.code, error.details if case.reason else None) == (
            case.status, case.code, case.reason)  # fmt: skip
    assert snapshot(database) == before


def test_the_catalogue_has_at_least_50_distinct_cases():
    """Issue 5 asks for at least 50 malformed or hostile inputs."""
    assert len({case.id for case in CASES}) == len(CASES) >= 50
