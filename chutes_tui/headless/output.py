"""The one door for headless output: results to stdout, diagnostics to stderr.

JSON for scripts (`--json`, `--output json`, or whenever stdout is not a terminal);
a readable table on a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from chutes_tui.client.errors import redact
from chutes_tui.headless.terminal_text import capped, safe_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

Cell = Callable[[dict[str, Any]], object]


@dataclass(frozen=True)
class Column:
    title: str
    value: Cell
    style: str | None = None
    wrap: bool = False


def plain(data: object) -> Any:
    """Models to JSON-ready data with the fields the API sent, and no others."""
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, list):
        return [plain(item) for item in data]
    return data


class Output:
    def __init__(
        self, mode: str | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.mode = mode or ("table" if self.stdout.isatty() else "json")

    @property
    def json(self) -> bool:
        return self.mode == "json"

    def result(
        self,
        data: object,
        columns: Sequence[Column] | None = None,
        title: str | None = None,
    ) -> None:
        """Print a result: JSON as the API shaped it, or a table/record for people."""
        payload = plain(data)
        if self.json:
            json.dump(payload, self.stdout, indent=2, sort_keys=False)
            self.stdout.write("\n")
        elif isinstance(payload, list) and columns is not None:
            self._table(payload, columns, title)
        elif isinstance(payload, dict):
            self._record(payload)
        else:
            self.stdout.write(f"{payload}\n")
        self.stdout.flush()

    def line(self, record: object) -> None:
        """One compact JSON object on its own line (streams: JSON Lines)."""
        self.stdout.write(json.dumps(plain(record), separators=(",", ":")) + "\n")
        self.stdout.flush()

    def text(self, text: str) -> None:
        """Text on stdout (source code, log lines): colour only on a terminal, no escapes."""
        text = safe_text(text, keep_colour=self.stdout.isatty())
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def info(self, message: str) -> None:
        self.stderr.write(f"{capped(safe_text(redact(message)))}\n")
        self.stderr.flush()

    def error(self, message: str) -> None:
        self.stderr.write(f"chutes-tui: error: {capped(safe_text(redact(message)))}\n")
        self.stderr.flush()

    def _console(self) -> Console:
        from rich.console import Console

        return Console(file=self.stdout, highlight=False, soft_wrap=False)

    def _table(
        self, rows: list[dict[str, Any]], columns: Sequence[Column], title: str | None
    ) -> None:
        from rich.table import Table

        table = Table(title=title, header_style="bold", box=None, pad_edge=False)
        for column in columns:
            table.add_column(
                column.title,
                style=column.style,
                no_wrap=not column.wrap,
                overflow="fold" if column.wrap else "ellipsis",
            )
        for row in rows:
            table.add_row(*(_cell(column.value(row)) for column in columns))
        self._console().print(table)

    def _record(self, record: dict[str, Any]) -> None:
        """One object as a two-column table: a field a line, nested values as compact JSON."""
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for key, value in record.items():
            shown = value if not isinstance(value, dict | list) else json.dumps(value)
            table.add_row(_cell(key), _cell(shown))
        self._console().print(table)


def _cell(value: object) -> Text:
    """A table cell: server text is neither markup nor terminal control."""
    from rich.text import Text

    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(safe_text(str(value)))
