"""The Spend tab of the account screen: burn now, balance, runway and fees; a bar per day;
the traffic on your chutes; your spend per chute per day.

The figures come from `core/spend.py`, the same as `usage` prints. A worker bound to this
widget reads them; the next read is scheduled when the last one ended (less often when a
read is slow), and leaving the screen ends both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.core.spend import (
    DEFAULT_DAYS,
    Burn,
    ChuteSpend,
    ChuteTraffic,
    SpendReport,
    load_burn,
    load_spend,
    runway_text,
    window,
)
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.widgets.table import Column, VirtualTable

BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_ROWS = 5
SLOW_FACTOR = 5  # a read that takes t seconds is not repeated within 5 t
MIN_INTERVAL = 30.0  # seconds: a day's spend moves slowly, and a big account costs a read


def sparkline(values: tuple[float, ...] | tuple[int, ...]) -> Text:
    """One character per value, eighths of the largest; nothing spent is a dim dot."""
    top = max(values, default=0) or 0
    text = Text(no_wrap=True)
    for value in values:
        if value <= 0 or not top:
            text.append("·", style="dim")
        else:
            text.append(BLOCKS[max(1, round(8 * value / top))], style="green")
    return text


def bar_chart(days: tuple[date, ...], totals: tuple[float, ...], height: int = CHART_ROWS) -> Text:
    """Spend per day as columns of blocks, the largest labelled, day of month underneath."""
    top = max(totals, default=0.0)
    scale = f"${top:,.2f}" if top else "$0"
    width = len(scale) + 1
    lines = []
    for row in range(height, 0, -1):
        label = scale if row == height else ""
        line = Text(label.rjust(width - 1) + " ", style="dim")
        for total in totals:
            eighths = round(8 * height * total / top) if top else 0
            filled = min(8, max(0, eighths - 8 * (row - 1)))
            if total > 0 and row == 1 and filled == 0:
                filled = 1  # a day with any spend shows
            line.append((BLOCKS[filled] * 2).ljust(3), style="green")
        lines.append(line)
    axis = Text(" " * width, style="dim")
    for day in days:
        axis.append(f"{day.day:02d} ", style="dim")
    lines.append(axis)
    return Text("\n").join(lines)


@dataclass(frozen=True)
class SpendRow:
    """One chute in the tables: what you spent on it per day and its traffic now."""

    spend: ChuteSpend
    traffic: ChuteTraffic

    @property
    def key(self) -> str:
        return self.spend.chute_id


def _money(value: float) -> str:
    if not value:
        return "-"
    return f"{value:,.2f}" if abs(value) >= 0.01 else f"{value:.4f}"


def spend_columns(days: tuple[date, ...]) -> list[Column[SpendRow]]:
    columns: list[Column[SpendRow]] = [
        Column("name", "CHUTE", 16, lambda row: row.spend.name, grow=True),
        Column("trend", "DAYS", len(days), lambda row: sparkline(row.spend.amounts)),
        Column(
            "total",
            "TOTAL $",
            9,
            lambda row: _money(row.spend.total),
            lambda row: row.spend.total,
            right=True,
        ),
        Column(
            "calls",
            "CALLS",
            7,
            lambda row: f"{row.spend.total_calls:,}",
            lambda row: row.spend.total_calls,
            right=True,
        ),
    ]
    columns += [_day_column(index, day) for index, day in enumerate(days)]
    return columns


def _day_column(index: int, day: date) -> Column[SpendRow]:
    """One day's spend (dropped first when the table is narrow)."""

    def amount(row: SpendRow) -> float:
        return row.spend.amounts[index]

    return Column(
        f"day{index}",
        day.strftime("%m-%d"),
        6,
        lambda row: _money(amount(row)),
        amount,
        optional=True,
        right=True,
    )


def _busy(row: SpendRow) -> str:
    value = row.traffic.utilization
    return "-" if value is None else f"{value:.0%}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


TRAFFIC_COLUMNS: list[Column[SpendRow]] = [
    Column("name", "CHUTE", 14, lambda row: row.spend.name, grow=True),
    Column("calls", "CALLS/DAY", 11, lambda row: sparkline(row.traffic.calls), optional=True),
    Column(
        "requests",
        "REQ 1H",
        8,
        lambda row: _count(row.traffic.requests_1h),
        lambda row: row.traffic.requests_1h,
        right=True,
    ),
    Column(
        "limited",
        "429 1H",
        8,
        lambda row: _count(row.traffic.limited_1h),
        lambda row: row.traffic.limited_1h,
        right=True,
    ),
    Column("busy", "BUSY", 5, _busy, lambda row: row.traffic.utilization, right=True),
]


