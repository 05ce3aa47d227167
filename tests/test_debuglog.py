"""CHUTES_TUI_DEBUG=1 writes a request log: method, path, status and time, never a secret."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest

from chutes_tui.client import debuglog
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import ExitCode, TimedOut, Unreachable
from chutes_tui.client.signing import Credentials, Hotkey
from chutes_tui.config import Connection
from tests.conftest import Sandbox
from tests.test_headless import Cli

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] "
MS = r"\d+\.\d ms"
SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
API_KEY = "cpk_" + "0123456789abcdef" * 2 + "." + "fedcba9876543210" * 2 + ".SECRETpart"
SEED = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
AUTH_HEADERS = ("authorization", "x-chutes-hotkey", "x-chutes-signature", "x-chutes-nonce")
INSTANCE = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_lines(text: str, *patterns: str) -> None:
    for pattern in patterns:
        assert re.search(rf"^{STAMP}{pattern}$", text, re.M), f"no line {pattern!r} in:\n{text}"


def test_headless_commands_write_the_request_log(sandbox: Sandbox, tmp_path: Path) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    cli = Cli(sandbox, home)
    env = cli.env(CHUTES_TUI_DEBUG="1", XDG_STATE_HOME=str(state))
    cli("me", env=env)  # hotkey-signed with a purpose
    cli("--api-key", cli.key("demo"), "chutes", "list", env=env)  # Authorization
    cli("share", "hello-world", "bob", env=env)  # hotkey-signed over the body
    cli("warmup", "hello-world", "--wait", "--timeout", "30", env=env, output="stream")
    cli.error("chutes", "get", "no-such-chute", code=ExitCode.NOT_FOUND, env=env)

    log = state / "chutes-tui" / "debug.log"
    text = log.read_text()
    assert_lines(
        text,
        rf"GET /users/me 200 {MS}",
        rf"GET /chutes/\?page=0&limit=\d+&include_public=false 200 {MS}",
        rf"POST /chutes/share 200 {MS}",
        rf"stream GET /chutes/warmup/hello-world opened 200 {MS}",
        r"stream GET /chutes/warmup/hello-world closed after \d+\.\d s: .+",
        rf"GET /chutes/no-such-chute 404 {MS}",
    )
    demo = sandbox.users["demo"].creds
    for secret in (*cli.secrets, demo.hotkey):
        assert secret not in text
    assert not SIGNATURE.search(text)
    assert not any(name in text.lower() for name in AUTH_HEADERS)
    assert "chute_id_or_name" not in text  # no request body
    assert mode(log) == 0o600 and mode(log.parent) == 0o700

    quiet = tmp_path / "quiet"
    cli("me", env=cli.env(XDG_STATE_HOME=str(quiet)))
    assert not quiet.exists()  # no variable, no log


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_debug_flag_turns_the_log_on(sandbox: Sandbox, tmp_path: Path, where: str) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    cli = Cli(sandbox, home)
    args = ("--debug", "me") if where == "before" else ("me", "--debug")
    cli(*args, env=cli.env(XDG_STATE_HOME=str(state)))
    assert_lines((state / "chutes-tui" / "debug.log").read_text(), rf"GET /users/me 200 {MS}")


def test_the_dashboard_takes_the_debug_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from chutes_tui import cli

    monkeypatch.setenv(debuglog.ENV, "0")  # restored after the test: main() sets it to 1
    monkeypatch.setattr("chutes_tui.paths.print_paths", lambda args: 0)
    assert cli.main(["--debug", "paths"]) == 0
    assert debuglog.enabled()


@pytest.fixture
def debug_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The process's request log, switched on and kept under tmp_path."""
    monkeypatch.setenv("CHUTES_TUI_DEBUG", "true")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(debuglog, "_shared", None)
    yield tmp_path / "chutes-tui" / "debug.log"
    if debuglog._shared is not None:
        debuglog._shared.close()


