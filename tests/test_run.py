"""`parley run` (what `make run` runs) as a newcomer meets it: ports, a busy port, signals, the banner.

Each test runs the real command in its own process group with its own state
folder, and checks afterwards that nothing it started is left running (no
PostgreSQL of that folder, no pg_recvlogical, nobody in its process group).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parley import stack
from parley.cluster import EmbeddedCluster, free_port

STARTUP = 180.0


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run-state")
    yield folder
    EmbeddedCluster(folder).destroy()


def environment(state_dir: Path, realtime_port: int, storage_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")}
    env.update(
        PARLEY_STATE_DIR=str(state_dir),
        PARLEY_REALTIME_PORT=str(realtime_port),
        PARLEY_STORAGE_PUBLIC_URL=f"http://127.0.0.1:{storage_port}",
        PYTHONUNBUFFERED="1",
    )
    return env


def start(state_dir: Path, realtime_port: int, storage_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "run"], env=environment(state_dir, realtime_port, storage_port),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def leftovers(process: subprocess.Popen, state_dir: Path) -> list[str]:
    """Processes still alive from this run: in its session, or a server of its data folder, or its slot reader."""
    data_dir = str(EmbeddedCluster(state_dir).data_dir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            session = os.getsid(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
        if session == process.pid or (data_dir in command and "postgres" in command):
            found.append(f"{entry.name}: {command.strip()}")
    return found


def wait_gone(process: subprocess.Popen, state_dir: Path, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        remaining = leftovers(process, state_dir)
        if not remaining:
            return []
        time.sleep(0.2)
    return leftovers(process, state_dir)


def test_a_busy_realtime_port_gives_one_line_and_stops_everything_started(state_dir):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        process = start(state_dir, busy, free_port())
        out, err = process.communicate(timeout=STARTUP)
    finally:
        holder.close()
    assert process.returncode == 1, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert any(f"cannot listen on 127.0.0.1:{busy}" in line and "PARLEY_REALTIME_PORT" in line for line in lines), err
    assert "Traceback" not in err and "Traceback" not in out
    assert "Parley is ready" not in out
    assert wait_gone(process, state_dir) == []


def test_a_busy_storage_port_gives_one_line_and_stops_everything_started(state_dir):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        process = start(state_dir, free_port(), busy)
        out, err = process.communicate(timeout=STARTUP)
    finally:
        holder.close()
    assert process.returncode == 1, (out, err)
    assert "PARLEY_STORAGE_PUBLIC_URL" in err and "Traceback" not in err, err
    assert wait_gone(process, state_dir) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_every_service_cleanly(state_dir, signum):
    realtime_port, storage_port = free_port(), free_port()
    process = start(state_dir, realtime_port, storage_port)
    banner = []
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP
    try:
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C") or time.monotonic() > deadline:
                break
        text = "".join(banner)
        assert "Parley is ready" in text, text
        # The ids and tokens a newcomer needs: every demo user (carol too), the organization, both ports.
        for name, (user_id, _email) in stack.DEMO_USERS.items():
            assert f"    {name:<13} ey" in text and user_id in text, name
        assert stack.DEMO_ORGANIZATION[0] in text and stack.DEMO_PERSONA[0] in text
        assert f"ws://127.0.0.1:{realtime_port}/realtime/v1" in text
        assert f"http://127.0.0.1:{storage_port}" in text
        # Port 4000 (here: the configured one) answers plain HTTP briefly, without a traceback.
        with socket.create_connection(("127.0.0.1", realtime_port), timeout=5) as plain:
            plain.sendall(b"GET /realtime/v1/websocket HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = plain.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 426"), answer
        for request in (b"POST /realtime/v1/websocket HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", b"hello\r\n\r\n"):  # fmt: skip
            with socket.create_connection(("127.0.0.1", realtime_port), timeout=5) as plain:
                plain.sendall(request)
                assert plain.recv(4096).startswith(b"HTTP/1.1 4"), request
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, (out, err)
    assert "Stopped." in out and "Traceback" not in err, err
    assert wait_gone(process, state_dir) == []
