"""The live view's header: two lines that fit the terminal, most important first."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from chutes_tui.core.live import LiveChute
from chutes_tui.tui.screens.live_header import HeaderFacts, header_text
from tests.test_live_model import A, FakeClock, chute, instance

LAST_POLL = 1_700_000_000.0


def lines(live: LiveChute | None, width: int, **facts) -> list[str]:
    facts = {"ref": "hello-world", "poll": 5.0, "last_poll": LAST_POLL, **facts}
    return header_text(live, HeaderFacts(**facts), width).plain.split("\n")


def cold_after_hot() -> LiveChute:
    clock = FakeClock()
    live = LiveChute(chute(), clock=clock)
    live.warmup_started()
    clock.advance(1)
    live.apply_chute(chute(instance(A, True, True)))
    live.apply_chute(chute())
    return live


@pytest.mark.parametrize("width", [80, 120])
def test_hot_fits_in_two_lines_and_says_it_all_at_80_and_120(width: int) -> None:
    live = LiveChute(chute(instance(A, True, True)), clock=FakeClock())
    top, bottom = lines(live, width, hourly=0.25)
    assert all(cell_len(line) <= width for line in (top, bottom))
    assert "hello-world" in top and "HOT" in top and "1 instance · 1 verified · 1 active" in top
    assert "$0.25/h now" in top + bottom
    assert "needs 1 × ≥48 GB" in bottom and "poll 5 s" in bottom


@pytest.mark.parametrize("width", [80, 120])
def test_cold_after_hot_keeps_what_happened_and_the_hint(width: int) -> None:
    text = lines(cold_after_hot(), width, hourly=0.0)
    assert len(text) == 2 and all(cell_len(line) <= width for line in text)
    both = " ".join(text)
    assert "COLD" in text[0] and "was hot after 0:01" in both and "press w to warm up" in both


def test_a_long_name_is_cut_short_and_the_state_still_shows() -> None:
    live = LiveChute(chute(instance(A, True, True), name="n" * 120), clock=FakeClock())
    top, bottom = lines(live, 80, hourly=0.25)
    assert cell_len(top) <= 80 and cell_len(bottom) <= 80
    assert "…" in top


def test_a_problem_comes_first_on_the_second_line() -> None:
    problem = "GET /chutes/hello-world: no answer; retrying every 5 s"
    _, bottom = lines(cold_after_hot(), 80, hourly=0.0, problem=problem)
    assert bottom.startswith(f" ⚠ {problem}") and cell_len(bottom) <= 80
    assert "updated" not in bottom


def test_before_the_first_answer_and_after_a_404() -> None:
    assert lines(None, 80) == [" hello-world ", " loading…"]
    live = LiveChute(chute(instance(A, True, True)), clock=FakeClock())
    live.chute_gone()
    top, bottom = lines(live, 80)
    assert "GONE" in top and "deleted" in top and "esc" in bottom and "press w" not in top
