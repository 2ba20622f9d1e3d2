"""Send-path rate limits (issue 5): the per-user token bucket per organization and per-conversation slow mode.

Concurrency tests fire many sends at once from threads through the request path; the limits must hold exactly
(one atomic statement per check), and one user's flood must never touch another user's allowance. The refill
rate is set to 1 message per minute, so no token comes back while a test runs (its few seconds refill less than
one token); no test asserts on time.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from identity_support import as_owner, organization_with, refusal
from messaging_support import group, message_count, send, set_limits
from parley.db import Api, ApiError
from parley_dev import testing


@dataclass
class Setup:
    """An organization with owner, admin and two members, and a group of all of them."""

    organization: str
    owner: testing.TestUser
    admin: testing.TestUser
    member: testing.TestUser
    member2: testing.TestUser
    chat: str


def setup(api: Api, database: testing.TestDatabase, prefix: str, *, burst: int, **conversation: object) -> Setup:
    """A fresh organization whose users may send ``burst`` messages at once, refilling 1 per minute."""
    owner, admin, member, member2 = (database.create_user(f"{prefix}_{n}") for n in ("o", "a", "m", "m2"))
    organization = organization_with(api, database, owner, admin=admin, member=member, member2=member2)
    set_limits(database, organization, send_rate_per_minute=1, send_burst=burst)
    chat = group(database, organization, owner, member, member2, admins=(admin,), **conversation)
    return Setup(organization, owner, admin, member, member2, chat)


def retry_after(error: ApiError) -> int:
    """The seconds in a PT429 hint "Retry after N seconds."."""
    match = re.fullmatch(r"Retry after (\d+) seconds\.", error.hint or "")
    assert match, error.hint
    return int(match.group(1))


def attempt(api: Api, user: testing.TestUser, chat: str, body: str) -> str:
    """One send: 'sent', or the refusal's reason."""
    try:
        send(api, user, chat, body)
    except ApiError as error:
        assert (error.status, error.code) == (429, "PT429"), error
        return error.details or ""
    return "sent"


def test_burst_then_429_with_the_wait_in_the_hint(api: Api, database):
    """A user sends send_burst messages, then gets 429 rate_limited with "Retry after N seconds." (N within the
    refill time of one message); the refused send writes nothing."""
    s = setup(api, database, "rb", burst=3)
    for n in range(3):
        send(api, s.member, s.chat, f"m{n}")
    error = refusal(lambda: send(api, s.member, s.chat, "one too many"))
    assert (error.status, error.code, error.details) == (429, "PT429", "rate_limited")
    assert 1 <= retry_after(error) <= 60
    assert message_count(database, s.chat) == 3


def test_concurrent_sends_never_exceed_the_burst(api: Api, database):
    """48 simultaneous sends by one user (16 threads) with a burst of 5: exactly 5 succeed, the rest are 429."""
    s = setup(api, database, "rc", burst=5)
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda n: attempt(api, s.member, s.chat, f"flood {n}"), range(48)))
    assert outcomes.count("sent") == 5
    assert set(outcomes) == {"sent", "rate_limited"}
    assert message_count(database, s.chat) == 5


def test_a_flood_touches_only_the_flooders_allowance(api: Api, database):
    """While one user floods from 12 threads, another user's sends all succeed, and the flood never writes the
    other user's allowance row (it is unchanged from their last send until the flood is over)."""
    s = setup(api, database, "ri", burst=4)
    allowance = "select row(tokens, refilled_at, xmin)::text from parley_internal.send_allowances where user_id = %s"
    with ThreadPoolExecutor(max_workers=12) as pool:
        flood = [pool.submit(attempt, api, s.member, s.chat, f"flood {n}") for n in range(200)]
        calm_outcomes = [attempt(api, s.member2, s.chat, f"calm {n}") for n in range(3)]
        [(after_calm,)] = as_owner(database, allowance, (s.member2.id,))
        outcomes = [future.result() for future in flood]
    [(after_flood,)] = as_owner(database, allowance, (s.member2.id,))
    assert calm_outcomes == ["sent"] * 3
    assert after_flood == after_calm
    assert outcomes.count("sent") == 4
    rows = as_owner(database, "select user_id from parley_internal.send_allowances where organization_id = %s "
                              "order by user_id", (s.organization,))  # fmt: skip
    assert rows == sorted([(s.member.id,), (s.member2.id,)])


