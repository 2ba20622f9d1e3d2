"""What the API roles may execute: every function, in every schema, against an allow-list (issue 20 finding 4).

The rule: anon and authenticated execute no function of parley_internal except
* the SECURITY DEFINER implementations of the published RPCs (each acts as
  auth.uid() itself; the public SECURITY INVOKER wrapper of the same name calls
  it, functions/parley_api.sql), and
* the policy helpers policies call as the invoker, which take no user argument
  and answer for auth.uid() only (the ``my_*`` helpers).
Helpers that take a user id (is_organization_member, has_permission(org, perm,
user), member_conversation_ids, can_read_conversation, message_decision,
audit_readable_organization_ids, ...) and refuse() are for definer code only.

Out of scope of the listing: pg_catalog and information_schema (PostgreSQL's
own), functions that belong to an extension (pgTAP, pg_trgm, ...), and the
``tests`` schema, which only the pgTAP harness creates in test databases, and on
the platform targets what Supabase's platform SQL itself makes executable before
any migration (its storage, realtime, graphql and extensions functions), unless
Parley changes who may execute it.
"""

from __future__ import annotations

import psycopg
import pytest

from identity_support import as_owner
from parley.db import Api, ApiError
from parley_dev import testing
from parley_dev.testing import TestDatabase

