"""Issue 20, finding 2: groups honour blocks and privacy, and leaving sticks (docs/conversations.md).

The probe's steps: Bob blocks Mallory and sets who_can_message = nobody. Mallory created a group with Bob in it, then
sent, mentioned and replied, all of which reached Bob (unread and mention counts included); after Bob left,
add_conversation_members put him back; reactions and mentions in shared groups reached him too.
"""

from __future__ import annotations

from typing import Any

import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import GENEROUS_LIMITS, set_limits
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser


@pytest.fixture
def people(api: Api, database: TestDatabase, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Bob, Mallory, Carol (the group's owner) and Dave, members of one organization with generous send limits."""
    prefix = f"gs{abs(hash(request.node.name)) % 10**8}"
    users = {name: database.create_user(f"{prefix}_{name}") for name in ("carol", "bob", "mallory", "dave")}
    organization = organization_with(api, database, users["carol"], member=users["bob"], member2=users["mallory"],
                                     member3=users["dave"])  # fmt: skip
    set_limits(database, organization, **GENEROUS_LIMITS)
    return {**users, "org": organization}


def who_can_message(api: Api, user: TestUser, audience: str) -> None:
    api.query("update privacy_settings set who_can_message = %s where user_id = %s", (audience, user.id),
              token=user.token, method="PATCH")  # fmt: skip


def block(api: Api, blocker: TestUser, blocked: TestUser) -> None:
    api.rpc("block_user", {"user_id": str(blocked.id)}, token=blocker.token)


def create_group(api: Api, people: dict[str, Any], creator: str, *members: str) -> dict[str, Any]:
    args = {"organization_id": people["org"], "title": "Group", "member_ids": [str(people[m].id) for m in members]}
    return api.rpc("create_group_conversation", args, token=people[creator].token)


def add(api: Api, people: dict[str, Any], adder: str, conversation: str, *members: str) -> list[dict[str, Any]]:
    args = {"conversation_id": conversation, "user_ids": [str(people[m].id) for m in members]}
    return api.rpc("add_conversation_members", args, token=people[adder].token)


def roster(api: Api, people: dict[str, Any], conversation: str, reader: str = "carol") -> set[str]:
    rows = api.query("select user_id::text from conversation_members where conversation_id = %s", (conversation,),
                     token=people[reader].token)  # fmt: skip
    return {row["user_id"] for row in rows}


@pytest.mark.parametrize(
    ("setup", "expect"),
    [
        ("block", "privacy"),  # Bob blocked Mallory: Mallory is told only that Bob does not accept it
        ("nobody", "privacy"),
        ("block+nobody", "privacy"),
        ("connections", "not_connected"),
        ("mallory-blocked-bob", "blocked"),
    ],
)
def test_nobody_is_added_to_a_group_against_their_block_or_privacy(api: Api, people, setup, expect):
    bob, mallory = people["bob"], people["mallory"]
    if "block" in setup and setup != "mallory-blocked-bob":
        block(api, bob, mallory)
    if setup == "mallory-blocked-bob":
        block(api, mallory, bob)
    if "nobody" in setup:
        who_can_message(api, bob, "nobody")
    if setup == "connections":
        who_can_message(api, bob, "connections")

    created = refusal(lambda: create_group(api, people, "mallory", "bob", "dave"))
    assert (created.status, created.code, created.details) == (403, "42501", expect)
    assert str(bob.id) in created.message
    group = create_group(api, people, "mallory", "dave")
    added = refusal(lambda: add(api, people, "mallory", group["id"], "bob"))
    assert (added.status, added.code, added.details) == (403, "42501", expect)
    assert roster(api, people, group["id"], "mallory") == {str(mallory.id), str(people["dave"].id)}
    if setup in ("block", "mallory-blocked-bob"):
        # A block is between two people: someone else still adds Bob, to a group Mallory is in too.
        carol_group = create_group(api, people, "carol", "bob", "mallory")
        assert str(bob.id) in roster(api, people, carol_group["id"])
    else:
        # A privacy setting holds for everybody it excludes.
        assert refusal(lambda: create_group(api, people, "carol", "bob")).details == expect


def test_a_blocked_users_messages_reactions_mentions_and_replies_are_hidden_from_the_blocker(
    api: Api, database, people
):
    bob, mallory, carol = people["bob"], people["mallory"], people["carol"]
    group = create_group(api, people, "carol", "bob", "mallory")["id"]

    def send(who: TestUser, body: str, **extra: Any) -> int:
        return api.rpc("send_message", {"conversation_id": group, "body": body, **extra}, token=who.token)["id"]

    bobs = send(bob, "Hello all")
    api.rpc("mark_read", {"conversation_id": group}, token=bob.token)
    block(api, bob, mallory)
    send(mallory, "plain")
    send(mallory, "hey @bob", mentioned_user_ids=[str(bob.id)])
    send(mallory, "replying", reply_to_message_id=bobs)
    api.rpc("toggle_reaction", {"message_id": bobs, "emoji": "👎"}, token=mallory.token)
    carols = send(carol, "Carol here", reply_to_message_id=bobs)
    mallory_reply_target = send(mallory, "quote me")
    send(carol, "replying to Mallory", reply_to_message_id=mallory_reply_target)

    # History: Bob sees his and Carol's messages only; Mallory's reaction is left out; a reply to her is hidden.
    page = api.rpc("get_messages", {"conversation_id": group}, token=bob.token)
    assert {row["sender_id"] for row in page if row["sender_kind"] == "user"} == {str(bob.id), str(carol.id)}
    [mine] = [row for row in page if row["id"] == bobs]
    assert mine["reactions"] == []
    [to_mallory] = [row for row in page if row["body"] == "replying to Mallory"]
    assert to_mallory["reply_preview"] == {"id": mallory_reply_target, "hidden": True}
    assert api.rpc("toggle_reaction", {"message_id": bobs, "emoji": "👍"}, token=bob.token) == [
        {"emoji": "👍", "count": 1, "reacted_by_me": True}
    ]
    # Counts: Carol's two messages are unread, Mallory's four are not; her mention counts nowhere.
    [counts] = [row for row in api.rpc("get_unread_counts", {}, token=bob.token, method="GET")
                if row["conversation_id"] == group]  # fmt: skip
    assert (counts["unread_count"], counts["mention_count"]) == (2, 0)
    [entry] = [row for row in api.rpc("get_inbox", {}, token=bob.token, method="GET")
               if row["conversation_id"] == group]  # fmt: skip
    assert (entry["unread_count"], entry["mention_count"]) == (2, 0)
    assert api.query("select * from message_mentions", token=bob.token) == []
    # The newest message is Carol's; when Mallory's is the newest, the inbox shows no preview of it.
    send(mallory, "last word")
    [entry] = [row for row in api.rpc("get_inbox", {}, token=bob.token, method="GET")
               if row["conversation_id"] == group]  # fmt: skip
    assert entry["last_message_preview"] is None
    # Pinned messages leave hers out too; the unread_changed event counts as get_unread_counts does.
    api.rpc("pin_message", {"message_id": mallory_reply_target}, token=carol.token)
    assert api.rpc("get_pinned_messages", {"conversation_id": group}, token=bob.token) == []
    watermark = entry["last_read_message_id"]
    assert as_owner(database, "select parley_internal.realtime_unread_count(%s, %s, %s)",
                    (group, bob.id, watermark)) == [(2,)]  # fmt: skip
    # Others still see everything Mallory posted.
    seen_by_carol = api.rpc("get_messages", {"conversation_id": group}, token=carol.token)
    assert [row["body"] for row in seen_by_carol if row["sender_id"] == str(mallory.id)] == [
        "last word", "quote me", "replying", "hey @bob", "plain"]  # fmt: skip
    assert carols in {row["id"] for row in seen_by_carol}


def test_leaving_sticks_until_the_leaver_allows_being_added_back(api: Api, people):
    bob, carol = people["bob"], people["carol"]
    group = create_group(api, people, "carol", "bob")["id"]
    api.rpc("leave_conversation", {"conversation_id": group}, token=bob.token)
    again = refusal(lambda: add(api, people, "carol", group, "bob"))
    assert (again.status, again.code, again.details) == (409, "PT409", "left_group")
    assert roster(api, people, group) == {str(carol.id)}
    api.rpc("allow_group_readd", {"conversation_id": group}, token=bob.token)
    assert [row["user_id"] for row in add(api, people, "carol", group, "bob")] == [str(bob.id)]
    twice = refusal(lambda: api.rpc("allow_group_readd", {"conversation_id": group}, token=bob.token))
    assert (twice.status, twice.details) == (404, "departure_not_found")


def test_after_bob_leaves_mallory_whom_he_blocked_cannot_put_him_back(api: Api, people):
    """The probe's last step: Mallory is an admin of a group Bob left; his consent does not override his block."""
    bob, mallory = people["bob"], people["mallory"]
    group = create_group(api, people, "mallory", "bob")["id"]
    block(api, bob, mallory)
    api.rpc("leave_conversation", {"conversation_id": group}, token=bob.token)
    assert refusal(lambda: add(api, people, "mallory", group, "bob")).details == "left_group"
    api.rpc("allow_group_readd", {"conversation_id": group}, token=bob.token)
    assert refusal(lambda: add(api, people, "mallory", group, "bob")).details == "privacy"
    assert roster(api, people, group, "mallory") == {str(mallory.id)}


def test_a_removed_member_can_be_added_back_by_the_group(api: Api, people):
    """Removal is the group's decision, not the member's: it does not stick (blocks and privacy still apply)."""
    dave = people["dave"]
    group = create_group(api, people, "carol", "dave")["id"]
    api.rpc("remove_conversation_member", {"conversation_id": group, "user_id": str(dave.id)},
            token=people["carol"].token)  # fmt: skip
    assert [row["user_id"] for row in add(api, people, "carol", group, "dave")] == [str(dave.id)]
