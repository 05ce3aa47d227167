"""`?` / `f1`: every key that works right now, read from the live bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

EXTRA_KEYS = (
    ("tab / shift+tab", "Move the focus"),
    ("ctrl+p", "Command palette"),
    ("j k g G", "Down, up, top, bottom"),
    ("click header", "Sort by that column; again to reverse"),
)


def key_table(screen: Screen) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("action")
    table.add_column("id", style="dim", no_wrap=True)
    from chutes_tui.tui.screens.resources import ResourceScreen

    top_level = isinstance(screen, ResourceScreen)
    seen: set[str] = set()
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        if not binding.id or not binding.description or binding.description in seen:
            continue  # Textual's own scrolling and focus keys are listed below in short
        if binding.action.startswith(("leave", "show")) and not top_level:
            continue  # these work from the lists only
        seen.add(binding.description)
        display = screen.app.get_key_display(binding)
        table.add_row(display or key, binding.description, binding.id or "")
    for key, text in EXTRA_KEYS:
        table.add_row(key, text, "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(
                Text.assemble(
                    ("Keys", "bold"),
                    ("   esc closes this", ""),
                    ("   remap by id in [keys] of the preferences (chutes-tui paths)", "dim"),
                ),
                id="dialog-title",
            )
            yield Static(key_table(self.under))

    def action_close(self) -> None:
        self.dismiss(None)
