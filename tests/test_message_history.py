"""History pages (issue 4): get_messages keyset paging by message id, reply previews, reactions, visibility.

The property tests walk a conversation whose message ids have gaps (another conversation's messages are
interleaved) and prove that backward, forward, catch-up and around pages concatenate to exactly the visible
history, in order, with no duplicates and no gaps, for any page size and starting point.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity_support import organization_with, refusal
from messaging_support import GENEROUS_LIMITS, add_member, group, send, set_limits, support
from parley.db import Api
from parley_dev import testing


@dataclass
class History:
    """A group with interleaved traffic, some tombstones, and a late member who sees only recent history."""

    chat: str
    owner: testing.TestUser
    member: testing.TestUser
    late: testing.TestUser
    all_ids: list[int]
    late_ids: list[int]


@pytest.fixture(scope="module")
def history(api: Api, database: testing.TestDatabase) -> History:
    """57 messages in a since_joined group (every third one interleaved with another group's), 3 of them deleted,
    and a member who joined after the 40th."""
    owner, member, late = (database.create_user(f"hi_{n}") for n in ("owner", "member", "late"))
    organization = organization_with(api, database, owner, member=member, member2=late)
    set_limits(database, organization, **GENEROUS_LIMITS)
    chat = group(database, organization, owner, member, history_visibility="since_joined")
    noise = group(database, organization, owner, member)
    ids = []
    for n in range(57):
        if n % 3 == 0:
            send(api, owner, noise, f"noise {n}")
        ids.append(send(api, member if n % 2 else owner, chat, f"message {n}")["id"])
        if n == 39:
            add_member(database, chat, late)
    for deleted in (ids[5], ids[44], ids[56]):
        api.rpc("delete_message", {"message_id": deleted}, token=owner.token)
    return History(chat, owner, member, late, ids, ids[40:])


def page(api: Api, user: testing.TestUser, chat: str, **cursor: int | None) -> list[dict]:
    """One get_messages call as ``user``."""
    return api.rpc("get_messages", {"conversation_id": chat, **cursor}, token=user.token)


def walk_back(api: Api, user: testing.TestUser, chat: str, size: int, before: int | None = None) -> list[int]:
    """Page backward from ``before`` (or the newest) until has_more is false; the ids in ascending order."""
    seen: list[int] = []
    while True:
        rows = page(api, user, chat, page_size=size, before_id=before)
        ids = [row["id"] for row in rows]
        assert ids == sorted(ids, reverse=True) and len(ids) <= size
        seen = ids[::-1] + seen
        if not rows or not rows[0]["has_more"]:
            return seen
        assert len(ids) == size
        before = ids[-1]


def walk_forward(api: Api, user: testing.TestUser, chat: str, size: int, after: int, cursor: str = "after_id"):
    """Page forward from ``after`` until has_more is false; the ids in ascending order."""
    seen: list[int] = []
    while True:
        rows = page(api, user, chat, page_size=size, **{cursor: after})
        ids = [row["id"] for row in rows]
        assert ids == sorted(ids) and len(ids) <= size
        seen += ids
        if not rows or not rows[0]["has_more"]:
            return seen
        assert len(ids) == size
        after = ids[-1]


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(size=st.integers(min_value=1, max_value=100), late=st.booleans())
def test_backward_pages_concatenate_to_the_visible_history(api: Api, history: History, size: int, late: bool):
    """From the newest page back to the first: every visible message once, in order, has_more false only at the end."""
    user, expected = (history.late, history.late_ids) if late else (history.member, history.all_ids)
    assert walk_back(api, user, history.chat, size) == expected


@PROPERTY
@given(size=st.integers(min_value=1, max_value=100), start=st.integers(min_value=0, max_value=57),
       cursor=st.sampled_from(["after_id", "since_id"]), late=st.booleans())  # fmt: skip
def test_forward_pages_concatenate_to_the_rest_of_the_history(
    api: Api, history: History, size: int, start: int, cursor: str, late: bool
):
    """after_id / since_id from any point (or 0) up to the newest: every later visible message once, in order."""
    user, expected = (history.late, history.late_ids) if late else (history.member, history.all_ids)
    origin = 0 if start == 0 else history.all_ids[start - 1]
    assert walk_forward(api, user, history.chat, size, origin, cursor) == [i for i in expected if i > origin]


@PROPERTY
@given(size=st.integers(min_value=1, max_value=100), pivot=st.integers(min_value=0, max_value=56),
       offset=st.sampled_from([0, 1]))  # fmt: skip
def test_around_then_both_ways_gives_the_whole_history(api: Api, history: History, size: int, pivot: int, offset: int):
    """A window around any id (a message's, or a gap just after it), then backward from its first row and forward
    from its last: the whole visible history, in order, without duplicates; the pivot message is in the window."""
    target = history.all_ids[pivot] + offset
    window = [row["id"] for row in page(api, history.member, history.chat, page_size=size, around_id=target)]
    assert window == sorted(window) and 1 <= len(window) <= size
    if offset == 0:
        assert target in window
    older = walk_back(api, history.member, history.chat, size, before=window[0])
    newer = walk_forward(api, history.member, history.chat, size, window[-1])
    assert older + window + newer == history.all_ids


def test_newest_page_is_first_and_says_whether_there_is_more(api: Api, history: History):
    """Without a cursor: the newest page_size messages, newest first, has_more true; a page holding everything has
    has_more false."""
    rows = page(api, history.member, history.chat, page_size=10)
    assert [row["id"] for row in rows] == history.all_ids[::-1][:10]
    assert {row["has_more"] for row in rows} == {True}
    everything = page(api, history.member, history.chat, page_size=100)
    assert [row["id"] for row in everything] == history.all_ids[::-1]
    assert {row["has_more"] for row in everything} == {False}


def test_tombstones_stay_in_place_without_content(api: Api, history: History):
    """Deleted messages keep their id and sender in the history, with body null."""
    rows = {row["id"]: row for row in page(api, history.member, history.chat, page_size=100)}
    deleted = rows[history.all_ids[5]]
    assert (deleted["body"], deleted["sender_id"]) == (None, str(history.member.id))
    assert deleted["deleted_at"] is not None


def test_since_joined_members_see_nothing_before_they_joined(api: Api, history: History):
    """A late member's pages start after their cut-off, whatever cursor they pass; around an older id gives the
    first visible messages."""
    assert [row["id"] for row in page(api, history.late, history.chat, page_size=100)] == history.late_ids[::-1]
    assert page(api, history.late, history.chat, before_id=history.late_ids[0]) == []
    rows = page(api, history.late, history.chat, page_size=4, around_id=history.all_ids[10])
    assert [row["id"] for row in rows] == history.late_ids[:2]
    direct = api.query("select id from messages where conversation_id = %s order by id", (history.chat,),
                       token=history.late.token)  # fmt: skip
    assert [row["id"] for row in direct] == history.late_ids


def test_reply_previews_show_the_start_of_the_target(api: Api, database):
    """reply_preview: the target's id, sender, kind and first 100 characters; body null and deleted true for a
    tombstone; only {id, hidden} when the target is before the reader's cut-off."""
    owner, member, late = (database.create_user(f"rp_{n}") for n in ("owner", "member", "late"))
    organization = organization_with(api, database, owner, member=member, member2=late)
    chat = group(database, organization, owner, member, history_visibility="since_joined")
    long = send(api, owner, chat, "x" * 150)
    gone = send(api, owner, chat, "to be deleted")
    add_member(database, chat, late)
    reply = send(api, member, chat, "re: long", reply_to_message_id=long["id"])
    reply_gone = send(api, member, chat, "re: gone", reply_to_message_id=gone["id"])
    plain = send(api, member, chat, "no reply")
    api.rpc("delete_message", {"message_id": gone["id"]}, token=owner.token)
    rows = {row["id"]: row for row in page(api, member, chat)}
    assert rows[reply["id"]]["reply_preview"] == {
        "id": long["id"], "sender_kind": "user", "sender_id": str(owner.id), "persona_id": None, "kind": "text",
        "body": "x" * 100, "deleted": False}  # fmt: skip
    assert rows[reply_gone["id"]]["reply_preview"]["body"] is None
    assert rows[reply_gone["id"]]["reply_preview"]["deleted"] is True
    assert rows[plain["id"]]["reply_preview"] is None
    late_rows = {row["id"]: row for row in page(api, late, chat)}
    assert late_rows[reply["id"]]["reply_preview"] == {"id": long["id"], "hidden": True}


def test_staff_read_support_history_without_being_members(api: Api, database):
    """A support agent (here an admin) pages a user's support conversation; an outsider gets 404."""
    owner, admin, member, outsider = (database.create_user(f"sh_{n}") for n in ("owner", "admin", "member", "out"))
    organization = organization_with(api, database, owner, admin=admin, member=member)
    organization_with(api, database, database.create_user("sh_other"), member=outsider)
    chat = support(database, organization, member)
    sent = [send(api, member, chat, f"help {n}")["id"] for n in range(3)]
    assert [row["id"] for row in page(api, admin, chat)] == sent[::-1]
    error = refusal(lambda: page(api, outsider, chat))
    assert (error.status, error.details) == (404, "conversation_not_found")


@pytest.mark.parametrize(("cursor", "reason"), [
    ({"page_size": 0}, "invalid_page_size"),
    ({"page_size": 101}, "invalid_page_size"),
    ({"page_size": -5}, "invalid_page_size"),
    ({"before_id": 10, "after_id": 5}, "invalid_cursor"),
    ({"around_id": 10, "since_id": 5}, "invalid_cursor"),
    ({"before_id": -1}, "invalid_cursor"),
])  # fmt: skip
def test_bad_cursors_and_page_sizes_are_refused(api: Api, history: History, cursor: dict, reason: str):
    """page_size outside 1..100, more than one cursor, or a negative id: 400 with the reason."""
    error = refusal(lambda: page(api, history.member, history.chat, **cursor))
    assert (error.status, error.code, error.details) == (400, "P0001", reason)


def test_strangers_get_404(api: Api, database, history: History):
    """Someone who is not a member gets 404 conversation_not_found, as for a missing conversation."""
    stranger = database.create_user("hi_stranger")
    for chat in (history.chat, "00000000-0000-4000-8000-000000000000"):
        error = refusal(lambda chat=chat: page(api, stranger, chat))
        assert (error.status, error.details) == (404, "conversation_not_found")


def test_default_page_size_is_50(api: Api, history: History):
    """Without page_size the page holds 50 messages."""
    assert len(page(api, history.member, history.chat)) == 50
