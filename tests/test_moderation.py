"""Moderation through the request path (issue 18): reports and the queue, bans, mutes, kicks, the audit trail.

Everything asserted goes through parley.db.Api as the users (set-up of conversations as the owner, see
messaging_support). Expiry is simulated by moving a restriction's times back as the database owner.
"""

from __future__ import annotations

from typing import Any

import pytest

from identity_support import as_owner, organization_with, refusal
from messaging_support import GENEROUS_LIMITS, direct, group, send, set_limits
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser


@pytest.fixture(scope="module")
def people(database: TestDatabase) -> dict[str, TestUser]:
    names = ("owner", "moderator", "member", "troll", "bystander", "outsider", "other_owner")
    return {name: database.create_user(f"mod_{name}") for name in names}


@pytest.fixture(scope="module")
def organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    organization = organization_with(api, database, people["owner"], admin=people["moderator"],
                                     member=people["member"], member2=people["troll"],
                                     member3=people["bystander"])  # fmt: skip
    set_limits(database, organization, **GENEROUS_LIMITS)
    return organization


@pytest.fixture(scope="module")
def other_organization(api: Api, database: TestDatabase, people: dict[str, TestUser]) -> str:
    return organization_with(api, database, people["other_owner"], member=people["outsider"])


def report(api: Api, user: TestUser, message: dict[str, Any], reason: str = "harassment", **extra: Any):
    return api.rpc("report_message", {"message_id": message["id"], "reason": reason, **extra}, token=user.token)


def queue(api: Api, user: TestUser, organization: str) -> list[dict[str, Any]]:
    return api.query("select * from message_reports where organization_id = %s and status = 'open' order by id",
                     (organization,), token=user.token)  # fmt: skip


def audit_actions(api: Api, owner: TestUser, organization: str, since: int) -> list[str]:
    rows = api.query("select action from audit_log where organization_id = %s and id > %s order by id",
                     (organization, since), token=owner.token)  # fmt: skip
    return [row["action"] for row in rows]


def newest_audit_id(database: TestDatabase) -> int:
    [(newest,)] = as_owner(database, "select coalesce(max(id), 0) from audit_log")
    return newest


def test_a_report_keeps_evidence_after_a_moderator_deletes_the_message_and_hides_the_moderator(
    api: Api, database: TestDatabase, people, organization
):
    member, troll, moderator, bystander = people["member"], people["troll"], people["moderator"], people["bystander"]
    room = group(database, organization, people["owner"], member, troll, bystander)
    bad = send(api, troll, room, "you are all idiots")
    since = newest_audit_id(database)
    created = report(api, member, bad, note="insulting everyone")
    assert created["status"] == "open"
    # Idempotent: reporting the same message again returns the first report.
    assert report(api, member, bad, reason="spam")["id"] == created["id"]

    # The queue: moderators (chat.moderate: owners and admins by default) see it; plain members do not.
    [queued] = [r for r in queue(api, moderator, organization) if r["id"] == created["id"]]
    assert (queued["reason"], queued["note"], queued["evidence"]["body"]) == (
        "harassment",
        "insulting everyone",
        "you are all idiots",
    )
    assert str(queued["reported_user_id"]) == str(troll.id) and str(queued["reporter_id"]) == str(member.id)
    assert queue(api, bystander, organization) == []
    assert queue(api, member, organization) == []

    resolved = api.rpc("resolve_report", {"report_id": created["id"], "status": "actioned",
                                          "resolution_note": "removed", "delete_message": True},
                       token=moderator.token)  # fmt: skip
    assert resolved["status"] == "actioned" and str(resolved["resolved_by"]) == str(moderator.id)
    [tombstone] = api.query("select body, deleted_at, deleted_by from messages where id = %s", (bad["id"],),
                            token=member.token)  # fmt: skip
    assert tombstone["body"] is None and tombstone["deleted_at"] is not None
    assert tombstone["deleted_by"] is None, "the reporter must not learn which moderator deleted it"
    # The evidence outlives the message's content, for moderators.
    [kept] = api.query("select evidence, status from message_reports where id = %s", (created["id"],),
                       token=moderator.token)  # fmt: skip
    assert kept["evidence"]["body"] == "you are all idiots" and kept["status"] == "actioned"
    # The reporter follows the report without learning who acted.
    [mine] = [r for r in api.rpc("my_reports", {}, token=member.token) if r["id"] == created["id"]]
    assert mine["status"] == "actioned" and mine["resolved_by"] is None
    assert refusal(lambda: api.rpc("resolve_report", {"report_id": created["id"], "status": "dismissed"},
                                   token=moderator.token)).details == "already_resolved"  # fmt: skip
    actions = audit_actions(api, people["owner"], organization, since)
    assert actions.count("message_report.create") == 1
    assert "message.delete" in actions and "message_report.actioned" in actions


