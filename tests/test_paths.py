"""`chutes-tui paths` names every file chutes-tui reads or writes, under the user's own dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_paths_lists_every_location(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES", "XDG_"))}
    env.update(HOME=str(tmp_path), CHUTES_CONFIG_PATH=str(tmp_path / "sdk.ini"))
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", "paths"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    labels = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert labels == [
        "credentials",
        "preferences",
        "sandbox",
        "opened",
        "known",
        "debug",
        "stylesheets",
    ]
    assert str(tmp_path / ".local" / "state" / "chutes-tui" / "known-users.json") in done.stdout
    assert f"{tmp_path / 'sdk.ini'}  (not created yet)" in done.stdout
    assert str(tmp_path / ".config" / "chutes-tui" / "config.toml") in done.stdout
    assert str(tmp_path / ".local" / "share" / "chutes-tui" / "sandbox.db") in done.stdout
    assert f"{tmp_path / '.local' / 'state' / 'chutes-tui' / 'debug.log'}  (not" in done.stdout
    assert "Traceback" not in done.stderr
