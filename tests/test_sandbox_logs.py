"""Sandbox instance logs: the scripted start-up, traffic while active, the buffers behind
the log streams, burst mode for benchmarks, and counting open streams."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chutes_tui.core.pricing import GpuTable
from chutes_tui.sandbox import lifecycle
from chutes_tui.sandbox.app import open_store
from chutes_tui.sandbox.lifecycle import GPU_NAMES, HEALTH_CHECK_LINE, LogBook, Simulator
from chutes_tui.sandbox.routes.live import CONNECTED, _log_chunk
from chutes_tui.sandbox.settings import SandboxSettings
from tests.conftest import Sandbox, running_sandbox
from tests.simclock import HANG_GUARD, wait_simulated
from tests.test_sandbox_lifecycle import ACTIVATE, VERIFY, chute, deploy

REQUEST = re.compile(r'^INFO: +10\.[\d.]+:\d+ - "POST /echo HTTP/1\.1" (200|429|500) ')
BURST = re.compile(r"^burst (\d{7})/(\d{7}) ")
BURST_DONE = re.compile(r"^burst done: (\d+) lines, ended at \d+\.\d{3}$")


# --- helpers -------------------------------------------------------------------------------


def logbook(box: Sandbox) -> LogBook:
    """The running sandbox's own LogBook (the server runs in a thread of this process)."""
    return box.running.server.config.app.state.sandbox.sim.logs


def read_logs(
    box: Sandbox,
    instance_id: str,
    until: Callable[[list[str]], bool],
    backfill: int = 0,
    simulated: float = 1500.0,
) -> list[str]:
    """Log lines of one instance's stream until `until(lines)` holds; checks the framing.

    Fails once the sandbox's clock moved `simulated` seconds without it (or on a hang).
    """
    started = box.simulated_seconds()
    guard = time.monotonic() + HANG_GUARD
    headers = box.users["demo"].signed("logs")
    url = f"/instances/{instance_id}/logs?backfill={backfill}"
    lines: list[str] = []
    with box.http() as http, http.stream("GET", url, headers=headers) as reply:
        assert reply.status_code == 200, reply.read()
        for raw in reply.iter_lines():
            if raw.startswith("data: "):
                payload = json.loads(raw[6:])
                assert raw == f"data: {json.dumps(payload)}"
                if "log" in payload:
                    lines.append(payload["log"])
            if until(lines):
                return lines
            moved = box.simulated_seconds() - started
            assert moved <= simulated and time.monotonic() < guard, (
                f"gave up after {len(lines)} lines and {moved:.0f} simulated s: {lines[-5:]}"
            )
    raise AssertionError(f"the stream ended early: {lines[-5:]}")


def seeded_instance(box: Sandbox) -> str:
    """The instance of hello-world, active from the start."""
    (row,) = box.query("SELECT instance_id FROM instances")
    return row["instance_id"]


def position(lines: list[str], predicate: Callable[[str], bool]) -> int:
    return next(index for index, line in enumerate(lines) if predicate(line))


# --- the LogBook ---------------------------------------------------------------------------


def test_after_returns_only_new_lines_across_eviction() -> None:
    book = LogBook(max_lines=5)
    assert book.after("i", 0) == ([], 0)
    book.write_many("i", ["l1", "l2", "l3"])
    assert book.after("i", 0) == (["l1", "l2", "l3"], 3)
    assert book.after("i", 3) == ([], 3)
    book.write_many("i", ["l4", "l5", "l6", "l7"])  # l1 and l2 evicted
    assert book.after("i", 3) == (["l4", "l5", "l6", "l7"], 7)
    assert book.after("i", 0) == (["l3", "l4", "l5", "l6", "l7"], 7)
    for n in range(8, 18):
        book.write("i", f"l{n}")
    lines, last = book.after("i", 7)  # l8..l12 went before anyone read them
    assert (lines, last) == ([f"l{n}" for n in range(13, 18)], 17)
    assert book.after("i", 16) == (["l17"], 17)
    assert book.tail("i", 2) == (["l16", "l17"], 17)
    assert book.tail("i", 100) == ([f"l{n}" for n in range(13, 18)], 17)
    assert book.tail("i", 0) == ([], 17)
    assert book.tail("other", 10) == ([], 0)


