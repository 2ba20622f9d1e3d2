"""Idempotent sends (issue 4): a retry with the same client_msg_id returns the original message.

client_msg_id is unique across all messages. A retry by the same real sender in the same conversation returns
the original row (no second row, no second rate-limit charge); anyone else, or another conversation, gets 409
client_msg_id_conflict. This must hold when the retries race each other (insert ... on conflict do nothing).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from identity_support import as_owner, organization_with, refusal
from messaging_support import GENEROUS_LIMITS, group, message_count, new_id, persona, send, set_limits, support
from parley.db import Api, ApiError
from parley_dev import testing


def organization(api: Api, database: testing.TestDatabase, prefix: str, **limits: int):
    """Owner, admin and two members of a fresh organization, with the given limits (generous by default)."""
    owner, admin, member, member2 = (database.create_user(f"{prefix}_{n}") for n in ("o", "a", "m", "m2"))
    organization_id = organization_with(api, database, owner, admin=admin, member=member, member2=member2)
    set_limits(database, organization_id, **(limits or GENEROUS_LIMITS))
    return organization_id, owner, admin, member, member2


def test_a_retry_returns_the_original_message(api: Api, database):
    """Sending again with the same client_msg_id returns the first row unchanged, even with another body."""
    org, owner, _, member, _ = organization(api, database, "ir")
    chat = group(database, org, owner, member)
    key = new_id()
    first = send(api, member, chat, "hello", client_msg_id=key)
    again = send(api, member, chat, "hello (retry)", client_msg_id=key)
    assert again == first
    assert message_count(database, chat) == 1


def test_retries_are_not_charged_to_the_rate_limit(api: Api, database):
    """With a burst of 2 (refill 1/minute): one send, five retries of it, then one more new send succeeds and the
    next is 429; a retry of a sent message still answers while the bucket is empty."""
    org, owner, _, member, _ = organization(api, database, "ic", send_rate_per_minute=1, send_burst=2)
    chat = group(database, org, owner, member)
    key = new_id()
    first = send(api, member, chat, "once", client_msg_id=key)
    for _ in range(5):
        assert send(api, member, chat, "once", client_msg_id=key)["id"] == first["id"]
    send(api, member, chat, "second", client_msg_id=new_id())
    assert refusal(lambda: send(api, member, chat, "third", client_msg_id=new_id())).details == "rate_limited"
    assert send(api, member, chat, "once", client_msg_id=key)["id"] == first["id"]


def test_someone_elses_client_msg_id_is_a_conflict(api: Api, database):
    """The same client_msg_id from another user, or from the same user in another conversation: 409
    client_msg_id_conflict, nothing written."""
    org, owner, _, member, member2 = organization(api, database, "ix")
    chat = group(database, org, owner, member, member2)
    other = group(database, org, owner, member)
    key = new_id()
    send(api, member, chat, "mine", client_msg_id=key)
    for user, conversation in ((member2, chat), (member, other), (owner, other)):
        error = refusal(
            lambda user=user, conversation=conversation: send(api, user, conversation, "x", client_msg_id=key)
        )
        assert (error.status, error.code, error.details) == (409, "PT409", "client_msg_id_conflict")
    assert (message_count(database, chat), message_count(database, other)) == (1, 0)


def test_persona_retries_belong_to_the_real_sender(api: Api, database):
    """A persona message's retry returns it for the agent who sent it; another agent reusing the id conflicts."""
    org, owner, admin, member, _ = organization(api, database, "ip")
    team = persona(api, org, owner)
    chat = support(database, org, member)
    key = new_id()
    first = send(api, admin, chat, "Hello from the team", client_msg_id=key, as_persona_id=team)
    assert send(api, admin, chat, "Hello from the team", client_msg_id=key, as_persona_id=team) == first
    error = refusal(lambda: send(api, owner, chat, "Hello", client_msg_id=key, as_persona_id=team))
    assert (error.status, error.details) == (409, "client_msg_id_conflict")
    [(acts,)] = as_owner(database, "select count(*) from persona_acts where persona_id = %s", (team,))
    assert acts == 1


def test_notice_retries_return_the_original_notice(api: Api, database):
    """send_notice with the same client_msg_id returns the first notice; no second notice is posted."""
    org, _, admin, member, _ = organization(api, database, "in")
    key = new_id()
    arguments = {"organization_id": org, "user_id": str(member.id), "body": "Hi", "style": {}, "client_msg_id": key}
    first = api.rpc("send_notice", arguments, token=admin.token)
    assert api.rpc("send_notice", arguments, token=admin.token) == first
    assert message_count(database, first["conversation_id"]) == 1


def test_a_thousand_racing_retries_make_no_duplicates(api: Api, database):
    """1,000 sends from 16 threads reusing 100 client_msg_ids (10 attempts each, shuffled, mixed senders'
    conversations): exactly 100 messages, every attempt answered with its id's one message."""
    org, owner, _, member, member2 = organization(api, database, "ik")
    chats = [group(database, org, owner, member, member2) for _ in range(2)]
    plan = [(key, n % 2) for n, key in enumerate(new_id() for _ in range(100))]
    attempts = [entry for entry in plan for _ in range(10)]
    random.Random(20240604).shuffle(attempts)
    senders = [member, member2]

    def attempt(entry: tuple[str, int]) -> tuple[str, int]:
        key, which = entry
        row = send(api, senders[which], chats[which], f"message {key}", client_msg_id=key)
        return key, row["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(attempt, attempts))
    ids_by_key: dict[str, set[int]] = {}
    for key, message_id in answers:
        ids_by_key.setdefault(key, set()).add(message_id)
    assert len(answers) == 1000
    assert all(len(ids) == 1 for ids in ids_by_key.values())
    stored = as_owner(database, "select client_msg_id::text, id from messages where conversation_id = any(%s)",
                      ([chats[0], chats[1]],))  # fmt: skip
    assert len(stored) == 100
    assert {key: {message_id} for key, message_id in stored} == ids_by_key


def test_racing_retries_in_slow_mode_all_get_the_message(api: Api, database):
    """20 simultaneous retries of one send in a slow-mode group: all return the same message; none is refused by
    slow mode (a retry that waited for its twin returns the twin instead of a 429)."""
    org, owner, _, member, _ = organization(api, database, "is")
    chat = group(database, org, owner, member, slow_mode_seconds=600)
    key = new_id()

    def attempt(_: int) -> int | str:
        try:
            return send(api, member, chat, "only once", client_msg_id=key)["id"]
        except ApiError as error:
            return error.details or ""

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(attempt, range(20)))
    assert len(set(answers)) == 1 and isinstance(answers[0], int)
    assert message_count(database, chat) == 1
