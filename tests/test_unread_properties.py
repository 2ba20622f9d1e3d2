"""Property (issue 4): unread and mention counts always equal a recount of the messages.

Hypothesis generates interleavings of sends (with mentions), mark_read, mark_unread, deletes, joins and leaves in two
groups (one with shared history, one since_joined), all through the real RPCs (send_message, delete_message,
add_conversation_members, leave_conversation, mark_read, mark_unread). After every step, for every user:

* get_unread_counts and get_inbox report the same unread and mention counts,
* which equal a recount from the tables as the database owner,
* which equal a plain Python model of the conversation (messages, rosters, cut-offs, watermarks).

A refused step (e.g. a non-member marking read, a message before the reader's cut-off) must change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity_support import as_owner, organization_with
from parley.db import Api, ApiError

USERS = 5  # index 0 is the organization owner, who creates and owns both groups


@dataclass
class Message:
    """A message as the model sees it."""

    id: int
    conversation: int
    sender: int  # for a system message: the user whose group change it announces (-1 if none of ours)
    mentions: set[int]
    deleted: bool = False
    system: bool = False


@dataclass
class Model:
    """What the counts should be, computed without SQL."""

    shared: list[bool]
    members: list[dict[int, int]] = field(default_factory=lambda: [{}, {}])  # user -> visible_from
    read: list[dict[int, int]] = field(default_factory=lambda: [{}, {}])  # user -> last_read
    messages: list[Message] = field(default_factory=list)

    def in_conversation(self, conversation: int) -> list[Message]:
        return sorted((m for m in self.messages if m.conversation == conversation), key=lambda m: m.id)

    def newest(self, conversation: int) -> int:
        return max((m.id for m in self.in_conversation(conversation)), default=0)

    def join(self, conversation: int, user: int, newest: int | None = None) -> None:
        """Add a member whose watermarks (and since_joined cut-off) start at ``newest`` (default: the newest now)."""
        if user in self.members[conversation]:
            return
        newest = self.newest(conversation) if newest is None else newest
        self.members[conversation][user] = 0 if self.shared[conversation] else newest
        self.read[conversation][user] = newest

    def leave(self, conversation: int, user: int) -> None:
        del self.members[conversation][user]
        del self.read[conversation][user]

    def expected(self, conversation: int, user: int) -> tuple[int, int]:
        floor = max(self.read[conversation][user], self.members[conversation][user])
        unread = [m for m in self.in_conversation(conversation) if m.id > floor and not m.deleted and m.sender != user]
        return min(len(unread), 100), min(sum(user in m.mentions for m in unread), 100)


operations = st.one_of(
    st.tuples(st.just("send"), st.integers(0, USERS - 1), st.integers(0, 1), st.sets(st.integers(0, USERS - 1))),
    st.tuples(st.just("read"), st.integers(0, USERS - 1), st.integers(0, 1), st.none() | st.integers(0, 50)),
    st.tuples(st.just("unread"), st.integers(0, USERS - 1), st.integers(0, 1), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 1), st.integers(0, 50)),
    st.tuples(st.just("join"), st.integers(1, USERS - 1), st.integers(0, 1)),
    st.tuples(st.just("leave"), st.integers(1, USERS - 1), st.integers(0, 1)),
)


@pytest.fixture(scope="module")
def people(api: Api, database) -> tuple[str, list[Any]]:
    """An organization with an owner and four members; send limits raised so the property never hits them."""
    users = [database.create_user(f"prop{n}") for n in range(USERS)]
    organization = organization_with(
        api, database, users[0], **{f"member{n}": user for n, user in enumerate(users[1:], start=1)}
    )
    as_owner(
        database,
        "update organization_settings set send_rate_per_minute = 100000, send_burst = 10000 where organization_id = %s",
        (organization,),
    )
    return organization, users


def counts_by_api(api: Api, user: Any, conversations: list[str]) -> dict[str, tuple[int, int]]:
    """(unread, mentions) per conversation from get_unread_counts."""
    rows = api.rpc("get_unread_counts", token=user.token)
    return {r["conversation_id"]: (r["unread_count"], r["mention_count"]) for r in rows if r["conversation_id"] in
            conversations}  # fmt: skip


def counts_by_inbox(api: Api, user: Any, conversations: list[str]) -> dict[str, tuple[int, int]]:
    """(unread, mentions) per conversation from the first get_inbox page (the example's groups are the newest)."""
    rows = api.rpc("get_inbox", {"page_size": 10}, token=user.token)
    return {r["conversation_id"]: (r["unread_count"], r["mention_count"]) for r in rows if r["conversation_id"] in
            conversations}  # fmt: skip


def recount_as_owner(database, user: Any, conversations: list[str]) -> dict[str, tuple[int, int]]:
    """(unread, mentions) per conversation recounted from the tables as the database owner, without a cap probe."""
    rows = as_owner(
        database,
        """
        select e.conversation_id::text,
               least((select count(*) from messages msg
                      where msg.conversation_id = e.conversation_id
                        and msg.id > e.last_read_message_id and msg.id > m.visible_from_message_id
                        and msg.deleted_at is null and (msg.sender_id is null or msg.sender_id <> e.user_id)
                        and not (msg.sender_kind = 'system' and msg.metadata ->> 'actor_id' = e.user_id::text)), 100),
               least((select count(*) from message_mentions mm join messages msg on msg.id = mm.message_id
                      where mm.user_id = e.user_id and mm.conversation_id = e.conversation_id
                        and mm.message_id > e.last_read_message_id and mm.message_id > m.visible_from_message_id
                        and msg.deleted_at is null and (msg.sender_id is null or msg.sender_id <> e.user_id)), 100)
        from inbox_entries e
        join conversation_members m on m.conversation_id = e.conversation_id and m.user_id = e.user_id
        where e.user_id = %s and e.conversation_id = any(%s::uuid[])
        """,
        (user.id, conversations),
    )
    return {conversation: (unread, mentions) for conversation, unread, mentions in rows}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(operations, min_size=1, max_size=25), shared=st.tuples(st.booleans(), st.booleans()))
