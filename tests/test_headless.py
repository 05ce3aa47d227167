"""`chutes-tui --no-ui`, run as a real subprocess against a real sandbox.

stdout is a pipe, so every command prints JSON unless told otherwise. Outputs are compared
with golden files in tests/golden/ after volatile values (per-database user ids and keys,
timestamps, random instance ids, balances, timings) are replaced by placeholders; run with
UPDATE_GOLDEN=1 to rewrite them. Every run is also checked for hygiene: no traceback, and no
API key or hotkey seed on stdout or stderr.

Read-only commands share one sandbox per module; commands that change state get their own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chutes_tui.client.errors import ExitCode
from chutes_tui.sandbox.lifecycle import HEALTH_CHECK_LINE
from chutes_tui.sandbox.seed import HELLO_CODE
from tests.conftest import Sandbox, start_sandbox
from tests.simclock import wait_simulated

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TIMEOUT = 60
BACKFILL_LINES = [  # what a new instance logs at once (lifecycle.Simulator._create)
    "provisioned on 1x {gpu}",
    "pulling image for chute {chute}",
    "loading hello.py",
]


# --- normalising and golden files ----------------------------------------------------------

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?")
UUID4 = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")
SS58 = re.compile(r"\b5[1-9A-HJ-NP-Za-km-z]{47}\b")
VOLATILE_KEYS = {"balance", "waited_seconds", "age_seconds", "amount", "boost"}


class Normaliser:
    """Placeholders for everything that differs between two sandboxes or two runs."""

    def __init__(self, box: Sandbox) -> None:
        self.replacements: list[tuple[str, str]] = [(box.url, "<api_url>")]
        for row in box.query(
            "SELECT username, user_id, hotkey, coldkey, payment_address FROM users"
        ):
            name = row["username"]
            for column in ("user_id", "hotkey", "coldkey", "payment_address"):
                self.replacements.append((row[column], f"<{column}:{name}>"))
        self.uuid4s: dict[str, str] = {}

    def _data(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {name: self._data(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self._data(item) for item in value]
        if value is None or isinstance(value, bool):
            return value
        if key in VOLATILE_KEYS:
            return f"<{key}>"
        if key and key.endswith("_at") and isinstance(value, int | float):
            return "<epoch>"
        return value

    def text(self, text: str) -> str:
        for value, placeholder in self.replacements:
            text = text.replace(value, placeholder)
        text = TIMESTAMP.sub("<timestamp>", text)
        text = UUID4.sub(self._uuid4, text)
        return SS58.sub("<ss58>", text)

    def _uuid4(self, match: re.Match) -> str:
        # Numbered in order of appearance, so "the same instance" stays visible.
        return self.uuid4s.setdefault(match.group(), f"<uuid4:{len(self.uuid4s) + 1}>")

    def json(self, data: Any) -> str:
        return self.text(json.dumps(self._data(data), indent=2, ensure_ascii=False) + "\n")


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1"
    assert actual == path.read_text(), f"differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


def golden_json(box: Sandbox, name: str, data: Any) -> None:
    golden(name, Normaliser(box).json(data))


# --- running the command -------------------------------------------------------------------


def json_stream(text: str) -> list[Any]:
    """Concatenated JSON documents (how `logs` prints one object per line of log)."""
    decoder, items, position = json.JSONDecoder(), [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return items
        item, position = decoder.raw_decode(text, position)
        items.append(item)


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"{self.args} -> {self.code}\nstdout: {self.stdout[:2000]}\nstderr: {self.stderr}"


def clean_env(home: Path) -> dict[str, str]:
    """The test process's environment minus anything that would change the command."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CHUTES")
        and key not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        COLUMNS="200",
        PYTHONIOENCODING="utf-8",
    )
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chutes_tui", "--no-ui", *args]


