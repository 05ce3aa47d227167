"""Shares: who your chutes are shared with, sharing with a live user check, (bulk) unsharing."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from chutes_tui.client.api import is_uuid
from chutes_tui.client.errors import ChutesError
from chutes_tui.core.formatting import plural, short_time
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.rows import ChuteRow, ShareRow
from chutes_tui.tui.screens.resources import ResourceScreen
from chutes_tui.tui.state import DashboardState, Feed
from chutes_tui.tui.widgets.table import Column

if TYPE_CHECKING:
    from chutes_tui.tui.app import ChutesApp

USERNAME_RE = re.compile(r"^[a-zA-Z0-9_-]{3,15}$")


def who_pays(chute: ChuteRow | None, user: str) -> str:
    """The money side of a share, in one paragraph."""
    name = chute.name if chute else "the chute"
    price = chute.usd_hour if chute else None
    rate = f" (about ${price:,.2f} per hour per instance)" if price is not None else ""
    return (
        f"Sharing costs nothing by itself. While {name} has instances running, you, the owner,"
        f" pay their hourly rate{rate}, and {user or 'the other user'} can start them by using"
        f" it. {user + ' pays' if user else 'They pay'} for their own requests, per use."
    )


class ShareScreen(DashboardAccess, ModalScreen[tuple[str, str, str] | None]):
    """Pick one of your private chutes and a user; the user is checked as you type."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="share.cancel")]

    def __init__(self, chutes: list[ChuteRow], selected: str | None = None) -> None:
        super().__init__()
        self.chutes = {row.chute_id: row for row in chutes}
        self.selected = selected if selected in self.chutes else next(iter(self.chutes), None)
        self.user_ok: bool | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Share a chute", id="dialog-title")
            yield Select(
                [(row.name, chute_id) for chute_id, row in self.chutes.items()],
                value=self.selected if self.selected else Select.BLANK,
                allow_blank=False,
                id="share-chute",
            )
            yield Input(placeholder="user name or user id", id="share-user")
            yield Static(" ", id="share-check")
            yield Static(id="share-cost")
            yield Static("[b]enter[/b] continue    [b]esc[/b] cancel", id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#share-user", Input).focus()
        self._explain()

    def _chute(self) -> ChuteRow | None:
        value = self.query_one("#share-chute", Select).value
        return self.chutes.get(value) if isinstance(value, str) else None

    def _explain(self) -> None:
        user = self.query_one("#share-user", Input).value.strip()
        self.query_one("#share-cost", Static).update(who_pays(self._chute(), user))

    @on(Select.Changed, "#share-chute")
    def chute_changed(self) -> None:
        self._explain()

    @on(Input.Changed, "#share-user")
    def user_changed(self, event: Input.Changed) -> None:
        self.user_ok = None
        self._explain()
        self.query_one("#share-check", Static).update(" ")  # no verdict for what was typed before
        self.run_worker(self._check(event.value.strip()), group="user-check", exclusive=True)

    async def _check(self, user: str, pause: float = 0.25) -> None:
        """Check `user` once typing pauses for `pause` seconds; the verdict goes under the input."""
        check = self.query_one("#share-check", Static)
        if not user:
            return
        verdict = self._local_verdict(user)
        if verdict is None:
            await asyncio.sleep(pause)
            check.update(Text("checking…", style="dim"))
            verdict = await self._server_verdict(user)
        self.user_ok, text = verdict
        check.update(text)

    def _local_verdict(self, user: str) -> tuple[bool | None, Text] | None:
        if is_uuid(user):
            return True, Text("a user id: the server checks it when you share", style="dim")
        if user in (self.state.username, self.state.user_id):
            return False, Text("✗ that is you: share with another user", style="red")
        if not USERNAME_RE.match(user):
            return False, Text("✗ not a user name (3-15 letters, digits, _ or -)", style="red")
        return None

    async def _server_verdict(self, user: str) -> tuple[bool | None, Text]:
        try:
            result = await self.state.client.name_check(user)
        except ChutesError as error:
            return None, Text(f"cannot check the name: {error.message}", style="yellow")
        if result.valid and not result.available:
            return True, Text(f"✓ {user} exists", style="green")
        return False, Text(f"✗ no user named {user}", style="red")

    @on(Input.Submitted, "#share-user")
    def submitted(self, event: Input.Submitted) -> None:
        user = event.value.strip()
        if self.user_ok is None and user:  # not checked yet: check now, then decide
            self.run_worker(self._check_then_submit(user), group="user-check", exclusive=True)
        else:
            self._submit(user)

    async def _check_then_submit(self, user: str) -> None:
        await self._check(user, pause=0)
        self._submit(user)

    def _submit(self, user: str) -> None:
        chute = self._chute()
        if chute is None:
            self.notify("You have no private chute to share.", severity="warning")
        elif not user:
            self.notify("Type the user to share with.", severity="warning")
        elif self.user_ok is False:
            self.notify(f"{user} is not a user you can share with.", severity="warning")
        else:  # a verified name, a user id, or a check that could not run: the server decides
            self.dismiss((chute.chute_id, chute.name, user))

    def action_cancel(self) -> None:
        self.dismiss(None)


def start_share(screen: DashboardAccess, selected: str | None = None) -> None:
    """Ask which chute and whom, confirm with the cost spelled out, then share."""
    from chutes_tui.tui.screens.modals import ConfirmScreen

    app = screen.dashboard
    mine = [row for row in screen.state.chutes.rows if not row.shared and not row.public]
    if not mine:
        app.notify("You have no private chute to share.", severity="warning")
        return
    owned = {row.chute_id: row for row in mine}

    def chosen(answer: tuple[str, str, str] | None) -> None:
        if answer is None:
            return
        chute_id, name, user = answer

        def confirmed(yes: bool | None) -> None:
            if yes:
                app.run_worker(_share(app, chute_id, name, user), group="share")

        body = f"Share chute [b]{name}[/b] with [b]{user}[/b]?\n\n{who_pays(owned[chute_id], user)}"
        app.push_screen(ConfirmScreen("Share chute", body), confirmed)

    app.push_screen(ShareScreen(mine, selected), chosen)


async def _share(app: ChutesApp, chute_id: str, name: str, user: str) -> None:
    state: DashboardState = app.state
    before = {row.shared_to for row in state.shares.rows if row.chute_id == chute_id}
    try:
        await state.client.share(chute_id, user)
    except ChutesError as error:
        app.notify(error.message, title=f"Could not share {name}", severity="error", timeout=8)
        return
    app.notify(f"{name} is shared with {user}.", title="Shared", timeout=5)
    if not is_uuid(user):
        try:  # the API reports shares by user id: remember whose id is new
            shares = await state.client.list_shares()
        except ChutesError:
            shares = []
        new = {s.shared_to for s in shares if s.chute_id == chute_id} - before
        if len(new) == 1:
            state.known_users.learn(new.pop(), user)
    app.refresh_feed("shares")


SHARE_COLUMNS: tuple[Column[ShareRow], ...] = (
    Column("mark", "", 1, lambda row: Text("●", style="bold yellow") if row.marked else ""),
    Column(
        "chute",
        "CHUTE",
        20,
        lambda row: Text(row.chute, style="bold"),
        lambda row: row.chute.lower(),
        grow=True,
    ),
    Column("user", "SHARED WITH", 20, lambda row: row.user, grow=True),
    Column("user_id", "USER ID", 36, lambda row: row.shared_to, optional=True),
    Column("at", "SHARED AT", 16, lambda row: short_time(row.shared_at), lambda row: row.shared_at),
)


class SharesScreen(ResourceScreen[ShareRow]):
    kind = "shares"
    noun = "share"
    columns = SHARE_COLUMNS

    BINDINGS = [
        Binding("a", "share", "Share…", id="shares.share"),
        Binding("space", "mark", "Mark", id="shares.mark"),
        Binding("x,delete", "delete", "Unshare", id="shares.unshare"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[str] = set()

    @staticmethod
    def key_of(row: ShareRow) -> str:
        return f"{row.chute_id}/{row.shared_to}"

    def depends_on(self) -> tuple[str, ...]:
        return ("chutes",)

    def on_mount(self) -> None:
        super().on_mount()
        self.table.sort_by(1)  # by chute: the first column only holds marks
        self.dashboard.refresh_feed("shares")

    def compose_side(self) -> ComposeResult:
        with VerticalScroll(id="side"):
            yield Static(id="shared-with-me")

    def table_rows(self) -> list[ShareRow]:
        """Names where chutes-tui knows them (the API gives ids), the id where it does not."""
        state = self.state
        rows = [
            replace(
                row,
                chute=state.chute_name(row.chute_id),
                user=state.known_users.name(row.shared_to) or row.shared_to,
                marked=self.key_of(row) in self.marked,
            )
            for row in self.rows()
        ]
        self.marked &= {self.key_of(row) for row in rows}
        return rows

    def rows_loaded(self) -> None:
        shared = [row for row in self.state.chutes.rows if row.shared]
        text = Text("Shared with you\n", style="bold")
        if shared:
            for row in shared:
                text.append(f"  {row.name}\n", style="cyan")
        else:
            text.append("  none known yet\n", style="dim")
        text.append(
            "\nThe API never lists chutes shared with you. Open one by name (o on the chutes"
            " list) and it is remembered here and in the chutes list.",
            style="dim",
        )
        self.query_one("#shared-with-me", Static).update(text)

    def title_extra(self) -> str:
        return f"   marked: {len(self.marked)} (space)" if self.marked else ""

    def empty_message(self, feed: Feed[ShareRow]) -> str:
        problem = feed.unavailable or feed.error
        if problem and not self.table.row_count:
            return f"{problem}\n\nPress a to share a chute anyway."
        return super().empty_message(feed)

    def nothing_yet(self) -> str:
        return "You have not shared any chute.\n\nPress a to share one with another user."

    def open(self, key: str) -> None:
        from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen

        self.app.push_screen(ChuteDetailScreen(key.split("/", 1)[0]))

    def action_copy_id(self) -> None:
        row = self.selected()
        if row is not None:
            self.app.copy_to_clipboard(row.chute_id)
            self.notify(f"Copied chute id {row.chute_id}", timeout=3)

    def action_share(self) -> None:
        row = self.selected()
        start_share(self, row.chute_id if row else None)

    def action_mark(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        self.marked ^= {key}
        self.load_rows()
        self.table.action_cursor(1)

    def key_escape(self) -> None:
        """esc clears the filter, then the marks."""
        if self.query_one("#filter", Input).has_focus or self.table.filter_text:
            self.action_clear_filter()
        elif self.marked:
            self.marked.clear()
            self.load_rows()

    def ask_delete(self, row: ShareRow) -> None:
        from chutes_tui.tui.screens.modals import ConfirmScreen

        keys = self.marked or {self.key_of(row)}
        rows = [r for r in self.table_rows() if self.key_of(r) in keys]
        lines = "\n".join(f"  {r.chute} ↔ {r.user} ({r.shared_to})" for r in rows)
        body = (
            f"Unshare {plural(len(rows), 'share')}?\n\n{lines}\n\n"
            "They can no longer see or use these chutes."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._unshare(rows), group="unshare")

        self.app.push_screen(ConfirmScreen("Unshare", body, danger=True), answered)

    async def _unshare(self, rows: list[ShareRow]) -> None:
        done = 0
        for row in rows:
            try:
                await self.state.client.unshare(row.chute_id, row.shared_to)
                done += 1
            except ChutesError as error:
                self.notify(error.message, title=f"Could not unshare {row.chute}", severity="error")
        self.marked.clear()
        self.notify(f"Unshared {done} of {plural(len(rows), 'share')}", timeout=4)
        self.dashboard.refresh_feed("shares")
