"""Legacy fixture data for ``parley import``: the two supported input schemas and a seeded generator.

``create_schema(connection, source)`` creates ``legacy_astegni`` or ``legacy_pea``
(the DDL in this package's ``legacy_*.sql``); ``generate_astegni`` and
``generate_pea`` fill them with realistic, deterministic data (same seed, same
rows) through COPY: users with several role profiles, duplicate conversations
of one pair across profiles, blocks from one profile only, reactions, read
receipts with gaps, calls, support messages of many users interleaved,
persona messages, attachments by URL, and the broken rows real systems have
(orphans, unknown profiles, over-long and empty bodies, shared emails). Tests
use it small; ``make bench`` at about a million messages.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
SCHEMAS = {"astegni": "legacy_astegni", "pea-support": "legacy_pea"}
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
EMOJI = ["👍", "❤️", "😂", "🎉", "🙏", "👀", "🇪🇹", "👩🏽‍💻", ":thumbsup:"]
WORDS = (
    "lesson homework tomorrow schedule math physics chemistry exam tutor payment session thanks "
    "please question answer book chapter page online zoom link week monday friday morning evening"
).split()


def ddl(source: str) -> str:
    """The legacy schema's DDL (the supported input of ``parley import <source>``)."""
    name = "legacy_astegni.sql" if source == "astegni" else "legacy_pea.sql"
    return (HERE / name).read_text()


def create_schema(connection: psycopg.Connection, source: str, *, replace: bool = True) -> None:
    """Create the legacy schema of ``source`` (dropping an existing one when ``replace``)."""
    if replace:
        connection.execute(f"drop schema if exists {SCHEMAS[source]} cascade")
    connection.execute(ddl(source).encode())


