"""Retained log lines of one pane: bounded, append-only, searchable, savable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

DEFAULT_CAP = 10_000
MAX_BACKFILL = 10_000
HISTORY = "history"  # shown instead of a time on lines the server sent as history
STAMP_CHARS = 12  # "HH:MM:SS.mmm"


@dataclass(slots=True)
class LogLine:
    """One line as received: when, from which instance, whether chutes-tui wrote it, and
    whether it came as history (the backfill), written at a time nobody told us."""

    at: float
    source: str
    text: str
    note: bool = False
    history: bool = False

    @property
    def tag(self) -> str:
        return self.source[:8]

    def plain(self, timestamps: bool = True, prefix: bool = False) -> str:
        """The line as saved to a file (and as searched)."""
        parts = []
        if timestamps:
            parts.append(self.when())
        if prefix and self.source:
            parts.append(f"[{self.tag}]")
        parts.append(f"-- {self.text}" if self.note else self.text)
        return " ".join(parts)

    def when(self) -> str:
        """The time shown with the line: its arrival, or `history` as wide as a time."""
        return f"{HISTORY:<{STAMP_CHARS}}" if self.history else stamp(self.at)


def stamp(at: float) -> str:
    """A wall-clock time with milliseconds, as shown next to log lines."""
    local = time.localtime(at)
    return f"{time.strftime('%H:%M:%S', local)}.{int(at % 1 * 1000):03d}"


class LogBuffer:
    """The last `cap` lines of a pane; `appended` counts every line ever added.

    A line's *position* is its count since the pane started, so it stays valid while older
    lines are dropped: index = position - dropped.
    """

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if cap < 1:
            raise ValueError("a log pane keeps at least one line")
        self.cap = cap
        self._lines: deque[LogLine] = deque(maxlen=cap)
        self.appended = 0

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index: int) -> LogLine:
        return self._lines[index]

    def __iter__(self) -> Iterator[LogLine]:
        return iter(self._lines)

    @property
    def dropped(self) -> int:
        """Lines no longer retained because the cap was reached."""
        return self.appended - len(self._lines)

    def extend(self, lines: Iterable[LogLine]) -> int:
        """Append lines; returns how many were added."""
        batch = lines if isinstance(lines, list) else list(lines)
        self._lines.extend(batch)
        self.appended += len(batch)
        return len(batch)

    def find(self, term: str, start: int, forward: bool = True, prefix: bool = False) -> int | None:
        """The index of the next line after `start` (wrapping around) containing `term`."""
        count = len(self._lines)
        if not term or not count:
            return None
        needle = term.lower()
        start = min(max(start, -1), count)
        order: Iterator[tuple[int, LogLine]]
        if forward:
            order = chain(
                enumerate(islice(self._lines, start + 1, None), start + 1),
                enumerate(islice(self._lines, 0, start + 1)),
            )
        else:
            # Walk backwards: `r` counts from the end, so the index is count - 1 - r.
            split = count - max(start, 0)
            backwards = chain(
                enumerate(islice(reversed(self._lines), split, None), split),
                enumerate(islice(reversed(self._lines), 0, split)),
            )
            order = ((count - 1 - r, line) for r, line in backwards)
        for index, line in order:
            if needle in line.plain(False, prefix).lower():
                return index
        return None

    def count(self, term: str, prefix: bool = False) -> int:
        needle = term.lower()
        return sum(needle in line.plain(False, prefix).lower() for line in self._lines)

    def positions(self, term: str, start: int = 0, prefix: bool = False) -> list[int]:
        """Positions (see above) of the lines from index `start` on that contain `term`."""
        needle = term.lower()
        lines = islice(self._lines, max(start, 0), None)
        first = self.dropped + max(start, 0)
        return [
            first + offset
            for offset, line in enumerate(lines)
            if needle in line.plain(False, prefix).lower()
        ]

    def save(self, path: Path, timestamps: bool = True, prefix: bool = False) -> int:
        """Write the retained lines to `path`; returns the number written."""
        with path.open("w", encoding="utf-8") as handle:
            for line in self._lines:
                handle.write(line.plain(timestamps, prefix) + "\n")
        return len(self._lines)
