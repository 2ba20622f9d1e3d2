"""Conversations (issue 4): get-or-create for direct, persona, support and notices; groups; support isolation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from identity_support import as_definer, as_owner, organization_with, refusal
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "admin", "alice", "bob", "carol", "agent", "outsider", "other_owner")
    return {name: database.create_user(f"cv_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(
        api,
        database,
        people["owner"],
        admin=people["admin"],
        member=people["alice"],
        member2=people["bob"],
        member3=people["carol"],
        member4=people["agent"],
    )


@pytest.fixture(scope="module")
def other_organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(api, database, people["other_owner"], member=people["outsider"])


def join(api: Api, organization: str, owner: TestUser, user: TestUser) -> None:
    """Invite ``user`` into the organization as a member and accept."""
    invitation = api.rpc("create_invitation", {"organization_id": organization, "role": "member"}, token=owner.token)
    api.rpc("accept_invitation", {"token": invitation["token"]}, token=user.token)


def roster(api: Api, conversation: str, token: str) -> set[str]:
    rows = api.query(
        "select user_id::text from conversation_members where conversation_id = %s", (conversation,), token=token
    )
    return {row["user_id"] for row in rows}


def test_direct_conversation_is_one_per_pair_whoever_starts_it(api: Api, people, organization):
    alice, bob = people["alice"], people["bob"]
    first = api.rpc(
        "get_or_create_direct_conversation",
        {"organization_id": organization, "other_user_id": str(bob.id)},
        token=alice.token,
    )
    second = api.rpc(
        "get_or_create_direct_conversation",
        {"organization_id": organization, "other_user_id": str(alice.id)},
        token=bob.token,
    )
    assert first["id"] == second["id"]
    assert first["kind"] == "direct" and first["organization_id"] == organization
    assert roster(api, first["id"], alice.token) == {str(alice.id), str(bob.id)}


def test_100_parallel_get_or_create_calls_give_one_direct_conversation(api: Api, database, people, organization):
    """Issue 4 'Done when': 100 parallel get_or_create calls for a direct conversation give one conversation."""
    left, right = database.create_user("race_left"), database.create_user("race_right")
    join(api, organization, people["owner"], left)
    join(api, organization, people["owner"], right)

    def start(index: int) -> str:
        caller, other = (left, right) if index % 2 else (right, left)
        return api.rpc(
            "get_or_create_direct_conversation",
            {"organization_id": organization, "other_user_id": str(other.id)},
            token=caller.token,
        )["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(start, range(100)))
    assert len(ids) == 1
    [conversation] = ids
    rows = as_owner(
        database,
        """
        select count(*) from conversations where organization_id = %s and direct_key like %s
    """,
        (organization, f"%{left.id}%"),
    )
    assert rows == [(1,)]
    assert as_owner(
        database, "select count(*) from conversation_members where conversation_id = %s", (conversation,)
    ) == [(2,)]
    assert as_owner(database, "select count(*) from inbox_entries where conversation_id = %s", (conversation,)) == [
        (2,)
    ]


def test_direct_conversation_refuses_yourself_strangers_and_blocks(api: Api, people, organization, other_organization):
    alice, carol, outsider = people["alice"], people["carol"], people["outsider"]
    itself = refusal(
        lambda: api.rpc(
            "get_or_create_direct_conversation",
            {"organization_id": organization, "other_user_id": str(alice.id)},
            token=alice.token,
        )
    )
    assert (itself.status, itself.code, itself.details) == (400, "P0001", "self")
    foreign = refusal(
        lambda: api.rpc(
            "get_or_create_direct_conversation",
            {"organization_id": organization, "other_user_id": str(outsider.id)},
            token=alice.token,
        )
    )
    assert (foreign.status, foreign.details) == (404, "user_not_found")
    not_mine = refusal(
        lambda: api.rpc(
            "get_or_create_direct_conversation",
            {"organization_id": other_organization, "other_user_id": str(outsider.id)},
            token=alice.token,
        )
    )
    assert (not_mine.status, not_mine.details) == (404, "organization_not_found")
    api.rpc("block_user", {"user_id": str(alice.id)}, token=carol.token)
    try:
        blocked = refusal(
            lambda: api.rpc(
                "get_or_create_direct_conversation",
                {"organization_id": organization, "other_user_id": str(carol.id)},
                token=alice.token,
            )
        )
        assert (blocked.status, blocked.code, blocked.details) == (403, "42501", "privacy")
        blocker = refusal(
            lambda: api.rpc(
                "get_or_create_direct_conversation",
                {"organization_id": organization, "other_user_id": str(alice.id)},
                token=carol.token,
            )
        )
        assert (blocker.status, blocker.details) == (403, "blocked")
    finally:
        api.rpc("unblock_user", {"user_id": str(alice.id)}, token=carol.token)


def test_support_conversation_is_one_per_user_and_invisible_to_other_users(api: Api, database, people, organization):
    """Seed 001: zero cross-contamination between users' support conversations."""
    alice, bob, owner = people["alice"], people["bob"], people["owner"]
    mine = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=alice.token)
    again = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=alice.token)
    theirs = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=bob.token)
    assert mine["id"] == again["id"] != theirs["id"]
    assert (mine["kind"], mine["support_status"], mine["subject_user_id"]) == ("support", "open", str(alice.id))
    visible_to_bob = {row["id"] for row in api.query("select id::text from conversations", token=bob.token)}
    assert mine["id"] not in visible_to_bob and theirs["id"] in visible_to_bob
    assert roster(api, mine["id"], bob.token) == set()
    assert roster(api, mine["id"], alice.token) == {str(alice.id)}
    # Staff with chat.support_agent (owners and admins hold it) see every support conversation of the organization.
    staff_view = {
        row["id"] for row in api.query("select id::text from conversations where kind = 'support'", token=owner.token)
    }
    assert {mine["id"], theirs["id"]} <= staff_view


