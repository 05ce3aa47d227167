"""The dashboard's options, resolved once from flags, environment, preferences and defaults.

One rule: a command-line value wins only if the user typed it (the flags default to None);
then the preferences file; then the defaults. Credentials are resolved elsewhere
(`config.resolve`, with the SDK's own rules).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chutes_tui.tui.theme import HOUSE_THEME

DEFAULT_REFRESH = 10.0
LIVE_KEYS = ("poll_interval", "backfill", "max_lines", "events_url")


@dataclass(frozen=True)
class DashboardOptions:
    refresh_interval: float = DEFAULT_REFRESH  # 0: no auto-refresh
    theme: str = HOUSE_THEME.name
    keys: Mapping[str, str] = field(default_factory=dict)
    live: Mapping[str, Any] = field(default_factory=dict)  # the `[live]` values, flags applied
    open_chute: str | None = None
    exit_after_first_paint: bool = False  # the start-up benchmark

    @classmethod
    def resolve(
        cls,
        prefs: Mapping[str, Any],
        *,
        refresh: float | None = None,
        chute: str | None = None,
        poll: float | None = None,
        backfill: int | None = None,
        log_lines: int | None = None,
        events_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> DashboardOptions:
        env = os.environ if env is None else env
        interval = refresh if refresh is not None else prefs.get("refresh_interval")
        keys = prefs.get("keys")
        section = prefs.get("live")
        live = {
            key: section[key] for key in LIVE_KEYS if isinstance(section, dict) and key in section
        }
        if env.get("CHUTES_EVENTS_URL") and events_url is None:
            events_url = env["CHUTES_EVENTS_URL"]
        typed: dict[str, float | str | None] = {
            "poll_interval": poll,
            "backfill": backfill,
            "max_lines": log_lines,
            "events_url": events_url,
        }
        live.update({key: value for key, value in typed.items() if value is not None})
        return cls(
            refresh_interval=max(float(interval if interval is not None else DEFAULT_REFRESH), 0),
            theme=str(prefs.get("theme") or HOUSE_THEME.name),
            keys={str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {},
            live=live,
            open_chute=chute,
            exit_after_first_paint=env.get("CHUTES_TUI_EXIT_AFTER_FIRST_PAINT") == "1",
        )
