"""The deploy wizard against the sandbox: every path, and nothing sent without a `y`."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input

from chutes_tui.core import deploy as flow
from chutes_tui.tui.screens.deploy import DeployScreen, suggest_refs
from chutes_tui.tui.screens.live import LiveScreen
from tests.conftest import Sandbox, running_sandbox
from tests.procs import alive, descendants, group_members, import_children, process_group
from tests.test_tui import (  # noqa: F401 - private_dirs is an autouse fixture
    app_for,
    private_dirs,
    static_text,
    wait_for,
    wait_loaded,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FIXTURES = Path(__file__).resolve().parent / "chute_fixtures"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


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


def new_plan(screen: DeployScreen, old: object):
    """A predicate: a plan other than `old` has landed."""
    return lambda: screen.plan is not None and screen.plan is not old


def count_imports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references the deploy flow imports from now on, in order."""
    imported: list[str] = []
    real = flow.import_chute

    async def counting(ref: str, *args, **kwargs):
        imported.append(ref)
        return await real(ref, *args, **kwargs)

    monkeypatch.setattr(flow, "import_chute", counting)
    return imported


async def test_changing_any_field_after_the_plan_plans_again(
    own_box: Sandbox, chutes_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (chutes_dir / "logo.png").write_bytes(PNG)
    before = chute_names(own_box)
    imports = count_imports(monkeypatch)
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "hello:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        screen = app.screen
        first = screen.plan
        assert first.ready and "private" in static_text(app, "#fee")
        assert "1 GPU, at least 16 GB" in static_text(app, "#fee")  # no "GPU(s)"

        # public, ticked after the plan: the private plan is gone at once, y sends nothing
        screen.query_one("#option-public", Checkbox).focus()
        await pilot.press("space")
        assert screen.plan is None and static_text(app, "#fee") == ""
        await pilot.press("y")
        await wait_for(pilot, new_plan(screen, first), "the plan for a public chute")
        public = screen.plan
        assert public.body["public"] is True and "public" in static_text(app, "#fee")
        assert not public.ready  # the demo account may not deploy public chutes
        assert "may not deploy public chutes" in static_text(app, "#checks")
        await pilot.press("space")  # private again
        await wait_for(pilot, new_plan(screen, public), "the private plan")
        private = screen.plan
        assert private.ready and private.body["public"] is False
        assert imports == ["hello:chute"]  # an option changed: the same import, checked again

        # a logo path typed after the plan that names no file: a failed check, no crash
        screen.query_one("#option-logo", Input).focus()
        await pilot.press(*"nope.png")
        await wait_for(pilot, new_plan(screen, private), "the plan with the logo")
        missing = screen.plan
        assert not missing.ready
        assert "cannot read" in static_text(app, "#checks")
        assert "press enter to plan again" in static_text(app, "#next")
        await pilot.press("enter")  # leaves the field (and plans again)
        await wait_for(pilot, new_plan(screen, missing), "the plan again")
        assert len(imports) == 2  # asked for with enter: imported afresh
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, DeployScreen) and app.is_running

        # a file that is there: ready; from the field, enter first, then y
        logo = screen.query_one("#option-logo", Input)
        logo.focus()
        logo.value = "logo.png"
        await wait_for(
            pilot, lambda: screen.plan is not None and screen.plan.ready, "the plan with a logo"
        )
        assert "logo.png will be uploaded" in static_text(app, "#checks")
        assert "Press enter, then y to deploy" in static_text(app, "#next")

        # the reference, changed after the plan: planned again for the other chute
        with_logo = screen.plan
        screen.query_one("#ref", Input).value = "waiting:chute"
        await wait_for(pilot, new_plan(screen, with_logo), "the plan for the other chute")
        assert screen.plan.name == "waiting-example"
        assert "waiting-example" in static_text(app, "#fee")
        screen.query_one("#ref", Input).value = "hello:chute"
        await wait_for(
            pilot,
            lambda: screen.plan is not None and screen.plan.name == "hello-example",
            "the plan for hello again",
        )
        assert imports == ["hello:chute"] * 2 + ["waiting:chute", "hello:chute"]

        # the module file changed, then an option: imported again, not the old import reused
        hello = chutes_dir / "hello.py"
        stamp = hello.stat().st_mtime_ns + 1_000_000_000
        os.utime(hello, ns=(stamp, stamp))
        again = screen.plan
        screen.query_one("#option-public", Checkbox).value = True
        await wait_for(pilot, new_plan(screen, again), "the plan after the file changed")
        assert len(imports) == 5
        public_again = screen.plan
        screen.query_one("#option-public", Checkbox).value = False
        await wait_for(pilot, new_plan(screen, public_again), "the private plan again")
        assert len(imports) == 5 and screen.plan.ready
        assert chute_names(own_box) == before  # nothing was sent on the way
        await pilot.press("enter")
        assert app.screen.focused is app.screen.query_one("#checks-box")
        await pilot.press("y")
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen), "the live view", timeout=15
        )
    rows = own_box.query("SELECT spec, public FROM chutes WHERE name = 'hello-example'")
    assert len(rows) == 1 and not rows[0]["public"]
    spec = rows[0]["spec"]
    assert (json.loads(spec) if isinstance(spec, str) else spec)["logo_id"]  # the logo checked


