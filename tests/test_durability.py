"""Acknowledged writes survive a SIGKILL of `chutes-tui sandbox serve`.

A real server process takes a burst of concurrent writes (share/unshare, tagline updates,
deploys) over loopback. Once enough of them have been acknowledged, and while others are
still in flight, the process is killed with SIGKILL and started again on the same database.
Every write that got a 200 must be visible through the API, writes whose outcome was lost
with the connection may or may not be, and SQLite must report the file intact.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from chutes_tui.client.models import NodeSelector
from chutes_tui.core.pricing import GpuTable, deployment_fee
from chutes_tui.sandbox.lookup import chute_uid
from tests.conftest import deploy_body
from tests.sandbox_process import Server, api_key

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KILL_AFTER_ACKS = 100
BURST_SECONDS = 20.0
MAX_DEPLOYS_PER_WORKER = 30
MAX_OPS_PER_WORKER = 400
SEEDED_BALANCE = 50.0
TAGLINE_CHUTES = ("hello-world", "echo-stream", "llama-mini")
SHARE_TARGETS = ("alice", "bob")
DEPLOY_WORKERS = 2

# Outcomes of one write: a 200; another status; never reached the server (connection
# refused); or sent without an answer, so it may or may not have been applied.
ACKED, REJECTED, NOT_SENT, UNKNOWN = "acked", "rejected", "not sent", "unknown"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    box = Server(tmp_path / "sandbox.db", tmp_path / "server.log", extra=("--history-limit", "0"))
    try:
        yield box
    finally:
        box.stop()


@dataclass
class Write:
    kind: str
    key: str
    value: object
    outcome: str = UNKNOWN
    detail: str = ""


@dataclass
class Ledger:
    """Every write the burst attempted, in per-stream order, and how it ended."""

    writes: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0

    def begin(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)
            self.in_flight += 1

    def end(self, write: Write, outcome: str, detail: str = "") -> None:
        with self.lock:
            write.outcome, write.detail = outcome, detail
            self.in_flight -= 1

    def count(self, outcome: str, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for w in self.writes if w.outcome == outcome and kind in (None, w.kind))

    def stream(self, kind: str, key: str) -> list[Write]:
        return [w for w in self.writes if w.kind == kind and w.key == key]


def final_candidates(writes: list[Write], initial: object) -> set:
    """The values a stream of sequential writes may have left behind.

    The last acknowledged write must have stuck; anything attempted after it whose reply
    was lost may have landed on top of it.
    """
    acked = [i for i, w in enumerate(writes) if w.outcome == ACKED]
    start = acked[-1] if acked else -1
    allowed = {writes[start].value if acked else initial}
    allowed |= {w.value for w in writes[start + 1 :] if w.outcome == UNKNOWN}
    return allowed


def run_burst(url: str, key: str, ledger: Ledger, stop: threading.Event) -> None:
    """Write from several threads until `stop` is set or the server goes away."""
    headers = {"Authorization": key}

    def worker(ops: Callable[[int], tuple[Write, str, str, dict] | None]) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            for n in range(MAX_OPS_PER_WORKER):
                if stop.is_set():
                    return
                op = ops(n)
                if op is None:
                    return
                write, method, path, body = op
                ledger.begin(write)
                try:
                    reply = http.request(method, path, json=body)
                except httpx.ConnectError as error:
                    ledger.end(write, NOT_SENT, repr(error))
                    return
                except httpx.HTTPError as error:
                    ledger.end(write, UNKNOWN, repr(error))
                    return  # the server is gone; the outcome of this write is unknown
                if reply.status_code == 200:
                    ledger.end(write, ACKED)
                else:
                    ledger.end(write, REJECTED, f"{reply.status_code} {reply.text}")

    def tagline(chute: str):
        chute_id = chute_uid("demo", chute)

        def ops(n: int):
            value = f"{chute} tagline {n} {uuid.uuid4().hex[:8]}"
            return (
                Write("tagline", chute, value),
                "PUT",
                f"/chutes/{chute_id}",
                {"tagline": value},
            )

        return ops

    def sharing(target: str):
        def ops(n: int):
            shared = n % 2 == 0
            return (
                Write("share", target, shared),
                "POST",
                "/chutes/share" if shared else "/chutes/unshare",
                {"chute_id_or_name": "hello-world", "user_id_or_name": target},
            )

        return ops

    def deploying(worker_no: int):
        def ops(n: int):
            if n >= MAX_DEPLOYS_PER_WORKER:
                return None
            name = f"burst-{worker_no}-{n}"
            body = deploy_body(name=name, tagline=f"deployed as {name}", code=f"print({name!r})\n")
            return Write("deploy", name, body["code"]), "POST", "/chutes/?accept_fee=true", body

        return ops

    jobs = [tagline(chute) for chute in TAGLINE_CHUTES]
    jobs += [sharing(target) for target in SHARE_TARGETS]
    jobs += [deploying(n) for n in range(DEPLOY_WORKERS)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(worker, job) for job in jobs]:
            future.result()


def integrity(db: Path) -> tuple[str, list]:
    with closing(sqlite3.connect(db)) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchall()
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    return ", ".join(row[0] for row in check), foreign


def test_acknowledged_writes_survive_sigkill(server: Server) -> None:
    server.start()
    key = api_key(server.db, "demo")

    ledger, stop = Ledger(), threading.Event()
    burst = threading.Thread(
        target=run_burst, args=(server.url, key, ledger, stop), name="burst", daemon=True
    )
    burst.start()
    deadline = time.monotonic() + BURST_SECONDS
    killed_with_in_flight = None
    while time.monotonic() < deadline and burst.is_alive():
        with ledger.lock:
            acked = sum(1 for w in ledger.writes if w.outcome == ACKED)
            kinds = {w.kind for w in ledger.writes if w.outcome == ACKED}
            in_flight = ledger.in_flight
        if acked >= KILL_AFTER_ACKS and kinds == {"tagline", "share", "deploy"} and in_flight:
            server.kill()
            killed_with_in_flight = in_flight
            break
        time.sleep(0.002)
    stop.set()
    burst.join(30)
    assert not burst.is_alive()
    assert killed_with_in_flight, (
        f"the burst never reached {KILL_AFTER_ACKS} acknowledged writes with some in flight:"
        f" {ledger.count(ACKED)} acked, {ledger.count(REJECTED)} rejected"
    )
    rejected = [w for w in ledger.writes if w.outcome == REJECTED]
    assert not rejected, [(w.kind, w.key, w.detail) for w in rejected[:5]]

    # The files as the crash left them (checked on a copy, so the restart still has to
    # recover the un-checkpointed WAL itself), then the restart on the originals.
    crash = server.db.parent / "crash-copy"
    crash.mkdir()
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{server.db}{suffix}")
        if source.exists():
            shutil.copy(source, crash / f"{server.db.name}{suffix}")
    assert integrity(crash / server.db.name) == ("ok", [])
    server.start()

    acked_deploys = [w for w in ledger.writes if w.kind == "deploy" and w.outcome == ACKED]
    lost_deploys = [w for w in ledger.writes if w.kind == "deploy" and w.outcome == UNKNOWN]
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=10) as http:
        me = http.get("/users/me")
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "demo"

        for chute in TAGLINE_CHUTES:
            reply = http.get(f"/chutes/{chute_uid('demo', chute)}")
            assert reply.status_code == 200, reply.text
            writes = ledger.stream("tagline", chute)
            assert reply.json()["tagline"] in final_candidates(writes, None), (
                chute,
                [(w.value, w.outcome) for w in writes[-3:]],
            )

        shares = http.get("/users/me/shares")
        assert shares.status_code == 200, shares.text
        hello_id = chute_uid("demo", "hello-world")
        targets = {row["shared_to"] for row in shares.json() if row["chute_id"] == hello_id}
        for target in SHARE_TARGETS:
            target_id = http.get("/users/me", headers={"Authorization": api_key(server.db, target)})
            assert target_id.status_code == 200, target_id.text
            shared = target_id.json()["user_id"] in targets
            writes = ledger.stream("share", target)
            assert shared in final_candidates(writes, False), (
                target,
                [(w.value, w.outcome) for w in writes[-3:]],
            )

        for write in acked_deploys:
            reply = http.get(f"/chutes/{write.key}")
            assert reply.status_code == 200, (write.key, reply.text)
            chute = reply.json()
            assert chute["chute_id"] == chute_uid("demo", write.key)
            assert chute["tagline"] == f"deployed as {write.key}"
            code = http.get(f"/chutes/code/{chute['chute_id']}")
            assert code.status_code == 200 and code.text == write.value

        listing = http.get("/chutes/", params={"name": "burst-", "limit": 500})
        assert listing.status_code == 200, listing.text
        present = {item["name"] for item in listing.json()["items"]}
        attempted = {w.key for w in ledger.writes if w.kind == "deploy"}
        assert {w.key for w in acked_deploys} <= present <= attempted
        assert present - {w.key for w in acked_deploys} <= {w.key for w in lost_deploys}

        # Each acknowledged deploy charged its fee in the same transaction; running
        # instances only ever lower the balance further.
        fee = deployment_fee(NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16), GpuTable.load())
        assert me.json()["balance"] <= SEEDED_BALANCE - fee * len(acked_deploys) + 1e-6

    server.stop()
    assert server.process.returncode is not None
    assert integrity(server.db) == ("ok", [])
