"""The benchmark's peer baseline (c) and its report arithmetic (docs/benchmarks.md).

(c) is the minimal Supabase-style chat send: its schema must behave as claimed (a member's insert
passes RLS, a non-member's is refused, the foreign key holds, the ``auth.uid()`` it uses is the
inlinable one). The baselines' order and the ratios and verdicts of the send scenarios are checked
with made-up figures. No timings: the benchmark measures, tests do not.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from parley_bench import peer
from parley_bench.pgbench import Result
from parley_bench.report import (
    HISTORY_TARGET,
    HOT_TARGETS,
    RLS_TARGET,
    SEND_TARGETS,
    baseline_means,
    baseline_ratio_lines,
    bracket,
)
from parley_bench.scale import SCALES
from parley_bench.scenarios import Bench

from parley.stack import set_realtime_capture

ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())
ROOM = str(uuid.uuid4())
OTHER_ROOM = str(uuid.uuid4())


@pytest.fixture(scope="module")
def owner_url(database) -> Iterator[str]:
    """The module's own database with the peer schema: ALICE is in ROOM; BOB in OTHER_ROOM only."""
    with psycopg.connect(database.url, autocommit=True) as connection:
        peer.install(connection)
        peer.install(connection)  # re-running it is harmless (the bench may install it twice)
        connection.execute("insert into bench.peer_conversations (id) values (%s), (%s)", (ROOM, OTHER_ROOM))
        connection.execute(
            "insert into bench.peer_members (conversation_id, user_id) values (%s, %s), (%s, %s)",
            (ROOM, ALICE, OTHER_ROOM, BOB),
        )
    yield database.url


def as_user(connection: psycopg.Connection, user: str) -> None:
    """The request framing: role authenticated and the user's claims, for this transaction."""
    claims = json.dumps({"sub": user, "role": "authenticated"})
    connection.execute(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
    )


def send(url: str, user: str, conversation: str, sender: str | None = None) -> None:
    """Baseline (c)'s statement as ``user``, in a transaction that is rolled back."""
    with psycopg.connect(url) as connection:
        as_user(connection, user)
        connection.execute(peer.insert_statement(f"'{conversation}'::uuid", sender or user, "hello"))
        connection.rollback()


# -- the peer schema ---------------------------------------------------------


def test_a_member_sends(owner_url: str) -> None:
    send(owner_url, ALICE, ROOM)


