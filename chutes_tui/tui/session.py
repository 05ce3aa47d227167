"""What the dashboard connects to: the configured API, or an embedded sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chutes_tui import config
from chutes_tui.client.errors import ConfigError
from chutes_tui.client.signing import Credentials


@dataclass
class Session:
    """A connection plus, when it is the embedded sandbox, the server that backs it."""

    connection: config.Connection
    sandbox: Any = None  # EmbeddedSandbox (or a RunningSandbox) when embedded
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # shown instead of the URL when set

    @property
    def where(self) -> str:
        return self.label or self.connection.base_url

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox is not None

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def embedded_sandbox(db_path: Path | None = None, speed: float = 1.0) -> Session:
    """Start a sandbox on a free loopback port (persistent db) and sign in as `demo`."""
    from chutes_tui.sandbox.embedded import start_embedded

    box = start_embedded(db_path, speed)
    connection = config.Connection(
        base_url=box.url, credentials=Credentials(api_key=box.api_key), username=box.username
    )
    return Session(connection, sandbox=box)


def open_session(
    *,
    sandbox: bool = False,
    config_path: str | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    sandbox_db: Path | None = None,
) -> Session:
    """The configured API when there are credentials, else (or when asked) the sandbox."""
    options = {"config_path": config_path, "api_url": api_url, "api_key": api_key}
    if sandbox:
        return embedded_sandbox(sandbox_db)
    connection = config.resolve(
        config_path=config_path, api_url=api_url, api_key=api_key, profile=profile
    )
    if not connection.credentials.present:
        if config_path or api_key or profile:
            raise ConfigError(
                config.no_credentials_message(
                    connection.config_path or config.SDK_CONFIG.expanduser()
                )
            )
        return embedded_sandbox(sandbox_db)
    return Session(connection, options=options)
