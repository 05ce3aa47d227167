"""The dashboard's one owner of state: options resolved once, profile switches, what it knows.

Each test here pins a finding of a hands-on trial; the first failed with the app ending.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chutes_tui import config
from chutes_tui.client.signing import Credentials
from chutes_tui.config import Connection
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.keymap import conflicts
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
from chutes_tui.tui.screens.live import LiveScreen
from chutes_tui.tui.screens.resources import ChutesScreen
from chutes_tui.tui.session import Session
from tests.conftest import Sandbox
from tests.test_tui import (  # noqa: F401 - fixtures are used by name
    Notes,
    app_for,
    header,
    private_dirs,
    settled,
    static_text,
    table,
    wait_for,
    wait_loaded,
)

SIZE = (120, 36)


def demo_app(box: Sandbox, options: DashboardOptions) -> ChutesApp:
    """The dashboard as demo (API key), with these options."""
    key = box.users["demo"].api_key
    connection = Connection(base_url=box.url, credentials=Credentials(api_key=key))
    return ChutesApp(Session(connection), options)


def test_a_typed_refresh_wins_over_the_preferences_even_zero() -> None:
    prefs = {"refresh_interval": 30, "theme": "nord", "live": {"poll_interval": 2}}
    assert DashboardOptions.resolve(prefs, env={}).refresh_interval == 30
    assert DashboardOptions.resolve(prefs, refresh=0, env={}).refresh_interval == 0  # was 30
    assert DashboardOptions.resolve({}, env={}).refresh_interval == 10
    options = DashboardOptions.resolve(prefs, poll=7, env={"CHUTES_EVENTS_URL": "http://e"})
    assert options.live == {"poll_interval": 7, "events_url": "http://e"}
    assert options.theme == "nord"
    typed = DashboardOptions.resolve({"live": {"events_url": "http://p"}}, events_url="auto")
    assert typed.live["events_url"] == "auto"  # flag, then environment, then preferences


async def test_refresh_zero_means_no_auto_refresh(box: Sandbox) -> None:
    app = demo_app(box, DashboardOptions.resolve({"refresh_interval": 1}, refresh=0, env={}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert not app.refreshing and not app._refresh_timers
        assert "auto-refresh paused" in header(app)


async def test_switching_profile_in_the_live_view_starts_over(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefs = tmp_path / "prefs.toml"
    prefs.write_text(f'[profiles.alice]\napi_url = "{box.url}"\napi_key_env = "ALICE_KEY"\n')
    monkeypatch.setenv("CHUTES_TUI_CONFIG", str(prefs))
    monkeypatch.setenv("ALICE_KEY", box.users["alice"].api_key)
    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        old = app.state
        app.open_live("hello-world")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), "the live view")
        await wait_for(pilot, lambda: app.screen.live is not None, "the chute")
        app.switch_profile("alice")
        await wait_for(
            pilot,
            lambda: app.state.account is not None and app.state.account.username == "alice",
            "alice's account",
        )
        await wait_for(pilot, lambda: settled(app, "chutes"), "alice's chutes")
        assert app.is_running and isinstance(app.screen, ChutesScreen)
        assert len(app.screen_stack) == 1 and app.state is not old
        assert old.client._http.is_closed  # the old client is gone, nothing kept it
        assert "alice" in header(app)
    assert not app._exit_renderables  # nothing ended the app


async def test_a_list_nobody_can_give_is_not_stale_data(box: Sandbox) -> None:
    """Hotkey-only credentials cannot list shares: that is no refresh failure."""
    connection = config.resolve(config_path=box.users["demo"].config_path, env={})
    assert connection.credentials.hotkey and not connection.credentials.api_key
    app = ChutesApp(Session(connection), DashboardOptions(refresh_interval=0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.state.shares.unavailable
        await pilot.pause(1.2)  # the header clock ticks
        assert app.state.stale_age() is None and "stale" not in header(app)


async def test_opening_a_shared_chute_by_name_lists_it_at_once(sandbox: Sandbox) -> None:
    with sandbox.http() as http:
        body = b'{"chute_id_or_name":"echo-stream","user_id_or_name":"bob"}'
        reply = http.post(
            "/chutes/share", content=body, headers=sandbox.users["demo"].signed(body=body)
        )
        assert reply.status_code == 200
    app = app_for(sandbox, user="bob")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert table(app).row_count == 0
        await pilot.press("o", *"demo/echo-stream", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChuteDetailScreen), "the detail")
        await wait_for(pilot, lambda: app.screen.chute is not None, "the chute")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 1, "the chute in the list")
        (row,) = app.state.chutes.rows
        assert row.shared and row.name == "echo-stream"


async def test_a_remembered_chute_that_is_gone_is_forgotten(sandbox: Sandbox) -> None:
    app = app_for(sandbox, user="bob")
    app.state.remembered.remember("00000000-0000-4000-8000-000000000000")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
    assert app.state.remembered.refs() == []


async def test_the_chute_detail_shares_with_a(box: Sandbox) -> None:
    from chutes_tui.tui.screens.shares import ShareScreen

    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        table(app).move_to(
            next(r.chute_id for r in app.state.chutes.rows if r.name == "llama-mini")
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.chute is not None, "the chute")
        await wait_for(pilot, lambda: "Press a" in static_text(app, "#shares-view"), "the tab")
        assert "--no-ui" not in static_text(app, "#shares-view")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ShareScreen), "the share dialog")


def test_a_remap_that_takes_a_key_is_reported() -> None:
    warnings = conflicts({"list.delete": "o"})  # `o` opens by name on the chutes list
    assert any("takes o from chutes.open_by_name" in warning for warning in warnings), warnings
    assert conflicts({"list.delete": "ctrl+d"}) == []
    assert conflicts({"no.such": "z"}) == [
        "no.such is no binding id (the help screen, ?, lists them)"
    ]


async def test_the_app_warns_about_a_conflicting_remap_at_start(box: Sandbox) -> None:
    app = demo_app(box, DashboardOptions(refresh_interval=0, keys={"list.delete": "o"}))
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert notes.any("takes o from chutes.open_by_name")


async def test_ctrl_q_quits_from_anywhere_and_help_says_how_to_close(box: Sandbox) -> None:
    from chutes_tui.tui.screens.deploy import DeployScreen
    from chutes_tui.tui.screens.help import HelpScreen

    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "esc closes this" in static_text(app, "#dialog-title")
        await pilot.press("escape", "d")
        assert isinstance(app.screen, DeployScreen)
        await pilot.press("q")  # a letter on this screen, never a quit
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def test_at_80x24_the_sort_arrow_shows_and_nothing_scrolls_sideways(box: Sandbox) -> None:
    app = app_for(box)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("s")  # sort by status: a 6-cell column
        head = "".join(segment.text for segment in table(app).render_line(0))
        assert "STA… ▲" in head or "STATUS ▲" in head, head
        await pilot.press("3")
        await wait_for(pilot, lambda: table(app).row_count >= 1, "the shares")
        grid = table(app)
        assert grid.virtual_size.width <= grid.size.width  # no horizontal scrollbar


def footer_overflow(app: ChutesApp) -> list[str]:
    """The screen's footers that would cut a key (wider than the terminal), by screen name."""
    from textual.widgets import Footer

    return [
        f"{type(app.screen).__name__} ({type(app.screen.focused).__name__}): "
        f"{footer.virtual_size.width} > {footer.size.width}"
        for footer in app.screen.query(Footer)
        if footer.max_scroll_x > 0
    ]


