"""The live view of one chute: hot/cold, instances, warmup timeline and every instance's logs.

Sources, all through the client, all in workers bound to this screen (leaving the view
cancels them): the chute detail on a poll (next poll scheduled after the previous one
finished), the quick warmup status while a warmup runs, the warmup stream after `w`, and
one log stream per instance. Log lines land in bounded buffers; the view redraws in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Static

from chutes_tui.client.api import LogHistory, StreamNotice
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    HotkeyRefused,
    NotFound,
    TimedOut,
    Unreachable,
    Unsupported,
)
from chutes_tui.core.formatting import plural
from chutes_tui.core.live import InstanceState, LiveChute, TimelineEvent, api_epoch
from chutes_tui.core.logbuffer import DEFAULT_CAP, MAX_BACKFILL, LogLine, stamp
from chutes_tui.core.pricing import GpuTable
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.live_header import HeaderFacts, header_text
from chutes_tui.tui.screens.log_keys import LogKeys, log_bindings
from chutes_tui.tui.widgets.account_bar import AccountBar
from chutes_tui.tui.widgets.instance_table import InstanceTable
from chutes_tui.tui.widgets.log_panes import ALL, LogPanes

POLL_STEPS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
WARMUP_ATTEMPTS = 30  # failures in a row before a warmup stops reopening its stream
KEEP_GONE = 20  # gone instances stay listed (and their logs kept), the newest 20 of them
LOGS_FORBIDDEN = (
    "Logs can be read only for private chutes that you own or that are shared with you;"
    " older API versions also require `logging_enabled` on the chute. Public chutes never"
    " expose instance logs."
)
EVENT_STYLES = {
    "hot": "bold green",
    "cold": "yellow",
    "warmup": "bold cyan",
    "created": "cyan",
    "verified": "green",
    "active": "bold green",
    "inactive": "yellow",
    "gone": "red",
    "error": "bold red",
    "stream": "dim yellow",
    "event": "magenta",
}


@dataclass
class LiveOptions:
    """How the live view polls and how much log it keeps (prefs `[live]`, then flags)."""

    poll_interval: float = 5.0
    backfill: int = 100
    max_lines: int = DEFAULT_CAP
    events_url: str | None = None  # the Socket.IO events channel, when one is set

    @classmethod
    def from_prefs(cls, prefs: dict[str, Any], **overrides: Any) -> LiveOptions:
        section = prefs.get("live") or {}
        keys = ("poll_interval", "backfill", "max_lines", "events_url")
        values = {key: section[key] for key in keys if key in section}
        values.update({key: value for key, value in overrides.items() if value is not None})
        options = cls(**values)
        options.backfill = min(max(int(options.backfill), 0), MAX_BACKFILL)
        options.max_lines = max(int(options.max_lines), 100)
        options.poll_interval = max(float(options.poll_interval), 0.2)
        return options


def _while_shown(method: Callable[..., Any]) -> Callable[..., Any]:
    """A worker or timer of the live screen that ends quietly once its widgets are gone.

    Leaving the screen removes its widgets first and cancels its workers after; whatever
    runs in between finds nothing to draw on, which is no error.
    """
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(self: Any, *args: Any) -> Any:
            try:
                return await method(self, *args)
            except NoMatches:
                return None

        return run_async

    @functools.wraps(method)
    def run(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except NoMatches:
            return None

    return run


class LiveScreen(DashboardAccess, LogKeys[None]):
    """The cockpit for one chute."""

    AUTO_FOCUS = "#log-view"
    BINDINGS = [
        Binding("escape", "back", "Back", id="live.back"),
        Binding("w", "warmup", "Warm up", id="live.warmup"),
        *log_bindings("live"),
        Binding("right_square_bracket", "pane(1)", "Next pane", show=False, id="live.pane_next"),
        Binding("left_square_bracket", "pane(-1)", "Prev pane", show=False, id="live.pane_prev"),
        Binding("b", "backfill", "Backfill…", show=False, id="live.backfill"),
        Binding("plus,equals_sign", "poll(1)", "Slower poll", show=False, id="live.poll_slower"),
        Binding("minus", "poll(-1)", "Faster poll", show=False, id="live.poll_faster"),
        Binding("r", "poll_now", "Refresh", show=False, id="live.refresh"),
        Binding("o", "details", "Details", show=False, id="live.details"),
    ]

    def __init__(self, ref: str, options: LiveOptions | None = None) -> None:
        super().__init__()
        self.ref = ref
        self.options = options or LiveOptions()
        self.live: LiveChute | None = None
        self.problem: str | None = None
        self.warming = False
        self.quick_status = True  # False once the server shows it has no quick warmup status
        self._streams: set[str] = set()
        self._poll_wake = asyncio.Event()
        self._last_poll: float | None = None

    # layout

    def compose(self) -> ComposeResult:
        yield AccountBar()
        yield Static(f" {self.ref}  connecting…", id="live-header")
        with Horizontal(id="live-top"):
            yield InstanceTable(id="live-instances")
            with VerticalScroll(id="live-timeline"):
                yield Static(id="live-events")
        yield LogPanes(self.options.max_lines, self.options.backfill, id="live-logs")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._poll(), group="poll", exclusive=True)
        self.set_interval(1.0, self._tick)

    # polling: the chute detail always, quick warmup status while warming

    @_while_shown
    async def _poll(self) -> None:
        failures = 0
        while True:
            client = self.state.client  # the client of the moment, never kept across polls
            try:
                chute = await client.get_chute(self.ref)
                if self.live is None:
                    self.live = LiveChute()
                    if self.options.events_url:
                        self.run_worker(self._follow_events(), group="events")
                self._changed(self.live.apply_chute(chute))
                if self.warming and not self.live.hot and self.quick_status:
                    try:
                        quick = await client.warmup_status(chute.chute_id)
                    except Unsupported as error:  # an older server: the chute says it all
                        self.quick_status = False
                        self._note("stream", error.message)
                    else:
                        self._changed(self.live.apply_quick(quick))
                failures = 0
                self.problem = None
                self._last_poll = time.time()
                self.dashboard.note_online()  # one connection state for the whole app
            except NotFound as error:
                if self.live is not None:  # it was there: deleted, or no longer shared
                    self._changed(self.live.chute_gone())
                    return
                self.problem = f"{error.message} (press esc to go back)"
                self._render_header()
                return
            except ChutesError as error:
                failures += 1
                self.problem = f"{error.message}; retrying every {self.options.poll_interval:g} s"
                if failures == 1:
                    self._note("error", f"refresh failed: {error.message}")
                if failures == 1 or isinstance(error, Unreachable | TimedOut):
                    self.dashboard.note_failure(error)
            self._render_header()
            # A wake set while this poll ran (a warmup, an event) makes the next one now.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_wake.wait(), self.options.poll_interval)
            self._poll_wake.clear()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "warmup":  # nothing to warm before the chute is read, or once it is gone
            return self.live is not None and not self.live.deleted
        return True

    def _changed(self, events: Iterable[TimelineEvent]) -> None:
        """Fold what changed into the header, the table, the timeline and the log panes."""
        events = list(events)
        self.refresh_bindings()
        self._render_header()
        self._render_instances()
        if events:
            self._render_timeline()
        self._start_streams()

    # rendering

    @_while_shown
    def _tick(self) -> None:
        """Once a second: the time-to-hot clock and ages move on."""
        if self.live is not None:
            self._render_header()
            self._render_ages()

    def _render_header(self) -> None:
        header = self.query_one("#live-header", Static)
        live = self.live
        facts = HeaderFacts(
            ref=self.ref,
            warming=self.warming,
            problem=self.problem,
            poll=self.options.poll_interval,
            last_poll=self._last_poll,
            hourly=live.hourly_now(self._gpu_table) if live is not None else None,
            stale_for=time.time() - self._last_poll if self.problem and self._last_poll else None,
        )
        header.update(header_text(live, facts, header.size.width or self.app.size.width))

    def on_resize(self) -> None:
        if self.is_mounted:
            self._render_header()

    @functools.cached_property
    def _gpu_table(self) -> GpuTable:
        """The packaged GPU prices, read once per view (for $/hour now)."""
        return GpuTable.load()

    def _instance_cells(self, state: InstanceState, now: float) -> dict[str, Any]:
        gone = state.gone_at is not None
        dim = "dim strike" if gone else ""
        gpu = f"{state.gpu_count or ''}× {state.gpu_model_name}" if state.gpu_model_name else "-"
        verified_at = state.last_verified_at
        last = stamp(api_epoch(verified_at))[:8] if verified_at else "-"
        if gone:
            label = Text("gone", style="red")
        elif state.active and state.verified:
            label = Text("hot", style="bold green")
        elif state.verified:
            label = Text("starting", style="yellow")
        else:
            label = Text("verifying", style="yellow")
        return {
            "id": Text(state.short, style=dim),
            "region": Text(state.region or "-", style=dim),
            "gpu": Text(gpu, style=dim),
            "active": "yes" if state.active else "no",
            "verified": "yes" if state.verified else "no",
            "last": last,
            "age": state.age_text(now),
            "state": label,
        }

    def _render_instances(self) -> None:
        if self.live is None:
            return
        table = self.query_one(InstanceTable)
        now = time.time()
        for state in self.live.instances.values():
            table.put(state.instance_id, self._instance_cells(state, now))
            if state.gone:
                self.logs.mark_gone(state.instance_id)
        for instance_id in self.live.forget_gone(KEEP_GONE):
            table.drop(instance_id)
            self.logs.remove_pane(instance_id)

    def _render_ages(self) -> None:
        if self.live is None:
            return
        table = self.query_one(InstanceTable)
        now = time.time()
        for state in self.live.instances.values():
            if state.gone_at is None:
                table.put_cell(state.instance_id, "age", state.age_text(now))

    def _render_timeline(self) -> None:
        if self.live is None:
            return
        text = Text()
        for event in self.live.events:
            text.append(stamp(event.at)[:8] + " ", style="dim")
            text.append(f"{event.shown:<8} ", style=EVENT_STYLES.get(event.kind, ""))
            text.append(event.text)
            if event.count > 1:
                text.append(f" ×{event.count}", style="dim")
            text.append("\n")
        self.query_one("#live-events", Static).update(text)
        self.query_one("#live-timeline", VerticalScroll).scroll_end(animate=False)

    # log streams, one per instance

    def _start_streams(self) -> None:
        if self.live is None:
            return
        for state in self.live.present():
            if state.instance_id not in self._streams:
                self._streams.add(state.instance_id)
                self.logs.add_pane(state.instance_id)
                self.run_worker(
                    self._stream_logs(state.instance_id),
                    group="logs",
                    name=f"logs {state.short}",
                )

    @_while_shown
    async def _stream_logs(self, instance_id: str) -> None:
        try:
            async for item in self.state.client.log_feed(instance_id, self.options.backfill):
                now = time.time()
                if isinstance(item, list):
                    old = isinstance(item, LogHistory)
                    lines = [LogLine(now, instance_id, text, history=old) for text in item]
                    self.logs.append(instance_id, lines)
                    continue
                self.logs.append(instance_id, [LogLine(now, instance_id, item.message, note=True)])
                if item.kind == "gone" and self.live is not None:
                    self._changed(self.live.mark_gone(instance_id))
        except HotkeyRefused as error:  # an older server: the fix is an API key
            self._stream_failed(instance_id, error.message)
        except AuthError as error:
            self._stream_failed(instance_id, f"{error.message} {LOGS_FORBIDDEN}")
        except ChutesError as error:
            self._stream_failed(instance_id, f"log stream stopped: {error.message}")

    def _stream_failed(self, instance_id: str, message: str) -> None:
        self.logs.append(instance_id, [LogLine(time.time(), instance_id, message, note=True)])
        self._note("stream", message, instance_id)

    @on(DataTable.RowSelected, "#live-instances")
    def _instance_chosen(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if key in self.logs.panes:
            self.logs.show_pane(key)
            self.logs.view.focus()

    # keys

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)  # however the view was left, its streams end

    def action_back(self) -> None:
        if not self.logs.cancel():
            self.workers.cancel_node(self)  # before the widgets go: no worker draws again
            self.app.pop_screen()

    def action_pane(self, step: int) -> None:
        self.logs.step(step)

    def action_poll(self, step: int) -> None:
        steps = sorted({*POLL_STEPS, self.options.poll_interval})
        index = steps.index(self.options.poll_interval) + step
        self.options.poll_interval = steps[min(max(index, 0), len(steps) - 1)]
        self.notify(f"Refreshing every {self.options.poll_interval:g} s", timeout=2)
        self._render_header()

    def action_poll_now(self) -> None:
        self._poll_wake.set()

    def action_details(self) -> None:
        from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen

        chute_id = self.live.chute_id if self.live else None
        self.app.push_screen(ChuteDetailScreen(chute_id or self.ref))

    def save_name(self) -> str:
        name = self.live.name if self.live else self.ref
        pane = self.logs.pane if self.logs.pane == ALL else self.logs.pane[:8]
        return f"{name}-{pane}"

    def action_backfill(self) -> None:
        from chutes_tui.tui.screens.modals import PromptScreen

        def chosen(value: str | None) -> None:
            if value is None:
                return
            try:
                lines = int(value)
            except ValueError:
                lines = -1
            if not 0 <= lines <= MAX_BACKFILL:
                self.notify(
                    f"Backfill is a number of lines from 0 to {MAX_BACKFILL:,}.", severity="error"
                )
                return
            self._restart_streams(lines)

        self.app.push_screen(
            PromptScreen(
                f"Lines of history per instance (0 to {MAX_BACKFILL:,})",
                "lines",
                str(self.options.backfill),
                "reload logs",
            ),
            chosen,
        )

    def _restart_streams(self, backfill: int) -> None:
        """Drop the panes' lines and open every log stream again with a new backfill."""
        self.workers.cancel_group(self, "logs")
        self.options.backfill = self.logs.backfill = backfill
        self.logs.clear()
        instances = self.live.instances.values() if self.live is not None else ()
        self._streams = {state.instance_id for state in instances if state.gone}
        self._start_streams()

    # warmup: it can cost money, so it says how much and waits for y

    def action_warmup(self) -> None:
        from chutes_tui.tui.screens.chute_detail import hourly_text
        from chutes_tui.tui.screens.modals import ConfirmScreen

        live = self.live
        if live is None or self.warming:
            if self.warming:
                self.notify("A warmup is already running.", timeout=3)
            return
        if live.deleted:
            self.notify(f"{live.name} is gone: there is nothing to warm up.", timeout=5)
            return
        chute = live.chute
        assert chute is not None
        running = (
            f"{hourly_text(chute)}, up to {plural(chute.max_instances or 1, 'instance')}."
            f" They shut down after {chute.shutdown_after_seconds or 300} s without requests."
        )
        me = self._my_user_id()
        owner = chute.user.username
        if chute.public:
            cost = "It is a public chute: its instances are not billed to you."
        elif me is None:
            cost = f"Instances bill to the chute's owner, {owner}, while they run: {running}"
        elif me == chute.user.user_id:
            cost = f"Instances bill to you while they run: {running}"
        else:
            cost = (
                f"{owner} owns this chute, so its instances bill to {owner} while they"
                f" run, not to you: {running} You pay for your own requests, per use."
            )
        state = (
            "It is hot already; a warmup keeps it up longer."
            if live.hot
            else ("It is cold: the platform will start an instance.")
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_warmup()

        self.app.push_screen(ConfirmScreen(f"Warm up {live.name}?", f"{state}\n\n{cost}"), answered)

    def _my_user_id(self) -> str | None:
        """The signed-in account's user id, once the account has loaded."""
        return self.state.user_id

    def _start_warmup(self) -> None:
        if self.live is None:
            return
        self.warming = True
        self._changed([self.live.warmup_started()])
        self.run_worker(self._warmup(), group="warmup", exclusive=True)
        self._poll_wake.set()

    @_while_shown
    async def _warmup(self) -> None:
        """Follow the warmup until hot; the client reopens the stream and says so."""
        live = self.live
        assert live is not None and live.chute_id is not None
        try:
            async with contextlib.aclosing(
                self.state.client.warmup_feed(live.chute_id, WARMUP_ATTEMPTS)
            ) as feed:
                async for item in feed:
                    if isinstance(item, StreamNotice):
                        self._note("stream", f"warmup: {item.message}")
                        continue
                    self._changed(live.apply_warmup(item))
                    if item.status == "hot":
                        self._poll_wake.set()  # the instances table catches up now
        except ChutesError as error:  # 402 balance, 403, 404, or the retries ran out
            self._note("error", f"warmup stopped: {error.message}")
            self.notify(error.message, title="Warmup stopped", severity="error", timeout=10)
        finally:
            self.warming = False
            live.warmup_stopped()
            self._render_header()

    @_while_shown
    async def _follow_events(self) -> None:
        """The platform's events channel: events go in the timeline; instance events poll now."""
        from chutes_tui.client.events import chute_events

        live = self.live
        assert live is not None and live.chute_id is not None
        channel = chute_events(self.options.events_url or "", live.chute_id)
        try:
            async with contextlib.aclosing(channel):
                async for item in channel:
                    if isinstance(item, StreamNotice):
                        self._note("stream", item.message)
                        continue
                    self._changed(live.apply_event(item))
                    if str(item.get("reason", "")).startswith("instance_"):
                        # Instances changed: read them now. Not on bounty news: the poll's
                        # quick status would raise the bounty again, and so on.
                        self._poll_wake.set()
        except ChutesError as error:
            self._note("error", f"events channel: {error.message}")

    def _note(self, kind: str, text: str, instance_id: str | None = None) -> None:
        if self.live is not None:
            self._changed([self.live.note(kind, text, instance_id)])