def test_each_instance_numbers_its_own_lines_and_write_many_wakes_once() -> None:
    book = LogBook(max_lines=100)
    book.write("a", "a1")
    book.write_many("b", ["b1", "b2"])
    before = book.version()
    book.write_many("a", [f"a{n}" for n in range(2, 50)])
    assert book.version() == before + 1
    book.write_many("a", [])
    assert book.version() == before + 1
    assert book.after("a", 1)[1] == 49 and book.after("b", 0) == (["b1", "b2"], 2)


def test_listeners_are_counted_per_instance() -> None:
    joined: list[str] = []
    book = LogBook(on_attach=joined.append)
    book.attach("a")
    book.attach("a")
    book.attach("b")
    assert (book.listeners(), book.listeners("a"), book.listeners("b")) == (3, 2, 1)
    assert joined == ["a", "b"]  # only the first listener of an instance counts as joining
    book.detach("a")
    book.detach("b")
    book.detach("b")  # one too many is ignored
    assert (book.listeners(), book.listeners("a"), book.listeners("b")) == (1, 1, 0)
    book.detach("a")
    assert book.listeners() == 0


def test_a_chunk_of_log_events_is_framed_like_single_events() -> None:
    lines = ['say "hi"', "café ☕ 🚀", "tab\there\\", "\x00\x1f", ""]
    expected = "".join(f"data: {json.dumps({'log': line})}\n\n" for line in lines)
    assert _log_chunk(lines) == expected


def test_the_startup_script_is_the_same_every_run() -> None:
    def startup() -> list[str]:
        settings = SandboxSettings(verify_after=0.01, activate_after=0.01)
        store = open_store(settings)
        try:
            sim = Simulator(store, settings)
            row = store.one("SELECT * FROM chutes WHERE name = 'llama-mini'")
            sim.warm(row)
            (instance,) = store.instances(row["chute_id"])
            time.sleep(0.05)
            sim.tick()
            return sim.logs.tail(instance["instance_id"], 1000)[0]
        finally:
            store.close()

    first = startup()
    assert first == startup()
    assert "Uvicorn running on http://0.0.0.0:8000" in first
    assert any(line.startswith("Loading safetensors checkpoint shards:") for line in first)


async def test_a_burst_happens_once_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "BURST_DELAY", 0.0)
    settings = SandboxSettings(log_burst=2000, burst_seconds=0.05)
    store = open_store(settings)
    sim = Simulator(store, settings)
    try:
        sim.resume()
        (row,) = store.all("SELECT instance_id FROM instances")
        instance_id = row["instance_id"]

        def dones() -> int:
            lines = sim.logs.tail(instance_id, 1000)[0]
            return sum(1 for line in lines if line.startswith("burst done:"))

        sim.logs.attach(instance_id)
        for _ in range(200):
            if dones():
                break
            await asyncio.sleep(0.01)
        sim.logs.detach(instance_id)
        sim.logs.attach(instance_id)
        await asyncio.sleep(0.1)
        assert dones() == 1
        assert (
            sum(line.startswith("burst 0") for line in sim.logs.tail(instance_id, 1000)[0]) == 100
        )
    finally:
        await sim.stop()
        store.close()


# --- a running sandbox ---------------------------------------------------------------------


