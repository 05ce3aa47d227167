"""Where credentials and preferences come from.

Credentials live in the SDK's own `config.ini` (never a second credential file); the API
URL and key can come from flags and environment variables; named profiles in the app's
preferences file point at different `config.ini` files, URLs and API-key variables:

    [profiles.prod]
    config = "~/.chutes/config.ini"
    [profiles.sandbox]
    config = "~/.chutes/sandbox.ini"
    api_key_env = "CHUTES_SANDBOX_API_KEY"

Precedence: flags, then the profile, then environment variables, then the SDK file, with
one exception kept from the SDK itself: for the API URL, the file's `[api] base_url` beats
`$CHUTES_API_URL` (chutes 0.6.9 reads the variable only when the file names no URL), so a
config.ini and the official CLI always agree on where they talk to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from configparser import ConfigParser
from configparser import Error as IniError
from dataclasses import dataclass, field
from pathlib import Path

from chutes_tui.client.errors import ConfigError
from chutes_tui.client.signing import Credentials, Hotkey
from chutes_tui.core.locations import SDK_CONFIG

DEFAULT_API_URL = "https://api.chutes.ai"


def prefs_path(env: Mapping[str, str] | None = None) -> Path:
    """The app's own preferences (profiles, keys, theme) under the XDG config dir."""
    from chutes_tui.core.locations import preferences

    return preferences(env)


def load_prefs(env: Mapping[str, str] | None = None) -> dict:
    path = prefs_path(env)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    import tomllib  # only when there is a file to read: most commands start without one

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"cannot read {path}: {error}") from None


def save_pref(key: str, value: str, env: Mapping[str, str] | None = None) -> Path:
    """Set one top-level string preference, keeping the rest of the file as it was.

    Top-level keys come before the first table in TOML, so the line is replaced where it
    stands or added above the first table. A new file is private (it may name keys).
    """
    if not key.replace("_", "").isalnum():
        raise ValueError(f"not a preference name: {key!r}")
    path = prefs_path(env)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    line = f"{key} = {_toml_string(value)}"
    first_table = next(
        (i for i, text in enumerate(lines) if text.lstrip().startswith("[")), len(lines)
    )
    for i, text in enumerate(lines[:first_table]):
        name, sep, _ = text.partition("=")
        if sep and name.strip() == key:
            lines[i] = line
            break
    else:
        lines.insert(first_table, line)
    text = "\n".join(lines) + "\n"
    import tomllib

    tomllib.loads(text)  # never write a file that would not load again
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    return path


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class Connection:
    """Everything needed to talk to one Chutes API."""

    base_url: str
    credentials: Credentials = field(default_factory=Credentials)
    username: str | None = None
    config_path: Path | None = None
    profile: str | None = None

    @property
    def where_to_fix(self) -> str:
        """Where a user fixes these credentials, for error messages."""
        if self.credentials.api_key:
            return "the API key (--api-key or $CHUTES_API_KEY)"
        if self.config_path:
            return f"the [auth] section of {self.config_path}"
        return f"{SDK_CONFIG} or $CHUTES_API_KEY"

    @property
    def source(self) -> str:
        """Where the credentials came from, for messages (never the secrets themselves)."""
        if self.credentials.api_key:
            return "an API key"
        if self.config_path:
            return str(self.config_path)
        return "no credentials"


def _profiles(prefs: dict, path: Path) -> dict[str, dict[str, str]]:
    """The `[profiles.NAME]` tables, checked: each a table of text values."""
    profiles = prefs.get("profiles", {})
    if not isinstance(profiles, dict) or not all(
        isinstance(table, dict) and all(isinstance(value, str) for value in table.values())
        for table in profiles.values()
    ):
        raise ConfigError(
            f'{path}: profiles must be tables of text, e.g. [profiles.prod] config = "..."'
        )
    return profiles


def _read_ini(path: Path) -> ConfigParser:
    parser = ConfigParser()
    try:
        parser.read_string(path.read_text())
    except (OSError, UnicodeDecodeError, IniError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    return parser


def _hotkey(parser: ConfigParser, path: Path) -> tuple[Hotkey | None, str | None]:
    if not parser.has_section("auth"):
        return None, None
    auth = parser["auth"]
    seed, address = auth.get("hotkey_seed"), auth.get("hotkey_ss58address")
    if not seed or not address:
        return None, auth.get("username")
    try:
        hotkey = Hotkey.from_config(seed, address, user_id=auth.get("user_id"))
    except ValueError:
        raise ConfigError(f"hotkey_seed in {path} is not 64 hex characters") from None
    return hotkey, auth.get("username")


def no_credentials_message(path: Path) -> str:
    return (
        "no Chutes credentials found. Set CHUTES_API_KEY (or pass --api-key), or write the"
        f" SDK config {path} (`chutes register` creates it), or point CHUTES_CONFIG_PATH at"
        " one. To try the local sandbox instead: `chutes-tui sandbox serve &` then"
        " `chutes-tui sandbox config > sandbox.ini` and"
        " `export CHUTES_CONFIG_PATH=$PWD/sandbox.ini`."
    )


def resolve(
    config_path: str | Path | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """Work out the API URL and credentials, the way the SDK would plus our overrides."""
    env = os.environ if env is None else env
    profile = profile or env.get("CHUTES_TUI_PROFILE") or None
    chosen: dict = {}
    if profile:
        profiles = _profiles(load_prefs(env), prefs_path(env))
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(
                f"unknown profile {profile!r} (profiles: {known}) in {prefs_path(env)}"
            )
        chosen = profiles[profile]
    explicit = config_path or chosen.get("config") or env.get("CHUTES_CONFIG_PATH")
    path = Path(explicit or SDK_CONFIG).expanduser()
    parser: ConfigParser | None = None
    if path.exists():
        parser = _read_ini(path)
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    file_url = parser.get("api", "base_url", fallback=None) if parser else None
    base_url = (
        api_url or chosen.get("api_url") or file_url or env.get("CHUTES_API_URL") or DEFAULT_API_URL
    )
    key_env = chosen.get("api_key_env", "CHUTES_API_KEY")
    key = api_key or env.get(key_env) or env.get("CHUTES_API_KEY") or None
    hotkey, username = _hotkey(parser, path) if parser else (None, None)
    return Connection(
        base_url=base_url.rstrip("/"),
        credentials=Credentials(api_key=key, hotkey=hotkey),
        username=username,
        config_path=path if parser else None,
        profile=profile,
    )


def require_credentials(connection: Connection) -> Connection:
    if not connection.credentials.present:
        raise ConfigError(no_credentials_message(connection.config_path or SDK_CONFIG.expanduser()))
    return connection
