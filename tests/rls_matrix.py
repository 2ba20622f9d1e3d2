"""The RLS matrix (issue 5): every exposed table x six actors x four operations, with the expected outcome.

Used by tests/test_rls_matrix.py. ``FIXTURE`` builds two organizations, "this"
and "other", each with an owner, an admin and a member, and rows in every
exposed table; ``stranger`` belongs to no organization. Every statement
targets rows of "this" organization (or of its member, for per-user tables).

Outcomes, per actor in ``ACTORS`` order:
  an int   the statement returns (select) or writes (insert/update/delete
           ... returning) that many rows;
  DENIED   refused with 42501 (no privilege, or RLS refused an insert);
  "PTxxx"/other SQLSTATE strings: refused with that SQLSTATE.

Adding a table to public without an entry here fails
test_every_exposed_table_has_a_matrix_entry.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTORS: tuple[str, ...] = ("anon", "stranger", "member", "other_admin", "admin", "service_role")
OPERATIONS: tuple[str, ...] = ("select", "insert", "update", "delete")
DENIED = "42501"
UNIQUE_VIOLATION = "23505"  # the privilege check passed; the row exists (one settings row per organization/user)

Outcome = int | str

IDS: dict[str, str] = {
    "this_owner": "0e000000-0000-4000-a000-000000000001",
    "admin": "0e000000-0000-4000-a000-000000000002",
    "member": "0e000000-0000-4000-a000-000000000003",
    "other_owner": "0e000000-0000-4000-a000-000000000004",
    "other_admin": "0e000000-0000-4000-a000-000000000005",
    "other_member": "0e000000-0000-4000-a000-000000000006",
    "stranger": "0e000000-0000-4000-a000-000000000007",
    "this": "1e000000-0000-4000-a000-000000000001",
    "other": "1e000000-0000-4000-a000-000000000002",
    "this_persona": "2e000000-0000-4000-a000-000000000001",
    "other_persona": "2e000000-0000-4000-a000-000000000002",
    "this_group": "3e000000-0000-4000-a000-000000000001",
    "this_support": "3e000000-0000-4000-a000-000000000002",
    "other_group": "3e000000-0000-4000-a000-000000000003",
    "this_call": "5e000000-0000-4000-a000-000000000001",
}

# Users who act in the matrix, by actor name (anon and service_role have none).
ACTOR_USERS: dict[str, str] = {
    "stranger": IDS["stranger"],
    "member": IDS["member"],
    "other_admin": IDS["other_admin"],
    "admin": IDS["admin"],
}

FIXTURE = """
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
select id::uuid, 'authenticated', 'authenticated', name || '@rls.parley', '{{"provider": "email"}}',
       jsonb_build_object('display_name', name)
from (values ('{this_owner}', 'this_owner'), ('{admin}', 'this_admin'), ('{member}', 'this_member'),
             ('{other_owner}', 'other_owner'), ('{other_admin}', 'other_admin'),
             ('{other_member}', 'other_member'), ('{stranger}', 'stranger')) as u (id, name);

insert into public.organizations (id, name, created_by) values
  ('{this}', 'This', '{this_owner}'), ('{other}', 'Other', '{other_owner}');
insert into public.organization_members (organization_id, user_id, role) values
  ('{this}', '{this_owner}', 'owner'), ('{this}', '{admin}', 'admin'), ('{this}', '{member}', 'member'),
  ('{other}', '{other_owner}', 'owner'), ('{other}', '{other_admin}', 'admin'), ('{other}', '{other_member}', 'member');
insert into public.organization_invitations (organization_id, role, token_hash, invited_by, expires_at) values
  ('{this}', 'member', 'rls-this-hash', '{admin}', now() + interval '1 day'),
  ('{other}', 'member', 'rls-other-hash', '{other_admin}', now() + interval '1 day');
insert into public.organization_role_permissions (organization_id, role, permission, granted, updated_by) values
  ('{this}', 'member', 'chat.moderate', true, '{this_owner}'),
  ('{other}', 'member', 'chat.moderate', true, '{other_owner}');
insert into public.personas (id, organization_id, display_name) values
  ('{this_persona}', '{this}', 'This Support'), ('{other_persona}', '{other}', 'Other Support');