# Published RPCs: public.<name> (SECURITY INVOKER wrapper) and parley_internal.<name> (SECURITY DEFINER
# implementation, acting as auth.uid()). Reason: what the caller does with it.
RPCS: dict[str, str] = {
    "ban_user": "chat.moderate holders ban a user from a group or the organization's chat",
    "export_my_data": "everything Parley holds about the caller",
    "kick_member": "chat.moderate holders remove a member from a group",
    "lift_restriction": "chat.moderate holders lift a ban or mute",
    "mute_user": "chat.moderate holders mute a user for a duration",
    "my_reports": "the reports the caller filed (moderator hidden unless the organization allows)",
    "my_restrictions": "the bans and mutes on the caller",
    "report_message": "the caller reports a message they can read",
    "resolve_report": "chat.moderate holders action or dismiss a report",
    "set_conversation_retention": "owners/admins set a conversation's retention period",
    "set_legal_hold": "owners/admins put a conversation on legal hold",
    "accept_call": "the caller answers a call they are rung for",
    "decline_call": "the caller declines a call they are rung for",
    "end_call": "a participant ends (or cancels) the call",
    "get_call": "a call of a conversation the caller may read",
    "get_call_history": "the calls of a conversation the caller may read (keyset)",
    "get_ice_servers": "STUN/TURN servers with the caller's own TURN credential",
    "join_call": "the caller joins a group call of their conversation",
    "leave_call": "the caller leaves a call",
    "start_call": "the caller starts a call (can_call, chat.initiate_call, chat.calls)",
    "update_call_media": "the caller's own mute/camera flags",
    "search_messages": "full-text search over what the caller may read",
    "accept_connection": "accept a connection request made to the caller",
    "accept_invitation": "join an organization with an invitation token",
    "act_as_persona": "record that the caller acts as a persona they may act as",
    "add_conversation_members": "add members to a group the caller administers",
    "allow_group_readd": "the caller consents to be added back to a group they left",
    "archive_conversation": "the caller's own inbox entry",
    "are_users_connected": "whether the caller is connected with another user",
    "assign_support_conversation": "support agents assign a support conversation",
    "block_user": "the caller blocks a user",
    "cancel_connection_request": "the caller withdraws their request",
    "chat_upload_folder": "the folder the caller uploads into",
    "clear_role_permission": "owners/admins reset a role override",
    "create_attachment": "register the caller's upload",
    "create_group_conversation": "the caller creates a group",
    "create_invitation": "owners/admins invite",
    "create_organization": "the caller creates an organization",
    "create_persona": "owners/admins create a persona",
    "decline_connection": "decline a request made to the caller",
    "delete_attachment": "cancel the caller's own upload",
    "delete_message": "the author or a moderator deletes a message",
    "edit_message": "the author edits a message",
    "export_compliance_messages": "chat.audit_read holders export messages in compliance mode (audited)",
    "find_user_by_username": "look up a user the caller may see",
    "get_active_conversations": "operators: monitoring",
    "get_inbox": "the caller's inbox",
    "get_message_receipts": "receipts of a message the caller reads",
    "get_messages": "a page of history the caller may read (staff reads audited)",
    "get_messages_per_minute": "operators: monitoring",
    "get_monitoring_summary": "operators: monitoring",
    "get_or_create_direct_conversation": "the caller's direct conversation",
    "get_or_create_notices_conversation": "the caller's notices conversation",
    "get_or_create_persona_conversation": "the caller's conversation with a persona",
    "get_or_create_support_conversation": "the caller's support conversation",
    "get_pinned_messages": "pins of a conversation the caller reads (staff reads audited)",
    "get_presence": "presence the caller may see",
    "get_refusal_counts": "operators: monitoring",
    "get_support_backlog": "operators: monitoring",
    "get_support_queue": "support agents: the queue",
    "get_unread_counts": "the caller's unread counts",
    "get_unread_total": "the caller's badge",
    "get_user_contacts": "the caller's contacts",
    "get_user_display_info": "a user's public display info",
    "has_permission": "whether the caller holds a permission (also used by the persona_acts policy)",
    "heartbeat": "the caller's presence",
    "hide_conversation": "the caller's own inbox entry",
    "is_user_blocked": "whether the caller blocked a user",
    "leave_conversation": "the caller leaves a conversation",
    "leave_organization": "the caller leaves an organization",
    "mark_delivered": "the caller's watermark",
    "mark_read": "the caller's watermark",
    "mark_unread": "the caller's watermark",
    "mute_conversation": "the caller's own inbox entry",
    "my_permissions": "the caller's permissions",
    "organization_features": "features of an organization the caller belongs to",
    "pin_conversation": "the caller's own inbox entry",
    "pin_message": "pin a message in a conversation the caller may pin in",
    "remove_connection": "the caller removes a connection",
    "remove_conversation_member": "group admins remove a member",
    "remove_member": "owners/admins remove an organization member",
    "request_connection": "the caller asks to connect",
    "revoke_invitation": "owners/admins revoke an invitation",
    "send_message": "the caller sends",
    "send_notice": "staff with chat.send_notice send a notice",
    "set_compliance_mode": "owners switch compliance mode (audited)",
    "set_conversation_member_role": "group owners/admins change a role",
    "set_member_role": "owners/admins change a role",
    "set_notification_level": "the caller's own inbox entry",
    "set_role_permission": "owners/admins override a role's permission",
    "set_support_status": "support agents set a status",
    "toggle_reaction": "the caller reacts",
    "transfer_conversation_ownership": "a group owner hands over",
    "transfer_ownership": "an organization owner hands over",
    "unblock_user": "the caller unblocks a user",
    "unmute_conversation": "the caller's own inbox entry",
    "update_group_conversation": "group owners/admins change settings",
    "verify_audit_log": "chat.audit_read holders verify their organization's chain",
}
# RPCs anon may call too (they answer "no" for a signed-out caller).
ANON_RPCS = {"can_message": "whether the caller may message someone", "can_call": "whether the caller may call"}

