"""Issue 20, findings 1 and 3: nobody hands out a permission they do not hold; persona acts name the caller.

Finding 1 (admin permission escalation): the owner revokes a permission from admins; an admin invites a second
account of their own as a member (or guest) and grants that permission to the member (guest) role. The grant must
be refused, and the second account must not get the permission. Owners keep full control.

Finding 3 (forged persona accountability): ``parley_internal.record_persona_act`` trusted its ``user_id`` argument.
"""

from __future__ import annotations

import psycopg
import pytest

from identity_support import organization_with, refusal
from parley.db import Api
from parley_dev.testing import TestDatabase

ESCALATED = ["chat.audit_read", "chat.moderate", "chat.support_agent", "chat.send_notice", "chat.delete"]


def revoke_from_admins(api: Api, owner_token: str, organization: str, permission: str) -> None:
    args = {"organization_id": organization, "role": "admin", "permission": permission, "granted": False}
    api.rpc("set_role_permission", args, token=owner_token)


@pytest.mark.parametrize("role", ["member", "guest"])
@pytest.mark.parametrize("permission", ESCALATED)
def test_an_admin_cannot_grant_a_permission_the_owner_revoked_from_admins(api: Api, database, permission, role):
    """The probe's steps: owner revokes from admins, admin invites a sock puppet and grants the role the permission."""
    owner, admin, puppet = (database.create_user(f"esc_{n}") for n in ("owner", "admin", "puppet"))
    organization = organization_with(api, database, owner, admin=admin)
    revoke_from_admins(api, owner.token, organization, permission)
    invitation = api.rpc("create_invitation", {"organization_id": organization, "role": role}, token=admin.token)
    api.rpc("accept_invitation", {"token": invitation["token"]}, token=puppet.token)

    grant = {"organization_id": organization, "role": role, "permission": permission, "granted": True}
    denied = refusal(lambda: api.rpc("set_role_permission", grant, token=admin.token))
    assert (denied.status, denied.code, denied.details) == (403, "42501", "permission_not_held")
    held = {"organization_id": organization, "permission": permission}
    assert api.rpc("has_permission", held, token=puppet.token) is False
    assert api.query("select * from organization_role_permissions where organization_id = %s and role = %s",
                     (organization, role), token=owner.token) == []  # fmt: skip


def test_the_second_account_cannot_read_the_audit_log_after_the_refused_grant(api: Api, database):
    """chat.audit_read end to end: the puppet reads no audit entry and verify_audit_log refuses it."""
    owner, admin, puppet = (database.create_user(f"esa_{n}") for n in ("owner", "admin", "puppet"))
    organization = organization_with(api, database, owner, admin=admin)
    revoke_from_admins(api, owner.token, organization, "chat.audit_read")
    invitation = api.rpc("create_invitation", {"organization_id": organization, "role": "member"}, token=admin.token)
    api.rpc("accept_invitation", {"token": invitation["token"]}, token=puppet.token)
    grant = {"organization_id": organization, "role": "member", "permission": "chat.audit_read", "granted": True}
    refusal(lambda: api.rpc("set_role_permission", grant, token=admin.token))

    entries = "select count(*) as n from audit_log where organization_id = %s"
    assert api.query(entries, (organization,), token=puppet.token) == [{"n": 0}]
    denied = refusal(lambda: api.rpc("verify_audit_log", {"organization_id": organization}, token=puppet.token,
                                     method="GET"))  # fmt: skip
    assert (denied.status, denied.code, denied.details) == (403, "42501", "no_permission")