async def test_a_wait_for_the_image_shows_its_time_and_esc_stops_it(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "waiting:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        screen = app.screen
        assert "press w to wait and watch it" in static_text(app, "#checks")
        await pilot.press("w")
        await wait_for(pilot, lambda: "waited 0:0" in static_text(app, "#status"), "the wait")
        assert screen.busy and "esc stops waiting" in static_text(app, "#status")
        screen.clock = lambda: screen.wait_started + 65  # as if it had waited 65 s
        await wait_for(
            pilot, lambda: "waited 1:05" in static_text(app, "#status"), "the next second's tick"
        )
        await pilot.press("escape")
        assert app.screen is screen  # back to the form, not out of the wizard
        assert not screen.busy and "Stopped waiting after 1:05" in static_text(app, "#status")
        assert not [worker for worker in screen.workers if worker.group == "wait"] or all(
            worker.is_cancelled for worker in screen.workers if worker.group == "wait"
        )
        assert "press w to wait" in static_text(app, "#next")
        await pilot.press("w")  # waits again
        await wait_for(pilot, lambda: screen.busy, "the second wait")
        await pilot.press("escape", "escape")  # stop waiting, then leave
        await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen), "the list")
    assert "waiting-example" not in chute_names(own_box)


async def test_enter_and_r_plan_again_after_a_blocked_plan(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await wait_loaded(pilot)
        app.push_screen(DeployScreen(str(chutes_dir)))
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#option-logo"),
            "wizard",
        )
        screen = app.screen
        screen.query_one("#option-logo", Input).value = "logo.png"  # not there yet
        screen.query_one("#ref", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.plan is not None, "the plan")
        blocked = screen.plan
        assert not blocked.ready and "cannot read" in static_text(app, "#checks")
        assert "press enter or r to plan again" in static_text(app, "#next")
        assert not isinstance(screen.focused, Input)  # so r and y reach the screen
        (chutes_dir / "logo.png").write_bytes(PNG)  # the fix
        await pilot.press("r")
        await wait_for(pilot, new_plan(screen, blocked), "the plan after r")
        assert screen.plan.ready
        assert screen.query_one("#ref", Input).value == "hello:chute"  # r typed nothing
        ready = screen.plan
        (chutes_dir / "logo.png").unlink()
        await pilot.press("enter")
        await wait_for(pilot, new_plan(screen, ready), "the plan after enter")
        assert not screen.plan.ready and "cannot read" in static_text(app, "#checks")


async def test_the_fee_and_the_confirm_line_stay_on_screen_at_80x24(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    async with app_for(own_box).run_test(size=(80, 24)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "hello:chute")
        await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
        await pilot.pause()
        screen = app.screen
        fee, confirm = screen.query_one("#fee"), screen.query_one("#next")
        checks = screen.query_one("#checks-box")

        def on_screen() -> None:
            for part in (fee, confirm):
                assert part.region.height > 0
                assert part.region.y >= 0 and part.region.bottom <= app.size.height - 1  # footer
            assert checks.region.bottom <= fee.region.y  # the checks scroll above the fee

        assert "Deployment fee: $0.60" in static_text(app, "#fee")
        assert "Press y" in static_text(app, "#next")
        on_screen()
        # more checks than fit (a logo that is not there, with its fix): only they scroll
        ready = screen.plan
        screen.query_one("#option-logo", Input).value = "absent.png"
        await wait_for(pilot, new_plan(screen, ready), "the plan with the logo")
        await pilot.pause()
        assert "Deployment fee: $0.60" in static_text(app, "#fee")
        assert "plan again" in static_text(app, "#next")
        on_screen()
        assert checks.virtual_size.height > checks.region.height


async def test_leaving_during_an_import_ends_its_child_and_process_group(
    own_box: Sandbox, chutes_dir: Path
) -> None:
    shutil.copy(FIXTURES / "spawns_and_hangs.py", chutes_dir / "spawns_and_hangs.py")
    async with app_for(own_box).run_test(size=(120, 40)) as pilot:
        app = await open_wizard(pilot, chutes_dir, "spawns_and_hangs:chute")

        def running() -> list[int]:
            children = import_children(chutes_dir)
            return [children[0], *descendants(children[0])] if children else []

        await wait_for(pilot, lambda: len(running()) >= 2, "the import child and its helper")
        started = running()
        child = started[0]
        assert process_group(child) == child
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen), "the list")
        # bounded, as a hang guard only: the kill is prompt
        await wait_for(
            pilot,
            lambda: not any(alive(pid) for pid in started) and not group_members(child),
            "the import child and its process group to end",
        )
