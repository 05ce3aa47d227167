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
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, Tabs

from chutes_tui.client.errors import AuthError, ChutesError
from chutes_tui.client.scopes import scopes_text
from chutes_tui.core.formatting import plural, short_time
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.account_key_dialogs import KeyRequest, NewKeyScreen, RevealKeyScreen
from chutes_tui.tui.widgets.table import Column, VirtualTable


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
    Column("name", "NAME", 18, _name, lambda row: row.name.lower(), grow=True),
    Column("access", "ACCESS", 24, _access, lambda row: (not row.admin, row.access), grow=True),
    Column(
        "created",
        "CREATED",
        16,
        lambda row: short_time(row.created_at),
        lambda row: row.created_at,
        optional=True,
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
        Binding("r", "reload", "Refresh", show=False, id="keys.refresh"),  # help, palette
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
                f"{plural(self.table.row_count, 'API key')}. n new, x delete, c copy id;"
                " a secret is shown only at creation."
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