def _text(rng: random.Random, low: int = 3, high: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


@dataclass
class Counts:
    """Rows written per legacy table."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        """Record ``count`` rows of ``table``."""
        self.rows[table] = self.rows.get(table, 0) + count


def _copy(connection: psycopg.Connection, table: str, columns: list[str], rows: list[tuple], counts: Counts) -> None:
    with connection.cursor() as cursor, cursor.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    counts.add(table, len(rows))


def generate_astegni(connection: psycopg.Connection, *, users: int = 40, messages: int = 3000, seed: int = 1) -> Counts:
    """Fill legacy_astegni (created afresh) with about ``messages`` messages among ``users`` users."""
    rng = random.Random(seed)
    create_schema(connection, "astegni")
    counts = Counts()
    user_rows = []
    for uid in range(1, users + 1):
        user_rows.append((uid, f"astegni.user{uid}@example.org", f"First{uid}", f"Last{uid}"))
    # A second legacy account with the same email (other case): one Parley account.
    user_rows.append((users + 1, "ASTEGNI.USER1@example.org", "First1", "Again"))
    # An account with no usable email.
    user_rows.append((users + 2, "not-an-email", "No", "Email"))
    _copy(connection, "legacy_astegni.users", ["id", "email", "first_name", "last_name"], user_rows, counts)

    types = ["student", "tutor", "parent"]
    next_profile = {t: 1 for t in types}
    profiles_of: dict[int, list[tuple[int, str]]] = {}
    profile_rows = []
    for uid in range(1, users + 3):
        chosen = rng.sample(types, rng.choice([1, 2, 2, 3]))
        for kind in chosen:
            pid = next_profile[kind]
            next_profile[kind] += 1
            profile_rows.append((pid, kind, uid))
            profiles_of.setdefault(uid, []).append((pid, kind))
    # An orphaned profile: its user does not exist.
    orphan_profile = (next_profile["tutor"], "tutor")
    profile_rows.append((orphan_profile[0], "tutor", 9_999_999))
    _copy(connection, "legacy_astegni.profiles", ["profile_id", "profile_type", "user_id"], profile_rows, counts)

    real_users = list(range(1, users + 1))
    conversations: list[tuple[int, str, list[tuple[int, str]]]] = []
    conv_rows, part_rows = [], []
    cid = 0
    pid_seq = 0

    def add_conversation(kind: str, members: list[tuple[int, str]], name: str | None = None) -> int:
        nonlocal cid, pid_seq
        cid += 1
        created = EPOCH + datetime.timedelta(minutes=cid)
        creator = members[0]
        conv_rows.append((cid, kind, name, None, creator[0], creator[1], created))
        for index, (profile_id, profile_type) in enumerate(members):
            pid_seq += 1
            role = "admin" if kind == "group" and index == 0 else "member"
            part_rows.append((pid_seq, cid, profile_id, profile_type, role, rng.random() < 0.1, rng.random() < 0.05,
                              created))  # fmt: skip
        conversations.append((cid, kind, members))
        return cid

    pairs = set()
    while len(pairs) < max(3, users):
        a, b = rng.sample(real_users, 2)
        pairs.add((min(a, b), max(a, b)))
    for a, b in sorted(pairs):
        # The same pair talked through 1 to 3 different profile combinations (duplicates to merge).
        combos = {(rng.choice(profiles_of[a]), rng.choice(profiles_of[b])) for _ in range(rng.choice([1, 1, 2, 3]))}
        for pa, pb in sorted(combos):
            add_conversation("direct", [pa, pb])
    # A user talking to themselves across two of their own profiles.
    selfish = next(uid for uid in real_users if len(profiles_of[uid]) >= 2)
    add_conversation("direct", profiles_of[selfish][:2])
    # A direct conversation with a profile whose user is unknown.
    add_conversation("direct", [profiles_of[1][0], orphan_profile])
    for g in range(max(2, users // 5)):
        members = [rng.choice(profiles_of[u]) for u in rng.sample(real_users, min(len(real_users), rng.randint(3, 8)))]
        # The same user in the group with two profiles: one member.
        multi = next((u for u in real_users if len(profiles_of[u]) >= 2 and profiles_of[u][0] in members), None)
        if multi is not None:
            members.append(profiles_of[multi][1])
        add_conversation("group", list(dict.fromkeys(members)), name=f"Study group {g + 1}")
    # A participant row of a conversation that does not exist.
    pid_seq += 1
    part_rows.append((pid_seq, 8_888_888, profiles_of[2][0][0], profiles_of[2][0][1], "member", False, False, EPOCH))
    _copy(connection, "legacy_astegni.conversations",
          ["id", "type", "name", "avatar_url", "created_by_profile_id", "created_by_profile_type", "created_at"],
          conv_rows, counts)  # fmt: skip
    _copy(connection, "legacy_astegni.conversation_participants",
          ["id", "conversation_id", "profile_id", "profile_type", "role", "is_muted", "is_archived", "joined_at"],
          part_rows, counts)  # fmt: skip

    # Messages: interleaved across conversations in time; some share a timestamp (ties go by id).
    message_rows, receipt_rows, reaction_rows = [], [], []
    by_conversation: dict[int, list[int]] = {}
    at = EPOCH + datetime.timedelta(days=1)
    mid = 0
    rid = 0
    heavy = [c for c in conversations if c[1] == "direct"][: max(1, len(conversations) // 4)]
    for n in range(messages):
        conv = rng.choice(heavy) if rng.random() < 0.4 else rng.choice(conversations)
        conv_id, kind, members = conv
        sender = rng.choice(members)
        if rng.random() > 0.05:
            at += datetime.timedelta(seconds=rng.randint(1, 600))
        mid += 1
        roll = rng.random()
        message_type, content, media, metadata = "text", _text(rng), None, None
        deleted = edited = False
        if roll < 0.05:
            message_type, media = "image", f"https://files.astegni.example/img/{mid}.jpg"
            content = "" if rng.random() < 0.5 else _text(rng, 1, 4)
            metadata = '{"width": 800, "height": 600}'
        elif roll < 0.07:
            message_type, media, content = "file", f"https://files.astegni.example/doc/{mid}.pdf", None
        elif roll < 0.08:
            deleted = True
        elif roll < 0.10:
            edited = True
        elif roll < 0.101:
            content = "x" * 6000  # over the default limit of 5,000 characters
        elif roll < 0.102:
            content = "   "  # empty
        elif roll < 0.103:
            sender = orphan_profile  # a sender whose user is unknown
        elif roll < 0.104:
            conv_id = 7_777_777  # a conversation that does not exist
        # The broken rows of every kind appear at least once, whatever the seed.
        forced = {messages // 3: "crlf", messages // 4: "long", messages // 5: "empty", messages // 6: "orphan_sender",
                  messages // 7: "orphan_conversation", messages // 8: "deleted"}.get(n)  # fmt: skip
        if forced == "crlf":
            content = "Line one\r\nLine two\twith tab"
        elif forced == "long":
            message_type, content, media, metadata = "text", "x" * 6000, None, None
        elif forced == "empty":
            message_type, content, media, metadata = "text", "  ", None, None
        elif forced == "orphan_sender":
            sender = orphan_profile
        elif forced == "orphan_conversation":
            conv_id = 7_777_777
        elif forced == "deleted":
            deleted = True
        earlier = by_conversation.get(conv_id, [])
        reply = rng.choice(earlier) if earlier and rng.random() < 0.05 else None
        updated = at + datetime.timedelta(minutes=5) if (edited or deleted) else None
        message_rows.append((mid, conv_id, sender[0], sender[1], message_type, content, media, metadata, reply, edited,
                             deleted, at, updated))  # fmt: skip
        by_conversation.setdefault(conv_id, []).append(mid)
        # Receipts: recipients read most of the history, with gaps; the newest tail mostly unread.
        tail = n > messages * 0.9
        for member in members:
            if member != sender and rng.random() < (0.3 if tail else 0.93):
                receipt_rows.append((mid, member[0], member[1], at + datetime.timedelta(minutes=1)))
        if rng.random() < 0.08:
            for member in rng.sample(members, min(len(members), 2)):
                rid += 1
                reaction_rows.append((rid, mid, member[0], member[1], rng.choice(EMOJI), at))
    # The same user reacting with the same emoji from two profiles: one reaction.
    two = next(c for c in conversations if c[1] == "group" and len(c[2]) >= 2)
    some = by_conversation.get(two[0], [mid])[0]
    user_profiles = profiles_of[selfish]
    rid += 1
    reaction_rows.append((rid, some, user_profiles[0][0], user_profiles[0][1], "👍", at))
    rid += 1
    reaction_rows.append((rid, some, user_profiles[1][0], user_profiles[1][1], "👍", at))
    rid += 1
    reaction_rows.append((rid, some, profiles_of[3][0][0], profiles_of[3][0][1], "not an emoji", at))
    rid += 1
    reaction_rows.append((rid, 6_666_666, profiles_of[3][0][0], profiles_of[3][0][1], "👍", at))
    _copy(connection, "legacy_astegni.chat_messages",
          ["id", "conversation_id", "sender_profile_id", "sender_profile_type", "message_type", "content", "media_url",
           "media_metadata", "reply_to_id", "is_edited", "is_deleted", "created_at", "updated_at"],
          message_rows, counts)  # fmt: skip
    _copy(connection, "legacy_astegni.message_read_receipts", ["message_id", "profile_id", "profile_type", "read_at"],
          receipt_rows, counts)  # fmt: skip
    _copy(
        connection,
        "legacy_astegni.message_reactions",
        ["id", "message_id", "profile_id", "profile_type", "reaction", "created_at"],
        reaction_rows,
        counts,
    )

    call_rows = []
    call_id = 0
    span = max(1, int((at - EPOCH).total_seconds()))
    for conv_id, kind, members in conversations:
        if kind != "direct" or rng.random() > 0.3:
            continue
        for _ in range(rng.randint(1, 3)):
            call_id += 1
            caller = rng.choice(members)
            started = EPOCH + datetime.timedelta(days=1, seconds=rng.randint(0, span))
            status = rng.choice(["ended", "ended", "missed", "declined", "cancelled"])
            answered = started + datetime.timedelta(seconds=5) if status == "ended" else None
            duration = rng.randint(10, 3600) if status == "ended" else None
            ended = started + datetime.timedelta(seconds=(duration or 20) + 5)
            call_rows.append((call_id, conv_id, caller[0], caller[1], rng.choice(["voice", "video"]), status, started,
                              answered, ended, duration))  # fmt: skip
    _copy(connection, "legacy_astegni.call_logs",
          ["id", "conversation_id", "caller_profile_id", "caller_profile_type", "call_type", "status", "started_at",
           "answered_at", "ended_at", "duration_seconds"], call_rows, counts)  # fmt: skip

    settings_rows = []
    for profile_id, profile_type, _uid in profile_rows:
        if rng.random() < 0.5:
            settings_rows.append((profile_id, profile_type,
                                  rng.choice(["everyone", "everyone", "connections", "nobody"]),
                                  rng.choice(["everyone", "connections", "nobody"]),
                                  rng.random() < 0.8, rng.random() < 0.8))  # fmt: skip
    _copy(connection, "legacy_astegni.chat_settings",
          ["profile_id", "profile_type", "who_can_message", "who_can_call", "show_online_status", "read_receipts"],
          settings_rows, counts)  # fmt: skip

    block_rows = []
    bid = 0
    for _ in range(max(2, users // 8)):
        a, b = rng.sample(real_users, 2)
        bid += 1
        # Blocked from one profile only.
        block_rows.append((bid, *profiles_of[a][0], *rng.choice(profiles_of[b]), EPOCH))
    bid += 1
    block_rows.append((bid, *profiles_of[selfish][0], *profiles_of[selfish][1], EPOCH))  # self block
    bid += 1
    block_rows.append((bid, *orphan_profile, *profiles_of[1][0], EPOCH))  # unknown blocker
    _copy(connection, "legacy_astegni.blocked_contacts",
          ["id", "blocker_profile_id", "blocker_profile_type", "blocked_profile_id", "blocked_profile_type",
           "created_at"], block_rows, counts)  # fmt: skip
    connection.execute("analyze legacy_astegni.chat_messages, legacy_astegni.call_logs, "
                       "legacy_astegni.message_read_receipts")  # fmt: skip
    return counts


def generate_pea(connection: psycopg.Connection, *, users: int = 30, messages: int = 2000, seed: int = 1) -> Counts:
    """Fill legacy_pea (created afresh): one shared support group with ``users`` users' threads interleaved."""
    rng = random.Random(seed)
    create_schema(connection, "pea-support")
    counts = Counts()
    admins = max(2, users // 10)
    user_rows = [(uid, f"pea.user{uid}@example.org", f"User {uid}", uid <= admins) for uid in range(1, users + 1)]
    _copy(connection, "legacy_pea.users", ["id", "email", "name", "is_admin"], user_rows, counts)
    _copy(connection, "legacy_pea.chat_groups", ["id", "name", "group_type"],
          [(1, "Help & Support", "support"), (2, "Main PEA Communication", "general")], counts)  # fmt: skip
    customers = list(range(admins + 1, users + 1))
    member_rows = [(1, uid, "member" if uid > admins else "admin", None) for uid in range(1, users + 1)]
    member_rows.append((1, 5_555_555, "member", None))  # a member whose user is gone
    fake_rows = [(1, "Support Team", "https://pea.example/avatars/support.png", True, 1),
                 (2, "Sara from PEA", None, True, 1), (3, "Old Helper", None, False, 2)]  # fmt: skip
    _copy(connection, "legacy_pea.chat_fake_users", ["id", "name", "avatar_url", "is_active", "created_by_admin_id"],
          fake_rows, counts)  # fmt: skip
    rows = []
    at = EPOCH
    last_seen: dict[int, int] = {}
    for mid in range(1, messages + 1):
        customer = rng.choice(customers)
        at += datetime.timedelta(seconds=rng.randint(0, 300))
        roll = rng.random()
        sender_type, sender, by_admin = "real_user", customer, None
        if roll < 0.35:
            sender_type, sender = "fake_user", rng.choice([1, 1, 2, 3])
            # The real admin, where known; admin 1 only ever answers as a persona.
            by_admin = (1 if rng.random() < 0.6 else rng.randint(2, admins)) if rng.random() < 0.8 else None
        elif roll < 0.45:
            sender_type, sender = "admin", rng.randint(2, admins)
        content, kind, attachment, deleted, group = _text(rng), "text", None, False, 1
        support_user: int | None = customer
        extra = rng.random()
        if extra < 0.04:
            kind, attachment = "image", f"https://pea.example/uploads/{mid}.png"
            content = None if rng.random() < 0.5 else content
        elif extra < 0.05:
            kind, content = "link", "https://pea.example/help/article-7"
        elif extra < 0.06:
            deleted = True
        elif extra < 0.062:
            support_user = None  # support message without its user: cannot be placed
        elif extra < 0.064:
            sender_type, sender = "real_user", rng.choice([c for c in customers if c != customer])  # foreign sender
        elif extra < 0.065:
            content = "y" * 5001
        elif extra < 0.066:
            sender_type, sender, by_admin = "fake_user", 99, None  # unknown persona
        elif extra < 0.067:
            group = 77  # its group is gone
        elif extra < 0.1:
            group, support_user = 2, None  # general chat: not part of the support import
        forced = {messages // 3: "long", messages // 4: "no_user", messages // 5: "persona", messages // 6: "orphan",
                  messages // 7: "foreign"}.get(mid)  # fmt: skip
        if forced == "long":
            content, deleted, group, support_user = "y" * 5001, False, 1, customer
        elif forced == "no_user":
            group, support_user = 1, None
        elif forced == "persona":
            sender_type, sender, by_admin, group, support_user = "fake_user", 99, None, 1, customer
        elif forced == "orphan":
            group, support_user = 77, customer
        elif forced == "foreign":
            group, support_user, sender_type = 1, customer, "real_user"
            sender = next(c for c in customers if c != customer)
        rows.append((mid, group, sender, sender_type, by_admin, content, kind, attachment, support_user, deleted, at))
        if support_user is not None and group == 1:
            last_seen[support_user] = mid

    # Read state: each customer read up to some point of the group's id sequence.
    def watermark(uid: int) -> int | None:
        if uid in last_seen and rng.random() < 0.7:
            return rng.randint(0, last_seen[uid])
        return last_seen.get(uid)

    member_rows = [(g, uid, role, watermark(uid)) for g, uid, role, _ in member_rows]
    _copy(connection, "legacy_pea.chat_group_members", ["group_id", "user_id", "role", "last_read_message_id"],
          member_rows, counts)  # fmt: skip
    _copy(connection, "legacy_pea.chat_messages",
          ["id", "group_id", "sender_id", "sender_type", "sent_by_admin_id", "content", "message_type",
           "attachment_url", "support_conversation_user_id", "is_deleted", "created_at"], rows, counts)  # fmt: skip
    connection.execute("analyze legacy_pea.chat_messages")
    return counts
