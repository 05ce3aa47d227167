"""The Secrets tab of the account screen: your chutes' secrets, grouped by chute.

A secret is an environment variable a chute's instances get when they start (`HF_TOKEN`).
Its value is typed into a masked input, sent once, and never shown or kept: the API never
sends it back, so the list shows only chutes and keys.
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
from textual.suggester import SuggestFromList
from textual.widgets import Input, Select, Static, Tree
from textual.widgets.tree import TreeNode

from chutes_tui.client.errors import ChutesError, Conflict
from chutes_tui.client.scopes import COMMON_SECRET_KEYS, SECRET_KEY_HINT, is_env_name
from chutes_tui.core.formatting import plural, short_time
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.account_keys import TAB_KEYS, switch_tab

OTHER = ""  # the preset "a key of your own"


@dataclass(frozen=True)
class SecretRow:
    secret_id: str
    chute_id: str  # the secret's `purpose`
    chute: str  # its name, or what is left of a deleted chute
    key: str
    created_at: str | None


@dataclass(frozen=True)
class SecretRequest:
    """What the new-secret dialog hands back; the value goes to the API and then away."""

    chute_id: str
    chute: str
    key: str
    value: str

    def __repr__(self) -> str:
        return f"SecretRequest(chute={self.chute!r}, key={self.key!r}, value=<hidden>)"


class NewSecretScreen(DashboardAccess, ModalScreen[SecretRequest | None]):
    """Pick one of your chutes, a key (presets for the usual ones), type the value (masked)."""

    DEFAULT_CSS = """
    NewSecretScreen .field { height: auto; margin-bottom: 1; }
    NewSecretScreen .field-label { width: 10; color: $text-muted; }
    NewSecretScreen #secret-check { height: 1; margin: 0 0 1 10; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_secret.cancel")]

    def __init__(self, chutes: list[tuple[str, str]], selected: str | None = None) -> None:
        super().__init__()
        self.chutes = dict(chutes)  # chute id: name
        self.selected = selected if selected in self.chutes else next(iter(self.chutes), None)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("New secret", id="dialog-title")
            with Horizontal(classes="field"):
                yield Static("chute", classes="field-label")
                yield Select(
                    [(name, chute_id) for chute_id, name in self.chutes.items()],
                    value=self.selected if self.selected else Select.NULL,
                    allow_blank=False,
                    compact=True,
                    id="secret-chute",
                )
            with Horizontal(classes="field"):
                yield Static("preset", classes="field-label")
                yield Select(
                    [(key, key) for key in COMMON_SECRET_KEYS] + [("a key of your own", OTHER)],
                    value=COMMON_SECRET_KEYS[0],
                    allow_blank=False,
                    compact=True,
                    id="secret-preset",
                )
            with Horizontal(classes="field"):
                yield Static("key", classes="field-label")
                yield Input(
                    COMMON_SECRET_KEYS[0],
                    placeholder="e.g. HF_TOKEN",
                    suggester=SuggestFromList(COMMON_SECRET_KEYS, case_sensitive=False),
                    compact=True,
                    id="secret-key",
                )
            with Horizontal(classes="field"):
                yield Static("value", classes="field-label")
                yield Input(
                    placeholder="typed here, never shown",
                    password=True,
                    compact=True,
                    id="secret-value",
                )
            yield Static(" ", id="secret-check")
            yield Static(
                "The chute's instances get it as an environment variable when they start;"
                " the value is sent once and never shown again.",
                id="dialog-body",
            )
            yield Static("[b]enter[/b] create    [b]esc[/b] cancel", id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#secret-value", Input).focus()
        self._check()

    @on(Select.Changed, "#secret-preset")
    def preset(self, event: Select.Changed) -> None:
        key = self.query_one("#secret-key", Input)
        if isinstance(event.value, str) and event.value != OTHER:
            key.value = event.value
        elif event.value == OTHER:
            key.value = ""
            key.focus()

    @on(Input.Changed, "#secret-key")
    def _check(self) -> None:
        key = self.query_one("#secret-key", Input).value.strip()
        check = self.query_one("#secret-check", Static)
        if not key or is_env_name(key):
            check.update(Text(f"the instances read it as ${key}" if key else " ", style="dim"))
        else:
            check.update(Text(f"✗ a key is {SECRET_KEY_HINT}", style="red"))

    @on(Input.Submitted)
    def submitted(self) -> None:
        chute_id = self.query_one("#secret-chute", Select).value
        key = self.query_one("#secret-key", Input).value.strip()
        value = self.query_one("#secret-value", Input)
        if not isinstance(chute_id, str) or chute_id not in self.chutes:
            self.notify("Pick one of your chutes.", severity="warning")
        elif not is_env_name(key):
            self.notify(f"A secret's key is {SECRET_KEY_HINT}.", severity="warning")
            self.query_one("#secret-key", Input).focus()
        elif not value.value:
            self.notify("Type the secret's value.", severity="warning")
            value.focus()
        else:
            request = SecretRequest(chute_id, self.chutes[chute_id], key, value.value)
            value.value = ""
            self.dismiss(request)

    def action_cancel(self) -> None:
        self.query_one("#secret-value", Input).value = ""
        self.dismiss(None)


class SecretsPane(DashboardAccess, Vertical):
    """Your secrets by chute: `n` new, `x` delete; values are never shown."""

    DEFAULT_CSS = """
    SecretsPane { height: 1fr; }
    SecretsPane #secrets-tree { height: 1fr; padding: 0 1; overflow-x: hidden; }
    SecretsPane #secrets-note { height: auto; color: $text-muted; padding: 0 1; }
    """

    BINDINGS = [
        Binding("n", "create", "New secret…", id="secrets.create"),
        Binding("x,delete", "delete", "Delete", id="secrets.delete"),
        Binding("c", "copy_id", "Copy id", id="secrets.copy"),
        Binding("r", "reload", "Refresh", show=False, id="secrets.refresh"),  # help, palette
        Binding("j", "move('down')", "Down", show=False, id="secrets.down"),
        Binding("k", "move('up')", "Up", show=False, id="secrets.up"),
        *TAB_KEYS,
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[SecretRow] = []
        self.loaded = False
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        tree: Tree[SecretRow | str] = Tree("secrets", id="secrets-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree
        yield Static("Reading your secrets…", id="secrets-note")

    @property
    def secrets_tree(self) -> Tree[SecretRow | str]:
        return self.query_one("#secrets-tree", Tree)

    def on_mount(self) -> None:
        self.reload()

    def on_show(self) -> None:
        self.secrets_tree.focus()

    def action_reload(self) -> None:
        self.reload()

    def action_switch_tab(self, forward: bool) -> None:
        switch_tab(self, forward)

    def action_move(self, direction: str) -> None:
        if direction == "down":
            self.secrets_tree.action_cursor_down()
        else:
            self.secrets_tree.action_cursor_up()

    def reload(self) -> None:
        self.run_worker(self._load(), group="secrets", exclusive=True)

    def _own_chutes(self) -> list[tuple[str, str]]:
        return sorted(
            ((row.chute_id, row.name) for row in self.state.chutes.rows if not row.shared),
            key=lambda pair: pair[1].lower(),
        )

    async def _load(self) -> None:
        state = self.state
        client = state.client
        try:
            secrets = await client.all_pages(client.list_secrets)
        except ChutesError as error:
            if state is self.state:
                self.error = error.message
                self._note()
            return
        if state is not self.state:
            return
        names = dict(self._own_chutes())
        self.rows = [
            SecretRow(
                secret_id=secret.secret_id,
                chute_id=secret.purpose,
                chute=names.get(secret.purpose) or f"deleted chute {secret.purpose[:8]}",
                key=secret.key,
                created_at=secret.created_at.isoformat() if secret.created_at else None,
            )
            for secret in secrets
        ]
        self.loaded, self.error = True, None
        self._fill()
        self._note()

    def _fill(self) -> None:
        """One node per chute (by name), its secrets by key under it; the cursor stays put."""
        tree = self.secrets_tree
        keep = self.selected()
        keep_id = keep.secret_id if isinstance(keep, SecretRow) else keep
        tree.clear()
        groups: dict[str, list[SecretRow]] = {}
        for row in sorted(self.rows, key=lambda row: (row.chute.lower(), row.key)):
            groups.setdefault(row.chute_id, []).append(row)
        cursor: TreeNode[SecretRow | str] | None = None
        for chute_id, rows in groups.items():
            label = Text(rows[0].chute, style="bold")
            label.append(f"  {plural(len(rows), 'secret')}", style="dim")
            node = tree.root.add(label, data=chute_id, expand=True)
            for row in rows:
                leaf = Text(row.key.ljust(24), style="cyan")
                leaf.append(f"  {short_time(row.created_at)}  {row.secret_id[:8]}", style="dim")
                added = node.add_leaf(leaf, data=row)
                if cursor is None or row.secret_id == keep_id:
                    cursor = added  # where it was, else the first secret
        if cursor is not None:
            tree.call_after_refresh(tree.move_cursor, cursor)

    def _note(self) -> None:
        note = self.query_one("#secrets-note", Static)
        if self.error:
            prefix = "Could not refresh the secrets" if self.loaded else "Cannot list the secrets"
            note.update(Text(f"{prefix}: {self.error}", style="red"))
        elif not self.rows:
            note.update(
                "No secrets yet. Press n to give one of your chutes a secret (an HF_TOKEN for a"
                " private model, say)."
            )
        else:
            chutes = len({row.chute_id for row in self.rows})
            note.update(
                f"{plural(len(self.rows), 'secret')} on {plural(chutes, 'chute')}. n new, x delete,"
                " c copy id; values are never shown."
            )

    def selected(self) -> SecretRow | str | None:
        """The secret under the cursor, or the id of the chute whose node it is on."""
        node: TreeNode[SecretRow | str] | None = self.secrets_tree.cursor_node
        return node.data if node is not None else None

    def action_copy_id(self) -> None:
        row = self.selected()
        if not isinstance(row, SecretRow):
            self.notify("Move to a secret (under its chute) to copy its id.", severity="warning")
            return
        self.app.copy_to_clipboard(row.secret_id)
        self.notify(f"Copied the id of secret {row.key}: {row.secret_id}", timeout=3)

    def action_create(self) -> None:
        chutes = self._own_chutes()
        if not chutes:
            self.notify("You have no chute to give a secret to.", severity="warning")
            return
        selected = self.selected()
        chute_id = selected.chute_id if isinstance(selected, SecretRow) else selected

        def chosen(request: SecretRequest | None) -> None:
            if request is not None:
                self.run_worker(self._create(request), group="secrets-create")

        self.app.push_screen(NewSecretScreen(chutes, chute_id), chosen)

    async def _create(self, request: SecretRequest) -> None:
        try:
            await self.state.client.create_secret(request.chute_id, request.key, request.value)
        except Conflict:
            self.notify(
                f"{request.chute} has a secret {request.key} already: delete it first to set"
                " another value.",
                title="Not created",
                severity="error",
            )
            return
        except ChutesError as error:
            self.notify(error.message, title=f"Could not create {request.key}", severity="error")
            return
        finally:
            del request  # the value goes no further
        self.reload()

    def action_delete(self) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen

        row = self.selected()
        if not isinstance(row, SecretRow):
            self.notify("Move to a secret (under its chute) to delete it.", severity="warning")
            return
        body = (
            f"Delete secret [b]{escape(row.key)}[/b] of [b]{escape(row.chute)}[/b]?\n\n"
            f"Instances that start from now on no longer get ${escape(row.key)}."
            " This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._delete(row), group="secrets-delete")

        self.app.push_screen(ConfirmScreen("Delete secret", body, danger=True), answered)

    async def _delete(self, row: SecretRow) -> None:
        try:
            await self.state.client.delete_secret(row.secret_id)
        except ChutesError as error:
            self.notify(error.message, title=f"Could not delete {row.key}", severity="error")
            return
        self.notify(f"Secret {row.key} of {row.chute} deleted.", title="Deleted", timeout=4)
        self.reload()
