"""The deploy wizard against the sandbox: every path, and nothing sent without a `y`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chutes_tui.tui.screens.deploy import DeployScreen, suggest_refs
from chutes_tui.tui.screens.live import LiveScreen
from tests.conftest import Sandbox, running_sandbox
from tests.test_tui import (  # noqa: F401 - private_dirs is an autouse fixture
    app_for,
    private_dirs,
    static_text,
    wait_for,
    wait_loaded,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def own_box(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "box", speed=1.0) as box:
        yield box


@pytest.fixture
def chutes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "chutes"
    folder.mkdir()
    shutil.copy(EXAMPLES / "hello.py", folder / "hello.py")
    (folder / "waiting.py").write_text(
        (EXAMPLES / "hello.py")
        .read_text()
        .replace("hello-example", "waiting-example")
        .replace("demo/hello:0.1", "demo/tts:0.2")
    )
    (folder / "broken.py").write_text("raise RuntimeError('this chute is broken on purpose')\n")
    return folder


def chute_names(box: Sandbox) -> list[str]:
    return [row["name"] for row in box.query("SELECT name FROM chutes ORDER BY name")]


async def plan_in_wizard(pilot, folder: Path, ref: str) -> None:
    """Open the wizard on `folder`, submit `ref`, and wait for its plan."""
    app = pilot.app
    app.push_screen(DeployScreen(str(folder)))
    await wait_for(
        pilot, lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#ref"), "wizard"
    )
    app.screen.query_one("#ref").value = ref
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")


async def open_wizard(pilot, folder: Path, ref: str):
    app = await wait_loaded(pilot)
    app.push_screen(DeployScreen(str(folder)))
    await wait_for(
        pilot, lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#ref"), "wizard"
    )
    app.screen.query_one("#ref").value = ref
    await pilot.press("enter")
    return app


def test_suggestions_come_from_the_chute_files(chutes_dir: Path) -> None:
    assert suggest_refs(chutes_dir) == ["hello:chute", "waiting:chute"]


async def test_new_chute_shows_the_fee_and_deploys_only_on_y(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    before = chute_names(own_box)
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "hello:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        assert "Deployment fee: $0.60" in static_text(app, "#fee")
        assert "accept the $0.60 fee" in static_text(app, "#next")
        assert chute_names(own_box) == before  # nothing sent yet
        await pilot.press("y")
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen), "the live view", timeout=15
        )
        assert "hello-example" in chute_names(own_box)
        # the same code again is blocked before anything is sent
        app.pop_screen()
        await wait_for(pilot, lambda: not isinstance(app.screen, LiveScreen), "the list")
        await plan_in_wizard(pilot, chutes_dir, "hello:chute")
        assert not app.screen.plan.ready
        assert "already deployed" in static_text(app, "#checks")
        await pilot.press("y")
        assert isinstance(app.screen, DeployScreen)


async def test_escape_cancels_and_sends_nothing(own_box: Sandbox, chutes_dir: Path) -> None:
    before = chute_names(own_box)
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "hello:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen), "the list")
    assert chute_names(own_box) == before


async def test_an_image_not_ready_blocks_the_deploy(own_box: Sandbox, chutes_dir: Path) -> None:
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "waiting:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        assert "demo/tts:0.2 is building" in static_text(app, "#checks")
        assert "press w to wait" in static_text(app, "#next")
        await pilot.press("y")
        assert isinstance(app.screen, DeployScreen)
        await pilot.press("w")
        await wait_for(
            pilot,
            lambda: "image demo/tts:0.2: building" in static_text(app, "#status"),
            "the image watch",
        )
        assert app.screen.busy
    assert "waiting-example" not in chute_names(own_box)


async def test_a_module_that_raises_is_reported_and_the_app_keeps_running(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "broken:chute")
        await wait_for(
            pilot,
            lambda: "broken on purpose" in static_text(app, "#checks"),
            "the import error",
            timeout=30,
        )
        assert app.screen.plan is None
        app.screen.query_one("#ref").value = "Not A Ref"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: "invalid chute reference" in static_text(app, "#checks"),
            "the reference error",
        )


async def test_an_update_shows_no_fee(own_box: Sandbox, chutes_dir: Path) -> None:
    (chutes_dir / "hello.py").write_text(
        (EXAMPLES / "hello.py").read_text().replace('"hello, {text}"', '"hi again, {text}"')
    )
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "hello:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        if not app.screen.plan.existing:  # deploy once, so the edited file is an update
            await pilot.press("y")
            await wait_for(
                pilot, lambda: isinstance(app.screen, LiveScreen), "deployed", timeout=15
            )
        balance = own_box.query("SELECT balance FROM users WHERE username = 'demo'")[0]
        (chutes_dir / "hello.py").write_text(
            (EXAMPLES / "hello.py").read_text().replace('"hello, {text}"', '"third, {text}"')
        )
        app.pop_screen()
        await plan_in_wizard(pilot, chutes_dir, "hello:chute")
        assert app.screen.plan.existing and app.screen.plan.fee == 0
        assert "none (an update)" in static_text(app, "#fee")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), "updated")
    after = own_box.query("SELECT balance FROM users WHERE username = 'demo'")[0]
    assert after["balance"] == balance["balance"]  # an update is free
