"""The dashboard with 10,000 chutes: paint after data arrives, filter keystrokes, idle CPU, RSS.

(a) and (b) run in this process, against a sandbox on a thread, inside
`ChutesApp.run_test(size=(120, 36))` once the app has loaded all 10,000 chutes itself:

(a) data arrival to first rows visible: `VirtualTable.set_rows(rows)` with rows fetched
    once with the client (raw=True), from an empty table, until the table next paints a line
    (a wrapper around `render_line` records when each table state is first painted);
(b) filter keystroke latency: `/` opens the filter, then ~20 keys (typing and backspacing)
    go through the driver one at a time, like a terminal's; each is timed from the key event
    until the table has painted the filtered view.

(c) and (d) run the real `chutes-tui` in a subprocess under a pseudo-terminal (120x36)
against a sandbox in another subprocess, so the sandbox's CPU is not counted:

(c) idle CPU with auto-refresh every 10 s (and, for comparison, with it off), over ~15 s
    of idling after the first load, as a share of one core (psutil);
(d) resident memory of that process with the 10,000 chutes loaded.

Every number is printed with its target; nothing is asserted. Run it from a checkout:

    python bench/tui_scale.py [--chutes 10000] [--idle 15]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_start import (  # noqa: E402
    ANSI,
    COLUMNS,
    LINES,
    SEEDED_CHUTES,
    isolated_env,
    start_sandbox_process,
)

from tests.conftest import start_sandbox  # noqa: E402

TARGET_KEY_MS = 50.0
TARGET_IDLE_CPU = 2.0
TARGET_RSS_MB = 250.0
FILTER_TEXT = "bulk-01234"
PAGE = 500


# (a) and (b): in process


class PaintProbe:
    """Counts VirtualTable rebuilds and records when each one first reaches the screen."""

    def __init__(self) -> None:
        from chutes_tui.tui.widgets.table import VirtualTable

        self.generation = 0
        self.painted: dict[int, float] = {}
        self.original_rebuild = VirtualTable._rebuild
        self.original_render_line = VirtualTable.render_line
        probe = self

        def rebuild(table, *args, **kwargs):
            probe.generation += 1
            return probe.original_rebuild(table, *args, **kwargs)

        def render_line(table, y):
            probe.painted.setdefault(probe.generation, time.perf_counter())
            return probe.original_render_line(table, y)

        VirtualTable._rebuild = rebuild
        VirtualTable.render_line = render_line

    def restore(self) -> None:
        from chutes_tui.tui.widgets.table import VirtualTable

        VirtualTable._rebuild = self.original_rebuild
        VirtualTable.render_line = self.original_render_line

    async def painted_after(self, generation: int, timeout: float = 30.0) -> float:
        """When the first table state newer than `generation` was painted."""
        deadline = time.perf_counter() + timeout
        while True:
            done = [at for gen, at in self.painted.items() if gen > generation]
            if done:
                return min(done)
            if time.perf_counter() > deadline:
                raise TimeoutError("the table was not repainted")
            await asyncio.sleep(0.0005)


async def until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def fetch_all(connection) -> tuple[list[dict], float]:
    from chutes_tui.client.api import ChutesClient

    client = ChutesClient(connection)
    started = time.perf_counter()
    rows: list[dict] = []
    try:
        page = 0
        while True:
            result = await client.list_chutes(page=page, limit=PAGE, raw=True)
            rows.extend(result["items"])
            if not result["items"] or len(rows) >= result["total"]:
                break
            page += 1
    finally:
        await client.aclose()
    return rows, time.perf_counter() - started


def keys_for(text: str) -> list[tuple[str, str | None]]:
    """(key, character) pairs as a terminal sends them: type `text`, then erase it."""
    typed = [("minus" if ch == "-" else ch, ch) for ch in text]
    return typed + [("backspace", None)] * len(text)


async def in_process(connection, chutes: int) -> dict[str, object]:
    from textual import events

    from chutes_tui.core.pricing import GpuTable
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.rows import ChuteRow
    from chutes_tui.tui.session import Session
    from chutes_tui.tui.widgets.table import VirtualTable

    raw, fetch_seconds = await fetch_all(connection)
    gpu_table = GpuTable.load()
    rows = [ChuteRow.from_api(item, gpu_table) for item in raw]
    probe = PaintProbe()
    results: dict[str, object] = {"fetch_ms": fetch_seconds * 1000, "rows": len(rows)}
    app = ChutesApp(Session(connection, label="bench"), DashboardOptions(refresh_interval=0))
    try:
        async with app.run_test(size=(COLUMNS, LINES)):
            started = time.perf_counter()
            feed = app.state.chutes
            await until(
                lambda: feed.loaded and not feed.loading and len(feed.rows) >= chutes,
                "the app to load every chute",
            )
            table = app.screen.query_one("#table", VirtualTable)
            await until(lambda: table.row_count >= chutes, "the table to hold every chute")
            results["app_load_ms"] = (time.perf_counter() - started) * 1000
            print(f"app loaded {table.row_count:,} rows", file=sys.stderr)

            # (a) from an empty list to the first painted rows, five times, the way a feed
            # update reaches the screen (set_rows, then the title and the empty state)
            screen = app.screen
            paints, computes, set_rows = [], [], []
            for _ in range(5):
                feed.rows = []
                screen.load_rows()
                await asyncio.sleep(0.3)
                before = probe.generation
                t0 = time.perf_counter()
                feed.rows = rows
                table.set_rows(rows)
                set_rows.append(time.perf_counter() - t0)
                screen.load_rows()  # what FeedUpdated runs: set_rows (a no-op now) + chrome
                computes.append(time.perf_counter() - t0)
                paints.append(await probe.painted_after(before) - t0)
            results["set_rows_ms"] = statistics.median(set_rows) * 1000
            results["load_rows_ms"] = statistics.median(computes) * 1000
            results["paint_ms"] = statistics.median(paints) * 1000
            results["paint_max_ms"] = max(paints) * 1000
            same = [dataclasses.replace(row) for row in rows]  # equal copies: nothing changed
            t0 = time.perf_counter()
            table.set_rows(same)
            results["same_rows_ms"] = (time.perf_counter() - t0) * 1000

            # (b) keystrokes into the filter box
            driver = app._driver
            assert driver is not None
            driver.send_message(events.Key("slash", "/"))
            await until(lambda: app.focused is not None and app.focused.id == "filter", "filter")
            await asyncio.sleep(0.3)
            latencies, expected = [], ""
            for key, char in keys_for(FILTER_TEXT):
                expected = expected + char if char else expected[:-1]
                before = probe.generation
                t0 = time.perf_counter()
                driver.send_message(events.Key(key, char))
                await until(lambda e=expected: table.filter_text == e, "the filter", 30)
                latencies.append(await probe.painted_after(before) - t0)
                await asyncio.sleep(0.15)  # a fast typist
            results["key_ms"] = [seconds * 1000 for seconds in latencies]
            results["key_visible"] = table.visible_count
            # the filter on its own, without the app around it
            pure = []
            for length in range(1, len(FILTER_TEXT) + 1):
                t0 = time.perf_counter()
                table.set_filter(FILTER_TEXT[:length])
                pure.append(time.perf_counter() - t0)
            table.set_filter("")
            results["set_filter_ms"] = statistics.median(pure) * 1000
            results["in_process_rss_mb"] = psutil.Process().memory_info().rss / 2**20
    finally:
        probe.restore()
    return results


# (c) and (d): the real app in a subprocess on a pty


class PtyApp:
    """`chutes-tui` on a pseudo-terminal, its output drained by a thread."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        from pty_spawn import spawn_on_pty

        self.process, self.master = spawn_on_pty(command, env, cwd, (COLUMNS, LINES))
        self.bytes = 0
        self.tail = ""
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.bytes += len(data)
                text = ANSI.sub("", data.decode("utf-8", "replace"))
                self.tail = (self.tail + text)[-20000:]

    def seen(self, pattern: str) -> bool:
        with self.lock:
            return re.search(pattern, self.tail) is not None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.write(self.master, b"q")
            try:
                self.process.wait(timeout=5)
            except Exception:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except Exception:
                    self.process.kill()
                    self.process.wait()
        self.thread.join(timeout=2)
        os.close(self.master)


