"""Messages (issue 4): send, notices, system messages, edit, delete, reactions and pins through the request path.

Every RPC is called as a real user with a JWT; every refusal is checked by HTTP status, SQLSTATE and reason,
and refused writes are checked to have written nothing.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import (
    GENEROUS_LIMITS,
    add_member,
    direct,
    group,
    message_count,
    new_id,
    organization_message_count,
    persona,
    persona_direct,
    send,
    set_limits,
    support,
)
from parley.db import Api, ApiError
from parley_dev import testing


@dataclass
class Org:
    """An organization with an owner, an admin, two members and an outsider (admin of another organization)."""

    id: str
    owner: testing.TestUser
    admin: testing.TestUser
    member: testing.TestUser
    member2: testing.TestUser
    outsider: testing.TestUser
    stranger: testing.TestUser


def make_org(api: Api, database: testing.TestDatabase, prefix: str) -> Org:
    """A fresh organization on the chat plan with generous send limits."""
    owner, admin, member, member2, outsider, other_owner, stranger = (
        database.create_user(f"{prefix}_{n}") for n in ("owner", "admin", "member", "member2", "outsider", "oo",
                                                        "stranger"))  # fmt: skip
    organization = organization_with(api, database, owner, admin=admin, member=member, member2=member2)
    organization_with(api, database, other_owner, admin=outsider)
    set_limits(database, organization, **GENEROUS_LIMITS)
    return Org(organization, owner, admin, member, member2, outsider, stranger)


def test_members_send_and_read_text_messages(api: Api, database):
    """A member's message is stored as theirs and every member reads it, through RLS and get_messages."""
    org = make_org(api, database, "sr")
    chat = group(database, org.id, org.owner, org.member, org.member2)
    sent = send(api, org.member, chat, "Hello, group!\n\tIndented line")
    assert (sent["conversation_id"], sent["sender_kind"], sent["sender_id"], sent["kind"], sent["body"]) == (
        chat,
        "user",
        str(org.member.id),
        "text",
        "Hello, group!\n\tIndented line",
    )
    assert sent["persona_id"] is None and sent["metadata"] == {} and sent["deleted_at"] is None
    rows = api.query("select id, body from messages where conversation_id = %s", (chat,), token=org.member2.token)
    assert rows == [{"id": sent["id"], "body": "Hello, group!\n\tIndented line"}]
    page = api.rpc("get_messages", {"conversation_id": chat}, token=org.owner.token)
    assert [row["id"] for row in page] == [sent["id"]]


def test_send_does_not_touch_the_conversation_row(api: Api, database):
    """The send path never updates conversations (no lock shared by concurrent senders of a busy conversation)."""
    org = make_org(api, database, "nt")
    chat = group(database, org.id, org.owner, org.member)
    [(before,)] = as_owner(database, "select xmin::text || updated_at::text from conversations where id = %s", (chat,))
    send(api, org.member, chat, "one")
    send(api, org.owner, chat, "two", client_msg_id=new_id(), mentioned_user_ids=[str(org.member.id)])
    [(after,)] = as_owner(database, "select xmin::text || updated_at::text from conversations where id = %s", (chat,))
    assert after == before


def test_no_message_function_calls_pg_notify(api: Api, database):
    """Realtime reads committed rows; nothing in Parley's functions calls pg_notify."""
    rows = as_owner(
        database,
        """
        select p.oid::regprocedure::text from pg_proc p
        where p.pronamespace in ('parley_internal'::regnamespace, 'public'::regnamespace)
          and p.prosrc ilike '%%pg_notify%%'""",
    )
    assert rows == []


