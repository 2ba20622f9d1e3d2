"""What the outbox costs a send (issue 18): send_message with the WAL outbox, without it, and with a table outbox.

    PYTHONPATH=bench:python .venv/bin/python bench/outbox_cost.py [--sends 300] [--rounds 5]

Starts a throwaway cluster with the migrated schema (the test server), makes one organization and one group,
then in each round sends ``--sends`` messages through the request framing (role, JWT claims, headers, as
PostgREST) under each variant in turn, one client, and times them; variants alternate inside every round so
drift on a shared machine hits all of them alike. Prints the median per-send time of each variant and its
ratio to the send without an outbox. Not a test: it asserts nothing.

Variants:
  wal    as built: triggers emit transactional logical messages (pg_logical_emit_message), no row;
  off    the outbox triggers disabled;
  table  the outbox triggers disabled and the same event inserted as a row of an identity-keyed table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import psycopg

from parley_dev import testing

TABLE_OUTBOX = """
create table if not exists parley_internal.outbox_rows (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  event jsonb not null
);
create or replace function parley_internal.outbox_message_inserted_row()
returns trigger language plpgsql security definer set search_path = '' as $$
declare
  conversation record;
begin
  select c.organization_id, c.kind into conversation from public.conversations c where c.id = new.conversation_id;
  insert into parley_internal.outbox_rows (event) values (pg_catalog.jsonb_build_object(
    'type', 'message.created', 'organization_id', conversation.organization_id,
    'conversation_id', new.conversation_id, 'occurred_at', pg_catalog.now(), 'data', pg_catalog.jsonb_build_object(
      'message', parley_internal.realtime_message_json(new), 'conversation_kind', conversation.kind)));
  return null;
end $$;
create trigger messages_outbox_rows after insert on public.messages
  for each row execute function parley_internal.outbox_message_inserted_row();
