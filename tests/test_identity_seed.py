"""supabase/seed.sql's identity demo applies twice without change (issue 3)."""

from __future__ import annotations

import psycopg

from parley import config
from parley.db import Api
from parley.tokens import mint

ACME = "00000000-0000-4000-8000-0000000ac3e0"
ALICE = "00000000-0000-4000-8000-00000000a11c"
BOB = "00000000-0000-4000-8000-000000000b0b"


def test_seed_is_idempotent_and_gives_acme_tutoring_on_the_chat_plan(api: Api, database):
    seed = (config.project_root() / "supabase" / "seed.sql").read_text()
    with psycopg.connect(database.url, autocommit=True) as connection:
        connection.execute(seed.encode())
        snapshot = connection.execute(
            "select (select count(*) from profiles), (select count(*) from organization_members), "
            "(select count(*) from connections), (select count(*) from personas)"
        ).fetchone()
        connection.execute(seed.encode())
        assert (
            connection.execute(
                "select (select count(*) from profiles), (select count(*) from organization_members), "
                "(select count(*) from connections), (select count(*) from personas)"
            ).fetchone()
            == snapshot
        )
    alice = mint(database.jwt_secret, user_id=ALICE, email="alice@example.com")
    [organization] = api.query("select name, plan_id from organizations where id = %s", (ACME,), token=alice)
    assert organization == {"name": "Acme Tutoring", "plan_id": "chat"}
    assert api.rpc("are_users_connected", {"other_user_id": BOB}, token=alice) is True
    assert api.rpc("can_message", {"recipient_id": BOB}, token=alice) == {"allowed": True, "reason": "ok"}
    assert api.query("select display_name from personas", token=alice) == [{"display_name": "Support Team"}]
