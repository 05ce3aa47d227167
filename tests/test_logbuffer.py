"""The bounded, searchable line store behind every log pane."""

from __future__ import annotations

from pathlib import Path

import pytest

from chutes_tui.core.logbuffer import LogBuffer, LogLine, stamp


def filled(cap: int, count: int, source: str = "0123456789abcdef") -> LogBuffer:
    buffer = LogBuffer(cap)
    buffer.extend(LogLine(1_700_000_000.0 + n, source, f"line {n}") for n in range(count))
    return buffer


def test_the_cap_bounds_what_is_kept_and_counts_what_was_dropped() -> None:
    buffer = filled(5, 8)
    assert [line.text for line in buffer] == [f"line {n}" for n in range(3, 8)]
    assert (len(buffer), buffer.appended, buffer.dropped) == (5, 8, 3)


def test_a_pane_keeps_at_least_one_line() -> None:
    with pytest.raises(ValueError):
        LogBuffer(0)


@pytest.mark.parametrize(
    ("term", "start", "forward", "found"),
    [
        ("line", 2, True, 3),
        ("line", 4, True, 0),  # wraps around the end
        ("line", 2, False, 1),
        ("line", 0, False, 4),  # wraps around the start
        ("LINE 5", -1, True, 2),  # case-insensitive, from before the first line
        ("line 7", 5, False, 4),  # from past the end, backwards
        ("nothing", 1, True, None),
        ("", 1, True, None),
    ],
)
def test_find_walks_from_a_line_and_wraps(term, start, forward, found) -> None:
    assert filled(5, 8).find(term, start, forward) == found


def test_find_and_count_see_the_instance_tag_only_in_merged_panes() -> None:
    buffer = filled(10, 4, source="feedbeef-0000")
    assert buffer.find("feedbeef", -1) is None
    assert buffer.find("feedbeef", -1, prefix=True) == 0
    assert buffer.count("line", prefix=False) == 4
    assert buffer.count("[feedbeef]", prefix=True) == 4


def test_save_writes_the_retained_lines_as_shown(tmp_path: Path) -> None:
    buffer = filled(3, 5, source="abcdef0123")
    buffer.extend([LogLine(1_700_000_010.5, "abcdef0123", "reconnecting", note=True)])
    path = tmp_path / "pane.log"
    assert buffer.save(path, timestamps=True, prefix=True) == 3
    lines = path.read_text().splitlines()
    assert lines[0] == f"{stamp(1_700_000_003.0)} [abcdef01] line 3"
    assert lines[-1].endswith("[abcdef01] -- reconnecting")
    assert buffer.save(path, timestamps=False) == 3
    assert path.read_text().splitlines()[0] == "line 3"


def test_stamp_has_milliseconds() -> None:
    assert stamp(1_700_000_000.25).endswith(".250")


def test_history_lines_are_saved_as_history_not_with_the_time_they_arrived(
    tmp_path: Path,
) -> None:
    buffer = LogBuffer(10)
    arrived = 1_700_000_000.0
    buffer.extend(
        [
            LogLine(arrived, "abcdef0123", "written long ago", history=True),
            LogLine(arrived + 1, "abcdef0123", "written just now"),
        ]
    )
    path = tmp_path / "saved.log"
    buffer.save(path, prefix=True)
    old, new = path.read_text().splitlines()
    assert old == "history      [abcdef01] written long ago"
    assert stamp(arrived) not in old
    assert new == f"{stamp(arrived + 1)} [abcdef01] written just now"
    assert len(old.split("[")[0]) == len(new.split("[")[0])  # the columns line up