@dataclass
class Cli:
    """`chutes-tui --no-ui` against one sandbox, as one of its users."""

    box: Sandbox
    home: Path
    secrets: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = {user.api_key for user in self.box.users.values()}
        self.secrets |= {user.creds.hotkey_seed for user in self.box.users.values()}

    def env(self, user: str | None = "demo", **extra: str) -> dict[str, str]:
        env = clean_env(self.home)
        if user is not None:
            env["CHUTES_CONFIG_PATH"] = str(self.box.users[user].config_path)
        env.update(extra)
        return env

    def key(self, user: str) -> str:
        return self.box.users[user].api_key

    def __call__(
        self,
        *args: str,
        code: int = 0,
        user: str | None = "demo",
        env: dict[str, str] | None = None,
        output: str = "json",
        timeout: float = TIMEOUT,
    ) -> Run:
        proc = subprocess.run(
            command(*args),
            env=env if env is not None else self.env(user),
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        run = Run(args, proc.returncode, proc.stdout, proc.stderr)
        self.check_hygiene(run)
        assert run.code == code, str(run)
        if code == 0 and output == "json":
            run.json()  # stdout is one JSON document
        if code == 0 and output == "stream":
            json_stream(run.stdout)
        return run

    def check_hygiene(self, run: Run) -> None:
        for stream in (run.stdout, run.stderr):
            assert "Traceback" not in stream, str(run)
            for secret in self.secrets:
                assert secret not in stream, f"a secret leaked: {run}"

    def error(self, *args: str, code: int, **kwargs: Any) -> Run:
        """A failing command: one `chutes-tui: error:` line on stderr, nothing on stdout."""
        run = self(*args, code=code, **kwargs)
        assert run.stdout == "", str(run)
        assert len(run.stderr.splitlines()) == 1, str(run)
        assert run.stderr.startswith("chutes-tui: error: "), str(run)
        return run


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cli(box: Sandbox, home: Path) -> Cli:
    return Cli(box, home)


@pytest.fixture
def fresh(sandbox: Sandbox, home: Path) -> Cli:
    """A sandbox of its own at speed 100, for commands that change state."""
    return Cli(sandbox, home)


@pytest.fixture
def slow(tmp_path: Path, home: Path) -> Iterator[Cli]:
    """A sandbox at real speed whose clock never moves: chutes stay cold."""
    sandbox = start_sandbox(tmp_path, speed=1.0, paused=True)
    try:
        yield Cli(sandbox, home)
    finally:
        sandbox.running.stop()


# --- reading commands ----------------------------------------------------------------------


def test_me(cli: Cli) -> None:
    data = cli("me").json()
    assert data["username"] == "demo"
    assert data["user_id"] == cli.box.users["demo"].creds.user_id
    golden_json(cli.box, "me.json", data)


def test_me_with_an_api_key_flag_and_env(cli: Cli) -> None:
    assert cli("--api-key", cli.key("alice"), "me").json()["username"] == "alice"
    env = cli.env(user=None, CHUTES_API_KEY=cli.key("bob"), CHUTES_API_URL=cli.box.url)
    assert cli("me", env=env).json()["username"] == "bob"
    config = str(cli.box.users["alice"].config_path)
    assert cli("--config", config, "me", user=None).json()["username"] == "alice"


@pytest.mark.parametrize(
    ("args", "name", "count"),
    [
        ((), "images_list.json", 4),
        (("--all", "--include-public"), "images_list_all_public.json", 11),
        (("--include-public", "--name", "hel"), "images_list_name.json", 1),
        (("--include-public", "--limit", "3", "--page", "1"), "images_list_page.json", 3),
        (("--include-public", "--limit", "3", "--page", "9"), "images_list_past_end.json", 0),
    ],
    ids=["default", "all-public", "name", "page", "past-end"],
)
def test_images_list(cli: Cli, args: tuple[str, ...], name: str, count: int) -> None:
    items = cli("images", "list", *args).json()
    assert len(items) == count
    golden_json(cli.box, name, items)


def test_images_get(cli: Cli) -> None:
    image = cli("images", "get", "demo/hello:0.1").json()
    assert (image["name"], image["tag"], image["status"]) == ("hello", "0.1", "built and pushed")
    assert cli("images", "get", image["image_id"]).json() == image
    assert cli("images", "get", "hello:0.1").json() == image  # the caller's own by default
    golden_json(cli.box, "images_get.json", image)
    public = cli("images", "get", "chutes/vllm:0.10.1").json()
    assert public["public"] is True and public["user"]["username"] == "chutes"


def test_chutes_list(cli: Cli) -> None:
    items = cli("chutes", "list").json()
    assert [item["name"] for item in items] == ["hello-world", "echo-stream", "llama-mini"]
    assert all(item["cords"] for item in items)  # filled in from cord_refs
    golden_json(cli.box, "chutes_list.json", items)
    assert [item["name"] for item in cli("chutes", "list", "--name", "echo").json()] == [
        "echo-stream"
    ]
    page = cli("chutes", "list", "--limit", "1", "--page", "1", "--include-public").json()
    assert [item["name"] for item in page] == ["echo-stream"]
    assert cli("chutes", "list", "--all", "--include-public").json() == items


def test_chutes_get(cli: Cli) -> None:
    chute = cli("chutes", "get", "hello-world").json()
    assert chute["hot"] is True and len(chute["instances"]) == 1
    assert cli("chutes", "get", chute["chute_id"]).json() == chute
    golden_json(cli.box, "chutes_get.json", chute)


def test_chutes_list_as_a_table(cli: Cli) -> None:
    run = cli("--output", "table", "chutes", "list", output="table")
    assert run.stderr == "3 chutes, showing 3\n"
    assert run.stdout.split()[:8] == [
        "ID",
        "NAME",
        "STATUS",
        "INST",
        "GPUS",
        "$/HOUR",
        "CALLS",
        "SLUG",
    ]
    with pytest.raises(ValueError):
        json.loads(run.stdout)
    golden("chutes_list_table.txt", Normaliser(cli.box).text(run.stdout))
    # The choice can come after the command too.
    assert cli("chutes", "list", "--output", "table", output="table").stdout == run.stdout
    assert cli("--json", "chutes", "list").json() == cli("chutes", "list").json()


def test_pricing(cli: Cli) -> None:
    prices = cli("pricing").json()
    assert prices["tao_usd"] == 400.0
    assert prices["gpu_price_estimates"]["a4000"]["usd"]["hour"] > 0
    golden_json(cli.box, "pricing.json", prices)
    # pricing needs no credentials at all.
    assert cli("--api-url", cli.box.url, "pricing", user=None).json() == prices
    table = cli("pricing", "--output", "table", output="table")
    assert table.stdout.split()[:3] == ["GPU", "USD/HOUR", "TAO/HOUR"]
    assert table.stderr == "TAO at $400\n"


def test_code(cli: Cli) -> None:
    run = cli("code", "hello-world", output="text")
    assert run.stdout == HELLO_CODE
    golden("code_hello-world.txt", Normaliser(cli.box).text(run.stdout))


def test_quick_warmup_of_a_hot_chute(cli: Cli) -> None:
    status = cli("warmup", "hello-world").json()
    assert (status["status"], status["instance_count"], status["bounty"]) == ("hot", 1, None)
    golden_json(cli.box, "warmup_quick_hot.json", status)


def test_help_lists_the_exit_codes(cli: Cli) -> None:
    run = cli("--help", output="text")
    assert "exit codes:" in run.stdout and "10 declined" in run.stdout


# --- logs ----------------------------------------------------------------------------------


def test_logs_backfill_then_stop(slow: Cli) -> None:
    """A new instance logs three lines and then, on a clock that stands still, nothing."""
    status = slow("warmup", "echo-stream").json()
    assert status["status"] == "cold" and status["bounty"] is not None
    golden_json(slow.box, "warmup_quick_cold.json", status)
    (instance,) = status["instances"]
    lines = json_stream(slow("logs", "echo-stream", output="stream").stdout)  # and it ends
    expected = [
        line.format(gpu=instance["gpu_model_name"], chute="echo-stream") for line in BACKFILL_LINES
    ]
    assert lines == [{"instance_id": instance["instance_id"], "log": line} for line in expected]
    golden_json(slow.box, "logs_backfill.json", lines)
    # By instance id, with less history, and as plain text on request.
    one = json_stream(
        slow("logs", instance["instance_id"], "--backfill", "1", output="stream").stdout
    )
    assert one == lines[-1:]
    text = slow("--output", "table", "logs", "echo-stream", output="text").stdout
    assert text.splitlines() == [f"[{instance['instance_id'][:8]}] {line}" for line in expected]


def test_logs_of_a_cold_chute_print_nothing(cli: Cli) -> None:
    run = cli("logs", "llama-mini", output="text")
    assert run.stdout == ""
    assert "no instances" in run.stderr


def test_logs_follow_streams_until_interrupted(cli: Cli, tmp_path: Path) -> None:
    out_path = tmp_path / "stdout"
    with out_path.open("w") as out, (tmp_path / "stderr").open("w") as err:
        proc = subprocess.Popen(
            command("logs", "hello-world", "--follow", "--backfill", "2"),
            env=cli.env(),
            cwd=cli.home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            lines: list[Any] = []

            def five_lines() -> bool:
                nonlocal lines
                text = out_path.read_text()
                lines = json_stream(text[: text.rfind("}\n") + 1])
                return len(lines) >= 5 or proc.poll() is not None

            # health checks every 3 simulated seconds: five lines well within 600
            wait_simulated(cli.box, five_lines, "five log lines", simulated=600)
            assert proc.poll() is None, "logs --follow stopped by itself"
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=120)  # a hang fails; no timing is asserted
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    run = Run(("logs", "--follow"), code, out_path.read_text(), (tmp_path / "stderr").read_text())
    cli.check_hygiene(run)
    assert len(lines) >= 5, str(run)
    instance_id = cli.box.query("SELECT instance_id FROM instances")[0]["instance_id"]
    assert all(line == {"instance_id": instance_id, "log": lines[0]["log"]} for line in lines)
    assert lines[0]["log"] == HEALTH_CHECK_LINE
    assert code == 130 and run.stderr == "Interrupted.\n", str(run)


def test_logs_rejects_a_bad_backfill(cli: Cli) -> None:
    cli.error("logs", "hello-world", "--backfill", "10001", code=ExitCode.USAGE)


def test_logs_without_follow_stops_on_a_busy_instance(cli: Cli) -> None:
    try:
        run = cli("logs", "hello-world", "--backfill", "3", output="stream", timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("`logs hello-world` (no --follow) was still running after 5 s")
    assert len(json_stream(run.stdout)) >= 3


# --- commands that change state ------------------------------------------------------------


def test_chutes_delete_by_name(fresh: Cli) -> None:
    chute_id = fresh("chutes", "get", "llama-mini").json()["chute_id"]
    deleted = fresh("chutes", "delete", "llama-mini", "--yes").json()
    assert (deleted["chute_id"], deleted["deleted"]) == (chute_id, True)
    golden_json(fresh.box, "chutes_delete.json", without_nulls(deleted))
    fresh.error("chutes", "get", "llama-mini", code=ExitCode.NOT_FOUND)
    assert len(fresh("chutes", "list").json()) == 2


def test_images_delete(fresh: Cli) -> None:
    image_id = fresh("images", "get", "demo/next:0.3").json()["image_id"]
    deleted = fresh("images", "delete", "demo/next:0.3", "-y").json()
    assert (deleted["image_id"], deleted["deleted"]) == (image_id, True)
    golden_json(fresh.box, "images_delete.json", without_nulls(deleted))
    fresh.error("images", "get", "demo/next:0.3", code=ExitCode.NOT_FOUND)


def without_nulls(reply: dict) -> dict:
    # The golden files hold the API's shape; the extra null key is pinned by the xfail below.
    return {key: value for key, value in reply.items() if value is not None}


def test_delete_prints_the_api_reply_as_sent(fresh: Cli) -> None:
    chute_id = fresh("chutes", "get", "llama-mini").json()["chute_id"]
    deleted = fresh("chutes", "delete", "llama-mini", "--yes").json()
    assert deleted == {"chute_id": chute_id, "deleted": True}


def test_share_list_and_unshare(fresh: Cli) -> None:
    by_key = ("--api-key", fresh.key("demo"))  # listing shares takes an API key (contract §5.8)
    before = fresh(*by_key, "shares", "list").json()
    assert len(before) == 1  # the seeded echo-stream -> alice

    shared = fresh("share", "hello-world", "bob").json()
    assert shared == {
        "status": "Successfully shared chute.name='hello-world' with user.username='bob'"
    }
    golden_json(fresh.box, "share.json", shared)
    assert fresh("share", "hello-world", "bob").json() == shared  # sharing twice is fine

    shares = fresh(*by_key, "shares", "list").json()
    assert len(shares) == 2
    golden_json(fresh.box, "shares_list.json", shares)
    only = fresh(*by_key, "shares", "list", "--chute", "hello-world").json()
    bob = fresh.box.users["bob"].creds.user_id
    assert [(item["shared_to"], item["chute_id"]) for item in only] == [
        (bob, fresh("chutes", "get", "hello-world").json()["chute_id"])
    ]
    table = fresh(*by_key, "--output", "table", "shares", "list", output="table")
    assert table.stdout.split()[:5] == ["CHUTE", "CHUTE", "ID", "SHARED", "WITH"]
    assert "hello-world" in table.stdout and "echo-stream" in table.stdout

    removed = fresh("share", "hello-world", "bob", "--remove").json()
    assert removed["status"].endswith("with user.username='bob' (if share exists)")
    golden_json(fresh.box, "unshare.json", removed)
    assert fresh(*by_key, "shares", "list").json() == before


def test_warmup_wait_until_hot(fresh: Cli) -> None:
    run = fresh("warmup", "echo-stream", "--wait", "--timeout", "30", output="stream")
    *events, result = json_stream(run.stdout)  # JSON Lines: the events, then the result
    assert result["hot"] is True and result["chute"] == "echo-stream"
    statuses = [event["status"] for event in events]
    assert statuses[-1] == "hot" and set(statuses[:-1]) <= {"cold"}
    # How many `cold` events arrive depends on timing: keep one of each for the golden file.
    result["events"] = [
        {key: event[key] for key in ("status", "log")} for event in (events[0], events[-1])
    ]
    golden_json(fresh.box, "warmup_wait.json", result)
    assert fresh("chutes", "get", "echo-stream").json()["hot"] is True


def test_warmup_wait_times_out_on_a_cold_chute(slow: Cli) -> None:
    run = slow("warmup", "llama-mini", "--wait", "--timeout", "0.2", code=ExitCode.TIMED_OUT)
    *events, result = json_stream(run.stdout)  # the result still comes out, last
    assert result["hot"] is False and result["waited_seconds"] >= 0.2
    assert {event["status"] for event in events} <= {"cold"}  # zero or one in 0.2 s
    assert run.stderr == "chutes-tui: error: llama-mini was not hot after 0.2 s\n"
    golden_json(slow.box, "warmup_wait_timeout.json", result)


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("me", "--bogus"),
        ("--bogus", "me"),
        ("chutes",),
        ("chutes", "frob"),
        ("warmup",),
        ("images", "list", "--limit", "many"),
        ("--output", "yaml", "me"),
        ("--json", "--output", "table", "me"),
        (),
    ],
    ids=lambda args: " ".join(args) or "nothing",
)
def test_usage_errors(cli: Cli, args: tuple[str, ...]) -> None:
    run = cli(*args, code=ExitCode.USAGE)
    assert run.stdout == ""
    assert run.stderr.startswith("usage: chutes-tui --no-ui")
    assert re.search(r"^chutes-tui --no-ui[a-z ]*: error: ", run.stderr, re.M), str(run)