def idle_run(
    url: str, key: str, env: dict[str, str], cwd: Path, refresh: float, idle: float, chutes: int
) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "chutes_tui",
        "--api-url",
        url,
        "--api-key",
        key,
        "--refresh",
        str(refresh),
    ]
    app = PtyApp(command, env, cwd)
    try:
        process = psutil.Process(app.process.pid)
        started = time.perf_counter()
        # Loaded: the title counts every chute (it is written whole when it changes).
        loaded_at = None
        while time.perf_counter() - started < 90:
            if app.seen(rf"Chutes\s+{chutes}\b"):
                loaded_at = time.perf_counter() - started
                break
            if app.process.poll() is not None:
                raise RuntimeError(f"chutes-tui exited early: {app.tail[-500:]}")
            time.sleep(0.05)
        time.sleep(2.0)  # let the first load settle
        before = process.cpu_times()
        bytes_before = app.bytes
        t0 = time.perf_counter()
        peak = 0
        while time.perf_counter() - t0 < idle:
            time.sleep(0.5)
            peak = max(peak, process.memory_info().rss)
        after = process.cpu_times()
        elapsed = time.perf_counter() - t0
        rss = process.memory_info().rss
        cpu = (after.user + after.system) - (before.user + before.system)
        return {
            "loaded_s": loaded_at if loaded_at is not None else float("nan"),
            "cpu_pct": cpu / elapsed * 100,
            "rss_mb": rss / 2**20,
            "peak_mb": max(peak, rss) / 2**20,
            "written_kb_s": (app.bytes - bytes_before) / elapsed / 1024,
        }
    finally:
        app.stop()


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chutes", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idling measured")
    parser.add_argument("--skip-idle", action="store_true", help="only (a) and (b)")
    args = parser.parse_args()
    extra = max(args.chutes - SEEDED_CHUTES, 0)
    with tempfile.TemporaryDirectory(prefix="chutes-tui-scale-") as name:
        tmp = Path(name)
        env = isolated_env(tmp)
        for key, value in env.items():
            if key.startswith("XDG_"):
                os.environ[key] = value

        from chutes_tui import config
        from chutes_tui.client.signing import Credentials

        started = time.perf_counter()
        box = start_sandbox(tmp / "thread", extra_chutes=extra, speed=1.0)
        seeded = time.perf_counter() - started
        try:
            connection = config.Connection(
                base_url=box.url,
                credentials=Credentials(api_key=box.users["demo"].api_key),
                username="demo",
            )
            inner = asyncio.run(in_process(connection, args.chutes))
        finally:
            box.running.stop()

        idle: dict[float, dict[str, float]] = {}
        if not args.skip_idle:
            (tmp / "proc").mkdir()
            sandbox = start_sandbox_process(tmp / "proc", extra, env)
            try:
                for refresh in (10.0, 0.0):
                    idle[refresh] = idle_run(
                        sandbox.url, sandbox.api_key, env, tmp, refresh, args.idle, args.chutes
                    )
            finally:
                sandbox.stop()

    print(f"{inner['rows']:,} chutes (sandbox seeded in {seeded:.1f} s); app at {COLUMNS}x{LINES}")
    print(
        f"  fetch every row with the client (raw, {PAGE} a page): {inner['fetch_ms']:.0f} ms;"
        f" the app's own first load until the table held them all: {inner['app_load_ms']:.0f} ms"
    )
    print(
        f"(a) data arrival -> first rows painted: median {inner['paint_ms']:.1f} ms"
        f" (max {inner['paint_max_ms']:.1f}); set_rows {inner['set_rows_ms']:.1f} ms,"
        f" with the title and empty state {inner['load_rows_ms']:.1f} ms"
        "  (no target; the same data again costs"
        f" {inner['same_rows_ms']:.1f} ms, paid on every auto-refresh)"
    )
    keys = inner["key_ms"]
    median_key = statistics.median(keys)
    print(
        f"(b) filter keystroke -> view painted, {len(keys)} keys typing/erasing"
        f" {FILTER_TEXT!r}: median {median_key:.1f} ms, min {min(keys):.1f},"
        f" max {max(keys):.1f}; target <= {TARGET_KEY_MS:.0f} ms"
        f" ({verdict(median_key, TARGET_KEY_MS)} it)"
    )
    print(f"    set_filter alone over 10,000 rows: median {inner['set_filter_ms']:.1f} ms")
    for refresh, numbers in idle.items():
        label = f"auto-refresh {refresh:g} s" if refresh else "auto-refresh off"
        line = (
            f"(c) idle CPU, {label}, over {args.idle:g} s: {numbers['cpu_pct']:.1f}% of one core"
            f" (loaded after {numbers['loaded_s']:.1f} s; {numbers['written_kb_s']:.1f} KB/s"
            " written to the terminal)"
        )
        if refresh:
            meets = verdict(numbers["cpu_pct"], TARGET_IDLE_CPU)
            line += f"; target <= {TARGET_IDLE_CPU:g}% ({meets} it)"
        print(line)
    if 10.0 in idle:
        rss, peak = idle[10.0]["rss_mb"], idle[10.0]["peak_mb"]
        print(
            f"(d) RSS of chutes-tui with {args.chutes:,} chutes loaded: {rss:.0f} MB"
            f" (peak seen {peak:.0f} MB); target <= {TARGET_RSS_MB:.0f} MB"
            f" ({verdict(peak, TARGET_RSS_MB)} it)"
        )
    print(
        f"    (this benchmark process, app + sandbox thread + rows: "
        f"{inner['in_process_rss_mb']:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