insert into public.persona_acts (persona_id, organization_id, acting_user_id, action) values
  ('{this_persona}', '{this}', '{admin}', 'session_start'),
  ('{other_persona}', '{other}', '{other_admin}', 'session_start');
insert into public.connections (user_low, user_high, requested_by, status, accepted_at) values
  (least('{member}'::uuid, '{admin}'::uuid), greatest('{member}'::uuid, '{admin}'::uuid), '{member}',
   'accepted', now()),
  (least('{other_member}'::uuid, '{other_admin}'::uuid), greatest('{other_member}'::uuid, '{other_admin}'::uuid),
   '{other_member}', 'accepted', now());
insert into public.blocks (blocker_id, blocked_id) values ('{member}', '{stranger}'), ('{other_member}', '{stranger}');

insert into public.conversations (id, organization_id, kind, title, created_by) values
  ('{this_group}', '{this}', 'group', 'This group', '{this_owner}'),
  ('{other_group}', '{other}', 'group', 'Other group', '{other_owner}');
insert into public.conversations (id, organization_id, kind, subject_user_id, support_status) values
  ('{this_support}', '{this}', 'support', '{member}', 'open');
insert into public.conversation_members (conversation_id, user_id, role) values
  ('{this_group}', '{this_owner}', 'owner'), ('{this_group}', '{admin}', 'admin'),
  ('{this_group}', '{member}', 'member'),
  ('{this_support}', '{member}', 'member'),
  ('{other_group}', '{other_owner}', 'owner'), ('{other_group}', '{other_admin}', 'admin'),
  ('{other_group}', '{other_member}', 'member');
insert into public.inbox_entries (user_id, conversation_id)
select user_id, conversation_id from public.conversation_members;
insert into public.messages (conversation_id, sender_kind, sender_id, body) values
  ('{this_group}', 'user', '{member}', 'this group message'),
  ('{this_support}', 'user', '{member}', 'this support message'),
  ('{other_group}', 'user', '{other_member}', 'other group message');
insert into public.message_edits (message_id, edited_by, previous_body)
select id, sender_id, 'before' from public.messages;
insert into public.message_reactions (message_id, emoji, user_id)
select id, '👍', '{admin}'::uuid from public.messages where conversation_id = '{this_group}'
union all
select id, '👍', '{other_admin}'::uuid from public.messages where conversation_id = '{other_group}';
insert into public.message_mentions (user_id, conversation_id, message_id)
select '{member}'::uuid, conversation_id, id from public.messages where conversation_id = '{this_group}'
union all
select '{other_member}'::uuid, conversation_id, id from public.messages where conversation_id = '{other_group}';
insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes,
                                message_id, position, attached_at)
select conversation_id, sender_id, conversation_id || '/' || sender_id || '/4e000000-0000-4000-a000-000000000001-a.txt',
       'a.txt', 'text/plain', 5, id, 0, now()
from public.messages where conversation_id in ('{this_group}', '{other_group}');
insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes) values
  ('{this_group}', '{admin}', '{this_group}/{admin}/4e000000-0000-4000-a000-000000000002-b.txt', 'b.txt',
   'text/plain', 5);
insert into public.presence (user_id, status) values ('{member}', 'online'), ('{other_member}', 'away');
insert into public.call_sessions (id, conversation_id, organization_id, media, initiator_id, ring_deadline) values
  ('{this_call}', '{this_group}', '{this}', 'audio', '{member}', now() + interval '45 seconds');
insert into public.call_participants (call_id, conversation_id, user_id, state, joined_at, invited_by) values
  ('{this_call}', '{this_group}', '{member}', 'joined', now(), null),
  ('{this_call}', '{this_group}', '{admin}', 'ringing', null, '{member}');
insert into public.message_reports (organization_id, conversation_id, message_id, reporter_id, reported_user_id,
                                    reason, evidence)
select c.organization_id, m.conversation_id, m.id, case when c.organization_id = '{this}' then '{admin}'::uuid
                                                       else '{other_admin}'::uuid end, m.sender_id, 'spam', '{{}}'
from public.messages m join public.conversations c on c.id = m.conversation_id
where m.conversation_id in ('{this_group}', '{other_group}');
insert into public.moderation_restrictions (organization_id, user_id, kind, created_by) values
  ('{this}', '{member}', 'ban', '{admin}'), ('{other}', '{other_member}', 'ban', '{other_admin}');
