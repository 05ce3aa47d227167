"""The conformance script, against a current and an older-server sandbox, reading and writing.

The same script is run by hand against the platform's own server (README, Compatibility).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chutes_tui.sandbox.settings import older_gpu_table
from tests.conftest import Sandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "conformance.py"
GUARD = 300  # seconds: only catches a hang; each command has its own limit


def conformance(box: Sandbox, *extra: str) -> tuple[int, list[dict]]:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--api-url",
            box.url,
            "--api-key",
            box.users["demo"].api_key,
            "--config",
            str(box.users["demo"].config_path),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=GUARD,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def verdicts(rows: list[dict]) -> dict[tuple[str, str], str]:
    return {(row["credential"], row["command"]): row["verdict"] for row in rows}


@pytest.mark.parametrize("older", [False, True], ids=["current", "older"])
def test_every_command_fares_as_expected(tmp_path: Path, older: bool) -> None:
    settings = {"older": True, "fee_formula": "quadratic", "gpu_table": older_gpu_table()}
    # The clock stands still: no instance bills between the balance reads around the deploy.
    with running_sandbox(tmp_path, paused=True, **(settings if older else {})) as box:
        code, rows = conformance(
            box, "--write", "--share-with", "bob", "--max-fee", "10", "--warmup-timeout", "1"
        )
        leftover = box.query("SELECT name FROM chutes WHERE name LIKE 'ctui-conformance-%'")
    seen = verdicts(rows)
    assert code == 0, [row for row in rows if row["verdict"].startswith("FAIL")]
    assert not leftover  # the chute it wrote is gone
    assert ("api key", "deploy") in seen and ("hotkey", "logs") in seen
    assert all(row["code"] is not None and row["seconds"] > 0 for row in rows)
    assert seen["hotkey", "shares list"].startswith("ok: the API lists shares")
    for step in ("secrets create (new)", "secrets delete (new)", "keys create (new)", "keys list"):
        assert seen["api key", step] == "ok", step
    assert seen["hotkey", "secrets list"] == "ok"
    older_ones = {key for key, verdict in seen.items() if verdict.startswith("older server")}
    if older:
        assert older_ones == {
            ("api key", "shares list"),
            ("api key", "shares list (new)"),
            ("api key", "warmup (new)"),
            ("hotkey", "logs"),
        }
    else:
        assert older_ones == set()
    deploy = next(row for row in rows if row["command"] == "deploy")
    assert "402 200" in deploy["statuses"]  # the fee notice, then the deploy it allowed
    # two GPUs of the cheapest 24 GB kind at $0.25: the older server counts the GPUs twice
    charged = "$3.00" if older else "$1.50"
    assert f"estimate $1.50, charged {charged}, balance moved {charged}" in deploy["verdict"]


def test_a_failing_command_is_a_fail_and_exit_1(sandbox: Sandbox) -> None:
    code, rows = conformance(sandbox, "--chute", "no-such-chute")
    assert code == 1
    assert verdicts(rows)["api key", "chutes get"].startswith("FAIL")
