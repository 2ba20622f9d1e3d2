"""The bad-input catalogue (issue 5): malformed and hostile inputs, each with the refusal it must get.

Used by tests/test_bad_input.py, which runs every case through the request path
(``Api``, as PostgREST would) and checks that nothing was written.

A case names who calls (an actor of the test's world), what (an RPC, a raw
statement on an exposed table, or the storage upload path), with which
arguments, and the expected HTTP status, SQLSTATE and ``details`` reason.
``Ref("name")`` stands for an id of the world (``Ref("self")`` is the caller).
A case that reveals a bug in someone else's file carries ``bug``: it is run
as a strict xfail until that file is fixed (the lead has the report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A placeholder for an id of the test world, resolved when the case runs."""

    name: str


@dataclass(frozen=True)
class Case:
    """One hostile input and the refusal it must get.

    ``expect`` is ``"<HTTP status> <SQLSTATE or -> [<reason>]"``, e.g. ``"404 PT404 organization_not_found"``;
    storage refusals have no SQLSTATE (``"400 - bad_file_name"``).
    """

    id: str
    actor: str
    target: str  # an RPC name, "sql" (args: statement, params), or "upload" (args: file_name, data)
    args: dict[str, Any]
    expect: str
    method: str = "POST"
    bug: str | None = None
    notes: str = field(default="", compare=False)

    @property
    def status(self) -> int:
        """The expected HTTP status."""
        return int(self.expect.split()[0])

    @property
    def code(self) -> str | None:
        """The expected SQLSTATE (None for storage refusals)."""
        code = self.expect.split()[1]
        return None if code == "-" else code

    @property
    def reason(self) -> str | None:
        """The expected stable reason (``details``), if the refusal has one."""
        parts = self.expect.split()
        return parts[2] if len(parts) > 2 else None


@dataclass(frozen=True)
class Template:
    """A string built from ids of the test world, e.g. ``Template("{group}/{self}/x.txt")``."""

    text: str


ORG, OTHER_ORG, SELF = Ref("org"), Ref("other_org"), Ref("self")
UPLOAD = "4e000000-0000-4000-a000-000000000009-notes.txt"  # the file part of a well-formed upload name
MISSING = Ref("missing")  # a well-formed uuid that names nothing
HUGE = "x" * 1_000_000  # a 1 MB string
DEEP_JSON = "[" * 100_000 + "]" * 100_000  # nesting far beyond any legitimate payload (and Python's json)
# The statement PostgREST runs for POST /rpc/create_organization with a raw JSON body.
RPC_CREATE_ORGANIZATION = (
    "with pgrst_args as (select * from json_to_record(%s::json) as _(name text)) "
    "select to_jsonb(pgrst_call) from public.create_organization(name := (select name from pgrst_args)) pgrst_call"
)