# Everything else an API role may execute, by exact signature: who may, and why.
OTHERS: dict[str, tuple[frozenset[str], str]] = {
    # Policy helpers (SECURITY DEFINER, no user argument, auth.uid() only).
    "parley_internal.my_audit_organization_ids()": (frozenset({"authenticated"}), "audit_log select policy"),
    "parley_internal.my_chat_file_moderated(text)": (frozenset({"authenticated"}), "storage.objects delete policy"),
    "parley_internal.my_chat_file_readable(text)": (frozenset({"authenticated"}), "storage.objects select policy"),
    "parley_internal.my_chat_file_uploadable(text)": (frozenset({"authenticated"}), "storage.objects insert policy"),
    "parley_internal.my_content_visible_from(uuid)": (frozenset({"authenticated"}), "attachments select policy"),
    "parley_internal.my_chat_view_everywhere()": (
        frozenset({"authenticated"}),
        "messages and attachments policies (chat.view, once per statement)",
    ),
    "parley_internal.my_can_view_chats(uuid)": (
        frozenset({"authenticated"}),
        "messages and attachments policies (chat.view, per row when not held everywhere)",
    ),
    "parley_internal.my_staff_anywhere()": (
        frozenset({"authenticated"}),
        "roster and attachments policies (gates the per-row staff branch, once per statement)",
    ),
    "parley_internal.my_moderated_organization_ids()": (
        frozenset({"authenticated"}),
        "message_reports and moderation_restrictions select policies",
    ),
    "parley_internal.my_organization_admin(uuid)": (frozenset({"authenticated"}), "organization write policies"),
    "parley_internal.my_organization_member(uuid)": (frozenset({"authenticated"}), "organization read policies"),
    "parley_internal.my_presence_visible(uuid)": (frozenset({"authenticated"}), "presence select policy"),
    "parley_internal.my_profile_visible(uuid)": (frozenset({"authenticated"}), "profiles select policy"),
    "parley_internal.my_realtime_can_receive(text)": (frozenset({"authenticated"}), "realtime.messages select policy"),
    "parley_internal.my_realtime_can_send(text,text)": (
        frozenset({"authenticated"}),
        "realtime.messages insert policy",
    ),
    "parley_internal.my_staff_conversation(uuid)": (
        frozenset({"authenticated"}),
        "conversations and roster policies (staff see the row, never the content)",
    ),
    # PostgREST's pre-request hook (pgrst.db_pre_request) runs as the request's role.
    "parley_internal.check_request()": (
        frozenset({"anon", "authenticated"}),
        "PostgREST pre-request hook: gives anon refusals the reason unauthenticated; takes no argument",
    ),
    # Supabase platform functions (sql/platform_*.sql mirror Supabase's own grants; no-ops on Supabase).
    "auth.email()": (frozenset({"anon", "authenticated"}), "Supabase: the JWT's email claim"),
    "auth.jwt()": (frozenset({"anon", "authenticated"}), "Supabase: the request's JWT claims"),
    "auth.role()": (frozenset({"anon", "authenticated"}), "Supabase: the JWT's role claim"),
    "auth.uid()": (frozenset({"anon", "authenticated"}), "Supabase: the caller's id, used by every policy"),
    "realtime.send(jsonb,text,text,boolean)": (
        frozenset({"anon", "authenticated"}),
        "Supabase Realtime broadcast; invoker rights, so it writes only what realtime.messages' insert policy allows",
    ),
    "realtime.topic()": (frozenset({"anon", "authenticated"}), "Supabase Realtime: the joined topic, for policies"),
    "storage.extension(text)": (frozenset({"anon", "authenticated"}), "Supabase Storage: path helper"),
    "storage.protect_delete()": (
        frozenset({"anon", "authenticated"}),
        "Supabase Storage: the statement trigger refusing direct deletes (shim mirrors the platform's grant)",
    ),
    "storage.filename(text)": (frozenset({"anon", "authenticated"}), "Supabase Storage: path helper"),
    "storage.foldername(text)": (frozenset({"anon", "authenticated"}), "Supabase Storage: path helper"),
}


def allowed() -> dict[str, frozenset[str]]:
    roles = {}
    for name in RPCS:
        roles[f"public.{name}"] = roles[f"parley_internal.{name}"] = frozenset({"authenticated"})
    for name in ANON_RPCS:
        roles[f"public.{name}"] = roles[f"parley_internal.{name}"] = frozenset({"anon", "authenticated"})
    return roles


EXECUTABLE = """
select n.nspname as schema, p.proname as name, p.oid::regprocedure::text as signature,
       array_remove(array[case when has_function_privilege('anon', p.oid, 'EXECUTE') then 'anon' end,
                          case when has_function_privilege('authenticated', p.oid, 'EXECUTE') then 'authenticated'
                          end], null) as roles
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname not in ('pg_catalog', 'information_schema', 'tests') and n.nspname not like 'pg\\_%'
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  and (has_function_privilege('anon', p.oid, 'EXECUTE') or has_function_privilege('authenticated', p.oid, 'EXECUTE'))
order by 3
"""


