"""The sandbox a chutes-tui process starts for itself (`--sandbox`, or no credentials at all)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chutes_tui.sandbox.seed import credentials
from chutes_tui.sandbox.server import RunningSandbox, start_in_thread
from chutes_tui.sandbox.settings import SandboxSettings, default_db_path
from chutes_tui.sandbox.storage import Store


@dataclass
class EmbeddedSandbox:
    """A running sandbox and the seeded user its owner signs in as; `stop()` ends it."""

    running: RunningSandbox
    username: str
    api_key: str

    @property
    def url(self) -> str:
        return self.running.url

    def stop(self) -> None:
        self.running.stop()

    def __enter__(self) -> EmbeddedSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_embedded(
    db_path: Path | None = None, speed: float = 1.0, username: str = "demo"
) -> EmbeddedSandbox:
    """Serve the user's persistent sandbox database on a free loopback port, in a thread."""
    settings = SandboxSettings(db_path=db_path or default_db_path(), speed=speed)
    # An unusable data directory is an OSError here, not a traceback from the server thread.
    Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    running = start_in_thread(settings)
    try:
        store = Store(settings.db_path)
        try:
            key = credentials(store, username).api_key
        finally:
            store.close()
    except BaseException:
        running.stop()
        raise
    return EmbeddedSandbox(running, username, key)
