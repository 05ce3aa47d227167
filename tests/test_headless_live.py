"""`warmup --wait` and `logs --follow` as a CI pipeline runs them, against a real sandbox.

Both print as things happen: one line per event, flushed at once, until hot, a timeout,
or ctrl+c. The sandboxes here start with their clock paused: a test advances it by exactly
what a warmup needs, once the command has shown the step before, or not at all to keep a
chute cold. Nothing here asserts how long anything took.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chutes_tui.client.errors import ExitCode
from chutes_tui.sandbox.routes import live as live_routes
from tests.conftest import Sandbox, running_sandbox
from tests.simclock import HANG_GUARD, wait_simulated
from tests.test_headless import BACKFILL_LINES, Cli, Run, command
from tests.test_sandbox_lifecycle import ACTIVATE, VERIFY

STATUS_LINE = re.compile(r"^ *\d+\.\d+s  (cold|hot|reconnecting)  \S.*$")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cli(box: Sandbox, home: Path) -> Cli:
    """The shared sandbox, for commands that change nothing."""
    return Cli(box, home)


@pytest.fixture
def fast(tmp_path: Path, home: Path) -> Iterator[Cli]:
    """A sandbox of its own at speed 100, its clock paused until the test moves it."""
    with running_sandbox(tmp_path, speed=100.0, paused=True) as sandbox:
        yield Cli(sandbox, home)


@pytest.fixture
def slow(tmp_path: Path, home: Path) -> Iterator[Cli]:
    """A sandbox at real speed whose clock never moves: chutes stay cold."""
    with running_sandbox(tmp_path, speed=1.0, paused=True) as sandbox:
        yield Cli(sandbox, home)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Strict JSON Lines: every line one compact object."""
    return [json.loads(line) for line in text.splitlines()]


# --- a command that keeps running ----------------------------------------------------------


@dataclass
class Running:
    """A headless command still running, its output collected in files."""

    cli: Cli
    args: tuple[str, ...]
    proc: subprocess.Popen
    out_path: Path
    err_path: Path

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_until(
        self, check: Callable[[], bool], what: str, simulated: float | None = None
    ) -> None:
        """Until `check()`, while the sandbox's clock moves at most `simulated` seconds
        (a paused clock: the hang guard only)."""

        def done() -> bool:
            if check():
                return True
            assert self.proc.poll() is None, f"stopped before {what}: {self.run()}"
            return False

        try:
            wait_simulated(self.cli.box, done, what, simulated)
        except AssertionError as error:
            raise AssertionError(f"{error}: {self.run()}") from None

    def finish(self, code: int = 0) -> Run:
        """The run, once the command ends by itself."""
        self.proc.wait(timeout=HANG_GUARD)  # a hang fails; no timing is asserted
        run = self.run()
        self.cli.check_hygiene(run)
        assert run.code == code, str(run)
        return run

    def interrupt(self) -> Run:
        """ctrl+c, as a terminal sends it; the finished run."""
        assert self.proc.poll() is None, f"stopped by itself: {self.run()}"
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)  # a hang fails; ctrl+c itself ends it within seconds
        run = self.run()
        self.cli.check_hygiene(run)  # no traceback, no secret
        return run

    def run(self) -> Run:
        return Run(self.args, self.proc.returncode, self.stdout(), self.stderr())


@contextmanager
def running(cli: Cli, tmp_path: Path, *args: str) -> Iterator[Running]:
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            command(*args),
            env=cli.env(),
            cwd=cli.home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        try:
            yield Running(cli, args, proc, out_path, err_path)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# --- warmup --wait -------------------------------------------------------------------------


def warm_up(cli: Cli, tmp_path: Path, *args: str) -> Run:
    """`warmup --wait` on a paused clock: the first cold line, then exactly what it takes."""
    with running(cli, tmp_path, *args) as live:
        live.wait_until(lambda: live.stdout().endswith("\n"), "first status line")
        cli.box.advance(VERIFY + ACTIVATE)
        return live.finish()


def test_warmup_wait_prints_json_lines_until_hot(fast: Cli, tmp_path: Path) -> None:
    run = warm_up(fast, tmp_path, "warmup", "echo-stream", "--wait", "--timeout", "600")
    *events, summary = json_lines(run.stdout)
    assert summary["chute"] == "echo-stream" and summary["hot"] is True
    assert set(summary) == {"chute", "hot", "waited_seconds"}
    assert all(set(event) == {"status", "log", "elapsed"} for event in events), str(run)
    assert [event["status"] for event in events][-1] == "hot"
    assert {event["status"] for event in events[:-1]} <= {"cold"}
    assert events[0]["log"] == "waiting for instances ..."
    elapsed = [event["elapsed"] for event in events]
    assert elapsed == sorted(elapsed)
    assert run.stderr == ""


def test_warmup_wait_for_people(fast: Cli, tmp_path: Path) -> None:
    run = warm_up(fast, tmp_path, "--output", "table", "warmup", "echo-stream", "--wait")
    *events, last = run.stdout.splitlines()
    assert events and all(STATUS_LINE.match(line) for line in events), str(run)
    assert "  hot  chute is hot, 1 instances available" in events[-1]
    assert re.fullmatch(r"echo-stream is hot after \d+\.\d s", last), str(run)


