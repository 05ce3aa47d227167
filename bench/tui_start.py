"""Cold start of the dashboard: process start to the first populated chutes table.

A sandbox with 1,000 chutes runs as its own process (`chutes-tui sandbox serve
--extra-chutes 997`); the dashboard runs five times against it under a pseudo-terminal
(120x36, TERM=xterm-256color) with CHUTES_TUI_EXIT_AFTER_FIRST_PAINT=1, so each run ends
right after the first populated chutes table is painted. The script prints the median,
minimum and maximum wall time from process start to exit, and what the first paint showed.
It asserts nothing about times. Run it from a checkout:

    python bench/tui_start.py [--runs 5] [--chutes 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pty_spawn import spawn_on_pty

ROOT = Path(__file__).resolve().parents[1]
SEEDED_CHUTES = 3  # the sandbox seed's own demo chutes
TARGET_MEDIAN = 1.0
COLUMNS, LINES = 120, 36
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|P[^\x1b]*\x1b\\|.)")


def isolated_env(home: Path) -> dict[str, str]:
    """This user's settings, state and credentials stay out; bytecode gets cached."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHUTES")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    env.update(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES))
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SandboxProcess:
    process: subprocess.Popen
    url: str
    api_key: str
    chutes: int

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_sandbox_process(
    tmp: Path, extra_chutes: int, env: dict[str, str], *flags: str
) -> SandboxProcess:
    """`chutes-tui sandbox serve` in its own process; returns once it answers requests."""
    port = free_port()
    db = tmp / "sandbox.db"
    command = [
        sys.executable,
        "-m",
        "chutes_tui",
        "sandbox",
        "serve",
        "--db",
        str(db),
        "--port",
        str(port),
        "--extra-chutes",
        str(extra_chutes),
        "--quiet",
        *flags,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the sandbox did not start within 120 s")
        try:
            httpx.get(url + "/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    # Only now: `sandbox config` seeds an empty database itself, without the extra chutes.
    key = subprocess.run(
        [sys.executable, "-m", "chutes_tui", "sandbox", "config", "--db", str(db), "--api-key"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    reply = httpx.get(
        url + "/chutes/",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    reply.raise_for_status()
    return SandboxProcess(process, url, key, int(reply.json()["total"]))


@dataclass
class PtyRun:
    seconds: float
    returncode: int
    output: bytes


def run_in_pty(
    command: list[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 60.0,
    size: tuple[int, int] = (COLUMNS, LINES),
) -> PtyRun:
    """Run `command` on a fresh pseudo-terminal; wall time from spawn to exit, and its output."""
    started = time.perf_counter()
    process, master = spawn_on_pty(command, env, cwd, size)
    chunks: list[bytes] = []
    deadline = started + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave descriptor is closed
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
            if time.perf_counter() > deadline:
                process.kill()
                break
        returncode = process.wait()
        seconds = time.perf_counter() - started
    finally:
        os.close(master)
    return PtyRun(seconds, returncode, b"".join(chunks))


def first_paint(output: bytes) -> tuple[int | None, int]:
    """What the run left on the terminal: (chutes per the last title drawn, chute rows drawn).

    Rows are counted by name (`bulk-NNNNN` and the seed's three); the title is the last
    `Chutes N ... sort:` line written, which may predate the rows (see the summary).
    """
    text = ANSI.sub("", output.decode("utf-8", "replace"))
    titles = re.findall(r"Chutes\s+(\d+)(?:\s+of\s+\d+)?\s+sort:", text)
    names = set(re.findall(r"bulk-\d{5}", text))
    names |= {name for name in ("echo-stream", "hello-world", "llama-mini") if name in text}
    return (int(titles[-1]) if titles else None), len(names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chutes", type=int, default=1000, help="chutes in the sandbox")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chutes-tui-start-") as name:
        tmp = Path(name)
        env = isolated_env(tmp)
        sandbox = start_sandbox_process(tmp, max(args.chutes - SEEDED_CHUTES, 0), env)
        try:
            app_env = {**env, "CHUTES_TUI_EXIT_AFTER_FIRST_PAINT": "1"}
            command = [
                sys.executable,
                "-m",
                "chutes_tui",
                "--api-url",
                sandbox.url,
                "--api-key",
                sandbox.api_key,
            ]
            floor = [sys.executable, "-c", "pass"]
            version = [sys.executable, "-m", "chutes_tui", "--version"]
            # Warm-up: the file cache, and bytecode for anything not compiled yet.
            for warm in (floor, version, command):
                run_in_pty(warm, app_env, cwd=tmp)
            runs = [run_in_pty(command, app_env, cwd=tmp) for _ in range(args.runs)]
            floors = [run_in_pty(floor, app_env, cwd=tmp).seconds for _ in range(args.runs)]
            versions = [run_in_pty(version, app_env, cwd=tmp).seconds for _ in range(args.runs)]
        finally:
            sandbox.stop()
    failed = [run for run in runs if run.returncode != 0]
    print(f"sandbox: {sandbox.chutes:,} chutes; dashboard at {COLUMNS}x{LINES} on a pty")
    if failed:
        tail = ANSI.sub("", failed[0].output.decode("utf-8", "replace"))[-800:]
        print(f"{len(failed)} of {len(runs)} runs exited non-zero ({failed[0].returncode}):")
        print(tail)
        return 1
    times = [run.seconds for run in runs]
    median = statistics.median(times)
    print(
        f"start -> first populated chutes table -> exit, {len(times)} runs:"
        f" median {median * 1000:.0f} ms, min {min(times) * 1000:.0f} ms,"
        f" max {max(times) * 1000:.0f} ms"
    )
    verdict = "meets" if median <= TARGET_MEDIAN else "MISSES"
    print(f"target: median <= {TARGET_MEDIAN * 1000:.0f} ms ({verdict} it)")
    paints = [first_paint(run.output) for run in runs]
    drawn = [rows for _, rows in paints]
    titles = [str(title) if title is not None else "?" for title, _ in paints]
    print(
        f"at exit: chute rows drawn per run {drawn};"
        f" chute count in the last title drawn per run {titles} (of {sandbox.chutes:,})"
    )
    if min(drawn) == 0:
        print(
            "  some runs exited before any chute row reached the terminal: the exit came"
            " before the screen painted the first page"
        )
    print(
        f"floors: python -c pass {statistics.median(floors) * 1000:.0f} ms,"
        f" chutes-tui --version {statistics.median(versions) * 1000:.0f} ms (medians)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
