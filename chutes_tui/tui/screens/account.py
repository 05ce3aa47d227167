"""The account screen (`4`): one tab per side of the account, each a widget of its own."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.account_keys import KeysPane
from chutes_tui.tui.screens.account_secrets import SecretsPane
from chutes_tui.tui.screens.account_spend import SpendPane
from chutes_tui.tui.widgets.account_bar import AccountBar


class AccountScreen(DashboardAccess, Screen[None]):
    """Spend first; every tab loads its own data in workers bound to it."""

    BINDINGS = [
        Binding("escape", "app.show('chutes')", "Back", id="account.back"),
        Binding("r", "reload", "Refresh", id="account.refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield AccountBar()
        with TabbedContent(id="account-tabs"):
            with TabPane("Spend", id="spend"):
                yield SpendPane(id="spend-pane")
            with TabPane("Keys", id="keys"):
                yield KeysPane(id="keys-pane")
            with TabPane("Secrets", id="secrets"):
                yield SecretsPane(id="secrets-pane")
        yield Footer(compact=True)

    def action_reload(self) -> None:
        """Read the open tab's data again."""
        active = self.query_one("#account-tabs", TabbedContent).active_pane
        for pane in active.query(SpendPane) if active is not None else ():
            pane.reload()
