"""Every file chutes-tui reads or writes, in one place: the app, the client and `chutes-tui paths`.

Credentials stay in the chutes SDK's own `config.ini`; everything else follows XDG through
platformdirs. Nothing is computed at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP = "chutes-tui"
SDK_CONFIG = Path("~/.chutes/config.ini")


def sdk_config(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The SDK's config.ini: a flag, then `$CHUTES_CONFIG_PATH`, then `~/.chutes/config.ini`."""
    env = os.environ if env is None else env
    return Path(explicit or env.get("CHUTES_CONFIG_PATH") or SDK_CONFIG).expanduser()


def preferences(env: Mapping[str, str] | None = None) -> Path:
    """The app's own preferences (profiles, keys, theme): `$CHUTES_TUI_CONFIG` or XDG config."""
    env = os.environ if env is None else env
    if env.get("CHUTES_TUI_CONFIG"):
        return Path(env["CHUTES_TUI_CONFIG"]).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP) / "config.toml"


def state_dir() -> Path:
    from platformdirs import user_state_path

    return user_state_path(APP)


def sandbox_db() -> Path:
    """The embedded sandbox's database (its data persists between runs)."""
    from platformdirs import user_data_path

    return user_data_path(APP) / "sandbox.db"


def opened_chutes() -> Path:
    return state_dir() / "opened-chutes.json"


def known_users() -> Path:
    return state_dir() / "known-users.json"


def debug_log() -> Path:
    return state_dir() / "debug.log"


def styles() -> Path:
    """The stylesheets: packed inside the installed package, or top-level in a checkout."""
    packed = Path(__file__).resolve().parents[1] / "styles"  # chutes_tui/styles in a wheel
    return packed if packed.is_dir() else Path(__file__).resolve().parents[2] / "styles"


@dataclass(frozen=True)
class Location:
    label: str
    path: Path
    what: str


def every_location(config_path: str | None = None) -> list[Location]:
    """What `chutes-tui paths` prints, in order."""
    return [
        Location("credentials", sdk_config(config_path), "the chutes SDK's config.ini"),
        Location(
            "preferences", preferences(), "profiles, [keys] remapping, theme, refresh_interval"
        ),
        Location("sandbox database", sandbox_db(), "the embedded sandbox's data"),
        Location("opened chutes", opened_chutes(), "chutes shared with you that you opened"),
        Location("known users", known_users(), "names of the users you shared chutes with"),
        Location(
            "debug log",
            debug_log(),
            "every API request, written with --debug or CHUTES_TUI_DEBUG=1 (no keys)",
        ),
        Location("stylesheets", styles(), "the dashboard's .tcss files"),
    ]
