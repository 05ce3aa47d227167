"""ctrl+c ends a headless command with 130 and one line, whatever the command is waiting on."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

STUBBORN = textwrap.dedent(
    """
    import asyncio, sys
    from chutes_tui.headless.interrupt import run_interruptible

    async def main(mode):
        print("ready", flush=True)
        if mode == "absorbs":  # an await that swallows the cancellation and goes on
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass
        if mode == "finishes":  # swallows it and then returns as if nothing happened
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                return 0
        await asyncio.sleep(3600)

    try:
        code = run_interruptible(main(sys.argv[1]), lambda: print("Interrupted.", file=sys.stderr))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        code = 130
    sys.exit(code)
    """
)


def interrupted(tmp_path: Path, mode: str, presses: int = 1) -> subprocess.CompletedProcess:
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN)
    proc = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=120)  # a hang fails; no timing is asserted
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("mode", ["plain", "absorbs", "finishes"])
def test_ctrl_c_ends_the_command_with_130(tmp_path: Path, mode: str) -> None:
    done = interrupted(tmp_path, mode)
    assert (done.returncode, done.stderr) == (130, "Interrupted.\n"), done


def test_a_second_ctrl_c_ends_it_at_once(tmp_path: Path) -> None:
    done = interrupted(tmp_path, "absorbs", presses=2)
    assert (done.returncode, done.stderr) == (130, "Interrupted.\n"), done


def test_ctrl_c_while_starting_up_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chutes_tui import cli

    def interrupted_start(argv: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_main", interrupted_start)
    assert cli.main(["--no-ui", "me"]) == 130
    assert capsys.readouterr().err == "Interrupted.\n"