BAD_INPUT = [
    pytest.param({"body": ""}, "empty_body", id="empty"),
    pytest.param({"body": None}, "empty_body", id="null"),
    pytest.param({"body": " \n\t "}, "empty_body", id="whitespace"),
    pytest.param({"body": "\u3000\u00a0\u200b"}, "empty_body", id="unicode-whitespace"),
    pytest.param({"body": "line\r\nline"}, "control_characters", id="carriage-return"),
    pytest.param({"body": "bell\u0007"}, "control_characters", id="bell"),
    pytest.param({"body": "c1\u0085"}, "control_characters", id="c1-control"),
    pytest.param({"body": "x" * 21}, "body_too_long", id="too-long"),
    pytest.param({"kind": "system"}, "invalid_kind", id="kind-system"),
    pytest.param({"kind": "notice"}, "invalid_kind", id="kind-notice"),
    pytest.param({"kind": "call"}, "invalid_kind", id="kind-call"),
    pytest.param({"kind": "sticker"}, "invalid_kind", id="kind-unknown"),
    pytest.param({"kind": "image", "body": ""}, "empty_body", id="image-without-caption-or-attachment"),
    pytest.param({"metadata": [1, 2]}, "invalid_metadata", id="metadata-array"),
    pytest.param({"metadata": {"blob": "x" * 9000}}, "metadata_too_large", id="metadata-large"),
    pytest.param({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "metadata_too_deep", id="metadata-deep"),
    pytest.param({"mentioned_user_ids": [None]}, "invalid_mentions", id="mention-null"),
    pytest.param({"mentioned_user_ids": [new_id() for _ in range(51)]}, "too_many_mentions", id="mentions-51"),
    pytest.param({"attachment_ids": [None]}, "invalid_attachment_ids", id="attachment-null"),
    pytest.param(
        {"attachment_ids": ["00000000-0000-4000-8000-000000000001"] * 2},
        "invalid_attachment_ids",
        id="attachment-repeated",
    ),
    pytest.param({"attachment_ids": [new_id() for _ in range(11)]}, "too_many_attachments", id="attachments-11"),
]


@pytest.mark.parametrize(("arguments", "reason"), BAD_INPUT)
def test_invalid_input_is_refused_with_400_and_writes_nothing(api: Api, database, arguments, reason):
    """Bad bodies, kinds, metadata and id lists are refused (400 P0001 reason) before anything is written."""
    org = make_org(api, database, "bi")
    set_limits(database, org.id, max_message_length=20)
    chat = group(database, org.id, org.owner, org.member)
    payload = {"body": "fine", **arguments}
    error = refusal(lambda: send(api, org.member, chat, **payload, client_msg_id=new_id()))
    assert (error.status, error.code, error.details) == (400, "P0001", reason)
    assert message_count(database, chat) == 0
    assert (
        as_owner(database, "select 1 from parley_internal.send_allowances where user_id = %s", (org.member.id,)) == []
    )


def test_body_length_limit_is_the_organizations_setting(api: Api, database):
    """max_message_length decides; a body of exactly that many characters (emoji count as one) is accepted."""
    org = make_org(api, database, "ml")
    set_limits(database, org.id, max_message_length=5)
    chat = group(database, org.id, org.owner, org.member)
    assert send(api, org.member, chat, "👍👍👍👍👍")["body"] == "👍👍👍👍👍"
    error = refusal(lambda: send(api, org.member, chat, "123456"))
    assert (error.status, error.details) == (400, "body_too_long")
    assert "5 characters" in error.message


def uploaded_attachment(database: testing.TestDatabase, chat: str, uploader: testing.TestUser, name: str) -> str:
    """Set-up: an attachments row as the upload path leaves it (issue 6), ready to be claimed by a send."""
    [(attachment,)] = as_owner(
        database,
        "insert into attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) "
        "values (%s, %s, %s, %s, 'image/png', 1024) returning id::text",
        (chat, uploader.id, f"{chat}/{uploader.id}/{uuid.uuid4()}-{name}", name),
    )
    return attachment


def test_attachments_without_caption_are_claimed_in_order(api: Api, database):
    """An image with an empty caption and two uploads: body '', the uploads claimed by the message in the order
    given (parley_internal.claim_attachments); someone else's upload is refused and nothing is sent."""
    org = make_org(api, database, "at")
    chat = group(database, org.id, org.owner, org.member)
    second, first = (uploaded_attachment(database, chat, org.member, name) for name in ("b.png", "a.png"))
    sent = send(api, org.member, chat, "", kind="image", attachment_ids=[first, second])
    assert (sent["kind"], sent["body"]) == ("image", "")
    claimed = as_owner(database, "select id::text, position from attachments where message_id = %s order by position",
                       (sent["id"],))  # fmt: skip
    assert claimed == [(first, 0), (second, 1)]
    theirs = uploaded_attachment(database, chat, org.owner, "c.png")
    error = refusal(lambda: send(api, org.member, chat, "", kind="image", attachment_ids=[theirs]))
    assert (error.status, error.details) == (404, "attachment_not_found")
    assert message_count(database, chat) == 1


def test_shallow_metadata_and_plain_kinds_are_accepted(api: Api, database):
    """Metadata objects within the limits are kept as sent; link and file kinds with a caption need no attachment."""
    org = make_org(api, database, "mk")
    chat = group(database, org.id, org.owner, org.member)
    metadata = {"link": {"url": "https://example.com", "preview": {"title": {"text": {"value": "x"}}}}}
    sent = send(api, org.member, chat, "see https://example.com", kind="link", metadata=metadata)
    assert (sent["kind"], sent["metadata"]) == ("link", metadata)
    assert send(api, org.member, chat, "a file caption", kind="file")["kind"] == "file"


@pytest.mark.parametrize("who", ["stranger", "outsider", "admin"])
def test_people_outside_a_group_get_404(api: Api, database, who):
    """A stranger, an admin of another organization and even an admin of this one (not in the group) see no group."""
    org = make_org(api, database, f"nf{who[:2]}")
    chat = group(database, org.id, org.owner, org.member)
    error = refusal(lambda: send(api, getattr(org, who), chat, "hi"))
    assert (error.status, error.code, error.details) == (404, "PT404", "conversation_not_found")
    missing = refusal(lambda: send(api, org.member, new_id(), "hi"))
    assert (missing.status, missing.details) == (404, "conversation_not_found")
    assert message_count(database, chat) == 0


def test_anonymous_requests_are_refused_with_401(api: Api, database):
    """No user, no message: every message RPC answers anon with 401 (42501, not executable by anon)."""
    org = make_org(api, database, "an")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.member, chat, "hi")
    anon = database.token("anon")
    calls = [
        ("send_message", {"conversation_id": chat, "body": "x"}),
        ("send_notice", {"organization_id": org.id, "user_id": str(org.member.id), "body": "x", "style": {}}),
        ("edit_message", {"message_id": message["id"], "body": "x"}),
        ("delete_message", {"message_id": message["id"]}),
        ("toggle_reaction", {"message_id": message["id"], "emoji": "👍"}),
        ("pin_message", {"message_id": message["id"]}),
        ("get_messages", {"conversation_id": chat}),
        ("get_pinned_messages", {"conversation_id": chat}),
    ]
    for function, arguments in calls:
        error = refusal(lambda function=function, arguments=arguments: api.rpc(function, arguments, token=anon))
        assert (function, error.status, error.code) == (function, 401, "42501")


