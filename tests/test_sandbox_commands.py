"""`chutes-tui sandbox serve` on a taken port, and `sandbox config --url` of a running sandbox."""

from __future__ import annotations

import configparser
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from chutes_tui.client.errors import ExitCode
from chutes_tui.sandbox import commands
from chutes_tui.sandbox.app import create_app
from chutes_tui.sandbox.settings import SandboxSettings
from tests.sandbox_process import Server, free_port, sandbox_process

TIMEOUT = 60  # catches a hang; not a timing budget


def chutes_tui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chutes_tui", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose default sandbox database is not the running sandbox's."""
    data = tmp_path_factory.mktemp("xdg-data")
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHUTES")}
    return {**env, "XDG_DATA_HOME": str(data), "HOME": str(data)}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sandbox_process(tmp_path_factory.mktemp("running")) as server:
        yield server


# --- serve ----------------------------------------------------------------------------------


def test_serve_exits_with_the_headless_unavailable_code() -> None:
    assert commands.UNAVAILABLE == ExitCode.UNAVAILABLE


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = chutes_tui(
            "sandbox", "serve", "--port", str(port), "--db", str(tmp_path / "sandbox.db")
        )
    assert run.returncode == ExitCode.UNAVAILABLE, run.stderr
    assert run.stderr == (
        f"chutes-tui: cannot serve on 127.0.0.1:{port}: the address is already in use"
        " (another sandbox?); pick another with --port\n"
    )
    assert run.stdout == ""
    assert "listening" not in run.stderr and "Traceback" not in run.stderr


def test_serve_help_says_what_a_taken_port_exits_with() -> None:
    run = chutes_tui("sandbox", "serve", "--help")
    assert run.returncode == 0
    assert "8 cannot listen" in " ".join(run.stdout.split())


# --- the credentials route ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "testclient"])
async def test_the_credentials_route_refuses_other_machines(host: str) -> None:
    settings = SandboxSettings()
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(host, 123))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http,
    ):
        reply = await http.get("/_sandbox/credentials", params={"user": "demo"})
    assert reply.status_code == 403
    assert reply.json() == {"detail": "The sandbox hands out credentials to this machine only."}


async def test_the_credentials_route_answers_loopback_clients() -> None:
    from chutes_tui.sandbox.seed import credentials

    app = create_app(SandboxSettings())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http,
    ):
        reply = await http.get("/_sandbox/credentials", params={"user": "alice"})
        missing = await http.get("/_sandbox/credentials", params={"user": "zed"})
        expected = asdict(credentials(app.state.store, "alice"))
    assert reply.status_code == 200
    assert reply.json() == {"database": ":memory:", **expected}
    assert missing.status_code == 404


# --- sandbox config --url -------------------------------------------------------------------


def test_config_url_gives_the_keys_of_the_sandbox_serving_there(
    running: Server, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    run = chutes_tui("sandbox", "config", "--url", running.url, env=elsewhere)
    assert run.returncode == 0, run.stderr
    ini = configparser.ConfigParser()
    ini.read_string(run.stdout)
    assert ini["api"]["base_url"] == running.url

    key = chutes_tui("sandbox", "config", "--url", running.url, "--api-key", env=elsewhere)
    assert key.returncode == 0, key.stderr
    assert key.stdout.startswith("cpk_") and key.stdout.count("\n") == 1
    me = httpx.get(
        f"{running.url}/users/me", headers={"Authorization": key.stdout.strip()}, timeout=10
    )
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "demo"
    assert me.json()["user_id"] == ini["auth"]["user_id"]

    # the printed config signs requests with the hotkey: the headless client takes it as is
    path = tmp_path / "sandbox.ini"
    path.write_text(run.stdout)
    signed = chutes_tui("--no-ui", "--config", str(path), "me", "--json", env=elsewhere)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["user_id"] == ini["auth"]["user_id"]


def test_config_url_with_its_own_db_agrees(running: Server) -> None:
    by_url = chutes_tui(
        "sandbox", "config", "--url", running.url, "--db", str(running.db), "--api-key"
    )
    by_db = chutes_tui("sandbox", "config", "--db", str(running.db), "--api-key")
    assert by_url.returncode == 0 and by_db.returncode == 0, by_url.stderr + by_db.stderr
    assert by_url.stdout == by_db.stdout


def test_config_url_refuses_a_db_the_sandbox_does_not_serve(
    running: Server, elsewhere: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    run = chutes_tui("sandbox", "config", "--url", running.url, "--db", str(other), env=elsewhere)
    assert run.returncode == ExitCode.USAGE
    assert run.stdout == ""
    assert run.stderr == (
        f"chutes-tui: the sandbox at {running.url} serves {running.db.resolve()}, not {other};"
        " drop --db to use its keys, or --url to read that file\n"
    )


def test_config_url_of_an_unknown_user(running: Server, elsewhere: dict[str, str]) -> None:
    run = chutes_tui("sandbox", "config", "--url", running.url, "--user", "zed", env=elsewhere)
    assert run.returncode == ExitCode.USAGE
    assert run.stderr == "chutes-tui: no sandbox user 'zed' (seeded: demo, alice, bob)\n"


def test_config_url_with_nothing_there_says_so(elsewhere: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = chutes_tui("sandbox", "config", "--url", url, env=elsewhere)
    assert run.returncode == ExitCode.UNAVAILABLE
    assert run.stdout == ""
    assert run.stderr.startswith(f"chutes-tui: no sandbox answers at {url} (")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_config_url_of_something_else_says_so(running: Server, elsewhere: dict[str, str]) -> None:
    url = f"{running.url}/users"
    run = chutes_tui("sandbox", "config", "--url", url, env=elsewhere)
    assert run.returncode == ExitCode.UNAVAILABLE
    assert run.stderr == (
        f"chutes-tui: {url} does not answer like a chutes-tui sandbox"
        " (GET /_sandbox/credentials: 404)\n"
    )
