"""Organizations, invitations, roles, the owner invariant, permissions and plans (issue 3; seeds 004 and 001)."""

from __future__ import annotations

import threading

from identity_support import as_owner, organization_with, refusal
from parley.db import Api


def roles(api: Api, organization: str, token: str) -> dict[str, str]:
    rows = api.query(
        "select user_id::text, role from organization_members where organization_id = %s",
        (organization,), token=token,
    )  # fmt: skip
    return {row["user_id"]: row["role"] for row in rows}


def test_creator_becomes_owner_and_the_organization_starts_on_the_chat_plan(api: Api, database):
    """Creating an organization makes the caller its owner (seed 004: a chat package per organization)."""
    founder = database.create_user("founder")
    organization = api.rpc("create_organization", {"name": "  Acme  "}, token=founder.token)
    assert organization["name"] == "Acme"
    assert organization["plan_id"] == "chat"
    assert roles(api, organization["id"], founder.token) == {str(founder.id): "owner"}
    assert api.rpc("organization_features", {"organization_id": organization["id"]}, token=founder.token) == [
        "chat", "chat.calls",
    ]  # fmt: skip


def test_create_organization_refuses_bad_input_and_anonymous_callers(api: Api, database):
    user = database.create_user("namer")
    error = refusal(lambda: api.rpc("create_organization", {"name": "   "}, token=user.token))
    assert (error.status, error.code, error.details) == (400, "P0001", "invalid_organization_name")
    error = refusal(lambda: api.rpc("create_organization", {"name": "x"}))
    assert (error.status, error.code) == (401, "42501")


def test_a_user_may_belong_to_several_organizations(api: Api, database):
    user = database.create_user("multi")
    first = api.rpc("create_organization", {"name": "One"}, token=user.token)["id"]
    second = api.rpc("create_organization", {"name": "Two"}, token=user.token)["id"]
    visible = {row["id"] for row in api.query("select id::text from organizations", token=user.token)}
    assert visible == {first, second}


def test_invitation_is_accepted_once_by_token_and_expired_or_used_tokens_are_refused(api: Api, database):
    owner, joiner, late = (database.create_user(n) for n in ("inv_owner", "joiner", "late"))
    organization = api.rpc("create_organization", {"name": "Inv"}, token=owner.token)["id"]
    invitation = api.rpc("create_invitation", {"organization_id": organization, "role": "guest"}, token=owner.token)
    assert len(invitation["token"]) == 64
    membership = api.rpc("accept_invitation", {"token": invitation["token"]}, token=joiner.token)
    assert (membership["organization_id"], membership["role"]) == (organization, "guest")

    used = refusal(lambda: api.rpc("accept_invitation", {"token": invitation["token"]}, token=late.token))
    assert (used.status, used.code, used.details) == (409, "PT409", "invitation_used")

    expiring = api.rpc("create_invitation", {"organization_id": organization}, token=owner.token)
    as_owner(
        database,
        "update organization_invitations set expires_at = now() - interval '1 second' where id = %s",
        (expiring["invitation_id"],),
    )
    expired = refusal(lambda: api.rpc("accept_invitation", {"token": expiring["token"]}, token=late.token))
    assert (expired.status, expired.details) == (409, "invitation_expired")

    unknown = refusal(lambda: api.rpc("accept_invitation", {"token": "0" * 64}, token=late.token))
    assert (unknown.status, unknown.details) == (404, "invitation_not_found")
    malformed = refusal(lambda: api.rpc("accept_invitation", {"token": "nope"}, token=late.token))
    assert (malformed.status, malformed.details) == (400, "invalid_token")


def test_invitation_for_an_email_is_refused_to_other_accounts(api: Api, database):
    owner, invited, other = (database.create_user(n) for n in ("em_owner", "em_invited", "em_other"))
    organization = api.rpc("create_organization", {"name": "Mail"}, token=owner.token)["id"]
    invitation = api.rpc(
        "create_invitation", {"organization_id": organization, "email": invited.email.upper()}, token=owner.token
    )
    mismatch = refusal(lambda: api.rpc("accept_invitation", {"token": invitation["token"]}, token=other.token))
    assert (mismatch.status, mismatch.details) == (403, "invitation_email_mismatch")
    assert api.rpc("accept_invitation", {"token": invitation["token"]}, token=invited.token)["role"] == "member"


def test_members_cannot_invite_and_nobody_invites_owners(api: Api, database):
    owner, member = database.create_user("io_owner"), database.create_user("io_member")
    organization = organization_with(api, database, owner, member=member)
    denied = refusal(lambda: api.rpc("create_invitation", {"organization_id": organization}, token=member.token))
    assert (denied.status, denied.code, denied.details) == (403, "42501", "no_permission")
    as_owner_role = refusal(
        lambda: api.rpc("create_invitation", {"organization_id": organization, "role": "owner"}, token=owner.token)
    )
    assert (as_owner_role.status, as_owner_role.details) == (400, "invalid_role")