class SpendPane(DashboardAccess, Vertical):
    """Burn, balance, runway, fees; the days; the traffic; spend per chute per day."""

    DEFAULT_CSS = """
    SpendPane { height: 1fr; }
    SpendPane #spend-figures { height: 3; }
    SpendPane .figure { width: 1fr; height: 3; border: round $primary 40%; padding: 0 1;
                        border-title-color: $text-muted; }
    SpendPane #spend-middle { height: 9; }
    SpendPane #spend-chart { width: auto; min-width: 30; height: 9; padding: 0 1;
                             border: round $primary 40%; }
    SpendPane #spend-traffic { width: 1fr; height: 9; }
    SpendPane #spend-table { height: 1fr; }
    SpendPane #spend-note { height: auto; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, days: int = DEFAULT_DAYS, id: str | None = None) -> None:
        super().__init__(id=id)
        self.days = days
        self.report: SpendReport | None = None
        self.burn: Burn | None = None  # the quick figures, shown before the report
        self.error: str | None = None
        self.loaded_at: float | None = None
        self._span = window(days)
        self._next: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="spend-figures"):
            for key in ("burn", "balance", "runway", "fees"):
                yield Static(id=f"spend-{key}", classes="figure")
        with Horizontal(id="spend-middle"):
            yield Static(id="spend-chart")
            yield VirtualTable(TRAFFIC_COLUMNS, _key, id="spend-traffic")
        yield VirtualTable(spend_columns(self._span), _key, id="spend-table")
        yield Static("Reading what the account spends…", id="spend-note")

    def on_mount(self) -> None:
        self.query_one("#spend-table", VirtualTable).sort_by(2, reverse=True)
        self.query_one("#spend-traffic", VirtualTable).sort_by(2, reverse=True)
        self._show_figures()
        self.reload()

    def reload(self) -> None:
        """Read now (any scheduled read is dropped; one read at a time)."""
        if self._next is not None:
            self._next.stop()
            self._next = None
        self.run_worker(self._load(), group="spend", exclusive=True)

    async def _load(self) -> None:
        """Balance, burn and runway first (two quick reads), then everything else."""
        state = self.state
        started = time.monotonic()
        try:
            burn = await load_burn(state.client, state.gpu_table)
            if state is not self.state:
                return
            self.burn = burn
            self._show_figures()
            report = await load_spend(
                state.client, self.days, table=state.gpu_table, strict=False, burn=burn
            )
        except ChutesError as error:
            if state is not self.state:
                return
            self.error = error.message
        else:
            if state is not self.state:
                return
            self.report, self.error, self.loaded_at = report, None, time.time()
        self._show()
        self._schedule(time.monotonic() - started)

    def _schedule(self, took: float) -> None:
        dashboard = self.dashboard
        if not dashboard.refreshing or dashboard.refresh_interval <= 0:
            return
        delay = max(dashboard.refresh_interval, MIN_INTERVAL, SLOW_FACTOR * took)
        self._next = self.set_timer(delay, self.reload, name="spend refresh")

    # rendering

    def _figure(self, key: str, title: str, value: str, style: str = "bold") -> None:
        """A figure in its card: the label on the border, the value inside."""
        card = self.query_one(f"#spend-{key}", Static)
        card.border_title = title
        card.update(Text(value, style=style, no_wrap=True, overflow="ellipsis"))

    def _show_figures(self) -> None:
        days = f"{self.days} d"
        quick = self.burn or self.report
        if quick is None:
            for key, title in (("burn", "burn now"), ("balance", "balance"), ("runway", "runway")):
                self._figure(key, title, "…", "dim")
        else:
            self._show_burn(quick.balance, quick.burn, quick.runway)
        report = self.report
        if report is None:
            self._figure("fees", f"fees ({days})", "…", "dim")
            return
        fees = "n/a" if report.fees is None else f"${report.fees:,.2f}"
        self._figure("fees", f"fees ({days})", fees, "bold" if report.fees is not None else "dim")

    def _show_burn(self, balance: float | None, burn: float | None, runway: float | None) -> None:
        self._figure("burn", "burn now", "unknown" if burn is None else f"${burn:,.2f}/h")
        shown = "unknown" if balance is None else f"${balance:,.2f}"
        self._figure(
            "balance", "balance", shown, "bold green" if (balance or 0) > 0 else "bold red"
        )
        urgent = runway is not None and runway < 24
        self._figure(
            "runway", "runway", runway_text(runway, burn), "bold red" if urgent else "bold"
        )

    def _show(self) -> None:
        self._show_figures()
        report = self.report
        note = self.query_one("#spend-note", Static)
        if report is None:
            note.update(Text(f"Cannot read the spend: {self.error}", style="red"))
            return
        if report.days != self._span:  # a new day began: new day columns
            self._span = report.days
            table = self.query_one("#spend-table", VirtualTable)
            table.columns = spend_columns(report.days)
            table.refresh()
        self.query_one("#spend-chart", Static).update(bar_chart(report.days, report.per_day()))
        rows = [
            SpendRow(chute, report.traffic.get(chute.chute_id, ChuteTraffic()))
            for chute in report.chutes
        ]
        self.query_one("#spend-table", VirtualTable).set_rows(rows)
        spent = {chute.chute_id for chute in report.chutes}
        quiet = [
            SpendRow(ChuteSpend(chute_id, self.state.chute_name(chute_id), (), ()), traffic)
            for chute_id, traffic in report.traffic.items()
            if chute_id not in spent
        ]
        self.query_one("#spend-traffic", VirtualTable).set_rows(
            [row for row in rows if row.traffic != ChuteTraffic()] + quiet
        )
        text = Text(
            f"{report.days[0]:%b %d} to {report.days[-1]:%b %d}: ${report.total:,.2f} spent"
            f" on {len(report.chutes)} chute{'s' if len(report.chutes) != 1 else ''}"
        )
        if not report.chutes:
            text = Text("Nothing spent in these days. Deploy a chute (d on the chutes list).")
        if self.error:
            text.append(f"  refresh failed: {self.error}", style="yellow")
        for line in report.notes:
            text.append(f"\n{line}", style="dim")
        note.update(text)


def _key(row: SpendRow) -> str:
    return row.key
