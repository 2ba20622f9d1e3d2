"""Connections and blocks (issue 3; seed 000: connected / blocked helper checks, contacts list)."""

from __future__ import annotations

import threading

from identity_support import refusal
from parley.db import Api


def pair_rows(api: Api, user) -> list[dict]:
    return api.query("select status::text, requested_by::text from connections", token=user.token)


def test_request_accept_and_list_contacts_with_display_info(api: Api, database):
    alice, bob = database.create_user("c_alice"), database.create_user("c_bob")
    pending = api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    assert (pending["status"], pending["requested_by"]) == ("pending", str(alice.id))
    assert api.rpc("are_users_connected", {"other_user_id": str(bob.id)}, token=alice.token) is False
    assert api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)["id"] == pending["id"]
    accepted = api.rpc("accept_connection", {"user_id": str(alice.id)}, token=bob.token)
    assert accepted["status"] == "accepted" and accepted["accepted_at"]
    assert api.rpc("are_users_connected", {"other_user_id": str(alice.id)}, token=bob.token) is True
    [contact] = api.rpc("get_user_contacts", token=alice.token)
    assert (contact["user_id"], contact["display_name"]) == (str(bob.id), "c_bob")
    assert contact["username"].startswith("c_bob")


def test_decline_cancel_and_remove_delete_the_pair_and_missing_rows_are_404(api: Api, database):
    alice, bob = database.create_user("d_alice"), database.create_user("d_bob")
    api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    wrong_side = refusal(lambda: api.rpc("accept_connection", {"user_id": str(bob.id)}, token=alice.token))
    assert (wrong_side.status, wrong_side.code, wrong_side.details) == (404, "PT404", "request_not_found")
    api.rpc("decline_connection", {"user_id": str(alice.id)}, token=bob.token)
    assert pair_rows(api, alice) == []
    again = refusal(lambda: api.rpc("decline_connection", {"user_id": str(alice.id)}, token=bob.token))
    assert again.details == "request_not_found"

    api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    api.rpc("cancel_connection_request", {"user_id": str(bob.id)}, token=alice.token)
    assert pair_rows(api, bob) == []

    api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    api.rpc("accept_connection", {"user_id": str(alice.id)}, token=bob.token)
    api.rpc("remove_connection", {"user_id": str(alice.id)}, token=bob.token)
    assert pair_rows(api, alice) == []
    not_connected = refusal(lambda: api.rpc("remove_connection", {"user_id": str(alice.id)}, token=bob.token))
    assert (not_connected.status, not_connected.details) == (404, "connection_not_found")


def test_bad_connection_requests_are_refused(api: Api, database):
    alice = database.create_user("bad_alice")
    self_request = refusal(lambda: api.rpc("request_connection", {"user_id": str(alice.id)}, token=alice.token))
    assert (self_request.status, self_request.code, self_request.details) == (400, "P0001", "self")
    unknown = refusal(
        lambda: api.rpc("request_connection", {"user_id": "00000000-0000-4000-8000-000000000000"}, token=alice.token)
    )
    assert (unknown.status, unknown.details) == (404, "user_not_found")
    anonymous = refusal(lambda: api.rpc("request_connection", {"user_id": str(alice.id)}))
    assert anonymous.status == 401


def test_simultaneous_mutual_requests_give_one_accepted_connection(api: Api, database):
    """Two users request (and so accept) each other at the same moment: the canonical ordered pair with a
    unique constraint plus a row lock leaves exactly one row, accepted."""
    for round_number in range(8):
        alice, bob = database.create_user(f"race{round_number}_a"), database.create_user(f"race{round_number}_b")
        barrier = threading.Barrier(2)
        errors: list[Exception] = []

        def ask(me, other, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                api.rpc("request_connection", {"user_id": str(other.id)}, token=me.token)
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=ask, args=pair) for pair in ((alice, bob), (bob, alice))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [row["status"] for row in pair_rows(api, alice)] == ["accepted"]
        assert api.rpc("are_users_connected", {"other_user_id": str(alice.id)}, token=bob.token) is True


def test_simultaneous_accept_and_cancel_end_consistently(api: Api, database):
    """Accept and cancel racing on one request: either an accepted connection or no row, never both answers."""
    for round_number in range(6):
        alice, bob = database.create_user(f"ac{round_number}_a"), database.create_user(f"ac{round_number}_b")
        api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def run(key, function, user, other, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                api.rpc(function, {"user_id": str(other.id)}, token=user.token)
                outcomes[key] = "ok"
            except Exception as error:
                outcomes[key] = getattr(error, "details", repr(error))

        threads = [
            threading.Thread(target=run, args=("accept", "accept_connection", bob, alice)),
            threading.Thread(target=run, args=("cancel", "cancel_connection_request", alice, bob)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = pair_rows(api, alice)
        if outcomes["accept"] == "ok" and outcomes["cancel"] != "ok":
            assert [row["status"] for row in rows] == ["accepted"]
            assert outcomes["cancel"] == "request_not_found"
        else:
            assert outcomes == {"cancel": "ok", "accept": "request_not_found"}
            assert rows == []


def test_block_hides_itself_from_the_blocked_user_and_removes_the_connection(api: Api, database):
    """A block is visible to the blocker only; is_user_blocked reveals only the caller's own blocks."""
    alice, bob = database.create_user("b_alice"), database.create_user("b_bob")
    api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token)
    api.rpc("accept_connection", {"user_id": str(alice.id)}, token=bob.token)
    block = api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
    assert (block["blocker_id"], block["blocked_id"]) == (str(alice.id), str(bob.id))
    assert api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)["created_at"] == block["created_at"]
    assert pair_rows(api, alice) == []
    assert api.query("select blocked_id::text from blocks", token=alice.token) == [{"blocked_id": str(bob.id)}]
    assert api.query("select * from blocks", token=bob.token) == []
    assert api.rpc("is_user_blocked", {"other_user_id": str(bob.id)}, token=alice.token) is True
    assert api.rpc("is_user_blocked", {"other_user_id": str(alice.id)}, token=bob.token) is False
    neutral = refusal(lambda: api.rpc("request_connection", {"user_id": str(alice.id)}, token=bob.token))
    assert (neutral.status, neutral.details) == (403, "privacy")
    own = refusal(lambda: api.rpc("request_connection", {"user_id": str(bob.id)}, token=alice.token))
    assert own.details == "blocked"


def test_unblock_and_refusals(api: Api, database):
    alice, bob = database.create_user("u_alice"), database.create_user("u_bob")
    missing = refusal(lambda: api.rpc("unblock_user", {"user_id": str(bob.id)}, token=alice.token))
    assert (missing.status, missing.code, missing.details) == (404, "PT404", "block_not_found")
    itself = refusal(lambda: api.rpc("block_user", {"user_id": str(alice.id)}, token=alice.token))
    assert (itself.status, itself.details) == (400, "self")
    api.rpc("block_user", {"user_id": str(bob.id)}, token=alice.token)
    api.rpc("unblock_user", {"user_id": str(bob.id)}, token=alice.token)
    assert api.rpc("is_user_blocked", {"other_user_id": str(bob.id)}, token=alice.token) is False
    direct = refusal(
        lambda: api.query(
            "insert into blocks (blocker_id, blocked_id) values (%s, %s)",
            (bob.id, alice.id),
            token=bob.token,
            method="POST",
        )
    )
    assert direct.code == "42501"
