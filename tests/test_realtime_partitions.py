"""The WAL decoder reads realtime.messages through its daily partitions (Supabase partitions it by day)."""

from __future__ import annotations

import json

from parley.realtime.stream import DECODING_OPTIONS, Decoder, is_messages_table


def test_partition_names_count_as_realtime_messages_and_other_realtime_tables_do_not():
    assert is_messages_table("messages")
    assert is_messages_table("messages_2026_12_05")
    assert not is_messages_table("messages_unpartitioned")
    assert not is_messages_table("subscription")
    assert not is_messages_table("messages_2026_12_05_old")
    assert not is_messages_table(None)


def test_the_slot_filter_covers_partitions():
    """wal2json matches add-tables against the partition a row went to, so an exact root name sees nothing."""
    options = dict(zip(DECODING_OPTIONS[::2], DECODING_OPTIONS[1::2], strict=True))
    assert options["add-tables"] == "realtime.*"


def test_decoder_turns_rows_of_a_partition_into_events_and_skips_other_realtime_tables():
    def insert(table: str, topic: str) -> tuple[str, str]:
        columns = [
            {"name": "topic", "value": topic},
            {"name": "extension", "value": "broadcast"},
            {"name": "event", "value": "e"},
            {"name": "payload", "value": json.dumps({"id": "row-1", "n": 1})},
            {"name": "private", "value": True},
            {"name": "id", "value": "row-1"},
        ]
        return "0/10", json.dumps({"action": "I", "schema": "realtime", "table": table, "columns": columns})

    rows = [
        ("0/1", json.dumps({"action": "B", "timestamp": "2026-12-05 12:00:00+00"})),
        insert("messages_2026_12_05", "room:1"),
        insert("subscription", "room:2"),
        ("0/20", json.dumps({"action": "C", "nextlsn": "0/30"})),
    ]
    decoded = Decoder().feed(rows)
    assert [(event.topic, event.payload, event.message_id) for event in decoded.events] == [
        ("room:1", {"id": "row-1", "n": 1}, "row-1")
    ]
