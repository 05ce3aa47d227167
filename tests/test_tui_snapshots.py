"""Screenshots of the dashboard, compared with the accepted SVGs in tests/snapshots/.

The sandbox is pinned so every run draws the same pixels: one seed timestamp, a fixed
database secret (so user ids and keys do not change), user creation times set to the seed
timestamp, a fixed header label instead of the port, the house theme, no auto-refresh.

Update after an intended change with
`pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot

from chutes_tui import config
from chutes_tui.client.signing import Credentials
from chutes_tui.sandbox.storage import Store
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.messages import FeedUpdated
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
from chutes_tui.tui.screens.help import HelpScreen
from chutes_tui.tui.screens.modals import ConfirmScreen
from chutes_tui.tui.screens.resources import ImagesScreen
from chutes_tui.tui.session import Session
from tests.conftest import Sandbox, running_sandbox
from tests.simclock import HANG_GUARD

SEED_TIME = "2026-01-01T12:00:00.000000Z"
SECRET = "5eed" * 16
LABEL = "http://127.0.0.1:8765"
SIZES = pytest.mark.parametrize(
    "size", [(120, 36), (80, 24)], ids=lambda size: f"{size[0]}x{size[1]}"
)


class SnapshotsHere(pytest_textual_snapshot.SVGImageExtension):
    """Keep the SVGs in tests/snapshots/<test file>/ rather than syrupy's __snapshots__."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        tests = Path(test_location.filepath).parent
        return str(tests / "snapshots" / test_location.basename)


@pytest.fixture(autouse=True)
def snapshot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots in tests/snapshots/, and no state or preferences from the real home."""
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", SnapshotsHere)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("CHUTES_TUI_CONFIG", raising=False)
    # Work around the FeedUpdated echo loop (see test_tui.py): without it the app never
    # idles and every key press in run_before waits two seconds.
    monkeypatch.setattr(FeedUpdated, "bubble", False)


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox whose every id and timestamp on screen is the same on every run."""
    where = tmp_path_factory.mktemp("pinned")
    store = Store(where / "sandbox.db")  # the secret every seeded id and key derives from
    try:
        with store.tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (SECRET,))
    finally:
        store.close()
    with running_sandbox(where, speed=1.0, seed_time=SEED_TIME) as box:
        store = Store(box.db_path)
        try:
            with store.tx() as db:
                db.execute("UPDATE users SET created_at = ?", (SEED_TIME,))
        finally:
            store.close()
        yield box


def make_app(box: Sandbox) -> ChutesApp:
    connection = config.Connection(
        base_url=box.url,
        credentials=Credentials(api_key=box.users["demo"].api_key),
        username="demo",
    )
    options = DashboardOptions(refresh_interval=0, theme="chutes")
    return ChutesApp(Session(connection, label=LABEL), options)


async def wait_for(pilot: Pilot, predicate: Callable[[], object], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_GUARD  # catches a hang; not a timing budget
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            app.state.account is not None
            and all(feed.loaded and not feed.loading for feed in app.state.feeds)
        ),
        "the first load",
    )
    await pilot.pause()


@SIZES
def test_chutes_screen(snap_compare, pinned: Sandbox, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(pinned), terminal_size=size, run_before=loaded)


@SIZES
def test_images_screen(snap_compare, pinned: Sandbox, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("2")
        assert isinstance(pilot.app.screen, ImagesScreen)
        await pilot.pause()

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_chute_detail_overview(snap_compare, pinned: Sandbox, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("j", "enter")  # hello-world, the hot one
        screen = pilot.app.screen
        assert isinstance(screen, ChuteDetailScreen)
        await wait_for(pilot, lambda: screen.chute is not None, "the chute")
        await pilot.pause(0.1)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_help_screen(snap_compare, pinned: Sandbox, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)


@SIZES
def test_confirm_delete_dialog(snap_compare, pinned: Sandbox, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await pilot.press("j", "x")  # delete hello-world? (never answered)
        assert isinstance(pilot.app.screen, ConfirmScreen)

    assert snap_compare(make_app(pinned), terminal_size=size, run_before=run_before)
