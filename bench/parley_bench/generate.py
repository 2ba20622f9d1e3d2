"""Deterministic benchmark data: users, organizations, conversations, messages.

Everything derives from one seed (``random.Random(seed)``), so two runs at the
same scale and seed load byte-identical data. Ids are readable and
deterministic: ``ident(KIND, n)`` gives ``k0000000-0000-4000-8000-<n in hex>``.

Shape (full scale; small scales every count down):

* 10,000 users; organization 0 holds all of them, the others a 10% sample each.
* 100,000 conversations in organization 0 mostly: one big group (100 members,
  1,000,000 messages) that is also the hot conversation, a few very busy groups
  (50 to 400 members, a quarter of the remaining messages), ordinary groups
  (3 to 60 members, log-normal activity), support conversations (1%), and
  many quiet direct conversations (log-normal activity: most hold a handful of
  messages, many none).
* User 0 (the inbox user) is a member of exactly 1,000 conversations.
* Messages are interleaved across conversations in id order, as they would be
  in production, with increasing timestamps over one year. Two percent of
  group messages mention one member.
* Inbox entries: 60% of members have read everything, 30% have 1 to 20
  unread messages, 10% have 21 to 300.

Loading is COPY as the owner with ``session_replication_role = replica``
(no triggers, no foreign-key triggers), so rows that triggers would create
(profiles, privacy settings, organization settings, inbox entries) are
generated and copied too, and foreign keys are verified with anti-joins
after the load. The messages table's secondary indexes are dropped for the
load and rebuilt from their own definitions.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg

from parley_bench.scale import Scale

USER, ORGANIZATION, CONVERSATION, CLIENT_MESSAGE = 0xA, 0xB, 0xC, 0xD
BENCH_CLIENT_MESSAGE = 0xE
"""Prefix of client_msg_ids the scenarios send (never used by the loaded data)."""

YEAR_START = 1_735_689_600  # 2025-01-01T00:00:00Z
SECONDS_PER_YEAR = 365 * 86_400
WORDS = (
    "ok thanks see you tomorrow the meeting notes are ready can you check this please lesson homework "
    "question answer schedule call later today sounds good great idea let me know when free maths essay "
    "chapter review deadline friday monday draft send file photo link here there again sure no yes maybe"
).split()


def ident(kind: int, number: int) -> str:
    """A deterministic version-4-shaped uuid: ``k0000000-0000-4000-8000-<number>``."""
    return f"{kind:x}0000000-0000-4000-8000-{number:012x}"


@dataclass
class Conversation:
    """One generated conversation."""

    index: int
    organization: int
    kind: str
    members: list[int]
    title: str | None = None
    messages: int = 0

    @property
    def id(self) -> str:
        """The conversation's uuid."""
        return ident(CONVERSATION, self.index)


@dataclass
class Dataset:
    """What the scenarios need to know about the loaded data."""

    scale: Scale
    seed: int
    organization_ids: list[str]
    inbox_user: str
    inbox_conversations: list[str]
    big_conversation: str
    big_conversation_members: list[str]
    senders: list[tuple[str, list[str]]]
    """Scenario 1's senders: (user id, some of their conversations), big conversation excluded."""
    rows: dict[str, int] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)

    def user_id(self, number: int) -> str:
        """The uuid of user ``number``."""
        return ident(USER, number)


