"""Secrets never reach the terminal: error lines and debug tracebacks are redacted."""

from __future__ import annotations

import pytest

from chutes_tui.client.errors import redact
from chutes_tui.headless import commands, runner

KEY = "cpk_" + "a" * 32 + "." + "b" * 32 + "." + "Cd3" * 10 + "xy"
SEED = "0123456789abcdef" * 4


def test_redact_hides_keys_and_seeds_but_not_ids():
    chute_id = "6a7d0454-b46f-52a4-942f-be82757ef170"
    text = redact(f"key={KEY} seed={SEED} 0x{SEED} chute={chute_id}")
    assert KEY not in text and SEED not in text
    assert text.count("<redacted>") == 3
    assert chute_id in text


@pytest.mark.parametrize("debug", ["0", "1"])
def test_unexpected_errors_are_one_redacted_line_or_a_redacted_traceback(
    monkeypatch, capsys, sandbox, debug
):
    async def explode(client, args, out):
        raise RuntimeError(f"boom with {KEY} and {SEED}")

    monkeypatch.setattr(commands, "pick", lambda args: explode)
    monkeypatch.setenv("CHUTES_TUI_DEBUG", debug)
    code = runner.run(["--api-url", sandbox.url, "--api-key", KEY, "me"])
    err = capsys.readouterr().err
    assert code == 1
    assert KEY not in err and SEED not in err
    assert err.strip().endswith(
        "chutes-tui: error: unexpected RuntimeError: boom with <redacted> and <redacted>"
    )
    assert ("Traceback" in err) is (debug == "1")
