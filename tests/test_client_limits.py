"""The client's waits are configurable from the environment, for the dashboard and headless."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from chutes_tui.client import limits
from chutes_tui.client.api import DEADLINE, MAX_RETRY_AFTER, STREAM_IDLE, ChutesClient
from chutes_tui.client.errors import ExitCode, ValidationFailed
from chutes_tui.config import Connection, Credentials


def test_nothing_set_keeps_the_defaults() -> None:
    assert limits.from_environment({}) == {}
    client = ChutesClient(Connection(base_url="http://127.0.0.1:9", credentials=Credentials()))
    assert (client.deadline, client.stream_idle, client.max_retry_after) == (
        DEADLINE,
        STREAM_IDLE,
        MAX_RETRY_AFTER,
    )


def test_each_limit_is_read_and_zero_turns_it_off() -> None:
    chosen = limits.from_environment(
        {
            "CHUTES_TUI_DEADLINE": "5",
            "CHUTES_TUI_STREAM_IDLE": "0",
            "CHUTES_TUI_MAX_RETRY_AFTER": " 0 ",
        }
    )
    assert chosen == {"deadline": 5.0, "stream_idle": None, "max_retry_after": math.inf}


@pytest.mark.parametrize("text", ["soon", "-1", "nan", "inf", "1e999"])
def test_a_bad_value_is_a_usage_error_that_names_the_variable(text: str) -> None:
    with pytest.raises(ValidationFailed, match="CHUTES_TUI_DEADLINE") as caught:
        limits.from_environment({"CHUTES_TUI_DEADLINE": text})
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("front", [["--no-ui", "--sandbox", "me"], ["--sandbox"]])
def test_both_front_ends_refuse_a_bad_limit_in_one_line(front: list[str], tmp_path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "CHUTES_TUI_STREAM_IDLE": "later"}
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", *front],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "CHUTES_TUI_STREAM_IDLE" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