def test_an_admin_cannot_clear_an_override_that_would_give_back_what_they_lack(api: Api, database):
    """Clearing an override is a grant when the default map holds the permission: the same rule applies."""
    owner, admin = database.create_user("esc_clear_owner"), database.create_user("esc_clear_admin")
    organization = organization_with(api, database, owner, admin=admin)
    revoke_from_admins(api, owner.token, organization, "chat.view")
    revoke = {"organization_id": organization, "role": "member", "permission": "chat.view", "granted": False}
    api.rpc("set_role_permission", revoke, token=owner.token)
    clear = {"organization_id": organization, "role": "member", "permission": "chat.view"}
    denied = refusal(lambda: api.rpc("clear_role_permission", clear, token=admin.token))
    assert (denied.status, denied.details) == (403, "permission_not_held")
    assert api.query("select granted from organization_role_permissions where organization_id = %s and role = 'member'",
                     (organization,), token=owner.token) == [{"granted": False}]  # fmt: skip


def test_owners_keep_full_control_and_admins_still_manage_what_they_hold(api: Api, database):
    owner, admin, member = (database.create_user(f"esk_{n}") for n in ("owner", "admin", "member"))
    organization = organization_with(api, database, owner, admin=admin, member=member)
    revoke_from_admins(api, owner.token, organization, "chat.audit_read")
    # The owner grants what admins lack, to members and back to admins.
    for role in ("member", "admin"):
        args = {"organization_id": organization, "role": role, "permission": "chat.audit_read", "granted": True}
        assert api.rpc("set_role_permission", args, token=owner.token)["granted"] is True
    # An admin grants and revokes a permission they hold.
    moderate = {"organization_id": organization, "role": "member", "permission": "chat.moderate", "granted": True}
    assert api.rpc("set_role_permission", moderate, token=admin.token)["granted"] is True
    assert api.rpc("has_permission", {"organization_id": organization, "permission": "chat.moderate"},
                   token=member.token) is True  # fmt: skip
    api.rpc("clear_role_permission", {k: moderate[k] for k in ("organization_id", "role", "permission")},
            token=admin.token)  # fmt: skip
    # Admins still never raise their own role.
    own = {"organization_id": organization, "role": "admin", "permission": "chat.view", "granted": True}
    assert refusal(lambda: api.rpc("set_role_permission", own, token=admin.token)).details == "no_permission"


def persona_world(api: Api, database: TestDatabase) -> tuple[dict, str, str]:
    owner, agent = database.create_user("fp_owner"), database.create_user("fp_agent")
    organization = organization_with(api, database, owner, admin=agent)
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Help"}, token=owner.token)
    return {"owner": owner, "agent": agent}, organization, persona["id"]


def test_a_signed_in_user_cannot_forge_a_persona_act_in_someone_elses_name(api: Api, database):
    """Raw authenticated SQL session: record_persona_act is not executable, so no forged act is written."""
    people, _, persona = persona_world(api, database)
    forged = "select parley_internal.record_persona_act(%s, %s, 'message.send', null) as id"
    denied = refusal(lambda: api.query(forged, (persona, people["owner"].id), token=people["agent"].token,
                                       method="POST"))  # fmt: skip
    assert (denied.status, denied.code) == (403, "42501")
    # Even granted (as a future caller might be), the function itself records only the current user.
    with psycopg.connect(database.url) as connection:
        connection.execute("grant execute on function parley_internal.record_persona_act(uuid, uuid, text, uuid) "
                           "to authenticated")  # fmt: skip
        connection.execute("set local role authenticated")
        connection.execute("select set_config('request.jwt.claims', %s, true)",
                           (f'{{"sub": "{people["agent"].id}", "role": "authenticated"}}',))  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
            connection.execute(forged, (persona, people["owner"].id))
        assert raised.value.diag.message_detail == "not_yourself"
        connection.rollback()
    assert api.query("select count(*) as n from persona_acts", token=people["owner"].token) == [{"n": 0}]


def test_persona_acts_through_the_rpcs_still_record_the_caller(api: Api, database):
    people, _, persona = persona_world(api, database)
    act = api.rpc("act_as_persona", {"persona_id": persona}, token=people["agent"].token)
    assert act["acting_user_id"] == str(people["agent"].id)
