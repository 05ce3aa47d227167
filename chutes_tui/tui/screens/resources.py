"""The two top-level lists: chutes and images. Filter, sort, copy, open, delete."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.tui.feeds import (
    Row,
    chutes_by_image,
    gpu_summary,
    hourly_price,
    short_time,
)
from chutes_tui.tui.messages import FeedUpdated
from chutes_tui.tui.widgets.account_bar import AccountBar
from chutes_tui.tui.widgets.table import Column, VirtualTable

STATUS_STYLES = {
    "built and pushed": "green",
    "building": "yellow",
    "pending build": "cyan",
}


def image_status(status: str) -> Text:
    style = "bold red" if status.startswith("error") else STATUS_STYLES.get(status, "")
    return Text(status, style=style)


def hot_badge(row: Row) -> Text:
    return (
        Text(" HOT ", style="bold black on green") if row.get("hot") else Text(" cold", style="dim")
    )


def chute_name(row: Row) -> Text:
    text = Text(row["name"], style="bold")
    if row.get("_shared"):
        text.append(" (shared)", style="italic cyan")
    return text


def price_cell(row: Row) -> str:
    price = hourly_price(row)
    return f"${price:,.2f}" if price is not None else "-"


CREATED_COLUMN = Column(
    "created",
    "CREATED",
    16,
    lambda row: short_time(row.get("created_at")),
    lambda row: row.get("created_at") or "",
    optional=True,
)

CHUTE_COLUMNS = (
    Column("name", "NAME", 18, chute_name, lambda row: row["name"].lower(), grow=True),
    Column("hot", "STATUS", 6, hot_badge, lambda row: not row.get("hot")),
    Column(
        "instances",
        "INST",
        4,
        lambda row: str(len(row.get("instances") or [])),
        lambda row: len(row.get("instances") or []),
        right=True,
    ),
    Column("price", "$/HOUR", 8, price_cell, hourly_price, right=True),
    Column("gpus", "GPUS", 18, gpu_summary, optional=True),
    Column(
        "invocations",
        "CALLS",
        9,
        lambda row: f"{row.get('invocation_count', 0):,}",
        lambda row: row.get("invocation_count", 0),
        optional=True,
        right=True,
    ),
    Column("slug", "SLUG", 18, lambda row: row.get("slug") or "-", optional=True),
    CREATED_COLUMN,
)


class ResourceScreen(Screen):
    """A keyed, filterable, sortable list with an empty state that says what to do."""

    kind: ClassVar[str]
    noun: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="list.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="list.clear"),
        Binding("c", "copy_id", "Copy id", show=False, id="list.copy"),
        Binding("x,delete", "delete", "Delete", id="list.delete"),
    ]

    _showing_partial = False
    _empty_message: str | None = None

    def compose(self) -> ComposeResult:
        yield AccountBar()
        yield Static(id="title")
        with Horizontal(id="body"):
            yield VirtualTable(self.columns, self.key_of, id="table")
            yield from self.compose_side()
        yield Static(id="empty")
        yield Input(placeholder=f"filter {self.noun}s (esc clears)", id="filter")
        yield Footer(compact=True)

    def compose_side(self) -> ComposeResult:
        return iter(())

    @staticmethod
    def key_of(row: Row) -> str:
        raise NotImplementedError

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#table", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()
        if getattr(self.app, "exit_after_first_paint", False):
            # Start-up benchmark: leave once the first rows have been drawn and written.
            self.table.on_first_rows = lambda: self.app.call_after_refresh(self.app.exit)
        self.load_rows()

    def on_screen_resume(self) -> None:
        self.load_rows()

    def rows(self) -> list[Row]:
        return self.app.feeds[self.kind].rows  # type: ignore[attr-defined]

    def load_rows(self) -> None:
        feed = self.app.feeds[self.kind]  # type: ignore[attr-defined]
        self.table.set_rows(self.table_rows())
        if self._showing_partial and not feed.partial:
            self.table.action_edge(0)  # the full list replaces the first page: start at the top
        self._showing_partial = feed.partial
        self.update_chrome()
        self.rows_loaded()

    def table_rows(self) -> list[Row]:
        return self.rows()

    def rows_loaded(self) -> None:
        """Hook for screens that show more than the table."""

    def on_feed_updated(self, message: FeedUpdated) -> None:
        if message.kind in (self.kind, *self.depends_on()):
            self.load_rows()

    def depends_on(self) -> tuple[str, ...]:
        return ()

    def update_chrome(self) -> None:
        feed = self.app.feeds[self.kind]  # type: ignore[attr-defined]
        table = self.table
        column = table.columns[table.sort_column]
        arrow = "▼" if table.sort_reverse else "▲"
        title = Text()
        title.append(f" {self.noun.capitalize()}s ", style="bold reverse")
        shown = table.visible_count
        title.append(f"  {shown}" + (f" of {table.row_count}" if shown != table.row_count else ""))
        title.append(f"   sort: {column.title.lower()} {arrow}", style="dim")
        if table.filter_text:
            title.append(f"   filter: {table.filter_text}", style="bold yellow")
        if feed.partial:
            title.append("   loading more…", style="italic")
        elif feed.loading and not feed.loaded:
            title.append("   retrying…" if feed.error else "   loading…", style="italic")
        title.append(self.title_extra(), style="dim")
        self.query_one("#title", Static).update(title, layout=False)
        message = self.empty_message(feed)
        if message != self._empty_message:  # layout only when the empty state changes
            self._empty_message = message
            empty = self.query_one("#empty", Static)
            empty.update(message)
            empty.display = bool(message)
            self.query_one("#body").display = not message

    def title_extra(self) -> str:
        return ""

    def empty_message(self, feed: Any) -> str:
        if self.table.row_count and not self.table.visible_count:
            return f"Nothing matches “{self.table.filter_text}”. Press esc to clear the filter."
        if self.table.row_count:
            return ""
        if not feed.loaded:
            if feed.error:
                return (
                    f"Cannot load {self.noun}s: {feed.error}\n\n"
                    "Retrying in the background. Press r to retry now, ? for help."
                )
            return f"Loading {self.noun}s…"
        return self.nothing_yet()

    def nothing_yet(self) -> str:
        return f"No {self.noun}s yet."

    # filter

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-visible")
        self.table.set_filter("")
        self.table.focus()
        self.update_chrome()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.update_chrome()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.table.focus()
        if not self.query_one("#filter", Input).value:
            self.query_one("#filter", Input).remove_class("-visible")

    def key_escape(self) -> None:
        if self.query_one("#filter", Input).has_focus or self.table.filter_text:
            self.action_clear_filter()

    # actions on the selected row

    def selected(self) -> Row | None:
        key = self.table.cursor_key
        return self.table.row(key) if key else None

    def action_copy_id(self) -> None:
        key = self.table.cursor_key
        if key is None:
            self.notify(f"No {self.noun} selected.", severity="warning")
            return
        self.app.copy_to_clipboard(key)
        self.notify(f"Copied {self.noun} id {key}", timeout=3)

    @on(VirtualTable.Sorted)
    def sort_changed(self) -> None:
        self.update_chrome()

    @on(VirtualTable.Selected)
    def open_selected(self, event: VirtualTable.Selected) -> None:
        self.open(event.key)

    def open(self, key: str) -> None:  # pragma: no cover - overridden
        pass

    def action_delete(self) -> None:
        row = self.selected()
        if row is None:
            self.notify(f"No {self.noun} selected.", severity="warning")
            return
        self.ask_delete(row)

    def ask_delete(self, row: Row) -> None:
        raise NotImplementedError

    def delete_confirmed(self, label: str, call: Any, *kinds: str) -> None:
        async def run() -> None:
            try:
                await call()
            except ChutesError as error:
                self.notify(error.message, title=f"Could not delete {label}", severity="error")
                return
            self.notify(f"Deleted {label}", timeout=4)
            for kind in kinds:
                self.app.refresh_feed(kind)  # type: ignore[attr-defined]

        self.run_worker(run(), group="delete")


class ChutesScreen(ResourceScreen):
    kind = "chutes"
    noun = "chute"
    columns = CHUTE_COLUMNS

    BINDINGS = [
        Binding("o", "open_by_name", "Open by name", show=False, id="chutes.open_by_name"),
        Binding("a", "share", "Share…", id="chutes.share"),
        Binding("d", "deploy", "Deploy…", id="chutes.deploy"),
        Binding("l", "live", "Live", id="chutes.live"),
    ]

    @staticmethod
    def key_of(row: Row) -> str:
        return row["chute_id"]

    def nothing_yet(self) -> str:
        return (
            "No chutes yet.\n\nPress d to deploy one from a chute file in this directory.\n"
            "Chutes shared with you are not listed by the API: press o to"
            " open one by name."
        )

    def open(self, key: str) -> None:
        from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen

        self.app.push_screen(ChuteDetailScreen(key))

    def action_live(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.open_live(row["chute_id"])  # type: ignore[attr-defined]

    def action_deploy(self) -> None:
        from chutes_tui.tui.screens.deploy import DeployScreen

        self.app.push_screen(DeployScreen())

    def action_share(self) -> None:
        from chutes_tui.tui.screens.shares import start_share

        row = self.selected()
        if row is not None and row.get("public"):
            self.notify("Public chutes need no sharing.", severity="warning")
            return
        start_share(self, row["chute_id"] if row else None)

    def action_open_by_name(self) -> None:
        from chutes_tui.tui.screens.modals import PromptScreen

        def opened(ref: str | None) -> None:
            if ref:
                self.open(ref.strip())

        self.app.push_screen(
            PromptScreen(
                "Open a chute", "Name or id of a chute (yours, shared with you, or public)"
            ),
            opened,
        )

    def ask_delete(self, row: Row) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen

        if row.get("_shared"):
            self.notify(
                "This chute is shared with you: only its owner can delete it.", severity="warning"
            )
            return
        name, chute_id = row["name"], row["chute_id"]
        instances = len(row.get("instances") or [])
        body = (
            f"Delete chute [b]{name}[/b] ({chute_id})?\n\n"
            f"Its {instances} running instance(s) stop and every share of it is removed."
            " This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_confirmed(
                    f"chute {name}",
                    lambda: self.app.client.delete_chute(chute_id),  # type: ignore[attr-defined]
                    "chutes",
                    "images",
                )

        self.app.push_screen(ConfirmScreen("Delete chute", body, danger=True), answered)


IMAGE_COLUMNS = (
    Column(
        "name", "NAME", 18, lambda row: _image_name(row), lambda row: row["name"].lower(), grow=True
    ),
    Column("tag", "TAG", 8, lambda row: row["tag"]),
    Column(
        "status", "STATUS", 16, lambda row: image_status(row["status"]), lambda row: row["status"]
    ),
    Column("public", "PUBLIC", 6, lambda row: "yes" if row.get("public") else "no", optional=True),
    CREATED_COLUMN,
    Column(
        "used_by",
        "USED BY",
        20,
        lambda row: ", ".join(row.get("_used_by") or []) or "-",
        optional=True,
    ),
)


class ImagesScreen(ResourceScreen):
    kind = "images"
    noun = "image"
    columns = IMAGE_COLUMNS

    BINDINGS = [
        Binding("i", "toggle_public", "Public on/off", id="images.include_public"),
    ]

    @staticmethod
    def key_of(row: Row) -> str:
        return row["image_id"]

    def compose_side(self) -> ComposeResult:
        with VerticalScroll(id="side"):
            yield Static(id="detail")

    def depends_on(self) -> tuple[str, ...]:
        return ("chutes",)

    def table_rows(self) -> list[Row]:
        users = chutes_by_image(self.app.feeds["chutes"].rows)  # type: ignore[attr-defined]
        return [{**row, "_used_by": users.get(row["image_id"], [])} for row in self.rows()]

    def rows_loaded(self) -> None:
        self.show_detail(self.table.cursor_key)

    def title_extra(self) -> str:
        return "   public images: " + (
            "shown" if self.app.include_public_images else "hidden (i)"  # type: ignore[attr-defined]
        )

    def nothing_yet(self) -> str:
        return (
            "No images yet.\n\nBuild one with `chutes build my_chute:chute --wait`, then press r."
            "\nPress i to include the public images everyone can use."
        )

    @on(VirtualTable.Highlighted)
    def highlighted(self, event: VirtualTable.Highlighted) -> None:
        self.show_detail(event.key)

    def show_detail(self, key: str | None) -> None:
        detail = self.query_one("#detail", Static)
        row = self.table.row(key) if key else None
        if row is None:
            detail.update("")
            return
        detail.update(image_facts(row))

    def open(self, key: str) -> None:
        self.query_one("#side").focus()

    def action_toggle_public(self) -> None:
        app = self.app
        app.include_public_images = not app.include_public_images  # type: ignore[attr-defined]
        app.refresh_feed("images")  # type: ignore[attr-defined]
        self.update_chrome()

    def ask_delete(self, row: Row) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen, InfoScreen

        label = f"{(row.get('user') or {}).get('username', '?')}/{row['name']}:{row['tag']}"
        account = self.app.account or {}  # type: ignore[attr-defined]
        if (row.get("user") or {}).get("user_id") not in (None, account.get("user_id")):
            self.notify(
                f"{label} belongs to someone else: only its owner can delete it.",
                severity="warning",
            )
            return
        blockers = row.get("_used_by") or []
        if blockers:
            self.app.push_screen(
                InfoScreen(
                    "Image in use",
                    f"[b]{label}[/b] is used by {', '.join(blockers)}.\n\n"
                    "Delete those chutes first (press 1 for the chutes list).",
                )
            )
            return
        image_id = row["image_id"]

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_confirmed(
                    f"image {label}",
                    lambda: self.app.client.delete_image(image_id),  # type: ignore[attr-defined]
                    "images",
                )

        self.app.push_screen(
            ConfirmScreen(
                "Delete image",
                f"Delete image [b]{label}[/b] ({image_id})?\n\nThis cannot be undone.",
                danger=True,
            ),
            answered,
        )


def image_facts(row: Row) -> Table:
    """The full record of an image as a two-column table."""
    owner = (row.get("user") or {}).get("username", "?")
    table = Table(
        box=None,
        show_header=False,
        pad_edge=False,
        expand=True,
        title=f"{owner}/{row['name']}:{row['tag']}",
        title_justify="left",
        title_style="bold",
    )
    table.add_column(style="bold", no_wrap=True, width=12)
    table.add_column(overflow="fold")
    facts = [
        ("Status", image_status(row["status"])),
        ("Used by", ", ".join(row.get("_used_by") or []) or "no chute"),
        ("Public", "yes" if row.get("public") else "no"),
        ("Owner", owner),
        ("Created", short_time(row.get("created_at"))),
        ("Build start", short_time(row.get("build_started_at")) or "-"),
        ("Build end", short_time(row.get("build_completed_at")) or "-"),
        ("SDK", row.get("chutes_version") or "-"),
        ("Patch", row.get("patch_version") or "-"),
        ("Id", row["image_id"]),
        ("Readme", (row.get("readme") or "-").strip()),
    ]
    for label, value in facts:
        table.add_row(label, value)
    return table


def _image_name(row: Row) -> Text:
    owner = (row.get("user") or {}).get("username")
    text = Text(f"{owner}/" if owner else "", style="dim")
    text.append(row["name"], style="bold")
    return text