def test_support_conversations_of_one_organization_stay_invisible_to_another_organizations_staff(
    api: Api, people, organization, other_organization
):
    alice, other_owner = people["alice"], people["other_owner"]
    mine = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=alice.token)
    assert api.query("select id from conversations where id = %s", (mine["id"],), token=other_owner.token) == []
    hidden = refusal(
        lambda: api.rpc(
            "set_support_status", {"conversation_id": mine["id"], "status": "resolved"}, token=other_owner.token
        )
    )
    assert (hidden.status, hidden.details) == (404, "conversation_not_found")


def test_support_status_and_assignment_are_for_agents_only(api: Api, people, organization):
    alice, owner, admin = people["alice"], people["owner"], people["admin"]
    support = api.rpc("get_or_create_support_conversation", {"organization_id": organization}, token=alice.token)
    denied = refusal(
        lambda: api.rpc(
            "set_support_status", {"conversation_id": support["id"], "status": "resolved"}, token=alice.token
        )
    )
    assert (denied.status, denied.details) == (403, "no_permission")
    assert (
        api.rpc("set_support_status", {"conversation_id": support["id"], "status": "pending"}, token=owner.token)[
            "support_status"
        ]
        == "pending"
    )
    unchanged = refusal(
        lambda: api.rpc(
            "set_support_status", {"conversation_id": support["id"], "status": "pending"}, token=owner.token
        )
    )
    assert (unchanged.status, unchanged.details) == (409, "status_unchanged")
    assigned = api.rpc(
        "assign_support_conversation",
        {"conversation_id": support["id"], "assignee_id": str(admin.id)},
        token=owner.token,
    )
    assert assigned["support_assignee_id"] == str(admin.id)
    not_agent = refusal(
        lambda: api.rpc(
            "assign_support_conversation",
            {"conversation_id": support["id"], "assignee_id": str(alice.id)},
            token=owner.token,
        )
    )
    assert (not_agent.status, not_agent.details) == (404, "agent_not_found")
    queue = api.rpc("get_support_queue", {"organization_id": organization, "status": "pending"}, token=admin.token)
    assert support["id"] in {row["id"] for row in queue}
    member_queue = refusal(lambda: api.rpc("get_support_queue", {"organization_id": organization}, token=alice.token))
    assert (member_queue.status, member_queue.details) == (403, "no_permission")