def test_admins_cannot_create_owners_promote_themselves_or_touch_owners(api: Api, database):
    """Nobody grants themselves a role: admins manage members and guests only."""
    owner, admin, member = (database.create_user(n) for n in ("r_owner", "r_admin", "r_member"))
    organization = organization_with(api, database, owner, admin=admin, member=member)
    for args in (
        {"user_id": str(member.id), "role": "owner"},
        {"user_id": str(admin.id), "role": "owner"},
        {"user_id": str(owner.id), "role": "member"},
    ):
        error = refusal(
            lambda args=args: api.rpc("set_member_role", {"organization_id": organization, **args}, token=admin.token)
        )
        assert (error.status, error.details) == (403, "no_permission"), args
    member_self = refusal(
        lambda: api.rpc(
            "set_member_role",
            {"organization_id": organization, "user_id": str(member.id), "role": "admin"},
            token=member.token,
        )
    )
    assert member_self.details == "no_permission"
    changed = api.rpc(
        "set_member_role",
        {"organization_id": organization, "user_id": str(member.id), "role": "guest"},
        token=admin.token,
    )
    assert changed["role"] == "guest"
    assert roles(api, organization, owner.token)[str(owner.id)] == "owner"


def test_the_last_owner_cannot_leave_or_be_demoted(api: Api, database):
    owner, member = database.create_user("lo_owner"), database.create_user("lo_member")
    organization = organization_with(api, database, owner, member=member)
    leaving = refusal(lambda: api.rpc("leave_organization", {"organization_id": organization}, token=owner.token))
    assert (leaving.status, leaving.code, leaving.details) == (409, "PT409", "last_owner")
    demoting = refusal(
        lambda: api.rpc(
            "set_member_role",
            {"organization_id": organization, "user_id": str(owner.id), "role": "admin"},
            token=owner.token,
        )
    )
    assert demoting.details == "last_owner"
    api.rpc("leave_organization", {"organization_id": organization}, token=member.token)
    assert roles(api, organization, owner.token) == {str(owner.id): "owner"}
    gone = refusal(lambda: api.rpc("leave_organization", {"organization_id": organization}, token=member.token))
    assert (gone.status, gone.details) == (404, "organization_not_found")


def test_transfer_ownership_swaps_roles_and_only_owners_may_transfer(api: Api, database):
    owner, admin = database.create_user("t_owner"), database.create_user("t_admin")
    organization = organization_with(api, database, owner, admin=admin)
    denied = refusal(
        lambda: api.rpc(
            "transfer_ownership", {"organization_id": organization, "new_owner_id": str(owner.id)}, token=admin.token
        )
    )
    assert (denied.status, denied.details) == (403, "not_owner")
    api.rpc("transfer_ownership", {"organization_id": organization, "new_owner_id": str(admin.id)}, token=owner.token)
    assert roles(api, organization, owner.token) == {str(owner.id): "admin", str(admin.id): "owner"}