def executables(database: TestDatabase) -> dict[str, frozenset[str]]:
    """What anon/authenticated may execute in ``database``: allow-list key -> roles."""
    others = {k.replace(" ", "") for k in OTHERS}
    found: dict[str, frozenset[str]] = {}
    for schema, name, signature, roles in as_owner(database, EXECUTABLE):
        compact = signature.replace(" ", "")
        found[compact if compact in others else f"{schema}.{name}"] = frozenset(roles)
    return found


@pytest.fixture(scope="module")
def platform_own(server: testing.TestServer) -> dict[str, frozenset[str]]:
    """What the platform itself lets the API roles execute before any migration.

    Empty on the shim. On the platform targets, Supabase's own storage, realtime,
    graphql and extensions functions: Parley leaves them alone, so they are not
    Parley's to list. A platform function whose grants Parley widens is still
    caught (its roles differ from the platform's).
    """
    bare = server.create_database("allow_list_bare", bare_platform=True)
    try:
        return executables(bare)
    finally:
        server.drop_database(bare)


def test_every_function_api_roles_may_execute_is_allow_listed_with_a_reason(
    database: TestDatabase, platform_own: dict[str, frozenset[str]]
):
    """Issue 20 finding 4: the catalog's executable functions, every schema, equal the allow-list (roles included)."""
    by_name = allowed()
    found = executables(database)
    expected = {**by_name, **{signature: roles for signature, (roles, _) in OTHERS.items()}}
    unexpected = {k: sorted(v) for k, v in found.items() if k not in expected and platform_own.get(k) != v}
    assert unexpected == {}, "not on the allow-list: revoke it, or list it with a reason"
    wrong_roles = {k: (sorted(found[k]), sorted(v)) for k, v in expected.items() if k in found and found[k] != v}
    assert wrong_roles == {}
    missing = sorted(set(expected) - set(found))
    assert missing == [], "stale allow-list entries"
    assert all(reason for reason in [*RPCS.values(), *ANON_RPCS.values(), *(r for _, r in OTHERS.values())])


def test_new_parley_internal_functions_are_not_executable_by_the_api_roles(database: TestDatabase):
    """Default privileges: a function created later in parley_internal is executable by nobody until granted."""
    with psycopg.connect(database.url, autocommit=True) as owner:
        owner.execute("create function parley_internal.zz_probe() returns int language sql as 'select 1'")
        try:
            rows = owner.execute(
                "select has_function_privilege(r, 'parley_internal.zz_probe()', 'EXECUTE') "
                "from unnest(array['anon', 'authenticated', 'public']) as r"
            ).fetchall()
        finally:
            owner.execute("drop function parley_internal.zz_probe()")
    assert rows == [(False,), (False,), (False,)]


PROBES = [
    ("authenticated", "select * from parley_internal.member_conversation_ids(%(other)s)"),
    ("authenticated", "select parley_internal.can_read_conversation(gen_random_uuid(), %(other)s)"),
    ("authenticated", "select parley_internal.organization_role(gen_random_uuid(), %(other)s)"),
    ("authenticated", "select parley_internal.has_permission(gen_random_uuid(), 'chat.view', %(other)s)"),
    ("authenticated", "select * from parley_internal.audit_readable_organization_ids(%(other)s)"),
    ("authenticated", "select * from parley_internal.message_decision(%(other)s, %(other)s, 'message')"),
    ("authenticated", "select parley_internal.refuse('P0001', 'fake', 'fake', null)"),
    ("anon", "select parley_internal.refuse('P0001', 'fake', 'fake', null)"),
]


@pytest.mark.parametrize("role,statement", PROBES, ids=[f"{r}: {s[7:60]}" for r, s in PROBES])
def test_raw_sql_sessions_cannot_ask_helpers_about_other_users(api: Api, database: TestDatabase, role, statement):
    """Issue 20 finding 4, from a raw authenticated (or anon) SQL session: permission denied, no answer."""
    user, other = database.create_user(), database.create_user()
    token = user.token if role == "authenticated" else None
    with pytest.raises(ApiError) as refused:
        api.query(statement, {"other": other.id}, token=token, method="POST")
    assert refused.value.code == "42501"