def test_the_organization_may_reveal_the_moderator_to_reporters(api: Api, database: TestDatabase, people,
                                                                 organization):  # fmt: skip
    member, troll, moderator = people["member"], people["troll"], people["moderator"]
    room = group(database, organization, people["owner"], member, troll)
    api.query("update organization_settings set moderation_reveal_moderator = true where organization_id = %s "
              "returning 1", (organization,), token=people["owner"].token, method="PATCH")  # fmt: skip
    try:
        bad = send(api, troll, room, "spam spam spam")
        created = report(api, member, bad, reason="spam")
        api.rpc("resolve_report", {"report_id": created["id"], "status": "actioned", "delete_message": True},
                token=moderator.token)  # fmt: skip
        [mine] = [r for r in api.rpc("my_reports", {}, token=member.token) if r["id"] == created["id"]]
        assert str(mine["resolved_by"]) == str(moderator.id)
        [tombstone] = api.query("select deleted_by from messages where id = %s", (bad["id"],), token=member.token)
        assert str(tombstone["deleted_by"]) == str(moderator.id)
    finally:
        as_owner(database, "update organization_settings set moderation_reveal_moderator = false "
                           "where organization_id = %s", (organization,))  # fmt: skip


def test_reports_cannot_be_used_to_probe_a_conversation_the_reporter_is_not_in(
    api: Api, database: TestDatabase, people, organization
):
    member, troll, bystander = people["member"], people["troll"], people["bystander"]
    private = direct(database, organization, member, troll)
    secret = send(api, troll, private, "private words")
    not_in = refusal(lambda: report(api, bystander, secret))
    missing = refusal(lambda: report(api, bystander, {"id": 987654321}))
    assert (not_in.status, not_in.details, not_in.message) == (missing.status, missing.details, missing.message)
    assert not_in.status == 404 and not_in.details == "message_not_found"
    assert refusal(lambda: report(api, people["outsider"], secret)).details == "message_not_found"
    # Own messages and bad input are refused before anything is written.
    assert refusal(lambda: report(api, troll, secret)).details == "own_message"
    assert refusal(lambda: report(api, member, secret, reason="boring")).details == "invalid_reason"
    assert refusal(lambda: report(api, member, secret, note="x" * 1001)).details == "note_too_long"
    [(count,)] = as_owner(database, "select count(*) from message_reports where message_id = %s", (secret["id"],))
    assert count == 0


