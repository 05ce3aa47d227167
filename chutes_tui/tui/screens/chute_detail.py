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

from chutes_tui.client.errors import ChutesError, NotFound
from chutes_tui.client.models import Chute
from chutes_tui.core.formatting import plural
from chutes_tui.tui.access import DashboardAccess
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
    rows: list[tuple[str, str | Text]] = [
        (
            "Status",
            Text(
                f"{'HOT' if chute.hot else 'cold'}, {plural(len(chute.instances), 'instance')}",
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
            f"at most {plural(chute.max_instances or 0, 'instance')},"
            f" threshold {chute.scaling_threshold},"
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


class ChuteDetailScreen(DashboardAccess, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("c", "copy_id", "Copy id", id="detail.copy"),
        Binding("r", "reload", "Reload", id="detail.reload"),
        Binding("l", "live", "Live", id="detail.live"),
        Binding("a", "share", "Share…", id="detail.share"),
        Binding("i", "call", "Call…", id="detail.call"),
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
        try:
            chute = await self.state.client.get_chute(self.ref)
        except ChutesError as error:
            if isinstance(error, NotFound):
                self.state.forget_chute(self.ref)  # if it was remembered, it is gone for good
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
        """A private chute of someone else: shared with the user, so list it from now on."""
        state = self.state
        if state.user_id and not state.owns(chute.user.user_id) and not chute.public:
            state.remembered.remember(chute.chute_id)
            self.dashboard.show_chute(chute.model_dump(mode="json"))

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
        instances.add_columns("INSTANCE", "REGION", "GPU", "ACTIVE", "VERIFIED", "LAST VERIFIED")
        count = chute.node_selector.gpu_count
        unknown = f"{count}× one of {len(chute.supported_gpus)}"  # the API names it elsewhere
        for instance in chute.instances:
            extra = instance.model_extra or {}
            gpu = extra.get("gpu_model_name")
            instances.add_row(
                instance.instance_id,
                instance.region,
                f"{extra.get('gpu_count') or count}× {gpu}" if gpu else unknown,
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
        chute = self.chute
        if chute is None:
            return
        view = self.query_one("#code-view", Static)
        view.update("Loading source…")
        try:
            source = await self.state.client.code(chute.chute_id)
        except ChutesError as error:
            view.update(Text(error.message, style="red"))
            return
        self._code_loaded = True
        view.update(
            Syntax(source, "python", line_numbers=True, word_wrap=False, background_color="default")
        )

    async def _load_shares(self) -> None:
        view = self.query_one("#shares-view", Static)
        chute, state = self.chute, self.state
        if chute is None:
            return
        if not state.owns(chute.user.user_id):
            view.update("Only the owner of a chute can see or change whom it is shared with.")
            return
        if not state.client.connection.credentials.api_key:
            view.update(
                "Listing shares needs an API key: the API does not take hotkey signatures"
                " there. Set CHUTES_API_KEY to see who this chute is shared with."
                "\n\nPress a to share it anyway."
            )
            return
        try:
            shares = [s for s in await state.client.list_shares() if s.chute_id == chute.chute_id]
        except ChutesError as error:
            view.update(Text(f"Cannot list shares: {error.message}\n\nPress a to share it."))
            return
        if not shares:
            view.update("Not shared with anyone. Press a to share it with another user.")
            return
        text = Text("Shared with:\n", style="bold")
        for share in shares:
            text.append(f"  {state.known_users.name(share.shared_to) or share.shared_to}")
            when = f"{share.shared_at:%Y-%m-%d %H:%M}" if share.shared_at else "-"
            text.append(f"   since {when}\n", style="dim")
        text.append("\nPress a to share it with someone else.", style="dim")
        view.update(text)

    def action_share(self) -> None:
        from chutes_tui.tui.screens.shares import start_share

        chute = self.chute
        if chute is None:
            return
        if chute.public:
            self.notify("Public chutes need no sharing.", severity="warning")
        elif not self.state.owns(chute.user.user_id):
            self.notify("Only the owner of a chute can share it.", severity="warning")
        else:
            start_share(self, chute.chute_id)

    def action_call(self) -> None:
        """Call one of the chute's cords (a screen of its own; its requests end with it)."""
        from chutes_tui.tui.screens.call import CallScreen

        if self.chute is None:
            self.notify("The chute is still loading.", severity="warning")
        elif not self.chute.cords:
            self.notify(f"{self.chute.name} has no cords to call.", severity="warning")
        else:
            self.app.push_screen(CallScreen(self.chute))

    def action_live(self) -> None:
        self.dashboard.open_live(self.chute.chute_id if self.chute else self.ref)

    def action_copy_id(self) -> None:
        if self.chute is not None:
            self.app.copy_to_clipboard(self.chute.chute_id)
            self.notify(f"Copied chute id {self.chute.chute_id}", timeout=3)