async def test_at_80x24_every_footer_fits(box: Sandbox) -> None:
    from chutes_tui.tui.screens.account import AccountScreen
    from chutes_tui.tui.screens.build import BuildScreen
    from chutes_tui.tui.screens.call import CallScreen
    from chutes_tui.tui.screens.deploy import DeployScreen
    from chutes_tui.tui.screens.resources import ImagesScreen
    from chutes_tui.tui.screens.shares import SharesScreen

    app = app_for(box)
    cut: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)

        async def visit(keys: tuple[str, ...], screen: type, what: str) -> None:
            await pilot.press(*keys)
            await wait_for(pilot, lambda: isinstance(app.screen, screen), what)
            await pilot.pause()
            cut.extend(footer_overflow(app))

        await visit((), ChutesScreen, "the chutes")
        await visit(("2",), ImagesScreen, "the images")
        await visit(("enter",), BuildScreen, "an image's build log")
        await visit(("escape", "3"), SharesScreen, "the shares")
        await visit(("1", "enter"), ChuteDetailScreen, "a chute's detail")
        await visit(("i",), CallScreen, "the call screen")
        await visit(("escape", "escape", "d"), DeployScreen, "the deploy wizard")
        await visit(("escape", "4"), AccountScreen, "the spend tab")
        for tab in ("keys", "secrets"):
            await visit(("right",), AccountScreen, f"the {tab} tab")
            await pilot.press("tab")  # the tab's own list has the focus, with its keys
            await pilot.pause()
            cut.extend(footer_overflow(app))
    assert not cut, cut


