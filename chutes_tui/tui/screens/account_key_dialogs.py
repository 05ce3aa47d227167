"""The Keys tab's dialogs: a new key (admin or scoped), and its secret revealed once.

The reveal dialog is the only place a key's secret is ever shown; closing it forgets it,
in the app's clipboard too (the terminal's clipboard keeps what was copied there).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from chutes_tui.client.scopes import ACTIONS, ANY_ACTION, OBJECT_TYPES, Scope, scopes_text
from chutes_tui.tui.access import DashboardAccess

EVERY = ""  # the scope target "every one of them"
NAME_HINT = "up to 24 letters, digits, spaces, _ - or ."


@dataclass(frozen=True)
class KeyRequest:
    """What the new-key dialog asks for: scopes name objects by id."""

    name: str
    admin: bool
    scopes: tuple[Scope, ...] = ()


class NewKeyScreen(DashboardAccess, ModalScreen[KeyRequest | None]):
    """A name, and either admin or the scopes picked here (object type, action, one or all)."""

    DEFAULT_CSS = """
    NewKeyScreen .field { height: auto; margin-bottom: 1; }
    NewKeyScreen .field-label { width: 10; color: $text-muted; }
    NewKeyScreen #dialog { width: 84; }
    NewKeyScreen #scope-editor { height: auto; }
    NewKeyScreen #scope-object, NewKeyScreen #scope-action { width: 16; margin-right: 1; }
    NewKeyScreen #scope-target { width: 1fr; }
    NewKeyScreen #scope-list { height: auto; margin: 0 0 1 10; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_key.cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[Scope] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("New API key", id="dialog-title")
            with Horizontal(classes="field"):
                yield Static("name", classes="field-label")
                yield Input(placeholder=NAME_HINT, id="key-name", max_length=24, compact=True)
            with Horizontal(classes="field"):
                yield Static("access", classes="field-label")
                yield Select(
                    [
                        ("admin: everything you may do", "admin"),
                        ("scoped: only what you pick", "scoped"),
                    ],
                    value="scoped",
                    allow_blank=False,
                    compact=True,
                    id="key-access",
                )
            with Vertical(id="scope-editor"):
                with Horizontal(classes="field"):
                    yield Static("scope", classes="field-label")
                    yield Select(
                        [(kind, kind) for kind in OBJECT_TYPES],
                        value="chutes",
                        allow_blank=False,
                        compact=True,
                        id="scope-object",
                    )
                    yield Select(
                        [(action, action) for action in (*ACTIONS, ANY_ACTION)],
                        value="read",
                        allow_blank=False,
                        compact=True,
                        id="scope-action",
                    )
                    yield Select(
                        self._target_options("chutes"),
                        value=EVERY,
                        allow_blank=False,
                        compact=True,
                        id="scope-target",
                    )
                with Horizontal(classes="field"):
                    yield Static("", classes="field-label")
                    yield Button("+ add this scope", id="scope-add", compact=True)
                yield Static(id="scope-list")
            yield Static("[b]enter[/b] create    [b]esc[/b] cancel", id="dialog-keys")

    def on_mount(self) -> None:
        self._show_scopes()
        self.query_one("#key-name", Input).focus()

    def _target_options(self, kind: str) -> list[tuple[str, str]]:
        """The objects a scope of this type can name: every one, or one of yours."""
        state = self.state
        if kind == "chutes":
            named = [(row.name, row.chute_id) for row in state.chutes.rows if not row.shared]
        elif kind == "images":
            own = [row for row in state.images.rows if state.owns(row.owner_id)]
            named = [(f"{row.name}:{row.tag}", row.image_id) for row in own]
        else:
            named = []
        return [(f"all {kind}", EVERY), *sorted(named)]

    def _targets(self, kind: str) -> None:
        target = self.query_one("#scope-target", Select)
        target.set_options(self._target_options(kind))
        target.value = EVERY

    def current(self) -> Scope:
        kind = str(self.query_one("#scope-object", Select).value)
        action = str(self.query_one("#scope-action", Select).value)
        target = self.query_one("#scope-target", Select).value
        return Scope(
            kind,
            None if action == ANY_ACTION else action,
            target if isinstance(target, str) and target != EVERY else None,
        )

    def _label(self, scope: Scope) -> str:
        names = {row.chute_id: row.name for row in self.state.chutes.rows}
        names |= {row.image_id: f"{row.name}:{row.tag}" for row in self.state.images.rows}
        return scopes_text({"scopes": [scope.wire()]}, names)

    def _show_scopes(self) -> None:
        admin = self.query_one("#key-access", Select).value == "admin"
        self.query_one("#scope-editor").display = not admin
        text = Text()
        if admin:
            return
        if self.scopes:
            text.append("Scopes:\n", style="bold")
            for scope in self.scopes:
                text.append(f"  {self._label(scope)}\n")
        else:
            text.append(f"The key may: {self._label(self.current())}", style="dim")
            text.append("\n(add more than one scope with the button)", style="dim")
        self.query_one("#scope-list", Static).update(text)

    @on(Select.Changed, "#scope-object")
    def object_changed(self, event: Select.Changed) -> None:
        self._targets(str(event.value))
        self._show_scopes()

    @on(Select.Changed, "#key-access")
    @on(Select.Changed, "#scope-action")
    @on(Select.Changed, "#scope-target")
    def changed(self) -> None:
        self._show_scopes()

    @on(Button.Pressed, "#scope-add")
    def add_scope(self) -> None:
        scope = self.current()
        if scope not in self.scopes:
            self.scopes.append(scope)
        self._show_scopes()

    @on(Input.Submitted, "#key-name")
    def submitted(self) -> None:
        name = self.query_one("#key-name", Input).value.strip()
        if not name:
            self.notify(f"Give the key a name ({NAME_HINT}).", severity="warning")
            return
        if self.query_one("#key-access", Select).value == "admin":
            self.dismiss(KeyRequest(name, admin=True))
        else:
            self.dismiss(KeyRequest(name, False, tuple(self.scopes or [self.current()])))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RevealKeyScreen(ModalScreen[None]):
    """A new key's secret, this once: `c` copies it, `h` the header; closing forgets it."""

    DEFAULT_CSS = """
    RevealKeyScreen #dialog { width: 84; border: thick $success; }
    RevealKeyScreen #key-secret { margin-bottom: 1; padding: 0 1; background: $boost; }
    """

    BINDINGS = [
        Binding("c", "copy('key')", "Copy key", id="reveal.copy"),
        Binding("h", "copy('header')", "Copy header", id="reveal.copy_header"),
        Binding("escape,enter", "close", "Done", id="reveal.close"),
    ]

    def __init__(self, name: str, secret: str, access: str) -> None:
        super().__init__()
        self.key_name = name
        self._secret = secret
        self.access = access
        self.copied = False
        self.warned = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"API key {escape(self.key_name)} created", id="dialog-title")
            yield Static(Text(self._secret, style="bold green"), id="key-secret")
            yield Static(self._body(), id="dialog-body")
            yield Static(
                "[b]c[/b] copy the key    [b]h[/b] copy the header    [b]esc[/b] done",
                id="dialog-keys",
            )

    def _body(self) -> Text:
        text = Text()
        text.append("Access: ", style="dim")
        text.append(f"{self.access}\n\n")
        text.append("Use it as a header:\n", style="dim")
        text.append(f"  Authorization: Bearer {self._secret[:12]}…\n\n")
        text.append(
            "This is the only time the key is shown: copy it now. The API keeps only a hash"
            " of it and cannot show it again; chutes-tui does not keep it either.",
            style="bold yellow",
        )
        return text

    def action_copy(self, what: str) -> None:
        text = self._secret if what == "key" else f"Authorization: Bearer {self._secret}"
        self.app.copy_to_clipboard(text)
        self.copied = True
        self.notify(
            f"Copied the {'key' if what == 'key' else 'header'} of {self.key_name}", timeout=3
        )

    def action_close(self) -> None:
        if not self.copied and not self.warned:
            self.warned = True
            self.notify(
                "The key has not been copied, and it cannot be shown again. Press esc again"
                " to close anyway.",
                title="Not copied",
                severity="warning",
                timeout=6,
            )
            return
        if self._secret in self.app.clipboard:
            self.app._clipboard = ""  # the app forgets it; the terminal's clipboard has it
        self._secret = ""
        self.dismiss(None)