alter table public.messages disable trigger messages_outbox_rows;
"""

VARIANTS = {
    "wal": ("enable", "disable"),
    "off": ("disable", "disable"),
    "table": ("disable", "enable"),
}


def set_variant(owner: psycopg.Connection, variant: str) -> None:
    wal, table = VARIANTS[variant]
    owner.execute(f"alter table public.messages {wal} trigger messages_outbox_insert")
    owner.execute(f"alter table public.messages {table} trigger messages_outbox_rows")


def explain_triggers(url: str, room: uuid.UUID, user: uuid.UUID, rows: int, rounds: int) -> dict[str, float]:
    """Per-row time of each trigger (and of the insert itself) from EXPLAIN ANALYZE, the WAL and the table
    outbox both on: their costs measured side by side in the same statements (each rolled back)."""
    if rows <= 0:
        return {}
    samples: dict[str, list[float]] = {}
    with psycopg.connect(url) as connection:
        connection.execute("alter table public.messages enable trigger messages_outbox_insert")
        connection.execute("alter table public.messages enable trigger messages_outbox_rows")
        connection.commit()
        for _ in range(rounds):
            [(plan,)] = connection.execute(
                "explain (analyze, format json) insert into public.messages (conversation_id, sender_kind, sender_id, "
                "body) select %s, 'user', %s, 'explain ' || n from generate_series(1, %s) n",
                (room, user, rows),
            ).fetchall()
            connection.rollback()
            samples.setdefault("(the insert itself)", []).append(plan[0]["Plan"]["Actual Total Time"] * 1000 / rows)
            for trigger in plan[0].get("Triggers", []):
                samples.setdefault(trigger["Trigger Name"], []).append(trigger["Time"] * 1000 / rows)
    return {name: statistics.median(values) for name, values in samples.items()}


FUNCTIONS = (
    "send_message",
    "assert_not_restricted",
    "outbox_message_inserted",
    "outbox_emit",
    "realtime_message_inserted",
    "deliver_message",
)


def function_times(url: str, room: uuid.UUID, user: uuid.UUID, sends: int) -> dict[str, tuple[float, float, int]]:
    """Server time per call of the send path's functions (pg_stat_user_functions, track_functions = all):
    {name: (total us per call, self us per call, calls)} over ``sends`` sends in one session."""
    claims = json.dumps({"sub": str(user), "role": "authenticated", "aud": "authenticated"})
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("set track_functions = 'all'")
        connection.execute("select pg_stat_reset()")
        for _ in range(sends):
            with connection.transaction():
                connection.execute(
                    "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true), "
                    "set_config('request.headers', '{}', true)",
                    (claims,),
                )
                connection.execute("select id from public.send_message(%s, 'bench', 'text', %s)", (room, uuid.uuid4()))
        connection.execute("select pg_stat_force_next_flush()")
    with psycopg.connect(url, autocommit=True) as reader:
        time.sleep(0.5)
        rows = reader.execute(
            "select schemaname || '.' || funcname, calls, total_time, self_time from pg_stat_user_functions "
            "where funcname = any(%s) order by total_time desc",
            (list(FUNCTIONS),),
        ).fetchall()
    return {name: (total * 1000 / calls, own * 1000 / calls, calls) for name, calls, total, own in rows if calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--explain-rows", type=int, default=2000,
                        help="rows per EXPLAIN ANALYZE insert (per-trigger attribution); 0 to skip")  # fmt: skip
    arguments = parser.parse_args()
    server = testing.server()
    database = server.create_database("outbox_cost")
    try:
        user = database.create_user("sender")
        with psycopg.connect(database.url, autocommit=True) as owner:
            owner.execute(TABLE_OUTBOX)
            organization = owner.execute("insert into organizations (name) values ('Bench') returning id").fetchone()[0]
            owner.execute("insert into organization_members values (%s, %s, 'owner')", (organization, user.id))
            owner.execute("update organization_settings set send_rate_per_minute = 100000, send_burst = 10000 "
                          "where organization_id = %s", (organization,))  # fmt: skip
            room = owner.execute("insert into conversations (organization_id, kind, title) values (%s, 'group', 'B') "
                                 "returning id", (organization,)).fetchone()[0]  # fmt: skip
            owner.execute("select parley_internal.add_conversation_member(%s, %s, 'owner', null)", (room, user.id))
            claims = json.dumps({"sub": str(user.id), "role": "authenticated", "aud": "authenticated"})
            timings: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            with psycopg.connect(database.api_url, autocommit=True) as client:
                for _ in range(arguments.rounds):
                    for variant in VARIANTS:
                        set_variant(owner, variant)
                        started = time.perf_counter()
                        for _ in range(arguments.sends):
                            with client.transaction():
                                client.execute(
                                    "select set_config('role', 'authenticated', true), "
                                    "set_config('request.jwt.claims', %s, true), "
                                    "set_config('request.headers', '{}', true)",
                                    (claims,),
                                )
                                client.execute("select id from public.send_message(%s, 'bench', 'text', %s)",
                                               (room, uuid.uuid4()))  # fmt: skip
                        timings[variant].append((time.perf_counter() - started) / arguments.sends * 1e6)
            [(rows,)] = owner.execute("select count(*) from parley_internal.outbox_rows").fetchall()
            triggers = explain_triggers(database.url, room, user.id, arguments.explain_rows, arguments.rounds)
            set_variant(owner, "wal")
            functions = function_times(database.url, room, user.id, arguments.sends)
        base = statistics.median(timings["off"])
        print(f"{arguments.rounds} rounds x {arguments.sends} sends per variant, one client (table rows: {rows})")
        for variant, values in timings.items():
            median = statistics.median(values)
            print(f"  {variant:5}  median {median:7.0f} us/send  (rounds: {', '.join(f'{v:.0f}' for v in values)})"
                  f"  ratio to off {median / base:.3f}")  # fmt: skip
        print(f"pg_stat_user_functions over {arguments.sends} sends as built (one session): microseconds per call")
        for name, (total, own, calls) in functions.items():
            print(f"  {name:45} total {total:8.1f}  self {own:8.1f}  calls {calls}")
        if triggers:
            print(f"EXPLAIN ANALYZE of a {arguments.explain_rows}-row insert into messages, both outbox triggers on, "
                  f"median of {arguments.rounds}: microseconds per row")  # fmt: skip
            for name, value in sorted(triggers.items(), key=lambda item: -item[1]):
                print(f"  {name:40} {value:8.1f}")
    finally:
        server.drop_database(database)
        testing.shutdown()


if __name__ == "__main__":
    main()
