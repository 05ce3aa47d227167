"""`chutes-tui sandbox serve` as a separate process, for tests that kill, restart or load it.

A sandbox in its own process also keeps the test process idle between events, which
Textual's Pilot relies on to tell when input has been handled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.simclock import ClockState

START_TIMEOUT = 60.0  # catches a server that never answers; not a timing budget


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One `sandbox serve` process; `start` again after `kill` to restart it."""

    db: Path
    log: Path
    speed: float = 100.0
    extra: tuple[str, ...] = ()
    paused: bool = False  # start every run with the simulated clock stopped
    process: subprocess.Popen | None = None
    url: str = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self, port: int | None = None) -> None:
        """Start the server; with `port`, on that port again (a restart)."""
        for _attempt in range(3):
            port = port or free_port()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "chutes_tui",
                        "sandbox",
                        "serve",
                        "--db",
                        str(self.db),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--speed",
                        str(self.speed),
                        "--quiet",
                        *(("--paused-clock",) if self.paused else ()),
                        *self.extra,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return
            self.process.kill()
            self.process.wait(10)
        pytest.fail(f"the sandbox did not start:\n{self.log.read_text(errors='replace')}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. lost a race for the port
            try:
                reply = httpx.get(f"{self.url}/users/name_check?username=demo", timeout=1)
                if reply.status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        return False

    # the simulated clock, steered through the sandbox's loopback-only control route

    def _clock(self, change: dict | None = None) -> ClockState:
        url = f"{self.url}/_sandbox/clock"
        reply = httpx.post(url, json=change, timeout=10) if change else httpx.get(url, timeout=10)
        reply.raise_for_status()
        return ClockState(**reply.json())

    def clock_state(self) -> ClockState:
        return self._clock()

    def simulated_seconds(self) -> float:
        return self._clock().simulated_seconds

    def pause(self) -> None:
        self._clock({"pause": True})

    def resume(self) -> None:
        self._clock({"pause": False})

    def advance(self, simulated_seconds: float) -> None:
        """Move the clock on; what falls due happens at the sandbox's next tick."""
        self._clock({"advance": simulated_seconds})

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def api_key(db: Path, user: str) -> str:
    command = ("sandbox", "config", "--db", str(db), "--user", user, "--api-key")
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", *command],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    key = done.stdout.strip()
    assert key.startswith("cpk_"), done.stdout + done.stderr
    return key


@contextmanager
def sandbox_process(
    tmp_path: Path, speed: float = 100.0, *extra: str, paused: bool = False
) -> Iterator[Server]:
    """A started sandbox process on its own database, stopped afterwards."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    server = Server(
        tmp_path / "sandbox.db", tmp_path / "server.log", speed=speed, extra=extra, paused=paused
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
