"""One chute: overview, cords, instances, code and shares, each in its own tab."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Markdown, Static, TabbedContent, TabPane

from chutes_tui.client.errors import ChutesError
from chutes_tui.client.models import Chute
from chutes_tui.tui.widgets.account_bar import AccountBar


def hourly_text(chute: Chute) -> str:
    """What one instance of the chute costs per hour, with the range across its GPUs."""
    price = chute.current_estimated_price
    hourly = f"${price.usd.hour:,.2f}/hour per instance" if price else "unknown"
    price_range = (price.hourly_price_range or {}).get("usd") if price else None
    if price_range:
        hourly += f" (${price_range['min']:,.2f} to ${price_range['max']:,.2f} by GPU)"
    return hourly


def overview_table(chute: Chute) -> Table:
    """The facts about a chute as a two-column table."""
    selector = chute.node_selector
    hourly = hourly_text(chute)
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(style="bold", no_wrap=True, width=18)
    table.add_column(overflow="fold")
    rows = [
        (
            "Status",
            Text(
                f"{'HOT' if chute.hot else 'cold'}, {len(chute.instances)} instance(s)",
                style="bold green" if chute.hot else "",
            ),
        ),
        ("Tagline", chute.tagline or "-"),
        ("Owner", chute.user.username),
        (
            "Image",
            f"{chute.image.user.username + '/' if chute.image.user else ''}"
            f"{chute.image.name}:{chute.image.tag} ({chute.image.status})",
        ),
        ("Public", "yes" if chute.public else "no"),
        ("Price", hourly),
        ("GPUs", f"{selector.gpu_count} x one of {', '.join(chute.supported_gpus) or 'none'}"),
        ("Min VRAM", f"{selector.min_vram_gb_per_gpu} GB per GPU"),
        ("Include", ", ".join(selector.include or []) or "-"),
        ("Exclude", ", ".join(selector.exclude or []) or "-"),
        ("Max $/GPU hour", str(selector.max_hourly_price_per_gpu or "-")),
        (
            "Scaling",
            f"max {chute.max_instances} instance(s), threshold {chute.scaling_threshold},"
            f" shut down after {chute.shutdown_after_seconds} s idle",
        ),
        ("Concurrency", str(chute.concurrency)),
        ("Template", chute.standard_template or "-"),
        ("Invocations", f"{chute.invocation_count:,}"),
        ("Slug", chute.slug or "-"),
        ("Id", chute.chute_id),
        ("Version", chute.version),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


class ChuteDetailScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("c", "copy_id", "Copy id", id="detail.copy"),
        Binding("r", "reload", "Reload", id="detail.reload"),
        Binding("l", "live", "Live", id="detail.live"),
    ]

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.ref = ref
        self.chute: Chute | None = None
        self._code_loaded = False

    def compose(self) -> ComposeResult:
        yield AccountBar()
        yield Static(f" Chute {self.ref}  loading…", id="title")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"), VerticalScroll():
                yield Static("Loading…", id="overview-facts")
                yield Markdown("", id="overview-md")
            with TabPane("Cords", id="cords"):
                yield DataTable(id="cords-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Instances", id="instances"):
                yield DataTable(id="instances-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Code", id="code"), VerticalScroll():
                yield Static("Open this tab to load the source.", id="code-view")
            with TabPane("Shares", id="shares"), VerticalScroll():
                yield Static(id="shares-view")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self._code_loaded = False
        self.run_worker(self._load(), group="detail", exclusive=True)

    async def _load(self) -> None:
        client = self.app.client  # type: ignore[attr-defined]
        try:
            chute = await client.get_chute(self.ref)
        except ChutesError as error:
            self.query_one("#title", Static).update(
                Text(f" Chute {self.ref}: {error.message}", style="bold red")
            )
            self.query_one("#overview-facts", Static).update(
                Text(f"{error.message}\n\nPress esc to go back.", style="bold")
            )
            return
        self.chute = chute
        self._remember_if_shared(chute)
        self._show(chute)
        if self.query_one("#tabs", TabbedContent).active == "code":
            await self._load_code()
        await self._load_shares()

    def _remember_if_shared(self, chute: Chute) -> None:
        account = self.app.account or {}  # type: ignore[attr-defined]
        if account and chute.user.user_id != account.get("user_id") and not chute.public:
            from chutes_tui.tui.remembered import RememberedChutes

            RememberedChutes.load().remember(chute.chute_id)

    def _show(self, chute: Chute) -> None:
        title = Text()
        title.append(f" {chute.name} ", style="bold reverse")
        title.append(
            "  HOT " if chute.hot else "  cold", style="bold green" if chute.hot else "dim"
        )
        title.append(f"  {chute.chute_id}", style="dim")
        self.query_one("#title", Static).update(title)
        self.query_one("#overview-facts", Static).update(overview_table(chute))
        self.query_one("#overview-md", Markdown).update(chute.readme or "*No readme.*")
        cords = self.query_one("#cords-table", DataTable)
        cords.clear(columns=True)
        cords.add_columns("FUNCTION", "METHOD", "PATH", "PUBLIC PATH", "STREAM", "PASSTHROUGH")
        for cord in chute.cords or []:
            public = f"{cord.public_api_method or ''} {cord.public_api_path or '-'}".strip()
            cords.add_row(
                cord.function,
                cord.method,
                cord.path,
                public,
                "yes" if cord.stream else "no",
                "yes" if cord.passthrough else "no",
            )
        instances = self.query_one("#instances-table", DataTable)
        instances.clear(columns=True)
        instances.add_columns("INSTANCE", "REGION", "ACTIVE", "VERIFIED", "LAST VERIFIED")
        for instance in chute.instances:
            instances.add_row(
                instance.instance_id,
                instance.region,
                "yes" if instance.active else "no",
                "yes" if instance.verified else "no",
                instance.last_verified_at.strftime("%Y-%m-%d %H:%M:%S")
                if instance.last_verified_at
                else "-",
            )

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "code" and self.chute is not None and not self._code_loaded:
            await self._load_code()

    async def _load_code(self) -> None:
        view = self.query_one("#code-view", Static)
        view.update("Loading source…")
        try:
            source = await self.app.client.code(self.chute.chute_id)  # type: ignore[attr-defined,union-attr]
        except ChutesError as error:
            view.update(Text(error.message, style="red"))
            return
        self._code_loaded = True
        view.update(
            Syntax(source, "python", line_numbers=True, word_wrap=False, background_color="default")
        )

    async def _load_shares(self) -> None:
        view = self.query_one("#shares-view", Static)
        client = self.app.client  # type: ignore[attr-defined]
        if not client.connection.credentials.api_key:
            view.update(
                "Listing shares needs an API key: the API does not take hotkey"
                " signatures there. Set CHUTES_API_KEY to see who this chute is shared with."
            )
            return
        try:
            shares = [s for s in await client.list_shares() if s.chute_id == self.chute.chute_id]  # type: ignore[union-attr]
        except ChutesError as error:
            view.update(Text(f"Cannot list shares: {error.message}", style="yellow"))
            return
        if not shares:
            view.update(
                "Not shared with anyone. Share it with `chutes-tui --no-ui share"
                f" {self.chute.name} USER`."
            )  # type: ignore[union-attr]
            return
        from chutes_tui.tui.remembered import KnownUsers

        users = KnownUsers.load()
        text = Text("Shared with:\n", style="bold")
        for share in shares:
            text.append(f"  {users.name(share.shared_to) or share.shared_to}", style="")
            text.append(f"   since {share.shared_at:%Y-%m-%d %H:%M}\n", style="dim")
        view.update(text)

    def action_live(self) -> None:
        self.app.open_live(self.chute.chute_id if self.chute else self.ref)  # type: ignore[attr-defined]

    def action_copy_id(self) -> None:
        if self.chute is not None:
            self.app.copy_to_clipboard(self.chute.chute_id)
            self.notify(f"Copied chute id {self.chute.chute_id}", timeout=3)