class Generator:
    """Builds the data set in memory (except messages, which stream) and COPYs it in."""

    def __init__(self, scale: Scale, seed: int) -> None:
        self.scale = scale
        self.seed = seed
        self.rng = random.Random(seed)
        self.user_ids = [ident(USER, n) for n in range(scale.users)]
        self.organization_members: list[list[int]] = []
        self.conversations: list[Conversation] = []

    # -- shape ------------------------------------------------------------

    def plan(self) -> None:
        """Decide organizations, conversations, rosters and message counts."""
        rng, scale = self.rng, self.scale
        everyone = list(range(scale.users))
        self.organization_members = [everyone]
        for _ in range(1, scale.organizations):
            members = sorted(rng.sample(everyone, max(3, scale.users // 10)))
            self.organization_members.append(members)
        conversations = self.conversations
        hot = list(range(scale.hot_conversation_members))
        conversations.append(Conversation(0, 0, "group", hot, "Big conversation"))
        inbox_count = 1
        for number in range(scale.busy_groups):
            size = rng.randint(50, min(400, scale.users))
            members = rng.sample(range(1, scale.users), size - 1)
            if number % 2 == 0:
                members.append(0)
                inbox_count += 1
            conversations.append(Conversation(len(conversations), 0, "group", members, f"Busy group {number}"))
        # The inbox user's remaining conversations: 30% small groups, 70% direct.
        remaining = scale.inbox_user_conversations - inbox_count
        inbox_groups = remaining * 3 // 10
        for number in range(inbox_groups):
            members = [0, *rng.sample(range(1, scale.users), rng.randint(2, 29))]
            conversations.append(Conversation(len(conversations), 0, "group", members, f"Study group {number}"))
        direct_keys: set[tuple[int, int, int]] = set()
        partners = rng.sample(range(1, scale.users), remaining - inbox_groups)
        for partner in partners:
            direct_keys.add((0, 0, partner))
            conversations.append(Conversation(len(conversations), 0, "direct", [0, partner]))
        # Support conversations: 1%, one per user per organization.
        support_users = rng.sample(range(1, scale.users), min(scale.users - 1, scale.conversations // 100))
        for user in support_users:
            conversations.append(Conversation(len(conversations), 0, "support", [user]))
        # Ordinary groups up to 15% of all conversations, then direct conversations.
        groups_target = scale.conversations * 15 // 100
        group_count = sum(1 for c in conversations if c.kind == "group")
        for number in range(max(0, groups_target - group_count)):
            organization = self._pick_organization()
            pool = self.organization_members[organization]
            size = min(len(pool) - 1, max(3, int(rng.lognormvariate(2.0, 0.8))), 60)
            members = [m for m in rng.sample(pool, size + 1) if m != 0][:size]
            conversations.append(Conversation(len(conversations), organization, "group", members, f"Group {number}"))
        while len(conversations) < scale.conversations:
            organization = self._pick_organization()
            pool = self.organization_members[organization]
            first, second = rng.sample(pool, 2)
            key = (organization, min(first, second), max(first, second))
            if key in direct_keys or 0 in (first, second):
                continue
            direct_keys.add(key)
            conversations.append(Conversation(len(conversations), organization, "direct", [first, second]))
        self._count_messages()

    def _pick_organization(self) -> int:
        if self.scale.organizations == 1 or self.rng.random() < 0.7:
            return 0
        return self.rng.randrange(1, self.scale.organizations)

    def _count_messages(self) -> None:
        """Give each conversation a message count: big, busy (25%), then log-normal skew."""
        rng, scale = self.rng, self.scale
        big = self.conversations[0]
        big.messages = scale.big_conversation_messages
        rest = scale.messages - big.messages
        busy = self.conversations[1 : 1 + scale.busy_groups]
        busy_total = rest // 4
        harmonic = sum(1 / (n + 1) for n in range(len(busy)))
        for number, conversation in enumerate(busy):
            conversation.messages = int(busy_total / harmonic / (number + 1))
        others = self.conversations[1 + scale.busy_groups :]
        parameters = {"group": (3.0, 1.5), "direct": (1.0, 1.6), "support": (1.0, 1.0)}
        weights = [rng.lognormvariate(*parameters[c.kind]) for c in others]
        left = scale.messages - sum(c.messages for c in self.conversations[: 1 + scale.busy_groups])
        total_weight = sum(weights)
        for conversation, weight in zip(others, weights, strict=True):
            conversation.messages = int(left * weight / total_weight)
        shortfall = scale.messages - sum(c.messages for c in self.conversations)
        for conversation in sorted(others, key=lambda c: -c.messages)[: max(1, len(others) // 10)]:
            if shortfall <= 0:
                break
            share = math.ceil(shortfall / 10)
            conversation.messages += share
            shortfall -= share
        big.messages += scale.messages - sum(c.messages for c in self.conversations)

    # -- rows -------------------------------------------------------------

    def user_rows(self) -> Iterator[str]:
        """auth.users (as GoTrue writes them on sign-up)."""
        for number, user_id in enumerate(self.user_ids):
            email = f"bench-user-{number}@bench.parley"
            yield (
                f"{user_id}\tauthenticated\tauthenticated\t{email}\t"
                f'{{"provider": "email"}}\t{{"display_name": "Bench User {number}"}}\n'
            )

    def profile_rows(self) -> Iterator[str]:
        """public.profiles, as parley_internal.create_profile_for would derive them."""
        for number, user_id in enumerate(self.user_ids):
            yield f"{user_id}\tbench_user_{number}\tBench User {number}\n"

    def organization_rows(self) -> Iterator[str]:
        """public.organizations: first owner is user (n + 1)."""
        for number in range(self.scale.organizations):
            yield f"{ident(ORGANIZATION, number)}\tBench organization {number}\tchat\t{self.user_ids[number + 1]}\n"

    def organization_member_rows(self) -> Iterator[str]:
        """public.organization_members: one owner, a few admins, members."""
        for number, members in enumerate(self.organization_members):
            owner = number + 1
            listed = set(members)
            listed.add(owner)
            for user in sorted(listed):
                role = "owner" if user == owner else ("admin" if user % 97 == 5 else "member")
                yield f"{ident(ORGANIZATION, number)}\t{self.user_ids[user]}\t{role}\n"
        # Owners of other organizations are members there too (added above), keep the pool consistent.

    def conversation_rows(self) -> Iterator[str]:
        """public.conversations."""
        null = "\\N"
        for c in self.conversations:
            subject = self.user_ids[c.members[0]] if c.kind == "support" else null
            direct_key = null
            if c.kind == "direct":
                first, second = sorted(self.user_ids[m] for m in c.members)
                direct_key = f"users:{first}:{second}"
            status = "open" if c.kind == "support" else null
            creator = self.user_ids[c.members[0]]
            yield (
                f"{c.id}\t{ident(ORGANIZATION, c.organization)}\t{c.kind}\t{c.title or null}\t"
                f"{subject}\t{direct_key}\t{status}\t{creator}\n"
            )

    def member_rows(self) -> Iterator[str]:
        """public.conversation_members: group creators own their group."""
        for c in self.conversations:
            for position, user in enumerate(c.members):
                role = "member"
                if c.kind == "group" and position == 0:
                    role = "owner"
                elif c.kind == "group" and position % 25 == 1:
                    role = "admin"
                yield f"{c.id}\t{self.user_ids[user]}\t{role}\n"

    def message_rows(self, tails: list[deque[int]], mentions: list[str], firsts: list[int]) -> Iterator[str]:
        """public.messages in id order, interleaved across conversations.

        Fills ``tails`` (each conversation's newest 301 ids), ``firsts`` (each
        conversation's first id, 0 if none) and ``mentions`` (message_mentions
        rows) on the way.
        """
        rng = self.rng
        order: list[int] = []
        for c in self.conversations:
            order.extend([c.index] * c.messages)
        rng.shuffle(order)
        bodies = [" ".join(rng.choices(WORDS, k=rng.randint(1, 24))) for _ in range(4096)]
        conversation_ids = [c.id for c in self.conversations]
        rosters = [[self.user_ids[m] for m in c.members] for c in self.conversations]
        is_group = [c.kind == "group" for c in self.conversations]
        step = SECONDS_PER_YEAR / max(1, len(order))
        random_value = rng.random
        last_second, stamp = -1, ""
        for message_id, conversation in enumerate(order, start=1):
            roster = rosters[conversation]
            sender = roster[int(random_value() * len(roster))]
            second = YEAR_START + int(message_id * step)
            if second != last_second:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(second))
                last_second = second
            tail = tails[conversation]
            if not tail:
                firsts[conversation] = message_id
            tail.append(message_id)
            if is_group[conversation] and random_value() < 0.02:
                mentioned = roster[int(random_value() * len(roster))]
                if mentioned != sender:
                    mentions.append(f"{mentioned}\t{conversation_ids[conversation]}\t{message_id}\n")
            body = bodies[message_id & 4095]
            yield (
                f"{message_id}\t{conversation_ids[conversation]}\tuser\t{sender}\ttext\t{body}\t"
                f"{ident(CLIENT_MESSAGE, message_id)}\t{stamp}\n"
            )

    def inbox_rows(self, tails: list[deque[int]], firsts: list[int] | None) -> Iterator[str]:
        """public.inbox_entries: watermarks with a realistic spread of unread messages.

        With ``firsts`` (each conversation's first message id), also joined_at_message_id: every member
        joined just before the conversation's first message (0 for a conversation without messages).
        """
        rng = self.rng
        for c in self.conversations:
            tail = tails[c.index]
            newest = tail[-1] if tail else 0
            joined = f"\t{max(0, firsts[c.index] - 1)}" if firsts is not None else ""
            for user in c.members:
                unread = 0
                draw = rng.random()
                if draw >= 0.9:
                    unread = rng.randint(21, 300)
                elif draw >= 0.6:
                    unread = rng.randint(1, 20)
                unread = min(unread, len(tail))
                if unread == 0:
                    read = newest
                elif unread < len(tail):
                    read = tail[-unread - 1]
                else:
                    read = tail[0] - 1
                yield f"{self.user_ids[user]}\t{c.id}\t{newest}\t{read}{joined}\n"

    # -- load -------------------------------------------------------------

    def load(self, url: str, log: Callable[[str], None] = print) -> Dataset:
        """Plan, COPY everything in as the owner, rebuild indexes, verify and analyze."""
        started = time.perf_counter()
        self.plan()
        timings: dict[str, float] = {"plan": time.perf_counter() - started}
        rows: dict[str, int] = {}
        tails: list[deque[int]] = [deque(maxlen=301) for _ in self.conversations]
        firsts = [0] * len(self.conversations)
        mentions: list[str] = []
        with psycopg.connect(url, autocommit=True) as connection:
            inbox_columns = "user_id, conversation_id, last_delivered_message_id, last_read_message_id"
            # Columns added by later migrations that have no usable default for bulk data.
            joined_clock = _has_column(connection, "public.inbox_entries", "joined_at_message_id")
            if joined_clock:
                inbox_columns += ", joined_at_message_id"
            connection.execute("set session_replication_role = replica")
            connection.execute("set maintenance_work_mem = '1GB'")
            dropped = _drop_secondary_indexes(connection, "public.messages")

            def copy(table: str, columns: str, lines: Iterable[str]) -> None:
                began = time.perf_counter()
                count = _copy(connection, table, columns, lines)
                timings[table] = time.perf_counter() - began
                rows[table] = count
                log(f"  loaded {count:>10,} rows into {table} in {timings[table]:.1f} s")

            copy(
                "auth.users",
                "id, aud, role, email, raw_app_meta_data, raw_user_meta_data",
                self.user_rows(),
            )
            copy("public.profiles", "id, username, display_name", self.profile_rows())
            copy("public.privacy_settings", "user_id", (f"{u}\n" for u in self.user_ids))
            copy("public.organizations", "id, name, plan_id, created_by", self.organization_rows())
            copy(
                "public.organization_settings",
                "organization_id, send_rate_per_minute, send_burst",
                (f"{ident(ORGANIZATION, n)}\t100000\t10000\n" for n in range(self.scale.organizations)),
            )
            copy("public.organization_members", "organization_id, user_id, role", self.organization_member_rows())
            copy(
                "public.conversations",
                "id, organization_id, kind, title, subject_user_id, direct_key, support_status, created_by",
                self.conversation_rows(),
            )
            copy("public.conversation_members", "conversation_id, user_id, role", self.member_rows())
            copy(
                "public.messages",
                "id, conversation_id, sender_kind, sender_id, kind, body, client_msg_id, created_at",
                self.message_rows(tails, mentions, firsts),
            )
            copy("public.message_mentions", "user_id, conversation_id, message_id", mentions)
            copy("public.inbox_entries", inbox_columns, self.inbox_rows(tails, firsts if joined_clock else None))
            connection.execute(
                "select pg_catalog.setval(pg_catalog.pg_get_serial_sequence('public.messages', 'id'), %s)",
                (max(1, self.scale.messages),),
            )
            began = time.perf_counter()
            for definition in dropped:
                connection.execute(definition)
            timings["messages indexes"] = time.perf_counter() - began
            log(f"  rebuilt {len(dropped)} messages indexes in {timings['messages indexes']:.1f} s")
            connection.execute("reset session_replication_role")
            began = time.perf_counter()
            problems = verify(connection)
            timings["verify"] = time.perf_counter() - began
            if problems:
                raise RuntimeError("generated data broke constraints:\n" + "\n".join(problems))
            began = time.perf_counter()
            connection.execute("vacuum (analyze)")
            connection.execute("checkpoint")
            timings["vacuum analyze"] = time.perf_counter() - began
            log(f"  verified in {timings['verify']:.1f} s, vacuum analyze in {timings['vacuum analyze']:.1f} s")
        timings["total"] = time.perf_counter() - started
        return self.dataset(rows, timings)

    def dataset(self, rows: dict[str, int], timings: dict[str, float]) -> Dataset:
        """The summary the scenarios use."""
        inbox = [c.id for c in self.conversations if 0 in c.members]
        big = self.conversations[0]
        memberships: dict[int, list[str]] = {}
        for c in self.conversations[1:]:
            if c.messages == 0 and c.kind != "direct":
                continue
            for user in c.members:
                memberships.setdefault(user, []).append(c.id)
        candidates = sorted(user for user, ids in memberships.items() if user != 0 and len(ids) >= 3)
        chosen = random.Random(self.seed + 1).sample(candidates, min(self.scale.sender_scripts, len(candidates)))
        senders = [(self.user_ids[user], memberships[user][:20]) for user in sorted(chosen)]
        return Dataset(
            scale=self.scale,
            seed=self.seed,
            organization_ids=[ident(ORGANIZATION, n) for n in range(self.scale.organizations)],
            inbox_user=self.user_ids[0],
            inbox_conversations=inbox,
            big_conversation=big.id,
            big_conversation_members=[self.user_ids[m] for m in big.members],
            senders=senders,
            rows=rows,
            load_seconds=timings,
        )


def _copy(connection: psycopg.Connection, table: str, columns: str, lines: Iterable[str]) -> int:
    """COPY text-format ``lines`` into ``table``; return the row count."""
    count = 0
    buffer: list[str] = []
    size = 0
    with connection.cursor() as cursor, cursor.copy(f"copy {table} ({columns}) from stdin") as copy:
        for line in lines:
            buffer.append(line)
            size += len(line)
            count += 1
            if size >= 1 << 20:
                copy.write("".join(buffer))
                buffer.clear()
                size = 0
        if buffer:
            copy.write("".join(buffer))
    return count


def _has_column(connection: psycopg.Connection, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (in this build of the schema)."""
    row = connection.execute(
        "select 1 from pg_catalog.pg_attribute where attrelid = %s::regclass and attname = %s and not attisdropped",
        (table, column),
    ).fetchone()
    return row is not None


def _drop_secondary_indexes(connection: psycopg.Connection, table: str) -> list[str]:
    """Drop the table's indexes that back no constraint; return their definitions."""
    rows = connection.execute(
        """
        select pg_catalog.pg_get_indexdef(i.indexrelid), i.indexrelid::regclass::text
        from pg_catalog.pg_index i
        where i.indrelid = %s::regclass
          and not exists (select 1 from pg_catalog.pg_constraint c where c.conindid = i.indexrelid)
        order by 2
        """,
        (table,),
    ).fetchall()
    for _, name in rows:
        connection.execute(f"drop index {name}")
    return [definition for definition, _ in rows]


FOREIGN_KEY_CHECK = """
select c.conrelid::regclass::text as child, c.conname,
       pg_catalog.format('select count(*) from %s t where %s and not exists (select 1 from %s p where %s)',
         c.conrelid::regclass,
         (select string_agg(pg_catalog.format('t.%I is not null', a.attname), ' and ')
            from unnest(c.conkey) k join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k),
         c.confrelid::regclass,
         (select string_agg(pg_catalog.format('p.%I = t.%I', pa.attname, ca.attname), ' and ')
            from unnest(c.conkey, c.confkey) as k(child_attnum, parent_attnum)
            join pg_catalog.pg_attribute ca on ca.attrelid = c.conrelid and ca.attnum = k.child_attnum
            join pg_catalog.pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = k.parent_attnum)) as query
from pg_catalog.pg_constraint c
where c.contype = 'f'
  and c.conrelid in ('auth.users'::regclass, 'public.profiles'::regclass, 'public.privacy_settings'::regclass,
                     'public.organizations'::regclass, 'public.organization_settings'::regclass,
                     'public.organization_members'::regclass, 'public.conversations'::regclass,
                     'public.conversation_members'::regclass, 'public.inbox_entries'::regclass,
                     'public.messages'::regclass, 'public.message_mentions'::regclass)
"""


def verify(connection: psycopg.Connection) -> list[str]:
    """Check every foreign key of the loaded tables (COPY ran with triggers off)."""
    problems = []
    for child, name, query in connection.execute(FOREIGN_KEY_CHECK).fetchall():
        [(orphans,)] = connection.execute(query).fetchall()
        if orphans:
            problems.append(f"{child}: {orphans} rows break {name}")
    return problems
