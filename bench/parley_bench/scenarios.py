"""Baselines and scenarios. Each returns an :class:`Outcome`: figures and ratios to a same-run baseline.

Writes run as pgbench custom scripts through the request framing
(``request_script``): begin; PostgREST's set_config statement (role,
request.jwt.claims, method, path, headers); the statement; commit. Reads are
timed as single statements in a session that carries the request's role and
claims (``session_options``), so a read's latency is its statement alone, on
both sides of a ratio. Calls to RPCs have PostgREST's shape: arguments as one
JSON object through ``json_to_record``, the result as JSON.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from parley import config
from parley.db import Api, ApiError
from parley_bench import peer, pgbench
from parley_bench.generate import BENCH_CLIENT_MESSAGE, Dataset, ident
from parley_bench.harness import BenchCluster
from parley_bench.pgbench import Result, bigint_array, claims_json, request_script, sql_literal, text_array, uuid_array
from parley_bench.report import (
    BASELINES,
    HISTORY_TARGET,
    HOT_TARGETS,
    RLS_TARGET,
    SEND_TARGETS,
    Line,
    Outcome,
    at_most,
    baseline_means,
    baseline_ratio_lines,
)

CALL_SETUPS = 200
CALL_PAIRS = 10
"""Scenario 11: 200 calls over 10 caller/callee pairs, one at a time."""
REALTIME_RATE = 1000
REALTIME_SUBSCRIBERS = 100
INBOX_PAGE = 100
"""get_inbox's largest page: its first page still ranks all 1,000 conversations."""
BODY = "Benchmark message: see you tomorrow at ten, bring the homework"
BARE_TABLE = (
    peer.BENCH_SCHEMA
    + """
create table if not exists bench.raw_messages (
  id bigint generated always as identity primary key,
  conversation_id uuid not null,
  sender_id uuid not null,
  body text not null,
  created_at timestamptz not null default now()
);
create index if not exists raw_messages_conversation_id_id_idx on bench.raw_messages (conversation_id, id);
comment on table bench.raw_messages is 'Baselines (a) and (b): a bare messages table, no RLS, no trigger, two indexes.';
grant insert on bench.raw_messages to authenticator, authenticated;
"""
)


@dataclass(frozen=True)
class Function:
    """A public function's call signature, as the request path resolves it."""

    name: str
    argument_names: tuple[str, ...]
    argument_types: tuple[str, ...]
    required: int
    returns_set: bool
    returns_void: bool

    def call(self, arguments: dict[str, str]) -> str:
        """PostgREST's ``POST /rpc/<name>`` statement; ``arguments`` maps names to SQL expressions.

        Arguments the function does not take are dropped; a missing required one is an error.
        """
        given = {name: value for name, value in arguments.items() if name in self.argument_names}
        missing = [name for name in self.argument_names[: self.required] if name not in given]
        if missing:
            raise ValueError(f"{self.name} needs {missing}; the benchmark does not know how to fill them")
        names = [name for name in self.argument_names if name in given]
        types = dict(zip(self.argument_names, self.argument_types, strict=True))
        call_arguments = ", ".join(f'"{name}" := (select "{name}" from pgrst_args)' for name in names)
        call = f'"public"."{self.name}"({call_arguments})'
        if self.returns_void:
            projection = f"select {call}, null::jsonb as result"
        elif self.returns_set:
            projection = f"select coalesce(jsonb_agg(pgrst_call), '[]'::jsonb) as result from {call} pgrst_call"
        else:
            projection = f"select to_jsonb(pgrst_call) as result from {call} pgrst_call"
        if not names:
            return projection
        body = "json_build_object(" + ", ".join(f"{sql_literal(name)}, {given[name]}" for name in names) + ")"
        columns = ", ".join(f'"{name}" {types[name]}' for name in names)
        return f"with pgrst_args as (select * from json_to_record({body}) as _({columns})) {projection}"


def load_functions(url: str) -> dict[str, Function]:
    """Every function in public with one overload, by name."""
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            """
            select p.proname, p.proretset, p.prorettype = 'void'::regtype, p.pronargs, p.pronargdefaults,
                   coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
                   array(select format_type(t, null) from unnest(p.proargtypes) t)
            from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public'
            """
        ).fetchall()
    functions: dict[str, Function] = {}
    for name, returns_set, returns_void, count, defaults, names, modes, types in rows:
        if modes:
            names = [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]
        names = tuple(names[:count])
        functions[name] = Function(name, names, tuple(types), count - defaults, returns_set, returns_void)
    return functions


def json_page(query: str) -> str:
    """A read shaped like PostgREST's GET response: the rows aggregated to one JSON value."""
    return f"select coalesce(jsonb_agg(t), '[]'::jsonb) as body from ({query}) t"


