"""One image's build: a status badge, the time it has taken, and its log, live or finished.

A build that is running streams its log line by line (reopened from the last offset when
the stream breaks); a finished one is read whole, so a failed image shows why it failed.
Leaving the view stops following; the build itself goes on on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from chutes_tui.client.api import StreamNotice
from chutes_tui.client.builds import BuildLogLine, BuildLogText
from chutes_tui.client.errors import ChutesError, NotFound
from chutes_tui.core.durations import duration
from chutes_tui.core.formatting import plural
from chutes_tui.core.logbuffer import LogLine
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.log_keys import LogKeys, log_bindings
from chutes_tui.tui.widgets.account_bar import AccountBar
from chutes_tui.tui.widgets.log_panes import ALL, LogPanes

BUILT = "built and pushed"
POLL = 2.0  # seconds between status reads while the build runs
HEADER_EVERY = 0.25  # seconds: the line count keeps up without a redraw per line
MAX_LINES = 20_000  # a build log longer than this keeps its last lines


def finished(status: str) -> bool:
    return status == BUILT or status.startswith("error")


def badge(status: str | None) -> Text:
    """The build's state in one word, coloured."""
    if status is None:
        return Text("…", style="dim")
    if status == BUILT:
        return Text("✓ BUILT", style="bold green")
    if status.startswith("error"):
        return Text("✗ FAILED", style="bold red")
    if status == "building":
        return Text("● BUILDING", style="bold yellow")
    return Text(f"◌ {status.upper()}", style="bold cyan")


class BuildScreen(DashboardAccess, LogKeys[str | None]):
    """The build log of one image, followed while it builds; dismissed with its last status.

    With `return_when_built` (a deploy waiting for its image) it goes by itself once the
    image is built; a failed build stays on screen, to be read.
    """

    AUTO_FOCUS = "#log-view"
    BINDINGS = [
        Binding("escape", "back", "Back", id="build.back"),
        *log_bindings("build"),
    ]

    def __init__(
        self, image_id: str, title: str | None = None, *, return_when_built: bool = False
    ) -> None:
        super().__init__()
        self.image_id = image_id
        self.return_when_built = return_when_built
        self.title_text = title or image_id
        self.status: str | None = None
        self.error: str | None = None
        self.started: datetime | None = None
        self.completed: datetime | None = None
        self.problem: str | None = None
        self.lines = 0
        self.ended = False  # the log has been read to its end
        self._poll_wake = asyncio.Event()
        self._drawn = 0.0  # when the header was last drawn

    def compose(self) -> ComposeResult:
        yield AccountBar()
        yield Static(f" {self.title_text}  connecting…", id="build-header")
        yield LogPanes(MAX_LINES, tabs=False, id="build-logs")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._poll(), group="status")
        self.run_worker(self._follow(), group="log")
        self.set_interval(1.0, self._render_header)

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)  # however the view was left, following ends

    def save_name(self) -> str:
        return self.title_text.replace("/", "-").replace(":", "-")

    # the status

    async def _poll(self) -> None:
        while True:
            try:
                image = await self.state.client.get_image(self.image_id)
            except NotFound:
                self.problem = "this image is gone (deleted, or no longer visible to you)"
                self._render_header()
                return
            except ChutesError as error:
                self.problem = f"{error.message}; retrying every {POLL:g} s"
            else:
                self.problem = None
                self.title_text = (
                    f"{image.user.username}/{image.name}:{image.tag}"
                    if image.user
                    else f"{image.name}:{image.tag}"
                )
                self.status = image.status
                self.started, self.completed = image.build_started_at, image.build_completed_at
                if image.status.startswith("error"):
                    self.error = image.status.removeprefix("error:").strip()
            self._render_header()
            if self.status and finished(self.status):
                if self.status == BUILT and self.return_when_built:
                    self.app.notify(f"{self.title_text} is built.", timeout=4)
                    self.workers.cancel_node(self)
                    self.dashboard.refresh_feed("images")
                    self.dismiss(self.status)
                return
            with contextlib.suppress(TimeoutError):  # a log that starts or ends: look now
                await asyncio.wait_for(self._poll_wake.wait(), POLL)
            self._poll_wake.clear()

    def elapsed(self) -> float | None:
        """Seconds the build took, or has taken so far; None before it started."""
        if self.started is None:
            return None
        end = self.completed.timestamp() if self.completed else time.time()
        return max(0.0, end - self.started.timestamp())

    def _render_header(self) -> None:
        self._drawn = time.monotonic()
        with contextlib.suppress(Exception):  # the view is going
            header = self.query_one("#build-header", Static)
            text = Text(f" {self.title_text}  ", style="bold")
            text.append_text(badge(self.status))
            took = self.elapsed()
            if took is not None:
                verb = "took" if self.status and finished(self.status) else "for"
                text.append(f"  {verb} {duration(took)}", style="dim")
            text.append(f"  · {plural(self.lines, 'line')}", style="dim")
            if self.status and not finished(self.status):
                text.append("  · following" if not self.ended else "", style="dim")
            if self.error:
                text.append(f"\n {self.error}", style="red")
            if self.problem:
                text.append(f"\n {self.problem}", style="yellow")
            header.update(text)

    # the log

    async def _follow(self) -> None:
        logs = self.logs
        try:
            async with contextlib.aclosing(
                self.state.client.image_build_log(self.image_id)
            ) as feed:
                async for item in feed:
                    if isinstance(item, BuildLogLine):
                        self._append([LogLine(time.time(), "", item.log)])
                    elif isinstance(item, BuildLogText):
                        lines = item.text.splitlines()
                        self._append(
                            [LogLine(time.time(), "", line, history=True) for line in lines]
                        )
                    elif isinstance(item, StreamNotice):
                        self._append([LogLine(time.time(), "", item.message, note=True)])
        except ChutesError as error:
            self._append([LogLine(time.time(), "", f"log stopped: {error.message}", note=True)])
        self.ended = True
        self._poll_wake.set()
        logs.show_status()
        self._render_header()

    def _append(self, lines: list[LogLine]) -> None:
        if not self.lines:
            self._poll_wake.set()  # the first lines: the status has likely moved on
        self.lines += sum(not line.note for line in lines)
        self.logs.append(ALL, lines)
        if time.monotonic() - self._drawn > HEADER_EVERY:
            self._render_header()

    # keys

    def action_back(self) -> None:
        if self.logs.cancel():
            return
        self.workers.cancel_node(self)
        if self.status is not None and not finished(self.status):
            self.app.notify(
                f"{self.title_text} goes on building on the server; enter on it in the"
                " images list shows its log again.",
                timeout=6,
            )
        self.dashboard.refresh_feed("images")  # the list shows what this view has seen
        self.dismiss(self.status)
