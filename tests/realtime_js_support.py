"""Drive the official supabase-js client (tests/js, pinned, installed by `make deps` with npm ci) from pytest."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parent / "js"
CLIENT = JS_DIR / "client.mjs"
WAIT = 15.0


def node_ready() -> None:
    """Fail (not skip) with the fix when node or the pinned packages are missing."""
    if shutil.which("node") is None:
        raise AssertionError("node is not installed: run `make deps` (it installs nodejs and npm)")
    if not (JS_DIR / "node_modules" / "@supabase" / "supabase-js").is_dir():
        raise AssertionError("tests/js/node_modules is missing: run `make deps` (npm ci --prefix tests/js)")


class JsClient:
    """One node process running tests/js/client.mjs: send commands, collect what it prints."""

    def __init__(self, realtime_url: str, token: str, *, anon_key: str | None = None, vsn: str | None = None,
                 access_token: bool = False) -> None:  # fmt: skip
        node_ready()
        base = realtime_url.removesuffix("/realtime/v1").replace("ws://", "http://")
        options = {"url": base, "anonKey": anon_key or token, "token": token, "accessToken": access_token}
        if vsn:
            options["vsn"] = vsn
        self.process = subprocess.Popen(
            ["node", str(CLIENT), json.dumps(options)], cwd=JS_DIR, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stderr: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()
        ready = self.wait(lambda: self.of("ready"), what="node client start")
        self.vsn = ready[0].get("vsn")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"type": "output", "text": line}
            with self._lock:
                self.events.append(event)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.put(line)

    def command(self_, **command: Any) -> None:  # self_: "self" is a command field (config.broadcast.self)
        """Send one command (see tests/js/client.mjs)."""
        self = self_
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def of(self, kind: str, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Printed events of one type (and channel name), matching the given fields."""
        with self._lock:
            events = list(self.events)
        return [
            event for event in events
            if event.get("type") == kind and (name is None or event.get("name") == name)
            and all(event.get(key) == value for key, value in match.items())
        ]  # fmt: skip

    def statuses(self, name: str) -> list[str]:
        """The subscribe statuses of a channel, in order."""
        return [event["status"] for event in self.of("status", name)]

    def broadcasts(self, name: str, event: str | None = None) -> list[dict[str, Any]]:
        """Broadcasts received on a channel (optionally one event), in order."""
        return [item for item in self.of("broadcast", name) if event is None or item["event"] == event]

    def wait(self, predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
        """Poll until predicate() is truthy; fail with the client's output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            errors = self.of("error")
            if errors:
                raise AssertionError(f"node client error: {errors}")
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; output: {self.events[-20:]}; "
                             f"stderr: {self.stderr()}")  # fmt: skip

    def subscribe(self, name: str, topic: str, *, expect: str = "SUBSCRIBED", broadcast_self: bool = False,
                  **options: Any) -> None:  # fmt: skip
        """Subscribe a channel and wait for its first status (``expect``); ``broadcast_self``: config.broadcast.self."""
        self.command(op="subscribe", name=name, topic=topic, self=broadcast_self, **options)
        statuses = self.wait(lambda: self.statuses(name), what=f"{name} status")
        assert statuses[0] == expect, (statuses, self.of("status", name))

    def stderr(self) -> str:
        lines = []
        while not self._stderr.empty():
            lines.append(self._stderr.get())
        return "".join(lines)

    def close(self) -> None:
        """Leave everything and exit; kill if it does not."""
        if self.process.poll() is None:
            try:
                self.command(op="exit")
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)