def test_no_credentials_at_all(cli: Cli) -> None:
    run = cli.error("me", code=ExitCode.AUTH, user=None)
    assert "CHUTES_API_KEY" in run.stderr
    assert "chutes-tui sandbox serve" in run.stderr
    assert "chutes-tui sandbox config" in run.stderr
    assert str(cli.home / ".chutes" / "config.ini") in run.stderr


def test_a_missing_config_file(cli: Cli) -> None:
    env = cli.env(user=None, CHUTES_CONFIG_PATH=str(cli.home / "nowhere.ini"))
    run = cli.error("me", code=ExitCode.AUTH, env=env)
    assert "nowhere.ini does not exist" in run.stderr


def test_a_bad_api_key(cli: Cli) -> None:
    run = cli.error("--api-key", "cpk_bad", "me", code=ExitCode.AUTH)
    assert "Missing or invalid authorization header" in run.stderr
    real = cli.key("alice")
    forged = real[:-4] + ("0000" if not real.endswith("0000") else "1111")
    cli.secrets.add(forged)
    try:
        run = cli.error("--api-key", forged, "me", code=ExitCode.AUTH)
    finally:
        cli.secrets.discard(forged)
    assert "Invalid token or user not found" in run.stderr


def test_shares_list_with_a_hotkey_only_is_refused(cli: Cli) -> None:
    # GET /users/me/shares has no signing purpose: hotkey auth cannot reach it (contract §2.1).
    cli.error("shares", "list", code=ExitCode.AUTH)