def test_announcement_groups_let_only_owners_and_admins_post(api: Api, database):
    """posting_policy admins: members read but get 403 cannot_post; the owner and admins post."""
    org = make_org(api, database, "ap")
    chat = group(database, org.id, org.owner, org.member, admins=(org.admin,), posting_policy="admins")
    error = refusal(lambda: send(api, org.member, chat, "can I?"))
    assert (error.status, error.code, error.details) == (403, "42501", "cannot_post")
    assert send(api, org.admin, chat, "announcement")["sender_id"] == str(org.admin.id)
    assert send(api, org.owner, chat, "another")["sender_id"] == str(org.owner.id)
    assert message_count(database, chat) == 2


def test_plan_without_chat_refuses_sending_with_402(api: Api, database):
    """An organization on the free plan cannot send: 402 PT402 feature_disabled."""
    org = make_org(api, database, "pl")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.member, chat, "before the downgrade")
    as_owner(database, "update organizations set plan_id = 'free' where id = %s", (org.id,))
    error = refusal(lambda: send(api, org.member, chat, "after"))
    assert (error.status, error.code, error.details) == (402, "PT402", "feature_disabled")
    edit = refusal(lambda: api.rpc("edit_message", {"message_id": message["id"], "body": "x"}, token=org.member.token))
    assert (edit.status, edit.details) == (402, "feature_disabled")
    assert message_count(database, chat) == 1


def test_blocks_stop_direct_messages_both_ways(api: Api, database):
    """In a direct conversation, a block by either user refuses sends (403 blocked); unblocking restores them."""
    org = make_org(api, database, "bl")
    chat = direct(database, org.id, org.member, org.member2)
    send(api, org.member, chat, "hi")
    api.rpc("block_user", {"user_id": str(org.member2.id)}, token=org.member.token)
    for sender in (org.member, org.member2):
        error = refusal(lambda sender=sender: send(api, sender, chat, "still there?"))
        assert (error.status, error.code, error.details) == (403, "42501", "blocked")
    api.rpc("unblock_user", {"user_id": str(org.member2.id)}, token=org.member.token)
    assert send(api, org.member2, chat, "back")["body"] == "back"
    assert message_count(database, chat) == 2


def test_blocks_do_not_affect_groups(api: Api, database):
    """Blocks apply to direct conversations; in a shared group both users still post."""
    org = make_org(api, database, "bg")
    chat = group(database, org.id, org.owner, org.member, org.member2)
    api.rpc("block_user", {"user_id": str(org.member2.id)}, token=org.member.token)
    assert send(api, org.member2, chat, "hello group")["body"] == "hello group"


def test_replies_point_at_a_visible_message_of_the_same_conversation(api: Api, database):
    """reply_to_message_id must exist in this conversation and be visible to the sender, else 404 reply_not_found."""
    org = make_org(api, database, "rp")
    chat = group(database, org.id, org.owner, org.member, history_visibility="since_joined")
    other = group(database, org.id, org.owner, org.member)
    original = send(api, org.owner, chat, "question")
    elsewhere = send(api, org.owner, other, "elsewhere")
    reply = send(api, org.member, chat, "answer", reply_to_message_id=original["id"])
    assert reply["reply_to_message_id"] == original["id"]
    add_member(database, chat, org.member2)  # joins after `original`: cannot see it
    for target, sender in ((elsewhere["id"], org.member), (original["id"], org.member2), (10**12, org.member),
                           (0, org.member)):  # fmt: skip
        error = refusal(lambda target=target, sender=sender: send(api, sender, chat, "re", reply_to_message_id=target))
        assert (error.status, error.code, error.details) == (404, "PT404", "reply_not_found")
    assert message_count(database, chat) == 2


def test_mentions_are_recorded_deduplicated_and_private(api: Api, database):
    """Mentions become message_mentions rows (with the conversation id), once per user, never of yourself;
    each user reads only their own mention rows."""
    org = make_org(api, database, "mn")
    chat = group(database, org.id, org.owner, org.member, org.member2)
    sent = send(
        api,
        org.owner,
        chat,
        "@member @member2 @me",
        mentioned_user_ids=[str(org.member.id), str(org.member2.id), str(org.member.id), str(org.owner.id)],
    )
    rows = as_owner(database, "select user_id, conversation_id::text from message_mentions where message_id = %s "
                              "order by user_id", (sent["id"],))  # fmt: skip
    assert rows == sorted([(org.member.id, chat), (org.member2.id, chat)])
    mine = api.query("select message_id from message_mentions", token=org.member.token)
    assert mine == [{"message_id": sent["id"]}]
    assert api.query("select message_id from message_mentions", token=org.owner.token) == []


