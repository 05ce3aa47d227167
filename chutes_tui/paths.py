"""`chutes-tui paths`: every file location chutes-tui reads or writes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from chutes_tui import config
from chutes_tui.client import debuglog


def locations(config_path: str | None = None) -> list[tuple[str, Path | str, str]]:
    from platformdirs import user_state_path

    from chutes_tui.sandbox.settings import default_db_path

    sdk = Path(config_path or os.environ.get("CHUTES_CONFIG_PATH") or config.SDK_CONFIG)
    styles = Path(__file__).resolve().parent / "styles"
    if not styles.is_dir():
        styles = Path(__file__).resolve().parents[1] / "styles"
    return [
        ("credentials", sdk.expanduser(), "the chutes SDK's config.ini ($CHUTES_CONFIG_PATH)"),
        ("preferences", config.prefs_path(), "profiles, [keys] remapping, theme, refresh_interval"),
        ("sandbox database", default_db_path(), "the embedded sandbox's data"),
        (
            "opened chutes",
            user_state_path("chutes-tui") / "opened-chutes.json",
            "chutes shared with you that you opened by name",
        ),
        (
            "debug log",
            debuglog.log_path(),
            "every API request, written when CHUTES_TUI_DEBUG=1 (no keys or signatures)",
        ),
        ("stylesheets", styles, "the dashboard's .tcss files"),
    ]


def print_paths(args: argparse.Namespace) -> int:
    for label, path, what in locations(getattr(args, "config", None)):
        exists = "" if Path(path).exists() else "  (not created yet)"
        print(f"{label:<18} {path}{exists}\n{'':<18} {what}")
    return 0
