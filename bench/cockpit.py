"""The account cockpit with 1,000 chutes and 11 days of usage: what the Spend tab costs to
read, open and refresh, what the call screen costs to open and to make one call, and the
cockpit's idle CPU.

A sandbox runs as its own process (`chutes-tui sandbox serve --extra-chutes 997`; every chute
of `demo` gets eleven days of seeded usage, about 30,000 hourly billing rows). Then:

(a) `core.spend.load_spend`: every read the Spend tab and `usage` make, 5 runs;
(b) the dashboard in this process (Pilot, 120x36): `4` until the Spend tab shows its figures
    and rows, the first time (imports included) and 4 more times; `r` until a new report
    is drawn, 5 times; `i` on hello-world until the call screen is up, and one call sent
    until its reply is shown;
(c) the real dashboard on a pseudo-terminal with the Spend tab open: CPU over `--idle`
    seconds with auto-refresh every 10 s (the tab reads every 30 s at most), and with it off.

It prints numbers against the targets and asserts nothing. Run it from a checkout:

    python bench/cockpit.py [--chutes 1000] [--idle 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_scale import PtyApp  # noqa: E402
from tui_start import isolated_env, start_sandbox_process  # noqa: E402

SEEDED_CHUTES = 3
RUNS = 5
TARGETS = {  # milliseconds, except idle CPU (% of one core)
    "read": 1500.0,
    "open": 1000.0,
    "refresh": 1500.0,
    "call_open": 500.0,
    "idle_cpu": 2.0,
}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


async def read_spend(url: str, key: str) -> tuple[list[float], dict[str, int]]:
    from chutes_tui.client.api import ChutesClient
    from chutes_tui.client.signing import Credentials
    from chutes_tui.config import Connection
    from chutes_tui.core.spend import load_spend

    times: list[float] = []
    sizes: dict[str, int] = {}
    async with ChutesClient(Connection(url, Credentials(api_key=key)), deadline=120) as client:
        for _ in range(RUNS):
            started = time.perf_counter()
            report = await load_spend(client)
            times.append(time.perf_counter() - started)
            sizes = {
                "chutes spent on": len(report.chutes),
                "chutes with traffic": len(report.traffic),
                "days": len(report.days),
            }
    return times, sizes


async def until(pilot, condition: Callable[[], object], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the dashboard did not get there")
        await pilot.pause(0.005)


async def dashboard(url: str, key: str) -> dict[str, list[float]]:
    from chutes_tui import config
    from chutes_tui.client.signing import Credentials
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.session import Session

    connection = config.Connection(base_url=url, credentials=Credentials(api_key=key))
    app = ChutesApp(Session(connection, label=url), DashboardOptions(refresh_interval=0))
    results: dict[str, list[float]] = {
        "figures": [],
        "open": [],
        "refresh": [],
        "call_open": [],
        "call": [],
    }
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.state.chutes.loaded and app.state.account is not None)

        def pane():  # type: ignore[no-untyped-def]
            from chutes_tui.tui.screens.account_spend import SpendPane

            found = app.screen.query(SpendPane)
            return found.first() if found else None

        for _ in range(RUNS):
            started = time.perf_counter()
            await pilot.press("4")
            await until(pilot, lambda: pane() is not None and pane().burn is not None)
            results["figures"].append(time.perf_counter() - started)
            await until(pilot, lambda: pane().report is not None)
            await pilot.pause()
            results["open"].append(time.perf_counter() - started)
            await pilot.press("1")
            await until(pilot, lambda: pane() is None)
        await pilot.press("4")
        await until(pilot, lambda: pane() is not None and pane().report is not None)
        for _ in range(RUNS):
            before = pane().report
            started = time.perf_counter()
            await pilot.press("r")
            await until(pilot, lambda before=before: pane().report is not before)
            await pilot.pause()
            results["refresh"].append(time.perf_counter() - started)
        await pilot.press("1")

        from chutes_tui.tui.screens.call import CallScreen
        from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen

        for _ in range(RUNS):
            app.push_screen(ChuteDetailScreen("hello-world"))
            await until(pilot, lambda: getattr(app.screen, "chute", None) is not None)
            started = time.perf_counter()
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, CallScreen))
            await pilot.pause()
            results["call_open"].append(time.perf_counter() - started)
            screen = app.screen
            assert isinstance(screen, CallScreen)
            screen.field(0).value = "benchmark"
            started = time.perf_counter()
            await pilot.press("ctrl+s")
            await until(pilot, lambda screen=screen: screen.result is not None)
            await pilot.pause()
            results["call"].append(time.perf_counter() - started)
            await pilot.press("escape")
            await pilot.press("escape")
            await until(pilot, lambda: len(app.screen_stack) == 1)
    return results


def idle_cpu(
    url: str, key: str, env: dict[str, str], cwd: Path, refresh: float, idle: float
) -> float:
    command = [sys.executable, "-m", "chutes_tui", "--api-url", url, "--api-key", key]
    command += ["--refresh", str(refresh)]
    app = PtyApp(command, env, cwd)
    try:
        process = psutil.Process(app.process.pid)
        deadline = time.perf_counter() + 120
        while not app.seen(r"Chutes\s+\d+"):
            if time.perf_counter() > deadline or app.process.poll() is not None:
                raise RuntimeError(f"the dashboard did not load: {app.tail[-400:]}")
            time.sleep(0.05)
        os.write(app.master, b"4")
        while not app.seen(r"spent on \d+ chute"):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the Spend tab did not load: {app.tail[-400:]}")
            time.sleep(0.05)
        time.sleep(2.0)
        before = process.cpu_times()
        started = time.perf_counter()
        time.sleep(idle)
        after = process.cpu_times()
        used = (after.user + after.system) - (before.user + before.system)
        return used / (time.perf_counter() - started) * 100
    finally:
        app.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chutes", type=int, default=1000, help="chutes in the sandbox")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idling measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chutes-tui-cockpit-") as name:
        tmp = Path(name)
        env = isolated_env(tmp)
        started = time.perf_counter()
        sandbox = start_sandbox_process(tmp, max(args.chutes - SEEDED_CHUTES, 0), env)
        seeded = time.perf_counter() - started
        try:
            for key in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
                os.environ[key] = env[key]
            reads, sizes = asyncio.run(read_spend(sandbox.url, sandbox.api_key))
            numbers = asyncio.run(dashboard(sandbox.url, sandbox.api_key))
            idle = {
                refresh: idle_cpu(sandbox.url, sandbox.api_key, env, tmp, refresh, args.idle)
                for refresh in (10.0, 0.0)
            }
            rows = psutil.Process(sandbox.process.pid)
            sandbox_rss = rows.memory_info().rss / 2**20
        finally:
            sandbox.stop()
    print(
        f"sandbox: {sandbox.chutes:,} chutes, started and seeded in {seeded:.1f} s"
        f" (RSS {sandbox_rss:.0f} MB); the report: {sizes}"
    )
    read = statistics.median(reads)
    print(
        f"(a) load_spend (me, every chute, your usage per hour, fees, traffic): median"
        f" {ms(read)}, min {ms(min(reads))}, max {ms(max(reads))}"
        f"  [target {TARGETS['read']:.0f} ms: {verdict(read * 1000, TARGETS['read'])}]"
    )
    first, *later = numbers["open"]
    opened = statistics.median(later)
    target = TARGETS["open"]
    print(
        f"(b) 4 -> Spend tab drawn: first {ms(first)} (imports included), then median"
        f" {ms(opened)}  [target {target:.0f} ms: {verdict(opened * 1000, target)}]"
    )
    print(
        f"    4 -> burn, balance and runway drawn: first {ms(numbers['figures'][0])}, then"
        f" median {ms(statistics.median(numbers['figures'][1:]))}"
    )
    refresh = statistics.median(numbers["refresh"])
    print(
        f"    r -> new report drawn: median {ms(refresh)}, max {ms(max(numbers['refresh']))}"
        f"  [target {TARGETS['refresh']:.0f} ms: {verdict(refresh * 1000, TARGETS['refresh'])}]"
    )
    call_open = statistics.median(numbers["call_open"])
    print(
        f"    i -> call screen up: first {ms(numbers['call_open'][0])}, median {ms(call_open)}"
        f"  [target {TARGETS['call_open']:.0f} ms:"
        f" {verdict(call_open * 1000, TARGETS['call_open'])}];"
        f" one call to its reply drawn: median {ms(statistics.median(numbers['call']))}"
    )
    for refresh_every, cpu in idle.items():
        label = f"auto-refresh every {refresh_every:g} s" if refresh_every else "auto-refresh off"
        print(
            f"(c) idle CPU with the Spend tab open, {label}, over {args.idle:g} s:"
            f" {cpu:.1f}% of one core  [target {TARGETS['idle_cpu']:g}%:"
            f" {verdict(cpu, TARGETS['idle_cpu'])}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
