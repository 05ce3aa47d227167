"""A headless command imports what it uses and nothing else: the imports are its start-up time.

Real commands run against a sandbox in a subprocess with `-X importtime`, so the test sees
every module the process loaded, however it was reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import Sandbox

# The config reads where the SDK's config.ini lives from core.locations (paths only); only
# deploy's own parser loads the deploy flags (core.deploy_options).
ALLOWED_FROM_CORE = {"chutes_tui.core", "chutes_tui.core.locations"}
NEVER = (
    "chutes_tui.client.builds",  # image builds and calls load their helpers when used
    "chutes_tui.client.invoke",
    "pydantic",
    "pydantic_core",
    "chutes_tui.client.models",
    "chutes_tui.core",
    "chutes_tui.sandbox",
    "chutes_tui.tui",
    "textual",
    "rich",
    "socketio",
    "engineio",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlite3",
    "_sqlite3",
)


def forbidden(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules - ALLOWED_FROM_CORE
        if any(name == root or name.startswith(f"{root}.") for root in NEVER)
    )


def run_importtime(box: Sandbox | None, *args: str) -> tuple[set[str], str]:
    """The modules `chutes-tui --no-ui ARGS` imports, and its stdout; it must succeed."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHUTES")}
    if box is not None:
        env["CHUTES_CONFIG_PATH"] = str(box.users["demo"].config_path)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chutes_tui", "--no-ui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    report = done.stderr.splitlines()
    errors = [line for line in report if not line.startswith("import time:")]
    assert done.returncode == 0, "\n".join(errors)
    modules = {line.rsplit("|", 1)[1].strip() for line in report if line.startswith("import time:")}
    assert "chutes_tui.headless.parser" in modules  # the probe really ran
    return modules, done.stdout


@pytest.mark.parametrize(
    "command",
    [("chutes", "list"), ("images", "list"), ("me",), ("pricing",)],
    ids=" ".join,
)
def test_a_json_command_imports_no_models_no_server_and_no_ui(
    box: Sandbox, command: tuple[str, ...]
) -> None:
    modules, stdout = run_importtime(box, *command, "--json")
    assert json.loads(stdout)  # it did its work
    assert "httpx" in modules and "chutes_tui.client.api" in modules
    assert forbidden(modules) == []


@pytest.mark.parametrize("args", [("--help",), ("deploy", "--help")], ids=" ".join)
def test_help_still_works_and_stays_light(args: tuple[str, ...]) -> None:
    modules, stdout = run_importtime(None, *args)
    assert stdout.startswith(f"usage: chutes-tui --no-ui {' '.join(args[:-1])}".rstrip())
    if args[0] == "deploy":
        assert "--accept-fee" in stdout  # the flags declared in core.deploy_options
    allowed = {"chutes_tui.core.deploy_options"}  # help that shows deploy shows its flags
    assert forbidden(modules - allowed) == [] and "httpx" not in modules
