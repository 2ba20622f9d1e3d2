"""Presence (issue 4): heartbeat, get_presence and the presence table under the privacy rules.

Presence is visible to yourself, and to people sharing an organization or an accepted connection with you, unless
either side blocked the other or you hide your online status. Everyone else learns nothing.
"""

from __future__ import annotations

from identity_support import as_owner, organization_with, refusal
from parley.db import Api


def presence_of(api: Api, viewer, *users) -> dict[str, dict]:
    """get_presence of ``users`` as ``viewer``, keyed by user id."""
    rows = api.rpc("get_presence", {"user_ids": [str(user.id) for user in users]}, token=viewer.token)
    return {row["user_id"]: row for row in rows}


def test_heartbeat_upserts_a_coarse_status_and_get_presence_reports_it(api: Api, database):
    owner, alice = database.create_user("pr_owner"), database.create_user("pr_alice")
    organization_with(api, database, owner, member=alice)
    first = api.rpc("heartbeat", token=alice.token)
    assert (first["user_id"], first["status"]) == (str(alice.id), "online")
    # Same status within 15 seconds: nothing written, the stored row comes back.
    repeat = api.rpc("heartbeat", {"status": "online"}, token=alice.token)
    assert repeat == first
    away = api.rpc("heartbeat", {"status": "away"}, token=alice.token)
    assert away["status"] == "away" and away["updated_at"] >= first["updated_at"]
    seen = presence_of(api, owner, alice)[str(alice.id)]
    assert (seen["status"], seen["last_seen_at"]) == ("away", away["last_seen_at"])
    assert presence_of(api, alice, alice)[str(alice.id)]["status"] == "away"
    [(rows,)] = as_owner(database, "select count(*) from presence where user_id = %s", (alice.id,))
    assert rows == 1


def test_heartbeat_refreshes_last_seen_after_the_coarse_interval(api: Api, database):
    alice = database.create_user("pr_refresh")
    api.rpc("heartbeat", token=alice.token)
    as_owner(database, "update presence set last_seen_at = now() - interval '20 seconds' where user_id = %s",
             (alice.id,))  # fmt: skip
    [(before,)] = as_owner(database, "select last_seen_at from presence where user_id = %s", (alice.id,))
    refreshed = api.rpc("heartbeat", token=alice.token)
    [(after,)] = as_owner(database, "select last_seen_at from presence where user_id = %s", (alice.id,))
    assert after > before and refreshed["status"] == "online"


def test_stale_and_missing_heartbeats_read_as_offline(api: Api, database):
    owner, alice, bob = (database.create_user(n) for n in ("ps_owner", "ps_alice", "ps_bob"))
    organization_with(api, database, owner, member=alice, member2=bob)
    api.rpc("heartbeat", {"status": "busy"}, token=alice.token)
    as_owner(database, "update presence set last_seen_at = now() - interval '5 minutes' where user_id = %s",
             (alice.id,))  # fmt: skip
    rows = presence_of(api, owner, alice, bob)
    assert (rows[str(alice.id)]["status"], rows[str(alice.id)]["last_seen_at"] is not None) == ("offline", True)
    assert (rows[str(bob.id)]["status"], rows[str(bob.id)]["last_seen_at"]) == ("offline", None)


def test_presence_is_hidden_from_strangers_blocked_users_and_when_the_user_hides_it(api: Api, database):
    owner, alice, bob, carol, stranger, friend = (
        database.create_user(n) for n in ("ph_owner", "ph_alice", "ph_bob", "ph_carol", "ph_stranger", "ph_friend")
    )
    organization_with(api, database, owner, member=alice, member2=bob, member3=carol)
    for user in (alice, bob, carol, stranger, friend):
        api.rpc("heartbeat", token=user.token)
    # An accepted connection (no shared organization) is enough.
    api.rpc("request_connection", {"user_id": str(alice.id)}, token=friend.token)
    api.rpc("accept_connection", {"user_id": str(friend.id)}, token=alice.token)

    assert set(presence_of(api, owner, alice, bob, carol, stranger)) == {str(alice.id), str(bob.id), str(carol.id)}
    assert set(presence_of(api, friend, alice, bob)) == {str(alice.id)}
    assert presence_of(api, stranger, alice, bob, carol) == {}
    # Alice blocks Bob: neither sees the other.
    api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
    assert str(alice.id) not in presence_of(api, bob, alice)
    assert str(bob.id) not in presence_of(api, alice, bob)
    # Carol hides her online status: nobody but Carol sees it.
    api.query("update privacy_settings set show_online_status = false where user_id = %s", (carol.id,),
              token=carol.token, method="PATCH")  # fmt: skip
    assert str(carol.id) not in presence_of(api, owner, carol)
    assert str(carol.id) in presence_of(api, carol, carol)
    # The table itself follows the same rules.
    visible = {row["user_id"] for row in api.query("select user_id::text from presence", token=owner.token)}
    assert visible == {str(alice.id), str(bob.id)}
    assert api.query("select user_id::text from presence", token=stranger.token) == [{"user_id": str(stranger.id)}]


def test_presence_argument_refusals(api: Api, database):
    alice = database.create_user("pa_alice")
    bad = refusal(lambda: api.rpc("heartbeat", {"status": "invisible"}, token=alice.token))
    assert (bad.status, bad.code, bad.details) == (400, "P0001", "invalid_status")
    too_many = refusal(lambda: api.rpc("get_presence", {"user_ids": [str(alice.id)] * 201}, token=alice.token))
    assert (too_many.status, too_many.details) == (400, "too_many_users")
    none = refusal(lambda: api.rpc("get_presence", {"user_ids": None}, token=alice.token))
    assert none.details == "too_many_users"
    assert api.rpc("get_presence", {"user_ids": ["00000000-0000-4000-8000-000000000000"]}, token=alice.token) == []
    assert api.rpc("get_presence", {"user_ids": []}, token=alice.token) == []
    for function, args in (("heartbeat", {}), ("get_presence", {"user_ids": [str(alice.id)]})):
        anonymous = refusal(lambda f=function, a=args: api.rpc(f, a))
        assert (anonymous.status, anonymous.code) == (401, "42501")
    written = refusal(lambda: api.query("insert into presence (user_id, status) values (%s, 'online')", (alice.id,),
                                        token=alice.token, method="POST"))  # fmt: skip
    assert (written.status, written.code) == (403, "42501")