def test_unread_and_mention_counts_equal_a_recount_after_any_interleaving(api: Api, database, people, steps, shared):
    organization, users = people
    model = Model(shared=list(shared))
    conversations: list[str] = []
    for index in range(2):
        initial = [users[1], users[2]] if index == 0 else [users[3]]
        created = api.rpc(
            "create_group_conversation",
            {
                "organization_id": organization,
                "title": f"property {index}",
                "member_ids": [str(u.id) for u in initial],
                "history_visibility": "shared" if shared[index] else "since_joined",
            },
            token=users[0].token,
        )
        conversations.append(created["id"])
        # create_group_conversation: owner joins, "prop0 created the group", members join, "prop0 added ...".
        model.join(index, 0)
        sync_system_messages(database, model, users, conversations)
        created_message = model.in_conversation(index)[0].id
        for user in [users.index(u) for u in initial]:
            model.join(index, user, newest=created_message)

    for step in steps:
        apply(api, model, users, conversations, step)
        sync_system_messages(database, model, users, conversations)
        for number, user in enumerate(users):
            expected = {conversations[c]: model.expected(c, number) for c in range(2) if number in model.members[c]}
            assert counts_by_api(api, user, conversations) == expected, step
            assert recount_as_owner(database, user, conversations) == expected, step
            assert counts_by_inbox(api, user, conversations) == expected, step


