"""Anon refusals carry the documented reason: 401, 42501, details 'unauthenticated' (docs/api.md, docs/errors.md).

PostgREST answers anon on an RPC or table without a grant with PostgreSQL's
bare `permission denied` (42501, no details). Parley installs a PostgREST
pre-request hook (functions/request_checks.sql, `pgrst.db_pre_request` on
the authenticator role) that refuses first, with the reason; parley.db.Api
calls it as PostgREST does.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

from parley.db import ApiError
from parley.stack import DEMO_ORGANIZATION


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("get_or_create_support_conversation", {"organization_id": DEMO_ORGANIZATION[0]}),
        ("get_unread_counts", {}),
        ("send_message", {"conversation_id": DEMO_ORGANIZATION[0], "body": "hi"}),
    ],
)
def test_anon_calling_an_rpc_gets_401_with_reason_unauthenticated(api, function, args):
    if not api.query("select 1 as found from pg_proc where proname = %s and pronamespace = 'public'::regnamespace",
                     (function,), token=None):  # fmt: skip
        pytest.skip(f"{function} is not in this database")
    with pytest.raises(ApiError) as refused:
        api.rpc(function, args)
    assert (refused.value.status, refused.value.code, refused.value.details) == (401, "42501", "unauthenticated")
    assert refused.value.hint and "access token" in refused.value.hint


def test_anon_reading_a_table_gets_401_with_reason_unauthenticated(api):
    with pytest.raises(ApiError) as refused:
        api.query("select * from public.conversations", path="/conversations", token=None)
    assert (refused.value.status, refused.value.code, refused.value.details) == (401, "42501", "unauthenticated")


def test_the_hook_is_configured_for_postgrest_and_leaves_signed_in_users_alone(api, database):
    rows = api.query("select 1 as one", path="/rpc/get_unread_counts", token=database.create_user("hooked").token)
    assert rows == [{"one": 1}]
    [row] = api.query(
        "select setting from pg_db_role_setting s, unnest(s.setconfig) setting "
        "where s.setrole = 'authenticator'::regrole and setting like 'pgrst.db_pre_request=%'",
        claims={"role": "service_role"},
    )
    assert row["setting"] == "pgrst.db_pre_request=parley_internal.check_request"


def test_a_role_that_may_not_set_pgrst_settings_still_migrates_with_a_warning(database):
    """functions/request_checks.sql: where `alter role authenticator set pgrst.db_pre_request` is refused
    (no superuser, no SET on the parameter, no supautils), the migration goes on with a WARNING naming the
    statement to run, and the existing setting is left as it is."""
    text = (Path(__file__).parents[1] / "functions" / "request_checks.sql").read_text()
    block = re.search(r"do \$pre_request\$.*?\$pre_request\$;", text, re.S)
    assert block, "request_checks.sql no longer installs the hook in a guarded block"
    warnings: list[str] = []
    with psycopg.connect(database.url) as connection:
        connection.add_notice_handler(
            lambda notice: warnings.append(notice.message_primary or "")
            if notice.severity_nonlocalized == "WARNING" else None
        )  # fmt: skip
        role = f"parley_no_guc_{uuid.uuid4().hex[:8]}"
        connection.execute(f'create role "{role}" createrole')
        connection.execute(f'grant "{role}" to current_user')
        connection.execute(f'set local role "{role}"')
        connection.execute(block.group(0))
        connection.execute("reset role")
        [(setting,)] = connection.execute(
            "select setting from pg_db_role_setting s, unnest(s.setconfig) setting "
            "where s.setrole = 'authenticator'::regrole and setting like 'pgrst.db_pre_request=%'"
        ).fetchall()
        connection.rollback()
    assert len(warnings) == 1 and "pre-request hook" in warnings[0]
    assert setting == "pgrst.db_pre_request=parley_internal.check_request"