def test_notices_conversation_is_read_only_for_its_user(api: Api, database, people, organization):
    bob = people["bob"]
    notices = api.rpc("get_or_create_notices_conversation", {"organization_id": organization}, token=bob.token)
    assert notices["kind"] == "notices" and notices["subject_user_id"] == str(bob.id)
    may_post = "select parley_internal.can_post_in_conversation(%s, %s)"
    assert as_definer(database, bob, may_post, (notices["id"], bob.id)) == [(False,)]
    assert as_definer(database, bob, may_post, (notices["id"], people["owner"].id)) == [(True,)]


def test_persona_conversation_is_the_users_own_and_staff_handle_it(api: Api, people, organization):
    """Seed 001: users DM a persona; staff with chat.support_agent answer; other users never see it."""
    alice, bob, owner = people["alice"], people["bob"], people["owner"]
    persona = api.rpc("create_persona", {"organization_id": organization, "display_name": "Coach"}, token=owner.token)
    first = api.rpc("get_or_create_persona_conversation", {"persona_id": persona["id"]}, token=alice.token)
    assert (
        api.rpc("get_or_create_persona_conversation", {"persona_id": persona["id"]}, token=alice.token)["id"]
        == first["id"]
    )
    assert (first["kind"], first["persona_id"], first["subject_user_id"]) == ("direct", persona["id"], str(alice.id))
    assert api.query("select id from conversations where id = %s", (first["id"],), token=bob.token) == []
    assert len(api.query("select id from conversations where id = %s", (first["id"],), token=owner.token)) == 1


def test_group_lifecycle_roles_and_settings(api: Api, database, people, organization):
    owner, alice, bob, carol = people["owner"], people["alice"], people["bob"], people["carol"]
    group = api.rpc(
        "create_group_conversation",
        {
            "organization_id": organization,
            "title": "  Launch  ",
            "description": "Ship it",
            "member_ids": [str(alice.id), str(bob.id), str(alice.id)],
        },
        token=owner.token,
    )
    assert (group["title"], group["posting_policy"], group["history_visibility"]) == ("Launch", "everyone", "shared")
    members = {
        row["user_id"]: row["role"]
        for row in api.query(
            "select user_id::text, role from conversation_members where conversation_id = %s",
            (group["id"],),
            token=bob.token,
        )
    }
    assert members == {str(owner.id): "owner", str(alice.id): "member", str(bob.id): "member"}

    assert (
        api.rpc(
            "set_conversation_member_role",
            {"conversation_id": group["id"], "user_id": str(alice.id), "role": "admin"},
            token=owner.token,
        )["role"]
        == "admin"
    )
    added = api.rpc(
        "add_conversation_members", {"conversation_id": group["id"], "user_ids": [str(carol.id)]}, token=alice.token
    )
    assert [row["user_id"] for row in added] == [str(carol.id)]
    demote = refusal(
        lambda: api.rpc(
            "set_conversation_member_role",
            {"conversation_id": group["id"], "user_id": str(alice.id), "role": "member"},
            token=alice.token,
        )
    )
    assert (demote.status, demote.details) == (403, "no_permission")
    by_member = refusal(
        lambda: api.rpc(
            "add_conversation_members", {"conversation_id": group["id"], "user_ids": [str(owner.id)]}, token=bob.token
        )
    )
    assert (by_member.status, by_member.details) == (403, "no_permission")

    updated = api.rpc(
        "update_group_conversation",
        {"conversation_id": group["id"], "posting_policy": "admins", "slow_mode_seconds": 30, "description": ""},
        token=alice.token,
    )
    assert (updated["posting_policy"], updated["slow_mode_seconds"], updated["description"]) == ("admins", 30, None)
    may_post = "select parley_internal.can_post_in_conversation(%s, %s)"
    assert as_definer(database, bob, may_post, (group["id"], bob.id)) == [(False,)]

    owner_leaves = refusal(lambda: api.rpc("leave_conversation", {"conversation_id": group["id"]}, token=owner.token))
    assert (owner_leaves.status, owner_leaves.details) == (409, "owner_must_transfer")
    assert (
        api.rpc(
            "transfer_conversation_ownership",
            {"conversation_id": group["id"], "new_owner_id": str(alice.id)},
            token=owner.token,
        )["role"]
        == "owner"
    )
    api.rpc("leave_conversation", {"conversation_id": group["id"]}, token=owner.token)
    removed = api.rpc(
        "remove_conversation_member", {"conversation_id": group["id"], "user_id": str(bob.id)}, token=alice.token
    )
    assert removed["user_id"] == str(bob.id)
    assert api.query("select id from conversations where id = %s", (group["id"],), token=bob.token) == []
    assert roster(api, group["id"], carol.token) == {str(alice.id), str(carol.id)}


