"""The dashboard driven key by key with Textual's Pilot, against a real sandbox on loopback.

Every test waits for the data it needs with a bounded loop of `pilot.pause()` calls, never a
fixed sleep; anything that changes data runs against its own sandbox.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from rich.text import Text
from textual.command import CommandPalette
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static, TabbedContent

from chutes_tui import config
from chutes_tui.client.signing import Credentials
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.messages import FeedUpdated
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.rows import ImageRow
from chutes_tui.tui.screens.build import BuildScreen
from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
from chutes_tui.tui.screens.help import HelpScreen
from chutes_tui.tui.screens.modals import ConfirmScreen, InfoScreen, PromptScreen
from chutes_tui.tui.screens.resources import ChutesScreen, ImagesScreen
from chutes_tui.tui.session import Session
from chutes_tui.tui.state import KINDS
from chutes_tui.tui.widgets.account_bar import AccountBar
from chutes_tui.tui.widgets.table import VirtualTable
from tests.conftest import Sandbox, deploy_body, running_sandbox, start_sandbox
from tests.simclock import HANG_GUARD

LABEL = "http://127.0.0.1:8765"
SIZE = (120, 36)
SEED_CHUTES = {"hello-world", "echo-stream", "llama-mini"}
SEED_IMAGES = {"hello:0.1", "tts:0.2", "broken:0.1", "next:0.3"}
PUBLIC_IMAGES = {
    "vllm:0.10.1",
    "sglang:0.5.1",
    "diffusion:0.35.0",
    "tei:1.8.0",
    "vllm:nightly-2025111700",
    "sglang:nightly-2025111800",
    "diffusion:0.34.0.po",
}


# fixtures and helpers

# The sandbox runs at real speed here. Pilot decides that input has been handled when the
# *process* looks idle (CPU time against wall time), and a sandbox at speed 100 ticks every
# 10 ms in a thread of this process, which turns every key press into two one-second waits.
SPEED = 1.0


@pytest.fixture(scope="module")
def shared_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the tests of this module that change nothing."""
    with running_sandbox(tmp_path_factory.mktemp("tui"), speed=SPEED) as box:
        yield box


@pytest.fixture
def own_box(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox for a test that deletes or deploys."""
    with running_sandbox(tmp_path / "box", speed=SPEED) as box:
        yield box


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the remembered-chutes state file and the preferences away from the real home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("CHUTES_TUI_CONFIG", raising=False)
    return home


class Notes:
    """Every notification the app raised, kept after it has expired from the screen."""

    def __init__(self, app: ChutesApp) -> None:
        self.seen: list[tuple[str, str]] = []
        original = app.notify

        def notify(message: str, *, title: str = "", **options: Any) -> None:
            self.seen.append((title, message))
            original(message, title=title, **options)

        app.notify = notify  # type: ignore[method-assign]

    def titled(self, title: str) -> list[str]:
        return [message for seen_title, message in self.seen if seen_title == title]

    def any(self, part: str) -> bool:
        return any(part in message for _, message in self.seen)


class FakeSandbox:
    """Stands in for a RunningSandbox: the header only needs to know there is one."""

    def __init__(self) -> None:
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


def make_app(
    url: str,
    api_key: str,
    username: str = "demo",
    *,
    sandbox: Any = None,
    refresh_interval: float = 0,
    retries: int | None = None,
) -> ChutesApp:
    connection = config.Connection(
        base_url=url, credentials=Credentials(api_key=api_key), username=username
    )
    options = DashboardOptions(refresh_interval=refresh_interval)
    app = ChutesApp(Session(connection, sandbox=sandbox, label=LABEL), options)
    if retries is not None:
        app.state.client.retries = retries
    return app


def app_for(box: Sandbox, user: str = "demo", **options: Any) -> ChutesApp:
    return make_app(box.url, box.users[user].api_key, user, **options)


async def wait_for(
    pilot: Pilot,
    predicate: Callable[[], object],
    what: str,
    timeout: float = HANG_GUARD,
    explain: Callable[[], str] | None = None,
) -> None:
    """Let the app run until `predicate()` holds; the limit only catches a hang.

    `explain` adds what the test knows of the app's state to the failure, for a hang seen once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        await pilot.pause(0.05)


def settled(app: ChutesApp, *kinds: str) -> bool:
    return all(
        app.state.feed(kind).loaded and not app.state.feed(kind).loading for kind in kinds or KINDS
    )


async def wait_loaded(pilot: Pilot) -> ChutesApp:
    """Both lists and the account have arrived and the screen shows them."""
    app = pilot.app
    await wait_for(pilot, lambda: settled(app) and app.state.account is not None, "the first load")
    await pilot.pause()
    return app  # type: ignore[return-value]


def plain(content: Any, width: int = 160) -> str:
    """What a Static shows, as plain text: markup, Content and Rich renderables alike."""
    if isinstance(content, str):
        return Text.from_markup(content).plain
    if isinstance(content, Text | Content):
        return content.plain
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(content)
    return console.export_text()


def static_text(app: ChutesApp, selector: str) -> str:
    return plain(app.screen.query_one(selector, Static).content)


def header(app: ChutesApp) -> str:
    return app.screen.query_one(AccountBar).render().plain


def table(app: ChutesApp) -> VirtualTable:
    return app.screen.query_one("#table", VirtualTable)


def names(app: ChutesApp) -> list[str]:
    """Names (`name:tag` for images) in the order the table shows them."""
    grid = table(app)
    rows = [grid.row(key) for key in grid.visible_keys]
    if isinstance(app.screen, ImagesScreen):
        return [f"{row.name}:{row.tag}" for row in rows]
    return [row.name for row in rows]


def key_of_name(app: ChutesApp, name: str) -> str:
    grid = table(app)
    for key in grid.visible_keys:
        row = grid.row(key)
        label = f"{row.name}:{row.tag}" if isinstance(row, ImageRow) else row.name
        if label == name:
            return key
    raise AssertionError(f"{name} is not in the table: {names(app)}")


def row_text(app: ChutesApp, key: str) -> str:
    """The table line of a row as painted, when the row is on screen."""
    grid = table(app)
    y = grid.visible_keys.index(key) + 1 - int(grid.scroll_y)  # line 0 is the header
    return "".join(segment.text for segment in grid.render_line(y))


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*["space" if char == " " else char for char in text])