def test_concurrent_ownership_transfers_leave_exactly_one_owner(api: Api, database):
    """Two transfers of one organization at once (double submit): the organization row lock serializes
    them; the second sees it is no longer owner and is refused. Never zero or two owners."""
    for round_number in range(5):
        owner, first, second = (database.create_user(f"ct{round_number}_{n}") for n in ("o", "a", "b"))
        organization = organization_with(api, database, owner, admin=first, admin2=second)
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def transfer(target, key, organization=organization, owner=owner, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                api.rpc(
                    "transfer_ownership",
                    {"organization_id": organization, "new_owner_id": str(target.id)},
                    token=owner.token,
                )
                outcomes[key] = "ok"
            except Exception as error:
                outcomes[key] = getattr(error, "details", repr(error))

        threads = [threading.Thread(target=transfer, args=(user, key)) for user, key in ((first, "a"), (second, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["not_owner", "ok"]
        owners = [user for user, role in roles(api, organization, first.token).items() if role == "owner"]
        assert len(owners) == 1 and owners[0] in (str(first.id), str(second.id))


def test_two_owners_leaving_at_once_keep_one_owner(api: Api, database):
    """Two co-owners leave simultaneously: exactly one succeeds, the other gets PT409 last_owner."""
    for round_number in range(5):
        one, two = database.create_user(f"co{round_number}_1"), database.create_user(f"co{round_number}_2")
        organization = organization_with(api, database, one, admin=two)
        api.rpc(
            "set_member_role",
            {"organization_id": organization, "user_id": str(two.id), "role": "owner"},
            token=one.token,
        )
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def leave(user, organization=organization, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                api.rpc("leave_organization", {"organization_id": organization}, token=user.token)
                outcomes.append("ok")
            except Exception as error:
                outcomes.append(getattr(error, "details", repr(error)))

        threads = [threading.Thread(target=leave, args=(user,)) for user in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["last_owner", "ok"]
        [(count,)] = as_owner(
            database,
            "select count(*) from organization_members where organization_id = %s and role = 'owner'",
            (organization,),
        )
        assert count == 1


def test_has_permission_follows_the_role_map_and_organization_overrides(api: Api, database):
    """Seed 004's chat.* permissions: defaults per role, overridable per organization."""
    owner, admin, member, guest, outsider = (
        database.create_user(n) for n in ("p_owner", "p_admin", "p_member", "p_guest", "p_out")
    )
    organization = organization_with(api, database, owner, admin=admin, member=member, guest=guest)

    def has(user, permission):
        return api.rpc("has_permission", {"organization_id": organization, "permission": permission}, token=user.token)

    assert has(member, "chat.initiate_call") and not has(member, "chat.moderate")
    assert has(guest, "chat.view") and not has(guest, "chat.create_group")
    assert has(admin, "chat.audit_read") and has(owner, "chat.audit_read")
    assert not has(outsider, "chat.view")
    unknown = refusal(lambda: has(member, "chat.fly"))
    assert (unknown.status, unknown.details) == (400, "unknown_permission")

    api.rpc(
        "set_role_permission",
        {"organization_id": organization, "role": "member", "permission": "chat.moderate", "granted": True},
        token=admin.token,
    )
    api.rpc(
        "set_role_permission",
        {"organization_id": organization, "role": "guest", "permission": "chat.view", "granted": False},
        token=admin.token,
    )
    assert has(member, "chat.moderate") and not has(guest, "chat.view")
    assert "chat.moderate" in api.rpc("my_permissions", {"organization_id": organization}, token=member.token)

    api.rpc(
        "clear_role_permission",
        {"organization_id": organization, "role": "guest", "permission": "chat.view"},
        token=admin.token,
    )
    assert has(guest, "chat.view")
    missing = refusal(
        lambda: api.rpc(
            "clear_role_permission",
            {"organization_id": organization, "role": "guest", "permission": "chat.view"},
            token=admin.token,
        )
    )
    assert (missing.status, missing.details) == (404, "override_not_found")


def test_nobody_grants_permissions_to_their_own_role(api: Api, database):
    owner, admin, member = (database.create_user(n) for n in ("g_owner", "g_admin", "g_member"))
    organization = organization_with(api, database, owner, admin=admin, member=member)
    for user, role in ((admin, "admin"), (member, "member"), (admin, "owner")):
        error = refusal(
            lambda user=user, role=role: api.rpc(
                "set_role_permission",
                {"organization_id": organization, "role": role, "permission": "chat.delete", "granted": True},
                token=user.token,
            )
        )
        assert error.details in ("no_permission", "owner_role_fixed"), (user, role)
    # Direct writes to the override table are not granted at all.
    direct = refusal(
        lambda: api.query(
            "insert into organization_role_permissions (organization_id, role, permission, granted) "
            "values (%s, 'admin', 'chat.delete', true)",
            (organization,),
            token=admin.token,
            method="POST",
        )
    )
    assert (direct.status, direct.code) == (403, "42501")


def test_plans_are_readable_by_anyone_but_only_service_role_changes_them(api: Api, database):
    """Seed 004: the Chat System package costs 49.99 per month; nobody edits plans through the API but billing."""
    [plan] = api.query("select name, monthly_price::text, currency from plans where id = 'chat'")
    assert plan == {"name": "Chat System", "monthly_price": "49.99", "currency": "USD"}
    owner = database.create_user("plan_owner")
    organization = api.rpc("create_organization", {"name": "Cheap"}, token=owner.token)["id"]
    for statement in (
        "update plans set monthly_price = 0 where id = 'chat'",
        "insert into plan_features (plan_id, feature) values ('free', 'chat')",
    ):
        error = refusal(lambda statement=statement: api.query(statement, token=owner.token, method="POST"))
        assert error.code == "42501"
    own_plan = refusal(
        lambda: api.query(
            "update organizations set plan_id = 'free' where id = %s", (organization,), token=owner.token, method="POST"
        )
    )
    assert own_plan.code == "42501"
    api.query(
        "update organizations set plan_id = 'free' where id = %s",
        (organization,),
        token=database.token("service_role"),
        method="POST",
    )
    assert api.rpc("organization_features", {"organization_id": organization}, token=owner.token) == []


def test_owners_and_admins_rename_their_organization_members_cannot(api: Api, database):
    owner, member = database.create_user("rn_owner"), database.create_user("rn_member")
    organization = organization_with(api, database, owner, member=member)
    assert api.query(
        "update organizations set name = 'Renamed' where id = %s returning name",
        (organization,),
        token=owner.token,
        method="PATCH",
    ) == [{"name": "Renamed"}]
    assert (
        api.query(
            "update organizations set name = 'Hijack' where id = %s returning name",
            (organization,),
            token=member.token,
            method="PATCH",
        )
        == []
    )