# fmt: off
CASES: list[Case] = [
    # -- request shape: wrong types, unknown arguments, malformed text ------------------------------
    Case("unknown-argument", "owner", "create_organization", {"name": "Acme", "is_admin": True},
         "404 PGRST202", notes="PostgREST finds no function with that argument set; nothing reaches SQL"),
    Case("uuid-not-a-uuid", "owner", "create_invitation", {"organization_id": "not-a-uuid"}, "400 22P02"),
    Case("uuid-as-number", "owner", "create_invitation", {"organization_id": 12345}, "400 22P02"),
    Case("integer-as-text", "owner", "create_invitation", {"organization_id": ORG, "expires_in_hours": "abc"},
         "400 22P02"),
    Case("integer-as-fraction", "owner", "create_invitation", {"organization_id": ORG, "expires_in_hours": 1.5},
         "400 22P02"),
    Case("integer-overflow", "owner", "create_invitation", {"organization_id": ORG, "expires_in_hours": 2 ** 40},
         "400 22003"),
    Case("boolean-as-text", "owner", "set_role_permission",
         {"organization_id": ORG, "role": "member", "permission": "chat.view", "granted": "maybe"},
         "400 22P02"),
    Case("array-as-text", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Group", "member_ids": "everyone"},
         "400 22P02"),
    Case("nul-character", "owner", "create_organization", {"name": "Acme\x00Evil"},
         "400 22P05", notes="JSON \\u0000 cannot become PostgreSQL text"),
    Case("invalid-utf8-lone-surrogate", "owner", "create_organization", {"name": "Acme\udc80"},
         "400 22P02",
         notes="psycopg cannot send invalid UTF-8; a lone surrogate escape is the closest a JSON body gets"),
    Case("deep-json-body", "owner", "sql",
         {"statement": RPC_CREATE_ORGANIZATION, "params": ['{"name": ' + DEEP_JSON + "}"]},
         "413 54001",
         notes="a request body nested 100,000 deep hits the JSON parser's stack limit: PostgREST answers 413"),
    Case("enum-out-of-range", "member", "sql",
         {"statement": "update privacy_settings set who_can_message = 'aliens' where user_id = %s", "params": [SELF]},
         "400 22P02", method="PATCH"),
    # -- anonymous callers ------------------------------------------------------------------------------
    Case("anon-rpc", "anon", "create_organization", {"name": "Acme"}, "401 42501"),
    Case("anon-table-read", "anon", "sql", {"statement": "select * from organizations", "params": []},
         "401 42501", method="GET"),
    # -- organizations: empty, whitespace, oversized, control characters ---------------------------------
    Case("org-name-empty", "owner", "create_organization", {"name": ""}, "400 P0001 invalid_organization_name"),
    Case("org-name-spaces", "owner", "create_organization", {"name": "     "}, "400 P0001 invalid_organization_name"),
    Case("org-name-whitespace", "owner", "create_organization", {"name": " \t\n "},
         "400 P0001 invalid_organization_name",
         bug="functions/organizations.sql create_organization trims only spaces (btrim): a name of tabs and "
             "newlines is accepted"),
    Case("org-name-oversized", "owner", "create_organization", {"name": HUGE}, "400 P0001 invalid_organization_name"),
    Case("org-name-json-object", "owner", "create_organization", {"name": {"nested": ["value"] * 50}},
         "400 P0001 invalid_organization_name", notes="a JSON object where text is expected arrives as its JSON text"),
    Case("org-name-control-characters", "owner", "create_organization", {"name": "Acme\x1b[2J\x07"},
         "400 P0001 control_characters",
         bug="functions/organizations.sql create_organization accepts C0 control characters (terminal escapes, "
             "BEL) in organization names; groups refuse them (control_characters)"),
    Case("rename-org-oversized", "admin", "sql",
         {"statement": "update organizations set name = %s where id = %s", "params": ["y" * 101, ORG]},
         "400 23514", method="PATCH", notes="the table's CHECK constraint refuses it"),
    Case("rename-org-not-granted-column", "admin", "sql",
         {"statement": "update organizations set plan_id = 'chat' where id = %s", "params": [ORG]},
         "403 42501", method="PATCH", notes="plans change through billing (service_role) only"),
    # -- invitations -----------------------------------------------------------------------------------
    Case("invite-as-owner-role", "owner", "create_invitation", {"organization_id": ORG, "role": "owner"},
         "400 P0001 invalid_role"),
    Case("invite-role-wrong-type", "owner", "create_invitation", {"organization_id": ORG, "role": 123},
         "400 P0001 invalid_role"),
    Case("invite-negative-expiry", "owner", "create_invitation", {"organization_id": ORG, "expires_in_hours": -1},
         "400 P0001 invalid_expiry"),
    Case("invite-huge-expiry", "owner", "create_invitation", {"organization_id": ORG, "expires_in_hours": 1000000},
         "400 P0001 invalid_expiry"),
    Case("invite-bad-email", "owner", "create_invitation", {"organization_id": ORG, "email": "not an email"},
         "400 P0001 invalid_email"),
    Case("invite-missing-org", "owner", "create_invitation", {"organization_id": MISSING},
         "404 PT404 organization_not_found"),
    Case("invite-other-org", "owner", "create_invitation", {"organization_id": OTHER_ORG},
         "404 PT404 organization_not_found"),
    Case("invite-as-member", "member", "create_invitation", {"organization_id": ORG}, "403 42501 no_permission"),
    Case("accept-empty-token", "stranger", "accept_invitation", {"token": ""}, "400 P0001 invalid_token"),
    Case("accept-sql-in-token", "stranger", "accept_invitation", {"token": "' or 1=1 --"}, "400 P0001 invalid_token"),
    Case("accept-unknown-token", "stranger", "accept_invitation", {"token": "ab" * 32},
         "404 PT404 invitation_not_found"),
    Case("accept-replayed-token", "stranger", "accept_invitation", {"token": Ref("used_token")},
         "409 PT409 invitation_used"),
    Case("accept-when-already-member", "member", "accept_invitation", {"token": Ref("open_token")},
         "409 PT409 already_member"),
    Case("revoke-other-orgs-invitation", "owner", "revoke_invitation", {"invitation_id": Ref("other_invitation")},
         "404 PT404 invitation_not_found"),
    # -- members and roles --------------------------------------------------------------------------------
    Case("role-unknown", "owner", "set_member_role",
         {"organization_id": ORG, "user_id": Ref("member"), "role": "superuser"},
         "400 P0001 invalid_role"),
    Case("role-of-non-member", "owner", "set_member_role",
         {"organization_id": ORG, "user_id": Ref("stranger"), "role": "admin"},
         "404 PT404 member_not_found"),
    Case("role-self-promotion", "admin", "set_member_role", {"organization_id": ORG, "user_id": SELF, "role": "owner"},
         "403 42501 no_permission"),
    Case("role-in-other-org", "owner", "set_member_role",
         {"organization_id": OTHER_ORG, "user_id": Ref("other_admin"), "role": "member"},
         "404 PT404 organization_not_found"),
    Case("remove-yourself", "admin", "remove_member", {"organization_id": ORG, "user_id": SELF}, "400 P0001 use_leave"),
    Case("transfer-to-yourself", "owner", "transfer_ownership", {"organization_id": ORG, "new_owner_id": SELF},
         "400 P0001 invalid_new_owner"),
    Case("transfer-to-null", "owner", "transfer_ownership", {"organization_id": ORG, "new_owner_id": None},
         "400 P0001 invalid_new_owner"),
    Case("transfer-by-admin", "admin", "transfer_ownership", {"organization_id": ORG, "new_owner_id": Ref("member")},
         "403 42501 not_owner"),
    Case("last-owner-leaves", "owner", "leave_organization", {"organization_id": ORG}, "409 PT409 last_owner"),
    Case("leave-foreign-org", "stranger", "leave_organization", {"organization_id": ORG},
         "404 PT404 organization_not_found"),
    # -- permissions -------------------------------------------------------------------------------------------
    Case("permission-unknown", "owner", "set_role_permission",
         {"organization_id": ORG, "role": "member", "permission": "chat.everything", "granted": True},
         "400 P0001 unknown_permission"),
    Case("permission-sql-name", "owner", "has_permission",
         {"organization_id": ORG, "permission": "chat.view'; drop table messages; --"},
         "400 P0001 unknown_permission"),
    Case("permission-owner-role", "owner", "set_role_permission",
         {"organization_id": ORG, "role": "owner", "permission": "chat.view", "granted": False},
         "400 P0001 owner_role_fixed"),
    Case("permission-granted-null", "owner", "set_role_permission",
         {"organization_id": ORG, "role": "member", "permission": "chat.view", "granted": None},
         "400 P0001 invalid_granted"),
    Case("permission-admin-raises-own-role", "admin", "set_role_permission",
         {"organization_id": ORG, "role": "admin", "permission": "chat.view", "granted": True},
         "403 42501 no_permission"),
    Case("permission-clear-missing", "owner", "clear_role_permission",
         {"organization_id": ORG, "role": "guest", "permission": "chat.delete"},
         "404 PT404 override_not_found"),
    # -- personas --------------------------------------------------------------------------------------------
    Case("persona-name-empty", "owner", "create_persona", {"organization_id": ORG, "display_name": ""},
         "400 P0001 invalid_display_name"),
    Case("persona-name-whitespace", "owner", "create_persona", {"organization_id": ORG, "display_name": "   "},
         "400 P0001 invalid_display_name"),
    Case("persona-name-tabs", "owner", "create_persona", {"organization_id": ORG, "display_name": "\t\t"},
         "400 P0001 invalid_display_name",
         bug="functions/personas.sql create_persona trims only spaces (btrim): a display name of tabs is accepted"),
    Case("persona-name-oversized", "owner", "create_persona", {"organization_id": ORG, "display_name": "p" * 81},
         "400 P0001 invalid_display_name"),
    Case("persona-avatar-javascript", "owner", "create_persona",
         {"organization_id": ORG, "display_name": "Help", "avatar_url": "javascript:alert(1)"},
         "400 P0001 invalid_avatar_url"),
    Case("persona-by-member", "member", "create_persona", {"organization_id": ORG, "display_name": "Me"},
         "403 42501 no_permission"),
    Case("act-as-other-orgs-persona", "admin", "act_as_persona", {"persona_id": Ref("other_persona")},
         "404 PT404 persona_not_found"),
    Case("act-as-missing-persona", "admin", "act_as_persona", {"persona_id": MISSING}, "404 PT404 persona_not_found"),
    Case("persona-action-injection", "admin", "act_as_persona",
         {"persona_id": Ref("persona"), "action": "x; drop table personas"},
         "400 P0001 invalid_action"),
    # -- profiles (PATCH /profiles) ------------------------------------------------------------------------
    Case("username-too-short", "member", "sql",
         {"statement": "update profiles set username = 'ab' where id = %s", "params": [SELF]},
         "400 P0001 invalid_username", method="PATCH"),
    Case("username-path-traversal", "member", "sql",
         {"statement": "update profiles set username = '../../etc' where id = %s", "params": [SELF]},
         "400 P0001 invalid_username", method="PATCH"),
    Case("username-taken", "member", "sql",
         {"statement": "update profiles set username = (select username from profiles where id = %s) where id = %s",
          "params": [Ref("admin"), SELF]},
         "409 PT409 username_taken", method="PATCH"),
    Case("display-name-whitespace", "member", "sql",
         {"statement": "update profiles set display_name = '   ' where id = %s", "params": [SELF]},
         "400 P0001 invalid_display_name", method="PATCH"),
    Case("avatar-url-data-uri", "member", "sql",
         {"statement": "update profiles set avatar_url = 'data:text/html,<script>1</script>' where id = %s",
          "params": [SELF]},
         "400 P0001 invalid_avatar_url", method="PATCH"),
    Case("bio-oversized", "member", "sql",
         {"statement": "update profiles set bio = %s where id = %s", "params": ["b" * 501, SELF]},
         "400 P0001 bio_too_long", method="PATCH"),
    Case("locale-garbage", "member", "sql",
         {"statement": "update profiles set locale = 'en_US.UTF-8' where id = %s", "params": [SELF]},
         "400 P0001 invalid_locale", method="PATCH"),
    Case("time-zone-unknown", "member", "sql",
         {"statement": "update profiles set time_zone = 'Mars/Olympus_Mons' where id = %s", "params": [SELF]},
         "400 P0001 invalid_time_zone", method="PATCH"),
    Case("app-roles-not-granted", "member", "sql",
         {"statement": "update profiles set app_roles = '{admin}' where id = %s", "params": [SELF]},
         "403 42501", method="PATCH", notes="application roles are set by service_role only"),
    Case("unknown-user-info", "member", "get_user_display_info", {"user_id": MISSING}, "404 PT404 user_not_found"),
    Case("find-username-wildcard", "member", "find_user_by_username", {"username": "%"},
         "404 PT404 user_not_found", notes="no LIKE: a wildcard matches nobody"),
    # -- connections and blocks: self-targeted, missing, replayed -----------------------------------------
    Case("connect-to-yourself", "member", "request_connection", {"user_id": SELF}, "400 P0001 self"),
    Case("connect-to-missing-user", "member", "request_connection", {"user_id": MISSING}, "404 PT404 user_not_found"),
    Case("connect-to-blocked-user", "member", "request_connection", {"user_id": Ref("stranger")}, "403 42501 blocked"),
    Case("accept-without-request", "member", "accept_connection", {"user_id": Ref("owner")},
         "404 PT404 request_not_found"),
    Case("remove-missing-connection", "member", "remove_connection", {"user_id": Ref("owner")},
         "404 PT404 connection_not_found"),
    Case("block-yourself", "member", "block_user", {"user_id": SELF}, "400 P0001 self"),
    Case("block-missing-user", "member", "block_user", {"user_id": MISSING}, "404 PT404 user_not_found"),
    Case("block-null", "member", "block_user", {"user_id": None}, "400 P0001 self"),
    Case("unblock-not-blocked", "member", "unblock_user", {"user_id": Ref("owner")}, "404 PT404 block_not_found"),
    Case("insert-block-directly", "member", "sql",
         {"statement": "insert into blocks (blocker_id, blocked_id) values (%s, %s)", "params": [SELF, Ref("owner")]},
         "403 42501", notes="writes go through the RPCs; the table grants SELECT only"),
    # -- conversations ---------------------------------------------------------------------------------------
    Case("dm-yourself", "member", "get_or_create_direct_conversation", {"organization_id": ORG, "other_user_id": SELF},
         "400 P0001 self"),
    Case("dm-user-of-other-org", "member", "get_or_create_direct_conversation",
         {"organization_id": ORG, "other_user_id": Ref("other_admin")},
         "404 PT404 user_not_found"),
    Case("dm-in-foreign-org", "member", "get_or_create_direct_conversation",
         {"organization_id": OTHER_ORG, "other_user_id": Ref("other_admin")},
         "404 PT404 organization_not_found"),
    Case("group-title-empty", "owner", "create_group_conversation", {"organization_id": ORG, "title": ""},
         "400 P0001 invalid_title"),
    Case("group-title-whitespace", "owner", "create_group_conversation", {"organization_id": ORG, "title": "    "},
         "400 P0001 invalid_title"),
    Case("group-title-tabs", "owner", "create_group_conversation", {"organization_id": ORG, "title": "\t\t"},
         "400 P0001 control_characters"),
    Case("group-title-oversized", "owner", "create_group_conversation", {"organization_id": ORG, "title": "t" * 121},
         "400 P0001 invalid_title"),
    Case("group-title-control-characters", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors\x1b[31m"},
         "400 P0001 control_characters"),
    Case("group-description-oversized", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "description": HUGE},
         "400 P0001 invalid_description"),
    Case("group-avatar-javascript", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "avatar_url": "javascript:alert(1)"},
         "400 P0001 invalid_avatar_url"),
    Case("group-negative-slow-mode", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "slow_mode_seconds": -1},
         "400 P0001 invalid_slow_mode"),
    Case("group-huge-slow-mode", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "slow_mode_seconds": 2000000000},
         "400 P0001 invalid_slow_mode"),
    Case("group-posting-policy", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "posting_policy": "nobody"},
         "400 P0001 invalid_posting_policy"),
    Case("group-foreign-members", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "member_ids": [Ref("other_admin")]},
         "404 PT404 user_not_found"),
    Case("group-huge-member-list", "owner", "create_group_conversation",
         {"organization_id": ORG, "title": "Tutors", "member_ids": Ref("many_ids")},
         "400 P0001 too_many_members"),
    Case("group-in-foreign-org", "owner", "create_group_conversation",
         {"organization_id": OTHER_ORG, "title": "Tutors"},
         "404 PT404 organization_not_found"),
    Case("member-role-unknown", "owner", "set_conversation_member_role",
         {"conversation_id": Ref("group"), "user_id": Ref("member"), "role": "god"},
         "400 P0001 invalid_role"),
    Case("add-to-foreign-group", "other_admin", "add_conversation_members",
         {"conversation_id": Ref("group"), "user_ids": [Ref("other_admin")]},
         "404 PT404 conversation_not_found"),
    Case("support-status-unknown", "admin", "set_support_status",
         {"conversation_id": Ref("support"), "status": "closed"},
         "400 P0001 invalid_status"),
    Case("support-status-foreign", "other_admin", "set_support_status",
         {"conversation_id": Ref("support"), "status": "resolved"},
         "404 PT404 conversation_not_found"),
    Case("support-queue-negative-page", "admin", "get_support_queue", {"organization_id": ORG, "page_size": -1},
         "400 P0001 invalid_page_size"),
    Case("support-queue-huge-page", "admin", "get_support_queue", {"organization_id": ORG, "page_size": 1000000},
         "400 P0001 invalid_page_size"),
    Case("insert-message-directly", "member", "sql",
         {"statement": "insert into messages (conversation_id, sender_kind, sender_id, body) "
                       "values (%s, 'user', %s, 'forged')",
          "params": [Ref("group"), Ref("owner")]},
         "403 42501", notes="messages are sent through send_message only"),
    # -- audit and monitoring ---------------------------------------------------------------------------------
    Case("monitoring-zero-window", "admin", "get_active_conversations", {"organization_id": ORG, "window_minutes": 0},
         "400 P0001 invalid_window", method="GET"),
    Case("monitoring-huge-page", "admin", "get_active_conversations", {"organization_id": ORG, "page_size": 10000000},
         "400 P0001 invalid_page_size", method="GET"),
    Case("verify-foreign-audit-log", "other_admin", "verify_audit_log", {"organization_id": ORG},
         "404 PT404 organization_not_found", method="GET"),
    Case("delete-audit-entries", "service_role", "sql", {"statement": "delete from audit_log", "params": []},
         "403 42501", method="DELETE"),
    Case("record-refusals-not-a-list", "service_role", "sql",
         {"statement": "select parley_internal.record_refusals(%s::jsonb)", "params": ['{"sqlstate": "P0001"}']},
         "400 P0001 invalid_events"),
    Case("record-refusals-deep-json", "service_role", "sql",
         {"statement": "select parley_internal.record_refusals(%s::jsonb)", "params": [DEEP_JSON]},
         "413 54001"),
    # -- storage: path traversal and hostile file names (parley.storage upload path) -------------------------
    Case("upload-path-traversal", "member", "upload", {"file_name": "../../etc/passwd", "data": b'hello'},
         "400 - bad_file_name"),
    Case("upload-backslash-traversal", "member", "upload", {"file_name": "..\\..\\boot.ini", "data": b'hello'},
         "400 - bad_file_name"),
    Case("upload-dot-dot", "member", "upload", {"file_name": "..", "data": b'hello'}, "400 - bad_file_name"),
    Case("upload-nul-in-name", "member", "upload", {"file_name": "notes.txt\x00.exe", "data": b'hello'},
         "400 - bad_file_name"),
    Case("upload-empty-name", "member", "upload", {"file_name": "   ", "data": b'hello'}, "400 - bad_file_name"),
    Case("upload-oversized-name", "member", "upload", {"file_name": "n" * 2000 + ".txt", "data": b'hello'},
         "400 - bad_file_name"),
    # -- attachments (create_attachment registers an uploaded object) --------------------------------------
    Case("attachment-object-traversal", "member", "create_attachment", {"object_name": "../../etc/passwd"},
         "400 P0001 invalid_object_name"),
    Case("attachment-object-in-someone-elses-folder", "member", "create_attachment",
         {"object_name": Template("{group}/{owner}/" + UPLOAD)}, "400 P0001 invalid_object_name"),
    Case("attachment-object-dot-dot-segment", "member", "create_attachment",
         {"object_name": Template("{group}/{self}/../{owner}/" + UPLOAD)}, "400 P0001 invalid_object_name"),
    Case("attachment-file-name-traversal", "member", "create_attachment",
         {"object_name": Template("{group}/{self}/" + UPLOAD), "file_name": "../../../etc/passwd"},
         "400 P0001 invalid_file_name"),
    Case("attachment-file-name-control", "member", "create_attachment",
         {"object_name": Template("{group}/{self}/" + UPLOAD), "file_name": "notes\x1b[2J.txt"},
         "400 P0001 invalid_file_name"),
    Case("attachment-foreign-conversation", "member", "create_attachment",
         {"object_name": Template("{other_group}/{self}/" + UPLOAD)}, "404 PT404 conversation_not_found"),
    Case("attachment-never-uploaded", "member", "create_attachment",
         {"object_name": Template("{group}/{self}/" + UPLOAD)}, "404 PT404 file_not_found"),
    Case("attachment-delete-missing", "member", "delete_attachment", {"attachment_id": MISSING},
         "404 PT404 attachment_not_found"),
    Case("storage-object-traversal", "member", "sql",
         {"statement": "insert into storage.objects (bucket_id, name, owner, owner_id) "
                       "values ('chat-files', %s, %s, %s)",
          "params": [Template("{group}/{self}/../../{owner}/" + UPLOAD), SELF, SELF]},
         "403 42501", notes="the storage.objects insert policy (Supabase Storage runs it as the user)"),
    Case("upload-empty-file", "member", "upload", {"file_name": "empty.txt", "data": b''}, "400 - empty_file"),
]
# fmt: on
