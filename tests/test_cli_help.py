"""Every `--no-ui` command documents itself, and asking for help stays cheap."""

from __future__ import annotations

import subprocess
import sys


def imported_by(*args: str) -> set[str]:
    """The modules a `chutes-tui` run imports, as `-X importtime` reports them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chutes_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_help_of_a_command_imports_no_models_and_no_ui() -> None:
    modules = imported_by("--no-ui", "chutes", "list", "--help")
    assert "chutes_tui.headless.parser" in modules  # the probe really ran
    heavy = sorted(
        name
        for name in modules
        if name.split(".")[0] in ("pydantic", "pydantic_core", "textual", "httpx")
        or name == "chutes_tui.core.deploy"
    )
    assert heavy == []
