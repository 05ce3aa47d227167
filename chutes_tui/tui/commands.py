"""Command palette (ctrl+p): every action the current screen allows, and profiles.

The commands are read from the screen's live bindings, so the palette offers exactly what
the keys do here: an action the screen refuses (`check_action`) is not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from chutes_tui import config
from chutes_tui.client.errors import ChutesError

TITLES = {
    "app.chutes": "Go to chutes",
    "app.images": "Go to images",
    "app.shares": "Go to shares",
    "app.refresh": "Refresh now",
    "app.pause": "Pause or resume auto-refresh",
    "app.help": "Show keys",
    "app.quit": "Quit",
    "table.select": "Open",
    "list.copy": "Copy id of",
    "chutes.live": "Live view of",
    "chutes.share": "Share",
    "table.sort": "Sort by the next column",
    "table.sort_reverse": "Reverse the sort",
    "list.filter": "Filter this list",
}
ON_SELECTION = {"table.select", "list.delete", "list.copy", "chutes.live", "chutes.share"}
SKIP = {"list.clear", "table.up", "table.down", "table.page_up", "table.page_down"}
SKIP |= {"table.top", "table.bottom", "help.close"}

Command = tuple[str, Callable[[], object], str]


class ChutesCommands(Provider):
    """What the keys of this screen do, with the selected row's name where it applies."""

    def _commands(self) -> list[Command]:
        from chutes_tui.tui.screens.resources import ResourceScreen

        screen = self.screen
        selected = ""
        if isinstance(screen, ResourceScreen):
            row = screen.selected()
            selected = f" {screen.noun} {getattr(row, 'name', '')}".rstrip() if row else ""
        commands: list[Command] = []
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.id or binding.id in SKIP or binding.id in seen or not active.enabled:
                continue
            if binding.id in ON_SELECTION and not selected:
                continue
            if binding.id == f"app.{getattr(screen, 'kind', '')}":
                continue  # going where you are does nothing
            seen.add(binding.id)
            title = TITLES.get(binding.id, binding.description.rstrip("…"))
            if binding.id in ON_SELECTION:
                title += selected
            run = partial(self.app.run_action, binding.action, active.node)
            display = self.app.get_key_display(binding) or key
            commands.append((title, run, f"key {display}"))
        return commands + self._profiles()

    def _profiles(self) -> list[Command]:
        from chutes_tui.tui.app import ChutesApp

        app = self.app
        if not isinstance(app, ChutesApp):
            return []
        try:
            profiles = config.load_prefs().get("profiles", {})
        except ChutesError:  # a broken preferences file is reported where it is used
            profiles = {}
        return [
            (
                f"Switch profile: {profile}",
                partial(app.switch_profile, profile),
                "Start over with this profile",
            )
            for profile in (profiles if isinstance(profiles, dict) else ())
        ]

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
