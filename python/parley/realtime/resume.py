"""Automatic resume: the service remembers where each user's channel stopped and replays from there on rejoin.

The official clients rejoin with the join parameters they started with, so
they cannot say what they last saw. The service keeps, per channel, a
**cursor**: the id of the last database event whose frame it handed to the
kernel (or, before any event, the stream position at join). When a channel
ends without a ``phx_leave`` (connection dropped, service killed), its cursor
becomes a **ticket** under (user id, topic, private). A join by the same user
on the same topic that names no ``replay.after`` of its own takes the oldest
matching ticket (smallest cursor: a missed event is never skipped) and the
hub replays the buffered events after it, exactly as for ``replay.after``.

Tickets live ``ttl`` seconds (and at most ``per_key`` per user and topic,
``max_tickets`` in all). Cursors and tickets are journaled to a file (one
``os.write`` per write batch, no fsync: the page cache outlives a killed
process), so a service restarted after ``kill -9`` hands them out again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("parley.realtime.resume")

Key = tuple[str, str, bool]
"""(user id, topic name, private)."""

COMPACT_BYTES = 8 << 20
"""Journal size after which it is rewritten with the live state only."""


class Resumable(Protocol):
    """What the store needs of a channel (parley.realtime.hub.Channel)."""

    uid: str
    cursor: str | None

    @property
    def resume_key(self) -> Key | None: ...


class ResumeStore:
    """Cursors of open channels and tickets of ended ones, journaled to ``path`` (None: memory only)."""

    def __init__(self, path: Path | str | None = None, *, ttl: float = 300.0, per_key: int = 16,
                 max_tickets: int = 100_000) -> None:  # fmt: skip
        self.path = Path(path) if path is not None else None
        self.ttl = ttl
        self.per_key = per_key
        self.max_tickets = max_tickets
        self.tickets: dict[Key, list[tuple[str, float, str]]] = {}
        """key → [(cursor, expires at (time.time()), uid)], oldest cursor first."""
        self.open: dict[str, tuple[Key, str | None]] = {}
        """uid of an open channel → (key, cursor)."""
        self.resumed = 0
        self._fd: int | None = None
        self._written = 0

    # -- journal -------------------------------------------------------------------

    def load(self) -> int:
        """Read the journal of a previous run: its open channels and live tickets become tickets. Returns how many."""
        if self.path is None:
            return 0
        state: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            with self.path.open(encoding="utf-8", errors="replace") as journal:
                for line in journal:
                    try:
                        record = json.loads(line)
                        state[str(record["c"])] = record
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a crash
        now = time.time()
        for uid, record in state.items():
            if record.get("s") not in ("o", "t") or not record.get("id") or not isinstance(record.get("k"), list):
                continue
            expires = now + self.ttl if record["s"] == "o" else float(record.get("e") or 0)
            if expires > now:
                user, topic, private = record["k"]
                self._add_ticket((str(user), str(topic), bool(private)), str(record["id"]), expires, uid)
        self._rewrite()
        count = sum(len(tickets) for tickets in self.tickets.values())
        if count:
            log.info("resume: %d ticket(s) from the previous run", count)
        return count

    def _rewrite(self) -> None:
        """Start a fresh journal holding the current state (tickets and open cursors)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [self._record(uid, key, cursor, "t", expires)
                 for key, tickets in self.tickets.items() for cursor, expires, uid in tickets]  # fmt: skip
        lines += [self._record(uid, key, cursor, "o") for uid, (key, cursor) in self.open.items() if cursor]
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(lines), encoding="utf-8")
        os.replace(temporary, self.path)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._written = 0

    @staticmethod
    def _record(uid: str, key: Key | None, cursor: str | None, state: str, expires: float | None = None) -> str:
        record: dict[str, Any] = {"c": uid, "s": state}
        if key is not None:
            record["k"] = list(key)
        if cursor:
            record["id"] = cursor
        if expires is not None:
            record["e"] = round(expires, 3)
        return json.dumps(record, separators=(",", ":")) + "\n"

    def _append(self, lines: Iterable[str]) -> None:
        if self._fd is None:
            return
        data = "".join(lines).encode()
        if not data:
            return
        try:
            os.write(self._fd, data)
        except OSError as error:  # pragma: no cover - disk full and the like
            log.warning("resume journal write failed: %s", error)
            return
        self._written += len(data)
        if self._written > COMPACT_BYTES:
            self._rewrite()

    def close(self) -> None:
        """Close the journal (tickets stay in it for the next run)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- channels --------------------------------------------------------------------

    def opened(self, channel: Resumable) -> None:
        """A channel joined (its cursor is the stream position at join, or the replay's last id)."""
        key = channel.resume_key
        if key is None:
            return
        self.open[channel.uid] = (key, channel.cursor)
        self._append([self._record(channel.uid, key, channel.cursor, "o")])

    def moved(self, channels: Iterable[Resumable]) -> None:
        """Cursors moved (frames reached the kernel): one journal write for all of them."""
        lines = []
        for channel in channels:
            entry = self.open.get(channel.uid)
            if entry is not None:
                self.open[channel.uid] = (entry[0], channel.cursor)
                lines.append(self._record(channel.uid, entry[0], channel.cursor, "o"))
        self._append(lines)

    def closed(self, channel: Resumable, *, keep: bool) -> None:
        """A channel ended; ``keep`` (no phx_leave: dropped or closed by the server) turns its cursor into a ticket."""
        entry = self.open.pop(channel.uid, None)
        if entry is None:
            return
        key, cursor = entry
        if keep and cursor:
            expires = time.time() + self.ttl
            self._add_ticket(key, cursor, expires, channel.uid)
            self._append([self._record(channel.uid, key, cursor, "t", expires)])
        else:
            self._append([self._record(channel.uid, None, None, "x")])

    def take(self, key: Key) -> str | None:
        """The oldest live ticket of a (user, topic, private), consumed; None when there is none."""
        tickets = self.tickets.get(key)
        now = time.time()
        while tickets:
            cursor, expires, uid = tickets.pop(0)
            if not tickets:
                del self.tickets[key]
            self._append([self._record(uid, None, None, "x")])
            if expires > now:
                self.resumed += 1
                return cursor
        return None

    def _add_ticket(self, key: Key, cursor: str, expires: float, uid: str) -> None:
        tickets = self.tickets.setdefault(key, [])
        tickets.append((cursor, expires, uid))
        tickets.sort()
        del tickets[: max(0, len(tickets) - self.per_key)]
        if sum(len(entries) for entries in self.tickets.values()) > self.max_tickets:
            self.expire(force=True)

    def expire(self, *, force: bool = False) -> None:
        """Drop expired tickets (``force``: also the oldest-expiring half when over ``max_tickets``)."""
        now = time.time()
        for key in list(self.tickets):
            live = [ticket for ticket in self.tickets[key] if ticket[1] > now]
            if live:
                self.tickets[key] = live
            else:
                del self.tickets[key]
        if force:
            entries = sorted((expires, key, cursor, uid) for key, tickets in self.tickets.items()
                             for cursor, expires, uid in tickets)  # fmt: skip
            for _expires, key, _cursor, uid in entries[: len(entries) // 2]:
                remaining = [ticket for ticket in self.tickets.get(key, []) if ticket[2] != uid]
                if remaining:
                    self.tickets[key] = remaining
                else:
                    self.tickets.pop(key, None)

    @property
    def ticket_count(self) -> int:
        """Tickets held."""
        return sum(len(tickets) for tickets in self.tickets.values())
