"""The header line: who, where, whether we are connected, the balance, and data freshness."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from chutes_tui.core.durations import duration
from chutes_tui.tui.access import DashboardAccess


class AccountBar(DashboardAccess, Widget):
    """Always on top: user, API URL, connection state, balance; SANDBOX for a sandbox."""

    DEFAULT_CSS = """
    AccountBar { height: 1; dock: top; }
    """

    def render(self) -> Text:
        state = self.state
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" chutes-tui ", style="bold reverse")
        if state.is_sandbox:
            label = (
                " SANDBOX: local simulated Chutes API " if self.size.width >= 110 else " SANDBOX "
            )
            text.append(label, style="bold black on yellow")
        name = state.username
        text.append(f"  {name}" if name else "  not signed in", style="bold" if name else "dim")
        balance = state.account.balance if state.account is not None else None
        if balance is not None:
            text.append(f"  ${balance:,.2f}", style="bold green" if balance > 0 else "bold red")
        text.append(f"  {state.session.where}", style="dim")
        connection = state.connection
        colour = {"online": "green", "connecting": "yellow"}.get(connection.split()[0], "red")
        text.append(f"  ● {connection}", style=colour)
        stale = state.stale_age()
        if stale is not None:
            text.append(f"  stale {duration(stale)}", style="bold yellow")
        if not self.dashboard.refreshing:
            text.append("  auto-refresh paused", style="yellow")
        return text