BLOCKS = "▏▎▍▌▋▊▉"  # partial blocks: scrollbar and border pieces


def stray_blocks(app: ChutesApp) -> int:
    """Partial-block glyphs on screen, less the one the footer draws before ^p palette."""
    import html

    screen = html.unescape(app.export_screenshot())
    return sum(screen.count(glyph) for glyph in BLOCKS) - 1


async def test_at_80x24_empty_lists_and_tabs_draw_no_stray_glyphs(box: Sandbox) -> None:
    from chutes_tui.tui.screens.resources import ImagesScreen
    from chutes_tui.tui.screens.shares import SharesScreen

    app = app_for(box, "bob")  # bob has no chutes, no images and no shares
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        assert not app.state.chutes.rows
        assert stray_blocks(app) == 0
        for key, screen in (("2", ImagesScreen), ("3", SharesScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda screen=screen: isinstance(app.screen, screen), key)
            await wait_for(pilot, lambda: settled(app), "the lists")
            await pilot.pause()
            assert stray_blocks(app) == 0, screen.__name__
    app = app_for(box)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot)
        table(app).move_to(
            next(r.chute_id for r in app.state.chutes.rows if r.name == "llama-mini")
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChuteDetailScreen), "the detail")
        app.screen.query_one("#tabs").active = "instances"
        await pilot.pause(0.3)
        assert not app.screen.query_one("#instances-table").row_count  # a cold chute: none
        assert stray_blocks(app) == 0


async def test_images_sort_by_owner_then_name(box: Sandbox) -> None:
    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("2", "i")
        await wait_for(pilot, lambda: table(app).row_count > 5 and settled(app), "public images")
        grid = table(app)
        owners = [grid.row(key).owner for key in grid.visible_keys]
        assert owners == sorted(owners), owners  # chutes/… before demo/…


async def test_the_palette_offers_what_the_screen_allows_and_nothing_it_refuses(
    box: Sandbox,
) -> None:
    from textual.command import CommandPalette

    from tests.test_tui import offered

    app = app_for(box)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        table(app).move_to(
            next(r.chute_id for r in app.state.chutes.rows if r.name == "llama-mini")
        )
        await pilot.press("ctrl+p")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.pause(0.3)
        titles = {line.split("\n")[0] for line in offered(palette)}
        for wanted in (
            "Go to shares",
            "Go to images",
            "Deploy",
            "Open by name",
            "Share chute llama-mini",
            "Live view of chute llama-mini",
            "Delete chute llama-mini",
        ):
            assert wanted in titles, (wanted, titles)
        assert "Go to chutes" not in titles  # already here: it would do nothing
        await pilot.press("escape")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChuteDetailScreen), "the detail")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        titles = {line.split("\n")[0] for line in offered(app.screen)}
        assert "Share" in titles and "Live" in titles
        refused = {"Go to images", "Go to shares", "Delete chute llama-mini"}
        assert not refused & titles, refused & titles


async def test_esc_on_shares_clears_the_marks(sandbox: Sandbox) -> None:
    from chutes_tui.tui.screens.shares import SharesScreen

    app = app_for(sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, SharesScreen), "the shares")
        await wait_for(pilot, lambda: table(app).row_count >= 1, "a share")
        await pilot.press("space")
        screen = app.screen
        assert isinstance(screen, SharesScreen) and screen.marked
        await pilot.press("escape")
        assert not screen.marked and isinstance(app.screen, SharesScreen)