insert into public.conversation_retention (conversation_id, organization_id, retention_days, legal_hold_at) values
  ('{this_group}', '{this}', 30, now()), ('{other_group}', '{other}', 30, null);
""".format(**IDS)


@dataclass(frozen=True)
class TableMatrix:
    """The four statements tried on one table, and the outcome expected for each actor."""

    select: str
    insert: str
    update: str
    delete: str
    expected: dict[str, tuple[Outcome, ...]]

    def statement(self, operation: str) -> str:
        """The statement for ``operation``, with the fixture's ids filled in."""
        return getattr(self, operation).format(**IDS)

    def outcome(self, operation: str, actor: str) -> Outcome:
        """What ``actor`` must get for ``operation``."""
        return self.expected[operation][ACTORS.index(actor)]


def _only_service_role_writes(readers: tuple[Outcome, ...]) -> dict[str, tuple[Outcome, ...]]:
    """Reference data: readable as given; only service_role inserts, updates and deletes (one row each)."""
    writes: tuple[Outcome, ...] = (DENIED, DENIED, DENIED, DENIED, DENIED, 1)
    return {"select": readers, "insert": writes, "update": writes, "delete": writes}


# Actor order:            anon    stranger member  other_admin admin service_role
MATRIX: dict[str, TableMatrix] = {
    # -- plans and permissions: reference data ---------------------------------
    "features": TableMatrix(
        select="select 1 from public.features where key = 'chat'",
        insert="insert into public.features (key, description) values ('rls_probe', 'Probe.') returning 1",
        update="update public.features set description = description where key = 'chat' returning 1",
        delete="delete from public.features where key = 'chat.calls' returning 1",
        expected=_only_service_role_writes((1, 1, 1, 1, 1, 1)),
    ),
    "plans": TableMatrix(
        select="select 1 from public.plans where id = 'chat'",
        insert="insert into public.plans (id, name) values ('rls_probe', 'Probe') returning 1",
        update="update public.plans set monthly_price = 0 where id = 'chat' returning 1",
        delete="delete from public.plans where id = 'chat_lite' returning 1",
        expected=_only_service_role_writes((1, 1, 1, 1, 1, 1)),
    ),
    "plan_features": TableMatrix(
        select="select 1 from public.plan_features where plan_id = 'chat'",
        insert="insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1",
        update="update public.plan_features set feature = feature where plan_id = 'chat_lite' returning 1",
        delete="delete from public.plan_features where plan_id = 'chat_lite' returning 1",
        expected=_only_service_role_writes((2, 2, 2, 2, 2, 2)),
    ),
    "permissions": TableMatrix(
        select="select 1 from public.permissions where key = 'chat.view'",
        insert="insert into public.permissions (key, description) values ('chat.rls_probe', 'Probe.') returning 1",
        update="update public.permissions set description = description where key = 'chat.view' returning 1",
        delete="delete from public.permissions where key = 'chat.initiate_call' returning 1",
        expected=_only_service_role_writes((DENIED, 1, 1, 1, 1, 1)),
    ),
    "role_permissions": TableMatrix(
        select="select 1 from public.role_permissions where role = 'guest'",
        insert="insert into public.role_permissions (role, permission) values ('guest', 'chat.moderate') returning 1",
        update="update public.role_permissions set permission = permission where role = 'guest' returning 1",
        delete="delete from public.role_permissions where role = 'guest' returning 1",
        expected=_only_service_role_writes((DENIED, 1, 1, 1, 1, 1)),
    ),
    # -- organizations -------------------------------------------------------------
    "organizations": TableMatrix(
        select="select 1 from public.organizations where id = '{this}'",
        insert="insert into public.organizations (name) values ('Probe') returning 1",
        update="update public.organizations set name = 'Renamed' where id = '{this}' returning 1",
        delete="delete from public.organizations where id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, 0, 0, 0, 1, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "organization_members": TableMatrix(
        select="select 1 from public.organization_members where organization_id = '{this}'",
        insert="insert into public.organization_members (organization_id, user_id, role) "
        "values ('{this}', '{stranger}', 'member') returning 1",
        update="update public.organization_members set role = 'admin' "
        "where organization_id = '{this}' and user_id = '{member}' returning 1",
        delete="delete from public.organization_members where organization_id = '{this}' and user_id = '{member}' "
        "returning 1",
        expected={
            "select": (DENIED, 0, 3, 0, 3, 3),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "organization_invitations": TableMatrix(
        select="select 1 from public.organization_invitations where organization_id = '{this}'",
        insert="insert into public.organization_invitations (organization_id, role, token_hash, expires_at) "
        "values ('{this}', 'admin', 'rls-probe-hash', now() + interval '1 day') returning 1",
        update="update public.organization_invitations set role = 'admin' where organization_id = '{this}' returning 1",
        delete="delete from public.organization_invitations where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 0, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "organization_role_permissions": TableMatrix(
        select="select 1 from public.organization_role_permissions where organization_id = '{this}'",
        insert="insert into public.organization_role_permissions (organization_id, role, permission, granted) "
        "values ('{this}', 'member', 'chat.audit_read', true) returning 1",
        update="update public.organization_role_permissions set granted = false where organization_id = '{this}' "
        "returning 1",
        delete="delete from public.organization_role_permissions where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "organization_settings": TableMatrix(
        select="select 1 from public.organization_settings where organization_id = '{this}'",
        insert="insert into public.organization_settings (organization_id) values ('{this}') returning 1",
        update="update public.organization_settings set max_message_length = 2000 where organization_id = '{this}' "
        "returning 1",
        delete="delete from public.organization_settings where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, UNIQUE_VIOLATION),
            "update": (DENIED, 0, 0, 0, 1, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    # -- people ---------------------------------------------------------------------
    "profiles": TableMatrix(
        select="select 1 from public.profiles where id = '{member}'",
        insert="insert into public.profiles (id, username, display_name) values ('{member}', 'rls_probe', 'Probe') "
        "returning 1",
        update="update public.profiles set bio = 'Edited' where id = '{member}' returning 1",
        delete="delete from public.profiles where id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, UNIQUE_VIOLATION),
            "update": (DENIED, 0, 1, 0, 0, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "privacy_settings": TableMatrix(
        select="select 1 from public.privacy_settings where user_id = '{member}'",
        insert="insert into public.privacy_settings (user_id) values ('{member}') returning 1",
        update="update public.privacy_settings set who_can_message = 'nobody' where user_id = '{member}' returning 1",
        delete="delete from public.privacy_settings where user_id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 0, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, UNIQUE_VIOLATION),
            "update": (DENIED, 0, 1, 0, 0, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "connections": TableMatrix(
        select="select 1 from public.connections where '{member}' in (user_low, user_high)",
        insert="insert into public.connections (user_low, user_high, requested_by) "
        "values (least('{member}'::uuid, '{stranger}'::uuid), greatest('{member}'::uuid, '{stranger}'::uuid), "
        "'{member}') returning 1",
        update="update public.connections set status = 'pending' where '{member}' in (user_low, user_high) returning 1",
        delete="delete from public.connections where '{member}' in (user_low, user_high) returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "blocks": TableMatrix(
        select="select 1 from public.blocks where blocker_id = '{member}'",
        insert="insert into public.blocks (blocker_id, blocked_id) values ('{member}', '{other_admin}') returning 1",
        update="update public.blocks set created_at = created_at where blocker_id = '{member}' returning 1",
        delete="delete from public.blocks where blocker_id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 0, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "personas": TableMatrix(
        select="select 1 from public.personas where id = '{this_persona}'",
        insert="insert into public.personas (organization_id, display_name) values ('{this}', 'Fake') returning 1",
        update="update public.personas set display_name = 'Renamed' where id = '{this_persona}' returning 1",
        delete="delete from public.personas where id = '{this_persona}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, 0, 0, 0, 1, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "persona_acts": TableMatrix(
        select="select 1 from public.persona_acts where organization_id = '{this}'",
        insert="insert into public.persona_acts (persona_id, organization_id, acting_user_id, action) "
        "values ('{this_persona}', '{this}', '{member}', 'session_start') returning 1",
        update="update public.persona_acts set acting_user_id = '{member}' where organization_id = '{this}' "
        "returning 1",
        delete="delete from public.persona_acts where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 0, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    # -- conversations and messages ------------------------------------------------------
    "conversations": TableMatrix(
        select="select 1 from public.conversations where organization_id = '{this}'",
        insert="insert into public.conversations (organization_id, kind, title) values ('{this}', 'group', 'Probe') "
        "returning 1",
        update="update public.conversations set title = 'Renamed' where id = '{this_group}' returning 1",
        delete="delete from public.conversations where id = '{this_group}' returning 1",
        expected={
            "select": (DENIED, 0, 2, 0, 2, 2),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "conversation_members": TableMatrix(
        select="select 1 from public.conversation_members where conversation_id = '{this_group}'",
        insert="insert into public.conversation_members (conversation_id, user_id) "
        "values ('{this_group}', '{stranger}') returning 1",
        update="update public.conversation_members set role = 'admin' "
        "where conversation_id = '{this_group}' and user_id = '{member}' returning 1",
        delete="delete from public.conversation_members where conversation_id = '{this_group}' "
        "and user_id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 3, 0, 3, 3),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "inbox_entries": TableMatrix(
        select="select 1 from public.inbox_entries where user_id = '{member}'",
        insert="insert into public.inbox_entries (user_id, conversation_id) values ('{admin}', '{this_group}') "
        "returning 1",
        update="update public.inbox_entries set pinned_at = now() where user_id = '{member}' returning 1",
        delete="delete from public.inbox_entries where user_id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 2, 0, 0, 2),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, UNIQUE_VIOLATION),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 2),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 2),
        },
    ),
    "messages": TableMatrix(
        select="select 1 from public.messages where conversation_id = '{this_group}'",
        insert="insert into public.messages (conversation_id, sender_kind, sender_id, body) "
        "values ('{this_group}', 'user', '{member}', 'Forged') returning 1",
        update="update public.messages set body = 'Forged' where conversation_id = '{this_group}' returning 1",
        delete="delete from public.messages where conversation_id = '{this_group}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "message_edits": TableMatrix(
        select="select 1 from public.message_edits e join public.messages m on m.id = e.message_id "
        "where m.conversation_id = '{this_group}'",
        insert="insert into public.message_edits (message_id, previous_body) "
        "select id, 'Forged' from public.messages where conversation_id = '{this_group}' returning 1",
        update="update public.message_edits set previous_body = 'Forged' where message_id in "
        "(select id from public.messages where conversation_id = '{this_group}') returning 1",
        delete="delete from public.message_edits where message_id in "
        "(select id from public.messages where conversation_id = '{this_group}') returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "message_reactions": TableMatrix(
        select="select 1 from public.message_reactions r join public.messages m on m.id = r.message_id "
        "where m.conversation_id = '{this_group}'",
        insert="insert into public.message_reactions (message_id, emoji, user_id) "
        "select id, '🎉', '{member}' from public.messages where conversation_id = '{this_group}' returning 1",
        update="update public.message_reactions set emoji = '🎉' where message_id in "
        "(select id from public.messages where conversation_id = '{this_group}') returning 1",
        delete="delete from public.message_reactions where message_id in "
        "(select id from public.messages where conversation_id = '{this_group}') returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "message_mentions": TableMatrix(
        select="select 1 from public.message_mentions where user_id = '{member}'",
        insert="insert into public.message_mentions (user_id, conversation_id, message_id) "
        "select '{admin}', conversation_id, id from public.messages where conversation_id = '{this_group}' "
        "returning 1",
        update="update public.message_mentions set conversation_id = conversation_id where user_id = '{member}' "
        "returning 1",
        delete="delete from public.message_mentions where user_id = '{member}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 0, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "attachments": TableMatrix(
        select="select 1 from public.attachments where conversation_id = '{this_group}'",
        insert="insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, "
        "size_bytes) values ('{this_group}', '{member}', '{this_group}/{member}/probe-c.txt', 'c.txt', "
        "'text/plain', 5) returning 1",
        update="update public.attachments set file_name = 'renamed.txt' where conversation_id = '{this_group}' "
        "and message_id is not null returning 1",
        delete="delete from public.attachments where conversation_id = '{this_group}' and message_id is not null "
        "returning 1",
        expected={
            # The member sees the file sent in the group; the admin also their own upload not sent yet.
            "select": (DENIED, 0, 1, 0, 2, 2),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "presence": TableMatrix(
        select="select 1 from public.presence where user_id = '{member}'",
        insert="insert into public.presence (user_id) values ('{member}') returning 1",
        update="update public.presence set status = 'busy' where user_id = '{member}' returning 1",
        delete="delete from public.presence where user_id = '{member}' returning 1",
        expected={
            # Yourself, and people sharing an organization with you (the admin); the stranger is blocked.
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, UNIQUE_VIOLATION),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    # -- moderation (issue 18): chat.moderate holders read (the fixture grants it to members of "this") -----
    "message_reports": TableMatrix(
        select="select 1 from public.message_reports where organization_id = '{this}'",
        insert="insert into public.message_reports (organization_id, message_id, reporter_id, reason, evidence) "
        "select '{this}', id, '{this_owner}', 'spam', '{{}}' from public.messages "
        "where conversation_id = '{this_group}' returning 1",
        update="update public.message_reports set status = 'dismissed', resolved_at = now() "
        "where organization_id = '{this}' returning 1",
        delete="delete from public.message_reports where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "moderation_restrictions": TableMatrix(
        select="select 1 from public.moderation_restrictions where organization_id = '{this}'",
        insert="insert into public.moderation_restrictions (organization_id, user_id, kind, expires_at) "
        "values ('{this}', '{member}', 'mute', now() + interval '1 hour') returning 1",
        update="update public.moderation_restrictions set lifted_at = now() where organization_id = '{this}' "
        "returning 1",
        delete="delete from public.moderation_restrictions where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "conversation_retention": TableMatrix(
        select="select 1 from public.conversation_retention where conversation_id = '{this_group}'",
        insert="insert into public.conversation_retention (conversation_id, organization_id, retention_days) "
        "values ('{this_support}', '{this}', 7) returning 1",
        update="update public.conversation_retention set retention_days = 7 where conversation_id = '{this_group}' "
        "returning 1",
        delete="delete from public.conversation_retention where conversation_id = '{this_group}' returning 1",
        expected={
            # Members of the group and the organization's admins read it.
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    # -- audit ----------------------------------------------------------------------------
    "audit_log": TableMatrix(
        select="select 1 from public.audit_log where organization_id = '{this}' and action = 'organization.create'",
        insert="insert into public.audit_log (chain, chain_seq, organization_id, actor_role, action, table_name, hash) "
        "values ('organization:{this}', 999, '{this}', 'authenticated', 'fake.entry', 'public.organizations', "
        "sha256('x')) returning 1",
        update="update public.audit_log set action = 'fake.edit' where organization_id = '{this}' returning 1",
        delete="delete from public.audit_log where organization_id = '{this}' returning 1",
        expected={
            "select": (DENIED, 0, 0, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
        },
    ),
    # -- calls (issue 15): members of the conversation read; writes only through the call RPCs -------
    "call_sessions": TableMatrix(
        select="select 1 from public.call_sessions where id = '{this_call}'",
        insert="insert into public.call_sessions (conversation_id, organization_id, media, ring_deadline, state, "
        "end_reason, ended_at) values ('{this_group}', '{this}', 'audio', now(), 'ended', 'missed', now()) returning 1",
        update="update public.call_sessions set media = 'video' where id = '{this_call}' returning 1",
        delete="delete from public.call_sessions where id = '{this_call}' returning 1",
        expected={
            "select": (DENIED, 0, 1, 0, 1, 1),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
    "call_participants": TableMatrix(
        select="select 1 from public.call_participants where call_id = '{this_call}'",
        insert="insert into public.call_participants (call_id, conversation_id, user_id, state) "
        "values ('{this_call}', '{this_group}', '{this_owner}', 'ringing') returning 1",
        update="update public.call_participants set muted = true where call_id = '{this_call}' "
        "and user_id = '{member}' returning 1",
        delete="delete from public.call_participants where call_id = '{this_call}' and user_id = '{member}' "
        "returning 1",
        expected={
            "select": (DENIED, 0, 2, 0, 2, 2),
            "insert": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "update": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
            "delete": (DENIED, DENIED, DENIED, DENIED, DENIED, 1),
        },
    ),
}
