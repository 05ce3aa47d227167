"""The shortest path through each front end, also run with the lowest declared dependencies.

`scripts/lowest_deps.py` installs the oldest versions the project declares it works with and
runs this file alone: a minimum in pyproject.toml is only true if these pass with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from chutes_tui import config
from chutes_tui.client.signing import Credentials
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
from chutes_tui.tui.screens.live import LiveScreen
from chutes_tui.tui.session import Session
from tests.conftest import Sandbox

HANG_GUARD = 120.0  # seconds; not a timing budget


async def until(pilot: Pilot, check: Callable[[], bool]) -> None:
    """Let the app work until `check()`; the limit only catches a hang (a crashed app)."""
    deadline = asyncio.get_running_loop().time() + HANG_GUARD
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the app stopped responding"
        await pilot.pause(0.05)


def headless(box: Sandbox, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHUTES")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), CHUTES_API_URL=box.url)
    env["CHUTES_API_KEY"] = box.users["demo"].api_key
    return subprocess.run(
        [sys.executable, "-m", "chutes_tui", "--no-ui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_headless_lists_and_gets(box: Sandbox, tmp_path: Path) -> None:
    me = headless(box, tmp_path, "me", "--json")
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["username"] == "demo"
    listing = headless(box, tmp_path, "chutes", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    names = {item["name"] for item in json.loads(listing.stdout)}
    assert {"hello-world", "llama-mini"} <= names
    missing = headless(box, tmp_path, "chutes", "get", "no-such-chute")
    assert missing.returncode == 4 and "Traceback" not in missing.stderr


def dashboard(box: Sandbox) -> ChutesApp:
    connection = config.Connection(
        base_url=box.url, credentials=Credentials(api_key=box.users["demo"].api_key)
    )
    return ChutesApp(
        Session(connection, sandbox=None, label=box.url), DashboardOptions(refresh_interval=0)
    )


def loaded(app: ChutesApp) -> bool:
    return app.state.chutes.loaded and app.state.account is not None


async def test_dashboard_lists_opens_and_goes_live(box: Sandbox) -> None:
    app = dashboard(box)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: loaded(app))
        assert app.state.chutes.rows
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChuteDetailScreen)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        await until(pilot, lambda: app.screen.live is not None)
        assert app.screen.live.name in str(app.screen.query_one("#live-header", Static).render())
        await pilot.press("escape", "escape")
        await pilot.press("q")
    assert app.return_code == 0 and not app._exit_renderables


async def test_a_crash_shows_one_redacted_line_and_no_locals(
    box: Sandbox, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app overrides Textual's private `_fatal_error`: this pins what it promises, with
    every Textual version the project declares."""
    from chutes_tui.client import debuglog

    monkeypatch.delenv(debuglog.ENV, raising=False)  # no --debug: one line, no traceback
    key = box.users["demo"].api_key
    app = dashboard(box)

    def explode() -> None:
        secret_local = key  # a local that a rich traceback would print
        raise RuntimeError(f"boom with {secret_local}")

    with pytest.raises(RuntimeError):
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: loaded(app))
            app.call_later(explode)
            await pilot.pause(0.5)
    shown = capfd.readouterr().err
    assert "chutes-tui stopped on an unexpected error: RuntimeError: boom with <redacted>" in shown
    assert key not in shown and "secret_local" not in shown and "Traceback" not in shown