async def test_errors_retries_and_streams_are_logged_without_secrets(debug_log: Path) -> None:
    assert debuglog.log_path() == debug_log
    sent: list[httpx.Request] = []
    tries = {"me": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        path = request.url.path
        if path == "/users/me":
            tries["me"] += 1
            if tries["me"] == 1:
                return httpx.Response(503, json={"detail": "busy"}, headers={"Retry-After": "1"})
            return httpx.Response(200, json={"username": "demo", "user_id": "u-1"})
        if path == "/pricing":
            raise httpx.ConnectError("connection refused")
        if path == "/chutes/share":
            raise httpx.ReadTimeout("read timed out")
        if path == f"/instances/{INSTANCE}/logs":
            body = b"".join(b'data: {"log": "line %d"}\n\n' % n for n in range(5))
            return httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})
        return httpx.Response(200, json={"username": "x", "available": True, "valid": True})

    async def no_sleep(seconds: float) -> None:
        pass

    hotkey = Hotkey.from_seed(SEED, user_id="9d3c5c0e-1f55-5b0e-8a33-0d3cfa2f0e11")
    clients = [
        ChutesClient(
            Connection(base_url="https://api.test", credentials=credentials),
            transport=httpx.MockTransport(handler),
            sleep=no_sleep,
        )
        for credentials in (Credentials(hotkey=hotkey), Credentials(api_key=API_KEY))
    ]
    signed, keyed = clients
    try:
        await signed.me()
        with pytest.raises(Unreachable):
            await signed.pricing()
        with pytest.raises(TimedOut):
            await signed.share("hello-world", "body-marker-7f3a")
        lines = [line async for line in signed.instance_logs(INSTANCE, 2, follow=False)]
        assert lines == ["line 0", "line 1"]
        await keyed.name_check(API_KEY)  # a secret in a query is redacted too
    finally:
        for client in clients:
            await client.aclose()

    text = debug_log.read_text()
    assert_lines(
        text,
        rf"GET /users/me 503 {MS}",
        r"GET /users/me retry 1 in 1\.00 s",
        rf"GET /users/me 200 {MS}",
        rf"GET /pricing failed after {MS}: ConnectError: connection refused",
        r"GET /pricing retry 3 in \d+\.\d\d s",
        rf"POST /chutes/share failed after {MS}: ReadTimeout: read timed out",
        rf"stream GET /instances/{INSTANCE}/logs\?backfill=2 opened 200 {MS}",
        rf"stream GET /instances/{INSTANCE}/logs\?backfill=2 closed after \d+\.\d s: .+",
        rf"GET /users/name_check\?username=<redacted> 200 {MS}",
    )
    assert len(re.findall(r"GET /pricing failed", text)) == 4  # one try and three retries
    values = {value for request in sent for value in map(request.headers.get, AUTH_HEADERS)}
    values.discard(None)
    assert {hotkey.ss58, API_KEY} <= values and len(values) > 4  # signatures and nonces too
    leaked = [value for value in (*values, SEED) if value in text]
    assert leaked == []
    assert "body-marker-7f3a" not in text
    assert mode(debug_log) == 0o600 and mode(debug_log.parent) == 0o700


def test_the_log_is_rotated_and_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "debug.log"
    log = debuglog.RequestLog(path, max_bytes=2000)
    try:
        for number in range(200):
            log.write(f"GET /chutes/{number:04d} 200 1.0 ms")
    finally:
        log.close()
    older = path.with_name("debug.log.1")
    assert path.stat().st_size <= 2000 and older.stat().st_size <= 2000
    assert "GET /chutes/0199 " in path.read_text()
    assert "GET /chutes/0000 " not in path.read_text() + older.read_text()
    assert mode(path) == mode(older) == 0o600 and mode(path.parent) == 0o700


def test_the_log_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debuglog, "_shared", None)
    for value in ("", "0", "false", "no"):
        monkeypatch.setenv("CHUTES_TUI_DEBUG", value)
        assert debuglog.request_log() is None
    monkeypatch.delenv("CHUTES_TUI_DEBUG")
    assert debuglog.request_log() is None
    assert debuglog.enabled({"CHUTES_TUI_DEBUG": "1"})
    assert debuglog.enabled({"CHUTES_TUI_DEBUG": "TRUE"})
