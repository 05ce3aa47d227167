"""The live view's instances: one row per instance, with as many columns as the width holds.

The id, GPU, age and state always show. When the table is narrow the other columns give
way: the active and verified flags first (the state sums them up), then the last
verification, then the region; so it never needs a horizontal scrollbar that hides a row.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

COLUMNS = (
    ("id", "INSTANCE"),
    ("region", "REGION"),
    ("gpu", "GPU"),
    ("active", "ACTIVE"),
    ("verified", "VERIFIED"),
    ("last", "LAST VERIFIED"),
    ("age", "AGE"),
    ("state", "STATE"),
)
GIVE_WAY = ("active", "verified", "last", "region")  # the first goes first
AGE_ROOM = 8  # `seen 59s`, `≥10m02s`: room for an age to grow without a refit each second


def _width(value: Any) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


class InstanceTable(DataTable[Any]):
    """Rows keyed by instance id; `put` adds or changes one, `drop` removes one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.cells: dict[str, dict[str, Any]] = {}
        self.shown: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self._show_columns(tuple(key for key, _ in COLUMNS))

    def on_resize(self) -> None:
        self.fit()

    def put(self, key: str, cells: dict[str, Any]) -> None:
        self.cells[key] = dict(cells)
        if key in self.rows:
            for column in self.shown:
                self.update_cell(key, column, cells[column], update_width=True)
        else:
            self.add_row(*(cells[column] for column in self.shown), key=key)
        self.fit()

    def put_cell(self, key: str, column: str, value: Any) -> None:
        if key in self.cells:
            self.cells[key][column] = value
            if column in self.shown:
                self.update_cell(key, column, value)

    def drop(self, key: str) -> None:
        if self.cells.pop(key, None) is not None:
            self.remove_row(key)

    def fit(self) -> None:
        """Show the most columns that fit the width (after rows or the size changed)."""
        room = self.scrollable_content_region.width
        if room <= 0:
            return  # not laid out yet
        keys = [key for key, _ in COLUMNS]
        for count in range(len(GIVE_WAY) + 1):
            shown = tuple(key for key in keys if key not in GIVE_WAY[:count])
            if self._needed(shown) <= room:
                break
        if shown != self.shown:
            self._show_columns(shown)

    def _needed(self, shown: tuple[str, ...]) -> int:
        titles = dict(COLUMNS)
        total = 0
        for key in shown:
            widest = max((_width(row[key]) for row in self.cells.values()), default=0)
            if key == "age":
                widest = max(widest, AGE_ROOM)
            total += max(cell_len(titles[key]), widest) + 2 * self.cell_padding
        return total

    def _show_columns(self, shown: tuple[str, ...]) -> None:
        selected = None
        if self.row_count:
            selected = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        titles = dict(COLUMNS)
        self.clear(columns=True)
        self.shown = shown
        for key in shown:
            self.add_column(titles[key], key=key)
        for key, cells in self.cells.items():
            self.add_row(*(cells[column] for column in shown), key=key)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))