class Bench:
    """Runs the baselines and scenarios against one loaded cluster."""

    def __init__(self, cluster: BenchCluster, dataset: Dataset, log: Callable[[str], None] = print) -> None:
        self.cluster = cluster
        self.dataset = dataset
        self.scale = dataset.scale
        self.log = log
        self.functions = load_functions(cluster.owner_url)
        self.api_connection = cluster.pgbench_connection()
        self.baselines: dict[str, Result] = {}
        self.baseline_runs: dict[str, list[Result]] = {}
        with psycopg.connect(cluster.owner_url, autocommit=True) as connection:
            connection.execute(BARE_TABLE.encode())
            peer.install(connection)
            peer.copy_rosters(connection)

    # -- helpers ----------------------------------------------------------

    def owner(self) -> psycopg.Connection:
        """A connection as the database owner (no RLS)."""
        return psycopg.connect(self.cluster.owner_url, autocommit=True)

    def function(self, name: str) -> Function | None:
        """A public RPC if it exists (re-read: another helper's work may have landed)."""
        return self.functions.get(name)

    def throughput(self, scripts: list[str], clients: int = 8) -> Result:
        """A pgbench run of ``scripts`` for the scale's duration at ``clients`` clients."""
        result = pgbench.run(self.api_connection, scripts, clients=clients, seconds=self.scale.throughput_seconds)
        self._check(result)
        return result

    def latency(self, script: str, *, role: str, user: str | None, transactions: int | None = None,
                settings: str = "") -> Result:  # fmt: skip
        """Single-statement latency at one client, in a session carrying ``role`` and ``user``'s claims.

        ``settings`` adds session settings (``-c name=value`` ...).
        """
        count = transactions or self.scale.latency_transactions
        options = f"{pgbench.session_options(role, user)} {settings}".strip()
        warmup = pgbench.run(self.api_connection, [script], transactions=5, options=options)
        self._check(warmup)
        # Slow statements get fewer transactions: about latency_budget_seconds per measurement, at least 30.
        mean_seconds = statistics.fmean(warmup.latencies_ms) / 1000 if warmup.latencies_ms else 0
        if mean_seconds > 0:
            count = max(30, min(count, int(self.scale.latency_budget_seconds / mean_seconds)))
        result = pgbench.run(self.api_connection, [script], transactions=count, options=options)
        self._check(result)
        return result

    def _check(self, result: Result) -> None:
        if not result.ok:
            raise ScenarioError("; ".join(result.errors) or f"pgbench failed: {result}")

    def sender_setup(self, conversations: list[str]) -> tuple[list[str], str]:
        """pgbench lines choosing one of ``conversations`` per transaction, and the SQL expression for it."""
        return [f"\\set i random(1, {len(conversations)})"], f"{uuid_array(conversations)}[:i]"

    def raw_insert(self, conversation_sql: str, user: str) -> str:
        """The baselines' statement: one row into a bare table with two indexes."""
        return (
            "insert into bench.raw_messages (conversation_id, sender_id, body) "
            f"values ({conversation_sql}, {sql_literal(user)}, {sql_literal(BODY)})"
        )

    # -- baselines --------------------------------------------------------

    def baseline(self, name: str) -> Result:
        """Run baseline ``name`` (a, b or c) once."""
        runs = {"a": self.baseline_raw, "b": self.baseline_request, "c": self.baseline_peer}
        return runs[name]()

    def baseline_raw(self) -> Result:
        """(a) raw: autocommit single-statement insert, 8 clients."""
        scripts = []
        for user, conversations in self.dataset.senders:
            setup, conversation = self.sender_setup(conversations)
            scripts.append("\n".join([*setup, self.raw_insert(conversation, user) + ";"]) + "\n")
        return self._baseline("a", self.throughput(scripts))

    def baseline_request(self) -> Result:
        """(b) request-shaped: the same insert inside the request framing, 8 clients."""
        return self._baseline("b", self.throughput(self._request_scripts()))

    def baseline_peer(self) -> Result:
        """(c) peer: a Supabase-style chat send (RLS insert policy, an exists on the roster, an FK), framed as (b)."""
        scripts = []
        for user, conversations in self.dataset.senders:
            setup, conversation = self.sender_setup(conversations)
            statement = peer.insert_statement(conversation, user, BODY)
            scripts.append(request_script(setup, sql_literal(claims_json(user)), statement, path="/peer_messages"))
        return self._baseline("c", self.throughput(scripts))

    def _request_scripts(self) -> list[str]:
        scripts = []
        for user, conversations in self.dataset.senders:
            setup, conversation = self.sender_setup(conversations)
            scripts.append(request_script(setup, sql_literal(claims_json(user)), self.raw_insert(conversation, user),
                                          path="/raw_messages"))  # fmt: skip
        return scripts

    def _baseline(self, name: str, result: Result) -> Result:
        runs = self.baseline_runs.setdefault(name, [])
        runs.append(result)
        tps = baseline_means({name: [run.tps for run in runs]})[name]
        self.baselines[name] = Result(sum(r.transactions for r in runs), sum(r.seconds for r in runs), tps)
        self.log(f"  baseline ({name}): {result.tps:,.0f} tx/s")
        return result

    def baseline_tps(self) -> dict[str, float]:
        """The write baselines' mean tx/s so far, by name (a, b, c)."""
        return {name: self.baselines[name].tps for name in BASELINES if name in self.baselines}

    def baselines_outcome(self) -> Outcome:
        """The write baselines as a table entry (mean of their runs, each run listed in the order it ran)."""
        outcome = Outcome("a/b/c", "Write baselines, 8 clients (b, a, c before the sends; c, a, b after)")
        for name in ("a", "b", "c"):
            runs = self.baseline_runs.get(name, [])
            if not runs:
                continue
            each = ", ".join(f"{run.tps:,.0f}" for run in runs)
            outcome.add(Line(BASELINES[name], f"{self.baselines[name].tps:,.0f} tx/s", f"runs: {each}"))
            outcome.figures[name] = {"tps": round(self.baselines[name].tps, 1), "runs": [r.summary() for r in runs]}
        for top, bottom, label in (("b", "a", "cost of the framing"), ("c", "b", "cost of the peer's RLS and FK"),
                                   ("c", "a", "peer send vs raw insert")):  # fmt: skip
            if top in self.baselines and bottom in self.baselines:
                ratio = self.baselines[top].tps / self.baselines[bottom].tps
                outcome.add(Line(f"({top}) / ({bottom}): {label}", "", f"({bottom})", ratio))
                outcome.figures[f"{top}_over_{bottom}"] = round(ratio, 3)
        return outcome

    def add_baseline_ratios(self, outcome: Outcome, figure: float, targets: dict[str, float] | None = None,
                            unit: str = "tx/s") -> None:  # fmt: skip
        """Append a send-shaped figure's ratios to (b), (c) and (a) (after the closing baselines have run)."""
        if outcome.status != "ok":
            return
        baselines = self.baseline_tps()
        for line in baseline_ratio_lines(figure, baselines, targets or {}, unit):
            outcome.add(line)
        for name, tps in baselines.items():
            outcome.figures[f"ratio_{name}"] = round(figure / tps, 3) if tps else None

    # -- scenario 1 and 2: sends -----------------------------------------

    def send_statement(self, conversation_sql: str, client_msg_id_sql: str = "gen_random_uuid()") -> str:
        """PostgREST's call of send_message with a text body and a fresh client_msg_id."""
        send = self.function("send_message")
        assert send is not None
        return send.call(
            {"conversation_id": conversation_sql, "body": sql_literal(BODY), "client_msg_id": client_msg_id_sql}
        )

    def run_send(self) -> Result | None:
        """1. Send throughput: 8 clients, a random user and one of their conversations per transaction."""
        if self.function("send_message") is None:
            return None
        scripts = []
        for user, conversations in self.dataset.senders:
            setup, conversation = self.sender_setup(conversations)
            scripts.append(request_script(setup, sql_literal(claims_json(user)), self.send_statement(conversation),
                                          path="/rpc/send_message"))  # fmt: skip
        result = self.throughput(scripts)
        self.log(f"  send_message: {result.tps:,.0f} tx/s")
        return result

    def run_hot(self) -> Result | None:
        """2. One hot conversation: 100 members, 8 concurrent senders (one member per client)."""
        if self.function("send_message") is None:
            return None
        senders = self.dataset.big_conversation_members[1:9]
        setup = ["\\set s :client_id % 8 + 1"]
        claims = f"{text_array([claims_json(user) for user in senders])}[:s]"
        statement = self.send_statement(sql_literal(self.dataset.big_conversation) + "::uuid")
        result = self.throughput([request_script(setup, claims, statement, path="/rpc/send_message")])
        self.log(f"  hot conversation: {result.tps:,.0f} tx/s")
        return result

    def profile_send(self, seconds: int = 10) -> Outcome:
        """Where a send's server time goes: one client, pg_stat_statements (track = all), per send."""
        outcome = Outcome("1p", "Send path profile: 1 client, server time per send (pg_stat_statements)")
        if self.function("send_message") is None:
            return _skipped(outcome, "send_message")
        if not self.cluster.stat_statements:
            outcome.status, outcome.note = "skipped", "run with --stat-statements"
            return outcome
        scripts = []
        for user, conversations in self.dataset.senders:
            setup, conversation = self.sender_setup(conversations)
            scripts.append(request_script(setup, sql_literal(claims_json(user)), self.send_statement(conversation),
                                          path="/rpc/send_message"))  # fmt: skip
        with self.owner() as connection:
            connection.execute("select extensions.pg_stat_statements_reset()")
        result = pgbench.run(self.api_connection, scripts, clients=1, seconds=seconds)
        self._check(result)
        sends = result.transactions
        with self.owner() as connection:
            rows = connection.execute(
                r"""
                select calls, total_exec_time, regexp_replace(query, '\s+', ' ', 'g')
                from extensions.pg_stat_statements
                where calls >= %s and query not like 'select extensions.pg_stat_statements_reset%%'
                order by total_exec_time desc limit 25
                """,
                (sends // 2,),
            ).fetchall()
        outcome.add(Line("sends", f"{sends:,}", f"p50 {result.percentile(0.5):.2f} ms per request at 1 client"))
        outcome.figures["sends"] = sends
        outcome.figures["statements"] = []
        for calls, total, query in rows:
            per_send = total * 1000 / sends
            outcome.add(Line(query[:90], f"{per_send:,.0f} us", f"{calls / sends:.2f} calls per send"))
            outcome.figures["statements"].append(
                {"query": query[:400], "calls_per_send": round(calls / sends, 2), "us_per_send": round(per_send, 1)}
            )
        outcome.note = "times are inclusive: a statement's time contains the statements it runs (track = all)"
        return outcome

    def send_outcome(self, result: Result | None) -> Outcome:
        """Scenario 1's table entry (after both baselines' runs)."""
        outcome = Outcome("1", "Send throughput, 8 clients, random users")
        if result is None:
            return _skipped(outcome, "send_message")
        self._throughput_lines(outcome, result, SEND_TARGETS)
        return outcome

    def hot_outcome(self, result: Result | None) -> Outcome:
        """Scenario 2's table entry (after both baselines' runs)."""
        outcome = Outcome("2", f"Hot conversation, {self.scale.hot_conversation_members} members, 8 senders")
        if result is None:
            return _skipped(outcome, "send_message")
        self._throughput_lines(outcome, result, HOT_TARGETS)
        return outcome

    def _throughput_lines(self, outcome: Outcome, result: Result, targets: dict[str, float]) -> None:
        outcome.figures["run"] = result.summary()
        self.add_baseline_ratios(outcome, result.tps, targets)
        outcome.add(Line("latency p50 / p95", f"{result.percentile(0.5):.2f} / {result.percentile(0.95):.2f} ms"))

    # -- reads ------------------------------------------------------------

    def _latency_lines(self, outcome: Outcome, label: str, result: Result, baseline: Result, baseline_label: str,
                       target: float | None) -> None:  # fmt: skip
        p50, p95 = result.percentile(0.5), result.percentile(0.95)
        b50, b95 = baseline.percentile(0.5), baseline.percentile(0.95)
        ratio = p50 / b50
        text, met = at_most(ratio, target) if target is not None else ("", None)
        outcome.add(Line(f"{label} p50", f"{p50:.2f} ms", f"{baseline_label} {b50:.2f} ms", ratio, text, met))
        outcome.add(Line(f"{label} p95", f"{p95:.2f} ms", f"{baseline_label} {b95:.2f} ms", p95 / b95))
        outcome.figures[label] = {"run": result.summary(), "baseline": baseline.summary(), "ratio_p50": round(ratio, 3),
                                  "ratio_p95": round(p95 / b95, 3)}  # fmt: skip

    def bare_fetch(self) -> Result:
        """Baseline of scenarios 3 and 5: 1,000 conversations by primary key, as service_role (no RLS)."""
        if "fetch1000" not in self.baselines:
            ids = self.dataset.inbox_conversations[:1000]
            query = json_page(f"select * from public.conversations where id = any({uuid_array(ids)})")
            self.baselines["fetch1000"] = self.latency(query + ";\n", role="service_role", user=None)
        return self.baselines["fetch1000"]

    def scenario_inbox(self) -> Outcome:
        """3. get_inbox for the user in 1,000 conversations vs 1,000 rows by primary key."""
        outcome = Outcome("3", "Inbox of the 1,000-conversation user")
        inbox = self.function("get_inbox")
        if inbox is None:
            return _skipped(outcome, "get_inbox")
        statement = inbox.call({"page_size": str(INBOX_PAGE)})
        result = self.latency(statement + ";\n", role="authenticated", user=self.dataset.inbox_user)
        with self.owner() as connection:
            returned = self._count_rows(connection, statement)
        outcome.figures["rows_returned"] = returned
        baseline = self.bare_fetch()
        self._latency_lines(outcome, f"get_inbox page_size={INBOX_PAGE}", result, baseline, "1,000 rows by pk", 3.0)
        outcome.note = f"get_inbox returned {returned} rows"
        return outcome

    def _count_rows(self, connection: psycopg.Connection, statement: str) -> int | None:
        """How many items the RPC returned for the inbox user (JSON array length, else 1)."""
        with connection.transaction():
            connection.execute(
                "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                (claims_json(self.dataset.inbox_user),),
            )
            row = connection.execute(statement).fetchone()
            connection.execute("reset role")
        if row is None or row[0] is None:
            return None
        value = row[0]
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict):
            for item in value.values():
                if isinstance(item, list):
                    return len(item)
        return 1

    def history_anchors(self) -> list[int]:
        """Message ids deep in the big conversation: 90% to 99.9% of its history back from the newest."""
        with self.owner() as connection:
            [(total,)] = connection.execute(
                "select count(*) from public.messages where conversation_id = %s", (self.dataset.big_conversation,)
            ).fetchall()
            rng = random.Random(self.dataset.seed + 4)
            depths = sorted(rng.randint(int(total * 0.9), total - 51) for _ in range(20))
            anchors = []
            for depth in depths:
                [(anchor,)] = connection.execute(
                    "select id from public.messages where conversation_id = %s order by id desc offset %s limit 1",
                    (self.dataset.big_conversation, depth),
                ).fetchall()
                anchors.append(anchor)
        return anchors

    def scenario_history(self) -> Outcome:
        """4. A page of 50 messages deep in the big conversation vs the bare keyset query."""
        outcome = Outcome("4", "History page of 50 at depth (big conversation)")
        get_messages = self.function("get_messages")
        if get_messages is None:
            return _skipped(outcome, "get_messages")
        anchors = self.history_anchors()
        outcome.figures["anchors"] = anchors
        setup = f"\\set k random(1, {len(anchors)})\n"
        anchor = f"{bigint_array(anchors)}[:k]"
        conversation = sql_literal(self.dataset.big_conversation) + "::uuid"
        statement = get_messages.call({"conversation_id": conversation, "before_id": anchor, "page_size": "50",
                                       "limit": "50"})  # fmt: skip
        bare = json_page(f"select * from public.messages where conversation_id = {conversation} and id < {anchor} "
                         "order by id desc limit 50")  # fmt: skip
        baseline = self.latency(setup + bare + ";\n", role="service_role", user=None)
        result = self.latency(setup + statement + ";\n", role="authenticated", user=self.dataset.inbox_user)
        self._latency_lines(outcome, "get_messages before_id", result, baseline, "bare keyset", HISTORY_TARGET)
        return outcome

    def scenario_unread(self) -> Outcome:
        """5. get_unread_counts for the 1,000-conversation user, then mark_read."""
        outcome = Outcome("5", "Unread counts (1,000 conversations), then mark_read")
        counts = self.function("get_unread_counts")
        if counts is None:
            outcome.note = "skipped: get_unread_counts not available"
        else:
            statement = counts.call({})
            result = self.latency(statement + ";\n", role="authenticated", user=self.dataset.inbox_user)
            self._latency_lines(outcome, "get_unread_counts", result, self.bare_fetch(), "1,000 rows by pk", None)
        mark_read = self.function("mark_read")
        if mark_read is None:
            outcome.note = (outcome.note + "; " if outcome.note else "") + "skipped: mark_read not available"
        else:
            with self.owner() as connection:
                pairs = connection.execute(
                    "select conversation_id::text, max(id) from public.messages where conversation_id = any(%s::uuid[])"
                    " group by 1 order by 1",
                    (self.dataset.inbox_conversations,),
                ).fetchall()
            conversations = [c for c, _ in pairs]
            newest = [m for _, m in pairs]
            setup = [f"\\set i random(1, {len(pairs)})"]
            statement = mark_read.call({"conversation_id": f"{uuid_array(conversations)}[:i]",
                                        "message_id": f"{bigint_array(newest)}[:i]"})  # fmt: skip
            script = request_script(setup, sql_literal(claims_json(self.dataset.inbox_user)), statement,
                                    path="/rpc/mark_read")  # fmt: skip
            result = pgbench.run(self.api_connection, [script], transactions=self.scale.latency_transactions)
            self._check(result)
            baseline = self.request_latency()
            self._latency_lines(outcome, "mark_read (request)", result, baseline, "(b) at 1 client", None)
        if not outcome.lines:
            outcome.status, outcome.note = "skipped", "get_unread_counts, mark_read not available"
        return outcome

    def request_latency(self) -> Result:
        """(b) at one client: the latency of a request-shaped single-row write."""
        if "b1" not in self.baselines:
            user, conversations = self.dataset.senders[0]
            setup, conversation = self.sender_setup(conversations)
            script = request_script(setup, sql_literal(claims_json(user)), self.raw_insert(conversation, user),
                                    path="/raw_messages")  # fmt: skip
            result = pgbench.run(self.api_connection, [script], transactions=self.scale.latency_transactions)
            self._check(result)
            self.baselines["b1"] = result
        return self.baselines["b1"]

    def scenario_rls(self) -> Outcome:
        """6. The same PostgREST-style table reads as a member vs as service_role."""
        outcome = Outcome("6", "RLS overhead: same reads, member vs service_role")
        big = sql_literal(self.dataset.big_conversation) + "::uuid"
        with self.owner() as connection:
            [(direct,)] = connection.execute(
                """
                select c.id::text from public.conversations c
                where c.kind = 'direct' and c.id = any(%s::uuid[])
                order by (select count(*) from public.messages m where m.conversation_id = c.id) desc, c.id limit 1
                """,
                (self.dataset.inbox_conversations,),
            ).fetchall()
        ids = uuid_array(self.dataset.inbox_conversations[:1000])
        reads = {
            "messages: newest 50 of the big conversation": json_page(
                f"select * from public.messages where conversation_id = {big} order by id desc limit 50"),
            "messages: newest 50 of a direct conversation": json_page(
                f"select * from public.messages where conversation_id = {sql_literal(direct)}::uuid "
                "order by id desc limit 50"),
            "conversations: one by id": json_page(f"select * from public.conversations where id = {big}"),
            "conversations: 1,000 by id": json_page(f"select * from public.conversations where id = any({ids})"),
            "conversation_members: roster of 100": json_page(
                f"select * from public.conversation_members where conversation_id = {big}"),
        }  # fmt: skip
        worst = 0.0
        for label, query in reads.items():
            as_service = self.latency(query + ";\n", role="service_role", user=None)
            as_member = self.latency(query + ";\n", role="authenticated", user=self.dataset.inbox_user)
            self._latency_lines(outcome, label, as_member, as_service, "service_role", RLS_TARGET)
            worst = max(worst, as_member.percentile(0.5) / as_service.percentile(0.5))
        outcome.figures["worst_ratio_p50"] = round(worst, 3)
        return outcome

    def scenario_search(self) -> Outcome:
        """7. search_messages as the inbox user vs the same bare FTS query over the same reachable set as service_role.

        The bare query matches the same tsquery against messages.search_vector in the conversations the user is a
        member of (a plain join, no visibility floors, no access helpers), ranks with the same ts_rank_cd, takes the
        same page and computes the same ts_headline for it.
        """
        outcome = Outcome("7", "Full-text search")
        search = next((self.functions[n] for n in ("search_messages", "search") if n in self.functions), None)
        if search is None:
            outcome.status, outcome.note = "not available", "no search RPC (search_messages) in this build"
            return outcome
        user = sql_literal(self.dataset.inbox_user) + "::uuid"
        with self.owner() as connection:
            [(reachable, matches)] = connection.execute(
                f"""
                select count(*), count(*) filter (where m.search_vector @@ 'homework'::tsquery)
                from public.messages m
                where m.conversation_id in (select c.conversation_id from public.conversation_members c
                                            where c.user_id = {user})
                """
            ).fetchall()
        outcome.figures.update(reachable_messages=reachable, homework_matches=matches)
        cases = [
            # label, RPC arguments, the bare query's tsquery, its order
            ("'homework', ranked", {"query": "'homework'", "prefix": "false"}, "'homework'", "rank"),
            ("'homework deadline', ranked", {"query": "'homework deadline'", "prefix": "false"},
             "'homework & deadline'", "rank"),
            ("'homew' as you type (prefix), newest first", {"query": "'homew'", "order_by": "'newest'"}, "'homew:*'",
             "newest"),
        ]  # fmt: skip
        for label, arguments, tsquery, order in cases:
            statement = search.call({**arguments, "page_size": "20"})
            rank = "ts_rank_cd(m.search_vector, q.q)" if order == "rank" else "null::real"
            order_sql = "rank desc, id desc" if order == "rank" else "id desc"
            bare = json_page(f"""
                with q as (select {sql_literal(tsquery.strip("'"))}::tsquery as q),
                page as (
                  select m.id, {rank} as rank from public.messages m, q
                  where m.search_vector @@ q.q and m.deleted_at is null
                    and m.conversation_id in (select c.conversation_id from public.conversation_members c
                                              where c.user_id = {user})
                  order by {order_sql} limit 21)
                select m.id, m.conversation_id, m.sender_kind, m.sender_id, m.persona_id, m.kind, m.body,
                       m.reply_to_message_id, m.created_at, m.edited_at,
                       ts_headline('simple', m.body, q.q, 'HighlightAll=true') as headline, page.rank
                from page join public.messages m on m.id = page.id, q
                order by {order_sql.replace("id", "page.id").replace("rank", "page.rank")} limit 20""")
            # PL/pgSQL's RETURN QUERY EXECUTE never gets a parallel plan in PostgreSQL 15; the bare query does when
            # it pays. The target compares like with like (the bare query serial); the parallel one is shown too.
            serial = self.latency(bare + ";\n", role="service_role", user=None,
                                  settings="-c max_parallel_workers_per_gather=0")  # fmt: skip
            parallel = self.latency(bare + ";\n", role="service_role", user=None)
            result = self.latency(statement + ";\n", role="authenticated", user=self.dataset.inbox_user)
            self._latency_lines(outcome, f"search_messages {label}", result, serial, "bare FTS (serial)", 2.0)
            ratio = result.percentile(0.5) / parallel.percentile(0.5)
            outcome.add(Line("  vs the bare FTS query with parallel workers, p50", f"{result.percentile(0.5):.2f} ms",
                             f"bare FTS (parallel allowed) {parallel.percentile(0.5):.2f} ms", ratio))  # fmt: skip
            outcome.figures[f"search_messages {label}"]["parallel_baseline"] = parallel.summary()
        outcome.note = (f"{reachable:,} messages reachable by the user, {matches:,} of them contain 'homework'; "
                        "pages of 20 with headlines")  # fmt: skip
        return outcome

    def scenario_search_write_cost(self) -> Outcome:
        """1s. What the search column and index cost the send path: send throughput with them / without them.

        Runs last (it drops messages.search_vector): with, without, with (re-added), without, ...; the ratio is the
        mean of the runs with over the mean of the runs without, so drift on a shared machine shows in the spread.
        """
        outcome = Outcome("1s", "Send throughput with / without the search index (messages.search_vector + GIN)")
        if self.function("send_message") is None:
            return _skipped(outcome, "send_message")
        with self.owner() as connection:
            column = connection.execute(
                """
                select pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.pg_get_expr(d.adbin, d.adrelid)
                from pg_catalog.pg_attribute a
                join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                where a.attrelid = 'public.messages'::regclass and a.attname = 'search_vector' and a.attgenerated = 's'
                """
            ).fetchone()
            indexes = [definition for (definition,) in connection.execute(
                """
                select pg_catalog.pg_get_indexdef(i.indexrelid) from pg_catalog.pg_index i
                join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
                where i.indrelid = 'public.messages'::regclass and a.attname = 'search_vector'
                """).fetchall()]  # fmt: skip
        if column is None:
            outcome.status, outcome.note = "skipped", "messages.search_vector not in this build"
            return outcome
        add_column = (f"alter table public.messages add column search_vector {column[0]} "
                      f"generated always as ({column[1]}) stored")  # fmt: skip

        def drop() -> None:
            with self.owner() as connection:
                connection.execute("alter table public.messages drop column search_vector")

        def restore() -> float:
            began = time.perf_counter()
            with self.owner() as connection:
                connection.execute(add_column)
                for definition in indexes:
                    connection.execute(definition)
                connection.execute("analyze public.messages")
            return time.perf_counter() - began

        runs: dict[str, list[Result]] = {"with": [], "without": []}
        rebuild = 0.0
        # Alternating pairs (each re-add rewrites the table: fewer pairs at full scale).
        pairs = 3 if self.scale.messages <= 2_000_000 else 2
        for step in range(2 * pairs):
            label = "with" if step % 2 == 0 else "without"
            if label == "without":
                drop()
            elif step > 0:
                rebuild = restore()
            result = self.run_send()
            assert result is not None
            runs[label].append(result)
        with_tps = statistics.fmean(r.tps for r in runs["with"])
        without_tps = statistics.fmean(r.tps for r in runs["without"])
        ratio = with_tps / without_tps
        cost = 1 - ratio
        met = cost <= 0.10
        outcome.add(Line("send_message tx/s with / without", f"{with_tps:,.0f} / {without_tps:,.0f}",
                         "runs with: " + ", ".join(f"{r.tps:,.0f}" for r in runs["with"])
                         + "; without: " + ", ".join(f"{r.tps:,.0f}" for r in runs["without"]),
                         ratio, ">= 0.9x (cost <= 10%)", met))  # fmt: skip
        outcome.add(Line("send-path cost of the search index", f"{cost * 100:.1f}%"))
        outcome.add(Line("re-adding the column and index (table rewrite)", f"{rebuild:.1f} s"))
        outcome.figures.update(with_tps=round(with_tps, 1), without_tps=round(without_tps, 1), ratio=round(ratio, 3),
                               runs={k: [r.summary() for r in v] for k, v in runs.items()},
                               rebuild_seconds=round(rebuild, 1))  # fmt: skip
        return outcome

    # -- scenario 8: retry storm -----------------------------------------

    def scenario_retry_storm(self, resends: int = 1000, keys: int = 100) -> Outcome:
        """8. 1,000 sends reusing 100 client_msg_ids (half sent once before), 8 threads, real request path."""
        outcome = Outcome("8", f"Retry storm: {resends:,} resends reusing client_msg_id")
        if self.function("send_message") is None:
            return _skipped(outcome, "send_message")
        user, conversations = self.dataset.senders[0]
        conversation = conversations[0]
        claims = json.loads(claims_json(user))
        client_ids = [ident(BENCH_CLIENT_MESSAGE, n) for n in range(1, keys + 1)]
        returned: dict[str, set[int]] = {key: set() for key in client_ids}
        errors: list[str] = []
        with Api(self.cluster.api_url, self.cluster.jwt_secret, max_connections=8) as api:

            def send(key: str) -> None:
                try:
                    row = api.rpc("send_message", {"conversation_id": conversation, "body": BODY,
                                                   "client_msg_id": key}, claims=claims)  # fmt: skip
                    returned[key].add(_message_id(row))
                except ApiError as error:
                    errors.append(str(error))

            for key in client_ids[: keys // 2]:
                send(key)
            rng = random.Random(self.dataset.seed + 8)
            storm = [client_ids[rng.randrange(keys)] for _ in range(resends)]
            began = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(send, storm))
            elapsed = time.perf_counter() - began
        with self.owner() as connection:
            rows = dict(connection.execute(
                "select client_msg_id::text, count(*) from public.messages where client_msg_id = any(%s::uuid[])"
                " group by 1", (client_ids,)).fetchall())  # fmt: skip
        used = {key for key in storm} | set(client_ids[: keys // 2])
        duplicates = sum(count - 1 for count in rows.values()) + sum(max(0, len(ids) - 1) for ids in returned.values())
        missing = len(used - set(rows))
        outcome.add(Line("duplicates", str(duplicates), "", None, "0", duplicates == 0 and missing == 0))
        outcome.add(Line("errors returned", str(len(errors)), "", None, "0", not errors))
        outcome.add(Line("time for the storm", f"{elapsed:.2f} s ({resends / elapsed:,.0f} sends/s, 8 threads)"))
        outcome.figures.update(duplicates=duplicates, missing=missing, errors=errors[:5], error_count=len(errors),
                               seconds=round(elapsed, 3), distinct_ids=len(used), rows=sum(rows.values()),
                               sends_per_second=round(resends / elapsed, 1))  # fmt: skip
        return outcome

    # -- scenario 9: realtime --------------------------------------------

    def scenario_realtime(self) -> Outcome:
        """9. Realtime fan-out through bench/realtime_fanout.py, when it exists."""
        outcome = Outcome("9", "Realtime fan-out, 100 subscribers, 1,000 messages/s")
        root = config.project_root()
        script = root / "bench" / "realtime_fanout.py"
        if not script.exists():
            outcome.status, outcome.note = "skipped", "bench/realtime_fanout.py not available"
            return outcome
        command = [
            sys.executable, "-m", "bench.realtime_fanout", f"--database-url={self.cluster.owner_url}",
            f"--jwt-secret={self.cluster.jwt_secret}", "--rate", str(REALTIME_RATE), "--seconds",
            str(self.scale.realtime_seconds), "--subscribers", str(REALTIME_SUBSCRIBERS), "--json",
        ]  # fmt: skip
        # The project's own parley package first (PARLEY_HOME may point at another checkout).
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "python"), str(root)])}
        completed = subprocess.run(
            command, cwd=root, env=environment, capture_output=True, text=True, timeout=900, check=False
        )
        if completed.returncode != 0:
            problem = completed.stderr.strip()[-400:]
            raise ScenarioError(f"realtime_fanout exited with {completed.returncode}: {problem}")
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        outcome.figures.update(figures)
        latency = figures["latency_ms"]
        loss = figures["loss"]
        expected, delivered = figures["deliveries_expected"], figures["deliveries"]
        outcome.add(Line("commit-to-client p50", f"{latency['p50']:.1f} ms", f"p90 {latency['p90']:.1f} ms"))
        outcome.add(Line("commit-to-client p99", f"{latency['p99']:.1f} ms", f"max {latency['max']} ms", None,
                         "<= 100 ms", latency["p99"] <= 100))  # fmt: skip
        outcome.add(Line("delivered / sent", f"{delivered:,} / {expected:,}",
                         f"{loss['lost_deliveries']:,} lost; min per client {loss['min_received_fraction']}", None,
                         "zero loss", loss["lost_deliveries"] == 0))  # fmt: skip
        rate = figures.get("rate_achieved_per_s")
        outcome.add(Line("messages sent", f"{figures['messages_sent']:,}",
                         f"at {rate} msg/s (target {figures['rate_target_per_s']:.0f})"))  # fmt: skip
        if figures.get("realtime_over_plain") is not None:
            outcome.add(Line("writer cost of the realtime trigger: inserts/s with it / without",
                             f"{figures['realtime_insert_per_s']:,.0f} / {figures['plain_insert_per_s']:,.0f}", "",
                             figures["realtime_over_plain"]))  # fmt: skip
        outcome.note = figures.get("send_path", "")
        return outcome

    # -- scenario 10: disk -----------------------------------------------

    def scenario_disk(self) -> Outcome:
        """10. Bytes per message: heap, TOAST, and each index of messages, named and sized."""
        outcome = Outcome("10", "Disk per message (messages table, indexes included)")
        with self.owner() as connection:
            connection.execute("vacuum (analyze) public.messages")
            [(count, heap, table, indexes, total)] = connection.execute(
                """
                select (select count(*) from public.messages),
                       pg_catalog.pg_relation_size('public.messages'),
                       pg_catalog.pg_table_size('public.messages'),
                       pg_catalog.pg_indexes_size('public.messages'),
                       pg_catalog.pg_total_relation_size('public.messages')
                """
            ).fetchall()
            index_sizes = connection.execute(
                """
                select i.indexrelid::regclass::text, pg_catalog.pg_relation_size(i.indexrelid)
                from pg_catalog.pg_index i where i.indrelid = 'public.messages'::regclass order by 2 desc, 1
                """
            ).fetchall()
            [(mentions,)] = connection.execute(
                "select pg_catalog.pg_total_relation_size('public.message_mentions')").fetchall()  # fmt: skip
        per = total / count
        outcome.add(Line("total per message", f"{per:,.0f} B", f"{count:,} messages, {_mib(total)} in all"))
        outcome.add(Line("heap", f"{heap / count:,.0f} B", _mib(heap)))
        outcome.add(Line("TOAST, free space and visibility maps", f"{(table - heap) / count:,.0f} B",
                         _mib(table - heap)))  # fmt: skip
        outcome.add(Line("all indexes", f"{indexes / count:,.0f} B", _mib(indexes)))
        for name, size in index_sizes:
            outcome.add(Line(f"  index {name}", f"{size / count:,.0f} B", _mib(size)))
        outcome.add(Line("message_mentions (all, per message)", f"{mentions / count:,.1f} B", _mib(mentions)))
        outcome.figures.update(messages=count, heap_bytes=heap, table_bytes=table, index_bytes=indexes,
                               total_bytes=total, bytes_per_message=round(per, 1),
                               indexes={name: size for name, size in index_sizes}, mentions_bytes=mentions)  # fmt: skip
        return outcome

    # -- scenario 11: call setup -------------------------------------------

    def scenario_calls(self, calls: int = CALL_SETUPS, pairs: int = CALL_PAIRS) -> Outcome:
        """11. Call setup: start_call (request path) to the callee's call_ringing on user:{id} (parley realtime)."""
        outcome = Outcome("11", f"Call setup: start_call to the callee's ringing event, {calls} calls")
        if self.function("start_call") is None:
            return _skipped(outcome, "start_call")
        with self.owner() as connection:
            rows = connection.execute(
                """
                select c.id::text, m.user_ids[1]::text, m.user_ids[2]::text
                from public.conversations c
                cross join lateral (select array_agg(cm.user_id order by cm.user_id) as user_ids
                                    from public.conversation_members cm where cm.conversation_id = c.id) m
                where c.kind = 'direct' and c.persona_id is null and pg_catalog.cardinality(m.user_ids) = 2
                  and parley_internal.organization_has_feature(c.organization_id, 'chat.calls')
                  and parley_internal.has_permission(c.organization_id, 'chat.initiate_call', m.user_ids[1])
                order by c.id limit %s
                """,
                (pairs,),
            ).fetchall()
            if not rows:
                raise ScenarioError("no direct conversation whose organization has chat.calls")
            # Set-up: the callees accept calls from everyone (the default is connections only).
            connection.execute("update public.privacy_settings set who_can_call = 'everyone' where user_id = any(%s)",
                               ([callee for _, _, callee in rows],))  # fmt: skip
            connection.execute("select parley_internal.expire_ringing_calls('infinity')")
        from parley.realtime import RealtimeConfig, ServiceThread

        service = ServiceThread(RealtimeConfig(self.cluster.owner_url, self.cluster.jwt_secret, port=0,
                                               poll_interval=0.02, retention_interval=0)).start()  # fmt: skip
        try:
            with Api(self.cluster.api_url, self.cluster.jwt_secret, max_connections=4) as api:
                setup_ms, rpc_ms = asyncio.run(self._call_setups(api, service.url, rows, calls))
        finally:
            service.stop(drop_slots=True)
        ordered = sorted(setup_ms)

        def percentile(values: list[float], fraction: float) -> float:
            return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]

        rpc_sorted = sorted(rpc_ms)
        outcome.add(Line("start_call -> call_ringing p50", f"{percentile(ordered, 0.5):.1f} ms",
                         f"start_call alone p50 {percentile(rpc_sorted, 0.5):.1f} ms"))  # fmt: skip
        outcome.add(
            Line(
                "start_call -> call_ringing p99",
                f"{percentile(ordered, 0.99):.1f} ms",
                f"start_call alone p99 {percentile(rpc_sorted, 0.99):.1f} ms; max {ordered[-1]:.1f} ms",
            )
        )
        outcome.figures.update(
            calls=len(ordered), pairs=len(rows),
            setup_ms={"p50": round(percentile(ordered, 0.5), 2), "p90": round(percentile(ordered, 0.9), 2),
                      "p99": round(percentile(ordered, 0.99), 2), "max": round(ordered[-1], 2)},
            start_call_ms={"p50": round(percentile(rpc_sorted, 0.5), 2), "p99": round(percentile(rpc_sorted, 0.99), 2)},
        )  # fmt: skip
        outcome.note = "official realtime client per callee; parley realtime in a thread of the bench process"
        return outcome

    async def _call_setups(
        self, api: Api, url: str, rows: list[tuple[str, str, str]], calls: int
    ) -> tuple[list[float], list[float]]:
        """Subscribe each callee to user:{id}, then place ``calls`` calls one after another; times in ms."""
        from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

        from parley import tokens

        arrivals: dict[str, float] = {}
        clients = []
        for _, _, callee in rows:
            client = AsyncRealtimeClient(
                url, tokens.mint(self.cluster.jwt_secret, user_id=callee), auto_reconnect=False
            )
            await client.connect()
            channel = client.channel(f"user:{callee}", {"config": {"private": True, "broadcast": {"self": False}}})

            def ringing(message: dict[str, Any]) -> None:
                arrivals.setdefault(message["payload"]["call"]["id"], time.perf_counter())

            channel.on_broadcast("call_ringing", ringing)
            joined: list[RealtimeSubscribeStates] = []
            await channel.subscribe(lambda state, _error, joined=joined: joined.append(state))
            for _ in range(500):
                if joined:
                    break
                await asyncio.sleep(0.01)
            if joined != [RealtimeSubscribeStates.SUBSCRIBED]:
                raise ScenarioError(f"callee could not join user:{callee}: {joined}")
            clients.append(client)
        setup_ms: list[float] = []
        rpc_ms: list[float] = []
        try:
            for number in range(calls):
                conversation, caller, callee = rows[number % len(rows)]
                caller_token = tokens.mint(self.cluster.jwt_secret, user_id=caller)
                began = time.perf_counter()
                arguments = {"conversation_id": conversation, "media": "audio"}
                call = await asyncio.to_thread(api.rpc, "start_call", arguments, token=caller_token)
                rpc_ms.append((time.perf_counter() - began) * 1000)
                deadline = time.perf_counter() + 10
                while call["id"] not in arrivals:
                    if time.perf_counter() > deadline:
                        raise ScenarioError(f"no call_ringing for call {call['id']} within 10 s")
                    await asyncio.sleep(0.0005)
                setup_ms.append((arrivals[call["id"]] - began) * 1000)
                await asyncio.to_thread(api.rpc, "end_call", {"call_id": call["id"]}, token=caller_token)
        finally:
            for client in clients:
                await client.close()
        return setup_ms, rpc_ms


class ScenarioError(RuntimeError):
    """A scenario could not run to the end."""


def _skipped(outcome: Outcome, function: str) -> Outcome:
    outcome.status, outcome.note = "skipped", f"{function} not available"
    return outcome


def _message_id(row: Any) -> int:
    """The message id out of send_message's JSON result (a messages row, or an object holding one)."""
    if isinstance(row, list):
        row = row[0]
    if isinstance(row, dict):
        if "id" in row:
            return int(row["id"])
        for value in row.values():
            if isinstance(value, dict) and "id" in value:
                return int(value["id"])
    raise ScenarioError(f"cannot find a message id in send_message's result: {row!r}")


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"