def test_an_organization_ban_stops_sends_everywhere_until_lifted(api: Api, database: TestDatabase, people,
                                                                 organization):  # fmt: skip
    troll, moderator, member = people["troll"], people["moderator"], people["member"]
    room = group(database, organization, people["owner"], member, troll)
    private = direct(database, organization, people["bystander"], troll)
    since = newest_audit_id(database)
    ban = api.rpc("ban_user", {"organization_id": organization, "user_id": str(troll.id), "reason": "abuse"},
                  token=moderator.token)  # fmt: skip
    assert ban["kind"] == "ban" and ban["conversation_id"] is None and ban["expires_at"] is None
    for conversation in (room, private):
        refused = refusal(lambda conversation=conversation: send(api, troll, conversation, "let me in"))
        assert (refused.status, refused.details) == (403, "banned")
    # The banned user sees the restriction, not who imposed it.
    [mine] = api.rpc("my_restrictions", {}, token=troll.token)
    assert mine["kind"] == "ban" and mine["created_by"] is None
    # Others are unaffected.
    send(api, member, room, "still talking")
    api.rpc("lift_restriction", {"restriction_id": ban["id"]}, token=moderator.token)
    assert send(api, troll, room, "sorry")["body"] == "sorry"
    assert api.rpc("my_restrictions", {}, token=troll.token) == []
    assert refusal(lambda: api.rpc("lift_restriction", {"restriction_id": ban["id"]},
                                   token=moderator.token)).details == "already_lifted"  # fmt: skip
    assert audit_actions(api, people["owner"], organization, since) == ["moderation.ban", "moderation.lift"]


def test_a_ban_with_an_expiry_ends_by_itself(api: Api, database: TestDatabase, people, organization):
    troll, moderator = people["troll"], people["moderator"]
    room = group(database, organization, people["owner"], troll)
    ban = api.rpc("ban_user", {"organization_id": organization, "user_id": str(troll.id),
                               "expires_at": "2999-01-01T00:00:00Z"}, token=moderator.token)  # fmt: skip
    assert refusal(lambda: send(api, troll, room, "hi")).details == "banned"
    as_owner(database, "update moderation_restrictions set created_at = now() - interval '2 hours', "
                       "expires_at = now() - interval '1 second' where id = %s", (ban["id"],))  # fmt: skip
    assert send(api, troll, room, "back")["body"] == "back"
    past = refusal(
        lambda: api.rpc(
            "ban_user",
            {"organization_id": organization, "user_id": str(troll.id), "expires_at": "2001-01-01T00:00:00Z"},
            token=moderator.token,
        )
    )
    assert past.details == "invalid_expiry"


def test_a_group_ban_removes_the_member_and_keeps_them_out(api: Api, database: TestDatabase, people, organization):
    troll, moderator, owner = people["troll"], people["moderator"], people["owner"]
    room = group(database, organization, owner, people["member"], troll)
    elsewhere = group(database, organization, owner, troll)
    ban = api.rpc("ban_user", {"organization_id": organization, "user_id": str(troll.id), "conversation_id": room},
                  token=moderator.token)  # fmt: skip
    assert ban["conversation_id"] == room
    assert api.query("select 1 from conversation_members where conversation_id = %s and user_id = %s",
                     (room, troll.id), token=owner.token) == []  # fmt: skip
    [notice] = api.query("select body, metadata from messages where conversation_id = %s and kind = 'system' "
                         "order by id desc limit 1", (room,), token=owner.token)  # fmt: skip
    assert notice["body"].endswith("was removed by a moderator") and notice["metadata"]["actor_id"] is None
    rejoin = refusal(
        lambda: api.rpc(
            "add_conversation_members", {"conversation_id": room, "user_ids": [str(troll.id)]}, token=owner.token
        )
    )
    assert (rejoin.status, rejoin.details) == (403, "banned")
    # Only that group: the troll still talks elsewhere.
    assert send(api, troll, elsewhere, "here I may")["body"] == "here I may"
    api.rpc("lift_restriction", {"restriction_id": ban["id"]}, token=moderator.token)
    [added] = api.rpc("add_conversation_members", {"conversation_id": room, "user_ids": [str(troll.id)]},
                      token=owner.token)  # fmt: skip
    assert str(added["user_id"]) == str(troll.id)


