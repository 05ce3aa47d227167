"""How the live view is set up: flags over the `[live]` preferences over defaults."""

from __future__ import annotations

import pytest

from chutes_tui.cli import build_parser, main
from chutes_tui.tui.screens.live import LiveOptions


def test_flags_reach_the_live_view() -> None:
    flags = ["--chute", "my-chute", "--poll", "2", "--backfill", "50", "--log-lines", "500"]
    args = build_parser().parse_args([*flags, "--events-url", "auto"])
    assert (args.chute, args.poll, args.backfill, args.log_lines) == ("my-chute", 2.0, 50, 500)
    assert args.events_url == "auto"


def test_a_backfill_over_the_api_limit_is_a_usage_error(capsys) -> None:
    assert main(["--backfill", "20000"]) == 2
    assert "--backfill must be between 0 and 10000" in capsys.readouterr().err


def test_preferences_then_flags() -> None:
    prefs = {"live": {"poll_interval": 10, "backfill": 500, "events_url": "https://e.example"}}
    options = LiveOptions.from_prefs(prefs, poll_interval=None, backfill=20, max_lines=None)
    assert (options.poll_interval, options.backfill) == (10.0, 20)
    assert options.max_lines == 10_000 and options.events_url == "https://e.example"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ({"backfill": 50_000}, {"backfill": 10_000}),
        ({"max_lines": 5}, {"max_lines": 100}),
        ({"poll_interval": 0.01}, {"poll_interval": 0.2}),
    ],
)
def test_preferences_out_of_range_are_brought_back(given: dict, kept: dict) -> None:
    options = LiveOptions.from_prefs({"live": given})
    assert {key: getattr(options, key) for key in kept} == kept
