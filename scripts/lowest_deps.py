"""Install the lowest versions of the runtime dependencies that pyproject.toml declares, and
run the smoke tests with them: a declared minimum is only true if it works.

    python scripts/lowest_deps.py [--venv DIR]

Every `name>=X` becomes `name==X` in a fresh virtual environment (a constraints file keeps
the test tools from upgrading any of them), chutes-tui goes in without dependencies, and
`tests/test_smoke.py` runs: the headless commands and the dashboard against a sandbox.
Exits with pytest's code.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_TOOLS = ("pytest", "pytest-asyncio")
EXTRAS = re.compile(r"\[[^\]]*\]")
MINIMUM = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*>=\s*(?P<version>[^,;\s]+)")


def lowest_pins() -> list[str]:
    """`name==minimum` for each runtime dependency; one without a minimum is an error."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for requirement in project["dependencies"]:
        match = MINIMUM.match(requirement)
        if match is None:
            raise SystemExit(f"no declared minimum to test: {requirement!r}")
        pins.append(f"{match['name']}=={match['version']}")
    return pins


def run(*command: str | Path) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-lowest")
    args = parser.parse_args()
    pins = lowest_pins()
    venv.create(args.venv, with_pip=True, clear=True)
    python = args.venv / "bin" / "python"
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "lowest.txt"
        constraints.write_text("".join(f"{EXTRAS.sub('', pin)}\n" for pin in pins))
        try:
            run(python, "-m", "pip", "install", "-q", "-c", constraints, *pins, *TEST_TOOLS)
        except subprocess.CalledProcessError:
            raise SystemExit("the declared minimums cannot be installed together") from None
    run(python, "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT)
    run(python, "-m", "pip", "list", "--format=freeze")
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=-ra",
            str(ROOT / "tests" / "test_smoke.py"),
        ],
        cwd=ROOT,
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
