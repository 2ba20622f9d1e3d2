"""can_message / can_call decisions with stable reasons (issue 3; seed 000: check_can_message, check_can_call)."""

from __future__ import annotations

from identity_support import as_owner, organization_with
from parley.db import Api


def decide(api: Api, function: str, sender, recipient) -> tuple[bool, str]:
    result = api.rpc(function, {"recipient_id": str(recipient.id)}, token=sender.token if sender else None)
    return result["allowed"], result["reason"]


def set_privacy(api: Api, user, **values) -> None:
    for column, value in values.items():
        api.query(
            f"update privacy_settings set {column} = %s where user_id = %s",
            (value, user.id),
            token=user.token,
            method="PATCH",
        )


def test_co_members_may_message_and_connections_may_call(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("m_owner", "m_alice", "m_bob"))
    organization_with(api, database, owner, member=alice, member2=bob)
    assert decide(api, "can_message", alice, bob) == (True, "ok")
    assert decide(api, "can_call", alice, bob) == (False, "not_connected")
    api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    api.rpc("accept_connection", {"user_id": str(alice.id)}, token=bob.token)
    assert decide(api, "can_call", alice, bob) == (True, "ok")


def test_reasons_for_self_unknown_and_anonymous(api: Api, database):
    alice = database.create_user("r_alice")
    assert decide(api, "can_message", alice, alice) == (False, "self")
    result = api.rpc("can_message", {"recipient_id": "00000000-0000-4000-8000-000000000000"}, token=alice.token)
    assert (result["allowed"], result["reason"]) == (False, "recipient_not_found")
    assert decide(api, "can_message", None, alice) == (False, "unauthenticated")


def test_block_refuses_both_directions_with_a_neutral_reason_for_the_blocked(api: Api, database):
    """The blocker is told 'blocked'; the blocked user only 'privacy', as if the recipient said nobody."""
    owner, alice, bob = (database.create_user(n) for n in ("bl_owner", "bl_alice", "bl_bob"))
    organization_with(api, database, owner, member=alice, member2=bob)
    api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
    assert decide(api, "can_message", alice, bob) == (False, "blocked")
    assert decide(api, "can_message", bob, alice) == (False, "privacy")
    assert decide(api, "can_call", bob, alice) == (False, "privacy")


def test_privacy_settings_decide_who_may_reach_me(api: Api, database):
    owner, alice, bob, outsider = (database.create_user(n) for n in ("pv_owner", "pv_alice", "pv_bob", "pv_out"))
    organization_with(api, database, owner, member=alice, member2=bob)
    api.rpc("create_organization", {"name": "Outside"}, token=outsider.token)
    assert decide(api, "can_message", outsider, alice) == (True, "ok")  # default: everyone
    set_privacy(api, alice, who_can_message="shared_organization")
    assert decide(api, "can_message", outsider, alice) == (False, "no_shared_organization")
    assert decide(api, "can_message", bob, alice) == (True, "ok")
    set_privacy(api, alice, who_can_message="connections")
    assert decide(api, "can_message", bob, alice) == (False, "not_connected")
    set_privacy(api, alice, who_can_message="nobody", who_can_call="nobody")
    assert decide(api, "can_message", bob, alice) == (False, "privacy")
    assert decide(api, "can_call", bob, alice) == (False, "privacy")


def test_sender_without_any_organization_has_nowhere_to_chat(api: Api, database):
    loner, alice = database.create_user("loner"), database.create_user("lo_alice")
    assert decide(api, "can_message", loner, alice) == (False, "no_shared_organization")


def test_plan_without_chat_or_calls_gives_feature_disabled(api: Api, database):
    """Seed 004: chat works only while the organization's plan includes it; calls need chat.calls."""
    owner, alice, bob = (database.create_user(n) for n in ("f_owner", "f_alice", "f_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    set_privacy(api, bob, who_can_call="everyone")
    as_owner(database, "update organizations set plan_id = 'chat_lite' where id = %s", (organization,))
    assert decide(api, "can_message", alice, bob) == (True, "ok")
    assert decide(api, "can_call", alice, bob) == (False, "feature_disabled")
    as_owner(database, "update organizations set plan_id = 'free' where id = %s", (organization,))
    assert decide(api, "can_message", alice, bob) == (False, "feature_disabled")


def test_permission_revoked_for_a_role_gives_no_permission(api: Api, database):
    owner, guest, bob = (database.create_user(n) for n in ("np_owner", "np_guest", "np_bob"))
    organization = organization_with(api, database, owner, guest=guest, member=bob)
    set_privacy(api, bob, who_can_call="everyone")
    assert decide(api, "can_call", guest, bob) == (False, "no_permission")  # guests lack chat.initiate_call
    api.rpc(
        "set_role_permission",
        {"organization_id": organization, "role": "guest", "permission": "chat.view", "granted": False},
        token=owner.token,
    )
    assert decide(api, "can_message", guest, bob) == (False, "no_permission")