def api_get(box: Sandbox, path: str, user: str = "demo") -> httpx.Response:
    with box.http() as http:
        return http.get(path, headers=box.users[user].key_headers())


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# the chutes list


async def test_chutes_list_shows_the_seed_and_the_header(shared_box: Sandbox) -> None:
    fake = FakeSandbox()
    app = app_for(shared_box, sandbox=fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert isinstance(app.screen, ChutesScreen)
        grid = table(app)
        assert grid.row_count == grid.visible_count == 3
        assert set(names(app)) == SEED_CHUTES
        assert names(app) == sorted(SEED_CHUTES)  # sorted by name, ascending
        assert grid.has_focus
        title = static_text(app, "#title")
        assert "Chutes" in title and "3" in title and "sort: name ▲" in title
        top = header(app)
        for part in ("chutes-tui", "SANDBOX", "demo", "$50.00", LABEL, "● online"):
            assert part in top, (part, top)
        assert "paused" in top  # refresh_interval=0 starts with auto-refresh off
        hello = key_of_name(app, "hello-world")
        assert grid.row(hello).hot and grid.row(hello).instances == 1
        painted = row_text(app, hello)
        for cell in ("hello-world", "HOT", "1x", "$0.20", "1,280", "demo-hello-world"):
            assert cell in painted, (cell, painted)
        assert "cold" in row_text(app, key_of_name(app, "llama-mini"))
    assert fake.stopped == 1  # the session stops the embedded sandbox on exit


async def test_a_standalone_sandbox_is_labelled_and_a_real_api_is_not(shared_box: Sandbox) -> None:
    """Not embedded, but `/users/me` says it is a sandbox: the header says so too."""
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert not app.state.session.is_sandbox
        top = header(app)
        assert "SANDBOX" in top
        assert "demo" in top and "● online" in top and LABEL in top
        account = app.state.account
        assert account is not None
        app.state.account = account.model_copy(update={"permissions": ["developer"]})
        app.screen.query_one(AccountBar).refresh()
        await pilot.pause()
        assert "SANDBOX" not in header(app)


async def test_filter_narrows_and_escape_clears(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        grid = table(app)
        box_input = app.screen.query_one("#filter", Input)
        assert not box_input.display
        await pilot.press("slash")
        assert box_input.display and box_input.has_focus
        await type_text(pilot, "echo")
        assert grid.visible_count == 1 and grid.row_count == 3
        assert names(app) == ["echo-stream"]
        title = static_text(app, "#title")
        assert "1 of 3" in title and "filter: echo" in title
        await pilot.press("escape")
        assert grid.visible_count == 3
        assert "filter" not in static_text(app, "#title")
        assert not box_input.display and grid.has_focus


async def test_filter_kept_after_enter_then_escape_clears_from_the_table(
    shared_box: Sandbox,
) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        grid = table(app)
        await pilot.press("slash")
        await type_text(pilot, "zzz")
        await pilot.press("enter")
        assert grid.has_focus and grid.visible_count == 0
        assert "Nothing matches “zzz”" in static_text(app, "#empty")
        await pilot.press("escape")
        assert grid.visible_count == 3
        assert not app.screen.query_one("#empty", Static).display


async def test_sort_keys_change_the_order_and_keep_the_cursor(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        grid = table(app)
        assert names(app) == ["echo-stream", "hello-world", "llama-mini"]
        await pilot.press("S")  # reverse the name order
        assert grid.sort_column == 0 and grid.sort_reverse
        assert names(app) == ["llama-mini", "hello-world", "echo-stream"]
        await pilot.press("S", "s")  # ascending again, then the next column: hot first
        assert grid.sort_column == 1 and not grid.sort_reverse
        assert names(app)[0] == "hello-world"
        await pilot.press("s")  # instances, ascending: the hot chute's one instance last
        assert grid.sort_column == 2
        assert names(app)[-1] == "hello-world"
        cursor = grid.cursor_key
        await pilot.press("s", "S")
        assert grid.cursor_key == cursor  # sorting moves the row, not the selection
        assert grid.sort_column == 3 and grid.sort_reverse


async def test_sort_keys_update_the_title(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert "sort: name ▲" in static_text(app, "#title")
        await pilot.press("S")
        assert "sort: name ▼" in static_text(app, "#title")
        await pilot.press("s")
        assert "sort: status ▼" in static_text(app, "#title")


async def test_cursor_keys_move_the_selection(shared_box: Sandbox) -> None:
    seen: list[VirtualTable.Highlighted] = []

    def hook(message: Any) -> None:
        # the hook sees a message at every widget it bubbles through: keep each once
        if isinstance(message, VirtualTable.Highlighted) and not any(
            message is old for old in seen
        ):
            seen.append(message)

    app = app_for(shared_box)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_loaded(pilot)
        grid = table(app)
        order = grid.visible_keys
        assert grid.cursor_key == order[0]
        await pilot.press("j")
        assert grid.cursor_key == order[1]
        await pilot.press("G")
        assert grid.cursor_key == order[2]
        await pilot.press("j")  # stays at the bottom
        assert grid.cursor_key == order[2]
        await pilot.press("k")
        assert grid.cursor_key == order[1]
        await pilot.press("g")
        assert grid.cursor_key == order[0]
        await pilot.press("k")
        assert grid.cursor_key == order[0]
        await pilot.press("down", "end", "home")
        assert grid.cursor_key == order[0]
        await pilot.pause()
        # every move announced the row it landed on, in order (even when it stayed put)
        moves = [order[1], order[2], order[2], order[1], order[0], order[0]]
        moves += [order[1], order[2], order[0]]
        assert [message.key for message in seen][-len(moves) :] == moves


async def test_c_copies_the_selected_id(
    shared_box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(shared_box)
    notes = Notes(app)
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("j", "c")
        assert copied == [table(app).visible_keys[1]]
        assert notes.any("Copied chute id")


# the chute detail screen


async def test_enter_opens_the_detail_with_its_tabs(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("j")  # hello-world: the second by name
        hello_id = table(app).cursor_key
        assert table(app).row(hello_id).name == "hello-world"
        await pilot.press("enter")
        assert isinstance(app.screen, ChuteDetailScreen)
        screen = app.screen
        await wait_for(pilot, lambda: screen.chute is not None, "the chute to load")
        facts = static_text(app, "#overview-facts")
        for fact in (
            "HOT, 1 instance",
            "Says hello back",
            "hello:0.1 (built and pushed)",
            "demo",
            "$0.20/hour per instance",
            "16 GB per GPU",
            "1,280",
            "demo-hello-world",
            hello_id,
        ):
            assert fact in facts, (fact, facts)
        assert "hello-world" in static_text(app, "#title")

        tabs = screen.query_one("#tabs", TabbedContent)
        tabs.active = "instances"
        await pilot.pause()
        instances = screen.query_one("#instances-table", DataTable)
        assert instances.row_count == 1
        # the API names an instance's GPU only in quick warmups: the requirement, until then
        assert instances.get_row_at(0)[1:5] == ["us-east", "1× one of 10", "yes", "yes"]

        cords = screen.query_one("#cords-table", DataTable)
        assert cords.get_row_at(0)[:3] == ["echo", "POST", "/echo"]

        tabs.active = "code"
        await wait_for(pilot, lambda: screen._code_loaded, "the source to load")
        code = static_text(app, "#code-view")
        assert 'name="hello-world"' in code and "async def echo" in code

        tabs.active = "shares"
        await wait_for(
            pilot, lambda: static_text(app, "#shares-view").strip(), "the shares to load"
        )
        assert "Not shared with anyone" in static_text(app, "#shares-view")

        await pilot.press("escape")
        assert isinstance(app.screen, ChutesScreen)
        assert table(app).cursor_key == hello_id


async def test_detail_tabs_switch_by_keyboard(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ChuteDetailScreen)
        await wait_for(pilot, lambda: screen.chute is not None, "the chute to load")
        tabs = screen.query_one("#tabs", TabbedContent)
        assert type(app.focused).__name__ == "ContentTabs"  # the tab strip has the focus
        await pilot.press("right", "right", "right")
        assert tabs.active == "code"
        await wait_for(pilot, lambda: screen._code_loaded, "the source to load")
        assert "echo-stream" in static_text(app, "#code-view")


async def test_detail_c_copies_and_q_does_not_quit(
    shared_box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(shared_box)
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        key = table(app).cursor_key
        await pilot.press("enter")
        screen = app.screen
        await wait_for(pilot, lambda: screen.chute is not None, "the chute to load")
        await pilot.press("c")
        assert copied == [key]
        await pilot.press("q", "1", "2")  # neither quits nor switches lists from a detail
        assert app.is_running and app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, ChutesScreen)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def test_detail_of_a_missing_chute_says_so(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("o")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "nope")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ChuteDetailScreen)
        await wait_for(
            pilot, lambda: "esc to go back" in static_text(app, "#overview-facts"), "the error"
        )
        assert "nope" in static_text(app, "#title")
        await pilot.press("escape")
        assert isinstance(app.screen, ChutesScreen)


# the images list


async def test_images_list_shows_status_and_the_detail_pane(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2")
        assert isinstance(app.screen, ImagesScreen)
        grid = table(app)
        assert set(names(app)) == SEED_IMAGES
        assert [column.title for column in grid.columns][:3] == ["NAME", "TAG", "STATUS"]
        statuses = {
            f"{grid.row(k).name}:{grid.row(k).tag}": grid.row(k).status for k in grid.visible_keys
        }
        assert statuses["hello:0.1"] == "built and pushed"
        assert statuses["tts:0.2"] == "building"
        assert statuses["next:0.3"] == "pending build"
        assert statuses["broken:0.1"].startswith("error:")
        for name, shown in (("tts:0.2", "building"), ("next:0.3", "pending build")):
            painted = row_text(app, key_of_name(app, name))
            assert "demo/" + name.split(":")[0] in painted and shown in painted, painted
        title = static_text(app, "#title")
        assert "Images" in title and "public images: hidden (i)" in title

        first = grid.row(grid.cursor_key)
        detail = static_text(app, "#detail")
        assert f"demo/{first.name}:{first.tag}" in detail
        assert first.image_id in detail
        await pilot.press("G")
        last = grid.row(grid.cursor_key)
        detail = static_text(app, "#detail")
        assert f"demo/{last.name}:{last.tag}" in detail
        hello_key = key_of_name(app, "hello:0.1")
        grid.move_to(hello_key)
        await pilot.pause()
        detail = static_text(app, "#detail")
        assert "demo/hello:0.1" in detail and "built and pushed" in detail
        used_by = next(line for line in detail.splitlines() if "used by" in line.lower())
        assert "hello-world" in used_by and "echo-stream" in used_by
        await pilot.press("enter")  # opens the image's build log
        await wait_for(pilot, lambda: isinstance(app.screen, BuildScreen), "the build log")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the list again")
        assert table(app).has_focus
        await pilot.press("1")
        assert isinstance(app.screen, ChutesScreen)
        assert len(app.screen_stack) == 1


async def test_i_toggles_the_public_images(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2")
        await pilot.press("i")
        assert app.state.include_public_images
        await wait_for(
            pilot, lambda: table(app).row_count == 11 and settled(app), "the public images"
        )
        assert set(names(app)) == SEED_IMAGES | PUBLIC_IMAGES
        assert "public images: shown" in static_text(app, "#title")
        vllm = key_of_name(app, "vllm:0.10.1")
        row = table(app).row(vllm)
        assert row.public and row.owner == "chutes"
        assert table(app).move_to(vllm)
        await pilot.press("x")  # someone else's: no dialog, just a word of explanation
        assert isinstance(app.screen, ImagesScreen)
        assert notes.any("chutes/vllm:0.10.1 belongs to someone else")
        await pilot.press("i")
        await wait_for(pilot, lambda: table(app).row_count == 4 and settled(app), "own only")
        assert set(names(app)) == SEED_IMAGES


async def test_x_deletes_an_unused_image_after_y(own_box: Sandbox) -> None:
    app = app_for(own_box)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2")
        image_id = key_of_name(app, "next:0.3")
        await pilot.press("slash")
        await type_text(pilot, "pend")
        await pilot.press("enter")
        assert table(app).cursor_key == image_id
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "demo/next:0.3" in plain(dialog.body) and image_id in plain(dialog.body)
        await pilot.press("y")
        assert isinstance(app.screen, ImagesScreen)
        await wait_for(pilot, lambda: table(app).row(image_id) is None, "the row to go")
        assert table(app).row_count == 3
        assert api_get(own_box, f"/images/{image_id}").status_code == 404
        assert notes.any("Deleted image demo/next:0.3")


async def test_x_on_an_image_in_use_explains_and_deletes_nothing(own_box: Sandbox) -> None:
    app = app_for(own_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2")
        image_id = key_of_name(app, "hello:0.1")
        assert table(app).move_to(image_id)
        await pilot.press("x")
        info = app.screen
        assert isinstance(info, InfoScreen)
        body = plain(info.body)
        assert "demo/hello:0.1" in body and "hello-world" in body and "echo-stream" in body
        await pilot.press("y")  # no such key here: nothing happens
        assert app.screen is info
        await pilot.press("escape")
        assert isinstance(app.screen, ImagesScreen)
        assert table(app).row(image_id) is not None
        assert api_get(own_box, f"/images/{image_id}").status_code == 200


# deleting chutes


async def test_x_then_n_cancels_a_chute_delete(own_box: Sandbox) -> None:
    app = app_for(own_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        key = key_of_name(app, "llama-mini")
        table(app).move_to(key)
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "llama-mini" in plain(dialog.body) and key in plain(dialog.body)
        await pilot.press("n")
        assert isinstance(app.screen, ChutesScreen)
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ChutesScreen)
        await pilot.pause(0.2)
        assert table(app).row_count == 3
        assert api_get(own_box, f"/chutes/{key}").status_code == 200


async def test_x_then_y_deletes_a_chute(own_box: Sandbox) -> None:
    updates: list[str] = []

    def hook(message: Any) -> None:
        if isinstance(message, FeedUpdated):
            updates.append(message.kind)

    app = app_for(own_box)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_loaded(pilot)
        table(app).move_to(key_of_name(app, "llama-mini"))  # cold: nothing runs
        await pilot.pause()
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert "It has no running instance, and every share" in plain(app.screen.body)
        await pilot.press("escape")
        key = key_of_name(app, "hello-world")
        table(app).move_to(key)
        await pilot.pause()
        updates.clear()
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "Its running instance stops" in plain(dialog.body)
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row(key) is None, "the chute to go")
        assert set(names(app)) == SEED_CHUTES - {"hello-world"}
        assert table(app).cursor_key is not None
        assert {"chutes", "images"} <= set(updates)  # both lists are refreshed
        assert api_get(own_box, f"/chutes/{key}").status_code == 404


# chutes shared with the user


async def test_o_opens_a_shared_chute_and_remembers_it(
    own_box: Sandbox, private_dirs: Path
) -> None:
    app = app_for(own_box, "alice")
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert table(app).row_count == 0
        assert "No chutes yet" in static_text(app, "#empty")
        await pilot.press("c", "x")  # nothing selected: a warning each, no dialog
        assert isinstance(app.screen, ChutesScreen)
        assert notes.titled("") and notes.any("No chute selected.")
        await pilot.press("o")
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        await type_text(pilot, "echo-stream")
        assert prompt.query_one(Input).value == "echo-stream"
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, ChuteDetailScreen)
        await wait_for(pilot, lambda: detail.chute is not None, "the shared chute")
        chute_id = detail.chute.chute_id
        facts = static_text(app, "#overview-facts")
        assert "Streams your words back" in facts and "demo" in facts
        state = private_dirs / ".local" / "state" / "chutes-tui" / "opened-chutes.json"
        assert json.loads(state.read_text()) == [chute_id]

        await pilot.press("escape")
        await pilot.press("r")
        await wait_for(pilot, lambda: table(app).row(chute_id) is not None, "the shared chute")
        row = table(app).row(chute_id)
        assert row.shared and row.name == "echo-stream"
        assert "echo-stream (shared)" in row_text(app, chute_id)
        await pilot.press("x")  # not theirs to delete
        assert isinstance(app.screen, ChutesScreen)
        assert notes.any("only its owner")

    # a new session lists it from the start
    again = app_for(own_box, "alice")
    async with again.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert names(again) == ["echo-stream"]
        assert table(again).row(chute_id).shared


# refresh, pause, help, quit, palette


async def test_r_refreshes_everything(own_box: Sandbox) -> None:
    updates: list[str] = []

    def hook(message: Any) -> None:
        if isinstance(message, FeedUpdated):
            updates.append(message.kind)

    app = app_for(own_box)
    notes = Notes(app)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_loaded(pilot)
        llama = key_of_name(app, "llama-mini")
        with own_box.http() as http:
            reply = http.delete(f"/chutes/{llama}", headers=own_box.users["demo"].key_headers())
            assert reply.status_code == 200
        await pilot.pause(0.2)
        assert table(app).row(llama) is not None  # no auto-refresh: still there
        before = len(updates)
        await pilot.press("r")
        assert notes.any("Refreshing")
        await wait_for(pilot, lambda: table(app).row(llama) is None, "the refresh")
        assert {"chutes", "images"} <= set(updates[before:])


async def test_p_toggles_auto_refresh(shared_box: Sandbox) -> None:
    app = app_for(shared_box, refresh_interval=30)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.refreshing and "paused" not in header(app)
        await pilot.press("p")
        assert not app.refreshing
        assert "auto-refresh paused" in header(app)
        assert notes.any("Auto-refresh paused")
        await pilot.press("p")
        assert app.refreshing and "paused" not in header(app)
        assert notes.any("Auto-refresh every 30 s")


async def test_p_turns_auto_refresh_on_when_it_started_off(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert not app.refreshing and "auto-refresh paused" in header(app)
        await pilot.press("p")
        assert app.refreshing and app.refresh_interval == 10
        assert "paused" not in header(app)


async def test_help_lists_the_keys_with_their_ids(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        text = "\n".join(plain(s.content) for s in help_screen.query(Static))
        for description, binding_id in (
            ("Quit", "app.quit"),
            ("Help", "app.help"),
            ("Images", "app.images"),
            ("Refresh", "app.refresh"),
            ("Pause", "app.pause"),
            ("Filter", "list.filter"),
            ("Copy id", "list.copy"),
            ("Delete", "list.delete"),
            ("Open by name", "chutes.open_by_name"),
            ("Sort", "table.sort"),
            ("Open", "table.select"),
        ):
            assert description in text and binding_id in text, (description, binding_id)
        assert "ctrl+p" in text and "Command palette" in text
        await pilot.press("escape")
        assert isinstance(app.screen, ChutesScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # closes help, does not quit
        assert isinstance(app.screen, ChutesScreen) and app.is_running

        await pilot.press("2", "question_mark")
        text = "\n".join(plain(s.content) for s in app.screen.query(Static))
        assert "images.include_public" in text and "chutes.open_by_name" not in text
        await pilot.press("question_mark")
        assert isinstance(app.screen, ImagesScreen)


async def test_help_on_the_detail_lists_only_keys_that_work(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, ChuteDetailScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(plain(s.content) for s in app.screen.query(Static))
        assert "detail.back" in text and "detail.copy" in text and "detail.reload" in text
        for binding_id in ("app.quit", "app.chutes", "app.images"):
            assert binding_id not in text, binding_id


async def test_q_quits_from_the_list(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2", "q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert app.return_code in (0, None)


async def test_q_in_the_filter_box_types_a_q(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash", "q")
        assert app.is_running
        assert app.screen.query_one("#filter", Input).value == "q"


async def test_palette_offers_actions_for_the_selection(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        table(app).move_to(key_of_name(app, "hello-world"))
        await pilot.press("ctrl+p")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await type_text(pilot, "hello")
        await wait_for(pilot, lambda: any("hello-world" in p for p in offered(palette)), "the hits")
        offered_now = " | ".join(offered(palette))
        for title in (
            "Open chute hello-world",
            "Copy id of chute hello-world",
            "Live view of chute hello-world",
        ):
            assert title in offered_now, offered_now
        await pilot.press("enter")  # the best hit: open it
        await wait_for(
            pilot, lambda: isinstance(app.screen, ChuteDetailScreen), "the detail screen"
        )
        assert app.screen.ref == key_of_name_from_feed(app, "hello-world")


def offered(palette: Any) -> list[str]:
    """The commands the palette lists right now, best first (each title, newline, help)."""
    found = palette.query_one("CommandList")
    return [plain(found.get_option_at_index(i).prompt) for i in range(found.option_count)] or [""]


def key_of_name_from_feed(app: ChutesApp, name: str) -> str:
    return next(row.chute_id for row in app.state.chutes.rows if row.name == name)


async def test_palette_goes_to_images(shared_box: Sandbox) -> None:
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("ctrl+p")
        palette = app.screen
        await type_text(pilot, "images")
        await wait_for(
            pilot, lambda: offered(palette)[0].startswith("Go to images"), "the best hit"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ImagesScreen), "the images list")


# faults


async def test_unreachable_api_keeps_the_app_up() -> None:
    app = make_app(closed_port_url(), "cpk_unused", retries=0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state.chutes.error, "the first failure")
        await wait_for(
            pilot, lambda: "Cannot load chutes" in static_text(app, "#empty"), "the message"
        )
        empty = static_text(app, "#empty")
        assert "cannot reach the Chutes API" in empty and "Press r to retry now" in empty
        assert "offline, retrying" in header(app)
        assert not app.screen.query_one("#body").display
        await pilot.press("2")
        await wait_for(
            pilot, lambda: "Cannot load images" in static_text(app, "#empty"), "images too"
        )
        await pilot.press("r", "question_mark")
        assert isinstance(app.screen, HelpScreen) and app.is_running


async def test_rejected_api_key_is_an_account_problem(shared_box: Sandbox) -> None:
    app = make_app(shared_box.url, "cpk_" + "0" * 32 + "." + "0" * 32 + ".nope", retries=0)
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state.connection == "account problem", "the 401")
        await wait_for(pilot, lambda: settled(app) or app.state.chutes.error, "the lists")
        await pilot.pause()
        assert "account problem" in header(app)
        problems = notes.titled("Account problem")
        assert len(problems) == 1  # once, not once per failed request
        assert "API key" in problems[0] and "chutes-tui paths" in problems[0]
        assert "Cannot load chutes" in static_text(app, "#empty")


async def test_failed_refresh_keeps_rows_and_marks_them_stale(tmp_path: Path) -> None:
    server = start_sandbox(tmp_path / "box", speed=SPEED)
    app = app_for(server, retries=0)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot)
            keys = table(app).visible_keys
            server.running.stop()
            await pilot.press("r")
            await wait_for(pilot, lambda: app.state.stale_age() is not None, "the failed refresh")
            await wait_for(pilot, lambda: settled(app), "the refreshes to finish")
            await pilot.pause()
            assert table(app).visible_keys == keys
            top = header(app)
            assert "stale" in top and "offline" in top
            assert not app.screen.query_one("#empty", Static).display
    finally:
        server.running.stop()


async def test_quitting_stops_the_refresh_timers_first(shared_box: Sandbox) -> None:
    app = app_for(shared_box, refresh_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app._refresh_timers
        await pilot.press("q")
        assert not app._refresh_timers  # stopped while the screens were still there
    assert app.return_code == 0 and not app._exit_renderables


async def test_no_callback_touches_a_screen_after_shutdown(shared_box: Sandbox) -> None:
    """A timer that fires while Textual takes the screens down finds the app gone, quietly;
    a worker cancelled before it started leaves no coroutine that was never awaited."""
    import gc
    import warnings

    app = app_for(shared_box, refresh_interval=0.05)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        async with app.run_test(size=SIZE) as pilot:
            await wait_loaded(pilot)
            for _ in range(3):
                app.refresh_feed("chutes")  # workers in flight as the app quits
                app.load_account()
        gc.collect()
    assert not [w for w in seen if "never awaited" in str(w.message)], seen
    assert not app.screen_stack and app.shutting_down
    for kind in ("chutes", "images", "shares"):
        app._timed_refresh(kind)  # read self.screen here before: ScreenStackError
        app._schedule(kind)
    app._tick()
    assert not app._refresh_timers and not app._exit_renderables


async def test_auto_refresh_updates_rows_in_place(own_box: Sandbox) -> None:
    app = app_for(own_box, refresh_interval=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        grid = table(app)
        llama = key_of_name(app, "llama-mini")
        assert grid.move_to(llama)
        hello = key_of_name(app, "hello-world")
        headers = own_box.users["demo"].key_headers()
        async with httpx.AsyncClient(base_url=own_box.url, timeout=10) as http:
            reply = await http.post(
                "/chutes/?accept_fee=true",
                json=deploy_body(name="aaa-new"),
                headers=headers,
            )
            assert reply.status_code == 200, reply.text
            new_id = reply.json()["chute_id"]
            await wait_for(pilot, lambda: grid.row(new_id) is not None, "the new chute")
            assert grid.cursor_key == llama
            assert names(app)[0] == "aaa-new"
            reply = await http.delete(f"/chutes/{hello}", headers=headers)
            assert reply.status_code == 200
            await wait_for(pilot, lambda: grid.row(hello) is None, "the deleted chute to go")
        assert grid.cursor_key == llama
        assert set(names(app)) == {"aaa-new", "echo-stream", "llama-mini"}


# the idle app


async def test_an_idle_app_does_not_echo_feed_updates_forever(shared_box: Sandbox) -> None:
    handled: list[FeedUpdated] = []

    def hook(message: Any) -> None:
        if isinstance(message, FeedUpdated) and not any(message is old for old in handled):
            handled.append(message)

    app = app_for(shared_box)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_loaded(pilot)
        await pilot.pause(0.3)
        before = len(handled)
        await pilot.pause(0.5)  # nothing refreshes (refresh_interval=0): nothing to say
        assert len(handled) - before == 0, f"{len(handled) - before} FeedUpdated while idle"


async def test_switch_profile_reconnects_as_that_profile(
    shared_box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs = tmp_path / "prefs.toml"
    alice = shared_box.users["alice"]
    prefs.write_text(f'[profiles.alice]\nconfig = "{alice.config_path}"\n')
    monkeypatch.setenv("CHUTES_TUI_CONFIG", str(prefs))
    app = app_for(shared_box)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        assert app.state.account.username == "demo"
        app.switch_profile("alice")
        await wait_for(
            pilot,
            lambda: app.state.account is not None and app.state.account.username == "alice",
            "alice's account",
        )
        await wait_for(pilot, lambda: settled(app, "chutes"), "alice's chutes")
        assert names(app) == []
        assert "alice" in header(app)
        app.switch_profile("nobody")
        await pilot.pause()
        assert app.state.account.username == "alice"  # an unknown profile changes nothing


async def test_a_theme_picked_in_the_palette_is_saved(
    shared_box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs = tmp_path / "prefs.toml"
    prefs.write_text('# mine\nrefresh_interval = 30\n\n[profiles.alice]\nconfig = "a.ini"\n')
    monkeypatch.setenv("CHUTES_TUI_CONFIG", str(prefs))
    app = app_for(shared_box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.theme == "chutes"
        await pilot.press("ctrl+p")
        await pilot.press(*"theme")
        await pilot.press("enter")  # "Theme": the list of themes
        await pilot.pause()
        await pilot.press(*"nord")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "nord", "the theme to change")
    saved = config.load_prefs()
    assert saved["theme"] == "nord"
    assert saved["refresh_interval"] == 30 and saved["profiles"] == {"alice": {"config": "a.ini"}}
    assert prefs.read_text().startswith("# mine\n")
    options = DashboardOptions.resolve(config.load_prefs())
    assert ChutesApp(app.state.session, options).theme == "nord"
