"""Payload parity: our import builds exactly the body the official `chutes deploy` posts.

A tiny capture server stands in for the API: it says every image is built and records the
raw `POST /chutes/` body. The official CLI (SDK 0.6.9) deploys a fixture against it, and the
recorded body must equal `import_chute(...).body`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chutes_tui.core.chute_import import import_chute
from tests.conftest import chutes_command

FIXTURES = Path(__file__).resolve().parent / "chute_fixtures"
TIMEOUT = 60
# A throwaway substrate seed: the capture server checks no signature.
SEED = "0x" + "1" * 64
SS58 = "5GEmZcemB1cz6fScJxtQTrbzTXpBzuWdLAUEF3NsPzFRhmme"


@dataclass
class Capture:
    url: str
    posts: list[dict] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)


def _handler(capture: Capture) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            capture.gets.append(self.path)
            if self.path.startswith("/images/"):
                self._reply(
                    {"image_id": "x", "status": "built and pushed", "public": False, "name": "x"}
                )
            else:
                self._reply({"permissions_bitmask": 0})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            capture.posts.append({"path": self.path, "raw": raw})
            self._reply({"chute_id": "x", "version": "y"})

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def capture() -> Iterator[Capture]:
    made = Capture("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(made))
    made.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()


def sdk_config(url: str) -> str:
    return (
        f"[api]\nbase_url = {url}\n\n"
        "[auth]\nusername = demo\nuser_id = 00000000-0000-4000-8000-000000000001\n"
        f"hotkey_seed = {SEED[2:]}\nhotkey_name = parity\nhotkey_ss58address = {SS58}\n\n"
        "[payment]\naddress = 5parity\n"
    )


@pytest.mark.parametrize("module", ["plain", "with_jobs"])
async def test_body_matches_the_official_cli(capture: Capture, tmp_path: Path, module: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURES / f"{module}.py", work / f"{module}.py")
    config = tmp_path / "config.ini"
    config.write_text(sdk_config(capture.url))
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("CHUTES", "PYTEST_"))
    }
    env.update(CHUTES_CONFIG_PATH=str(config), HOME=str(tmp_path), NO_COLOR="1", COLUMNS="200")
    ref = f"{module}:chute"
    done = subprocess.run(
        [*chutes_command(), "deploy", ref, "--accept-fee"],
        input="y\n",
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=TIMEOUT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Successfully deployed" in output, output
    assert [post["path"] for post in capture.posts] == ["/chutes/?accept_fee=true"], output
    assert any(path.startswith("/images/") for path in capture.gets), capture.gets
    official = json.loads(capture.posts[0]["raw"])

    ours = (await import_chute(ref, work, timeout=30)).body
    assert ours == official
    assert official["public"] is False and official["logo_id"] is None
    assert list(ours) == list(official)  # same keys in the same order
