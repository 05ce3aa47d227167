"""The dashboard application: owns the client, the data feeds and the refresh schedule.

Workers fetch and post messages; screens only read `app.feeds` and ask the app to act.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.timer import Timer

from chutes_tui import config
from chutes_tui.client import debuglog
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    ConfigError,
    NotFound,
    TimedOut,
    Unreachable,
    redact,
)
from chutes_tui.tui.feeds import Feed
from chutes_tui.tui.messages import AccountUpdated, FeedUpdated
from chutes_tui.tui.session import Session
from chutes_tui.tui.theme import HOUSE_THEME

PAGE_SIZE = 500
RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0)
KINDS = ("chutes", "images", "shares")
SHOWN_ONLY = {"images": "ImagesScreen", "shares": "SharesScreen"}  # refreshed while visible
LARGE_LIST = 2000
LARGE_LIST_INTERVAL = 30.0


def _has_socketio() -> bool:
    from importlib.util import find_spec

    return find_spec("socketio") is not None


def styles_dir() -> Path:
    """The stylesheets: packed inside the installed package, or top-level in a checkout."""
    packed = Path(__file__).resolve().parents[1] / "styles"
    return packed if packed.is_dir() else Path(__file__).resolve().parents[2] / "styles"


class ChutesApp(App):
    """chutes-tui: images, chutes, and everything about them."""

    CSS_PATH = [styles_dir() / "app.tcss"]
    TITLE = "chutes-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("1", "show('chutes')", "Chutes", id="app.chutes"),
        Binding("2", "show('images')", "Images", id="app.images"),
        Binding("3", "show('shares')", "Shares", id="app.shares"),
        Binding("r", "refresh", "Refresh", id="app.refresh"),
        Binding("p", "toggle_auto_refresh", "Pause", show=False, id="app.pause"),
    ]

    def __init__(
        self,
        session: Session,
        refresh_interval: float = 10.0,
        prefs: dict[str, Any] | None = None,
        exit_after_first_paint: bool = False,
        open_chute: str | None = None,
        live_overrides: dict[str, Any] | None = None,
    ) -> None:
        from chutes_tui.tui.commands import ChutesCommands

        self.COMMANDS = App.COMMANDS | {ChutesCommands}
        super().__init__()
        self.session = session
        self.prefs = prefs or {}
        self.client = ChutesClient(session.connection)
        self.feeds: dict[str, Feed] = {kind: Feed() for kind in KINDS}
        self.account: dict[str, Any] | None = None
        self.connection_state = "connecting"
        self.refresh_interval = float(self.prefs.get("refresh_interval", refresh_interval))
        self.refreshing = self.refresh_interval > 0
        self.include_public_images = False
        self._refresh_timers: dict[str, Timer] = {}
        self._clock: Timer | None = None
        self._failures: dict[str, int] = {}
        self.exit_after_first_paint = exit_after_first_paint
        self.open_chute = open_chute
        self.live_overrides = live_overrides or {}
        self.register_theme(HOUSE_THEME)
        self.theme = self.prefs.get("theme", HOUSE_THEME.name)

    # lifecycle

    def get_default_screen(self):
        from chutes_tui.tui.screens.resources import ChutesScreen

        return ChutesScreen()

    def on_mount(self) -> None:
        keys = self.prefs.get("keys")
        if isinstance(keys, dict):
            self.set_keymap({str(k): str(v) for k, v in keys.items()})
        for kind in KINDS:  # lists first: they are what the user waits for
            self.refresh_feed(kind)
        self.load_account()
        self._clock = self.set_interval(1.0, self._tick, name="header clock")
        if self.open_chute:
            self.open_live(self.open_chute)

    def open_live(self, ref: str, replace: bool = False) -> None:
        """The live view of one chute (`replace` swaps it for the current screen)."""
        from chutes_tui.tui.screens.live import LiveOptions, LiveScreen

        options = LiveOptions.from_prefs(self.prefs, **self.live_overrides)
        base_url = self.session.connection.base_url
        if options.events_url == "auto":
            from chutes_tui.client.events import events_url

            options.events_url = events_url(base_url)
        elif options.events_url is None and self.session.sandbox is not None and _has_socketio():
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
        await self.client.aclose()
        self.session.close()

    def watch_theme(self, theme: str) -> None:
        """A theme picked in the palette is the theme next time."""
        if not self.is_running or theme == self.prefs.get("theme", HOUSE_THEME.name):
            return
        try:
            config.save_pref("theme", theme)
        except (OSError, ValueError) as error:
            self.notify(f"The theme is not saved: {error}", severity="warning")
            return
        self.prefs["theme"] = theme

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
        if self.stale_age() is not None or self.connection_state != "online":
            self.post_message(AccountUpdated())

    def _fatal_error(self) -> None:
        """A crash shows one redacted line, never locals (they may hold keys).

        With --debug (CHUTES_TUI_DEBUG=1) the traceback comes too, still without locals.
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

    # data

    def stale_age(self) -> float | None:
        ages = [feed.age() for feed in self.feeds.values() if feed.stale]
        return max(ages) if ages else None

    def load_account(self) -> None:
        self.run_worker(self._load_account(), group="account", exclusive=True)

    async def _load_account(self) -> None:
        try:
            self.account = (await self.client.me()).model_dump(mode="json")
        except ChutesError as error:
            self._note_failure(error)
        self.post_message(AccountUpdated())

    def refresh_feed(self, kind: str) -> None:
        self.run_worker(self._refresh(kind), group=f"feed-{kind}", exclusive=True)

    def _lister(self, kind: str) -> Callable[..., Awaitable[dict]]:
        if kind == "chutes":
            return self.client.list_chutes
        return self.client.list_images

    async def _refresh(self, kind: str) -> None:
        feed = self.feeds[kind]
        feed.loading = True
        if kind == "shares":
            await self._refresh_shares(feed)
            return
        lister = self._lister(kind)
        include_public = kind == "images" and self.include_public_images
        rows: list[dict] = []
        try:
            page = 0
            while True:
                result = await lister(
                    page=page, limit=PAGE_SIZE, include_public=include_public, raw=True
                )
                rows.extend(result["items"])
                more = bool(result["items"]) and len(rows) < result["total"]
                if not feed.loaded and more:  # first load: show the first page at once
                    feed.rows, feed.loaded_at, feed.partial = list(rows), time.time(), True
                    self.post_message(FeedUpdated(kind))
                if not result["items"] or len(rows) >= result["total"]:
                    break
                page += 1
            if kind == "chutes":
                rows.extend(await self._remembered_shared(rows))
            feed.rows, feed.loaded_at, feed.error = rows, time.time(), None
            feed.partial = False
            self._failures[kind] = 0
            self._online()
        except ChutesError as error:
            feed.error = error.message
            self._failures[kind] = self._failures.get(kind, 0) + 1
            self._note_failure(error)
        finally:
            feed.loading = feed.partial = False
            self.post_message(FeedUpdated(kind))
            self._schedule(kind)

    async def _refresh_shares(self, feed: Feed) -> None:
        """Shares are one unpaged list, and failing to list them is not an outage."""
        try:
            shares = await self.client.list_shares()
            feed.rows = [share.model_dump(mode="json") for share in shares]
            feed.loaded_at, feed.error = time.time(), None
            self._failures["shares"] = 0
        except NotFound:
            feed.error = (
                "This API cannot list shares (an older server): sharing and unsharing still"
                " work, but who a chute is shared with cannot be shown."
            )
            feed.loaded_at = feed.loaded_at or time.time()
        except ConfigError as error:
            feed.error = error.message
            feed.loaded_at = feed.loaded_at or time.time()
        except ChutesError as error:
            feed.error = error.message
            self._failures["shares"] = self._failures.get("shares", 0) + 1
            self._note_failure(error)
        finally:
            feed.loading = False
            self.post_message(FeedUpdated("shares"))
            self._schedule("shares")

    async def _remembered_shared(self, own: list[dict]) -> list[dict]:
        """Chutes shared with the user (never listed by the API) that they opened before."""
        from chutes_tui.tui.remembered import RememberedChutes

        known = {row["chute_id"] for row in own}
        found = []
        for ref in RememberedChutes.load().refs():
            if ref in known:
                continue
            try:
                chute = await self.client.get_chute(ref, raw=True)
            except ChutesError:
                continue
            if chute["chute_id"] not in known:
                chute["_shared"] = True
                found.append(chute)
                known.add(chute["chute_id"])
        return found

    def _schedule(self, kind: str) -> None:
        if (timer := self._refresh_timers.pop(kind, None)) is not None:
            timer.stop()
        if self.shutting_down:
            return
        failures = self._failures.get(kind, 0)
        if failures and not self.feeds[kind].loaded:
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
        elif self.refreshing:
            # A big account costs a full download per refresh: do it less often.
            large = len(self.feeds[kind].rows) > LARGE_LIST
            delay = (
                max(self.refresh_interval, LARGE_LIST_INTERVAL) if large else self.refresh_interval
            )
        else:
            return
        self._refresh_timers[kind] = self.set_timer(delay, lambda: self._timed_refresh(kind))

    def _timed_refresh(self, kind: str) -> None:
        if self.shutting_down:
            return
        if kind in SHOWN_ONLY and type(self.screen).__name__ != SHOWN_ONLY[kind]:
            self._schedule(kind)  # nobody is looking: check again next time
            return
        self.refresh_feed(kind)
        if kind == "chutes":
            self.load_account()  # the balance moves while instances run

    def _online(self) -> None:
        if self.connection_state != "online":
            self.connection_state = "online"
            if self.account is None:
                self.load_account()
            self.post_message(AccountUpdated())

    def _note_failure(self, error: ChutesError) -> None:
        """Say what went wrong once per change of state, not on every retry."""
        previous = self.connection_state
        if isinstance(error, Unreachable | TimedOut):
            self.connection_state = "offline, retrying"
            if previous != self.connection_state:
                self.notify(
                    f"{error.message}\nRetrying in the background.",
                    title="API unreachable",
                    severity="warning",
                    timeout=8,
                )
        elif isinstance(error, AuthError | ConfigError) and error.status in (None, 401):
            self.connection_state = "account problem"
            if previous != self.connection_state:
                self.notify(
                    f"{error.message}\nCheck {self.session.connection.where_to_fix};"
                    " `chutes-tui paths` shows where every file lives.",
                    title="Account problem",
                    severity="error",
                    timeout=15,
                )
        else:
            self.notify(error.message, title="Refresh failed", severity="warning", timeout=6)
        self.post_message(AccountUpdated())

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
        """Chutes is the base screen; images or shares sit on top; details on top of those."""
        from chutes_tui.tui.screens.resources import ImagesScreen
        from chutes_tui.tui.screens.shares import SharesScreen

        screens = {"images": ImagesScreen, "shares": SharesScreen}
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`q` quits only from a top-level list (or its help); nothing switches under a dialog.

        The live view may also switch to a list.
        """
        from chutes_tui.tui.screens.help import HelpScreen
        from chutes_tui.tui.screens.resources import ResourceScreen

        if action in ("quit", "show"):
            from chutes_tui.tui.screens.live import LiveScreen

            # The live view may jump to a list (it stops its streams); it never quits.
            lists = (ResourceScreen, HelpScreen, LiveScreen) if action == "show" else ()
            return isinstance(self.screen, lists or (ResourceScreen, HelpScreen))
        return True

    def switch_profile(self, name: str) -> None:
        """Reconnect with another profile from the preferences file."""
        from chutes_tui.tui.session import Session

        try:
            connection = config.require_credentials(config.resolve(profile=name))
        except ChutesError as error:
            self.notify(error.message, title=f"Profile {name}", severity="error")
            return
        old = self.client
        self.run_worker(old.aclose(), group="close-client")
        self.session.close()
        self.session = Session(connection)
        self.client = ChutesClient(connection)
        self.account, self.connection_state = None, "connecting"
        self.feeds = {kind: Feed() for kind in KINDS}
        self.action_refresh()
        self.notify(f"Switched to profile {name}: {connection.base_url}")
