"""The log view on its own: wrapping, eviction while paused, follow, search, odd bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from chutes_tui.core.logbuffer import LogBuffer, LogLine, stamp
from chutes_tui.tui.widgets.log_view import CURRENT_STYLE, MATCH_STYLE, LogView

WIDTH, HEIGHT = 40, 10


class ViewApp(App):
    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield LogView(self.buffer, id="view")


def lines(buffer: LogBuffer, texts: list[str], source: str = "abcdef0123") -> None:
    buffer.extend(LogLine(1_700_000_000.0, source, text) for text in texts)


@asynccontextmanager
async def viewing(cap: int, texts: list[str]) -> AsyncIterator[tuple[Pilot, LogView]]:
    """A view without timestamps over a buffer holding `texts`, drawn once."""
    buffer = LogBuffer(cap)
    app = ViewApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(LogView)
        view.set_options(timestamps=False)
        lines(buffer, texts)
        view.sync()
        await pilot.pause()
        yield pilot, view


def row_text(view: LogView, y: int) -> str:
    return "".join(segment.text for segment in view.render_line(y)).rstrip()


async def test_following_shows_the_newest_lines_after_each_batch() -> None:
    async with viewing(1000, [f"line {n}" for n in range(100)]) as (_, view):
        assert view.virtual_size.height == 100
        assert row_text(view, view.size.height - 1) == "line 99"


async def test_wrapping_splits_long_lines_into_rows_and_back() -> None:
    width = WIDTH  # three lines: no vertical scrollbar takes a column
    async with viewing(100, ["short", "x" * (width * 2 + 3), "end"]) as (pilot, view):
        assert view.scrollable_content_region.width == width
        view.action_top()
        view.set_options(wrap=True)
        await pilot.pause()
        assert view.virtual_size.height == 1 + 3 + 1
        assert [row_text(view, y) for y in range(5)] == [
            "short",
            "x" * width,
            "x" * width,
            "xxx",
            "end",
        ]
        view.set_options(wrap=False)
        await pilot.pause()
        assert view.virtual_size.height == 3


async def test_a_paused_view_stays_on_its_lines_while_old_ones_are_dropped() -> None:
    async with viewing(50, [f"line {n}" for n in range(50)]) as (pilot, view):
        buffer = view.buffer
        view.pause()
        view.scroll_to(y=20, animate=False, immediate=True)
        await pilot.pause()
        assert row_text(view, 0) == "line 20"
        lines(buffer, [f"line {n}" for n in range(50, 60)])  # drops lines 0-9
        view.sync()
        await pilot.pause()
        assert row_text(view, 0) == "line 20"
        assert view.unseen == 10 and not view.follow


async def test_scrolling_up_pauses_and_end_follows_again() -> None:
    buffer = LogBuffer(500)
    app = ViewApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(LogView)
        lines(buffer, [f"line {n}" for n in range(200)])
        view.sync()
        view.focus()
        await pilot.pause()
        await pilot.press("pageup")
        assert not view.follow
        await pilot.press("end")
        assert view.follow and view.scroll_y == view.max_scroll_y


async def test_search_highlights_and_walks_matches_both_ways() -> None:
    buffer = LogBuffer(100)
    app = ViewApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(LogView)
        lines(buffer, ["GET /a 200", "POST /b 500", "GET /c 200", "POST /d 500", "idle"])
        view.sync()
        await pilot.pause()
        view.search("post")
        assert view.current == 3  # the newest match first
        text = view._text(buffer[3], 3)
        assert [span.style for span in text.spans if span.style == CURRENT_STYLE]
        other = view._text(buffer[1], 1)
        assert [span.style for span in other.spans if span.style == MATCH_STYLE]
        assert view.next_match(forward=False) and view.current == 1
        assert view.next_match(forward=False) and view.current == 3  # wraps
        assert view.next_match(forward=True) and view.current == 1
        view.search("nothing here")
        assert view.current is None


async def test_control_bytes_and_colour_codes_do_not_reach_the_terminal() -> None:
    texts = ["\x1b[31mred\x1b[0m text", "bell\x07 and\tab", "a\x00b"]
    async with viewing(10, texts) as (pilot, view):
        view.action_top()
        await pilot.pause()
        rendered = [row_text(view, y) for y in range(3)]
        assert rendered[0] == "red text"
        assert "\x07" not in rendered[1] and "\t" not in rendered[1]
        assert rendered[2] == "ab"


class HeaderApp(App):
    """A view under a header whose height changes, as the live view's does."""

    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        yield Static("header", id="header")
        yield LogView(self.buffer, id="view")


