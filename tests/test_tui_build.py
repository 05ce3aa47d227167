"""The build view: enter on an image shows its build log, live while it builds."""

from __future__ import annotations

from chutes_tui.tui.screens.build import BuildScreen
from chutes_tui.tui.screens.resources import ImagesScreen
from tests.conftest import Sandbox
from tests.test_tui import (  # noqa: F401 - private_dirs is an autouse fixture
    SIZE,
    Notes,
    app_for,
    key_of_name,
    private_dirs,
    static_text,
    table,
    wait_for,
    wait_loaded,
)


async def open_build(pilot, app, name: str) -> BuildScreen:
    await wait_loaded(pilot)
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the images list")
    table(app).move_to(key_of_name(app, name))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen), "the build view")
    return app.screen


def log_lines(screen: BuildScreen) -> list[str]:
    return [line.text for line in screen.logs.panes["all"]]


async def test_a_built_image_shows_its_whole_log(box: Sandbox) -> None:
    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_build(pilot, app, "hello:0.1")
        await wait_for(pilot, lambda: screen.ended and screen.status, "the log and status")
        header = static_text(app, "#build-header")
        assert "demo/hello:0.1" in header and "BUILT" in header and "took" in header
        assert screen.lines > 0 and len(log_lines(screen)) == screen.lines
        assert all(line.history for line in screen.logs.panes["all"])  # read whole, not live
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the list")


async def test_a_failed_image_finally_says_why(box: Sandbox) -> None:
    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_build(pilot, app, "broken:0.1")
        await wait_for(pilot, lambda: screen.ended and screen.status, "the log and status")
        header = static_text(app, "#build-header")
        assert "FAILED" in header and "no matching distribution" in header
        assert any("no matching distribution" in line for line in log_lines(screen))


async def test_a_running_build_is_followed_and_left_with_a_word(box: Sandbox) -> None:
    app = app_for(box)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_build(pilot, app, "tts:0.2")
        await wait_for(pilot, lambda: screen.status == "building", "the status")
        assert "BUILDING" in static_text(app, "#build-header")
        assert not screen.ended  # still following
        workers = list(screen.workers)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the list")
        assert notes.any("goes on building on the server")
        assert all(worker.is_finished for worker in workers)
