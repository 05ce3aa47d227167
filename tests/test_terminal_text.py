"""Server text reaches the terminal without escape sequences, and error messages are capped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chutes_tui.headless.terminal_text import MAX_MESSAGE, capped, safe_text
from tests.conftest import Sandbox

HOSTILE = "bad \x1b]0;pwned\x07title \x1b[2Jclear \x1b[31mred\x1b[0m\rover\x07\x08 \x9b2J end"


def test_escapes_and_controls_are_dropped_colour_only_when_asked() -> None:
    assert safe_text(HOSTILE) == "bad title clear redover  end"
    assert safe_text(HOSTILE, keep_colour=True) == "bad title clear \x1b[31mred\x1b[0mover  end"
    assert safe_text("tabs\tand\nlines") == "tabs\tand\nlines"


def test_a_long_message_is_capped_and_says_so() -> None:
    shown = capped("x" * (MAX_MESSAGE + 5_000_000))
    assert shown.endswith("… (5,000,000 more characters)") and len(shown) < MAX_MESSAGE + 40


class Hostile(BaseHTTPRequestHandler):
    """Answers every request with a 500 whose detail tries to drive the terminal."""

    detail = HOSTILE

    def do_GET(self) -> None:
        body = json.dumps({"detail": self.detail}).encode()
        self.send_response(500 if "big" not in self.path else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chutes_tui", "--no-ui", "--api-url", url, "--api-key", "k", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_error_detail_cannot_drive_the_terminal(hostile: str) -> None:
    done = run(hostile, "chutes", "get", "x")
    assert done.returncode == 8, done.stderr
    assert "\x1b" not in done.stderr and "\r" not in done.stderr and "\x07" not in done.stderr
    assert "bad title clear redover" in done.stderr


def test_a_huge_error_detail_is_cut(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Hostile, "detail", "y" * 5_000_000)
    done = run(hostile, "chutes", "get", "big")
    assert done.returncode != 0
    assert len(done.stderr) < MAX_MESSAGE + 500, len(done.stderr)
    assert "more characters)" in done.stderr


def test_me_as_a_table_is_a_table(box: Sandbox, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", "--no-ui", "--output", "table", "me"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "CHUTES_API_URL": box.url,
            "CHUTES_API_KEY": box.users["demo"].api_key,
            "COLUMNS": "120",
        },
    )
    assert done.returncode == 0, done.stderr
    assert "{'" not in done.stdout and "None" not in done.stdout
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == ["username", "demo"] for line in lines), done.stdout


class BusyOnce(BaseHTTPRequestHandler):
    """`/users/me` answers 503 with Retry-After once, then the account."""

    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        busy = type(self).calls == 1
        body = json.dumps({"detail": "busy"} if busy else {"username": "u", "user_id": "1"})
        self.send_response(503 if busy else 200)
        if busy:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_wait_the_api_asks_for_is_said_on_stderr() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BusyOnce)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = run(f"http://127.0.0.1:{server.server_address[1]}", "me", "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert "waiting 1 s as the API asks" in done.stderr, done.stderr
    assert json.loads(done.stdout)["username"] == "u"