async def test_a_taller_terminal_keeps_following() -> None:
    buffer = LogBuffer(500)
    app = ViewApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(LogView)
        lines(buffer, [f"line {n}" for n in range(200)])
        view.sync()
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y
        await pilot.resize_terminal(WIDTH, HEIGHT * 2)
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y
        await pilot.resize_terminal(WIDTH * 2, HEIGHT * 3)  # wider too: wrapped rows shrink
        view.set_options(wrap=True)
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y


async def test_a_shrinking_header_keeps_following() -> None:
    buffer = LogBuffer(500)
    app = HeaderApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        header = app.query_one("#header")
        header.styles.height = 4
        view = app.query_one(LogView)
        view.styles.height = "1fr"
        lines(buffer, [f"line {n}" for n in range(200)])
        view.sync()
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y
        header.styles.height = 1
        await pilot.pause()
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y
        assert row_text(view, view.size.height - 1).endswith("line 199")


async def test_content_changes_never_pause() -> None:
    async with viewing(50, [f"line {n}" for n in range(50)]) as (pilot, view):
        view.set_options(wrap=True)
        view.show(LogBuffer(50))  # an emptied pane, as after a backfill reload
        await pilot.pause()
        assert view.follow


async def test_history_lines_show_history_where_other_lines_show_a_time() -> None:
    buffer = LogBuffer(10)
    app = ViewApp(buffer)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        view = app.query_one(LogView)
        buffer.extend(
            [
                LogLine(1_700_000_000.0, "abcdef0123", "old", history=True),
                LogLine(1_700_000_001.0, "abcdef0123", "new"),
            ]
        )
        view.sync()
        view.action_top()
        await pilot.pause()
        assert row_text(view, 0) == "history      old"
        assert row_text(view, 1) == f"{stamp(1_700_000_001.0)} new"


async def test_the_match_count_and_number_follow_new_and_dropped_lines() -> None:
    texts = ["GET /a 200", "POST /b 500", "GET /c 200", "POST /d 500", "idle"]
    async with viewing(8, texts) as (_, view):
        view.search("post")
        assert (view.match_number, view.match_count) == (2, 2)  # the newest of two
        assert view.next_match(forward=False) and view.match_number == 1
        lines(view.buffer, ["POST /e 500", "idle"])
        view.sync()
        assert (view.match_number, view.match_count) == (1, 3)
        lines(view.buffer, ["idle", "idle", "POST /f 500"])  # drops the first two lines
        view.sync()
        assert view.match_count == 3  # /b went, /f came
        assert view.match_number is None  # the current match (/b) is gone
        assert view.next_match(forward=True) and view.match_number == 1
        assert "POST /d" in view.buffer[view.current - view.buffer.dropped].text
        view.show(LogBuffer(8))  # emptied, as a backfill reload does
        assert (view.match_number, view.match_count) == (None, 0)
        lines(view.buffer, ["POST /g 500"])
        view.sync()
        assert view.match_count == 1


def test_the_status_words_for_matches() -> None:
    from chutes_tui.tui.widgets.log_panes import match_words

    assert match_words(3, 17) == "3 of 17 lines match"
    assert match_words(None, 17) == "17 lines match"
    assert match_words(1, 1) == "1 of 1 line matches"
    assert match_words(None, 0) == "no line matches"