def test_startup_lines_come_in_order(sandbox: Sandbox) -> None:
    instance_id = deploy(sandbox)["instances"][0]["instance_id"]
    (row,) = sandbox.query(
        "SELECT gpu_model_name FROM instances WHERE instance_id = ?", instance_id
    )
    gpu = GPU_NAMES[row["gpu_model_name"]]
    memory = GpuTable.load().gpus[row["gpu_model_name"]].memory
    lines = read_logs(
        sandbox,
        instance_id,
        lambda lines: "Uvicorn running on http://0.0.0.0:8000" in lines,
        backfill=10000,
    )
    assert lines[:3] == [
        f"provisioned on 1x {row['gpu_model_name']}",
        "pulling image for chute test-chute",
        "loading hello.py",
    ]
    steps = [
        lambda line: line.endswith(")") and ": Pull complete (" in line,
        lambda line: line.startswith("Status: Downloaded newer image for demo/hello:0.1"),
        lambda line: line.startswith("starting container: chutes run hello:chute"),
        lambda line: line == f"found 1x {gpu} ({memory} GB each)",
        lambda line: line == "GPU verification passed",
        lambda line: line.startswith("loading model weights:"),
        lambda line: "100% Completed" in line,
        lambda line: line.startswith("warm-up done in"),
        lambda line: line == "Application startup complete.",
        lambda line: line == "Uvicorn running on http://0.0.0.0:8000",
    ]
    positions = [position(lines, step) for step in steps]
    assert positions == sorted(positions) and positions[0] == 3


def test_active_instances_log_requests_and_health_checks(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, speed=1000.0, paused=True) as box:
        instance_id = deploy(box, shutdown_after_seconds=86400)["instances"][0]["instance_id"]
        box.advance(VERIFY + ACTIVATE)
        wait_simulated(box, lambda: chute(box, "test-chute")["hot"], "hot")
        box.resume()  # requests and health checks follow the running clock

        def enough(lines: list[str]) -> bool:
            requests = [line for line in lines if REQUEST.match(line)]
            return len(requests) >= 5 and HEALTH_CHECK_LINE in lines

        lines = read_logs(box, instance_id, enough)
    requests = [line for line in lines if REQUEST.match(line)]
    assert all("ms, " in line for line in requests)
    assert any(re.search(r"\d+ prompt \+ \d+ completion tokens\)$", line) for line in requests)


def test_log_streams_are_counted_until_the_client_closes_them(sandbox: Sandbox) -> None:
    book = logbook(sandbox)
    instance_id = seeded_instance(sandbox)
    headers = sandbox.users["demo"].signed("logs")
    url = f"/instances/{instance_id}/logs?backfill=0"
    with sandbox.http() as http:
        with (
            http.stream("GET", url, headers=headers) as one,
            http.stream("GET", url, headers=headers) as two,
        ):
            # Keep the line iterators: dropping one closes its connection.
            streams = [one.iter_lines(), two.iter_lines()]
            assert [next(lines) for lines in streams] == [CONNECTED.strip()] * 2
            wait_simulated(sandbox, lambda: book.listeners(instance_id) == 2, "two listeners")
            assert book.listeners() == 2
        wait_simulated(sandbox, lambda: book.listeners() == 0, "no listener")


def burst_numbers(lines: list[str], total: int) -> list[int]:
    numbers = []
    for line in lines:
        match = BURST.match(line)
        if match:
            assert int(match.group(2)) == total
            assert 95 <= len(line) <= 100
            numbers.append(int(match.group(1)))
    return numbers


def test_a_burst_writes_exactly_its_lines_then_a_marker(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, log_burst=2000, burst_seconds=1.0) as box:
        lines = read_logs(
            box,
            seeded_instance(box),
            lambda lines: bool(lines) and lines[-1].startswith("burst done"),
        )
    assert burst_numbers(lines, 2000) == list(range(1, 2001))
    match = BURST_DONE.match(lines[-1])
    assert match and int(match.group(1)) == 2000


def test_a_burst_starts_when_a_watched_instance_becomes_active(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, log_burst=500, burst_seconds=0.5) as box:
        instance_id = deploy(box, shutdown_after_seconds=86400)["instances"][0]["instance_id"]
        lines = read_logs(
            box,
            instance_id,
            lambda lines: bool(lines) and lines[-1].startswith("burst done"),
            backfill=100,
        )
    active = lines.index("Uvicorn running on http://0.0.0.0:8000")
    first = position(lines, lambda line: BURST.match(line) is not None)
    assert active < first
    assert burst_numbers(lines, 250) == list(range(1, 251))
    assert BURST_DONE.match(lines[-1]).group(1) == "250"
