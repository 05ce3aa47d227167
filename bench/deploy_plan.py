"""Import + pre-flight + fee for the plain example, against the SDK's own import of it.

    python bench/deploy_plan.py [--runs 5]

Prints medians of (a) `python -c "import hello"` with the SDK (what `chutes deploy` pays
before anything else) and (b) chutes-tui's whole plan: child-process import, account, image
and chute checks, fee. Target: (b) <= 1.5 s and no more than 0.3 s above (a).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chutes_tui import config  # noqa: E402
from chutes_tui.client.api import ChutesClient  # noqa: E402
from chutes_tui.client.signing import Credentials  # noqa: E402
from chutes_tui.core.deploy import DeployOptions, plan_deploy  # noqa: E402
from tests.conftest import running_sandbox  # noqa: E402

EXAMPLES = ROOT / "examples"


def sdk_import() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import hello"],
        cwd=EXAMPLES,
        check=True,
        capture_output=True,
        env={"CHUTES_ALLOW_MISSING": "true", "PATH": "/usr/bin:/bin"},
    )
    return time.perf_counter() - started


async def plan_once(url: str, key: str) -> float:
    connection = config.Connection(base_url=url, credentials=Credentials(api_key=key))
    async with ChutesClient(connection) as client:
        started = time.perf_counter()
        plan = await plan_deploy(client, "hello:chute", DeployOptions(directory=str(EXAMPLES)))
        elapsed = time.perf_counter() - started
    assert plan.ready, plan.blockers
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(Path(tmp)) as box:
        key = box.users["demo"].api_key
        sdk_import()
        asyncio.run(plan_once(box.url, key))  # warm caches
        sdk = [sdk_import() for _ in range(args.runs)]
        ours = [asyncio.run(plan_once(box.url, key)) for _ in range(args.runs)]
    sdk_median, our_median = statistics.median(sdk), statistics.median(ours)
    print(f"SDK import of hello.py:            median {sdk_median * 1000:.0f} ms")
    print(f"chutes-tui import + pre-flight + fee: median {our_median * 1000:.0f} ms")
    print(
        f"difference {1000 * (our_median - sdk_median):.0f} ms (target <= 300 ms);"
        f" total target <= 1500 ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