@pytest.mark.parametrize(
    "args",
    [
        ("chutes", "get", "nope"),
        ("chutes", "delete", "nope", "--yes"),
        ("images", "get", "nope:1"),
        ("images", "delete", "demo/nope:1", "--yes"),
        ("warmup", "nope"),
        ("warmup", "nope", "--wait"),
        ("code", "nope"),
        ("share", "nope", "bob"),
        ("logs", "nope"),
        ("logs", "11111111-1111-4111-8111-111111111111"),
    ],
    ids=" ".join,
)
def test_not_found(cli: Cli, args: tuple[str, ...]) -> None:
    cli.error(*args, code=ExitCode.NOT_FOUND)


def test_another_users_chute_is_not_found(cli: Cli) -> None:
    cli.error("chutes", "get", "llama-mini", code=ExitCode.NOT_FOUND, user="bob")
    # A shared chute is visible, but deleting it is not the sharee's business.
    assert cli("chutes", "get", "echo-stream", user="alice").json()["name"] == "echo-stream"
    cli.error("chutes", "delete", "echo-stream", "--yes", code=ExitCode.NOT_FOUND, user="alice")


def test_deleting_an_image_in_use_is_a_conflict(cli: Cli) -> None:
    run = cli.error("images", "delete", "demo/hello:0.1", "--yes", code=ExitCode.CONFLICT)
    assert "in use" in run.stderr
    assert cli("images", "get", "demo/hello:0.1").json()["status"] == "built and pushed"


