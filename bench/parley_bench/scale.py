"""The two data-set sizes and how long each measurement runs at each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Data-set shape and run lengths of one benchmark scale."""

    name: str
    users: int
    organizations: int
    conversations: int
    messages: int
    big_conversation_messages: int
    """Messages of the one big conversation (history at depth, scenario 4)."""
    inbox_user_conversations: int
    """Conversations of the one heavy user (inbox, unread counts: scenarios 3 and 5)."""
    hot_conversation_members: int
    """Members of the big conversation, which is also the hot conversation of scenario 2."""
    busy_groups: int
    """A few very busy groups holding a quarter of the remaining messages."""
    throughput_seconds: int
    """Duration of each pgbench throughput run (baselines, scenarios 1 and 2)."""
    latency_transactions: int
    """Transactions per latency measurement (scenarios 3 to 6)."""
    latency_budget_seconds: float
    """Slow statements run fewer transactions: about this long per measurement (30 at least)."""
    sender_scripts: int
    """Distinct users driving scenario 1 (one pgbench script each; pgbench allows 128)."""
    realtime_seconds: int
    """Duration of the paced realtime fan-out run (scenario 9)."""
    shared_buffers: str
    """shared_buffers of the benchmark cluster."""
    import_messages: int = 100_000
    """Legacy messages generated for the import scenario (11); PARLEY_BENCH_IMPORT_MESSAGES overrides it."""


SCALES: dict[str, Scale] = {
    "small": Scale(
        name="small",
        users=1_000,
        organizations=3,
        conversations=5_000,
        messages=300_000,
        big_conversation_messages=100_000,
        inbox_user_conversations=1_000,
        hot_conversation_members=100,
        busy_groups=5,
        throughput_seconds=15,
        latency_transactions=300,
        latency_budget_seconds=5,
        sender_scripts=64,
        realtime_seconds=10,
        shared_buffers="512MB",
    ),
    # Search at about a million reachable messages (scenario 7) in a few minutes: the inbox user is a member of
    # the 800,000-message big conversation and of ~1,000 others. The other scenarios run too, at small-like sizes.
    "search": Scale(
        name="search",
        users=1_000,
        organizations=3,
        conversations=5_000,
        messages=1_200_000,
        big_conversation_messages=800_000,
        inbox_user_conversations=1_000,
        hot_conversation_members=100,
        busy_groups=5,
        throughput_seconds=15,
        latency_transactions=300,
        latency_budget_seconds=5,
        sender_scripts=64,
        realtime_seconds=10,
        shared_buffers="1GB",
    ),
    "full": Scale(
        name="full",
        users=10_000,
        organizations=10,
        conversations=100_000,
        messages=10_000_000,
        big_conversation_messages=1_000_000,
        inbox_user_conversations=1_000,
        hot_conversation_members=100,
        busy_groups=20,
        throughput_seconds=60,
        latency_transactions=1_000,
        latency_budget_seconds=20,
        sender_scripts=100,
        realtime_seconds=30,
        shared_buffers="4GB",
        import_messages=1_000_000,
    ),
}
