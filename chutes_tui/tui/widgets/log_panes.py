"""Log panes as tabs: one per instance and one merged (`all`), with search and a status line.

Lines are appended to bounded buffers as they arrive; the visible pane redraws at most
every `FLUSH_DELAY` seconds, whatever the rate.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Input, Static, Tab, Tabs

from chutes_tui.core.formatting import plural
from chutes_tui.core.logbuffer import LogBuffer, LogLine
from chutes_tui.tui.widgets.log_view import LogView

ALL = "all"
FLUSH_DELAY = 0.05  # at most 20 redraws a second


def match_words(number: int | None, count: int) -> str:
    """`3 of 17 lines match` (the current match is the 3rd), `17 lines match`, `no line matches`."""
    if not count:
        return "no line matches"
    matching = f"{count:,} {'line matches' if count == 1 else 'lines match'}"
    return f"{number:,} of {matching}" if number is not None else matching


class LogPanes(Vertical):
    """The tabs, the visible pane, its status line and the search box."""

    def __init__(
        self,
        max_lines: int,
        backfill: int | None = None,
        *,
        tabs: bool = True,
        id: str | None = None,
    ) -> None:
        """`backfill` None: the status line does not speak of one; no `tabs`: one pane only."""
        super().__init__(id=id)
        self.max_lines = max_lines
        self.backfill = backfill
        self.tabs = tabs
        self.panes: dict[str, LogBuffer] = {ALL: LogBuffer(max_lines)}
        self.pane = ALL
        self._flush_pending = False

    def compose(self) -> ComposeResult:
        tabs = Tabs(Tab(ALL, id=f"pane-{ALL}"), id="log-tabs")
        tabs.display = self.tabs
        yield tabs
        yield LogView(self.panes[ALL], id="log-view")
        yield Static(id="log-status")
        yield Input(placeholder="search the logs (enter: find, esc: cancel)", id="log-search")

    def on_mount(self) -> None:
        self.view.set_options(prefix=self.tabs)  # one pane: no source to name
        self.show_status()

    @property
    def view(self) -> LogView:
        return self.query_one("#log-view", LogView)

    # panes and lines

    def add_pane(self, instance_id: str) -> None:
        if instance_id not in self.panes:
            self.panes[instance_id] = LogBuffer(self.max_lines)
            self.query_one(Tabs).add_tab(Tab(instance_id[:8], id=f"pane-{instance_id}"))

    def mark_gone(self, instance_id: str) -> None:
        tabs = self.query(f"#pane-{instance_id}").results(Tab)
        for tab in tabs:
            if "gone" not in str(tab.label):
                tab.label = Text(f"{instance_id[:8]} gone", style="strike")

    def remove_pane(self, instance_id: str) -> None:
        """Forget an instance's pane (its lines stay in `all` until they age out)."""
        if self.panes.pop(instance_id, None) is None:
            return
        if self.pane == instance_id:
            self.show_pane(ALL)
        self.query_one(Tabs).remove_tab(f"pane-{instance_id}")

    def append(self, instance_id: str, lines: list[LogLine]) -> None:
        pane = self.panes.get(instance_id)
        if pane is None:
            return
        pane.extend(lines)
        if instance_id != ALL:
            self.panes[ALL].extend(lines)
        if not self._flush_pending and self.pane in (ALL, instance_id):
            self._flush_pending = True
            self.set_timer(FLUSH_DELAY, self._flush)

    def clear(self) -> None:
        """Drop every pane's lines (before the streams start again)."""
        for key in self.panes:
            self.panes[key] = LogBuffer(self.max_lines)
        self.view.show(self.panes[self.pane])
        self.show_status()

    def _flush(self) -> None:
        self._flush_pending = False
        with contextlib.suppress(NoMatches):  # the panes are being removed
            self.view.sync()
            self.show_status()

    def show_status(self) -> None:
        view = self.view
        buffer = view.buffer
        text = Text(" ")
        if view.follow:
            text.append("● FOLLOWING", style="bold green")
        else:
            text.append("⏸ PAUSED", style="bold yellow")
            if view.unseen:
                text.append(f" ({view.unseen:,} new below; end follows)", style="yellow")
        text.append(f"   {plural(len(buffer), 'line')} kept", style="dim")
        if buffer.dropped:
            text.append(f" ({buffer.dropped:,} older dropped, cap {buffer.cap:,})", style="dim")
        text.append(f"   wrap {'on' if view.wrap else 'off'}", style="dim")
        text.append(f" · times {'on' if view.timestamps else 'off'}", style="dim")
        if self.backfill is not None:
            text.append(f" · backfill {self.backfill:,}", style="dim")
        if view.term:
            text.append(f"   /{view.term}", style="bold")
            words = match_words(view.match_number, view.match_count)
            text.append(f" {words}", style="dim" if view.match_count else "red")
        self.query_one("#log-status", Static).update(text)

    @on(Tabs.TabActivated, "#log-tabs")
    def _pane_chosen(self, event: Tabs.TabActivated) -> None:
        key = (event.tab.id or "").removeprefix("pane-")
        if key in self.panes and key != self.pane:
            self.show_pane(key)

    def show_pane(self, key: str) -> None:
        self.pane = key
        self.query_one(Tabs).active = f"pane-{key}"
        view = self.view
        view.prefix = key == ALL
        view.show(self.panes[key])
        self.show_status()

    def step(self, step: int) -> None:
        tabs = self.query_one(Tabs)
        tabs.action_next_tab() if step > 0 else tabs.action_previous_tab()

    # what the keys do

    def toggle_follow(self) -> None:
        view = self.view
        view.pause() if view.follow else view.action_follow()
        self.show_status()

    @on(LogView.FollowChanged)
    def _follow_changed(self) -> None:
        self.show_status()

    def toggle(self, option: str) -> None:
        view = self.view
        view.set_options(**{option: not getattr(view, option)})
        self.show_status()

    def open_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.add_class("-visible")
        search.value = self.view.term
        search.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("-visible")
        self.view.focus()
        self.view.search(event.value.strip())
        self.show_status()
        if self.view.term and not self.view.match_count:
            self.notify(f"No line in this pane holds {self.view.term!r}.", severity="warning")

    def next_match(self, forward: bool) -> None:
        if not self.view.term:
            self.open_search()
            return
        self.view.next_match(forward)
        self.show_status()

    def cancel(self) -> bool:
        """Esc: close the search box, else clear the search; False when there was neither."""
        search = self.query_one("#log-search", Input)
        if search.has_class("-visible"):
            search.remove_class("-visible")
            self.view.focus()
            return True
        if self.view.term:
            self.view.search("")
            self.show_status()
            return True
        return False

    def save(self, path: Path) -> None:
        """Write the pane to `path`; the toast names the full path it went to."""
        path = path.expanduser().resolve()
        view = self.view
        try:
            count = view.buffer.save(path, timestamps=True, prefix=view.prefix)
        except OSError as error:
            self.notify(f"Cannot write {path}: {error.strerror}", severity="error")
            return
        self.notify(f"Saved {plural(count, 'line')} to {path}", timeout=5)