@pytest.mark.parametrize("kind,ref", [("chutes", "llama-mini"), ("images", "demo/next:0.3")])
def test_deleting_without_yes_and_without_a_terminal(cli: Cli, kind: str, ref: str) -> None:
    run = cli.error(kind, "delete", ref, code=ExitCode.USAGE)
    assert "--yes" in run.stderr and "Delete" in run.stderr
    cli(kind, "get", ref)  # still there


def _delete_at_a_terminal(cli: Cli, answer: bytes, *args: str) -> Run:
    """Run a delete whose stdin is a terminal (stdout stays a pipe), answering `answer`."""
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            command(*args),
            env=cli.env(),
            cwd=cli.home,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        terminal = -1
        os.write(controller, answer)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    run = Run(args, proc.returncode, stdout, stderr)
    cli.check_hygiene(run)
    return run


def test_declining_at_the_prompt(fresh: Cli) -> None:
    run = _delete_at_a_terminal(fresh, b"n\n", "chutes", "delete", "llama-mini")
    assert run.code == ExitCode.DECLINED, str(run)
    assert "[y/N]" in run.stderr and "Cancelled." in run.stderr and run.stdout == ""
    fresh("chutes", "get", "llama-mini")
    run = _delete_at_a_terminal(fresh, b"y\n", "chutes", "delete", "llama-mini")
    assert run.code == ExitCode.OK, str(run)
    assert json.loads(run.stdout)["deleted"] is True
    fresh.error("chutes", "get", "llama-mini", code=ExitCode.NOT_FOUND)


