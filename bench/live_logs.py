"""The live view under a log flood, and at rest.

Ingest: a sandbox process runs with `--log-burst RATE --burst-seconds S` (default 20,000
lines a second for 10 s into one instance). The dashboard runs on a pseudo-terminal
(120x36) with `--chute hello-world`, so it opens the live view and streams that instance.
While the burst runs, the script presses space (pause, then follow again) every 0.7 s and
times each press until the status line shows the new state (PAUSED or FOLLOWING) in the
terminal output. When the burst ends the sandbox writes `burst done: N lines, ended at T`;
the lag is the time from T until that line reaches the terminal. Peak RSS is the app's
VmHWM.

Idle: the same dashboard on a chute with no instances (nothing streams, the status is
polled every 5 s), CPU time over 10 s as a share of one core.

Prints numbers and the targets; asserts nothing. Run from a checkout:

    python bench/live_logs.py [--rate 20000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pty_spawn import spawn_on_pty
from tui_start import COLUMNS, LINES, isolated_env, start_sandbox_process

ANSI = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|P[^\x1b]*\x1b\\|.)")
DONE = re.compile(rb"burst done: (\d+) lines, ended at (\d+\.\d+)")
FIRST = b"burst 0"  # any burst line: the first one scrolls by before a redraw
TARGET_LAG, TARGET_KEY, TARGET_RSS, TARGET_IDLE = 1.0, 0.100, 300.0, 2.0


class Terminal:
    """The dashboard on a pty: everything it writes, with when it arrived."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process, self.master = spawn_on_pty(command, env, cwd, (COLUMNS, LINES))
        self.text = b""  # output with escape sequences removed
        self.hwm_mb = 0.0

    def pump(self, seconds: float) -> None:
        """Read output for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.01))
            if ready:
                try:
                    data = os.read(self.master, 1 << 20)
                except OSError:
                    return
                self.text += ANSI.sub(b"", data)
                self.text = self.text[-(1 << 20) :]

    def wait_for(self, pattern: bytes | re.Pattern, timeout: float) -> float | None:
        """Seconds until `pattern` shows up in output that arrives from now on."""
        started = time.monotonic()
        self.text = b""
        while time.monotonic() - started < timeout:
            self.pump(0.002)
            found = (
                pattern.search(self.text)
                if isinstance(pattern, re.Pattern)
                else (pattern in self.text)
            )
            if found:
                return time.monotonic() - started
        return None

    def key(self, data: bytes) -> None:
        os.write(self.master, data)

    def status(self, name: str) -> str:
        with open(f"/proc/{self.process.pid}/status") as handle:
            for line in handle:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
        return ""

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.key(b"q")
        try:
            self.process.wait(5)
        except Exception:
            self.process.kill()
        os.close(self.master)


def dashboard(sandbox, chute: str) -> list[str]:
    return [
        sys.executable, "-m", "chutes_tui",
        "--api-url", sandbox.url, "--api-key", sandbox.api_key, "--chute", chute,
    ]  # fmt: skip


def ingest(tmp: Path, env: dict[str, str], rate: int, seconds: float) -> int:
    flags = ("--log-burst", str(rate), "--burst-seconds", str(seconds))
    sandbox = start_sandbox_process(tmp, 0, env, *flags)
    terminal = Terminal(dashboard(sandbox, "hello-world"), env, tmp)
    try:
        if terminal.wait_for(FIRST, 30) is None:
            print("the burst never reached the terminal")
            return 1
        presses: list[float] = []
        missed = 0
        end = time.monotonic() + seconds - 1.5
        want = b"PAUSED"
        while time.monotonic() < end:
            terminal.pump(0.7)
            terminal.text = b""
            terminal.key(b" ")
            took = terminal.wait_for(want, 5)
            if took is None:
                missed += 1
            else:
                presses.append(took)
            want = b"FOLLOWING" if want == b"PAUSED" else b"PAUSED"
        if want == b"FOLLOWING":  # leave it following, so the last line is drawn
            terminal.key(b" ")
        found = None
        deadline = time.monotonic() + 60
        terminal.text = b""
        while found is None and time.monotonic() < deadline:
            terminal.pump(0.01)
            found = DONE.search(terminal.text)
        seen_at = time.time()
        rss = int(terminal.status("VmHWM").split()[0]) / 1024
    finally:
        terminal.stop()
        sandbox.stop()
    print(f"log ingest: {rate:,} lines/s for {seconds:g} s into one pane, {COLUMNS}x{LINES} pty")
    if found is None:
        print("  the end-of-burst line never reached the terminal within 60 s")
        return 1
    lines, ended = int(found.group(1)), float(found.group(2))
    lag = seen_at - ended
    median = statistics.median(presses) if presses else float("nan")
    print(f"  lines streamed:          {lines:,}")
    print(f"  lag at the end:          {lag:.3f} s (target <= {TARGET_LAG:g} s)")
    print(
        f"  key press to repaint:    median {median * 1000:.1f} ms, max"
        f" {max(presses, default=0) * 1000:.1f} ms over {len(presses)} presses, {missed} missed"
        f" (target median <= {TARGET_KEY * 1000:.0f} ms)"
    )
    print(f"  peak RSS:                {rss:.1f} MB (target <= {TARGET_RSS:.0f} MB)")
    return 0


def idle(tmp: Path, env: dict[str, str], seconds: float = 10.0) -> int:
    sandbox = start_sandbox_process(tmp, 0, env)
    terminal = Terminal(dashboard(sandbox, "llama-mini"), env, tmp)
    try:
        if terminal.wait_for(b"llama-mini", 30) is None:
            print("the live view never showed up")
            return 1
        terminal.pump(3.0)  # settle: first poll, first paint
        before, started = terminal.cpu_seconds(), time.monotonic()
        terminal.pump(seconds)
        share = (terminal.cpu_seconds() - before) / (time.monotonic() - started) * 100
    finally:
        terminal.stop()
        sandbox.stop()
    print(f"idle live view (cold chute, polled every 5 s): {share:.2f} % of one core over")
    print(f"  {seconds:g} s (target <= {TARGET_IDLE:g} %)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000, help="lines per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the burst")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chutes-tui-live-") as name:
        tmp = Path(name)
        env = isolated_env(tmp)
        for part in ("ingest", "idle"):
            (tmp / part).mkdir()
        status = ingest(tmp / "ingest", env, args.rate, args.seconds)
        return status or idle(tmp / "idle", env)


if __name__ == "__main__":
    sys.exit(main())
