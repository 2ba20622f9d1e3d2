"""The inbox (issue 4): get_inbox ordering, keyset paging, titles and previews per kind, counts, and the
per-member archive / mute / pin / hide / notification-level RPCs with their refusals.

Fixtures are rows written as the database owner (readstate_support); behaviour goes through the request path.
"""

from __future__ import annotations

import threading

from identity_support import as_owner, organization_with, refusal
from parley.db import Api
from readstate_support import add_member, entry, inbox, make_conversation, post, tombstone


def ids(rows: list[dict]) -> list[str]:
    """The conversation ids of inbox rows, in order."""
    return [row["conversation_id"] for row in rows]


def test_inbox_orders_by_last_activity_with_pinned_first_and_new_empty_conversations_as_recent(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("io_owner", "io_alice", "io_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    old = make_conversation(database, organization, [alice, bob], title="old")
    middle = make_conversation(database, organization, [alice, bob], title="middle")
    post(database, old, bob, "first")
    post(database, middle, bob, "second")
    # Created after both messages, still empty: its activity is when Alice joined it.
    empty = make_conversation(database, organization, [alice, bob], title="empty")
    assert ids(inbox(api, alice)) == [empty, middle, old]
    post(database, old, bob, "old is active again")
    assert ids(inbox(api, alice)) == [old, empty, middle]
    pinned = api.rpc("pin_conversation", {"conversation_id": middle}, token=alice.token)
    assert pinned["pinned_at"] is not None
    rows = inbox(api, alice)
    assert ids(rows) == [middle, old, empty]
    assert [row["pinned"] for row in rows] == [True, False, False]
    # Pins are Alice's own: Bob's order is by activity only.
    assert ids(inbox(api, bob)) == [old, empty, middle]


def test_keyset_pages_cover_every_conversation_exactly_once(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("ip_owner", "ip_alice", "ip_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversations = [make_conversation(database, organization, [alice, bob], title=f"c{n}") for n in range(23)]
    for index, conversation in enumerate(conversations):
        if index % 3:
            post(database, conversation, bob, f"message {index}")
    for conversation in conversations[:2]:
        api.rpc("pin_conversation", {"conversation_id": conversation}, token=alice.token)
    seen: list[str] = []
    cursor = None
    while True:
        page = inbox(api, alice, page_size=5, **({"before_cursor": cursor} if cursor else {}))
        seen += ids(page)
        if len(page) < 5:
            break
        cursor = page[-1]["sort_key"]
    assert sorted(seen) == sorted(conversations) and len(seen) == len(conversations)
    assert set(seen[:2]) == set(conversations[:2])
    assert ids(inbox(api, alice, page_size=100)) == seen


def test_inbox_argument_refusals(api: Api, database):
    alice = database.create_user("ia_alice")
    for size in (0, 101, None):
        bad = refusal(lambda size=size: inbox(api, alice, page_size=size))
        assert (bad.status, bad.code, bad.details) == (400, "P0001", "invalid_page_size")
    for cursor in ("nonsense", "2.5.00000000-0000-4000-8000-000000000000", "1.5.not-a-uuid"):
        bad = refusal(lambda cursor=cursor: inbox(api, alice, before_cursor=cursor))
        assert (bad.status, bad.details) == (400, "invalid_cursor")
    bad = refusal(lambda: inbox(api, alice, include_archived=None))
    assert (bad.status, bad.details) == (400, "invalid_flag")
    assert refusal(lambda: api.rpc("get_inbox")).status == 401
    assert inbox(api, alice) == []


def test_inbox_titles_avatars_and_previews_per_kind(api: Api, database):
    owner, alice, bob, agent = (database.create_user(n) for n in ("it_owner", "it_alice", "it_bob", "it_agent"))
    organization = organization_with(api, database, owner, member=alice, member2=bob, admin=agent)
    as_owner(database, "update profiles set avatar_url = 'https://img.test/bob.png' where id = %s", (bob.id,))
    [(persona,)] = as_owner(database, "insert into personas (organization_id, display_name, avatar_url) "
                                      "values (%s, 'Support Team', 'https://img.test/team.png') returning id::text",
                            (organization,))  # fmt: skip
    direct = make_conversation(database, organization, [alice, bob], kind="direct")
    group = make_conversation(database, organization, [bob, alice], title="Study group",
                              avatar_url="https://img.test/g.png")  # fmt: skip
    support = make_conversation(database, organization, [alice], kind="support", subject=alice)
    notices = make_conversation(database, organization, [alice], kind="notices", subject=alice)
    persona_direct = make_conversation(database, organization, [alice], kind="direct", subject=alice, persona=persona)
    long_body = "x" * 150
    post(database, direct, bob, long_body)
    gone = post(database, group, bob, "to be deleted")
    tombstone(database, gone)
    post(database, support, alice, "help me")
    post(database, notices, None, "Maintenance tonight", kind="notice")
    post(database, persona_direct, None, "Hi, how can we help?", persona=persona)

    rows = {row["conversation_id"]: row for row in inbox(api, alice)}
    assert (rows[direct]["title"], rows[direct]["avatar_url"], rows[direct]["other_user_id"]) == (
        "it_bob",
        "https://img.test/bob.png",
        str(bob.id),
    )
    assert rows[direct]["last_message_preview"] == "x" * 100
    assert (rows[direct]["last_message_sender_kind"], rows[direct]["last_message_sender_name"]) == ("user", "it_bob")
    assert (rows[group]["title"], rows[group]["avatar_url"], rows[group]["member_role"]) == (
        "Study group",
        "https://img.test/g.png",
        "member",
    )
    assert (rows[group]["last_message_deleted"], rows[group]["last_message_preview"]) == (True, None)
    assert rows[group]["unread_count"] == 0
    assert (rows[support]["title"], rows[support]["support_status"]) == ("Help & Support", "open")
    assert rows[support]["unread_count"] == 0
    assert (rows[notices]["title"], rows[notices]["last_message_sender_kind"], rows[notices]["last_message_kind"]) == (
        "Notices",
        "system",
        "notice",
    )
    assert rows[notices]["last_message_sender_name"] is None
    assert (rows[persona_direct]["title"], rows[persona_direct]["avatar_url"]) == (
        "Support Team",
        "https://img.test/team.png",
    )
    assert (rows[persona_direct]["last_message_sender_name"], rows[persona_direct]["unread_count"]) == (
        "Support Team",
        1,
    )
    # The staff side of support is not an inbox: the agent is no member of Alice's support conversation.
    assert inbox(api, agent) == []


def test_inbox_counts_match_get_unread_counts_and_the_cut_off_hides_older_previews(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("ic_owner", "ic_alice", "ic_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [bob], history_visibility="since_joined")
    post(database, conversation, bob, "before alice")
    add_member(database, conversation, alice)
    [row] = inbox(api, alice)
    assert (row["last_message_id"], row["last_message_preview"], row["unread_count"]) == (None, None, 0)
    post(database, conversation, bob, "hello @alice", mentions=[alice])
    [row] = inbox(api, alice)
    [count] = api.rpc("get_unread_counts", token=alice.token)
    assert (row["unread_count"], row["mention_count"]) == (count["unread_count"], count["mention_count"]) == (1, 1)
    assert row["last_message_preview"] == "hello @alice"


def test_archive_hides_until_a_new_message_unless_muted(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("ih_owner", "ih_alice", "ih_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    loud = make_conversation(database, organization, [alice, bob], title="loud")
    quiet = make_conversation(database, organization, [alice, bob], title="quiet")
    post(database, loud, bob)
    post(database, quiet, bob)
    for conversation in (loud, quiet):
        archived = api.rpc("archive_conversation", {"conversation_id": conversation}, token=alice.token)
        assert archived["archived_at_message_id"] is not None
    api.rpc("mute_conversation", {"conversation_id": quiet}, token=alice.token)
    assert inbox(api, alice) == []
    assert sorted(ids(inbox(api, alice, archived_only=True))) == sorted([loud, quiet])
    assert all(row["archived"] for row in inbox(api, alice, include_archived=True))

    post(database, loud, bob, "wake up")
    post(database, quiet, bob, "still muted")
    rows = inbox(api, alice)
    assert ids(rows) == [loud] and rows[0]["archived"] is False
    assert ids(inbox(api, alice, archived_only=True)) == [quiet]
    api.rpc("archive_conversation", {"conversation_id": quiet, "archived": False}, token=alice.token)
    assert set(ids(inbox(api, alice))) == {loud, quiet}


def test_hide_shows_again_on_any_new_message_even_when_muted(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("hd_owner", "hd_alice", "hd_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    post(database, conversation, bob)
    api.rpc("mute_conversation", {"conversation_id": conversation}, token=alice.token)
    api.rpc("hide_conversation", {"conversation_id": conversation}, token=alice.token)
    assert inbox(api, alice) == []
    [row] = inbox(api, alice, include_hidden=True)
    assert (row["hidden"], row["muted"]) == (True, True)
    post(database, conversation, bob)
    [row] = inbox(api, alice)
    assert row["hidden"] is False
    api.rpc("hide_conversation", {"conversation_id": conversation}, token=alice.token)
    api.rpc("hide_conversation", {"conversation_id": conversation, "hidden": False}, token=alice.token)
    assert ids(inbox(api, alice)) == [conversation]


def test_mute_until_a_time_unmute_and_notification_level(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("mu_owner", "mu_alice", "mu_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    forever = api.rpc("mute_conversation", {"conversation_id": conversation}, token=alice.token)
    assert forever["muted_until"] == "infinity"
    until = api.rpc("mute_conversation", {"conversation_id": conversation, "until": "2999-01-01T00:00:00+00:00"},
                    token=alice.token)  # fmt: skip
    assert until["muted_until"].startswith("2999-01-01")
    assert inbox(api, alice)[0]["muted"] is True
    past = api.rpc("mute_conversation", {"conversation_id": conversation, "until": "2000-01-01T00:00:00+00:00"},
                   token=alice.token)  # fmt: skip
    assert past["muted_until"] is None
    api.rpc("mute_conversation", {"conversation_id": conversation}, token=alice.token)
    assert api.rpc("unmute_conversation", {"conversation_id": conversation}, token=alice.token)["muted_until"] is None
    assert api.rpc("mute_conversation", {"conversation_id": conversation, "until": None},
                   token=alice.token)["muted_until"] is None  # fmt: skip
    level = api.rpc("set_notification_level", {"conversation_id": conversation, "level": "mentions"},
                    token=alice.token)  # fmt: skip
    assert level["notification_level"] == "mentions"
    assert inbox(api, alice)[0]["notification_level"] == "mentions"
    for bad_level in ("loud", None):
        bad = refusal(
            lambda bad_level=bad_level: api.rpc(
                "set_notification_level", {"conversation_id": conversation, "level": bad_level}, token=alice.token
            )
        )
        assert (bad.status, bad.code, bad.details) == (400, "P0001", "invalid_notification_level")
    assert entry(database, conversation, alice)["notification_level"] == "mentions"


def test_pins_are_capped_at_ten_and_archive_or_hide_unpins(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("pn_owner", "pn_alice", "pn_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversations = [make_conversation(database, organization, [alice, bob], title=f"p{n}") for n in range(12)]
    for conversation in conversations[:10]:
        api.rpc("pin_conversation", {"conversation_id": conversation}, token=alice.token)
    again = api.rpc("pin_conversation", {"conversation_id": conversations[0]}, token=alice.token)
    assert again["pinned_at"] is not None
    full = refusal(lambda: api.rpc("pin_conversation", {"conversation_id": conversations[10]}, token=alice.token))
    assert (full.status, full.code, full.details) == (409, "PT409", "too_many_pins")
    unpinned = api.rpc("pin_conversation", {"conversation_id": conversations[0], "pinned": False}, token=alice.token)
    assert unpinned["pinned_at"] is None
    api.rpc("pin_conversation", {"conversation_id": conversations[10]}, token=alice.token)
    archived = api.rpc("archive_conversation", {"conversation_id": conversations[1]}, token=alice.token)
    assert archived["pinned_at"] is None
    hidden = api.rpc("hide_conversation", {"conversation_id": conversations[2]}, token=alice.token)
    assert hidden["pinned_at"] is None
    repinned = api.rpc("pin_conversation", {"conversation_id": conversations[1]}, token=alice.token)
    assert (repinned["pinned_at"] is not None, repinned["archived_at_message_id"]) == (True, None)
    assert sum(row["pinned"] for row in inbox(api, alice, page_size=100)) == 9


def test_concurrent_pins_never_pass_the_cap(api: Api, database):
    """Twelve simultaneous pins from one user with 8 already pinned: exactly 2 succeed, 10 refused."""
    owner, alice, bob = (database.create_user(n) for n in ("pc_owner", "pc_alice", "pc_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversations = [make_conversation(database, organization, [alice, bob], title=f"q{n}") for n in range(20)]
    for conversation in conversations[:8]:
        api.rpc("pin_conversation", {"conversation_id": conversation}, token=alice.token)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def pin(conversation: str) -> None:
        barrier.wait()
        try:
            api.rpc("pin_conversation", {"conversation_id": conversation}, token=alice.token)
            outcomes.append("pinned")
        except Exception as error:
            outcomes.append(getattr(error, "details", repr(error)))

    threads = [threading.Thread(target=pin, args=(c,)) for c in conversations[8:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["pinned"] * 2 + ["too_many_pins"] * 10
    [(pins,)] = as_owner(database, "select count(*) from inbox_entries where user_id = %s and pinned_at is not null",
                         (alice.id,))  # fmt: skip
    assert pins == 10


def test_state_rpcs_refuse_non_members_and_bad_flags(api: Api, database):
    owner, alice, bob, stranger = (database.create_user(n) for n in ("sr_owner", "sr_alice", "sr_bob", "sr_x"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    calls = {
        "archive_conversation": {"conversation_id": conversation},
        "mute_conversation": {"conversation_id": conversation},
        "unmute_conversation": {"conversation_id": conversation},
        "pin_conversation": {"conversation_id": conversation},
        "hide_conversation": {"conversation_id": conversation},
        "set_notification_level": {"conversation_id": conversation, "level": "none"},
    }
    for function, args in calls.items():
        for caller in (stranger, owner):
            hidden = refusal(lambda f=function, a=args, c=caller: api.rpc(f, a, token=c.token))
            assert (hidden.status, hidden.code, hidden.details) == (404, "PT404", "conversation_not_found")
        missing = refusal(
            lambda f=function, a=args: api.rpc(
                f, {**a, "conversation_id": "00000000-0000-4000-8000-000000000000"}, token=alice.token
            )
        )
        assert (missing.status, missing.details) == (404, "conversation_not_found")
        anonymous = refusal(lambda f=function, a=args: api.rpc(f, a))
        assert (anonymous.status, anonymous.code) == (401, "42501")
    for function, flag in (("archive_conversation", "archived"), ("pin_conversation", "pinned"),
                           ("hide_conversation", "hidden")):  # fmt: skip
        bad = refusal(
            lambda f=function, flag=flag: api.rpc(f, {"conversation_id": conversation, flag: None}, token=alice.token)
        )
        assert (bad.status, bad.code, bad.details) == (400, "P0001", "invalid_flag")
    assert entry(database, conversation, alice) == entry(database, conversation, bob)


def test_inbox_can_be_limited_to_one_organization_and_lists_only_member_conversations(api: Api, database):
    owner, other_owner, alice, bob = (database.create_user(n) for n in ("og_owner", "og_other", "og_alice", "og_bob"))
    first = organization_with(api, database, owner, member=alice, member2=bob)
    second = organization_with(api, database, other_owner, member=alice)
    here = make_conversation(database, first, [alice, bob])
    there = make_conversation(database, second, [alice, other_owner])
    make_conversation(database, first, [bob, owner])
    assert set(ids(inbox(api, alice))) == {here, there}
    assert ids(inbox(api, alice, only_organization_id=second)) == [there]
    assert [row["organization_id"] for row in inbox(api, alice, only_organization_id=first)] == [first]
