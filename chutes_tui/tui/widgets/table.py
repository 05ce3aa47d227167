"""A virtual table: keyed rows, filter and sort, and only the visible lines are ever rendered.

The stock DataTable builds every row up front, which takes seconds at 10,000 rows. Here a
refresh swaps the row data and recomputes an index list; painting touches only the rows on
screen, so filtering and live updates stay cheap at any size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Row = TypeVar("Row")
CellText = str | Text
MAX_CACHED_LINES = 4000
MIN_GROWING = 10  # a growing column (names) never shrinks below this


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column: its title, width, the cell for a row, and the value it sorts by."""

    key: str
    title: str
    width: int
    cell: Callable[[Row], CellText]
    sort_value: Callable[[Row], Any] | None = None
    grow: bool = False
    optional: bool = False  # dropped (right to left) when the table is too narrow
    right: bool = False  # numbers align right


class VirtualTable(ScrollView, Generic[Row], can_focus=True):
    """Rows keyed by id; filter, sort, cursor; renders visible lines only."""

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "edge(0)", "Top", show=False, id="table.top"),
        Binding("end,G", "edge(1)", "Bottom", show=False, id="table.bottom"),
        Binding("enter", "select", "Open", id="table.select"),
        Binding("s", "sort_next", "Sort", show=False, id="table.sort"),
        Binding("S", "sort_reverse", "Reverse", show=False, id="table.sort_reverse"),
    ]

    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--row",
        "virtual-table--row-alt",
    }

    cursor = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Sorted(Message):
        def __init__(self, table: VirtualTable) -> None:
            super().__init__()
            self.table = table

    class Selected(Message):
        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column[Row]],
        key_of: Callable[[Row], str],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.key_of = key_of
        self._rows: dict[str, Row] = {}
        self._search: dict[str, str] = {}
        self._view: list[str] = []
        self._sorted: list[str] = []
        self.on_first_rows: Callable[[], object] | None = (
            None  # called once, at the first row drawn
        )
        self._filter = ""
        self.sort_column = 0
        self.sort_reverse = False
        self._cache: dict[tuple[str, int, str], Strip] = {}

    # data

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def visible_count(self) -> int:
        return len(self._view)

    @property
    def visible_keys(self) -> list[str]:
        return list(self._view)

    @property
    def cursor_key(self) -> str | None:
        return self._view[self.cursor] if 0 <= self.cursor < len(self._view) else None

    def row(self, key: str) -> Row | None:
        return self._rows.get(key)

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the data; the cursor stays on the same key and the scroll stays put."""
        keep = self.cursor_key
        fresh = {self.key_of(row): row for row in rows}
        changed = {key for key, row in fresh.items() if self._rows.get(key) != row}
        if not changed and fresh.keys() == self._rows.keys():
            return
        self._rows = fresh
        self._search = {
            key: (
                self._search[key]
                if key not in changed and key in self._search
                else self._search_text(row)
            )
            for key, row in fresh.items()
        }
        self._cache = {
            k: v for k, v in self._cache.items() if k[0] in fresh and k[0] not in changed
        }
        self._rebuild(keep)

    def set_filter(self, text: str) -> None:
        if text == self._filter:
            return
        keep = self.cursor_key
        self._filter = text
        self._rebuild(keep, resort=False)

    @property
    def filter_text(self) -> str:
        return self._filter

    def sort_by(self, index: int, reverse: bool = False) -> None:
        keep = self.cursor_key
        self.sort_column = index % len(self.columns)
        self.sort_reverse = reverse
        self._cache.clear()
        self._rebuild(keep)
        self.post_message(self.Sorted(self))

    def _search_text(self, row: Row) -> str:
        return "\t".join(_plain(column.cell(row)) for column in self.columns).lower()

    def _rebuild(self, keep: str | None, resort: bool = True) -> None:
        """Recompute the visible keys: sort only when rows or order changed, then filter."""
        if resort:
            column = self.columns[self.sort_column]
            value = column.sort_value or (lambda row: _plain(column.cell(row)).lower())
            self._sorted = sorted(
                self._rows,
                key=lambda key: _sortable(value(self._rows[key])),
                reverse=self.sort_reverse,
            )
        needle = self._filter.lower()
        keys = [k for k in self._sorted if needle in self._search[k]] if needle else self._sorted
        self._view = keys
        self.virtual_size = Size(self._total_width(), len(keys) + 1)
        # Stay on the same row; if it went away, stay at the same place in the list.
        position = {key: i for i, key in enumerate(keys)} if keep is not None else {}
        index = position.get(keep, self.cursor) if keep is not None else self.cursor
        self.cursor = min(index, max(len(keys) - 1, 0))
        self.refresh()

    # geometry

    def _total_width(self) -> int:
        return sum(width + 2 for _, width in self._layout())

    def _layout(self) -> list[tuple[int, int]]:
        """(column index, width) of the columns that fit, the growing ones widened."""
        shown = list(range(len(self.columns)))
        room = self.size.width or sum(column.width + 2 for column in self.columns)
        for index in reversed(range(len(self.columns))):
            if sum(self.columns[i].width + 2 for i in shown) <= room:
                break
            if self.columns[index].optional and index != self.sort_column:
                shown.remove(index)
        widths = {i: self.columns[i].width for i in shown}
        spare = room - sum(width + 2 for width in widths.values())
        growing = [i for i in shown if self.columns[i].grow]
        if spare > 0 and growing:
            for i in growing:
                widths[i] += spare // len(growing)
        elif spare < 0 and growing:  # too narrow even so: names give way before scrolling
            for i in growing:
                widths[i] = max(MIN_GROWING, widths[i] + spare // len(growing))
        return [(i, widths[i]) for i in shown]

    # cursor

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def _scroll_to_cursor(self) -> None:
        body = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self._view:
            self.cursor = max(0, min(len(self._view) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 2, 1))

    def action_edge(self, end: int) -> None:
        if self._view:
            self.cursor = len(self._view) - 1 if end else 0

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Selected(self, self.cursor_key))

    def action_sort_next(self) -> None:
        self.sort_by(self.sort_column + 1, self.sort_reverse)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    def move_to(self, key: str) -> bool:
        if key in self._view:
            self.cursor = self._view.index(key)
            return True
        return False

    async def _on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x + int(self.scroll_x))
            if column is not None:
                reverse = not self.sort_reverse if column == self.sort_column else False
                self.sort_by(column, reverse)
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self._view):
            if index == self.cursor and event.chain >= 2:
                self.action_select()
            self.cursor = index

    def _column_at(self, x: int) -> int | None:
        left = 0
        for index, width in self._layout():
            if left <= x < left + width + 2:
                return index
            left += width + 2
        return None

    # painting

    def render_line(self, y: int) -> Strip:
        scroll_x = int(self.scroll_x)
        width = self.size.width
        if y == 0:
            strip = self._header()
        else:
            index = int(self.scroll_y) + y - 1
            if index >= len(self._view):
                return Strip.blank(width, self.rich_style)
            strip = self._line(self._view[index], index)
            if self.on_first_rows is not None:
                first, self.on_first_rows = self.on_first_rows, None
                first()
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, self.rich_style)

    def _header(self) -> Strip:
        style = self.get_component_rich_style("virtual-table--header")
        text = Text(style=style, no_wrap=True, overflow="ellipsis")
        for index, width in self._layout():
            column = self.columns[index]
            arrow = (" ▼" if self.sort_reverse else " ▲") if index == self.sort_column else ""
            title = _fit(column.title + arrow, width)
            if arrow and len(column.title + arrow) > width:  # cut the title, never the arrow
                title = _fit(column.title, width - len(arrow)) + arrow
            text.append((title.strip().rjust(width) if column.right else title) + "  ")
        text.stylize(style)  # render() ignores a Text's own style: make it a span
        return Strip(text.render(self.app.console))

    def _line(self, key: str, index: int) -> Strip:
        if index == self.cursor:
            look = "virtual-table--cursor" if self.has_focus else "virtual-table--row-alt"
        else:
            look = "virtual-table--row-alt" if index % 2 else "virtual-table--row"
        cache_key = (key, self.size.width, look)
        if (cached := self._cache.get(cache_key)) is not None:
            return cached
        if len(self._cache) > MAX_CACHED_LINES:
            self._cache.clear()
        base = self.get_component_rich_style(look)
        row = self._rows[key]
        line = Text(style=base, no_wrap=True)
        for index, width in self._layout():
            cell = self.columns[index].cell(row)
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            text.truncate(width, overflow="ellipsis", pad=not self.columns[index].right)
            if self.columns[index].right:
                text.pad_left(width - text.cell_len)
            line.append_text(text)  # the cell's own style becomes a span
            line.append("  ")
        line.stylize_before(base)  # the row's look under every cell's own
        segments = list(line.render(self.app.console))
        strip = Strip(Segment.apply_style(segments, post_style=Style()))
        self._cache[cache_key] = strip
        return strip

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self._total_width(), len(self._view) + 1)


def _plain(value: CellText) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


def _sortable(value: Any) -> tuple[int, Any]:
    """Sort None last and never compare mixed types."""
    if value is None:
        return (2, "")
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))
