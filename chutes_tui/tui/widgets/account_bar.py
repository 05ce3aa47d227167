"""The header line: who, where, whether we are connected, the balance, and data freshness."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from chutes_tui.core.durations import duration


class AccountBar(Widget):
    """Always on top: user, API URL, connection state, balance; SANDBOX when embedded."""

    DEFAULT_CSS = """
    AccountBar { height: 1; dock: top; }
    """

    def render(self) -> Text:
        app = self.app
        state = app.connection_state  # type: ignore[attr-defined]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" chutes-tui ", style="bold reverse")
        if app.session.is_sandbox:  # type: ignore[attr-defined]
            label = (
                " SANDBOX: local simulated Chutes API " if self.size.width >= 110 else " SANDBOX "
            )
            text.append(label, style="bold black on yellow")
        user = app.account or {}  # type: ignore[attr-defined]
        name = user.get("username") or app.session.connection.username  # type: ignore[attr-defined]
        text.append(f"  {name}" if name else "  not signed in", style="bold" if name else "dim")
        balance = user.get("balance")
        if balance is not None:
            text.append(f"  ${balance:,.2f}", style="bold green" if balance > 0 else "bold red")
        text.append(f"  {app.session.where}", style="dim")  # type: ignore[attr-defined]
        colour = {"online": "green", "connecting": "yellow"}.get(state.split()[0], "red")
        text.append(f"  ● {state}", style=colour)
        stale = app.stale_age()  # type: ignore[attr-defined]
        if stale is not None:
            text.append(f"  stale {duration(stale)}", style="bold yellow")
        if not app.refreshing:  # type: ignore[attr-defined]
            text.append("  auto-refresh paused", style="yellow")
        return text