def test_allowances_are_per_organization(api: Api, database):
    """A user out of sends in one organization still sends in another."""
    s = setup(api, database, "ro", burst=1)
    other_owner = database.create_user("ro_other")
    other = organization_with(api, database, other_owner, member=s.member)
    other_chat = group(database, other, other_owner, s.member)
    send(api, s.member, s.chat, "first")
    assert refusal(lambda: send(api, s.member, s.chat, "second")).details == "rate_limited"
    assert send(api, s.member, other_chat, "elsewhere")["body"] == "elsewhere"


def test_slow_mode_spaces_a_members_messages(api: Api, database):
    """slow_mode_seconds 120: a member's second message is 429 slow_mode with the wait in the hint; another member
    still posts; owners and admins are exempt."""
    s = setup(api, database, "sm", burst=50, slow_mode_seconds=120)
    send(api, s.member, s.chat, "first")
    error = refusal(lambda: send(api, s.member, s.chat, "second"))
    assert (error.status, error.code, error.details) == (429, "PT429", "slow_mode")
    assert 1 <= retry_after(error) <= 120
    assert send(api, s.member2, s.chat, "my turn")["body"] == "my turn"
    for moderator in (s.owner, s.admin):
        for n in range(3):
            send(api, moderator, s.chat, f"moderator {n}")
    assert message_count(database, s.chat) == 8


def test_slow_mode_is_per_conversation(api: Api, database):
    """Slow mode in one group does not hold back the same member elsewhere."""
    s = setup(api, database, "sp", burst=50, slow_mode_seconds=600)
    other = group(database, s.organization, s.owner, s.member)
    send(api, s.member, s.chat, "slow group")
    assert send(api, s.member, other, "normal group")["body"] == "normal group"
    assert send(api, s.member, other, "again")["body"] == "again"


def test_concurrent_sends_in_slow_mode_let_exactly_one_through(api: Api, database):
    """20 simultaneous sends by one member in slow mode: one is posted, 19 are 429 slow_mode."""
    s = setup(api, database, "sc", burst=50, slow_mode_seconds=300)
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(lambda n: attempt(api, s.member, s.chat, f"race {n}"), range(20)))
    assert outcomes.count("sent") == 1
    assert outcomes.count("slow_mode") == 19
    assert message_count(database, s.chat) == 1


def test_a_slow_mode_refusal_spends_no_send(api: Api, database):
    """A send refused by slow mode rolls back its token: with a burst of 2, after one send and one slow-mode
    refusal the member still has exactly one send left."""
    s = setup(api, database, "sr", burst=2, slow_mode_seconds=300)
    other = group(database, s.organization, s.owner, s.member)
    send(api, s.member, s.chat, "first")
    assert refusal(lambda: send(api, s.member, s.chat, "too soon")).details == "slow_mode"
    send(api, s.member, other, "second")
    assert refusal(lambda: send(api, s.member, other, "third")).details == "rate_limited"


def test_notices_count_against_the_staff_senders_allowance(api: Api, database):
    """Staff notices use the sender's own bucket: a staff user out of sends gets 429 on send_notice too."""
    s = setup(api, database, "sn", burst=2)
    for user in (s.member, s.member2):
        api.rpc("send_notice", {"organization_id": s.organization, "user_id": str(user.id), "body": "Notice",
                                "style": {}}, token=s.admin.token)  # fmt: skip
    error = refusal(
        lambda: api.rpc(
            "send_notice",
            {"organization_id": s.organization, "user_id": str(s.member.id), "body": "third", "style": {}},
            token=s.admin.token,
        )
    )
    assert (error.status, error.details) == (429, "rate_limited")
    assert send(api, s.member, s.chat, "members are not affected")["body"] == "members are not affected"
