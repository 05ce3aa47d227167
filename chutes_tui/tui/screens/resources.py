"""The two top-level lists: chutes and images. Filter, sort, copy, open, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.core.formatting import short_time, usd_hour
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.messages import FeedUpdated
from chutes_tui.tui.rows import ChuteRow, ImageRow, images_in_use
from chutes_tui.tui.state import Feed, Kind
from chutes_tui.tui.widgets.account_bar import AccountBar
from chutes_tui.tui.widgets.table import Column, VirtualTable

if TYPE_CHECKING:
    from chutes_tui.client.api import ChutesClient

RowT = TypeVar("RowT")

STATUS_STYLES = {
    "built and pushed": "green",
    "building": "yellow",
    "pending build": "cyan",
}


def image_status(status: str) -> Text:
    style = "bold red" if status.startswith("error") else STATUS_STYLES.get(status, "")
    return Text(status, style=style)


def hot_badge(row: ChuteRow) -> Text:
    return Text(" HOT ", style="bold black on green") if row.hot else Text(" cold", style="dim")


def chute_name(row: ChuteRow) -> Text:
    text = Text(row.name, style="bold")
    if row.shared:
        text.append(" (shared)", style="italic cyan")
    return text


# Chutes and images both have `created_at`: one column for both lists.
CREATED_COLUMN: Column[Any] = Column(
    "created",
    "CREATED",
    16,
    lambda row: short_time(row.created_at),
    lambda row: row.created_at or "",
    optional=True,
)

CHUTE_COLUMNS: tuple[Column[ChuteRow], ...] = (
    Column("name", "NAME", 18, chute_name, lambda row: row.name.lower(), grow=True),
    Column("hot", "STATUS", 6, hot_badge, lambda row: not row.hot),
    Column(
        "instances",
        "INST",
        4,
        lambda row: str(row.instances),
        lambda row: row.instances,
        right=True,
    ),
    Column(
        "price",
        "$/HOUR",
        8,
        lambda row: usd_hour(row.usd_hour),
        lambda row: row.usd_hour,
        right=True,
    ),
    Column("gpus", "GPUS", 18, lambda row: row.gpus, optional=True),
    Column(
        "invocations",
        "CALLS",
        9,
        lambda row: f"{row.invocations:,}",
        lambda row: row.invocations,
        optional=True,
        right=True,
    ),
    Column("slug", "SLUG", 18, lambda row: row.slug or "-", optional=True),
    CREATED_COLUMN,
)


class ResourceScreen(DashboardAccess, Screen[None], Generic[RowT]):
    """A keyed, filterable, sortable list with an empty state that says what to do."""

    kind: ClassVar[Kind]
    noun: ClassVar[str]
    columns: ClassVar[tuple[Column[Any], ...]]

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
    def key_of(row: Any) -> str:
        raise NotImplementedError

    @property
    def table(self) -> VirtualTable[RowT]:
        table: VirtualTable[RowT] = self.query_one("#table", VirtualTable)
        return table

    @property
    def feed(self) -> Feed[RowT]:
        feed: Feed[RowT] = self.state.feed(self.kind)
        return feed

    def on_mount(self) -> None:
        self.table.focus()
        if self.state.options.exit_after_first_paint:
            # Start-up benchmark: leave once the first rows have been drawn and written.
            self.table.on_first_rows = lambda: self.app.call_after_refresh(self.app.exit)
        self.load_rows()

    def on_screen_resume(self) -> None:
        self.load_rows()

    def start_over(self) -> None:
        """Another session (a profile switch): no filter, the new (still empty) lists."""
        self.action_clear_filter()
        self.load_rows()

    def rows(self) -> list[RowT]:
        return self.feed.rows

    def load_rows(self) -> None:
        feed = self.feed
        self.table.set_rows(self.table_rows())
        if self._showing_partial and not feed.partial:
            self.table.action_edge(0)  # the full list replaces the first page: start at the top
        self._showing_partial = feed.partial
        self.update_chrome()
        self.rows_loaded()

    def table_rows(self) -> list[RowT]:
        return self.rows()

    def rows_loaded(self) -> None:
        """Hook for screens that show more than the table."""

    def on_feed_updated(self, message: FeedUpdated) -> None:
        if message.kind in (self.kind, *self.depends_on()):
            self.load_rows()

    def depends_on(self) -> tuple[str, ...]:
        return ()

    def update_chrome(self) -> None:
        feed = self.feed
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

    def empty_message(self, feed: Feed[RowT]) -> str:
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

    def selected(self) -> RowT | None:
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

    def ask_delete(self, row: RowT) -> None:
        raise NotImplementedError

    def delete_confirmed(
        self, label: str, call: Callable[[ChutesClient], Awaitable[object]], *kinds: Kind
    ) -> None:
        """Run the delete with the client of the moment; say how it went; refresh `kinds`."""

        async def run() -> None:
            try:
                await call(self.state.client)
            except ChutesError as error:
                self.notify(error.message, title=f"Could not delete {label}", severity="error")
                return
            self.notify(f"Deleted {label}", timeout=4)
            for kind in kinds:
                self.dashboard.refresh_feed(kind)

        self.run_worker(run(), group="delete")


class ChutesScreen(ResourceScreen[ChuteRow]):
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
    def key_of(row: ChuteRow) -> str:
        return row.chute_id

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
            self.dashboard.open_live(row.chute_id)

    def action_deploy(self) -> None:
        from chutes_tui.tui.screens.deploy import DeployScreen

        self.app.push_screen(DeployScreen())

    def action_share(self) -> None:
        from chutes_tui.tui.screens.shares import start_share

        row = self.selected()
        if row is not None and row.public:
            self.notify("Public chutes need no sharing.", severity="warning")
            return
        start_share(self, row.chute_id if row else None)

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

    def ask_delete(self, row: ChuteRow) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen

        if row.shared:
            self.notify(
                "This chute is shared with you: only its owner can delete it.", severity="warning"
            )
            return
        name, chute_id = row.name, row.chute_id
        running = {0: "It has no running instance", 1: "Its running instance stops"}.get(
            row.instances, f"Its {row.instances} running instances stop"
        )
        body = (
            f"Delete chute [b]{name}[/b] ({chute_id})?\n\n"
            f"{running}, and every share of it is removed. This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_confirmed(
                    f"chute {name}",
                    lambda client: client.delete_chute(chute_id),
                    "chutes",
                    "images",
                )

        self.app.push_screen(ConfirmScreen("Delete chute", body, danger=True), answered)


IMAGE_COLUMNS: tuple[Column[ImageRow], ...] = (
    Column(
        "name",
        "NAME",
        18,
        lambda row: _image_name(row),
        lambda row: f"{row.owner or ''}/{row.name}:{row.tag}".lower(),
        grow=True,
    ),
    Column("tag", "TAG", 8, lambda row: row.tag),
    Column("status", "STATUS", 16, lambda row: image_status(row.status), lambda row: row.status),
    Column("public", "PUBLIC", 6, lambda row: "yes" if row.public else "no", optional=True),
    CREATED_COLUMN,
    Column("used_by", "USED BY", 20, lambda row: ", ".join(row.used_by) or "-", optional=True),
)


class ImagesScreen(ResourceScreen[ImageRow]):
    kind = "images"
    noun = "image"
    columns = IMAGE_COLUMNS

    BINDINGS = [
        Binding("i", "toggle_public", "Public on/off", id="images.include_public"),
        Binding("b", "build", "Build…", id="images.build"),
    ]

    @staticmethod
    def key_of(row: ImageRow) -> str:
        return row.image_id

    def compose_side(self) -> ComposeResult:
        with VerticalScroll(id="side"):
            yield Static(id="detail")

    def depends_on(self) -> tuple[str, ...]:
        return ("chutes",)

    def table_rows(self) -> list[ImageRow]:
        users = images_in_use(self.state.chutes.rows)
        return [row.used(users) for row in self.rows()]

    def rows_loaded(self) -> None:
        self.show_detail(self.table.cursor_key)

    def title_extra(self) -> str:
        return "   public images: " + (
            "shown" if self.state.include_public_images else "hidden (i)"
        )

    def nothing_yet(self) -> str:
        return (
            "No images yet.\n\nPress b to build one from a chute file in this directory."
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
        """Enter: the image's build log, live while it builds, whole once it has ended."""
        from chutes_tui.tui.screens.build import BuildScreen

        row = self.table.row(key)
        self.app.push_screen(BuildScreen(key, row.label if row else None))

    def action_build(self) -> None:
        """Build an image from a chute file in the working directory."""
        from chutes_tui.tui.screens.build_wizard import open_build

        open_build(self)

    def action_toggle_public(self) -> None:
        self.state.include_public_images = not self.state.include_public_images
        self.dashboard.refresh_feed("images")
        self.update_chrome()

    def ask_delete(self, row: ImageRow) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen, InfoScreen

        label = row.label
        if row.owner_id is not None and not self.state.owns(row.owner_id):
            self.notify(
                f"{label} belongs to someone else: only its owner can delete it.",
                severity="warning",
            )
            return
        blockers = row.used_by
        if blockers:
            self.app.push_screen(
                InfoScreen(
                    "Image in use",
                    f"[b]{label}[/b] is used by {', '.join(blockers)}.\n\n"
                    "Delete those chutes first (press 1 for the chutes list).",
                )
            )
            return
        image_id = row.image_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_confirmed(
                    f"image {label}",
                    lambda client: client.delete_image(image_id),
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


def image_facts(row: ImageRow) -> Table:
    """The full record of an image as a two-column table."""
    table = Table(
        box=None,
        show_header=False,
        pad_edge=False,
        expand=True,
        title=row.label,
        title_justify="left",
        title_style="bold",
    )
    table.add_column(style="bold", no_wrap=True, width=12)
    table.add_column(overflow="fold")
    facts: list[tuple[str, str | Text]] = [
        ("Status", image_status(row.status)),
        ("Used by", ", ".join(row.used_by) or "no chute"),
        ("Public", "yes" if row.public else "no"),
        ("Owner", row.owner or "?"),
        ("Created", short_time(row.created_at)),
        ("Build start", short_time(row.build_started_at) or "-"),
        ("Build end", short_time(row.build_completed_at) or "-"),
        ("SDK", row.chutes_version or "-"),
        ("Patch", row.patch_version or "-"),
        ("Id", row.image_id),
        ("Readme", (row.readme or "-").strip()),
    ]
    for label, value in facts:
        table.add_row(label, value)
    return table


def _image_name(row: ImageRow) -> Text:
    text = Text(f"{row.owner}/" if row.owner else "", style="dim")
    text.append(row.name, style="bold")
    return text