def test_mentioning_a_non_member_is_refused(api: Api, database):
    """Only members can be mentioned: 400 mention_not_member, nothing sent."""
    org = make_org(api, database, "mx")
    chat = group(database, org.id, org.owner, org.member)
    error = refusal(lambda: send(api, org.owner, chat, "@admin", mentioned_user_ids=[str(org.admin.id)]))
    assert (error.status, error.details) == (400, "mention_not_member")
    assert message_count(database, chat) == 0


def test_users_cannot_post_in_their_notices_conversation(api: Api, database):
    """Notices are read-only for their user: 403 cannot_post."""
    org = make_org(api, database, "nr")
    notice = api.rpc("send_notice", {"organization_id": org.id, "user_id": str(org.member.id),
                                     "body": "Welcome!", "style": None}, token=org.owner.token)  # fmt: skip
    error = refusal(lambda: send(api, org.member, notice["conversation_id"], "thanks"))
    assert (error.status, error.code, error.details) == (403, "42501", "cannot_post")


def test_staff_send_styled_notices_without_a_visible_sender(api: Api, database):
    """send_notice posts kind notice, sender_kind system (no sender) into the user's notices conversation, created
    once; the real staff user is recorded in message_senders only."""
    org = make_org(api, database, "ns")
    style = {"background": "#fff3cd", "text": "#664D03", "border": "#fec"}
    first = api.rpc(
        "send_notice",
        {"organization_id": org.id, "user_id": str(org.member.id), "body": "Your invoice is ready.", "style": style},
        token=org.admin.token,
    )
    assert (first["kind"], first["sender_kind"], first["sender_id"], first["persona_id"]) == (
        "notice",
        "system",
        None,
        None,
    )
    assert first["metadata"] == {"style": style}
    second = api.rpc(
        "send_notice",
        {"organization_id": org.id, "user_id": str(org.member.id), "body": "Reminder", "style": {}},
        token=org.owner.token,
    )
    assert second["conversation_id"] == first["conversation_id"]
    [conversation] = api.query(
        "select kind, subject_user_id from conversations where id = %s",
        (first["conversation_id"],),
        token=org.member.token,
    )
    assert (conversation["kind"], conversation["subject_user_id"]) == ("notices", org.member.id)
    page = api.rpc("get_messages", {"conversation_id": first["conversation_id"]}, token=org.member.token)
    assert [row["body"] for row in page] == ["Reminder", "Your invoice is ready."]
    senders = as_owner(
        database,
        "select message_id, sender_id from parley_internal.message_senders "
        "where message_id in (%s, %s) order by message_id",
        (first["id"], second["id"]),
    )
    assert senders == [(first["id"], org.admin.id), (second["id"], org.owner.id)]


@pytest.mark.parametrize(("style", "reason"), [
    ({"background": "red"}, "invalid_style"),
    ({"background": "#12345"}, "invalid_style"),
    ({"background": "#GGG"}, "invalid_style"),
    ({"font": "#fff"}, "invalid_style"),
    ({"text": 255}, "invalid_style"),
    (["#fff"], "invalid_style"),
])  # fmt: skip
def test_notice_styles_are_validated(api: Api, database, style, reason):
    """A style has only background, text and border, each #RGB or #RRGGBB: anything else is 400 invalid_style."""
    org = make_org(api, database, "st")
    error = refusal(
        lambda: api.rpc(
            "send_notice",
            {"organization_id": org.id, "user_id": str(org.member.id), "body": "x", "style": style},
            token=org.admin.token,
        )
    )
    assert (error.status, error.details) == (400, reason)
    assert organization_message_count(database, org.id) == 0


def test_send_notice_refusals(api: Api, database):
    """Members without chat.send_notice get 403, outsiders 404 organization_not_found, non-member targets 404
    user_not_found, bad bodies 400; nothing is written."""
    org = make_org(api, database, "nf")

    def notice(caller: testing.TestUser, user: testing.TestUser, body: str = "x") -> object:
        return api.rpc("send_notice", {"organization_id": org.id, "user_id": str(user.id), "body": body,
                                       "style": {}}, token=caller.token)  # fmt: skip

    cases = [
        (org.member, org.member2, "x", 403, "no_permission"),
        (org.outsider, org.member, "x", 404, "organization_not_found"),
        (org.admin, org.stranger, "x", 404, "user_not_found"),
        (org.admin, org.member, "  ", 400, "empty_body"),
    ]
    for caller, user, body, status, reason in cases:
        error = refusal(lambda caller=caller, user=user, body=body: notice(caller, user, body))
        assert (status, reason) == (error.status, error.details)
    assert organization_message_count(database, org.id) == 0
    assert as_owner(database, "select 1 from conversations where organization_id = %s", (org.id,)) == []


