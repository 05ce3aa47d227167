"""The build view: enter on an image shows its build log, live while it builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chutes_tui.tui.screens.build import BuildScreen
from chutes_tui.tui.screens.build_wizard import BuildWizard
from chutes_tui.tui.screens.deploy import DeployScreen
from chutes_tui.tui.screens.resources import ImagesScreen
from tests.conftest import Sandbox, running_sandbox
from tests.test_headless_build import chute_module
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


# --- building from the dashboard --------------------------------------------------------


@pytest.fixture
def paused_box(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose clock stands still: a build moves only when the test advances it."""
    with running_sandbox(tmp_path / "box", speed=1.0, paused=True) as box:
        yield box


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "requirements.txt").write_text("numpy==2.1.3\n")
    steps = ('add("requirements.txt", "/app/requirements.txt")', 'run_command("echo hi")')
    (folder / "tui_app.py").write_text(chute_module("tui-app", "0.1", *steps))
    return folder


def image_rows(box: Sandbox, name: str) -> list[dict]:
    return box.query("SELECT status FROM images WHERE name = ?", name)


async def finish_build(pilot, box: Sandbox, screen: BuildScreen) -> None:
    """Advance the simulated clock until the build the view follows has ended."""
    for _ in range(200):
        if (screen.status or "").startswith(("built and pushed", "error")):
            return
        box.advance(30)
        await pilot.pause(0.1)
    raise AssertionError(f"the build did not end: {screen.status}")


async def open_wizard(pilot, app) -> BuildWizard:
    """From the images list, b."""
    await wait_loaded(pilot)
    await pilot.press("2", "b")
    await wait_for(pilot, lambda: isinstance(app.screen, BuildWizard), "the build wizard")
    return app.screen


async def test_b_lists_the_context_then_builds_and_follows(
    paused_box: Sandbox, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work)  # b looks for chute files in the working directory
    app = app_for(paused_box)
    async with app.run_test(size=SIZE) as pilot:
        await open_wizard(pilot, app)
        wizard = app.screen
        assert wizard.query_one("#ref").value == "tui_app:chute"  # found in this directory
        await pilot.press("enter")
        await wait_for(pilot, lambda: wizard.plan is not None, "the plan", timeout=60)
        listing = static_text(app, "#context")
        assert "demo/tui-app:0.1" in listing and "requirements.txt" in listing
        assert "Press y to upload" in static_text(app, "#next")
        assert image_rows(paused_box, "tui-app") == []  # nothing sent before y
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen), "the build view")
        view = app.screen
        assert len(image_rows(paused_box, "tui-app")) == 1
        await finish_build(pilot, paused_box, view)
        await wait_for(pilot, lambda: "BUILT" in static_text(app, "#build-header"), "built")
        await wait_for(pilot, lambda: view.ended, "the end of the log")
        assert any("echo hi" in line for line in log_lines(view))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the list")
        grid = table(app)
        await wait_for(
            pilot,
            lambda: grid.row(key_of_name(app, "tui-app:0.1")).status == "built and pushed",
            "the list to show what the view saw",
        )


async def test_leaving_the_wizard_mid_import_sends_nothing(
    paused_box: Sandbox, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work)  # b looks for chute files in the working directory
    app = app_for(paused_box)
    async with app.run_test(size=SIZE) as pilot:
        await open_wizard(pilot, app)
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the list")
        assert image_rows(paused_box, "tui-app") == []


async def test_the_deploy_wizard_builds_a_missing_image_then_plans_again(
    paused_box: Sandbox, work: Path
) -> None:
    app = app_for(paused_box)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot)
        app.push_screen(DeployScreen(str(work)))
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#ref"),
            "the wizard",
        )
        deploy = app.screen
        deploy.query_one("#ref").value = "tui_app:chute"
        await pilot.press("enter")
        await wait_for(pilot, lambda: deploy.plan is not None, "the plan", timeout=60)
        assert deploy.plan.image_missing and not deploy.plan.ready
        assert "press b to build it now" in static_text(app, "#next").replace("enter, then ", "")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildWizard), "the build wizard")
        wizard = app.screen
        await wait_for(pilot, lambda: wizard.plan is not None, "the build plan", timeout=60)
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen), "the build view")
        await finish_build(pilot, paused_box, app.screen)
        await wait_for(pilot, lambda: app.screen is deploy, "back in the deploy wizard")
        await wait_for(pilot, lambda: deploy.plan is not None, "the new plan", timeout=60)
        assert deploy.plan.ready, deploy.plan.blockers
        assert "to deploy and accept the" in static_text(app, "#next")
