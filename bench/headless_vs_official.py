"""`chutes-tui --no-ui chutes list --json` against the official `chutes chutes list`.

Both run against the same sandbox, five times each; the script prints medians of wall time
and peak memory (max RSS of the child) and their ratios. Run it from a checkout:

    python bench/headless_vs_official.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import start_sandbox  # noqa: E402


def peak_rss(command: list[str], env: dict[str, str]) -> float:
    """Peak RSS in MB of one run, measured in a fresh process tree."""
    probe = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe, *command], env=env, check=True, capture_output=True, text=True
    )
    return int(output.stdout.strip()) / 1024


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


FLOOR = """
import asyncio, sys
for name in ("httpx._main", "trio", "h2"):
    sys.modules[name] = None
import httpx
async def main():
    async with httpx.AsyncClient(verify=False) as client:
        sys.stdout.write((await client.get(sys.argv[1] + "/chutes/")).text)
asyncio.run(main())
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    official = shutil.which("chutes")
    if official is None:
        print("the official chutes CLI is not installed (pip install -e '.[dev]')")
        return 1
    bindir = Path(sys.executable).parent
    # Each as its users run it: the installed console script.
    ours_script = bindir / "chutes-tui"
    ours = [str(ours_script), "--no-ui", "chutes", "list", "--json"]
    theirs_script = bindir / "chutes"
    theirs = [str(theirs_script if theirs_script.exists() else official), "chutes", "list"]
    with tempfile.TemporaryDirectory() as tmp:
        box = start_sandbox(Path(tmp))
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CHUTES")}
            # An installed package has compiled bytecode; let the warm-up run write ours too.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["CHUTES_CONFIG_PATH"] = str(box.users["demo"].config_path)
            floor = [sys.executable, "-c", FLOOR, box.url]
            commands = {
                "chutes-tui --no-ui": ours,
                "official chutes": theirs,
                "floor: bare httpx GET": floor,
            }
            for command in commands.values():
                wall(command, env)  # warm the file cache
            # Interleaved, so a machine that slows down for a while slows all three alike.
            times: dict[str, list[float]] = {label: [] for label in commands}
            for _ in range(args.runs):
                for label, command in commands.items():
                    times[label].append(wall(command, env))
            results = {
                label: (
                    statistics.median(times[label]),
                    statistics.median(peak_rss(command, env) for _ in range(args.runs)),
                )
                for label, command in commands.items()
            }
            over_floor = statistics.median(
                ours - floor
                for ours, floor in zip(
                    times["chutes-tui --no-ui"], times["floor: bare httpx GET"], strict=True
                )
            )
        finally:
            box.running.stop()
    (our_time, our_mem), (their_time, their_mem), (floor_time, _) = results.values()
    print(f"{'command':<24}{'median wall':>14}{'median peak RSS':>18}")
    for label, (seconds, megabytes) in results.items():
        print(f"{label:<24}{seconds * 1000:>11.0f} ms{megabytes:>15.1f} MB")
    print(f"time ratio   {our_time / their_time:.3f}  (target <= 0.100)")
    print(f"memory ratio {our_mem / their_mem:.3f}  (target <= 0.500)")
    print(
        f"floor ratio  {floor_time / their_time:.3f}  (python + asyncio + httpx and one GET;"
        f" chutes-tui adds {max(0.0, over_floor) * 1000:.0f} ms over it, the median of"
        f" {args.runs} side-by-side runs; target <= 40 ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
