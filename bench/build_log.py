"""A 5,000-line build log in the build view: how long it takes to stream and render, and RSS.

    python bench/build_log.py [--runs 3]

A sandbox process (its clock paused) takes a build whose Dockerfile has 400 pip installs,
which makes a log of about 5,000 lines. The dashboard opens the image's build view and
follows it; the clock is then moved past the whole build in one step, so the server sends
every line as fast as it can. Timed: from that step until the view holds every line and has
drawn them. Then the finished log is opened again (one `text/plain` reply) and timed the same
way. RSS is this process's (the dashboard's), read after each phase; the sandbox is apart.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chutes_tui import config  # noqa: E402
from chutes_tui.client.api import ChutesClient  # noqa: E402
from chutes_tui.client.signing import Credentials  # noqa: E402
from tests.sandbox_process import api_key, sandbox_process  # noqa: E402

PIP_STEPS = 400
BUILD_SECONDS = 5_000.0  # simulated: longer than the whole build takes
GUARD = 300.0


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dockerfile() -> str:
    steps = "\n".join(f"RUN pip install bench-pkg{n}==1.{n}" for n in range(PIP_STEPS))
    return f"FROM parachutes/python:3.12\n{steps}\n"


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


async def start_build(connection: config.Connection, tag: str) -> str:
    async with ChutesClient(connection) as client:
        reply = await client.build_image(
            username="demo",
            name="bench-log",
            tag=tag,
            readme="",
            dockerfile=dockerfile(),
            image="",
            context=empty_zip(),
        )
    return str(reply["image_id"])


async def until(pilot, condition, what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await pilot.pause(0.01)


async def one_run(server, connection: config.Connection, tag: str) -> dict[str, float]:
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.screens.build import BuildScreen
    from chutes_tui.tui.session import Session
    from chutes_tui.tui.widgets.log_panes import ALL

    server.pause()
    image_id = await start_build(connection, tag)
    app = ChutesApp(Session(connection, label=server.url), DashboardOptions(refresh_interval=0))
    figures: dict[str, float] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.state.account is not None, "the account")
        base = rss_mb()
        view = BuildScreen(image_id)
        app.push_screen(view)
        await until(pilot, lambda: view.status is not None, "the build's status")
        await pilot.pause(0.5)  # the log stream is open and waiting
        started = time.perf_counter()
        server.advance(BUILD_SECONDS)
        await until(pilot, lambda: view.ended, "the end of the stream")
        await pilot.pause()  # the last redraw
        figures["stream_s"] = time.perf_counter() - started
        figures["lines"] = float(len(view.logs.panes[ALL]))
        figures["rss_stream_mb"] = rss_mb()
        figures["rss_base_mb"] = base
        app.pop_screen()
        again = BuildScreen(image_id)
        started = time.perf_counter()
        app.push_screen(again)
        await until(pilot, lambda: again.ended, "the finished log")
        await pilot.pause()
        figures["finished_s"] = time.perf_counter() - started
        figures["rss_finished_mb"] = rss_mb()
    server.resume()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox_process(Path(tmp) / "box", 1.0, paused=True) as server,
    ):
        key = api_key(server.db, "demo")
        connection = config.Connection(
            base_url=server.url, credentials=Credentials(api_key=key), username="demo"
        )
        runs = [asyncio.run(one_run(server, connection, f"r{n}")) for n in range(args.runs)]
    for name in ("lines", "stream_s", "finished_s"):
        values = [run[name] for run in runs]
        print(f"{name:16} median {statistics.median(values):9.3f}  runs {values}")
    for name in ("rss_base_mb", "rss_stream_mb", "rss_finished_mb"):
        values = [run[name] for run in runs]
        print(f"{name:16} max    {max(values):9.1f}")
    lines = statistics.median(run["lines"] for run in runs)
    rate = lines / statistics.median(run["stream_s"] for run in runs)
    print(f"streamed and drawn: {rate:,.0f} lines/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
