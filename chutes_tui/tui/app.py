"""The dashboard application: owns the session state, the data feeds and the refresh schedule.

Workers fetch and post messages; screens read `self.state` (one `DashboardState`, owned
here) and ask the app to act. A profile switch replaces the state whole.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from chutes_tui import config
from chutes_tui.client import debuglog
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    ConfigError,
    NotFound,
    TimedOut,
    Unreachable,
    Unsupported,
    redact,
)
from chutes_tui.core import locations
from chutes_tui.tui.commands import ChutesCommands
from chutes_tui.tui.messages import AccountUpdated, FeedUpdated
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.rows import ChuteRow, ImageRow, ShareRow
from chutes_tui.tui.session import Session
from chutes_tui.tui.state import KINDS, DashboardState, Kind
from chutes_tui.tui.theme import HOUSE_THEME

PAGE_SIZE = 500
RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0)
SHOWN_ONLY = {"images": "ImagesScreen", "shares": "SharesScreen"}  # refreshed while visible
LARGE_LIST = 2000
LARGE_LIST_INTERVAL = 30.0


def _has_socketio() -> bool:
    from importlib.util import find_spec

    return find_spec("socketio") is not None


class ChutesApp(App[None]):
    """chutes-tui: images, chutes, and everything about them."""

    CSS_PATH = [locations.styles() / "app.tcss"]
    TITLE = "chutes-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("q", "leave", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("1", "show('chutes')", "Chutes", show=False, id="app.chutes"),
        Binding("2", "show('images')", "Images", show=False, id="app.images"),
        Binding("3", "show('shares')", "Shares", show=False, id="app.shares"),
        Binding("4", "show('account')", "Account", show=False, id="app.account"),
        Binding("r", "refresh", "Refresh", show=False, id="app.refresh"),
        Binding("p", "toggle_auto_refresh", "Pause", show=False, id="app.pause"),
    ]

    COMMANDS = App.COMMANDS | {ChutesCommands}

    def __init__(self, session: Session, options: DashboardOptions | None = None) -> None:
        super().__init__()
        self.state = DashboardState(session, options or DashboardOptions())
        self.refresh_interval = self.state.options.refresh_interval
        self.refreshing = self.refresh_interval > 0
        self._refresh_timers: dict[Kind, Timer] = {}
        self._failures: dict[Kind, int] = {}
        self._clock: Timer | None = None
        self.register_theme(HOUSE_THEME)
        self.theme = self.state.options.theme
        self._saved_theme = self.theme

    # lifecycle

    def get_default_screen(self) -> Screen[Any]:
        from chutes_tui.tui.screens.resources import ChutesScreen

        return ChutesScreen()

    def on_mount(self) -> None:
        if self.state.options.keys:
            from chutes_tui.tui.keymap import conflicts

            self.set_keymap(dict(self.state.options.keys))
            for warning in conflicts(self.state.options.keys):
                self.notify(warning, title="Key remap", severity="warning", timeout=12)
        self._start()
        self._clock = self.set_interval(1.0, self._tick, name="header clock")
        if self.state.options.open_chute:
            self.open_live(self.state.options.open_chute)

    def _start(self) -> None:
        for kind in KINDS:  # lists first: they are what the user waits for
            self.refresh_feed(kind)
        self.load_account()

    def open_live(self, ref: str, replace: bool = False) -> None:
        """The live view of one chute (`replace` swaps it for the current screen)."""
        from chutes_tui.tui.screens.live import LiveOptions, LiveScreen

        options = LiveOptions.from_prefs({"live": dict(self.state.options.live)})
        base_url = self.state.session.connection.base_url
        if options.events_url == "auto":
            from chutes_tui.client.events import events_url

            options.events_url = events_url(base_url)
        elif options.events_url is None and self.state.session.is_sandbox and _has_socketio():
            options.events_url = base_url  # the embedded sandbox serves it too
        screen = LiveScreen(ref, options)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def on_exit_app(self) -> None:
        """Quitting: stop the app's own timers before Textual takes the screens down."""
        self._stop_schedule()

    async def on_unmount(self) -> None:
        self._stop_schedule()
        await self.state.aclose()

    def watch_theme(self, theme: str) -> None:
        """A theme picked in the palette is the theme next time."""
        if not self.is_running or theme == getattr(self, "_saved_theme", theme):
            return
        try:
            config.save_pref("theme", theme)
        except (OSError, ValueError) as error:
            self.notify(f"The theme is not saved: {error}", severity="warning")
            return
        self._saved_theme = theme

    def _stop_schedule(self) -> None:
        if self._clock is not None:
            self._clock.stop()
        for timer in self._refresh_timers.values():
            timer.stop()
        self._refresh_timers.clear()

    @property
    def shutting_down(self) -> bool:
        """Whether the app stopped running: no callback may touch a screen any more."""
        return not self.is_running or not self.screen_stack

    def _tick(self) -> None:
        """Once a second: only the header's ages and countdowns change."""
        if self.shutting_down:
            return
        if self.state.stale_age() is not None or self.state.connection != "online":
            self.post_message(AccountUpdated())

    def _fatal_error(self) -> None:
        """A crash shows one redacted line, never locals (they may hold keys).

        With --debug (CHUTES_TUI_DEBUG=1) the traceback comes too, still without locals.
        Overrides a private Textual method: its promise is pinned by a test.
        """
        import sys
        import traceback

        from rich.text import Text

        error = sys.exc_info()[1]
        text = f"chutes-tui stopped on an unexpected error: {type(error).__name__}: {error}"
        if debuglog.enabled():
            text = traceback.format_exc() + text
        self.bell()
        self._exit_renderables.append(Text(redact(text)))
        self._close_messages_no_wait()

    # the connection: one state for the whole app

    def note_online(self) -> None:
        if self.state.connection != "online":
            self.state.connection = "online"
            if self.state.account is None:
                self.load_account()
            self.post_message(AccountUpdated())

    def note_failure(self, error: ChutesError) -> None:
        """Say what went wrong once per change of state, not on every retry."""
        state = self.state
        previous = state.connection
        if isinstance(error, Unreachable | TimedOut):
            state.connection = "offline, retrying"
            if previous != state.connection:
                self.notify(
                    f"{error.message}\nRetrying in the background.",
                    title="API unreachable",
                    severity="warning",
                    timeout=8,
                )
        elif isinstance(error, AuthError | ConfigError) and error.status in (None, 401):
            state.connection = "account problem"
            if previous != state.connection:
                self.notify(
                    f"{error.message}\nCheck {state.session.connection.where_to_fix};"
                    " `chutes-tui paths` shows where every file lives.",
                    title="Account problem",
                    severity="error",
                    timeout=15,
                )
        else:
            self.notify(error.message, title="Refresh failed", severity="warning", timeout=6)
        self.post_message(AccountUpdated())

    # data

    def load_account(self) -> None:
        self._load_account(self.state)

    # Workers by decorator: the coroutine is made when the worker starts, so one cancelled
    # before it starts (the app quitting) leaves no coroutine that was never awaited.
    @work(group="account", exclusive=True)
    async def _load_account(self, state: DashboardState) -> None:
        try:
            account = await state.client.me()
        except ChutesError as error:
            if state is self.state:
                self.note_failure(error)
            return
        if state is self.state:
            state.account = account
            self.post_message(AccountUpdated())

    def refresh_feed(self, kind: Kind) -> None:
        refresh = {
            "chutes": self._refresh_chutes,
            "images": self._refresh_images,
            "shares": self._refresh_shares,
        }
        refresh[kind](self.state)

    @work(group="feed-chutes", exclusive=True)
    async def _refresh_chutes(self, state: DashboardState) -> None:
        table = state.gpu_table

        async def page(number: int) -> dict[str, Any]:
            return await state.client.list_chutes(page=number, limit=PAGE_SIZE, raw=True)

        def convert(items: list[dict[str, Any]]) -> list[ChuteRow]:
            return [ChuteRow.from_api(item, table) for item in items]

        items = await self._read_pages(state, "chutes", page, convert)
        if items is not None:
            own = convert(items)
            self._loaded(state, "chutes", own + await self._remembered_shared(state, own))

    @work(group="feed-images", exclusive=True)
    async def _refresh_images(self, state: DashboardState) -> None:
        include_public = state.include_public_images

        async def page(number: int) -> dict[str, Any]:
            return await state.client.list_images(
                page=number, limit=PAGE_SIZE, include_public=include_public, raw=True
            )

        def convert(items: list[dict[str, Any]]) -> list[ImageRow]:
            return [ImageRow.from_api(item) for item in items]

        items = await self._read_pages(state, "images", page, convert)
        if items is not None:
            self._loaded(state, "images", convert(items))

    async def _read_pages(
        self,
        state: DashboardState,
        kind: Kind,
        page: Callable[[int], Awaitable[dict[str, Any]]],
        convert: Callable[[list[dict[str, Any]]], list[Any]],
    ) -> list[dict[str, Any]] | None:
        """Every page's items (the first page of a first load shows at once); None on failure."""
        feed = state.feed(kind)
        feed.loading = True
        items: list[dict[str, Any]] = []
        try:
            number = 0
            while True:
                result = await page(number)
                items.extend(result["items"])
                more = bool(result["items"]) and len(items) < result["total"]
                if not feed.loaded and more and state is self.state:
                    feed.rows, feed.loaded_at, feed.partial = convert(items), time.time(), True
                    self.post_message(FeedUpdated(kind))
                if not more:
                    return items
                number += 1
        except ChutesError as error:
            self._failed(state, kind, error)
            return None

    def _loaded(self, state: DashboardState, kind: Kind, rows: list[Any]) -> None:
        if state is not self.state:
            return
        feed = state.feed(kind)
        feed.rows, feed.loaded_at, feed.error = rows, time.time(), None
        feed.loading = feed.partial = False
        self._failures[kind] = 0
        self.note_online()
        self.post_message(FeedUpdated(kind))
        self._schedule(kind)

    def _failed(self, state: DashboardState, kind: Kind, error: ChutesError) -> None:
        if state is not self.state:
            return
        feed = state.feed(kind)
        feed.error = error.message
        feed.loading = feed.partial = False
        self._failures[kind] = self._failures.get(kind, 0) + 1
        self.note_failure(error)
        self.post_message(FeedUpdated(kind))
        self._schedule(kind)

    @work(group="feed-shares", exclusive=True)
    async def _refresh_shares(self, state: DashboardState) -> None:
        """Shares are one unpaged list; an API that cannot list them is not an outage."""
        feed = state.shares
        feed.loading = True
        try:
            shares = await state.client.list_shares()
        except (Unsupported, ConfigError) as error:
            if state is self.state:
                feed.unavailable = error.message
                feed.error, feed.loading = None, False
                feed.loaded_at = feed.loaded_at or time.time()
                self.post_message(FeedUpdated("shares"))
            return  # no point asking again: it will not change while this session lasts
        except ChutesError as error:
            self._failed(state, "shares", error)
            return
        if state is not self.state:
            return
        feed.rows = [
            ShareRow(
                chute_id=share.chute_id,
                shared_to=share.shared_to,
                shared_at=share.shared_at.isoformat() if share.shared_at else "",
                chute=share.chute_id,
                user=share.shared_to,
            )
            for share in shares
        ]
        feed.loaded_at, feed.error, feed.unavailable, feed.loading = time.time(), None, None, False
        self._failures["shares"] = 0
        self.post_message(FeedUpdated("shares"))
        self._schedule("shares")

    async def _remembered_shared(
        self, state: DashboardState, own: list[ChuteRow]
    ) -> list[ChuteRow]:
        """Chutes shared with the user (never listed by the API) that they opened before.

        One the API no longer knows (404) is forgotten.
        """
        known = {row.chute_id for row in own}
        found = []
        for ref in state.remembered.refs():
            if ref in known:
                continue
            try:
                chute = await state.client.get_chute(ref, raw=True)
            except NotFound:
                state.remembered.forget(ref)
                continue
            except ChutesError:
                continue
            if chute["chute_id"] not in known:
                found.append(ChuteRow.from_api(chute, state.gpu_table, shared=True))
                known.add(chute["chute_id"])
        return found

    def show_chute(self, raw: dict[str, Any]) -> None:
        """A chute opened by name appears in the list at once, not at the next refresh."""
        state = self.state
        owner = (raw.get("user") or {}).get("user_id")
        row = ChuteRow.from_api(raw, state.gpu_table, shared=not state.owns(owner))
        if any(existing.chute_id == row.chute_id for existing in state.chutes.rows):
            return
        state.chutes.rows = [*state.chutes.rows, row]
        self.post_message(FeedUpdated("chutes"))

    def _schedule(self, kind: Kind) -> None:
        if (timer := self._refresh_timers.pop(kind, None)) is not None:
            timer.stop()
        if self.shutting_down:
            return
        failures = self._failures.get(kind, 0)
        if failures and not self.state.feed(kind).loaded:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
        elif self.refreshing:
            # A big account costs a full download per refresh: do it less often.
            large = len(self.state.feed(kind).rows) > LARGE_LIST
            delay = (
                max(self.refresh_interval, LARGE_LIST_INTERVAL) if large else self.refresh_interval
            )
        else:
            return
        self._refresh_timers[kind] = self.set_timer(delay, lambda: self._timed_refresh(kind))

    def _timed_refresh(self, kind: Kind) -> None:
        if self.shutting_down:
            return
        if kind in SHOWN_ONLY and type(self.screen).__name__ != SHOWN_ONLY[kind]:
            self._schedule(kind)  # nobody is looking: check again next time
            return
        self.refresh_feed(kind)
        if kind == "chutes":
            self.load_account()  # the balance moves while instances run

    def on_feed_updated(self, message: FeedUpdated) -> None:
        if self.shutting_down:
            return
        self.screen.post_message(FeedUpdated(message.kind))

    def on_account_updated(self, message: AccountUpdated) -> None:
        if self.shutting_down:
            return
        for bar in self.screen.query("AccountBar"):
            bar.refresh()

    # actions

    def action_show(self, kind: str) -> None:
        """Chutes is the base screen; images, shares or the account sit on top; details on
        top of those."""
        from chutes_tui.tui.screens.resources import ImagesScreen
        from chutes_tui.tui.screens.shares import SharesScreen

        screens: dict[str, type[Screen[Any]]] = {"images": ImagesScreen, "shares": SharesScreen}
        if kind == "account":  # imported when asked for: it is not on the way to the lists
            from chutes_tui.tui.screens.account import AccountScreen

            screens["account"] = AccountScreen
        wanted = screens.get(kind)
        if wanted is not None and isinstance(self.screen, wanted):
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if wanted is not None:
            self.push_screen(wanted())

    def action_refresh(self) -> None:
        self.load_account()
        for kind in KINDS:
            self.refresh_feed(kind)
        self.notify("Refreshing…", timeout=1.5)

    def action_toggle_auto_refresh(self) -> None:
        self.refreshing = not self.refreshing
        if self.refresh_interval <= 0:
            self.refresh_interval = 10.0
        for kind in KINDS:
            self._schedule(kind)
        state = f"every {self.refresh_interval:g} s" if self.refreshing else "paused"
        self.notify(f"Auto-refresh {state}", timeout=2)
        self.post_message(AccountUpdated())

    def action_help(self) -> None:
        from chutes_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_leave(self) -> None:
        """`q`: quit, from a top-level list (ctrl+q quits from anywhere)."""
        self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`q` quits only from a top-level list (or its help); nothing switches under a dialog.

        The live view may also switch to a list. ctrl+q (`quit`) always quits.
        """
        from textual.command import CommandPalette

        from chutes_tui.tui.screens.help import HelpScreen
        from chutes_tui.tui.screens.resources import ResourceScreen

        if action in ("leave", "show"):
            from chutes_tui.tui.screens.live import LiveScreen

            screen = self.screen
            if isinstance(screen, CommandPalette) and len(self.screen_stack) > 1:
                screen = self.screen_stack[-2]  # the palette offers what the screen under it does
            # The live view may jump to a list (it stops its streams); it never quits on `q`.
            # The account screen is top-level too (named: importing it costs start-up time).
            if type(screen).__name__ == "AccountScreen":
                return True
            lists = (ResourceScreen, HelpScreen, LiveScreen) if action == "show" else ()
            return isinstance(screen, lists or (ResourceScreen, HelpScreen))
        return True

    def switch_profile(self, name: str) -> None:
        """Start over with another profile: every worker and screen of the old one goes."""
        try:
            connection = config.require_credentials(config.resolve(profile=name))
        except ChutesError as error:
            self.notify(error.message, title=f"Profile {name}", severity="error")
            return
        from chutes_tui.tui.screens.resources import ResourceScreen

        old = self.state
        self.workers.cancel_all()
        self._stop_schedule()
        self._failures.clear()
        self.state = DashboardState(Session(connection), old.options)
        while len(self.screen_stack) > 1:
            self.pop_screen()
        base = self.screen_stack[0]
        if isinstance(base, ResourceScreen):
            base.start_over()
        self.run_worker(self._retire(old), group="retire")
        self._start()
        self._clock = self.set_interval(1.0, self._tick, name="header clock")
        self.post_message(AccountUpdated())
        self.notify(f"Switched to profile {name}: {connection.base_url}")

    async def _retire(self, old: DashboardState) -> None:
        """Close the old client: a worker still unwinding with it gets a clean ChutesError."""
        await old.aclose()