def test_a_mute_lasts_its_duration(api: Api, database: TestDatabase, people, organization):
    troll, moderator = people["troll"], people["moderator"]
    room = group(database, organization, people["owner"], troll)
    other_room = group(database, organization, people["owner"], troll)
    since = newest_audit_id(database)
    mute = api.rpc("mute_user", {"organization_id": organization, "user_id": str(troll.id),
                                 "duration_seconds": 600, "conversation_id": room}, token=moderator.token)  # fmt: skip
    assert mute["kind"] == "mute" and mute["expires_at"] is not None
    refused = refusal(lambda: send(api, troll, room, "hello?"))
    assert (refused.status, refused.details) == (403, "muted")
    assert send(api, troll, other_room, "elsewhere is fine")["body"] == "elsewhere is fine"
    # Muting again replaces the duration (one active mute per scope).
    again = api.rpc("mute_user", {"organization_id": organization, "user_id": str(troll.id),
                                  "duration_seconds": 60, "conversation_id": room}, token=moderator.token)  # fmt: skip
    assert again["id"] == mute["id"] and again["expires_at"] < mute["expires_at"]
    as_owner(database, "update moderation_restrictions set created_at = now() - interval '1 hour', "
                       "expires_at = now() - interval '1 second' where id = %s", (mute["id"],))  # fmt: skip
    assert send(api, troll, room, "I am back")["body"] == "I am back"
    bad = refusal(
        lambda: api.rpc(
            "mute_user",
            {"organization_id": organization, "user_id": str(troll.id), "duration_seconds": 0},
            token=moderator.token,
        )
    )
    assert bad.details == "invalid_duration"
    assert audit_actions(api, people["owner"], organization, since)[:2] == ["moderation.mute", "moderation.mute_update"]


def test_kick_removes_a_member_who_may_be_added_again(api: Api, database: TestDatabase, people, organization):
    troll, moderator, owner = people["troll"], people["moderator"], people["owner"]
    room = group(database, organization, owner, troll)
    since = newest_audit_id(database)
    assert api.rpc("kick_member", {"conversation_id": room, "user_id": str(troll.id), "reason": "cool off"},
                   token=moderator.token) is True  # fmt: skip
    assert refusal(lambda: send(api, troll, room, "hi")).status == 404
    api.rpc("add_conversation_members", {"conversation_id": room, "user_ids": [str(troll.id)]}, token=owner.token)
    assert send(api, troll, room, "hi again")["body"] == "hi again"
    actions = audit_actions(api, owner, organization, since)
    assert "moderation.kick" in actions and "conversation_member.remove" in actions
    assert refusal(lambda: api.rpc("kick_member", {"conversation_id": room, "user_id": str(owner.id)},
                                   token=moderator.token)).details == "cannot_moderate_user"  # fmt: skip
    assert api.rpc("verify_audit_log", {"organization_id": organization}, token=owner.token)["ok"] is True


def test_only_moderators_moderate_and_never_the_owner_or_themselves(api: Api, database: TestDatabase, people,
                                                                    organization, other_organization):  # fmt: skip
    member, troll, moderator, owner = people["member"], people["troll"], people["moderator"], people["owner"]
    arguments = {"organization_id": organization, "user_id": str(troll.id)}
    assert refusal(lambda: api.rpc("ban_user", arguments, token=member.token)).details == "no_permission"
    assert refusal(lambda: api.rpc("ban_user", arguments, token=people["outsider"].token)).status == 404
    owner_ban = refusal(lambda: api.rpc("ban_user", {**arguments, "user_id": str(owner.id)}, token=moderator.token))
    assert owner_ban.details == "cannot_moderate_user"
    assert refusal(lambda: api.rpc("ban_user", {**arguments, "user_id": str(moderator.id)},
                                   token=moderator.token)).details == "self"  # fmt: skip
    # A member of another organization is not a target here.
    outsider = refusal(lambda: api.rpc("ban_user", {**arguments, "user_id": str(people["outsider"].id)},
                                       token=moderator.token))  # fmt: skip
    assert outsider.details == "user_not_found"
    # A conversation of another organization cannot be named.
    foreign = group(database, other_organization, people["other_owner"], people["outsider"])
    assert refusal(lambda: api.rpc("ban_user", {**arguments, "conversation_id": foreign},
                                   token=moderator.token)).details == "conversation_not_found"  # fmt: skip
    ban = api.rpc("ban_user", {**arguments, "expires_at": "2999-01-01T00:00:00Z"}, token=moderator.token)
    # Granting chat.moderate to the member role makes members moderators: they read the queue, but a peer
    # moderator is not theirs to restrict (only owners and admins who manage them are).
    api.rpc("set_role_permission", {"organization_id": organization, "role": "member", "permission": "chat.moderate",
                                    "granted": True}, token=owner.token)  # fmt: skip
    try:
        [visible] = api.query("select id from moderation_restrictions where id = %s", (ban["id"],), token=member.token)
        assert visible["id"] == ban["id"]
        assert refusal(lambda: api.rpc("mute_user", {**arguments, "duration_seconds": 60},
                                       token=member.token)).details == "cannot_moderate_user"  # fmt: skip
    finally:
        api.rpc("clear_role_permission", {"organization_id": organization, "role": "member",
                                          "permission": "chat.moderate"}, token=owner.token)  # fmt: skip
    assert api.query("select id from moderation_restrictions where id = %s", (ban["id"],), token=member.token) == []
    assert refusal(lambda: api.rpc("lift_restriction", {"restriction_id": ban["id"]},
                                   token=member.token)).details == "restriction_not_found"  # fmt: skip
    api.rpc("lift_restriction", {"restriction_id": ban["id"]}, token=moderator.token)


