"""Broadcast from the database (issue 7): conversation and user topics through parley realtime and the official client.

Writes go through the conversation RPCs, and through the message and read-state
RPCs where they exist (else as the owner, see realtime_support.Chat); the
events come from the triggers in functions/realtime_events.sql and reach the
official ``realtime`` client over loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from realtime import RealtimeSubscribeStates

from identity_support import as_owner, organization_with
from parley.db import Api, ApiError
from parley.realtime import RealtimeConfig, ServiceThread
from parley.realtime.stream import ChangeStream, Decoder, format_lsn, parse_lsn
from realtime_support import Chat, Subscriber, subscribe, until

if TYPE_CHECKING:
    from parley_dev.testing import TestDatabase, TestUser

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR

REALTIME_CAPTURE = ("table", "wal")
"""Every test on the module's database runs in both capture modes (tests/conftest.py): the same event contract."""


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "alice", "bob", "carol", "dave", "mallory", "outsider")
    return {name: database.create_user(f"rt_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(
        api,
        database,
        people["owner"],
        member=people["alice"],
        member2=people["bob"],
        member3=people["carol"],
        member4=people["dave"],
        member5=people["mallory"],
    )


@pytest.fixture(scope="module")
def chat(api: Api, database: TestDatabase) -> Chat:
    return Chat(api, database)


def create_group(api: Api, organization: str, owner: TestUser, *members: TestUser, **settings) -> str:
    created = api.rpc(
        "create_group_conversation",
        {
            "organization_id": organization,
            "title": settings.pop("title", "Realtime"),
            "member_ids": [str(member.id) for member in members],
            **settings,
        },
        token=owner.token,
    )
    return str(created["id"])


@pytest.fixture(scope="module")
def group(api: Api, organization: str, people: dict[str, TestUser]) -> str:
    return create_group(api, organization, people["owner"], people["alice"], people["bob"], people["carol"])


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


def events(subscriber: Subscriber) -> list[str]:
    return [item["event"] for item in subscriber.received]


def last(subscriber: Subscriber, event: str) -> dict:
    return subscriber.payloads(event)[-1]


def marker(chat: Chat, topic: str, event: str = "test_marker") -> None:
    """A final event on the topic: once it has arrived, everything committed before it has too."""
    chat.owner("select realtime.send('{}'::jsonb, %s, %s, true)", (event, topic))


async def start(chat: Chat, topic: str, *subscribers: Subscriber) -> None:
    """Mark the start of a scenario: events committed before it (set-up) are dropped from ``received``."""
    marker(chat, topic, "test_start")
    await until(lambda: all("test_start" in events(subscriber) for subscriber in subscribers), what="start marker")
    for subscriber in subscribers:
        del subscriber.received[: events(subscriber).index("test_start") + 1]


def test_a_member_receives_every_conversation_event_in_commit_order_with_client_ready_payloads(
    api, database, realtime_service, people, organization, group, chat
):
    owner, alice, bob, carol, dave = (people[name] for name in ("owner", "alice", "bob", "carol", "dave"))
    topic = f"conversation:{group}"

    async def scenario():
        watcher = await subscribe(realtime_service.url, alice.token, topic)
        assert watcher.state is SUBSCRIBED
        await start(chat, topic, watcher)
        first = chat.send(bob, group, "hello")
        chat.edit(bob, first, "hello, edited")
        chat.react(carol, first, "👍")
        chat.react(carol, first, "👍")
        chat.mark(alice, group, first, watermark="read")
        api.rpc("add_conversation_members", {"conversation_id": group, "user_ids": [str(dave.id)]}, token=owner.token)
        api.rpc(
            "set_conversation_member_role",
            {"conversation_id": group, "user_id": str(dave.id), "role": "admin"},
            token=owner.token,
        )
        api.rpc("remove_conversation_member", {"conversation_id": group, "user_id": str(dave.id)}, token=owner.token)
        api.rpc("update_group_conversation", {"conversation_id": group, "title": "Renamed"}, token=owner.token)
        chat.delete(bob, first)
        marker(chat, topic)
        await until(lambda: "test_marker" in events(watcher), what="every event up to the marker")
        # Membership RPCs also post a system message ("Owner added Dave") right after the roster change.
        assert events(watcher) == [
            "message_created",
            "message_edited",
            "reaction_changed",
            "reaction_changed",
            "read",
            "member_joined",
            "message_created",
            "member_role_changed",
            "message_created",
            "member_left",
            "message_created",
            "conversation_updated",
            "message_deleted",
            "test_marker",
        ]
        announcements = [p["message"] for p in watcher.payloads("message_created")][1:]
        assert [(m["sender_kind"], m["kind"], m["metadata"]["event"]) for m in announcements] == [
            ("system", "system", "member_added"),
            ("system", "system", "member_promoted"),
            ("system", "system", "member_removed"),
        ]
        created = watcher.payloads("message_created")[0]["message"]
        assert (created["id"], created["conversation_id"], created["body"]) == (first, group, "hello")
        assert (created["sender_kind"], created["sender_id"]) == ("user", str(bob.id))
        assert "deleted_by" not in created and "pinned_by" not in created
        assert last(watcher, "message_edited")["message"] | {"edited_at": None} == {
            "id": first,
            "conversation_id": group,
            "body": "hello, edited",
            "metadata": {},
            "edited_at": None,
        }
        added, removed = watcher.payloads("reaction_changed")
        assert (added["action"], removed["action"]) == ("added", "removed")
        assert (
            added | {"action": None}
            == removed | {"action": None}
            == {
                "message_id": first,
                "conversation_id": group,
                "emoji": "👍",
                "user_id": str(carol.id),
                "staff": False,
                "persona_id": None,
                "action": None,
            }
        )
        assert last(watcher, "read") == {
            "conversation_id": group,
            "user_id": str(alice.id),
            "last_read_message_id": first,
        }
        joined = last(watcher, "member_joined")
        assert (joined["user_id"], joined["role"], joined["added_by"]) == (str(dave.id), "member", str(owner.id))
        assert last(watcher, "member_role_changed") == {
            "conversation_id": group,
            "user_id": str(dave.id),
            "role": "admin",
            "previous_role": "member",
        }
        left = last(watcher, "member_left")
        assert (left["user_id"], left["reason"], left["removed_by"]) == (str(dave.id), "removed", str(owner.id))
        assert last(watcher, "conversation_updated")["conversation"]["title"] == "Renamed"
        tombstone = last(watcher, "message_deleted")["message"]
        assert set(tombstone) == {"id", "conversation_id", "deleted_at"} and tombstone["id"] == first
        ids = [item["meta"]["id"] for item in watcher.received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        await watcher.close()

    run(scenario())


def test_strangers_and_anon_are_refused_and_never_receive_a_conversations_events(
    database, realtime_service, people, group, chat
):
    alice, bob = people["alice"], people["bob"]
    topic = f"conversation:{group}"

    async def scenario():
        member = await subscribe(realtime_service.url, alice.token, topic)
        refused = [
            await subscribe(realtime_service.url, people["mallory"].token, topic),  # same organization
            await subscribe(realtime_service.url, people["outsider"].token, topic),  # no organization
            await subscribe(realtime_service.url, database.token("anon"), topic),
        ]
        # The stranger's public channel of the same name: private broadcasts never reach it.
        public = await subscribe(realtime_service.url, people["mallory"].token, topic, private=False)
        assert member.state is SUBSCRIBED and public.state is SUBSCRIBED
        assert [subscriber.state for subscriber in refused] == [CHANNEL_ERROR] * 3
        await start(chat, topic, member)
        assert all("Unauthorized" in str(subscriber.states[-1][1]) for subscriber in refused)
        chat.send(bob, group, "members only")
        marker(chat, topic)
        await until(lambda: "test_marker" in events(member), what="the member's copy")
        assert [subscriber.received for subscriber in (*refused, public)] == [[], [], [], []]
        for subscriber in (member, *refused, public):
            await subscriber.close()

    run(scenario())


def test_malformed_and_foreign_topics_are_denied_not_errors(database, realtime_service, people):
    alice = people["alice"]
    topics = [
        "conversation:not-a-uuid",
        "conversation:",
        f"conversation:{alice.id}x",
        "user:",
        f"user:{alice.id} ",
        "conversation:00000000-0000-4000-8000-000000000000",
        "whatever",
        f"USER:{alice.id}",
    ]

    async def scenario():
        for topic in topics:
            attempt = await subscribe(realtime_service.url, alice.token, topic)
            assert attempt.state is CHANNEL_ERROR, topic
            assert "Unauthorized" in str(attempt.states[-1][1]), topic
            await attempt.close()

    run(scenario())


def test_user_topic_carries_inbox_changes_to_that_user_only(
    api, database, realtime_service, people, organization, chat
):
    owner, alice, bob = people["owner"], people["alice"], people["bob"]

    async def scenario():
        mine = await subscribe(realtime_service.url, alice.token, f"user:{alice.id}")
        theirs = await subscribe(realtime_service.url, bob.token, f"user:{bob.id}")
        snooper = await subscribe(realtime_service.url, bob.token, f"user:{alice.id}")
        assert (mine.state, theirs.state, snooper.state) == (SUBSCRIBED, SUBSCRIBED, CHANNEL_ERROR)
        await start(chat, f"user:{alice.id}", mine)
        await start(chat, f"user:{bob.id}", theirs)

        fresh = create_group(api, organization, owner, alice, title="Inbox test")
        direct = api.rpc(
            "get_or_create_direct_conversation",
            {"organization_id": organization, "other_user_id": str(bob.id)},
            token=alice.token,
        )["id"]
        hello = chat.send(bob, direct, "psst")
        notice = chat.notice(owner, organization, alice, "Maintenance tonight")
        chat.mark(alice, direct, hello, watermark="read")
        api.rpc("remove_conversation_member", {"conversation_id": fresh, "user_id": str(alice.id)}, token=owner.token)
        marker(chat, f"user:{alice.id}")
        marker(chat, f"user:{bob.id}")
        await until(lambda: "test_marker" in events(mine) and "test_marker" in events(theirs), what="markers")

        added = [payload["conversation"]["id"] for payload in mine.payloads("conversation_added")]
        assert fresh in added and direct in added
        inbox = [payload for payload in mine.payloads("inbox_message") if payload["conversation_id"] == direct]
        assert [(item["conversation_kind"], item["message"]["id"], item["message"]["body"]) for item in inbox] == [
            ("direct", hello, "psst")
        ]
        assert [(item["conversation_kind"], item["message"]["id"]) for item in mine.payloads("notice_received")] == [
            ("notices", notice)
        ]
        unread = [item for item in mine.payloads("unread_changed") if item["conversation_id"] == direct]
        assert unread[-1] == {
            "conversation_id": direct,
            "last_read_message_id": hello,
            "unread_count": 0,
            "unread_capped": False,
        }
        assert {"conversation_id": fresh, "reason": "removed"} in mine.payloads("conversation_removed")

        # Bob's topic: his own copy of the direct message, and nothing of Alice's inbox.
        assert [item["message"]["id"] for item in theirs.payloads("inbox_message")] == [hello]
        bobs = json.dumps(theirs.received)
        assert fresh not in bobs and "notice_received" not in bobs and "unread_changed" not in bobs
        assert snooper.received == []
        for subscriber in (mine, theirs, snooper):
            await subscriber.close()

    run(scenario())


def test_read_receipts_follow_the_readers_privacy_and_delivered_goes_out_regardless(
    api, database, realtime_service, people, organization, group, chat
):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    api.query(
        "update privacy_settings set send_read_receipts = false where user_id = %s",
        (carol.id,),
        token=carol.token,
        method="PATCH",
    )
    direct = api.rpc(
        "get_or_create_direct_conversation",
        {"organization_id": organization, "other_user_id": str(carol.id)},
        token=alice.token,
    )["id"]

    async def scenario():
        in_direct = await subscribe(realtime_service.url, alice.token, f"conversation:{direct}")
        in_group = await subscribe(realtime_service.url, alice.token, f"conversation:{group}")
        carols_inbox = await subscribe(realtime_service.url, carol.token, f"user:{carol.id}")
        await start(chat, f"conversation:{direct}", in_direct)
        await start(chat, f"conversation:{group}", in_group)
        await start(chat, f"user:{carol.id}", carols_inbox)
        to_carol = chat.send(alice, direct, "did you get this?")
        chat.mark(carol, direct, to_carol, watermark="delivered")
        chat.mark(carol, direct, to_carol, watermark="read")
        in_group_message = chat.send(alice, group, "group news")
        chat.mark(carol, group, in_group_message, watermark="read")
        chat.mark(bob, group, in_group_message, watermark="delivered")
        chat.mark(bob, group, in_group_message, watermark="read")
        for topic in (f"conversation:{direct}", f"conversation:{group}", f"user:{carol.id}"):
            marker(chat, topic)
        await until(
            lambda: all("test_marker" in events(s) for s in (in_direct, in_group, carols_inbox)), what="markers"
        )

        assert in_direct.payloads("delivered") == [
            {"conversation_id": direct, "user_id": str(carol.id), "last_delivered_message_id": to_carol}
        ]
        assert str(carol.id) not in json.dumps(in_direct.payloads("read") + in_group.payloads("read"))
        assert in_group.payloads("read") == [
            {"conversation_id": group, "user_id": str(bob.id), "last_read_message_id": in_group_message}
        ]
        assert in_group.payloads("delivered") == []  # groups: no delivered broadcasts (docs/realtime.md, Cost)
        # Carol's own devices still learn that she read them.
        read_by_carol = {item["conversation_id"]: item for item in carols_inbox.payloads("unread_changed")}
        assert read_by_carol[direct]["last_read_message_id"] == to_carol
        assert read_by_carol[group]["unread_count"] == 0
        for subscriber in (in_direct, in_group, carols_inbox):
            await subscriber.close()

    run(scenario())


def test_a_removed_member_gets_member_left_and_then_nothing(
    api, database, realtime_service, people, organization, chat
):
    owner, alice, dave = people["owner"], people["alice"], people["dave"]
    room = create_group(api, organization, owner, alice, dave, title="Removal")
    topic = f"conversation:{room}"

    async def scenario():
        leaving = await subscribe(realtime_service.url, dave.token, topic)
        staying = await subscribe(realtime_service.url, alice.token, topic)
        await start(chat, topic, leaving, staying)
        chat.send(alice, room, "before")
        api.rpc("remove_conversation_member", {"conversation_id": room, "user_id": str(dave.id)}, token=owner.token)
        chat.send(alice, room, "after")
        marker(chat, topic)
        await until(lambda: "test_marker" in events(staying), what="the remaining member's events")
        await until(
            lambda: leaving.state is RealtimeSubscribeStates.CLOSED, what="the removed member's channel closing"
        )
        assert [
            item["payload"].get("message", {}).get("body")
            for item in leaving.received
            if item["event"] == "message_created"
        ] == ["before"]
        assert events(leaving) == ["message_created", "member_left"]
        assert last(leaving, "member_left")["user_id"] == str(dave.id)
        again = await subscribe(realtime_service.url, dave.token, topic)
        assert again.state is CHANNEL_ERROR
        for subscriber in (leaving, staying, again):
            await subscriber.close()

    run(scenario())


def test_persona_answers_and_staff_reactions_never_reveal_the_staff_user(
    api, database, realtime_service, people, organization, chat
):
    owner, alice = people["owner"], people["alice"]
    [(persona,)] = as_owner(
        database,
        "insert into personas (organization_id, display_name) values (%s, 'Support Team') returning id::text",
        (organization,),
    )
    conversation = api.rpc("get_or_create_persona_conversation", {"persona_id": persona}, token=alice.token)["id"]

    async def scenario():
        customer = await subscribe(realtime_service.url, alice.token, f"conversation:{conversation}")
        inbox = await subscribe(realtime_service.url, alice.token, f"user:{alice.id}")
        await start(chat, f"conversation:{conversation}", customer)
        await start(chat, f"user:{alice.id}", inbox)
        question = chat.send(alice, conversation, "who am I talking to?")
        answer = chat.send_as_persona(owner, conversation, persona, "The Support Team!")
        chat.react(owner, question, "👀")
        marker(chat, f"conversation:{conversation}")
        marker(chat, f"user:{alice.id}")
        await until(lambda: "test_marker" in events(customer) and "test_marker" in events(inbox), what="markers")
        persona_message = [p["message"] for p in customer.payloads("message_created") if p["message"]["id"] == answer]
        assert persona_message and persona_message[0]["sender_kind"] == "persona"
        assert (persona_message[0]["sender_id"], persona_message[0]["persona_id"]) == (None, persona)
        assert last(customer, "reaction_changed")["user_id"] is None and last(customer, "reaction_changed")["staff"]
        assert str(owner.id) not in json.dumps(customer.received) + json.dumps(inbox.received)
        await customer.close()
        await inbox.close()

    run(scenario())


def test_an_edit_of_history_a_since_joined_member_cannot_read_carries_no_body(
    api, database, realtime_service, people, organization, chat
):
    owner, alice, dave = people["owner"], people["alice"], people["dave"]
    room = create_group(api, organization, owner, alice, title="Since joined", history_visibility="since_joined")
    old = chat.send(alice, room, "before dave")
    api.rpc("add_conversation_members", {"conversation_id": room, "user_ids": [str(dave.id)]}, token=owner.token)
    topic = f"conversation:{room}"

    async def scenario():
        newcomer = await subscribe(realtime_service.url, dave.token, topic)
        await start(chat, topic, newcomer)
        chat.edit(alice, old, "secret history, edited")
        newer = chat.send(alice, room, "after dave")
        chat.edit(alice, newer, "visible to all, edited")
        marker(chat, topic)
        await until(lambda: "test_marker" in events(newcomer), what="marker")
        hidden, shown = (payload["message"] for payload in newcomer.payloads("message_edited"))
        assert hidden["id"] == old and hidden["body_omitted"] is True and "body" not in hidden
        assert "secret history" not in json.dumps(newcomer.received)
        assert (shown["id"], shown["body"]) == (newer, "visible to all, edited")
        await newcomer.close()

    run(scenario())


def test_typing_is_relayed_to_members_refused_where_they_may_not_post_and_never_stored(
    api, database, realtime_service, people, organization, group, chat
):
    owner, alice, bob = people["owner"], people["alice"], people["bob"]
    announcements = create_group(api, organization, owner, alice, title="News", posting_policy="admins")

    async def scenario():
        listener = await subscribe(realtime_service.url, alice.token, f"conversation:{group}")
        typist = await subscribe(realtime_service.url, bob.token, f"conversation:{group}")
        await typist.channel.send_broadcast("typing", {"user_id": str(bob.id), "typing": True})
        await until(
            lambda: listener.payloads("typing") == [{"user_id": str(bob.id), "typing": True}],
            what="bob typing at alice",
        )
        reader = await subscribe(realtime_service.url, alice.token, f"conversation:{announcements}", ack=True)
        assert reader.state is SUBSCRIBED
        outcome: list[str] = []
        push = await reader.channel.push("broadcast", {"type": "broadcast", "event": "typing", "payload": {}})
        push.receive("ok", lambda _: outcome.append("ok")).receive("error", lambda r: outcome.append(str(r)))
        await until(lambda: bool(outcome), what="the refused broadcast's reply")
        assert "Unauthorized" in outcome[0]
        stored = chat.owner("select count(*) from realtime.messages where event = 'typing'")
        assert stored == [(0,)]
        for subscriber in (listener, typist, reader):
            await subscriber.close()

    run(scenario())


# -- Refusal monitoring feed -----------------------------------------------------------------------------


def test_the_decoder_separates_refusal_messages_from_broadcasts_and_keeps_positions():
    """wal2json format-version 2 rows: non-transactional messages come alone, transactional ones with their commit."""
    rows = [
        (
            "0/100",
            json.dumps(
                {"action": "M", "transactional": False, "prefix": "parley.refusal", "content": '{"reason": "blocked"}'}
            ),
        ),
        ("0/200", json.dumps({"action": "B"})),
        (
            "0/200",
            json.dumps(
                {
                    "action": "I",
                    "schema": "realtime",
                    "table": "messages",
                    "columns": [
                        {"name": "topic", "value": "conversation:x"},
                        {"name": "extension", "value": "broadcast"},
                        {"name": "event", "value": "message_created"},
                        {"name": "payload", "value": '{"n": 1}'},
                        {"name": "private", "value": True},
                        {"name": "id", "value": "u1"},
                    ],
                }
            ),
        ),
        ("0/260", json.dumps({"action": "M", "transactional": True, "prefix": "parley.refusal", "content": "{}"})),
        ("0/300", json.dumps({"action": "C"})),
        ("0/400", json.dumps({"action": "M", "transactional": False, "prefix": "parley.refusal", "content": "x"})),
    ]
    decoded = Decoder().feed(rows)
    assert [(event.event, event.payload, format_lsn(event.lsn)) for event in decoded.events] == [
        ("message_created", {"n": 1}, "0/300")
    ]
    assert [(format_lsn(m.lsn), m.content, m.transactional) for m in decoded.messages] == [
        ("0/100", '{"reason": "blocked"}', False),
        ("0/300", "{}", True),
        ("0/400", "x", False),
    ]
    assert decoded.last_position == parse_lsn("0/400")


@pytest.fixture
def own_database(server):
    """A database of its own: no other service instance reads its slots or refusals."""
    created = server.create_database("realtime_own")
    yield created
    server.drop_database(created)


def health(service: ServiceThread) -> dict:
    assert service.service is not None
    with urllib.request.urlopen(service.service.health_url, timeout=5) as response:
        return json.loads(response.read())


def refusal_service(database: TestDatabase) -> ServiceThread:
    """The service on a slot of its own, checking for record_refusals every 0.1 s."""
    config = RealtimeConfig(
        database.url,
        database.jwt_secret,
        port=0,
        slot="parley_realtime_refusals",
        poll_interval=0.02,
        retention_interval=0,
        refusal_check_interval=0.1,
    )
    return ServiceThread(config).start()


def wait_for(condition, what: str, timeout: float = 20.0, nudge=None) -> None:
    """Wait (bounded) for a condition checked from the test's thread, calling ``nudge`` between checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if nudge is not None:
            nudge()
        time.sleep(0.05)


def test_refused_requests_are_counted_once_through_the_service_even_across_a_restart(own_database):
    """parley_internal.refuse's WAL message -> the service -> record_refusals (functions/monitoring.sql): dropped
    while record_refusals is missing, then every refusal counted exactly once, also when a restarted service reads
    part of the stream again."""
    database = own_database
    user = database.create_user("refused")
    counted_sql = (
        "select coalesce(sum(refusals), 0)::integer from parley_internal.refusal_counts "
        "where user_id = %s and reason = %s"
    )

    def refused(api: Api) -> str:
        with pytest.raises(ApiError) as raised:
            api.rpc("create_organization", {"name": "   "}, token=user.token)
        return raised.value.details

    def flush() -> None:
        """A refused transaction commits nothing, so its WAL message waits for the next flush: commit something."""
        as_owner(database, "select txid_current()")

    def sentinel(api: Api) -> None:
        """A refusal of another reason; refusals are recorded in WAL order, so once it is counted, so is all before."""
        with pytest.raises(ApiError) as raised:
            api.rpc("get_or_create_support_conversation", {"organization_id": str(uuid.uuid4())}, token=user.token)
        other = raised.value.details
        before = as_owner(database, counted_sql, (user.id, other))[0][0]
        wait_for(lambda: as_owner(database, counted_sql, (user.id, other))[0][0] > before, "the sentinel", nudge=flush)

    as_owner(database, "alter function parley_internal.record_refusals(jsonb, text) rename to record_refusals_away")
    service = refusal_service(database)
    try:
        with Api(database.api_url, database.jwt_secret) as api:
            reason = refused(api)
            wait_for(lambda: health(service)["refusals_dropped"] >= 1, "the dropped refusal", nudge=flush)
            as_owner(
                database, "alter function parley_internal.record_refusals_away(jsonb, text) rename to record_refusals"
            )
            # Until the service has looked again, refusals are still dropped: refuse until one is forwarded.
            deadline = time.monotonic() + 20
            while health(service)["refusals_forwarded"] == 0:
                assert time.monotonic() < deadline, "the service never found record_refusals"
                refused(api)
                flush()
                time.sleep(0.1)
            sentinel(api)
            before = as_owner(database, counted_sql, (user.id, reason))[0][0]
            for _ in range(3):
                refused(api)
            sentinel(api)
            assert as_owner(database, counted_sql, (user.id, reason)) == [(before + 3,)]
            service.stop()
            service = refusal_service(database)  # same slot: may read the last second again
            refused(api)
            sentinel(api)
            assert as_owner(database, counted_sql, (user.id, reason)) == [(before + 4,)]
    finally:
        service.stop(drop_slots=True)


def test_streamed_and_polled_slots_give_the_same_events_ids_and_refusals(own_database):
    """pg_recvlogical streaming and the SQL functions read the same WAL into the same ids (restart-safe ids)."""
    url = own_database.url

    async def scenario():
        streamed = ChangeStream(url, "parley_ids_streamed", streaming=True, wait=0.05)
        polled = ChangeStream(url, "parley_ids_polled", streaming=False)
        await streamed.open()
        await polled.open()
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                for size in (1, 3, 2):
                    with connection.transaction():
                        for n in range(size):
                            connection.execute(
                                "select realtime.send(%s::jsonb, 'e', 'conversation:ids', true)",
                                (json.dumps({"size": size, "n": n}),),
                            )
                connection.execute("select pg_logical_emit_message(false, 'parley.refusal', '{\"r\": 1}')")
            seen: dict[str, list] = {"streamed": [], "polled": []}
            deadline = time.monotonic() + 20
            while min(len(events) for events in seen.values()) < 6 or not (streamed.refusals and polled.refusals):
                assert time.monotonic() < deadline, seen
                seen["streamed"] += await streamed.poll()
                seen["polled"] += await polled.poll()
                await asyncio.sleep(0.02)
            as_tuples = {name: [(e.id, e.event, e.payload) for e in events] for name, events in seen.items()}
            assert as_tuples["streamed"] == as_tuples["polled"]
            assert [e.payload["n"] for e in seen["streamed"]] == [0, 0, 1, 2, 0, 1]
            assert [m.lsn for m in streamed.refusals] == [m.lsn for m in polled.refusals]
        finally:
            await streamed.drop_slots()
            await polled.drop_slots()

    run(scenario())


def test_unread_changed_counts_as_get_unread_counts_does(api, database, realtime_service, people, organization, chat):
    """The user topic's unread_count follows the inbox rule: after the watermark, not own, not deleted, not own group
    changes announced by the system."""
    owner, alice, dave = people["owner"], people["alice"], people["dave"]
    room = create_group(api, organization, owner, alice, dave, title="Counting")

    async def scenario():
        inbox = await subscribe(realtime_service.url, dave.token, f"user:{dave.id}")
        await start(chat, f"user:{dave.id}", inbox)
        first = chat.send(alice, room, "one")
        chat.send(dave, room, "my own")
        gone = chat.send(alice, room, "deleted")
        chat.delete(alice, gone)
        chat.send(owner, room, "three")
        api.rpc(
            "set_conversation_member_role",
            {"conversation_id": room, "user_id": str(dave.id), "role": "admin"},
            token=owner.token,
        )
        chat.mark(dave, room, first, watermark="read")
        marker(chat, f"user:{dave.id}")
        await until(lambda: "test_marker" in events(inbox), what="marker")
        pushed = [item for item in inbox.payloads("unread_changed") if item["conversation_id"] == room][-1]
        [counted] = [
            row for row in api.rpc("get_unread_counts", {}, token=dave.token) if row["conversation_id"] == room
        ]
        assert (pushed["unread_count"], pushed["unread_capped"]) == (counted["unread_count"], counted["unread_capped"])
        assert pushed["last_read_message_id"] == first == counted["last_read_message_id"]
        await inbox.close()

    run(scenario())


def test_a_resumed_channel_is_never_sent_an_event_up_to_the_id_it_resumed_after(
    database, realtime_service, people, group, chat
):
    """After a restart the live slot may hand out recent events again (pg_recvlogical confirms about once a second):
    a client that resumed after id X is never sent a live event with an id up to X. Here X is the largest possible
    id, so every live event is one the client claims to have."""
    alice, bob = people["alice"], people["bob"]
    topic = f"conversation:{group}"

    async def scenario():
        plain = await subscribe(realtime_service.url, bob.token, topic)
        resumed = await subscribe(realtime_service.url, alice.token, topic, replay={"after": "FFFFFFFFFFFFFFFF-99999"})
        chat.send(bob, group, "already seen, says alice")
        marker(chat, topic)
        await until(lambda: "test_marker" in events(plain), what="the plain subscriber's copy")
        await asyncio.sleep(0.3)  # give a wrong delivery the chance to show (not an assertion on time)
        assert resumed.received == []
        for subscriber in (plain, resumed):
            await subscriber.close()

    run(scenario())


def test_the_decoder_numbers_broadcast_messages_and_rows_together_in_wal_order():
    """wal capture: a parley.broadcast message is an event like a row, numbered with the rows of its transaction."""

    def row(n: int) -> str:
        return json.dumps({"action": "I", "schema": "realtime", "table": "messages_2026_12_06", "columns": [
            {"name": "topic", "value": "conversation:x"}, {"name": "extension", "value": "broadcast"},
            {"name": "event", "value": "e"}, {"name": "payload", "value": json.dumps({"n": n, "id": f"r{n}"})},
            {"name": "private", "value": True}, {"name": "id", "value": f"r{n}"},
        ]})  # fmt: skip

    content = json.dumps({"topic": "conversation:x", "event": "e", "payload": {"n": 2, "id": "m2"}, "private": True,
                          "id": "m2"})  # fmt: skip
    rows = [
        ("0/200", json.dumps({"action": "B", "timestamp": "2026-12-06 01:00:00.5+00"})),
        ("0/210", row(1)),
        ("0/220", json.dumps({"action": "M", "transactional": True, "prefix": "parley.broadcast", "content": content})),
        ("0/230", row(3)),
        ("0/300", json.dumps({"action": "C", "timestamp": "2026-12-06 01:00:00.5+00"})),
    ]
    decoded = Decoder().feed(rows)
    assert [(e.id, e.payload, e.message_id, e.private, e.stored) for e in decoded.events] == [
        ("0000000000000300-00001", {"n": 1, "id": "r1"}, "r1", True, True),
        ("0000000000000300-00002", {"n": 2, "id": "m2"}, "m2", True, False),
        ("0000000000000300-00003", {"n": 3, "id": "r3"}, "r3", True, True),
    ]
    assert decoded.messages == []  # a broadcast message is an event, not a logical message for the service


def test_the_capture_mode_decides_whether_a_broadcast_writes_a_row_and_nothing_else_changes(database, request):
    """parley_internal.broadcast in both modes: the same events, ids, order and payload ids; a row only in table."""
    mode = request.node.callspec.params["database"]
    url = database.url
    topic = f"conversation:{uuid.uuid4()}"

    async def scenario():
        stream = ChangeStream(url, f"parley_capture_{mode}", streaming=False)
        await stream.open()
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                [(setting,)] = connection.execute("select current_setting('parley.realtime_capture', true)").fetchall()
                assert setting == mode
                with connection.transaction():
                    connection.execute("select parley_internal.broadcast('{\"n\": 1}', 'e', %s, true)", (topic,))
                    connection.execute("select realtime.send('{\"n\": 2}', 'e', %s, true)", (topic,))  # a row always
                    connection.execute("select parley_internal.broadcast('{\"n\": 3}', 'e', %s, false)", (topic,))
                    connection.execute("select parley_internal.broadcast('{\"n\": 4, \"id\": 7}', 'e', %s)", (topic,))
                [(stored,)] = connection.execute("select count(*) from realtime.messages where topic = %s",
                                                 (topic,)).fetchall()  # fmt: skip
            seen = []
            deadline = time.monotonic() + 20
            while len(seen) < 4:
                assert time.monotonic() < deadline, seen
                seen += [event for event in await stream.poll() if event.topic == topic]
                await asyncio.sleep(0.02)
            return stored, seen
        finally:
            await stream.drop_slots()

    stored, seen = run(scenario())
    assert stored == (4 if mode == "table" else 1)
    lsn = seen[0].lsn
    assert [(e.id, e.event, {k: v for k, v in e.payload.items() if k != "id"}, e.private) for e in seen] == [
        (f"{lsn:016X}-{position:05d}", "e", {"n": n}, private)
        for position, n, private in ((1, 1, True), (2, 2, True), (3, 3, False), (4, 4, True))
    ]
    assert [e.payload["id"] == e.message_id for e in seen] == [True, True, True, False]  # a payload's own id stays
    assert seen[3].payload["id"] == 7 and str(uuid.UUID(seen[3].message_id)) == seen[3].message_id
    assert [e.stored for e in seen] == [mode == "table", True, mode == "table", mode == "table"]