def apply(api: Api, model: Model, users: list[Any], conversations: list[str], step: tuple) -> None:
    """Run one generated step through the RPCs and mirror it in the model."""
    kind = step[0]
    if kind == "send":
        _, actor, c, mentioned = step
        member = actor in model.members[c]
        mentions = sorted(u for u in mentioned if u in model.members[c] and u != actor)
        call = lambda: api.rpc(  # noqa: E731 - one call, run or refused below
            "send_message",
            {"conversation_id": conversations[c], "body": f"step {len(model.messages)}",
             "mentioned_user_ids": [str(users[u].id) for u in mentions]},
            token=users[actor].token,
        )  # fmt: skip
        if not member:
            expect_refusal(call, 404)
            return
        sent = call()
        model.messages.append(Message(sent["id"], c, actor, set(mentions)))
    elif kind in ("read", "unread"):
        _, actor, c, choice = step
        in_conversation = model.in_conversation(c)
        target = None if choice is None or not in_conversation else in_conversation[choice % len(in_conversation)]
        if kind == "unread" and target is None:
            return
        args: dict[str, Any] = {"conversation_id": conversations[c]}
        if target is not None:
            args["message_id"] = target.id
        call = lambda: api.rpc("mark_read" if kind == "read" else "mark_unread", args, token=users[actor].token)  # noqa: E731
        if actor not in model.members[c]:
            expect_refusal(call, 404, "conversation_not_found")
            return
        floor = model.members[c][actor]
        if target is not None and target.id <= floor:
            expect_refusal(call, 404, "message_not_found")
            return
        call()
        if kind == "read":
            newest = target.id if target is not None else model.newest(c)
            if newest > floor:
                model.read[c][actor] = max(model.read[c][actor], newest)
        else:
            below = max((m.id for m in in_conversation if m.id < target.id), default=0)
            model.read[c][actor] = min(model.read[c][actor], below if below > floor else 0)
    elif kind == "delete":
        _, c, choice = step
        in_conversation = model.in_conversation(c)
        if not in_conversation:
            return
        target = in_conversation[choice % len(in_conversation)]
        # The author deletes their own message while still a member; otherwise (and for system messages) the group
        # owner moderates.
        actor = target.sender if not target.system and target.sender in model.members[c] else 0
        call = lambda: api.rpc("delete_message", {"message_id": target.id}, token=users[actor].token)  # noqa: E731
        if target.deleted:
            expect_refusal(call, 409, "already_deleted")
            return
        call()
        target.deleted = True
        target.mentions = set()
    elif kind == "join":
        _, user, c = step
        if user not in model.members[c]:
            # Leaving sticks (issue 20): someone who left consents (allow_group_readd) before being added back.
            try:
                api.rpc("allow_group_readd", {"conversation_id": conversations[c]}, token=users[user].token)
            except ApiError as error:
                assert error.details == "departure_not_found"
        api.rpc("add_conversation_members", {"conversation_id": conversations[c], "user_ids": [str(users[user].id)]},
                token=users[0].token)  # fmt: skip
        model.join(c, user)
    elif kind == "leave":
        _, user, c = step
        call = lambda: api.rpc("leave_conversation", {"conversation_id": conversations[c]}, token=users[user].token)  # noqa: E731
        if user not in model.members[c]:
            expect_refusal(call, 404, "conversation_not_found")
            return
        call()
        model.leave(c, user)


def sync_system_messages(database, model: Model, users: list[Any], conversations: list[str]) -> None:
    """Add the group-change system messages the conversation RPCs posted since the last step to the model."""
    known = [m.id for m in model.messages]
    rows = as_owner(
        database,
        """
        select id, conversation_id::text, metadata ->> 'actor_id' from messages
        where conversation_id = any(%s::uuid[]) and sender_kind = 'system' and id <> all(%s::bigint[])
        order by id
        """,
        (conversations, known),
    )
    by_id = {str(user.id): number for number, user in enumerate(users)}
    for message_id, conversation, actor in rows:
        model.messages.append(
            Message(message_id, conversations.index(conversation), by_id.get(actor, -1), set(), system=True)
        )


def expect_refusal(call, status: int, reason: str | None = None) -> None:
    """The call must be refused with ``status`` (and ``reason``, if given)."""
    with pytest.raises(ApiError) as refused:
        call()
    assert refused.value.status == status, refused.value
    if reason is not None:
        assert refused.value.details == reason, refused.value
