"""The shares screen: share with a live user check, unshare, bulk unshare, and the API's limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from chutes_tui import config
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.modals import ConfirmScreen
from chutes_tui.tui.screens.shares import ShareScreen, SharesScreen
from chutes_tui.tui.session import Session
from tests.conftest import Sandbox, running_sandbox
from tests.test_tui import (  # noqa: F401 - fixtures are found by name
    Notes,
    app_for,
    private_dirs,
    static_text,
    table,
    type_text,
    wait_for,
    wait_loaded,
)


@pytest.fixture
def own_box(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox per test (speed 1: Pilot waits for idle, fast ticks delay it)."""
    with running_sandbox(tmp_path / "box", speed=1.0) as box:
        yield box


def share_rows(app: ChutesApp) -> list[tuple[str, str]]:
    grid = table(app)
    return [(grid.row(k).chute, grid.row(k).user) for k in grid.visible_keys]


def api_shares(box: Sandbox) -> list[dict]:
    with box.http() as http:
        return http.get("/users/me/shares", headers=box.users["demo"].key_headers()).json()


async def open_shares(pilot) -> ChutesApp:
    app = await wait_loaded(pilot)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, SharesScreen), "the shares screen")
    await wait_for(pilot, lambda: table(app).row_count >= 1, "the seeded share")
    return app


async def test_shares_screen_lists_the_shares_you_made(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_shares(pilot)
        (share,) = api_shares(own_box)
        # the API gives the user's id only, and nobody shared here yet: the id, not "unknown"
        assert share_rows(app) == [("echo-stream", share["shared_to"])]
        assert table(app).columns[table(app).sort_column].key == "chute"
        assert "Shared with you" in static_text(app, "#shared-with-me")
        # a chute chutes-tui has no name for (not in your list): its id, never "unknown"
        state = app.state
        state.chutes.rows = [row for row in state.chutes.rows if row.name != "echo-stream"]
        app.screen.load_rows()
        assert share_rows(app) == [(share["chute_id"], share["shared_to"])]


async def test_share_checks_the_user_explains_the_cost_and_confirms(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_shares(pilot)
        notes = Notes(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareScreen), "the share dialog")
        await type_text(pilot, "nobodyhere")
        await wait_for(
            pilot,
            lambda: "no user named nobodyhere" in static_text(app, "#share-check"),
            "the failed check",
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes.any("not a user you can share with"), "the refusal")
        assert isinstance(app.screen, ShareScreen)  # refused: stays open
        app.screen.query_one("#share-user", Input).value = ""
        await type_text(pilot, "bob")
        await wait_for(
            pilot, lambda: "bob exists" in static_text(app, "#share-check"), "the user check"
        )
        assert "you, the owner, pay their hourly rate" in static_text(app, "#share-cost")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "bob" in static_text(app, "#dialog-body")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(table(app).visible_keys) == 2, "the new share")
        assert ("echo-stream", "bob") in share_rows(app)
        assert len(api_shares(own_box)) == 2
        assert notes.any("is shared with bob")  # in our words, not the server's raw text
        assert not notes.any("user.username=")


async def test_sharing_with_yourself_is_refused_in_the_dialog(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_shares(pilot)
        notes = Notes(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareScreen), "the share dialog")
        await type_text(pilot, "demo")
        await wait_for(
            pilot, lambda: "that is you" in static_text(app, "#share-check"), "the user check"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: notes.any("not a user you can share with"), "the refusal")
        assert isinstance(app.screen, ShareScreen)  # nothing to confirm
        assert len(api_shares(own_box)) == 1


async def test_unshare_asks_and_bulk_unshare_removes_every_marked_row(own_box: Sandbox) -> None:
    with own_box.http() as http:
        body = b'{"chute_id_or_name":"hello-world","user_id_or_name":"bob"}'
        headers = own_box.users["demo"].signed(body=body)
        assert http.post("/chutes/share", content=body, headers=headers).status_code == 200
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_shares(pilot)
        await wait_for(pilot, lambda: table(app).row_count == 2, "both shares")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        assert len(api_shares(own_box)) == 2
        await pilot.press("g", "space", "space")
        assert len(app.screen.marked) == 2
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        body = static_text(app, "#dialog-body")
        assert "Unshare 2 shares?" in body
        assert "echo-stream" in body and "hello-world" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 0, "the emptied list")
        assert api_shares(own_box) == []
        assert "You have not shared any chute" in static_text(app, "#empty")


async def test_hotkey_only_credentials_are_told_shares_need_an_api_key(
    own_box: Sandbox, tmp_path: Path
) -> None:
    connection = config.resolve(config_path=own_box.users["demo"].config_path, env={})
    app = ChutesApp(Session(connection, label="sandbox"), DashboardOptions(refresh_interval=0))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("3")
        await wait_for(
            pilot, lambda: "needs an API key" in static_text(app, "#empty"), "the explanation"
        )
        assert app.state.connection == "online"


async def test_enter_before_the_check_finishes_waits_for_its_verdict(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_shares(pilot)
        notes = Notes(app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareScreen), "the share dialog")
        await type_text(pilot, "nobodyhere")
        await pilot.press("enter")  # at once: no verdict yet for this name
        await wait_for(pilot, lambda: notes.any("not a user you can share with"), "the refusal")
        assert isinstance(app.screen, ShareScreen)
        assert "no user named nobodyhere" in static_text(app, "#share-check")
        app.screen.query_one("#share-user", Input).value = ""
        await type_text(pilot, "bob")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
