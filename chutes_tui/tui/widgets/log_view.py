"""A log pane that stays fast at any volume: only the rows on screen are ever rendered.

Lines live in a `LogBuffer` (bounded); the view keeps one display width per retained line,
so its virtual size, wrapping and scrolling cost nothing per line drawn. New lines are
picked up in batches by `sync()`, which the owner calls on a short timer, never per line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from itertools import accumulate

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chutes_tui.core.logbuffer import LogBuffer, LogLine

STAMP_WIDTH = 13  # "HH:MM:SS.mmm "
TAG_WIDTH = 11  # "[abcdef12] "
NOTE_MARK = "-- "
TAG_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")
STAMP_STYLE = Style(dim=True)
HISTORY_STYLE = Style(dim=True, italic=True)
NOTE_STYLE = Style(color="yellow", italic=True)
MATCH_STYLE = Style(color="black", bgcolor="yellow")
CURRENT_STYLE = Style(color="black", bgcolor="bright_magenta", bold=True)


def tag_style(source: str) -> Style:
    """A stable colour per instance, so merged lines are easy to tell apart."""
    return Style(color=TAG_COLOURS[sum(map(ord, source)) % len(TAG_COLOURS)], bold=True)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.expandtabs()) if not text.isprintable() else text


class LogView(ScrollView, can_focus=True):
    """Follow/pause, wrap, timestamps, instance tags and search over one `LogBuffer`."""

    class FollowChanged(Message):
        """Following started or stopped (the owner updates its status line)."""

    DEFAULT_CSS = """
    LogView { background: $surface; overflow: auto auto; }
    LogView:focus { background-tint: $foreground 4%; }
    """
    BINDINGS = [
        Binding("end,G", "follow", "Follow", show=False, id="logs.follow"),
        Binding("home,g", "top", "Top", show=False, id="logs.top"),
    ]

    def __init__(self, buffer: LogBuffer, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer = buffer
        self.follow = True
        self.wrap = False
        self.timestamps = True
        self.prefix = False
        self.term = ""
        self.current: int | None = None  # position (see LogBuffer) of the current match
        self._matches: deque[int] = deque()  # positions of every retained line with the term
        self.unseen = 0  # lines that arrived below while paused
        self._synced = 0
        self._widths: deque[int] = deque(maxlen=buffer.cap)
        self._max_width = 0
        self._offsets: list[int] | None = None
        self._wrap_width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(512)
        self._following_scroll = False

    # data

    def show(self, buffer: LogBuffer, follow: bool = True) -> None:
        """Switch to another pane's buffer."""
        self.buffer = buffer
        self.follow = follow
        self.current = None
        self.unseen = 0
        self._widths = deque(maxlen=buffer.cap)
        self._synced = buffer.appended - len(buffer)
        self._max_width = 0
        self._reset()
        self.sync()
        self._find_matches()

    def _line_width(self, line: LogLine) -> int:
        text = line.text
        width = len(text) if text.isascii() and text.isprintable() else cell_len(_clean(text))
        if line.note:
            width += len(NOTE_MARK)
        if self.timestamps:
            width += STAMP_WIDTH
        if self.prefix and line.source:
            width += TAG_WIDTH
        return width

    def sync(self) -> None:
        """Take in lines added to the buffer since the last call: one batch, one refresh."""
        buffer = self.buffer
        fresh = min(buffer.appended - self._synced, len(buffer))
        if fresh <= 0 and self._synced == buffer.appended:
            return
        evicted = max(0, len(self._widths) + fresh - buffer.cap)
        removed_rows = self._rows_before(evicted)
        new_widths = [
            self._line_width(buffer[index]) for index in range(len(buffer) - fresh, len(buffer))
        ]
        self._widths.extend(new_widths)
        self._synced = buffer.appended
        if self.term:
            last = self._matches[-1] if self._matches else -1  # a search may have seen some
            found = buffer.positions(self.term, len(buffer) - fresh, self.prefix)
            self._matches.extend(position for position in found if position > last)
            while self._matches and self._matches[0] < buffer.dropped:
                self._matches.popleft()
        if new_widths:
            self._max_width = max(self._max_width, max(new_widths))
        self._offsets = None
        self._cache.clear()
        self._resize_virtual()
        if self.follow:
            self._scroll_to_end()
        else:
            self.unseen += fresh
            if removed_rows:
                self.scroll_to(y=max(0, self.scroll_y - removed_rows), animate=False)
        self.refresh()

    def _rows_before(self, count: int) -> int:
        if not count:
            return 0
        if not self.wrap:
            return count
        offsets = self._row_offsets()
        return offsets[min(count, len(offsets) - 1)]

    def _reset(self) -> None:
        """Recompute every width (after a change of options) and redraw."""
        self._widths = deque(map(self._line_width, self.buffer), maxlen=self.buffer.cap)
        self._max_width = max(self._widths, default=0)
        self._synced = self.buffer.appended
        self._offsets = None
        self._cache.clear()
        self._resize_virtual()
        if self.follow:
            self._scroll_to_end()
        self.refresh()

    # geometry

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _row_offsets(self) -> list[int]:
        width = self._content_width()
        if self._offsets is None or self._wrap_width != width:
            self._wrap_width = width
            heights = (max(1, -(-cells // width)) for cells in self._widths)
            self._offsets = [0, *accumulate(heights)]
        return self._offsets

    def _resize_virtual(self) -> None:
        if self.wrap:
            self.virtual_size = Size(self._content_width(), self._row_offsets()[-1])
        else:
            self.virtual_size = Size(self._max_width, len(self._widths))

    def on_resize(self) -> None:
        self._offsets = None
        self._resize_virtual()
        if self.follow:
            self._scroll_to_end()

    def _scroll_to_end(self) -> None:
        # Forced: right after the virtual size grows, the scrollbar (and so the permission to
        # scroll) only appears at the next layout.
        self._following_scroll = True
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self._following_scroll = False
        self.unseen = 0

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Only a scroll that leaves the end pauses: a taller view or shorter content pulls
        # the offset back as well, but to the new end, and that is no reader moving away.
        if new < old and new < self.max_scroll_y and not self._following_scroll and self.follow:
            self.follow = False
            self.post_message(self.FollowChanged())

    # rendering

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = scroll_y + y
        base = self.rich_style
        if self.wrap:
            offsets = self._row_offsets()
            index = bisect_right(offsets, row) - 1
            if index >= len(self._widths) or index < 0:
                return Strip.blank(width, base)
            start = (row - offsets[index]) * width
            return self._strip(index).crop_extend(start, start + width, base)
        if row >= len(self._widths):
            return Strip.blank(width, base)
        return self._strip(row).crop_extend(scroll_x, scroll_x + width, base)

    def _strip(self, index: int) -> Strip:
        position = self.buffer.dropped + index
        strip = self._cache.get(position)
        if strip is None:
            text = self._text(self.buffer[index], position)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._cache[position] = strip
        return strip

    def _text(self, line: LogLine, position: int) -> Text:
        text = Text(no_wrap=True, end="")
        if self.timestamps:
            text.append(line.when() + " ", HISTORY_STYLE if line.history else STAMP_STYLE)
        if self.prefix and line.source:
            text.append(f"[{line.tag}] ", tag_style(line.source))
        if line.note:
            text.append(NOTE_MARK + _clean(line.text), NOTE_STYLE)
        elif "\x1b" in line.text:
            text.append_text(Text.from_ansi(line.text, no_wrap=True, end=""))
        else:
            text.append(_clean(line.text))
        if self.term:
            style = CURRENT_STYLE if position == self.current else MATCH_STYLE
            plain, needle = text.plain.lower(), self.term.lower()
            start = plain.find(needle)
            while start >= 0:
                text.stylize(style, start, start + len(needle))
                start = plain.find(needle, start + len(needle))
        text.stylize_before(self.rich_style)
        return text

    # options and navigation

    def set_options(self, **options: bool) -> None:
        """Change wrap / timestamps / prefix and redraw."""
        for name, value in options.items():
            setattr(self, name, value)
        self._reset()
        if "prefix" in options:
            self._find_matches()  # the `[id8]` tags are searched too

    def search(self, term: str) -> None:
        self.term = term
        self.current = None
        self._cache.clear()
        self._find_matches()
        self.refresh()
        if term:
            self.next_match(forward=False, start=len(self.buffer))

    def _find_matches(self) -> None:
        positions = self.buffer.positions(self.term, 0, self.prefix) if self.term else []
        self._matches = deque(positions)

    @property
    def match_count(self) -> int:
        """Retained lines holding the search term, kept up to date as lines come and go."""
        return len(self._matches)

    @property
    def match_number(self) -> int | None:
        """Which of those the current match is, from 1 (top); None if none is or it is gone."""
        current = self.current
        if current is None or current < self.buffer.dropped:
            return None
        index = bisect_right(self._matches, current)
        return index if index and self._matches[index - 1] == current else None

    def next_match(self, forward: bool = True, start: int | None = None) -> bool:
        """Move to the next (or previous) line holding the search term; pauses following."""
        if not self.term:
            return False
        if start is None:
            start = self._current_index() if self.current is not None else self._top_index()
        index = self.buffer.find(self.term, start, forward, self.prefix)
        if index is None:
            return False
        self.current = self.buffer.dropped + index
        self.follow = False
        self._cache.clear()
        self._reveal(index)
        self.refresh()
        return True

    def _current_index(self) -> int:
        return max(-1, (self.current or 0) - self.buffer.dropped)

    def _top_index(self) -> int:
        row = int(self.scroll_y)
        if self.wrap:
            return bisect_right(self._row_offsets(), row) - 2
        return row - 1

    def _reveal(self, index: int) -> None:
        row = self._row_offsets()[index] if self.wrap else index
        height = self.scrollable_content_region.height
        if not self.scroll_y <= row < self.scroll_y + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)

    def action_follow(self) -> None:
        self.follow = True
        self._scroll_to_end()
        self.refresh()
        self.post_message(self.FollowChanged())

    def action_top(self) -> None:
        self.follow = False
        self.scroll_to(y=0, animate=False)
        self.post_message(self.FollowChanged())

    def pause(self) -> None:
        self.follow = False
        self.post_message(self.FollowChanged())
