"""Legacy imports (issue 16): Astegni role-keyed chat (seed 000) and PEA group-based support (seed 001).

Both imports run on generated fixtures (parley.imports.fixtures) in this module's database; the
assertions compare Parley against the legacy tables as the owner (the DBA's view) and check what
users see through the request path (get_inbox, get_messages, get_unread_counts).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from identity_support import as_owner
from imports_support import generate, organization, run_import, scalar, snapshot, token_for
from parley.db import Api


@pytest.fixture(scope="module")
def imported(api: Api, database) -> SimpleNamespace:
    owner = database.create_user("importowner")
    org = organization(api, owner)
    astegni_rows = generate(database, "astegni", users=30, messages=2500, seed=7).rows
    pea_rows = generate(database, "pea-support", users=24, messages=1500, seed=7).rows
    astegni = run_import(database, "astegni", org, batch_size=400)
    pea = run_import(database, "pea-support", org, batch_size=300, retire_source=True)
    return SimpleNamespace(owner=owner, org=org, astegni=astegni, pea=pea, astegni_rows=astegni_rows,
                           pea_rows=pea_rows)  # fmt: skip


def exception_reasons(database, source: str) -> dict[tuple[str, str], int]:
    rows = as_owner(database, "select legacy_table, reason, count(*) from parley_import.exceptions"
                    " where source = %s group by 1, 2", (source,))  # fmt: skip
    return {(table, reason): count for table, reason, count in rows}


# -- both imports on fixtures; the verification report ---------------------------


def test_astegni_import_verifies_every_legacy_table_and_every_conversation_checksum(imported):
    report = imported.astegni
    assert report.verified, report.verification
    items = {row[0]: row for row in report.verification}
    for table in ("users", "profiles", "conversations", "conversation_participants", "chat_messages", "call_logs",
                  "message_reactions", "message_read_receipts", "blocked_contacts", "chat_settings"):  # fmt: skip
        _, legacy, imported_rows, exceptions, ok = items[table]
        assert legacy == imported.astegni_rows[f"legacy_astegni.{table}"], table
        assert ok and legacy == imported_rows + exceptions and imported_rows > 0, items[table]
    checksums = items["message checksums (conversations)"]
    assert checksums[1] == checksums[2] > 10


def test_pea_import_verifies_counts_and_checksums(imported):
    report = imported.pea
    assert report.verified, report.verification
    items = {row[0]: row for row in report.verification}
    assert items["chat_messages (support)"][2] > 1000
    assert items["chat_fake_users"][1:3] == (3, 3)
    assert items["message checksums (conversations)"][1] == items["message checksums (conversations)"][2] > 10


def test_verification_detects_a_lost_message(imported, database):
    """The report is not a tautology: delete one imported message and it mismatches (then restore it)."""
    [(message_id, conversation_id)] = as_owner(database, """
        select m.message_id, x.conversation_id
        from parley_import.message_map m join messages x on x.id = m.message_id
        where m.source = 'astegni' and x.kind = 'text' and x.deleted_at is null
        order by m.message_id limit 1""")  # fmt: skip
    as_owner(database, "create table public.import_saved as select * from messages where id = %s", (message_id,))
    try:
        as_owner(database, f"set session_replication_role = replica; delete from messages where id = {int(message_id)}")
        rows = {r[0]: r for r in as_owner(database, "select * from parley_import.verify('astegni')")}
        assert rows["chat_messages"][4] is False
        assert rows["message checksums (conversations)"][4] is False
        [(bad,)] = as_owner(database, "select count(*) from parley_import.checksums('astegni')"
                            " where legacy_md5 is distinct from parley_md5")  # fmt: skip
        assert bad == 1
    finally:
        columns = ", ".join(
            name
            for (name,) in as_owner(
                database,
                """
            select column_name from information_schema.columns
            where table_schema = 'public' and table_name = 'messages' and is_generated = 'NEVER'
            order by ordinal_position""",
            )
        )  # generated columns (search_vector) are recomputed
        as_owner(database, f"set session_replication_role = replica; insert into messages ({columns})"
                 f" overriding system value select {columns} from public.import_saved;"
                 " drop table public.import_saved")  # fmt: skip
    assert all(r[4] for r in as_owner(database, "select * from parley_import.verify('astegni')"))
    assert scalar(database, "select conversation_id from messages where id = %s", (message_id,)) == conversation_id


# -- re-runs ----------------------------------------------------------------------


def test_second_runs_of_both_imports_change_nothing(imported, database):
    before = snapshot(database)
    again = run_import(database, "astegni", None, batch_size=1000)
    pea_again = run_import(database, "pea-support", None)
    assert again.verified and pea_again.verified
    assert again.messages == 0 and pea_again.messages == 0
    assert snapshot(database) == before


def test_a_run_into_another_organization_is_refused(imported, api, database):
    other = organization(api, imported.owner, "Elsewhere")
    with pytest.raises(Exception, match="was imported into organization"):
        run_import(database, "astegni", other)


# -- merge rules ------------------------------------------------------------------


def test_direct_conversations_of_one_user_pair_across_profiles_become_one(imported, database):
    rows = as_owner(database, """
        with legacy_direct as (
          select c.id, array_agg(distinct pm.user_id order by pm.user_id) as users
          from legacy_astegni.conversations c
          join legacy_astegni.conversation_participants p on p.conversation_id = c.id
          join parley_import.profile_map pm on pm.profile_id = p.profile_id and pm.profile_type = p.profile_type
          where c.type = 'direct'
            and not exists (select 1 from parley_import.exceptions x
                            where x.legacy_table = 'conversations' and x.legacy_key = c.id::text)
          group by c.id)
        select l.users::text, count(distinct m.conversation_id), count(*)
        from legacy_direct l join parley_import.conversation_map m on m.source = 'astegni' and m.legacy_key = l.id::text
        group by l.users""")  # fmt: skip
    assert rows and all(parley == 1 for _, parley, _ in rows), "one Parley conversation per user pair"
    assert any(legacy > 1 for _, _, legacy in rows), "the fixture has pairs that talked through several profiles"
    # Each merged conversation has exactly its two users as members.
    assert (
        scalar(
            database,
            """
        select count(*) from parley_import.conversation_map m join conversations c on c.id = m.conversation_id
        where m.source = 'astegni' and c.kind = 'direct'
          and (select count(*) from conversation_members cm where cm.conversation_id = c.id) <> 2""",
        )
        == 0
    )


def test_merged_conversation_messages_keep_legacy_order_in_their_ids(imported, database):
    [(conversation,)] = as_owner(database, """
        select conversation_id from parley_import.conversation_map where source = 'astegni'
        group by conversation_id having count(*) > 1
        order by (select count(*) from messages x where x.conversation_id = conversation_map.conversation_id) desc
        limit 1""")  # fmt: skip
    rows = as_owner(database, """
        select x.id, coalesce(lm.created_at, lc.started_at), case when lm.id is null then 2 else 1 end, mm.legacy_id,
               lm.conversation_id
        from messages x join parley_import.message_map mm on mm.message_id = x.id
        left join legacy_astegni.chat_messages lm on mm.legacy_table = 'chat_messages' and lm.id = mm.legacy_id
        left join legacy_astegni.call_logs lc on mm.legacy_table = 'call_logs' and lc.id = mm.legacy_id
        where x.conversation_id = %s order by x.id""", (conversation,))  # fmt: skip
    assert len(rows) > 5
    assert [r[1:4] for r in rows] == sorted(r[1:4] for r in rows)
    assert len({r[4] for r in rows if r[4] is not None}) > 1, "messages of several legacy conversations interleave"


def test_a_block_from_any_profile_blocks_the_user(imported, database):
    expected = as_owner(database, """
        select distinct bu.user_id, du.user_id from legacy_astegni.blocked_contacts b
        join parley_import.profile_map bu
          on bu.profile_id = b.blocker_profile_id and bu.profile_type = b.blocker_profile_type
        join parley_import.profile_map du
          on du.profile_id = b.blocked_profile_id and du.profile_type = b.blocked_profile_type
        where bu.user_id <> du.user_id""")  # fmt: skip
    assert expected
    for blocker, blocked in expected:
        assert scalar(database, "select count(*) from blocks where blocker_id = %s and blocked_id = %s",
                      (blocker, blocked)) == 1  # fmt: skip
    assert exception_reasons(database, "astegni")[("blocked_contacts", "self_block")] == 1


def test_read_watermarks_never_mark_an_unread_message_as_read(imported, database):
    """Every message from others at or below a watermark was read by one of the user's profiles (or is a call
    that was not missed), and the first message above it was not: the watermark is as high as it may be."""
    [(read_but_unreceipted, members, first_above_read, behind)] = as_owner(database, """
        with w as (
          select e.user_id, e.conversation_id, e.last_read_message_id
          from inbox_entries e join parley_import.conversation_map m on m.conversation_id = e.conversation_id
          where m.source = 'astegni' group by 1, 2, 3),
        judged as (
          select w.user_id, w.conversation_id, x.id, x.id <= w.last_read_message_id as below,
                 case when mm.legacy_table = 'call_logs'
                      then (select c.status <> 'missed' from legacy_astegni.call_logs c where c.id = mm.legacy_id)
                      else exists (select 1 from legacy_astegni.message_read_receipts r
                                   join parley_import.profile_map pm
                                     on pm.profile_id = r.profile_id and pm.profile_type = r.profile_type
                                   where r.message_id = mm.legacy_id and pm.user_id = w.user_id) end as was_read
          from w join messages x on x.conversation_id = w.conversation_id
          join parley_import.message_map mm on mm.message_id = x.id
          where x.deleted_at is null and x.sender_id is distinct from w.user_id)
        select count(*) filter (where below and not was_read),
               (select count(*) from w),
               count(*) filter (where not below and was_read and id = (
                 select min(j.id) from judged j where j.user_id = judged.user_id
                   and j.conversation_id = judged.conversation_id and not j.below)),
               count(distinct (user_id, conversation_id)) filter (where not below)
        from judged""")  # fmt: skip
    assert members > 50
    assert read_but_unreceipted == 0
    assert first_above_read == 0
    assert behind > 0, "the fixture leaves some members with unread history"


def test_privacy_settings_merge_to_the_most_restrictive(imported, database):
    rows = as_owner(database, """
        select p.user_id, p.who_can_message::text, p.who_can_call::text, p.show_online_status, p.send_read_receipts,
               max(parley_import.audience_rank(s.who_can_message)), max(parley_import.audience_rank(s.who_can_call)),
               bool_and(s.show_online_status), bool_and(s.read_receipts), count(*)
        from legacy_astegni.chat_settings s
        join parley_import.profile_map pm on pm.profile_id = s.profile_id and pm.profile_type = s.profile_type
        join privacy_settings p on p.user_id = pm.user_id
        group by 1, 2, 3, 4, 5""")  # fmt: skip
    assert rows
    ranks = {"everyone": 0, "shared_organization": 1, "connections": 2, "nobody": 3}
    for _, message, call, online, receipts, message_rank, call_rank, legacy_online, legacy_receipts, _ in rows:
        assert ranks[message] == message_rank  # Parley defaults are everyone, so the legacy maximum wins
        assert ranks[call] == max(call_rank, ranks["connections"])  # default who_can_call = connections
        assert online == legacy_online and receipts == legacy_receipts
    assert any(count > 1 for *_, count in rows), "some users had settings on several profiles"


def test_profiles_become_app_roles_of_one_identity(imported, database):
    [(user_id, roles)] = as_owner(database, """
        select pm.user_id, p.app_roles from parley_import.profile_map pm join profiles p on p.id = pm.user_id
        group by 1, 2 having count(distinct pm.profile_type) = 3 order by 1 limit 1""")  # fmt: skip
    assert sorted(roles) == ["parent", "student", "tutor"]
    assert scalar(database, "select count(*) from parley_import.user_map where user_id = %s", (user_id,)) >= 1


def test_legacy_accounts_sharing_an_email_become_one_account(imported, database):
    assert scalar(database, "select count(distinct user_id) from parley_import.user_map"
                  " where source = 'astegni' and legacy_id in (1, 31)") == 1  # fmt: skip


# -- the exceptions table -----------------------------------------------------------


def test_every_kind_of_broken_legacy_row_lands_in_exceptions_with_its_reason(imported, database):
    astegni = exception_reasons(database, "astegni")
    for expected in [("users", "invalid_email"), ("profiles", "unknown_user"), ("conversations", "self_conversation"),
                     ("conversations", "unknown_participant"), ("conversation_participants", "orphaned"),
                     ("chat_messages", "orphaned"), ("chat_messages", "unknown_user"),
                     ("chat_messages", "body_too_long"), ("chat_messages", "empty_body"),
                     ("message_reactions", "invalid_emoji"), ("message_reactions", "orphaned"),
                     ("blocked_contacts", "self_block"), ("blocked_contacts", "unknown_user")]:  # fmt: skip
        assert astegni.get(expected, 0) >= 1, expected
    pea = exception_reasons(database, "pea-support")
    for expected in [("chat_messages", "no_support_user"), ("chat_messages", "foreign_sender"),
                     ("chat_messages", "body_too_long"), ("chat_messages", "unknown_persona"),
                     ("chat_messages", "orphaned"), ("chat_group_members", "unknown_user")]:  # fmt: skip
        assert pea.get(expected, 0) >= 1, expected
    [(detail,)] = as_owner(database, "select detail from parley_import.exceptions where source = 'astegni'"
                           " and reason = 'body_too_long' limit 1")  # fmt: skip
    assert detail["length"] == 6000 and detail["limit"] == 5000


def test_no_legacy_row_is_both_imported_and_an_exception(imported, database):
    assert (
        scalar(
            database,
            """
        select count(*) from parley_import.exceptions x join parley_import.message_map m
          on m.source = x.source and m.legacy_table = x.legacy_table and m.legacy_id::text = x.legacy_key""",
        )
        == 0
    )


# -- calls, attachments, tombstones ------------------------------------------------------


def test_calls_become_call_messages_with_their_details(imported, database):
    rows = as_owner(database, """
        select x.kind, x.sender_kind, x.body, x.metadata, c.status, c.duration_seconds, c.call_type
        from legacy_astegni.call_logs c
        join parley_import.message_map m on m.legacy_table = 'call_logs' and m.legacy_id = c.id
        join messages x on x.id = m.message_id""")  # fmt: skip
    assert rows
    for kind, sender_kind, body, metadata, status, duration, media in rows:
        assert (kind, sender_kind, body) == ("call", "user", "")
        assert metadata["call"]["status"] == status and metadata["call"]["media"] == media
        assert metadata["call"].get("duration_seconds") == duration


def test_attachments_keep_their_urls_and_deleted_messages_are_tombstones(imported, database):
    [(metadata,)] = as_owner(database, """
        select x.metadata from legacy_astegni.chat_messages l
        join parley_import.message_map m
          on m.source = 'astegni' and m.legacy_table = 'chat_messages' and m.legacy_id = l.id
        join messages x on x.id = m.message_id
        where l.message_type = 'image' and not l.is_deleted limit 1""")  # fmt: skip
    assert metadata["attachments"][0]["url"].startswith("https://files.astegni.example/img/")
    assert metadata["attachments"][0]["width"] == 800
    assert scalar(database, """
        select count(*) from legacy_astegni.chat_messages l
        join parley_import.message_map m
          on m.source = 'astegni' and m.legacy_table = 'chat_messages' and m.legacy_id = l.id
        join messages x on x.id = m.message_id
        where l.is_deleted and (x.body is not null or x.deleted_at is null)""") == 0  # fmt: skip


# -- what users see (request path) ------------------------------------------------------------


def test_imported_history_shows_in_inbox_messages_and_unread_counts(imported, api: Api, database):
    """Seed 000: the user chats as one identity and sees every history; counts follow the watermarks."""
    [(user_id, conversation, unread)] = as_owner(database, """
        select e.user_id, e.conversation_id,
               (select count(*) from messages x where x.conversation_id = e.conversation_id
               and x.id > e.last_read_message_id and x.deleted_at is null and x.sender_id is distinct from e.user_id)
        from inbox_entries e join parley_import.conversation_map m on m.conversation_id = e.conversation_id
        where m.source = 'astegni'
        group by 1, 2 having count(*) > 1
        order by 3 desc limit 1""")  # fmt: skip
    token = token_for(database, str(user_id))
    inbox = api.rpc("get_inbox", {"page_size": 100}, token=token)
    row = next(r for r in inbox if r["conversation_id"] == str(conversation))
    assert row["unread_count"] == min(unread, 100)
    counts = {r["conversation_id"]: r for r in api.rpc("get_unread_counts", {}, token=token)}
    assert counts[str(conversation)]["unread_count"] == row["unread_count"]
    history: list[dict] = []
    before = None
    while True:
        page = api.rpc("get_messages", {"conversation_id": str(conversation), "page_size": 100,
                                        **({"before_id": before} if before else {})}, token=token)  # fmt: skip
        history.extend(page)
        if not page or not page[-1]["has_more"]:
            break
        before = page[-1]["id"]
    assert len(history) == scalar(database, "select count(*) from messages where conversation_id = %s", (conversation,))
    assert row["last_message_id"] == max(m["id"] for m in history)


def test_customer_sees_only_their_support_history_and_never_the_staff_behind_personas(imported, api: Api, database):
    """Seed 001: one isolated support conversation per user; persona messages keep the staff sender hidden."""
    [(user_id, conversation, legacy_user)] = as_owner(database, """
        select c.subject_user_id, c.id, um.legacy_id from conversations c
        join parley_import.conversation_map m on m.conversation_id = c.id and m.source = 'pea-support'
        join parley_import.user_map um on um.source = 'pea-support' and um.user_id = c.subject_user_id
        where exists (select 1 from messages x join parley_internal.message_senders s on s.message_id = x.id
                      where x.conversation_id = c.id and x.sender_kind = 'persona')
        order by (select count(*) from messages x where x.conversation_id = c.id) desc limit 1""")  # fmt: skip
    token = token_for(database, str(user_id))
    messages = api.rpc("get_messages", {"conversation_id": str(conversation), "page_size": 100}, token=token)
    legacy_count = scalar(database, """select count(*) from legacy_pea.chat_messages m where m.group_id = 1
        and m.support_conversation_user_id = %s and not exists (select 1 from parley_import.exceptions x
        where x.source = 'pea-support' and x.legacy_table = 'chat_messages' and x.legacy_key = m.id::text)""",
                          (legacy_user,))  # fmt: skip
    assert len(messages) == min(legacy_count, 100)
    staff = {str(s) for (s,) in as_owner(database, """select s.sender_id from parley_internal.message_senders s
        join messages x on x.id = s.message_id where x.conversation_id = %s""", (conversation,))}  # fmt: skip
    assert staff
    personas = [m for m in messages if m["sender_kind"] == "persona"]
    assert personas and all(m["sender_id"] is None and m["persona_id"] for m in personas)
    persona_text = json.dumps(personas)
    assert not any(member in persona_text for member in staff), "no staff id on a persona message"
    # Staff who answered only as a persona (not also as themselves) appear nowhere the customer reads.
    hidden = staff - {str(m["sender_id"]) for m in messages if m["sender_id"]}
    text = json.dumps(messages)
    assert hidden and not any(member in text for member in hidden)
    inbox = api.rpc("get_inbox", {"page_size": 100}, token=token)
    assert any(r["conversation_id"] == str(conversation) and r["title"] == "Help & Support" for r in inbox)
    assert not any(member in json.dumps(inbox) for member in hidden)
    # Nobody else's support conversation is visible to this user.
    visible = api.query("select id, kind from conversations", token=token)
    assert [r["id"] for r in visible if r["kind"] == "support"] == [conversation]


def test_old_support_group_is_retired_and_no_shared_group_exists(imported, database):
    assert (
        scalar(database, "select bool_or(is_active) from legacy_pea.chat_groups where group_type = 'support'") is False
    )
    assert scalar(database, "select count(*) from conversations where kind = 'group' and organization_id = %s"
                  " and title = 'Help & Support'", (imported.org,)) == 0  # fmt: skip
    # One support conversation per user, each with only that user as member.
    assert scalar(database, """select count(*) from conversations c where c.kind = 'support'
        and (select array_agg(user_id) from conversation_members m where m.conversation_id = c.id)
            is distinct from array[c.subject_user_id]""") == 0  # fmt: skip


def test_one_audit_entry_per_run_instead_of_one_per_row(imported, database):
    [(entries, persona_audits)] = as_owner(database, """
        select count(*) filter (where action like 'import.%%'),
               count(*) filter (where action = 'message.send_as_persona')
        from audit_log where organization_id = %s""", (imported.org,))  # fmt: skip
    assert entries >= 2
    assert persona_audits == 0
    assert scalar(database, "select count(*) from realtime.messages") < 50


def test_api_roles_cannot_reach_the_import_schema(imported, api: Api, database):
    """parley_import is owner-only: no API role reads its maps (they name accounts) or runs its functions."""
    from identity_support import refusal

    user_token = token_for(database, str(imported.owner.id))
    for token in (user_token, database.token("service_role"), None):
        assert refusal(lambda t=token: api.query("select * from parley_import.user_map", token=t)).code == "42501"
        assert refusal(lambda t=token: api.query("select parley_import.verify('astegni')", token=t)).code == "42501"
