"""The Keys tab of the account screen: your API keys, a new one (admin or scoped), deleting one.

A new key's secret is in the create reply only: it is shown once, in a dialog that can copy
it, and kept nowhere (not in the list, not in the app's clipboard once the dialog closes).
The list and every change go through the client in workers bound to this widget.
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
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static, TabbedContent, Tabs

from chutes_tui.client.errors import AuthError, ChutesError
from chutes_tui.client.scopes import ACTIONS, ANY_ACTION, OBJECT_TYPES, Scope, scopes_text
from chutes_tui.core.formatting import plural, short_time
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.widgets.table import Column, VirtualTable

EVERY = ""  # the scope target "every one of them"
NAME_HINT = "up to 24 letters, digits, spaces, _ - or ."


def switch_tab(pane: Widget, forward: bool) -> None:
    """Left and right inside a tab move to the next tab, as they do on the tab bar."""
    for ancestor in pane.ancestors:
        if isinstance(ancestor, TabbedContent):
            tabs = ancestor.query_one(Tabs)
            tabs.focus()
            if forward:
                tabs.action_next_tab()
            else:
                tabs.action_previous_tab()
            return


TAB_KEYS = (
    Binding("left", "switch_tab(False)", "Previous tab", show=False, id="account.previous_tab"),
    Binding("right", "switch_tab(True)", "Next tab", show=False, id="account.next_tab"),
)


@dataclass(frozen=True)
class KeyRow:
    api_key_id: str
    name: str
    admin: bool
    access: str
    created_at: str | None
    last_used_at: str | None
    in_use: bool = False  # the key this dashboard signs with


def _name(row: KeyRow) -> Text:
    text = Text(row.name, style="bold")
    if row.in_use:
        text.append(" (this dashboard)", style="italic cyan")
    return text


def _access(row: KeyRow) -> Text:
    return Text(row.access, style="bold yellow" if row.admin else "")


KEY_COLUMNS: tuple[Column[KeyRow], ...] = (
    Column("name", "NAME", 26, _name, lambda row: row.name.lower()),
    Column("access", "ACCESS", 24, _access, lambda row: (not row.admin, row.access), grow=True),
    Column(
        "created", "CREATED", 16, lambda row: short_time(row.created_at), lambda r: r.created_at
    ),
    Column(
        "used",
        "LAST USED",
        16,
        lambda row: short_time(row.last_used_at) if row.last_used_at else "never",
        lambda row: row.last_used_at or "",
    ),
    Column("id", "ID", 36, lambda row: row.api_key_id, optional=True),
)


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


class KeysPane(DashboardAccess, Vertical):
    """Your API keys: name, access, created, last used; `n` new, `x` delete, `c` copy id."""

    DEFAULT_CSS = """
    KeysPane { height: 1fr; }
    KeysPane #keys-note { height: auto; color: $text-muted; padding: 0 1; }
    """

    BINDINGS = [
        Binding("n", "create", "New key…", id="keys.create"),
        Binding("x,delete", "delete", "Delete", id="keys.delete"),
        Binding("c", "copy_id", "Copy id", id="keys.copy"),
        Binding("r", "reload", "Refresh", id="keys.refresh"),
        *TAB_KEYS,
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.loaded = False
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield VirtualTable(KEY_COLUMNS, lambda row: row.api_key_id, id="keys-table")
        yield Static("Reading your API keys…", id="keys-note")

    @property
    def table(self) -> VirtualTable[KeyRow]:
        return self.query_one("#keys-table", VirtualTable)

    def on_mount(self) -> None:
        self.reload()

    def on_show(self) -> None:
        self.table.focus()

    def action_reload(self) -> None:
        self.reload()

    def action_switch_tab(self, forward: bool) -> None:
        switch_tab(self, forward)

    def reload(self) -> None:
        self.run_worker(self._load(), group="keys", exclusive=True)

    async def _load(self) -> None:
        state = self.state
        client = state.client
        try:
            keys = await client.all_pages(client.list_api_keys)
        except ChutesError as error:
            if state is self.state:
                self.error = self._why(error)
                self._note()
            return
        if state is not self.state:
            return
        names = {row.chute_id: row.name for row in state.chutes.rows}
        names |= {row.image_id: f"{row.name}:{row.tag}" for row in state.images.rows}
        own = client.connection.credentials.api_key or ""
        rows = [
            KeyRow(
                api_key_id=key.api_key_id,
                name=key.name,
                admin=key.admin,
                access=scopes_text(key.model_dump(mode="json"), names),
                created_at=key.created_at.isoformat() if key.created_at else None,
                last_used_at=key.last_used_at.isoformat() if key.last_used_at else None,
                in_use=own.startswith(f"cpk_{key.api_key_id.replace('-', '')}."),
            )
            for key in keys
        ]
        self.table.set_rows(rows)
        self.loaded, self.error = True, None
        self._note()

    @staticmethod
    def _why(error: ChutesError) -> str:
        if isinstance(error, AuthError):
            return (
                f"{error.message}. Only an admin API key or your hotkey may list API keys;"
                " a scoped key may not."
            )
        return error.message

    def _note(self) -> None:
        note = self.query_one("#keys-note", Static)
        if self.error:
            prefix = "Could not refresh the keys" if self.loaded else "Cannot list the keys"
            note.update(Text(f"{prefix}: {self.error}", style="red"))
        elif not self.table.row_count:
            note.update("No API keys yet. Press n to create one.")
        else:
            note.update(
                f"{plural(self.table.row_count, 'API key')}. n new key, x delete, c copy id;"
                " a key's secret is shown only when it is created."
            )

    def selected(self) -> KeyRow | None:
        key = self.table.cursor_key
        return self.table.row(key) if key is not None else None

    @on(VirtualTable.Selected)
    def show_key(self, event: VirtualTable.Selected) -> None:
        """Everything about a key but its secret, which nobody has any more."""
        from chutes_tui.tui.screens.modals import InfoScreen

        row = self.table.row(event.key)
        if row is None:
            return
        access = (
            escape(row.access) if row.admin else "\n  " + escape(row.access).replace(", ", "\n  ")
        )
        used = short_time(row.last_used_at) if row.last_used_at else "never"
        body = (
            f"[b]id[/b]         {row.api_key_id}\n[b]access[/b]     {access}\n"
            f"[b]created[/b]    {short_time(row.created_at)}\n[b]last used[/b]  {used}\n\n"
            + ("This is the key this dashboard signs with.\n" if row.in_use else "")
            + "[dim]Its secret was shown once, when it was created: the API keeps a hash.[/dim]"
        )
        self.app.push_screen(InfoScreen(f"API key {escape(row.name)}", body))

    def action_copy_id(self) -> None:
        row = self.selected()
        if row is None:
            self.notify("No API key selected.", severity="warning")
            return
        self.app.copy_to_clipboard(row.api_key_id)
        self.notify(f"Copied API key id {row.api_key_id}", timeout=3)

    def action_create(self) -> None:
        def chosen(request: KeyRequest | None) -> None:
            if request is not None:
                self.run_worker(self._create(request), group="keys-create")

        self.app.push_screen(NewKeyScreen(), chosen)

    async def _create(self, request: KeyRequest) -> None:
        client = self.state.client
        try:
            created = await client.create_api_key(
                request.name, request.admin, [scope.wire() for scope in request.scopes]
            )
        except ChutesError as error:
            self.notify(error.message, title=f"Could not create {request.name}", severity="error")
            return
        access = scopes_text(
            {"admin": request.admin, "scopes": [s.wire() for s in request.scopes]},
            {row.chute_id: row.name for row in self.state.chutes.rows}
            | {row.image_id: f"{row.name}:{row.tag}" for row in self.state.images.rows},
        )
        self.app.push_screen(RevealKeyScreen(created.name, created.secret_key, access))
        del created
        self.reload()

    def action_delete(self) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen

        row = self.selected()
        if row is None:
            self.notify("No API key selected.", severity="warning")
            return
        own = (
            "\n\n[b]This is the key this dashboard uses[/b]: it stops working with it too."
            if row.in_use
            else ""
        )
        body = (
            f"Delete API key [b]{escape(row.name)}[/b] ({row.api_key_id})?\n\n"
            f"Whatever uses it is refused from now on.{own} This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._delete(row), group="keys-delete")

        self.app.push_screen(ConfirmScreen("Delete API key", body, danger=True), answered)

    async def _delete(self, row: KeyRow) -> None:
        try:
            await self.state.client.delete_api_key(row.api_key_id)
        except ChutesError as error:
            self.notify(error.message, title=f"Could not delete {row.name}", severity="error")
            return
        self.notify(f"API key {row.name} deleted.", title="Deleted", timeout=4)
        self.reload()