def test_group_refusals_name_what_is_wrong(api: Api, people, organization, other_organization):
    owner, alice, outsider = people["owner"], people["alice"], people["outsider"]
    cases = [
        ({"organization_id": organization, "title": "   "}, 400, "invalid_title"),
        ({"organization_id": organization, "title": "x" * 121}, 400, "invalid_title"),
        ({"organization_id": organization, "title": "ok", "posting_policy": "nobody"}, 400, "invalid_posting_policy"),
        ({"organization_id": organization, "title": "ok", "slow_mode_seconds": -1}, 400, "invalid_slow_mode"),
        (
            {"organization_id": organization, "title": "ok", "avatar_url": "javascript:alert(1)"},
            400,
            "invalid_avatar_url",
        ),
        ({"organization_id": organization, "title": "ok", "member_ids": [str(outsider.id)]}, 404, "user_not_found"),
        ({"organization_id": other_organization, "title": "ok"}, 404, "organization_not_found"),
    ]
    before = api.query("select count(*) as n from conversations", token=owner.token)
    for arguments, status, reason in cases:
        refused = refusal(
            lambda arguments=arguments: api.rpc("create_group_conversation", arguments, token=owner.token)
        )
        assert (refused.status, refused.details) == (status, reason), arguments
    assert api.query("select count(*) as n from conversations", token=owner.token) == before
    direct = api.rpc(
        "get_or_create_direct_conversation",
        {"organization_id": organization, "other_user_id": str(owner.id)},
        token=alice.token,
    )
    not_group = refusal(
        lambda: api.rpc("update_group_conversation", {"conversation_id": direct["id"], "title": "x"}, token=alice.token)
    )
    assert (not_group.status, not_group.details) == (409, "not_a_group")
    cannot_leave = refusal(lambda: api.rpc("leave_conversation", {"conversation_id": direct["id"]}, token=alice.token))
    assert (cannot_leave.status, cannot_leave.details) == (409, "cannot_leave")
    nothing = refusal(
        lambda: api.rpc("update_group_conversation", {"conversation_id": direct["id"]}, token=alice.token)
    )
    assert (nothing.status, nothing.details) == (400, "nothing_to_change")


def test_members_create_groups_only_with_chat_create_group(api: Api, people, organization):
    owner, bob = people["owner"], people["bob"]
    api.rpc(
        "set_role_permission",
        {"organization_id": organization, "role": "member", "permission": "chat.create_group", "granted": False},
        token=owner.token,
    )
    try:
        denied = refusal(
            lambda: api.rpc(
                "create_group_conversation", {"organization_id": organization, "title": "Nope"}, token=bob.token
            )
        )
        assert (denied.status, denied.details) == (403, "no_permission")
    finally:
        api.rpc(
            "clear_role_permission",
            {"organization_id": organization, "role": "member", "permission": "chat.create_group"},
            token=owner.token,
        )


