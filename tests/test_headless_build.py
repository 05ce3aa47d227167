"""`chutes-tui --no-ui build`, `images logs` and `deploy --build` as a CI job runs them.

Part one runs against a capturing stand-in (tests/build_capture.py): what is sent, and what
is not. Part two is one CI-style script against a real sandbox whose clock is paused: each
build is waited for by moving the simulated clock once its upload has arrived, never by a
wall-clock budget, and every way a build can end has its exit code checked.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chutes_tui.client.api import StreamNotice
from chutes_tui.client.builds import BuildLogLine, BuildLogText
from chutes_tui.client.errors import ExitCode
from chutes_tui.headless.builds import log_printer
from chutes_tui.headless.output import Output
from tests.build_capture import capture_server, sdk_config
from tests.conftest import Sandbox, start_sandbox
from tests.simclock import wait_simulated
from tests.test_headless import clean_env, json_stream
from tests.test_import_hygiene import forbidden, run_importtime

pytestmark = pytest.mark.sdk

FIXTURES = Path(__file__).resolve().parent / "chute_fixtures"
TIMEOUT = 120
BUILD_TIME = 100_000.0  # simulated seconds: more than any sandbox build takes


def chute_module(name: str, tag: str, *steps: str) -> str:
    """A chute on an image of its own, built from `steps` (Image method calls)."""
    chain = "".join(f"\n    .{step}" for step in steps)
    return (
        "from chutes.chute import Chute, NodeSelector\n"
        "from chutes.image import Image\n\n"
        "image = (\n"
        f'    Image(username="demo", name="{name}", tag="{tag}", readme="# {name}")\n'
        f'    .from_base("parachutes/python:3.12"){chain}\n'
        ")\n"
        "chute = Chute(\n"
        f'    username="demo",\n    name="{name}",\n    image=image,\n'
        "    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),\n"
        ")\n\n\n"
        '@chute.cord(public_api_path="/echo", public_api_method="POST")\n'
        "async def echo(self, text: str) -> str:\n"
        "    return text\n"
    )


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chutes_tui", "--no-ui", *args]


class Result:
    def __init__(self, args: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        self.args, self.code, self.stdout, self.stderr = args, code, stdout, stderr

    def lines(self) -> list[Any]:
        return json_stream(self.stdout)

    def __str__(self) -> str:
        return f"{self.args} -> {self.code}\nstdout: {self.stdout[-3000:]}\nstderr: {self.stderr}"


def run(work: Path, env: dict[str, str], *args: str, code: int) -> Result:
    done = subprocess.run(
        command(*args),
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    result = Result(args, done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in result.stderr, str(result)
    assert result.code == code, str(result)
    return result


# --- part one: what is sent, against a capturing stand-in ---------------------------------


@pytest.fixture
def capture_env(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], Path]]:
    with capture_server() as capture:
        config = tmp_path / "config.ini"
        config.write_text(sdk_config(capture.url))
        env = clean_env(tmp_path)
        env["CHUTES_CONFIG_PATH"] = str(config)
        work = tmp_path / "work"
        work.mkdir()
        (work / "app.py").write_text(chute_module("app", "0.1", 'run_command("echo hi")'))
        yield capture, env, work


def test_a_standard_image_has_nothing_to_build_and_nothing_is_sent(capture_env) -> None:
    capture, env, work = capture_env
    result = run(work, env, "build", "plain:chute", "--dir", str(FIXTURES), "--yes", code=0)
    assert json.loads(result.stdout) == {
        "ref": "plain:chute",
        "image": "demo/hello:0.1",
        "standard_image": True,
        "sent": False,
    }
    assert "nothing to build" in result.stderr
    assert capture.requests == []
    # Not even an API is needed: nothing is asked of it (port 9 is discard, never served).
    nowhere = ("--api-url", "http://127.0.0.1:9", "build", "plain:chute", "--dir", str(FIXTURES))
    assert json.loads(run(work, env, *nowhere, code=0).stdout)["sent"] is False


def test_without_a_terminal_and_without_yes_nothing_is_uploaded(capture_env) -> None:
    capture, env, work = capture_env
    result = run(work, env, "build", "app:chute", code=ExitCode.USAGE)
    assert "pass --yes" in result.stderr and "nothing was sent" in result.stderr
    assert "app.py" not in result.stderr  # the context is what ADD names: nothing here
    assert "Build context of image demo/app:0.1: 0 file(s)" in result.stderr
    assert [line for line in capture.requests if line.startswith("POST")] == []


@pytest.mark.parametrize(("answer", "code"), [("n", ExitCode.DECLINED), ("y", ExitCode.OK)])
def test_on_a_terminal_it_asks_before_uploading(capture_env, answer: str, code: int) -> None:
    capture, env, work = capture_env
    main, terminal = pty.openpty()
    os.write(main, f"{answer}\n".encode())  # typed ahead: the terminal keeps it
    try:
        done = subprocess.run(
            command("build", "app:chute", "--json"),
            cwd=work,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(main)
        os.close(terminal)
    assert done.returncode == code, done.stderr
    assert "Upload 0 file(s) (0 B) and build private image demo/app:0.1? [y/N]" in done.stderr
    assert len(capture.uploads) == (1 if answer == "y" else 0)


@pytest.mark.parametrize(
    ("status", "detail", "code"),
    [
        (409, "Image with name='app' and tag='0.1' aready exists", ExitCode.CONFLICT),
        (402, "You must have a balance of >= $50 to create images.", ExitCode.PAYMENT),
        (413, "Request Entity Too Large", ExitCode.USAGE),
    ],
)
def test_refused_uploads_end_with_their_exit_code(capture_env, status, detail, code) -> None:
    capture, env, work = capture_env
    capture.build_status, capture.build_detail = status, detail
    result = run(work, env, "build", "app:chute", "--yes", code=code)
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("chutes-tui: error: ")
    assert len(capture.uploads) == 1  # never sent twice


def test_build_log_text_cannot_drive_the_terminal() -> None:
    hostile = "\x1b]0;owned\x07Step 1/2\x1b[2J : RUN make\x9b31m"
    stdout, stderr = io.StringIO(), io.StringIO()
    emit = log_printer(Output("table", stdout, stderr))
    emit(BuildLogLine(hostile, "stderr", "1"))
    emit(BuildLogText(f"{hostile}\nbuilt\n"))
    emit(StreamNotice("error", f"build log: {hostile}"))
    assert stdout.getvalue() == "Step 1/2 : RUN make\n" * 2 + "built\n"
    assert stderr.getvalue() == "build log: Step 1/2 : RUN make\n"
    as_json = io.StringIO()
    log_printer(Output("json", as_json, stderr))(BuildLogLine(hostile, "stderr", "1"))
    assert json.loads(as_json.getvalue()) == {"log_type": "stderr", "log": hostile, "offset": "1"}
    assert "\x1b" not in as_json.getvalue()  # escaped by JSON


def test_images_logs_imports_no_models_no_server_and_no_ui(box: Sandbox) -> None:
    modules, stdout = run_importtime(box, "images", "logs", "demo/hello:0.1", "--json")
    assert json_stream(stdout) and all("log" in line for line in json_stream(stdout))
    assert "chutes_tui.headless.builds" in modules  # the probe really ran
    allowed = {"chutes_tui.core.build", "chutes_tui.core.chute_import", "chutes_tui.client.builds"}
    assert forbidden(modules - allowed) == []


# --- part two: a CI job against the sandbox -------------------------------------------------


@pytest.fixture
def paused(tmp_path: Path) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path / "box", speed=1.0, paused=True)
    try:
        yield box
    finally:
        box.running.stop()


def image_status(box: Sandbox, name: str, tag: str) -> str | None:
    rows = box.query("SELECT status FROM images WHERE name = ? AND tag = ?", name, tag)
    return rows[0]["status"] if rows else None


def images_count(box: Sandbox) -> int:
    return int(box.query("SELECT COUNT(*) AS n FROM images")[0]["n"])


def build_and_finish(
    box: Sandbox, work: Path, env: dict[str, str], name: str, tag: str, *args: str, code: int
) -> Result:
    """Run a waiting command; once its upload has arrived, move the clock past the build."""
    process = subprocess.Popen(
        command(*args),
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_simulated(
            box,
            lambda: image_status(box, name, tag) is not None or process.poll() is not None,
            f"the upload of {name}:{tag}",
        )
        box.advance(BUILD_TIME)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    result = Result(args, process.returncode, stdout, stderr)
    assert "Traceback" not in result.stderr, str(result)
    assert result.code == code, str(result)
    return result


def test_ci_build_then_deploy_against_the_sandbox(paused: Sandbox, tmp_path: Path) -> None:
    box = paused
    work = tmp_path / "repo"
    work.mkdir()
    (work / "requirements.txt").write_text("numpy==2.1.3\n")
    steps = (
        'add("requirements.txt", "/app/requirements.txt")',
        'run_command("pip install -r /app/requirements.txt")',
    )
    (work / "ci_app.py").write_text(chute_module("ci-app", "1.0", *steps))
    (work / "ci_bad.py").write_text(
        chute_module("ci-bad", "1.0", 'run_command("pip install torch==2.999")')
    )
    (work / "ci_slow.py").write_text(chute_module("ci-slow", "1.0", 'run_command("echo hi")'))
    (work / "ci_both.py").write_text(chute_module("ci-both", "1.0", 'run_command("echo both")'))
    env = clean_env(tmp_path)
    env["CHUTES_CONFIG_PATH"] = str(box.users["demo"].config_path)
    cli = functools.partial(run, work, env)
    finish = functools.partial(build_and_finish, box, work, env)
    fee = ("--yes", "--accept-fee", "--max-fee", "100")

    # Without --yes and without a terminal: exit 2, nothing uploaded.
    before = images_count(box)
    refused = cli("build", "ci_app:chute", code=ExitCode.USAGE)
    assert "requirements.txt" in refused.stderr  # the listing came first
    assert images_count(box) == before

    # Build and wait: the log as JSON Lines, the summary last, exit 0.
    built = finish("ci-app", "1.0", "build", "ci_app:chute", "--wait", "--yes", code=0)
    lines = built.lines()
    summary = lines[-1]
    assert summary["built"] is True and summary["status"] == "built and pushed"
    assert summary["image"] == "demo/ci-app:1.0"
    log = [line["log"] for line in lines[:-1]]
    assert log and all(set(line) == {"log_type", "log", "offset"} for line in lines[:-1])
    assert any("pip install -r /app/requirements.txt" in text for text in log), log
    assert image_status(box, "ci-app", "1.0") == "built and pushed"

    # The log again, once finished: the whole text, and --follow ends at once, exit 0.
    again = cli("images", "logs", "demo/ci-app:1.0", "--json", code=0)
    assert [line["log"] for line in again.lines()] == log
    followed = cli("images", "logs", summary["image_id"], "--follow", code=0)
    assert followed.lines()[-1]["built"] is True

    # The same name:tag again: exit 5 before anything is uploaded.
    exists = cli("build", "ci_app:chute", "--wait", "--yes", code=ExitCode.CONFLICT)
    assert "already exists" in exists.stderr and "nothing was sent" in exists.stderr

    # Deploy it as CI does: a fee accepted up to a cap.
    chute = json.loads(cli("deploy", "ci_app:chute", *fee, code=0).stdout)
    assert chute["name"] == "ci-app" and chute["fee_charged"] > 0
    assert chute["image"]["image_id"] == summary["image_id"]

    # A build that fails: its log, the failed summary, exit 11.
    failed = finish(
        "ci-bad", "1.0", "build", "ci_bad:chute", "--wait", "--yes", code=ExitCode.BUILD_FAILED
    )
    assert failed.lines()[-1]["built"] is False
    assert failed.lines()[-1]["status"].startswith("error:")
    assert "2.999" in failed.stderr.splitlines()[-1]
    assert str(image_status(box, "ci-bad", "1.0")).startswith("error:")
    cli("images", "logs", "demo/ci-bad:1.0", "--follow", code=ExitCode.BUILD_FAILED)
    blocked = cli("deploy", "ci_bad:chute", "--build", *fee, code=ExitCode.USAGE)
    assert "fix the image" in blocked.stderr

    # A build that takes longer than --timeout (the clock stays paused): exit 7.
    slow = cli(
        "build", "ci_slow:chute", "--wait", "--yes", "--timeout", "2", code=ExitCode.TIMED_OUT
    )
    last = slow.lines()[-1]
    assert last == {
        "image_id": last["image_id"],
        "image": "demo/ci-slow:1.0",
        "built": False,
        "timed_out": True,
    }
    assert "images logs" in slow.stderr
    assert image_status(box, "ci-slow", "1.0") in ("pending build", "building")

    # A standard image: nothing to build, nothing sent, exit 0.
    before = images_count(box)
    standard = cli("build", "plain:chute", "--dir", str(FIXTURES), "--yes", code=0)
    assert json.loads(standard.stdout)["standard_image"] is True
    assert images_count(box) == before

    # deploy --build: a fee not accepted stops before the build (exit 6, nothing built) ...
    unpaid = cli("deploy", "ci_both:chute", "--yes", "--build", code=ExitCode.PAYMENT)
    assert "--accept-fee" in unpaid.stderr
    assert image_status(box, "ci-both", "1.0") is None
    # ... and with the fee accepted it builds the image, then deploys: one result on stdout.
    both = finish("ci-both", "1.0", "deploy", "ci_both:chute", "--build", *fee, code=0)
    record = json.loads(both.stdout)
    assert record["name"] == "ci-both" and record["build"]["built"] is True
    assert record["fee_charged"] > 0
    assert "echo both" in both.stderr  # the build log went to stderr