def test_support_agents_answer_as_a_persona_and_the_real_user_stays_private(api: Api, database):
    """as_persona_id in a support conversation: sender_kind persona with no sender_id; the agent is in
    message_senders and persona_acts ('message.send', the conversation), which the member cannot read."""
    org = make_org(api, database, "ps")
    team = persona(api, org.id, org.owner)
    chat = support(database, org.id, org.member)
    send(api, org.member, chat, "I need help")
    answer = send(api, org.admin, chat, "How can we help?", as_persona_id=team)
    assert (answer["sender_kind"], answer["sender_id"], answer["persona_id"]) == ("persona", None, team)
    assert as_owner(
        database,
        "select sender_id, persona_id::text from parley_internal.message_senders where message_id = %s",
        (answer["id"],),
    ) == [(org.admin.id, team)]
    acts = as_owner(database, "select acting_user_id, action, subject_id::text from persona_acts "
                              "where persona_id = %s", (team,))  # fmt: skip
    assert acts == [(org.admin.id, "message.send", chat)]
    seen = api.rpc("get_messages", {"conversation_id": chat}, token=org.member.token)
    assert [(row["sender_kind"], row["sender_id"]) for row in seen] == [("persona", None), ("user", str(org.member.id))]
    assert api.query("select * from persona_acts", token=org.member.token) == []


def test_staff_answer_support_as_support(api: Api, database):
    """Issue 12 (seed 001): without as_persona_id a support agent posts as "Support" (sender_kind support, no
    sender id); the real sender stays in message_senders, and any support agent may edit the reply."""
    org = make_org(api, database, "sa")
    chat = support(database, org.id, org.member)
    sent = send(api, org.admin, chat, "Hi, I am Ann from support")
    assert (sent["sender_kind"], sent["sender_id"], sent["persona_id"]) == ("support", None, None)
    assert as_owner(database, "select sender_id::text from parley_internal.message_senders where message_id = %s",
                    (sent["id"],)) == [(str(org.admin.id),)]  # fmt: skip
    edited = api.rpc("edit_message", {"message_id": sent["id"], "body": "Hi from support"}, token=org.owner.token)
    assert edited["body"] == "Hi from support"


def test_persona_direct_conversations_need_the_persona(api: Api, database):
    """Staff post in a persona's direct conversation only as that persona (400 persona_required otherwise);
    the user posts as themselves."""
    org = make_org(api, database, "pd")
    team = persona(api, org.id, org.owner)
    chat = persona_direct(database, org.id, team, org.member)
    assert send(api, org.member, chat, "hello persona")["sender_kind"] == "user"
    error = refusal(lambda: send(api, org.admin, chat, "it's me"))
    assert (error.status, error.details) == (400, "persona_required")
    assert send(api, org.admin, chat, "Hello from the team", as_persona_id=team)["persona_id"] == team


def test_personas_are_refused_outside_support_and_their_own_conversations(api: Api, database):
    """as_persona_id in a group or another persona's conversation: 400 persona_not_allowed; without
    chat.support_agent: 403 no_permission; a persona of another organization: 404 persona_not_found."""
    org = make_org(api, database, "pn")
    team, other_team = persona(api, org.id, org.owner), persona(api, org.id, org.owner, "Billing")
    chat = group(database, org.id, org.owner, org.member, admins=(org.admin,))
    error = refusal(lambda: send(api, org.admin, chat, "as persona", as_persona_id=team))
    assert (error.status, error.details) == (400, "persona_not_allowed")
    persona_chat = persona_direct(database, org.id, team, org.member)
    error = refusal(lambda: send(api, org.admin, persona_chat, "wrong persona", as_persona_id=other_team))
    assert (error.status, error.details) == (400, "persona_not_allowed")
    support_chat = support(database, org.id, org.member)
    error = refusal(lambda: send(api, org.member, support_chat, "I am the team", as_persona_id=team))
    assert (error.status, error.details) == (403, "no_permission")
    elsewhere = make_org(api, database, "pn2")
    foreign = persona(api, elsewhere.id, elsewhere.owner)
    error = refusal(lambda: send(api, org.admin, support_chat, "x", as_persona_id=foreign))
    assert (error.status, error.details) == (404, "persona_not_found")
    assert organization_message_count(database, org.id) == 0


def test_system_messages_are_internal(api: Api, database):
    """post_system_message writes a kind system message without sender; API roles cannot call it."""
    org = make_org(api, database, "sy")
    chat = group(database, org.id, org.owner, org.member)
    [(posted,)] = as_owner(
        database,
        "select to_jsonb(parley_internal.post_system_message(%s, %s, %s))",
        (chat, "Ann joined", '{"event": "member_added"}'),
    )
    assert (posted["kind"], posted["sender_kind"], posted["sender_id"], posted["metadata"]) == (
        "system",
        "system",
        None,
        {"event": "member_added"},
    )
    assert [row["body"] for row in api.rpc("get_messages", {"conversation_id": chat}, token=org.member.token)] == [
        "Ann joined"
    ]
    error = refusal(
        lambda: api.query(
            "select parley_internal.post_system_message(%s, 'x', '{}')", (chat,), token=org.member.token, method="POST"
        )
    )
    assert (error.status, error.code) == (403, "42501")


def edit(api: Api, user: testing.TestUser, message: dict, body: str) -> dict:
    """edit_message as ``user``."""
    return api.rpc("edit_message", {"message_id": message["id"], "body": body}, token=user.token)