def test_warmup_wait_times_out(slow: Cli) -> None:
    run = slow("warmup", "llama-mini", "--wait", "--timeout", "0.5", code=ExitCode.TIMED_OUT)
    *events, summary = json_lines(run.stdout)
    assert {event["status"] for event in events} <= {"cold"}
    assert (summary["chute"], summary["hot"]) == ("llama-mini", False)
    assert run.stderr == "chutes-tui: error: llama-mini was not hot after 0.5 s\n"


def test_warmup_wait_reopens_a_stream_the_server_closed(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API ends a warmup stream after 600 s; here after 40."""
    monkeypatch.setattr(live_routes, "WARMUP_CAP", 40.0)
    with running_sandbox(tmp_path, speed=100.0, verify_after=120.0, paused=True) as sandbox:
        args = ("warmup", "echo-stream", "--wait", "--timeout", "600")
        with running(Cli(sandbox, home), tmp_path, *args) as live:
            live.wait_until(lambda: live.stdout().endswith("\n"), "first status line")
            sandbox.advance(40)  # the stream's end
            live.wait_until(lambda: '"reconnecting"' in live.stdout(), "the reopening")
            sandbox.advance(120 + ACTIVATE - 40)
            run = live.finish()
    *events, summary = json_lines(run.stdout)
    statuses = [event["status"] for event in events]
    assert "reconnecting" in statuses and statuses[-1] == "hot", str(run)
    reopened = events[statuses.index("reconnecting")]
    assert reopened["log"].startswith("the warmup stream ended before the chute went hot")
    assert summary["hot"] is True


def test_warmup_wait_stops_cleanly_on_ctrl_c(slow: Cli, tmp_path: Path) -> None:
    with running(slow, tmp_path, "warmup", "llama-mini", "--wait") as live:
        live.wait_until(lambda: live.stdout().endswith("\n"), "first status line")
        run = live.interrupt()
    assert run.code == 130 and run.stderr == "Interrupted.\n", str(run)
    assert json_lines(run.stdout)[0]["status"] == "cold"


# --- logs ----------------------------------------------------------------------------------


def test_logs_of_a_chute_are_tagged_and_of_an_instance_bare(cli: Cli) -> None:
    (row,) = cli.box.query(
        "SELECT instance_id FROM instances i JOIN chutes c ON c.chute_id = i.chute_id"
        " WHERE c.name = 'hello-world'"
    )
    tag = f"[{row['instance_id'][:8]}] "
    chute = cli("--output", "table", "logs", "hello-world", "--backfill", "2", output="text")
    assert chute.stdout and all(line.startswith(tag) for line in chute.stdout.splitlines())
    one = cli("--output", "table", "logs", row["instance_id"], "--backfill", "2", output="text")
    assert one.stdout and not any(line.startswith("[") for line in one.stdout.splitlines())


@pytest.mark.parametrize(
    "flags", [("--backfill", "-1"), ("--backfill", "10001"), ("--poll", "0")], ids=" ".join
)
def test_logs_usage_errors(cli: Cli, flags: tuple[str, ...]) -> None:
    run = cli.error("logs", "hello-world", "--follow", *flags, code=ExitCode.USAGE)
    assert flags[0] in run.stderr


def test_logs_follow_waits_for_instances_and_says_when_they_go(fast: Cli, tmp_path: Path) -> None:
    """A cold chute: wait, stream the instance a warmup starts, note when it idles away."""
    args = ("--output", "table", "logs", "echo-stream", "--follow", "--poll", "0.1")
    with running(fast, tmp_path, *args) as live:
        live.wait_until(lambda: "waiting for some to start" in live.stderr(), "waiting note")
        with fast.box.http() as http:
            reply = http.get(
                "/chutes/warmup/echo-stream",
                params={"quick": "true"},
                headers=fast.box.users["demo"].key_headers(),
            )
        (instance,) = reply.json()["instances"]
        tag = f"[{instance['instance_id'][:8]}]"
        live.wait_until(lambda: len(live.stdout().splitlines()) >= 3, "the history")
        fast.box.advance(VERIFY)
        live.wait_until(lambda: "GPU verification passed" in live.stdout(), "verification")
        fast.box.advance(ACTIVATE)
        live.wait_until(lambda: "Application startup complete." in live.stdout(), "activation")
        fast.box.advance(300 - VERIFY - ACTIVATE)  # idle since the warmup: it goes
        live.wait_until(lambda: f"{tag} instance gone" in live.stderr(), "gone note")
        run = live.interrupt()
    assert run.code == 130 and run.stderr.endswith("Interrupted.\n"), str(run)
    lines = run.stdout.splitlines()
    assert all(line.startswith(f"{tag} ") for line in lines), str(run)
    texts = [line.removeprefix(f"{tag} ") for line in lines]
    expected = [
        line.format(gpu=instance["gpu_model_name"], chute="echo-stream") for line in BACKFILL_LINES
    ]
    assert texts[:3] == expected  # the history, then live lines
    assert "GPU verification passed" in texts and texts[-1] == "container stopped"
    assert run.stderr.splitlines()[-2] == f"{tag} instance gone", str(run)
