"""The Spend tab of the account screen: burn, balance, runway, fees, spend per chute per day."""

from __future__ import annotations

from textual.widgets import Static


class SpendPane(Static):
    """What the account spends and on what."""

    def on_mount(self) -> None:
        self.update("Loading spend…")