def test_balance_too_low_is_a_payment_error(fresh: Cli) -> None:
    with sqlite3.connect(fresh.box.db_path) as db:
        db.execute("UPDATE users SET balance = 0 WHERE username = 'alice'")
    db.close()
    run = fresh.error("warmup", "echo-stream", code=ExitCode.PAYMENT, user="alice")
    assert "Account balance is $0" in run.stderr
    fresh.error("warmup", "echo-stream", "--wait", code=ExitCode.PAYMENT, user="alice")
    assert fresh("warmup", "echo-stream").json()["chute_id"]  # demo still has money


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_api(cli: Cli) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    run = cli.error("--api-url", url, "me", code=ExitCode.UNAVAILABLE)
    assert f"cannot reach the Chutes API at {url}" in run.stderr


def test_deploy_with_a_bad_reference_is_a_usage_error(cli: Cli) -> None:
    run = cli.error("deploy", "x:y", code=ExitCode.USAGE)
    assert "invalid chute reference 'x:y'" in run.stderr


def test_connection_options_after_the_command(cli: Cli) -> None:
    assert cli("pricing", "--api-url", cli.box.url, user=None).json()["tao_usd"] == 400.0
    me = cli("me", "--api-key", cli.key("alice"), "--api-url", cli.box.url, user=None)
    assert me.json()["username"] == "alice"


