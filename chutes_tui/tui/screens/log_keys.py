"""The keys of a screen that shows logs in `LogPanes`: follow, search, wrap, times, save.

The live view and the build view share them; each names its bindings under its own prefix
(`live.follow`, `build.follow`) so a `[keys]` remap can tell them apart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypeVar

from textual.binding import Binding
from textual.screen import Screen

from chutes_tui.tui.widgets.log_panes import LogPanes

ResultT = TypeVar("ResultT")


def log_bindings(prefix: str) -> list[Binding]:
    """The bindings every log screen has, their ids under `prefix`."""
    return [
        # `p` too: here it pauses the logs, not the lists' auto-refresh (one meaning per key)
        Binding("space,p", "toggle_follow", "Pause/follow", id=f"{prefix}.follow"),
        Binding("slash", "search", "Search", id=f"{prefix}.search"),
        Binding("n", "next_match(True)", "Next", show=False, id=f"{prefix}.next"),
        Binding("N", "next_match(False)", "Previous", show=False, id=f"{prefix}.previous"),
        Binding("W", "switch('wrap')", "Wrap", show=False, id=f"{prefix}.wrap"),
        Binding("t", "switch('timestamps')", "Times", show=False, id=f"{prefix}.timestamps"),
        Binding("s", "save", "Save", id=f"{prefix}.save"),
    ]


class LogKeys(Screen[ResultT]):
    """The actions behind `log_bindings`; a screen gives `logs` and `save_name`."""

    @property
    def logs(self) -> LogPanes:
        return self.query_one(LogPanes)

    def save_name(self) -> str:
        """The file name offered when saving the visible pane, without the time stamp."""
        raise NotImplementedError

    def action_toggle_follow(self) -> None:
        self.logs.toggle_follow()

    def action_switch(self, option: str) -> None:
        """Turn a log view option (wrap, timestamps) on or off."""
        self.logs.toggle(option)

    def action_search(self) -> None:
        self.logs.open_search()

    def action_next_match(self, forward: bool) -> None:
        self.logs.next_match(forward)

    def action_save(self) -> None:
        from chutes_tui.tui.screens.modals import PromptScreen

        default = f"{self.save_name()}-{time.strftime('%Y%m%d-%H%M%S')}.log"

        def chosen(path: str | None) -> None:
            if path:
                self.logs.save(Path(path).expanduser())

        self.app.push_screen(
            PromptScreen("Save this pane's lines to a file", "file name", default, "save"),
            chosen,
        )
