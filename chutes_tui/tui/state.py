"""The dashboard's session state, with one owner: the app. Screens reach it as `self.state`.

A profile switch builds a new `DashboardState` and retires the old one whole (its client is
closed once the screens that used it are gone); nothing keeps the old client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from chutes_tui.client import limits
from chutes_tui.client.api import ChutesClient
from chutes_tui.tui.call_history import CallHistory
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.remembered import KnownUsers, RememberedChutes
from chutes_tui.tui.rows import ChuteRow, ImageRow, ShareRow
from chutes_tui.tui.session import Session

if TYPE_CHECKING:
    from chutes_tui.client.models import User
    from chutes_tui.core.pricing import GpuTable

RowT = TypeVar("RowT")
Kind = Literal["chutes", "images", "shares"]
KINDS: tuple[Kind, ...] = ("chutes", "images", "shares")
SANDBOX_NOTE = "Sandbox -- "  # how a sandbox's `/users/me` says what it is
ConnectionState = Literal["connecting", "online", "offline, retrying", "account problem"]


@dataclass
class Feed(Generic[RowT]):
    """One list: its rows, when they last arrived, and the last failure."""

    rows: list[RowT] = field(default_factory=list)
    loaded_at: float | None = None
    error: str | None = None
    loading: bool = False
    partial: bool = False  # only the first page of the first load is in
    unavailable: str | None = None  # why this API cannot give this list at all

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    @property
    def stale(self) -> bool:
        """Data is on screen but the latest refresh failed (an unavailable list is not stale)."""
        return self.loaded and self.error is not None and self.unavailable is None

    def age(self, now: float | None = None) -> float:
        return (now or time.time()) - (self.loaded_at or 0)


class DashboardState:
    """Options, connection, client, account, the lists, and what chutes-tui remembers."""

    def __init__(self, session: Session, options: DashboardOptions) -> None:
        self.session = session
        self.options = options
        self.client = ChutesClient(session.connection, **limits.from_environment())
        self.account: User | None = None
        self.connection: ConnectionState = "connecting"
        self.chutes: Feed[ChuteRow] = Feed()
        self.images: Feed[ImageRow] = Feed()
        self.shares: Feed[ShareRow] = Feed()
        self.include_public_images = False
        self.remembered = RememberedChutes.load()
        self.known_users = KnownUsers.load()
        self.calls = CallHistory()  # the call screen's last calls per chute, this session

    def feed(self, kind: Kind) -> Feed[Any]:
        feed: Feed[Any] = getattr(self, kind)
        return feed

    @property
    def feeds(self) -> tuple[Feed[Any], ...]:
        return (self.chutes, self.images, self.shares)

    def stale_age(self) -> float | None:
        """How old the oldest data on screen is, when some refresh failed."""
        ages = [feed.age() for feed in self.feeds if feed.stale]
        return max(ages) if ages else None

    @property
    def user_id(self) -> str | None:
        return self.account.user_id if self.account is not None else None

    @property
    def username(self) -> str | None:
        return self.account.username if self.account else self.session.connection.username

    @property
    def is_sandbox(self) -> bool:
        """The embedded sandbox, or an API that says it is one (`/users/me`)."""
        if self.session.is_sandbox:
            return True
        permissions = self.account.permissions if self.account is not None else []
        return any(note.startswith(SANDBOX_NOTE) for note in permissions)

    def owns(self, owner_id: str | None) -> bool:
        return owner_id is not None and owner_id == self.user_id

    @cached_property
    def gpu_table(self) -> GpuTable:
        """The packaged GPU table: orders GPU names by price in the lists."""
        from chutes_tui.core.pricing import GpuTable

        return GpuTable.load()

    def chute_name(self, chute_id: str) -> str:
        return next((row.name for row in self.chutes.rows if row.chute_id == chute_id), chute_id)

    def forget_chute(self, chute_id: str) -> None:
        """The API says it is gone (404): stop remembering and listing it."""
        self.remembered.forget(chute_id)
        self.chutes.rows = [row for row in self.chutes.rows if row.chute_id != chute_id]

    async def aclose(self) -> None:
        await self.client.aclose()
        self.session.close()