def test_a_usage_error_never_echoes_an_api_key(cli: Cli) -> None:
    key = cli.key("alice")
    proc = subprocess.run(
        command("me", "--unknown-flag", key, "--api-key", key),
        env=cli.env(user=None),
        cwd=cli.home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stderr
    assert key not in proc.stdout + proc.stderr


# --- import hygiene ------------------------------------------------------------------------

LEAN_SCRIPT = """
import json, sys
from chutes_tui.cli import main

code = main(["--no-ui", "--api-url", sys.argv[1], "pricing"])
sys.stdout.flush()
print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""
HEAVY = ("textual", "fastapi", "uvicorn", "starlette", "chutes_tui.sandbox", "chutes_tui.tui")


def test_a_headless_command_imports_no_ui_and_no_server(cli: Cli) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LEAN_SCRIPT), cli.box.url],
        env=cli.env(user=None),
        cwd=cli.home,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tao_usd"] == 400.0
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    modules = json.loads(line.removeprefix("MODULES "))
    assert "chutes_tui.headless.commands" in modules  # the command really ran here
    heavy = [name for name in modules if name.split(".")[0] in HEAVY or name.startswith(HEAVY)]
    assert heavy == []


def test_share_refusals_have_their_exit_codes(cli: Cli) -> None:
    run = cli.error("share", "hello-world", "nobody-here", code=ExitCode.NOT_FOUND)
    assert "Could not find target user to share with" in run.stderr
    run = cli.error("share", "hello-world", "demo", code=ExitCode.USAGE)
    assert "Cannot share a chute with yourself" in run.stderr
    run = cli.error("share", "echo-stream", "bob", code=ExitCode.NOT_FOUND, user="alice")
    assert "does not belong to you" in run.stderr
    cli.error(
        "shares", "list", "--chute", "nope", "--api-key", cli.key("demo"), code=ExitCode.NOT_FOUND
    )
