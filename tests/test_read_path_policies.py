"""The read-path policies after issue 13: one probe of the reader's roster row per row.

The conversations, roster, messages, edits, reactions, attachments, calls and
retention policies no longer build per-statement sets of the reader's
conversations through SQL helpers; they probe ``parley_internal.my_memberships``
(the reader's own roster rows, a security_barrier view owned by the table
owner) and run the staff branch only where staff access exists. These tests pin
what that shape must keep: members see, non-members do not, the since_joined
cut-off holds, staff see the rows (not the content) of the conversations they
handle and nothing of groups, and chat.view revoked hides the content. Every
read goes through the request path as ``authenticated``.
"""

from __future__ import annotations

from typing import Any

import pytest

from identity_support import as_owner, organization_with
from messaging_support import GENEROUS_LIMITS, add_member, group, send, set_limits, support
from parley.db import Api
from parley_dev.testing import TestDatabase, TestUser

RETIRED_HELPERS = (
    "my_conversation_ids",
    "my_fully_visible_conversation_ids",
    "my_history_cut_offs",
    "my_member_can_read_message",
    "my_member_can_read_viewable_message",
    "member_can_read_message",
    "member_readable_conversation_ids",
    "chat_view_everywhere",
)
PROBED_TABLES = (
    "conversations",
    "conversation_members",
    "messages",
    "attachments",
    "call_sessions",
    "call_participants",
    "conversation_retention",
)


@pytest.fixture(scope="module")
def setting(api: Api, database: TestDatabase) -> dict[str, Any]:
    """An organization (owner = staff, holds every permission), a group of a and b, a since_joined group that
    late joins after two messages, a's support conversation, and an outsider member of the organization."""
    owner, a, b, late, outsider = (database.create_user(f"rp_{n}") for n in ("owner", "a", "b", "late", "out"))
    organization = organization_with(api, database, owner, member=a, member2=b, member3=late, member4=outsider)
    set_limits(database, organization, **GENEROUS_LIMITS)
    chat = group(database, organization, a, b)
    first = send(api, a, chat, "group message")
    api.rpc("toggle_reaction", {"message_id": first["id"], "emoji": "👍"}, token=b.token)
    api.rpc("edit_message", {"message_id": first["id"], "body": "group message, edited"}, token=a.token)
    history = group(database, organization, a, history_visibility="since_joined")
    before = [send(api, a, history, f"before {n}")["id"] for n in range(2)]
    api.rpc("toggle_reaction", {"message_id": before[0], "emoji": "🙈"}, token=a.token)
    add_member(database, history, late)
    after = send(api, a, history, "after the join")["id"]
    help_desk = support(database, organization, a)
    send(api, a, help_desk, "please help")
    return {
        "organization": organization, "owner": owner, "a": a, "b": b, "late": late, "outsider": outsider,
        "group": chat, "history": history, "before": before, "after": after, "support": help_desk,
    }  # fmt: skip


def ids(api: Api, user: TestUser, statement: str, params: Any = None) -> set[Any]:
    """The first column of a read as ``user`` through the request path, as a set."""
    return {next(iter(row.values())) for row in api.query(statement, params, token=user.token)}


def test_members_see_their_conversations_rosters_messages_edits_and_reactions(api: Api, setting):
    """Proves the member branch (the per-row my_memberships probe) lets a member read every table of their own
    conversations: conversation rows, the whole roster, messages, edits and reactions."""
    b, chat = setting["b"], setting["group"]
    assert ids(api, b, "select id::text from conversations") == {chat}
    assert ids(api, b, "select user_id::text from conversation_members where conversation_id = %s", (chat,)) == {
        str(setting["a"].id), str(b.id)
    }  # fmt: skip
    [message] = api.query("select id, body from messages where conversation_id = %s", (chat,), token=b.token)
    assert message["body"] == "group message, edited"
    assert ids(api, b, "select message_id from message_edits") == {message["id"]}
    assert ids(api, b, "select emoji from message_reactions") == {"👍"}


def test_non_members_of_the_organization_see_nothing_of_its_groups(api: Api, setting):
    """Proves a member of the organization outside a group reads none of its rows in any probed table (the probe
    finds no roster row, and the staff branch does not apply to groups)."""
    outsider, chat = setting["outsider"], setting["group"]
    for statement in (
        "select id from conversations where id = %(c)s",
        "select user_id from conversation_members where conversation_id = %(c)s",
        "select id from messages where conversation_id = %(c)s",
        "select message_id from message_edits",
        "select message_id from message_reactions",
        "select id from attachments where conversation_id = %(c)s",
        "select id from call_sessions where conversation_id = %(c)s",
        "select conversation_id from conversation_retention where conversation_id = %(c)s",
    ):
        assert api.query(statement, {"c": chat}, token=outsider.token) == [], statement


def test_since_joined_cut_off_hides_earlier_messages_and_their_reactions(api: Api, setting):
    """Proves the probe honours visible_from_message_id: a late joiner of a since_joined group reads only the
    messages after their join, and not the reactions of earlier ones; the earlier member reads all."""
    history = setting["history"]
    query = "select id from messages where conversation_id = %s"
    assert ids(api, setting["late"], query, (history,)) == {setting["after"]}
    assert ids(api, setting["a"], query, (history,)) == {*setting["before"], setting["after"]}
    assert ids(api, setting["late"], "select message_id from message_reactions") == set()
    assert ids(api, setting["a"], "select message_id from message_reactions where emoji = '🙈'") == {
        setting["before"][0]
    }  # fmt: skip
    # The roster and the conversation row are not cut: the late joiner sees both.
    assert history in ids(api, setting["late"], "select id::text from conversations")


