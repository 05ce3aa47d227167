"""`--version` and `--sandbox` with `--no-ui`, in any position; the sandbox ends with the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chutes_tui import __version__
from chutes_tui.client.errors import ExitCode

TIMEOUT = 60

# Runs one headless command in this process, then names the sandbox threads still alive.
STOP_PROBE = """
import sys, threading
from chutes_tui.headless.runner import run
code = run(sys.argv[1:])
sys.stdout.flush()
print("ALIVE " + ",".join(t.name for t in threading.enumerate() if t.name == "sandbox"),
      file=sys.stderr)
sys.exit(code)
"""


def env_for(home: Path) -> dict[str, str]:
    """No credentials anywhere: whatever answers must be the embedded sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONIOENCODING="utf-8",
    )
    return env


def chutes_tui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", *args],
        env=env_for(home),
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.mark.parametrize("args", [("--no-ui", "--version"), ("--version", "--no-ui")])
def test_version(home: Path, args: tuple[str, ...]) -> None:
    done = chutes_tui(home, *args)
    assert (done.returncode, done.stdout) == (0, f"chutes-tui {__version__}\n")


@pytest.mark.parametrize(
    "args",
    [
        ("--no-ui", "--sandbox", "chutes", "list"),
        ("--sandbox", "--no-ui", "chutes", "list"),
        ("--no-ui", "chutes", "list", "--sandbox"),
    ],
)
def test_sandbox_lists_the_seeded_chutes(home: Path, args: tuple[str, ...]) -> None:
    done = chutes_tui(home, *args)
    assert done.returncode == 0, done.stderr
    names = sorted(chute["name"] for chute in json.loads(done.stdout))
    assert names == ["echo-stream", "hello-world", "llama-mini"]
    # The dashboard's own sandbox database, in the user's data directory.
    assert (home / ".local" / "share" / "chutes-tui" / "sandbox.db").is_file()


def test_without_sandbox_and_credentials_nothing_starts(home: Path) -> None:
    done = chutes_tui(home, "--no-ui", "chutes", "list")
    assert done.returncode == ExitCode.AUTH, done.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--sandbox", "me"), ExitCode.OK),
        (("--sandbox", "chutes", "get", "no-such-chute"), ExitCode.NOT_FOUND),
    ],
)
def test_the_sandbox_stops_when_the_command_ends(
    home: Path, args: tuple[str, ...], code: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STOP_PROBE, *args],
        env=env_for(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == code, done.stderr
    assert "ALIVE \n" in done.stderr  # no thread named "sandbox" is left


def test_sandbox_refuses_other_connection_options(home: Path) -> None:
    done = chutes_tui(home, "--no-ui", "--sandbox", "--api-url", "http://127.0.0.1:9", "me")
    assert done.returncode == ExitCode.USAGE
    assert "--sandbox takes no" in done.stderr


def test_a_sandbox_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data directory should be")
    env = env_for(tmp_path) | {"XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", "--no-ui", "--sandbox", "me"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == ExitCode.UNAVAILABLE
    assert done.stderr.startswith("chutes-tui: error: cannot start the sandbox: ")
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_the_dashboard_session_uses_the_same_embedded_sandbox(tmp_path: Path) -> None:
    import httpx

    from chutes_tui.tui.session import embedded_sandbox

    session = embedded_sandbox(db_path=tmp_path / "sandbox.db")
    thread = session.sandbox.running.thread
    try:
        assert session.is_sandbox and session.connection.username == "demo"
        key = session.connection.credentials.api_key
        reply = httpx.get(f"{session.where}/users/me", headers={"Authorization": key}, timeout=10)
        assert reply.json()["username"] == "demo"
    finally:
        session.close()
    assert not thread.is_alive()
