"""Personas staff act as (issue 3; seed 001: 'fake users' / admin personas, DMs with personas)."""

from __future__ import annotations

import psycopg

from identity_support import as_definer, as_owner, organization_with, refusal
from parley.db import Api


def test_support_agents_act_as_personas_and_the_real_user_stays_hidden_from_members(api: Api, database):
    owner, agent, member = (database.create_user(n) for n in ("pe_owner", "pe_agent", "pe_member"))
    organization = organization_with(api, database, owner, admin=agent, member=member)
    persona = api.rpc(
        "create_persona", {"organization_id": organization, "display_name": "Support Team"}, token=owner.token
    )
    act = api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=agent.token)
    assert (act["acting_user_id"], act["action"], act["organization_id"]) == (
        str(agent.id),
        "session_start",
        organization,
    )
    # Members see the persona's display info, never who acts as it.
    assert api.query("select display_name from personas", token=member.token) == [{"display_name": "Support Team"}]
    assert api.query("select * from persona_acts", token=member.token) == []
    # Admins and the acting user see the audit trail.
    assert [
        row["acting_user_id"] for row in api.query("select acting_user_id::text from persona_acts", token=owner.token)
    ] == [str(agent.id)]


def test_acting_as_a_persona_needs_chat_support_agent(api: Api, database):
    owner, member, outsider = (database.create_user(n) for n in ("pa_owner", "pa_member", "pa_out"))
    organization = organization_with(api, database, owner, member=member)
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Help"}, token=owner.token)
    denied = refusal(lambda: api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=member.token))
    assert (denied.status, denied.code, denied.details) == (403, "42501", "no_permission")
    hidden = refusal(lambda: api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=outsider.token))
    assert (hidden.status, hidden.details) == (404, "persona_not_found")
    api.rpc(
        "set_role_permission",
        {"organization_id": organization, "role": "member", "permission": "chat.support_agent", "granted": True},
        token=owner.token,
    )
    assert api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=member.token)["acting_user_id"] == str(
        member.id
    )
    # The member sees their own acts but nobody else's.
    assert len(api.query("select id from persona_acts", token=member.token)) == 1


def test_internal_helper_returns_the_organization_and_refuses_when_off(api: Api, database):
    """Issue 4 calls parley_internal.assert_can_act_as_persona before sending as a persona."""
    owner, member = database.create_user("ph_owner"), database.create_user("ph_member")
    organization = organization_with(api, database, owner, member=member)
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Bot"}, token=owner.token)
    [(acting_organization,)] = as_definer(
        database, owner, "select parley_internal.assert_can_act_as_persona(%s, %s)", (persona["id"], owner.id)
    )
    assert str(acting_organization) == organization
    as_owner(database, "update organizations set plan_id = 'free' where id = %s", (organization,))
    disabled = refusal(lambda: api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=owner.token))
    assert (disabled.status, disabled.code, disabled.details) == (402, "PT402", "feature_disabled")
    as_owner(database, "update organizations set plan_id = 'chat' where id = %s", (organization,))
    api.query(
        "update personas set is_active = false where id = %s", (persona["id"],), token=owner.token, method="PATCH"
    )
    inactive = refusal(lambda: api.rpc("act_as_persona", {"persona_id": persona["id"]}, token=owner.token))
    assert (inactive.status, inactive.details) == (409, "persona_inactive")


def test_only_admins_create_personas_with_valid_input(api: Api, database):
    owner, member = database.create_user("pc_owner"), database.create_user("pc_member")
    organization = organization_with(api, database, owner, member=member)
    denied = refusal(
        lambda: api.rpc("create_persona", {"organization_id": organization, "display_name": "Me"}, token=member.token)
    )
    assert (denied.status, denied.details) == (403, "no_permission")
    bad = refusal(
        lambda: api.rpc("create_persona", {"organization_id": organization, "display_name": ""}, token=owner.token)
    )
    assert (bad.status, bad.details) == (400, "invalid_display_name")
    with psycopg.connect(database.url) as connection:
        count = connection.execute("select count(*) from personas where organization_id = %s", (organization,))
        assert count.fetchone() == (0,)
