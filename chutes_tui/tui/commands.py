"""Command palette (ctrl+p): actions for the selected row, screens, profiles."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from chutes_tui import config


class ChutesCommands(Provider):
    """Commands that fit what is on screen right now."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from chutes_tui.tui.screens.resources import ResourceScreen

        app = self.app
        screen = self.screen
        commands: list[tuple[str, Callable[[], object], str]] = [
            ("Go to chutes", partial(app.run_action, "show('chutes')"), "The chutes list"),
            ("Go to images", partial(app.run_action, "show('images')"), "The images list"),
            ("Refresh now", partial(app.run_action, "refresh"), "Reload everything"),
            (
                "Pause or resume auto-refresh",
                partial(app.run_action, "toggle_auto_refresh"),
                "Toggle the background refresh",
            ),
            ("Show keys", partial(app.run_action, "help"), "Every key that works here"),
        ]
        if isinstance(screen, ResourceScreen):
            row = screen.selected()
            if row is not None:
                name = row.get("name", "")
                noun = screen.noun
                commands += [
                    (
                        f"Open {noun} {name}",
                        partial(screen.open, screen.key_of(row)),
                        f"Details of the selected {noun}",
                    ),
                    (f"Copy id of {noun} {name}", screen.action_copy_id, screen.key_of(row)),
                    (f"Delete {noun} {name}", screen.action_delete, "Asks first"),
                ]
                if noun == "chute":
                    commands.append(
                        (
                            f"Live view of chute {name}",
                            partial(app.open_live, screen.key_of(row)),
                            "Instances, warmup and logs as they happen",
                        )
                    )
            commands.append(("Filter this list", screen.action_filter, "Type to narrow"))
        try:
            profiles = config.load_prefs().get("profiles", {})
        except Exception:  # a broken preferences file is reported elsewhere
            profiles = {}
        for profile in profiles if isinstance(profiles, dict) else ():
            commands.append(
                (
                    f"Switch profile: {profile}",
                    partial(app.switch_profile, profile),
                    "Reconnect with this profile",
                )
            )
        return commands

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
