"""Typed handles for screens and widgets: `self.dashboard` (the app) and `self.state`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.state import DashboardState


class DashboardAccess:
    """Mix into a Screen or Widget of the dashboard.

    Screens read the state through these properties at the moment they need it and never
    keep the client across an await: a profile switch replaces the state whole.
    """

    @property
    def dashboard(self) -> ChutesApp:
        return cast("ChutesApp", cast(DOMNode, self).app)

    @property
    def state(self) -> DashboardState:
        return self.dashboard.state