def test_authors_edit_and_the_previous_body_is_kept(api: Api, database):
    """edit_message changes the body, sets edited_at, records the previous body and editor in message_edits
    (readable by members); repeating the same edit records nothing more."""
    org = make_org(api, database, "ed")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.member, chat, "helo")
    edited = edit(api, org.member, message, "hello")
    assert (edited["body"], edited["id"]) == ("hello", message["id"]) and edited["edited_at"] is not None
    again = edit(api, org.member, message, "hello")
    assert again["edited_at"] == edited["edited_at"]
    history = api.query(
        "select edited_by, previous_body from message_edits where message_id = %s",
        (message["id"],),
        token=org.owner.token,
    )
    assert history == [{"edited_by": org.member.id, "previous_body": "helo"}]


def test_edit_refusals(api: Api, database):
    """Others get 403 not_author, strangers 404, bad bodies 400, deleted messages 409 message_deleted, and after
    the edit window 409 edit_window_closed; none of them changes the message."""
    org = make_org(api, database, "er")
    chat = group(database, org.id, org.owner, org.member, admins=(org.admin,))
    message = send(api, org.member, chat, "original")
    for user, body, status, reason in [(org.admin, "x", 403, "not_author"), (org.owner, "x", 403, "not_author"),
                                       (org.stranger, "x", 404, "message_not_found"),
                                       (org.member, " ", 400, "empty_body"),
                                       (org.member, "a\rb", 400, "control_characters")]:  # fmt: skip
        error = refusal(lambda user=user, body=body: edit(api, user, message, body))
        assert (status, reason) == (error.status, error.details)
    set_limits(database, org.id, edit_window_seconds=60)
    as_owner(database, "update messages set created_at = now() - interval '2 minutes' where id = %s", (message["id"],))
    error = refusal(lambda: edit(api, org.member, message, "late"))
    assert (error.status, error.code, error.details) == (409, "PT409", "edit_window_closed")
    fresh = send(api, org.member, chat, "fresh")
    assert edit(api, org.member, fresh, "fresh, edited")["body"] == "fresh, edited"
    api.rpc("delete_message", {"message_id": fresh["id"]}, token=org.member.token)
    error = refusal(lambda: edit(api, org.member, fresh, "zombie"))
    assert (error.status, error.details) == (409, "message_deleted")
    [(body,)] = as_owner(database, "select body from messages where id = %s", (message["id"],))
    assert body == "original"


def test_persona_messages_are_edited_by_agents_who_may_act_as_the_persona(api: Api, database):
    """Any support agent of the persona's organization edits its messages; the member it was sent to cannot."""
    org = make_org(api, database, "pe")
    team = persona(api, org.id, org.owner)
    chat = support(database, org.id, org.member)
    message = send(api, org.admin, chat, "We are lookin into it", as_persona_id=team)
    assert edit(api, org.owner, message, "We are looking into it")["body"] == "We are looking into it"
    error = refusal(lambda: edit(api, org.member, message, "hijack"))
    assert (error.status, error.details) == (403, "not_author")


def test_delete_leaves_a_tombstone_without_content(api: Api, database):
    """delete_message keeps the row (id, sender, place) but drops body, metadata, pin, edit history, reactions and
    mentions; a second delete is 409 already_deleted."""
    org = make_org(api, database, "dl")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.member, chat, "secret", metadata={"x": 1}, mentioned_user_ids=[str(org.owner.id)])
    edit(api, org.member, message, "secret v2")
    api.rpc("toggle_reaction", {"message_id": message["id"], "emoji": "👍"}, token=org.owner.token)
    api.rpc("pin_message", {"message_id": message["id"]}, token=org.owner.token)
    deleted = api.rpc("delete_message", {"message_id": message["id"]}, token=org.member.token)
    assert (deleted["body"], deleted["metadata"], deleted["deleted_by"], deleted["pinned_at"]) == (
        None,
        {},
        str(org.member.id),
        None,
    )
    assert deleted["deleted_at"] is not None and deleted["sender_id"] == str(org.member.id)
    for table in ("message_edits", "message_reactions", "message_mentions"):
        assert as_owner(database, f"select 1 from {table} where message_id = %s", (message["id"],)) == []
    error = refusal(lambda: api.rpc("delete_message", {"message_id": message["id"]}, token=org.member.token))
    assert (error.status, error.code, error.details) == (409, "PT409", "already_deleted")
    [row] = api.rpc("get_messages", {"conversation_id": chat}, token=org.owner.token)
    assert (row["id"], row["body"], row["reactions"]) == (message["id"], None, [])


def test_moderators_delete_others_messages_and_members_cannot(api: Api, database):
    """Group owners/admins and staff with chat.delete delete any message they can read; other members get 403."""
    org = make_org(api, database, "dm")
    chat = group(database, org.id, org.owner, org.member, org.member2, admins=(org.admin,))
    messages = [send(api, org.member, chat, f"m{n}") for n in range(2)]
    error = refusal(lambda: api.rpc("delete_message", {"message_id": messages[0]["id"]}, token=org.member2.token))
    assert (error.status, error.code, error.details) == (403, "42501", "no_permission")
    assert api.rpc("delete_message", {"message_id": messages[0]["id"]}, token=org.admin.token)["deleted_by"] == str(
        org.admin.id
    )
    assert api.rpc("delete_message", {"message_id": messages[1]["id"]}, token=org.owner.token)["deleted_at"]
    help_chat = support(database, org.id, org.member2)
    complaint = send(api, org.member2, help_chat, "spam")
    assert api.rpc("delete_message", {"message_id": complaint["id"]}, token=org.admin.token)["body"] is None
    hidden = refusal(lambda: api.rpc("delete_message", {"message_id": complaint["id"]}, token=org.outsider.token))
    assert (hidden.status, hidden.details) == (404, "message_not_found")