def test_staff_see_support_rows_and_roster_but_not_content_nor_groups(api: Api, setting):
    """Proves the staff branch: staff off the roster (the owner holds chat.support_agent) see a support
    conversation's row and roster, never its messages through a table read (audited RPCs only), and see nothing
    of a group they are not in."""
    owner, help_desk, chat = setting["owner"], setting["support"], setting["group"]
    assert ids(api, owner, "select id::text from conversations") == {help_desk}
    assert ids(api, owner, "select user_id::text from conversation_members where conversation_id = %s",
               (help_desk,)) == {str(setting["a"].id)}  # fmt: skip
    assert api.query("select id from messages where conversation_id = %s", (help_desk,), token=owner.token) == []
    assert api.query("select user_id from conversation_members where conversation_id = %s", (chat,),
                     token=owner.token) == []  # fmt: skip


def test_revoking_chat_view_hides_content_but_not_rows(api: Api, setting):
    """Proves the chat.view gate of the message policies (once per statement when held everywhere, per row
    otherwise): members without it read no messages, edits or reactions, but keep the conversation row and roster
    (issue 12); granted back, everything returns."""
    b, organization = setting["b"], setting["organization"]

    def reads() -> dict[str, int]:
        return {
            "conversations": len(api.query("select id from conversations", token=b.token)),
            "roster": len(api.query("select user_id from conversation_members", token=b.token)),
            "messages": len(api.query("select id from messages", token=b.token)),
            "edits": len(api.query("select message_id from message_edits", token=b.token)),
            "reactions": len(api.query("select message_id from message_reactions", token=b.token)),
        }

    before = reads()
    assert before == {"conversations": 1, "roster": 2, "messages": 1, "edits": 1, "reactions": 1}
    api.rpc("set_role_permission", {"organization_id": organization, "role": "member", "permission": "chat.view",
                                    "granted": False}, token=setting["owner"].token)  # fmt: skip
    try:
        assert reads() == {"conversations": 1, "roster": 2, "messages": 0, "edits": 0, "reactions": 0}
    finally:
        api.rpc("clear_role_permission", {"organization_id": organization, "role": "member",
                                          "permission": "chat.view"}, token=setting["owner"].token)  # fmt: skip
    assert reads() == before


def test_my_memberships_shows_only_the_callers_own_roster_rows(api: Api, setting):
    """Proves the view is safe to grant: read directly as authenticated, it holds the caller's rows only."""
    rows = api.query("select conversation_id::text, role from parley_internal.my_memberships",
                     token=setting["late"].token)  # fmt: skip
    assert rows == [{"conversation_id": setting["history"], "role": "member"}]


def test_policies_probe_memberships_and_retired_helpers_are_gone(database: TestDatabase):
    """Proves the shape: each read policy of a conversation table probes my_memberships, none calls a retired
    per-statement set helper, and those helpers no longer exist (an upgraded database drops them)."""
    policies = dict(as_owner(database, """
        select tablename, string_agg(qual, ' ') from pg_policies
        where schemaname = 'public' and cmd = 'SELECT' group by tablename"""))  # fmt: skip
    for table in PROBED_TABLES:
        assert "my_memberships" in policies[table], table
    everything = " ".join(policies.values())
    assert [name for name in RETIRED_HELPERS if f"parley_internal.{name}(" in everything] == []
    left = as_owner(database, """
        select p.proname from pg_proc p where p.pronamespace = 'parley_internal'::regnamespace
          and p.proname = any(%s)""", (list(RETIRED_HELPERS),))  # fmt: skip
    assert left == []


def test_member_permissions_is_the_permission_rule(database: TestDatabase, setting):
    """Proves has_permission and the member_permissions view agree: owners hold every permission, members their
    role's defaults (chat.view, not chat.moderate)."""
    organization = setting["organization"]
    rows = as_owner(database, """
        select u.id = %(owner)s, p.key, parley_internal.has_permission(%(org)s, p.key, u.id),
               exists (select 1 from parley_internal.member_permissions m
                       where m.organization_id = %(org)s and m.user_id = u.id and m.permission = p.key)
        from public.permissions p cross join auth.users u where u.id = any(%(users)s)""",
        {"org": organization, "owner": setting["owner"].id,
         "users": [setting["owner"].id, setting["b"].id, setting["outsider"].id]})  # fmt: skip
    assert all(via_function == via_view for _, _, via_function, via_view in rows)
    assert all(held for is_owner, _, held, _ in rows if is_owner)
    [(member_view, member_moderate)] = as_owner(database, """
        select parley_internal.has_permission(%(org)s, 'chat.view', %(b)s),
               parley_internal.has_permission(%(org)s, 'chat.moderate', %(b)s)""",
        {"org": organization, "b": setting["b"].id})  # fmt: skip
    assert (member_view, member_moderate) == (True, False)
