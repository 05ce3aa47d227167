"""Small modal dialogs: confirm with a deliberate key, show a message, ask for a name."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes only on `y`: there is no button to press by accident and nothing has focus."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str, danger: bool = False) -> None:
        super().__init__(classes="danger" if danger else "")
        self.heading = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.heading, id="dialog-title")
            yield Static(self.body, id="dialog-body")
            yes = "[b red]y[/b red]" if self.has_class("danger") else "[b]y[/b]"
            yield Static(f"{yes} yes    [b]n[/b] / [b]esc[/b] no", id="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class InfoScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="info.close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.heading = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.heading, id="dialog-title")
            yield Static(self.body, id="dialog-body")
            yield Static("[b]esc[/b] close", id="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, hint: str, value: str = "", verb: str = "open") -> None:
        super().__init__()
        self.heading = title
        self.hint = hint
        self.value = value
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.heading, id="dialog-title")
            yield Input(self.value, placeholder=self.hint, id="prompt")
            yield Static(f"[b]enter[/b] {self.verb}    [b]esc[/b] cancel", id="dialog-keys")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