def react(api: Api, user: testing.TestUser, message: dict, emoji: str) -> list[dict]:
    """toggle_reaction as ``user``."""
    return api.rpc("toggle_reaction", {"message_id": message["id"], "emoji": emoji}, token=user.token)


def test_reactions_toggle_and_summarize_per_viewer(api: Api, database):
    """toggle_reaction adds then removes; the summary counts per emoji and says whether the caller reacted."""
    org = make_org(api, database, "rx")
    chat = group(database, org.id, org.owner, org.member, org.member2)
    message = send(api, org.owner, chat, "party?")
    assert react(api, org.member, message, "🎉") == [{"emoji": "🎉", "count": 1, "reacted_by_me": True}]
    assert react(api, org.member2, message, "🎉") == [{"emoji": "🎉", "count": 2, "reacted_by_me": True}]
    assert react(api, org.owner, message, "👍🏽") == [
        {"emoji": "🎉", "count": 2, "reacted_by_me": False},
        {"emoji": "👍🏽", "count": 1, "reacted_by_me": True},
    ]
    assert react(api, org.member, message, "🎉") == [
        {"emoji": "🎉", "count": 1, "reacted_by_me": False},
        {"emoji": "👍🏽", "count": 1, "reacted_by_me": False},
    ]
    [row] = api.rpc("get_messages", {"conversation_id": chat}, token=org.member2.token)
    assert row["reactions"] == [
        {"emoji": "🎉", "count": 1, "reacted_by_me": True},
        {"emoji": "👍🏽", "count": 1, "reacted_by_me": False},
    ]
    visible = api.query("select emoji, user_id from message_reactions order by emoji", token=org.member.token)
    assert visible == [{"emoji": "🎉", "user_id": org.member2.id}, {"emoji": "👍🏽", "user_id": org.owner.id}]


@pytest.mark.parametrize("emoji", ["👍", "🇫🇷", "1️⃣", "👨‍👩‍👧", "❤️", ":party_parrot:"])
def test_emoji_sequences_and_shortcodes_are_accepted(api: Api, database, emoji):
    """Flags, keycaps, ZWJ families, variation selectors and :shortcodes: are valid reactions."""
    org = make_org(api, database, "ok")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.owner, chat, "react")
    assert react(api, org.member, message, emoji)[0]["emoji"] == emoji


@pytest.mark.parametrize("emoji", ["", "ok", "a b", "👍 ", "\u0007", "👍" * 33, ":Bad Code:", "#"])
def test_invalid_reactions_are_refused(api: Api, database, emoji):
    """Text, spaces, control characters, over 32 characters: 400 invalid_emoji, nothing stored."""
    org = make_org(api, database, "ie")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.owner, chat, "react")
    error = refusal(lambda: react(api, org.member, message, emoji))
    assert (error.status, error.code, error.details) == (400, "P0001", "invalid_emoji")
    assert as_owner(database, "select 1 from message_reactions where message_id = %s", (message["id"],)) == []


def test_reaction_refusals(api: Api, database):
    """Strangers get 404 message_not_found, tombstones 409 message_deleted, a 21st emoji 409 too_many_reactions."""
    org = make_org(api, database, "rr")
    chat = group(database, org.id, org.owner, org.member)
    message = send(api, org.owner, chat, "react")
    error = refusal(lambda: react(api, org.stranger, message, "👍"))
    assert (error.status, error.details) == (404, "message_not_found")
    emoji = [chr(0x1F600 + n) for n in range(21)]
    for face in emoji[:20]:
        react(api, org.member, message, face)
    error = refusal(lambda: react(api, org.member, message, emoji[20]))
    assert (error.status, error.details) == (409, "too_many_reactions")
    api.rpc("delete_message", {"message_id": message["id"]}, token=org.owner.token)
    error = refusal(lambda: react(api, org.member, message, "👍"))
    assert (error.status, error.details) == (409, "message_deleted")


def pin(api: Api, user: testing.TestUser, message: dict, pinned: bool = True) -> dict:
    """pin_message as ``user``."""
    return api.rpc("pin_message", {"message_id": message["id"], "pinned": pinned}, token=user.token)


