"""Read state (issue 4): delivered/read watermarks, mark_unread, unread and mention counts, the badge, receipts.

Fixtures are rows written as the database owner (readstate_support); every behaviour is exercised through the
request path with the member's JWT.
"""

from __future__ import annotations

import threading

from identity_support import as_owner, organization_with, refusal
from parley.db import Api
from readstate_support import add_member, counts, entry, make_conversation, post, post_many, tombstone


def test_mark_delivered_and_mark_read_move_forward_only_and_read_implies_delivered(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("wm_owner", "wm_alice", "wm_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    first, second, third = (post(database, conversation, bob, f"m{n}") for n in range(3))

    delivered = api.rpc("mark_delivered", {"conversation_id": conversation, "message_id": second}, token=alice.token)
    assert (delivered["last_delivered_message_id"], delivered["last_read_message_id"]) == (second, 0)
    back = api.rpc("mark_delivered", {"conversation_id": conversation, "message_id": first}, token=alice.token)
    assert back["last_delivered_message_id"] == second

    read = api.rpc("mark_read", {"conversation_id": conversation, "message_id": first}, token=alice.token)
    assert (read["last_read_message_id"], read["last_delivered_message_id"]) == (first, second)
    read = api.rpc("mark_read", {"conversation_id": conversation, "message_id": third}, token=alice.token)
    assert (read["last_read_message_id"], read["last_delivered_message_id"]) == (third, third)
    again = api.rpc("mark_read", {"conversation_id": conversation, "message_id": first}, token=alice.token)
    assert again["last_read_message_id"] == third
    # Bob's watermarks are his own.
    assert entry(database, conversation, bob)["last_read_message_id"] == 0


def test_mark_read_without_an_id_reads_up_to_the_newest_message_including_a_tombstone(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("wn_owner", "wn_alice", "wn_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    empty = api.rpc("mark_read", {"conversation_id": conversation}, token=alice.token)
    assert empty["last_read_message_id"] == 0
    post(database, conversation, bob)
    newest = post(database, conversation, bob)
    tombstone(database, newest)
    read = api.rpc("mark_read", {"conversation_id": conversation}, token=alice.token)
    assert (read["last_read_message_id"], read["last_delivered_message_id"]) == (newest, newest)
    assert counts(api, alice)[conversation]["unread_count"] == 0


def test_mark_unread_moves_the_watermark_to_the_message_before_and_never_marks_older_ones_read(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("wu_owner", "wu_alice", "wu_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    ids = [post(database, conversation, bob, f"m{n}") for n in range(5)]
    api.rpc("mark_read", {"conversation_id": conversation}, token=alice.token)

    unread = api.rpc("mark_unread", {"conversation_id": conversation, "message_id": ids[3]}, token=alice.token)
    assert unread["last_read_message_id"] == ids[2]
    assert unread["last_delivered_message_id"] == ids[4]
    assert counts(api, alice)[conversation]["unread_count"] == 2
    # Marking a later message unread does not mark ids[3] read again.
    later = api.rpc("mark_unread", {"conversation_id": conversation, "message_id": ids[4]}, token=alice.token)
    assert later["last_read_message_id"] == ids[2]
    first = api.rpc("mark_unread", {"conversation_id": conversation, "message_id": ids[0]}, token=alice.token)
    assert first["last_read_message_id"] == 0
    assert counts(api, alice)[conversation]["unread_count"] == 5


def test_watermark_refusals_never_reveal_conversations_or_messages(api: Api, database):
    owner, alice, bob, stranger = (database.create_user(n) for n in ("wr_owner", "wr_alice", "wr_bob", "wr_x"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    other = make_conversation(database, organization, [bob, owner])
    mine = post(database, conversation, bob)
    elsewhere = post(database, other, bob)

    for function in ("mark_delivered", "mark_read", "mark_unread"):
        outsider = refusal(
            lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": mine}, token=stranger.token)
        )
        assert (outsider.status, outsider.code, outsider.details) == (404, "PT404", "conversation_not_found")
        # The organization owner is not a member of this conversation: same answer.
        admin = refusal(
            lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": mine}, token=owner.token)
        )
        assert (admin.status, admin.details) == (404, "conversation_not_found")
        missing = refusal(
            lambda f=function: api.rpc(
                f, {"conversation_id": "00000000-0000-4000-8000-000000000000", "message_id": mine}, token=alice.token
            )
        )
        assert (missing.status, missing.details) == (404, "conversation_not_found")
        foreign = refusal(
            lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": elsewhere}, token=alice.token)
        )
        assert (foreign.status, foreign.code, foreign.details) == (404, "PT404", "message_not_found")
        unknown = refusal(
            lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": 10**12}, token=alice.token)
        )
        assert unknown.details == "message_not_found"
        bad = refusal(
            lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": 0}, token=alice.token)
        )
        assert (bad.status, bad.code, bad.details) == (400, "P0001", "invalid_message_id")
        anonymous = refusal(lambda f=function: api.rpc(f, {"conversation_id": conversation, "message_id": mine}))
        assert (anonymous.status, anonymous.code) == (401, "42501")
    missing_id = refusal(
        lambda: api.rpc("mark_delivered", {"conversation_id": conversation, "message_id": None}, token=alice.token)
    )
    assert missing_id.details == "invalid_message_id"
    assert entry(database, conversation, alice)["last_read_message_id"] == 0


def test_messages_before_a_since_joined_cut_off_are_neither_markable_nor_unread(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("wj_owner", "wj_alice", "wj_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [bob], history_visibility="since_joined")
    before = post(database, conversation, bob, "before alice")
    add_member(database, conversation, alice)
    after = post(database, conversation, bob, "after alice")
    hidden = refusal(
        lambda: api.rpc("mark_read", {"conversation_id": conversation, "message_id": before}, token=alice.token)
    )
    assert (hidden.status, hidden.details) == (404, "message_not_found")
    # Even with a read watermark forced below the cut-off, only the visible message is unread.
    as_owner(database, "update inbox_entries set last_read_message_id = 0 where user_id = %s", (alice.id,))
    assert counts(api, alice)[conversation]["unread_count"] == 1
    unread = api.rpc("mark_unread", {"conversation_id": conversation, "message_id": after}, token=alice.token)
    assert unread["last_read_message_id"] == 0
    assert counts(api, alice)[conversation]["unread_count"] == 1


def test_unread_counts_skip_own_and_deleted_messages_and_count_persona_and_system_ones(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("uc_owner", "uc_alice", "uc_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    [(persona,)] = as_owner(database, "insert into personas (organization_id, display_name) values (%s, 'Help') "
                                      "returning id::text", (organization,))  # fmt: skip
    conversation = make_conversation(database, organization, [alice, bob])
    post(database, conversation, alice, "mine")
    post(database, conversation, bob, "theirs")
    gone = post(database, conversation, bob, "deleted", mentions=[alice])
    tombstone(database, gone)
    post(database, conversation, None, "system notice")
    post(database, conversation, None, "persona says hi", persona=persona, mentions=[alice])
    post(database, conversation, alice, "self mention", mentions=[alice])
    post(database, conversation, bob, "hey @alice", mentions=[alice])

    row = counts(api, alice)[conversation]
    assert (row["unread_count"], row["mention_count"]) == (4, 2)
    assert (row["unread_capped"], row["mention_capped"]) == (False, False)
    bob_row = counts(api, bob)[conversation]
    assert (bob_row["unread_count"], bob_row["mention_count"]) == (4, 0)


def test_counts_are_exact_up_to_100_and_flag_more(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("cap_owner", "cap_alice", "cap_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    exact = make_conversation(database, organization, [alice, bob], title="exact")
    over = make_conversation(database, organization, [alice, bob], title="over")
    post_many(database, exact, bob, 100)
    ids = post_many(database, over, bob, 150)
    rows = counts(api, alice)
    assert (rows[exact]["unread_count"], rows[exact]["unread_capped"]) == (100, False)
    assert (rows[over]["unread_count"], rows[over]["unread_capped"]) == (100, True)
    api.rpc("mark_read", {"conversation_id": over, "message_id": ids[60]}, token=alice.token)
    assert (counts(api, alice)[over]["unread_count"], counts(api, alice)[over]["unread_capped"]) == (89, False)


def test_counts_and_badge_honour_mute_archive_hide_and_notification_level(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("bd_owner", "bd_alice", "bd_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    plain, muted, mentions_only, silent, archived, hidden = (
        make_conversation(database, organization, [alice, bob], title=name)
        for name in ("plain", "muted", "mentions", "silent", "archived", "hidden"))  # fmt: skip
    for conversation in (plain, muted, mentions_only, silent, archived, hidden):
        post(database, conversation, bob, "one")
        post(database, conversation, bob, "two @alice", mentions=[alice])
    api.rpc("mute_conversation", {"conversation_id": muted}, token=alice.token)
    api.rpc("set_notification_level", {"conversation_id": mentions_only, "level": "mentions"}, token=alice.token)
    api.rpc("set_notification_level", {"conversation_id": silent, "level": "none"}, token=alice.token)
    api.rpc("archive_conversation", {"conversation_id": archived}, token=alice.token)
    api.rpc("hide_conversation", {"conversation_id": hidden}, token=alice.token)

    rows = counts(api, alice)
    assert {key: rows[key]["badge_count"] for key in rows} == {
        plain: 2,
        muted: 0,
        mentions_only: 1,
        silent: 0,
        archived: 0,
        hidden: 0,
    }
    assert all(rows[key]["unread_count"] == 2 and rows[key]["mention_count"] == 1 for key in rows)
    assert (rows[muted]["muted"], rows[silent]["notification_level"]) == (True, "none")
    assert (rows[archived]["archived"], rows[hidden]["hidden"]) == (True, True)
    total = api.rpc("get_unread_total", token=alice.token)
    assert total == {
        "unread_count": 3,
        "mention_count": 2,
        "unread_conversations": 2,
        "capped": False,
        "excluded_unread_conversations": 4,
    }
    # A new message brings the archived (not muted) and the hidden conversation back into the badge.
    post(database, archived, bob, "back")
    post(database, hidden, bob, "back")
    total = api.rpc("get_unread_total", token=alice.token)
    assert (total["unread_count"], total["unread_conversations"]) == (9, 4)


def test_unread_total_reports_capped_counts(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("tc_owner", "tc_alice", "tc_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    post_many(database, conversation, bob, 120)
    assert api.rpc("get_unread_total", token=alice.token) == {
        "unread_count": 100,
        "mention_count": 0,
        "unread_conversations": 1,
        "capped": True,
        "excluded_unread_conversations": 0,
    }
    assert api.rpc("get_unread_total", token=owner.token)["unread_count"] == 0
    anonymous = refusal(lambda: api.rpc("get_unread_total"))
    assert (anonymous.status, anonymous.code) == (401, "42501")
    assert refusal(lambda: api.rpc("get_unread_counts")).status == 401


def test_receipts_list_delivered_and_read_members_and_respect_read_receipt_privacy(api: Api, database):
    owner, alice, bob, carol, dave, late = (
        database.create_user(n) for n in ("rc_owner", "rc_alice", "rc_bob", "rc_carol", "rc_dave", "rc_late")
    )
    organization = organization_with(api, database, owner, member=alice, member2=bob, member3=carol, member4=dave,
                                     member5=late)  # fmt: skip
    conversation = make_conversation(database, organization, [alice, bob, carol, dave])
    message = post(database, conversation, alice, "did you see this?")
    api.rpc("mark_read", {"conversation_id": conversation, "message_id": message}, token=bob.token)
    api.rpc("mark_delivered", {"conversation_id": conversation, "message_id": message}, token=carol.token)
    api.rpc("mark_read", {"conversation_id": conversation}, token=alice.token)
    add_member(database, conversation, late)  # joined after the message: never listed

    receipts = {row["user_id"]: row for row in api.rpc("get_message_receipts", {"message_id": message},
                                                       token=alice.token)}  # fmt: skip
    assert set(receipts) == {str(bob.id), str(carol.id)}
    assert (receipts[str(bob.id)]["read"], receipts[str(bob.id)]["delivered"]) == (True, True)
    assert (receipts[str(carol.id)]["read"], receipts[str(carol.id)]["delivered"]) == (False, True)
    assert receipts[str(bob.id)]["display_name"] == "rc_bob"

    # Bob turns read receipts off: still delivered, never "seen".
    api.query("update privacy_settings set send_read_receipts = false where user_id = %s", (bob.id,),
              token=bob.token, method="PATCH")  # fmt: skip
    receipts = {row["user_id"]: row for row in api.rpc("get_message_receipts", {"message_id": message},
                                                       token=carol.token)}  # fmt: skip
    assert (receipts[str(bob.id)]["read"], receipts[str(bob.id)]["delivered"]) == (False, True)

    # Paging by user id.
    first = api.rpc("get_message_receipts", {"message_id": message, "page_size": 1}, token=alice.token)
    rest = api.rpc(
        "get_message_receipts",
        {"message_id": message, "page_size": 1, "after_user_id": first[0]["user_id"]},
        token=alice.token,
    )
    assert sorted([first[0]["user_id"], rest[0]["user_id"]]) == sorted(receipts)


def test_receipts_are_only_for_readers_of_the_message(api: Api, database):
    owner, alice, bob, stranger = (database.create_user(n) for n in ("rr_owner", "rr_alice", "rr_bob", "rr_x"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    message = post(database, conversation, alice)
    for caller in (stranger, owner):
        hidden = refusal(
            lambda caller=caller: api.rpc("get_message_receipts", {"message_id": message}, token=caller.token)
        )
        assert (hidden.status, hidden.code, hidden.details) == (404, "PT404", "message_not_found")
    missing = refusal(lambda: api.rpc("get_message_receipts", {"message_id": 10**12}, token=alice.token))
    assert missing.details == "message_not_found"
    too_many = refusal(
        lambda: api.rpc("get_message_receipts", {"message_id": message, "page_size": 501}, token=alice.token)
    )
    assert (too_many.status, too_many.details) == (400, "invalid_page_size")
    assert refusal(lambda: api.rpc("get_message_receipts", {"message_id": message})).status == 401
    assert api.rpc("get_message_receipts", {"message_id": message}, token=bob.token) == []


def test_concurrent_mark_read_calls_leave_the_greatest_id(api: Api, database):
    """Eight devices of one user mark different ids read at once: the watermark ends at the greatest."""
    owner, alice, bob = (database.create_user(n) for n in ("cr_owner", "cr_alice", "cr_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    conversation = make_conversation(database, organization, [alice, bob])
    ids = post_many(database, conversation, bob, 8)
    barrier = threading.Barrier(len(ids))
    errors: list[Exception] = []

    def read(message_id: int) -> None:
        barrier.wait()
        try:
            api.rpc("mark_read", {"conversation_id": conversation, "message_id": message_id}, token=alice.token)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(message_id,)) for message_id in reversed(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert entry(database, conversation, alice)["last_read_message_id"] == max(ids)
    assert counts(api, alice)[conversation]["unread_count"] == 0


def test_group_change_system_messages_are_unread_for_others_but_not_for_whoever_made_the_change(api: Api, database):
    """The conversation RPCs post "Ann added Bob" system messages (metadata.actor_id): unread for the other members,
    never for the actor."""
    owner, alice, bob = (database.create_user(n) for n in ("gs_owner", "gs_alice", "gs_bob"))
    organization = organization_with(api, database, owner, member=alice, member2=bob)
    group = api.rpc(
        "create_group_conversation",
        {"organization_id": organization, "title": "Changes", "member_ids": [str(alice.id)]},
        token=owner.token,
    )["id"]
    assert (counts(api, owner)[group]["unread_count"], counts(api, alice)[group]["unread_count"]) == (0, 1)
    api.rpc("add_conversation_members", {"conversation_id": group, "user_ids": [str(bob.id)]}, token=owner.token)
    assert [counts(api, user)[group]["unread_count"] for user in (owner, alice, bob)] == [0, 2, 1]
    api.rpc("leave_conversation", {"conversation_id": group}, token=alice.token)
    assert [counts(api, user)[group]["unread_count"] for user in (owner, bob)] == [1, 2]
    [row] = [r for r in api.rpc("get_inbox", token=bob.token) if r["conversation_id"] == group]
    assert (row["unread_count"], row["last_message_sender_kind"], row["last_message_kind"]) == (2, "system", "system")
