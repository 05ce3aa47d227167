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


def run_burst(
    url: str, key: str, ledger: Ledger, stop: threading.Event, prefix: str = "burst"
) -> None:
    """Write from several threads until `stop` is set or the server goes away; new chutes
    are named `<prefix>-<worker>-<n>`."""
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
            name = f"{prefix}-{worker_no}-{n}"
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


def burst_then_kill(server: Server, key: str, prefix: str = "burst") -> tuple[Ledger, int | None]:
    """Write to a started server and SIGKILL it once enough writes of every kind are
    acknowledged while others are in flight: the ledger, and how many were in flight then
    (None when the burst never got there and nothing was killed)."""
    ledger, stop = Ledger(), threading.Event()
    burst = threading.Thread(
        target=run_burst, args=(server.url, key, ledger, stop, prefix), name="burst", daemon=True
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
    return ledger, killed_with_in_flight


def crash_integrity(db: Path) -> tuple[str, list]:
    """The integrity of the files as a crash left them, checked on a copy, so the restart
    still has to recover the un-checkpointed WAL itself."""
    crash = db.parent / f"crash-copy-{uuid.uuid4().hex[:8]}"
    crash.mkdir()
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copy(source, crash / f"{db.name}{suffix}")
    return integrity(crash / db.name)


@dataclass
class Before:
    """What the API showed before a burst: the writes' starting points."""

    taglines: dict[str, object]
    shared: dict[str, bool]
    balance: float
    user_ids: dict[str, str]


def user_ids(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT username, user_id FROM users").fetchall())


def shared_targets(http: httpx.Client) -> set[str]:
    shares = http.get("/users/me/shares")
    assert shares.status_code == 200, shares.text
    hello_id = chute_uid("demo", "hello-world")
    return {row["shared_to"] for row in shares.json() if row["chute_id"] == hello_id}


def read_before(http: httpx.Client, db: Path) -> Before:
    ids = user_ids(db)
    taglines = {}
    for chute in TAGLINE_CHUTES:
        reply = http.get(f"/chutes/{chute_uid('demo', chute)}")
        assert reply.status_code == 200, reply.text
        taglines[chute] = reply.json()["tagline"]
    targets = shared_targets(http)
    me = http.get("/users/me")
    assert me.status_code == 200, me.text
    shared = {target: ids[target] in targets for target in SHARE_TARGETS}
    return Before(taglines, shared, me.json()["balance"], ids)


def lost_writes(http: httpx.Client, ledger: Ledger, before: Before) -> list[str]:
    """Every acknowledged write the API does not show after the restart (empty: none lost).

    A stream of writes to one value is checked by its final value; each deploy on its own.
    """
    lost: list[str] = []
    me = http.get("/users/me")
    if me.status_code != 200 or me.json()["username"] != "demo":
        lost.append(f"/users/me: {me.status_code} {me.text[:200]}")
    for chute in TAGLINE_CHUTES:
        reply = http.get(f"/chutes/{chute_uid('demo', chute)}")
        writes = ledger.stream("tagline", chute)
        allowed = final_candidates(writes, before.taglines[chute])
        if reply.status_code != 200 or reply.json()["tagline"] not in allowed:
            lost.append(f"tagline of {chute}: {reply.text[:200]}")
    targets = shared_targets(http)
    for target in SHARE_TARGETS:
        writes = ledger.stream("share", target)
        shared = before.user_ids[target] in targets
        if shared not in final_candidates(writes, before.shared[target]):
            lost.append(f"share with {target}: {[(w.value, w.outcome) for w in writes[-3:]]}")
    acked_deploys = [w for w in ledger.writes if w.kind == "deploy" and w.outcome == ACKED]
    for write in acked_deploys:
        reply = http.get(f"/chutes/{write.key}")
        chute = reply.json() if reply.status_code == 200 else {}
        code = http.get(f"/chutes/code/{chute_uid('demo', write.key)}")
        if (
            chute.get("chute_id") != chute_uid("demo", write.key)
            or chute.get("tagline") != f"deployed as {write.key}"
            or code.status_code != 200
            or code.text != write.value
        ):
            lost.append(f"deploy {write.key}: {reply.status_code} {reply.text[:200]}")
    attempted = {w.key for w in ledger.writes if w.kind == "deploy"}
    unknown = {w.key for w in ledger.writes if w.kind == "deploy" and w.outcome == UNKNOWN}
    prefixes = {key.rsplit("-", 2)[0] for key in attempted}
    for prefix in prefixes:
        listing = http.get("/chutes/", params={"name": f"{prefix}-", "limit": 500})
        present = {item["name"] for item in listing.json()["items"]}
        stray = present - {w.key for w in acked_deploys} - unknown
        if stray:
            lost.append(f"deploys never acknowledged nor in flight are present: {sorted(stray)}")
    # Each acknowledged deploy charged its fee in the same transaction; running
    # instances only ever lower the balance further.
    fee = deployment_fee(NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16), GpuTable.load())
    if me.json()["balance"] > before.balance - fee * len(acked_deploys) + 1e-6:
        lost.append(f"balance {me.json()['balance']}: not every acknowledged fee was kept")
    return lost


def test_acknowledged_writes_survive_sigkill(server: Server) -> None:
    server.start()
    key = api_key(server.db, "demo")
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=10) as http:
        before = read_before(http, server.db)

    ledger, killed_with_in_flight = burst_then_kill(server, key)
    assert killed_with_in_flight, (
        f"the burst never reached {KILL_AFTER_ACKS} acknowledged writes with some in flight:"
        f" {ledger.count(ACKED)} acked, {ledger.count(REJECTED)} rejected"
    )
    rejected = [w for w in ledger.writes if w.outcome == REJECTED]
    assert not rejected, [(w.kind, w.key, w.detail) for w in rejected[:5]]

    assert crash_integrity(server.db) == ("ok", [])
    server.start()
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=10) as http:
        assert lost_writes(http, ledger, before) == []

    server.stop()
    assert server.process is not None and server.process.returncode is not None
    assert integrity(server.db) == ("ok", [])