def test_group_moderators_pin_and_members_cannot(api: Api, database):
    """In groups owners and admins pin and unpin; members get 403; get_pinned_messages lists pins newest first."""
    org = make_org(api, database, "pg")
    chat = group(database, org.id, org.owner, org.member, admins=(org.admin,))
    first, second = send(api, org.member, chat, "rules"), send(api, org.member, chat, "faq")
    error = refusal(lambda: pin(api, org.member, first))
    assert (error.status, error.code, error.details) == (403, "42501", "no_permission")
    pinned = pin(api, org.admin, first)
    assert pinned["pinned_by"] == str(org.admin.id) and pinned["pinned_at"] is not None
    assert pin(api, org.owner, first)["pinned_by"] == str(org.admin.id)  # pinning again keeps the first pin
    pin(api, org.owner, second)
    listed = api.rpc("get_pinned_messages", {"conversation_id": chat}, token=org.member.token)
    assert [row["id"] for row in listed] == [second["id"], first["id"]]
    assert pin(api, org.admin, second, pinned=False)["pinned_at"] is None
    assert [row["id"] for row in api.rpc("get_pinned_messages", {"conversation_id": chat},
                                         token=org.member.token)] == [first["id"]]  # fmt: skip


def test_direct_and_support_members_pin(api: Api, database):
    """Both users of a direct conversation, and the user and staff of a support conversation, may pin."""
    org = make_org(api, database, "pp")
    chat = direct(database, org.id, org.member, org.member2)
    message = send(api, org.member, chat, "address: ...")
    assert pin(api, org.member2, message)["pinned_by"] == str(org.member2.id)
    help_chat = support(database, org.id, org.member)
    question = send(api, org.member, help_chat, "order #123")
    assert pin(api, org.member, question)["pinned_at"] is not None
    assert pin(api, org.admin, question, pinned=False)["pinned_at"] is None
    error = refusal(lambda: pin(api, org.stranger, question))
    assert (error.status, error.details) == (404, "message_not_found")


def test_pin_refusals(api: Api, database):
    """Deleted messages cannot be pinned (409 message_deleted); the 51st pin is 409 too_many_pins."""
    org = make_org(api, database, "pr")
    chat = direct(database, org.id, org.member, org.member2)
    messages = [send(api, org.member, chat, f"m{n}") for n in range(51)]
    api.rpc("delete_message", {"message_id": messages[0]["id"]}, token=org.member.token)
    error = refusal(lambda: pin(api, org.member, messages[0]))
    assert (error.status, error.details) == (409, "message_deleted")
    for message in messages[1:]:
        pin(api, org.member, message)
    extra = send(api, org.member, chat, "one more")
    error = refusal(lambda: pin(api, org.member, extra))
    assert (error.status, error.details) == (409, "too_many_pins")


def test_messages_flow_through_conversations_made_by_the_conversation_rpcs(api: Api, database):
    """End to end with the conversation RPCs (functions/{direct,group,support}_conversations.sql): a direct
    conversation, a group with slow mode and a support conversation answered by a persona, all created through the
    RPCs, take messages as specified."""
    org = make_org(api, database, "e2e")
    dm = api.rpc("get_or_create_direct_conversation", {"organization_id": org.id, "other_user_id": str(org.member2.id)},
                 token=org.member.token)  # fmt: skip
    assert send(api, org.member, dm["id"], "hi there")["sender_id"] == str(org.member.id)
    assert [row["body"] for row in api.rpc("get_messages", {"conversation_id": dm["id"]}, token=org.member2.token)] == [
        "hi there"
    ]
    room = api.rpc("create_group_conversation", {"organization_id": org.id, "title": "Room",
                                                 "member_ids": [str(org.member.id)], "slow_mode_seconds": 60},
                   token=org.owner.token)  # fmt: skip
    send(api, org.member, room["id"], "first")
    assert refusal(lambda: send(api, org.member, room["id"], "second")).details == "slow_mode"
    send(api, org.owner, room["id"], "owners are exempt")
    help_chat = api.rpc("get_or_create_support_conversation", {"organization_id": org.id}, token=org.member.token)
    team = persona(api, org.id, org.owner)
    send(api, org.member, help_chat["id"], "help")
    answer = send(api, org.admin, help_chat["id"], "on it", as_persona_id=team)
    assert (answer["sender_kind"], answer["persona_id"]) == ("persona", team)


def test_no_reaction_outlives_a_concurrent_delete(api: Api, database):
    """Reactions racing a delete (8 threads toggling while the author deletes): afterwards the tombstone has no
    reactions, and every toggle either landed before the delete or was refused 409 message_deleted."""
    org = make_org(api, database, "rd")
    users = [database.create_user(f"rd_u{n}") for n in range(8)]
    for user in users:  # set-up: members of the organization (chat.view), as group members always are
        as_owner(database, "insert into organization_members (organization_id, user_id, role) "
                           "values (%s, %s, 'member')", (org.id, user.id))  # fmt: skip
    chat = group(database, org.id, org.owner, org.member, *users)
    for attempt in range(3):
        message = send(api, org.member, chat, f"round {attempt}")

        def toggle(user: testing.TestUser, message: dict = message) -> str:
            try:
                react(api, user, message, "🔥")
            except ApiError as error:
                return error.details or ""
            return "ok"

        with ThreadPoolExecutor(max_workers=9) as pool:
            toggles = [pool.submit(toggle, user) for user in users]
            pool.submit(api.rpc, "delete_message", {"message_id": message["id"]}, token=org.member.token).result()
            outcomes = {future.result() for future in toggles}
        assert outcomes <= {"ok", "message_deleted"}
        assert as_owner(database, "select 1 from message_reactions where message_id = %s", (message["id"],)) == []
