"""Shared fixtures: a real sandbox on a loopback port, and independent request signers.

Requests are signed with substrate-interface (the SDK's own dependency), not with any
chutes-tui code, so a signing bug of ours cannot hide a verification bug of the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chutes_tui.sandbox.commands import config_text
from chutes_tui.sandbox.seed import Credentials, credentials
from chutes_tui.sandbox.server import RunningSandbox, start_in_thread
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import Store
from tests.simclock import ClockState

SEEDED = ("demo", "alice", "bob")


def _drop_traceback(record: logging.LogRecord) -> bool:
    record.exc_info = None
    record.exc_text = None
    return True


@pytest.fixture(scope="session", autouse=True)
def quiet_server_tracebacks() -> Iterator[None]:
    """Keep the in-thread server from formatting tracebacks while pytest formats reports.

    Python 3.11 tracebacks parse source with `ast`, whose recursion bookkeeping is shared
    between threads; two threads formatting at once can raise `SystemError: AST constructor
    recursion depth mismatch` inside pytest. (A filter, because uvicorn's logging setup
    re-enables disabled loggers.)
    """
    logger = logging.getLogger("uvicorn.error")
    logger.addFilter(_drop_traceback)
    try:
        yield
    finally:
        logger.removeFilter(_drop_traceback)


@dataclass
class SandboxUser:
    creds: Credentials
    config_path: Path

    @property
    def api_key(self) -> str:
        return self.creds.api_key

    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.creds.api_key}"}

    def signed(
        self, purpose: str | None = None, body: bytes | None = None, nonce: int | None = None
    ) -> dict[str, str]:
        """Hotkey headers exactly as SDK 0.6.9 builds them."""
        from substrateinterface import Keypair

        nonce_text = str(int(time.time()) if nonce is None else nonce)
        tail = hashlib.sha256(body).hexdigest() if body is not None else purpose
        message = f"{self.creds.hotkey}:{nonce_text}:{tail}"
        pair = Keypair.create_from_seed(seed_hex=self.creds.hotkey_seed)
        headers = {
            "X-Chutes-UserID": self.creds.user_id,
            "X-Chutes-Hotkey": self.creds.hotkey,
            "X-Chutes-Nonce": nonce_text,
            "X-Chutes-Signature": pair.sign(message.encode()).hex(),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers


@dataclass
class Sandbox:
    running: RunningSandbox
    db_path: Path
    users: dict[str, SandboxUser]
    settings: SandboxSettings

    @property
    def url(self) -> str:
        return self.running.url

    # the simulated clock, steered directly: the server runs in a thread of this process

    def clock_state(self) -> ClockState:
        return ClockState(**self.settings.clock.state())

    def simulated_seconds(self) -> float:
        return self.settings.clock.simulated_seconds()

    def pause(self) -> None:
        self.settings.clock.pause()

    def resume(self) -> None:
        self.settings.clock.resume()

    def advance(self, simulated_seconds: float) -> None:
        """Move the clock on; what falls due happens at the simulator's next tick."""
        self.settings.clock.advance(simulated_seconds)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def query(self, sql: str, *args) -> list[dict]:
        """Read the database through a separate connection, as another process would."""
        store = Store(self.db_path)
        try:
            return store.all(sql, *args)
        finally:
            store.close()


def start_sandbox(tmp_path: Path, **overrides) -> Sandbox:
    db_path = tmp_path / "sandbox.db"
    settings = SandboxSettings(db_path=db_path, speed=overrides.pop("speed", 100.0), **overrides)
    running = start_in_thread(settings)
    store = Store(db_path)
    users = {}
    try:
        for name in SEEDED:
            path = tmp_path / f"{name}.ini"
            path.write_text(config_text(name, running.url, store))
            users[name] = SandboxUser(credentials(store, name), path)
    finally:
        store.close()
    return Sandbox(running, db_path, users, settings)


@contextmanager
def running_sandbox(path: Path, **overrides) -> Iterator[Sandbox]:
    box = start_sandbox(path, **overrides)
    try:
        yield box
    finally:
        box.running.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox for one test."""
    with running_sandbox(tmp_path) as box:
        yield box


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox shared by one test module, for tests that change nothing others look at."""
    with running_sandbox(tmp_path_factory.mktemp("shared")) as shared:
        yield shared


def _no_server_errors(response: httpx.Response) -> None:
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url} -> {response.status_code}"


def strict_http(box: Sandbox) -> httpx.Client:
    """An HTTP client that fails the test on any 5xx reply."""
    return httpx.Client(base_url=box.url, timeout=10, event_hooks={"response": [_no_server_errors]})


def body_bytes(payload: dict) -> bytes:
    """Compact JSON, as the SDK serialises bodies before signing them."""
    return json.dumps(payload, separators=(",", ":")).encode()


def deploy_body(**changes) -> dict:
    """A deploy request as SDK 0.6.9 sends it for a one-cord chute on `demo/hello:0.1`."""
    body = {
        "name": "test-chute",
        "tagline": "a test",
        "readme": "",
        "logo_id": None,
        "image": "demo/hello:0.1",
        "public": False,
        "standard_template": None,
        "node_selector": {
            "gpu_count": 1,
            "min_vram_gb_per_gpu": 16,
            "max_hourly_price_per_gpu": None,
            "include": None,
            "exclude": None,
        },
        "filename": "hello.py",
        "ref_str": "hello:chute",
        "code": "print('hello')\n",
        "concurrency": 1,
        "max_instances": 1,
        "scaling_threshold": 0.75,
        "shutdown_after_seconds": 300,
        "allow_external_egress": False,
        "encrypted_fs": False,
        "tee": False,
        "lock_modules": None,
        "revision": None,
        "cords": [
            {
                "method": "POST",
                "path": "/echo",
                "public_api_path": "/echo",
                "public_api_method": "POST",
                "stream": False,
                "function": "echo",
                "input_schema": {},
                "output_schema": {},
                "output_content_type": None,
                "minimal_input_schema": {},
                "passthrough": False,
            }
        ],
        "jobs": [],
    }
    body.update(changes)
    return body


def chutes_command() -> list[str]:
    """How to start the official `chutes` console script, under this interpreter if possible."""
    import importlib.metadata
    import shutil
    import sys

    for entry in importlib.metadata.entry_points(group="console_scripts", name="chutes"):
        if entry.module.split(".")[0] == "chutes":
            return [
                sys.executable,
                "-c",
                f"import sys; from {entry.module} import {entry.attr} as main; sys.exit(main())",
            ]
    script = shutil.which("chutes")
    if script is None:
        pytest.skip("the official chutes CLI is not installed")
    return [script]
