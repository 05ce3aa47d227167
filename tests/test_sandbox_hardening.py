"""The sandbox holds up against hostile or careless clients: races, hangs, odd bodies."""

from __future__ import annotations

import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chutes_tui.sandbox.storage import Store
from tests.conftest import body_bytes, deploy_body, running_sandbox
from tests.sandbox_process import sandbox_process

HANG_GUARD = 60.0  # catches a hang; not a timing budget


def set_balance(db_path: Path, username: str, balance: float) -> None:
    db = sqlite3.connect(db_path)
    with db:
        db.execute("UPDATE users SET balance = ? WHERE username = ?", (balance, username))
    db.close()


def balance_of(box, username: str) -> float:
    return box.query("SELECT balance FROM users WHERE username = ?", username)[0]["balance"]


def test_concurrent_deploys_never_overspend_the_balance(tmp_path):
    fee, covered, attempts = 0.6000000000000001, 5, 12
    with running_sandbox(tmp_path, history_limit=0) as box:
        start = covered * fee + 0.1  # the platform refuses a balance equal to the fee
        set_balance(box.db_path, "demo", start)
        headers = {**box.users["demo"].key_headers(), "Content-Type": "application/json"}
        bodies = [body_bytes(deploy_body(name=f"race-{n}")) for n in range(attempts)]
        statuses: list[int] = []
        gate = threading.Barrier(attempts)

        def slow_body(raw: bytes) -> Iterator[bytes]:
            """Half the body, then the rest once every deploy has sent its half: each
            request is then authenticated and waiting for its body at the same time."""
            yield raw[: len(raw) // 2]
            gate.wait()
            time.sleep(0.3)  # lets the server take in every half first; not a timing budget
            yield raw[len(raw) // 2 :]

        def deploy(raw: bytes) -> None:
            sized = {**headers, "Content-Length": str(len(raw))}
            with httpx.Client(base_url=box.url, timeout=HANG_GUARD) as http:
                reply = http.post("/chutes/?accept_fee=true", content=slow_body(raw), headers=sized)
                statuses.append(reply.status_code)

        threads = [threading.Thread(target=deploy, args=(raw,)) for raw in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD)
        assert sorted(statuses) == [200] * covered + [402] * (attempts - covered)
        end = balance_of(box, "demo")
        assert end >= 0
        assert start - end == pytest.approx(covered * fee)
        made = box.query("SELECT COUNT(*) AS n FROM chutes WHERE name LIKE 'race-%'")[0]["n"]
        assert made == covered


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_abandoned_socketio_handshake_does_not_hold_up_shutdown(tmp_path, signal_number):
    pytest.importorskip("socketio")
    with sandbox_process(tmp_path) as server:
        handshake = httpx.get(
            f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=HANG_GUARD
        )
        assert handshake.status_code == 200  # a session the client never polls again
        assert server.process is not None
        server.process.send_signal(signal_number)
        try:
            code = server.process.wait(HANG_GUARD)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
            pytest.fail("the sandbox ignored the signal with a Socket.IO session open")
        assert code in (0, -signal_number, 128 + signal_number, 130), code


def test_a_connection_that_sends_half_a_request_is_closed(box):
    host, port = box.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=HANG_GUARD) as sock:
        sock.sendall(b"GET /users/name_check?user")
        try:
            received = sock.recv(4096)
        except TimeoutError:
            pytest.fail("the server kept a half-sent request open")
        assert received == b""


def modes(db_path: Path) -> dict[str, int]:
    paths = {
        "dir": db_path.parent,
        "db": db_path,
        "wal": Path(f"{db_path}-wal"),
        "shm": Path(f"{db_path}-shm"),
    }
    return {name: stat.S_IMODE(path.stat().st_mode) for name, path in paths.items()}


PRIVATE = {"dir": 0o700, "db": 0o600, "wal": 0o600, "shm": 0o600}


def test_a_new_database_and_its_directory_are_private(tmp_path):
    db_path = tmp_path / "data" / "sandbox.db"
    store = Store(db_path)
    try:
        assert modes(db_path) == PRIVATE  # while open, with the secret written by the seed
    finally:
        store.close()


def test_an_existing_readable_database_is_made_private_on_open(tmp_path):
    db_path = tmp_path / "data" / "sandbox.db"
    Store(db_path).close()
    keep_open = sqlite3.connect(db_path)  # holds the -wal and -shm files in place
    keep_open.execute("PRAGMA journal_mode=WAL")
    keep_open.execute("CREATE TABLE IF NOT EXISTS t (x)")
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        path.chmod(0o644)
    try:
        store = Store(db_path)
        try:
            assert {k: v for k, v in modes(db_path).items() if k != "dir"} == {
                "db": 0o600,
                "wal": 0o600,
                "shm": 0o600,
            }
        finally:
            store.close()
    finally:
        keep_open.close()