def test_since_joined_history_starts_new_members_after_the_newest_message(api: Api, database, people, organization):
    owner, carol = people["owner"], people["carol"]
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Private past", "history_visibility": "since_joined"},
        token=owner.token,
    )
    [(message_id,)] = as_owner(
        database,
        """
        insert into messages (conversation_id, sender_kind, sender_id, body) values (%s, 'user', %s, 'before carol')
        returning id
    """,
        (group["id"], owner.id),
    )
    api.rpc(
        "add_conversation_members", {"conversation_id": group["id"], "user_ids": [str(carol.id)]}, token=owner.token
    )
    [member] = api.query(
        "select visible_from_message_id from conversation_members where conversation_id = %s and user_id = %s",
        (group["id"], carol.id),
        token=carol.token,
    )
    assert member["visible_from_message_id"] == message_id
    # Carol sees only what came after she joined: the announcement of her joining, not the earlier text.
    seen_by_carol = api.query(
        "select id, metadata->>'event' as event from messages where conversation_id = %s",
        (group["id"],),
        token=carol.token,
    )
    assert [row["event"] for row in seen_by_carol] == ["member_added"]
    assert all(row["id"] > message_id for row in seen_by_carol)
    assert message_id in {
        row["id"]
        for row in api.query("select id from messages where conversation_id = %s", (group["id"],), token=owner.token)
    }
    [entry] = api.query(
        "select last_read_message_id from inbox_entries where conversation_id = %s", (group["id"],), token=carol.token
    )
    assert entry["last_read_message_id"] == message_id


def test_new_organizations_get_default_settings_that_only_admins_change(api: Api, people, organization):
    """Seed 003: a 5,000-character body limit by default, configurable per organization."""
    owner, alice = people["owner"], people["alice"]
    [settings] = api.query(
        "select max_message_length, send_rate_per_minute, send_burst from organization_settings "
        "where organization_id = %s",
        (organization,),
        token=alice.token,
    )
    assert settings == {"max_message_length": 5000, "send_rate_per_minute": 120, "send_burst": 30}
    assert (
        api.query(
            "update organization_settings set max_message_length = 10 where organization_id = %s returning 1",
            (organization,),
            token=alice.token,
            method="PATCH",
        )
        == []
    )
    [changed] = api.query(
        "update organization_settings set max_message_length = 8000 where organization_id = %s "
        "returning max_message_length",
        (organization,),
        token=owner.token,
        method="PATCH",
    )
    assert changed == {"max_message_length": 8000}


def test_group_membership_changes_leave_system_messages_members_can_render(api: Api, people, organization):
    owner, alice, bob = people["owner"], people["alice"], people["bob"]
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Announced", "member_ids": [str(alice.id)]},
        token=owner.token,
    )
    api.rpc(
        "add_conversation_members",
        {"conversation_id": group["id"], "user_ids": [str(bob.id), str(alice.id)]},
        token=owner.token,
    )
    api.rpc(
        "set_conversation_member_role",
        {"conversation_id": group["id"], "user_id": str(bob.id), "role": "admin"},
        token=owner.token,
    )
    api.rpc("leave_conversation", {"conversation_id": group["id"]}, token=alice.token)
    rows = api.query(
        "select sender_kind, kind, body, metadata from messages where conversation_id = %s order by id",
        (group["id"],),
        token=bob.token,
    )
    assert [(row["sender_kind"], row["kind"]) for row in rows] == [("system", "system")] * 5
    assert [row["metadata"]["event"] for row in rows] == [
        "group_created",
        "member_added",
        "member_added",
        "member_promoted",
        "member_left",
    ]
    # Adding Bob and an existing member announces only Bob.
    assert rows[2]["metadata"]["user_ids"] == [str(bob.id)]
    assert rows[4]["metadata"] == {"event": "member_left", "actor_id": str(alice.id), "user_ids": [str(alice.id)]}