def test_a_non_member_is_refused_by_rls(owner_url: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        send(owner_url, BOB, ROOM)


def test_a_member_cannot_send_as_someone_else(owner_url: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        send(owner_url, ALICE, ROOM, sender=BOB)


def test_the_foreign_key_holds(owner_url: str) -> None:
    with psycopg.connect(owner_url) as connection, pytest.raises(errors.ForeignKeyViolation):
        connection.execute(peer.insert_statement(f"'{uuid.uuid4()}'::uuid", ALICE, "hello"))


def test_members_read_only_their_own_rows(owner_url: str) -> None:
    with psycopg.connect(owner_url) as connection:
        as_user(connection, ALICE)
        rows = connection.execute("select conversation_id::text, user_id::text from bench.peer_members").fetchall()
        conversations = connection.execute("select id::text from bench.peer_conversations").fetchall()
        connection.rollback()
    assert rows == [(ROOM, ALICE)]
    assert conversations == [(ROOM,)]


def test_peer_uid_is_supabase_inlinable_definition(owner_url: str) -> None:
    with psycopg.connect(owner_url, autocommit=True) as connection:
        [(language, volatility, definer, config)] = connection.execute(
            """
            select l.lanname, p.provolatile, p.prosecdef, p.proconfig
            from pg_catalog.pg_proc p join pg_catalog.pg_language l on l.oid = p.prolang
            where p.oid = 'bench.peer_uid()'::regprocedure
            """
        ).fetchall()
        assert (language, volatility, definer, config) == ("sql", "s", False, None)
        # Inlined: the plan shows the function's body, not a call of it.
        plan = "\n".join(
            row[0]
            for row in connection.execute(
                "explain (verbose, costs off) select id from bench.peer_messages where sender_id = bench.peer_uid()"
            )
        )
        assert "current_setting" in plan
        assert "peer_uid" not in plan


def test_peer_uid_reads_the_claims_as_auth_uid_does(owner_url: str) -> None:
    with psycopg.connect(owner_url) as connection:
        as_user(connection, ALICE)
        [(peer_uid, auth_uid)] = connection.execute("select bench.peer_uid()::text, auth.uid()::text").fetchall()
        connection.execute("select set_config('request.jwt.claim.sub', %s, true)", (BOB,))
        [(legacy,)] = connection.execute("select bench.peer_uid()::text").fetchall()
        connection.rollback()
    assert peer_uid == auth_uid == ALICE
    assert legacy == BOB  # the older per-claim setting wins, as in Supabase's definition


def test_realtime_capture_is_set_for_later_sessions(server, database, owner_url: str) -> None:
    """The harness's --realtime-capture goes through parley.stack.set_realtime_capture (the bench's owner is the
    cluster's superuser, as here)."""
    superuser_url = server.superuser_url_of(database)
    set_realtime_capture(superuser_url, "table")
    with psycopg.connect(owner_url, autocommit=True) as connection:
        [(mode,)] = connection.execute("select current_setting('parley.realtime_capture', true)").fetchall()
    set_realtime_capture(superuser_url, "wal")
    assert mode == "table"
    with pytest.raises(ValueError, match="realtime capture"):
        set_realtime_capture(superuser_url, "trigger")


# -- the report's arithmetic (made-up figures) ---------------------------------


def test_baselines_bracket_the_send_scenarios() -> None:
    assert bracket({"a", "b", "c"}, ["1", "2", "8"]) == ["b", "a", "c", "1", "2", "8", "c", "a", "b"]
    assert bracket({"c", "a"}, []) == ["a", "c", "c", "a"]
    assert bracket(set(), ["1"]) == ["1"]


def test_baselines_are_the_mean_of_their_runs() -> None:
    assert baseline_means({"a": [10_000.0, 14_000.0], "b": [6_000.0], "c": []}) == {"a": 12_000.0, "b": 6_000.0}


def test_targets_are_the_issue_s() -> None:
    assert SEND_TARGETS == {"b": 0.6, "c": 0.75}
    assert HOT_TARGETS == {"b": 0.5}
    assert (RLS_TARGET, HISTORY_TARGET) == (1.3, 1.5)


def test_ratio_lines_name_their_baseline() -> None:
    lines = baseline_ratio_lines(3_000.0, {"a": 12_000.0, "b": 5_000.0, "c": 4_000.0}, SEND_TARGETS)
    assert [line.label[:6] for line in lines] == ["vs (b)", "vs (c)", "vs (a)"]
    assert [line.ratio for line in lines] == [0.6, 0.75, 0.25]
    assert [line.target for line in lines] == [">= 0.6x (b)", ">= 0.75x (c)", ""]
    assert [line.verdict for line in lines] == ["met", "met", ""]
    assert lines[1].baseline == "(c) 4,000 tx/s"
    missed = baseline_ratio_lines(2_999.0, {"b": 5_000.0, "c": 4_000.0}, SEND_TARGETS)
    assert [line.verdict for line in missed] == ["MISSED", "MISSED"]
    assert baseline_ratio_lines(1.0, {}, SEND_TARGETS) == []


def fake_bench(runs: dict[str, list[float]]) -> Bench:
    """A Bench holding made-up baseline runs (no cluster)."""
    bench = Bench.__new__(Bench)
    bench.baselines, bench.baseline_runs = {}, {}
    bench.log = lambda _line: None
    bench.scale = SCALES["small"]
    for name, values in runs.items():
        for tps in values:
            bench._baseline(name, Result(int(tps), 1.0, tps))
    return bench


def test_send_and_hot_outcomes_use_the_bracket_means() -> None:
    bench = fake_bench({"b": [5_000.0, 7_000.0], "a": [12_000.0, 12_000.0], "c": [4_400.0, 3_600.0]})
    send = bench.send_outcome(Result(3_600, 1.0, 3_600.0))
    by_label = {line.label[:6]: line for line in send.lines}
    assert by_label["vs (b)"].ratio == pytest.approx(0.6)
    assert by_label["vs (c)"].ratio == pytest.approx(0.9)
    assert by_label["vs (a)"].ratio == pytest.approx(0.3)
    assert (by_label["vs (b)"].verdict, by_label["vs (c)"].verdict) == ("met", "met")
    assert send.figures["ratio_c"] == 0.9
    hot = bench.hot_outcome(Result(2_000, 1.0, 2_000.0))
    verdicts = {line.label[:6]: line.verdict for line in hot.lines}
    assert verdicts == {"vs (b)": "MISSED", "vs (c)": "", "vs (a)": "", "latenc": ""}
    table = bench.baselines_outcome()
    assert [line.figure for line in table.lines[:3]] == ["12,000 tx/s", "6,000 tx/s", "4,000 tx/s"]
    assert table.lines[1].baseline == "runs: 5,000, 7,000"
    assert table.figures["c_over_b"] == pytest.approx(0.667, abs=0.001)