def test_a_muted_user_cannot_edit_add_reactions_or_call_but_may_take_back_and_delete(
    api: Api, database: TestDatabase, people, organization
):
    """A restriction stops every way of saying something in the conversation, not only send_message: an edit
    rewrites what was said, a reaction adds to it, a call speaks. Taking a reaction back and deleting your own
    message stay."""
    troll, moderator, member = people["troll"], people["moderator"], people["member"]
    room = group(database, organization, people["owner"], member, troll)
    said = send(api, troll, room, "before the mute")
    theirs = send(api, member, room, "hello")
    api.rpc("toggle_reaction", {"message_id": theirs["id"], "emoji": "👍"}, token=troll.token)
    mute = api.rpc("mute_user", {"organization_id": organization, "user_id": str(troll.id),
                                 "duration_seconds": 600, "conversation_id": room}, token=moderator.token)  # fmt: skip
    try:
        edit = refusal(lambda: api.rpc("edit_message", {"message_id": said["id"], "body": "rewritten"},
                                       token=troll.token))  # fmt: skip
        react = refusal(lambda: api.rpc("toggle_reaction", {"message_id": theirs["id"], "emoji": "🔥"},
                                        token=troll.token))  # fmt: skip
        call = refusal(lambda: api.rpc("start_call", {"conversation_id": room}, token=troll.token))
        assert [(r.status, r.details) for r in (edit, react, call)] == [(403, "muted")] * 3
        # Rung for someone else's call, the muted member can neither answer nor join it.
        ringing = api.rpc("start_call", {"conversation_id": room}, token=member.token)
        answer = refusal(lambda: api.rpc("accept_call", {"call_id": ringing["id"]}, token=troll.token))
        join = refusal(lambda: api.rpc("join_call", {"call_id": ringing["id"]}, token=troll.token))
        assert [(r.status, r.details) for r in (answer, join)] == [(403, "muted")] * 2
        api.rpc("end_call", {"call_id": ringing["id"]}, token=member.token)
        taken_back = api.rpc("toggle_reaction", {"message_id": theirs["id"], "emoji": "👍"}, token=troll.token)
        assert taken_back == []
        assert api.rpc("delete_message", {"message_id": said["id"]}, token=troll.token)["deleted_at"] is not None
    finally:
        api.rpc("lift_restriction", {"restriction_id": mute["id"]}, token=moderator.token)
    assert (
        api.rpc("toggle_reaction", {"message_id": theirs["id"], "emoji": "🔥"}, token=troll.token)[0]["emoji"] == "🔥"
    )
