"""What the account spends, for the Spend tab and `usage` alike: burn now, balance, runway,
deployment fees, your spend per chute per day, and the traffic on your chutes.

Burn now is the hourly rate of every routable instance of your private chutes, priced by the
live view's own code (`LiveChute.hourly_now`); public chutes' instances are not billed to
their owner. Spend per day is what `/users/me/usage` says you were billed (instance hours,
fees, your calls, minus what shared users paid for theirs), so over any span it adds up to
how far your balance moved. Deployment fees come from the sandbox's ledger: the platform
sums them with everything else, so against it they are unknown (`fees` is None).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from chutes_tui.client.errors import ChutesError, NotFound

if TYPE_CHECKING:
    from chutes_tui.client.api import ChutesClient
    from chutes_tui.client.models import ChuteUtilization, InvocationUsage
    from chutes_tui.core.pricing import GpuTable

DEFAULT_DAYS = 11  # what the platform's `/invocations/usage` covers
MAX_DAYS = 90
PAGE = 500
NAME_LOOKUPS = 20  # chutes not in your list (shared with you, deleted) looked up by id


# --- the figures ---------------------------------------------------------------------------


def routable_instances(chute: dict[str, Any]) -> int:
    """Active instances not known to be unverified: the ones that take calls and bill."""
    return sum(
        1
        for instance in chute.get("instances") or ()
        if instance.get("active") and instance.get("verified") is not False
    )


def burn_now(chutes: Iterable[dict[str, Any]], table: GpuTable | None = None) -> float | None:
    """USD per hour of every routable instance of your private chutes (the API's JSON), as the
    live view prices them; None when some rate is unknown."""
    from chutes_tui.client.models import Chute
    from chutes_tui.core.live import LiveChute

    total = 0.0
    for raw in chutes:
        if raw.get("public") or not routable_instances(raw):
            continue  # nothing billed: no need to build its model
        hourly = LiveChute(Chute.model_validate(raw)).hourly_now(table)
        if hourly is None:
            return None
        total += hourly
    return total


def runway_hours(balance: float | None, burn: float | None) -> float | None:
    """How long the balance lasts at this burn; None when nothing burns (or it is unknown)."""
    if balance is None or not burn or burn <= 0:
        return None
    return max(0.0, balance) / burn


def runway_text(hours: float | None, burn: float | None = None) -> str:
    """`3 d 4 h`, `5 h 20 min`, `45 min`; `no burn` when nothing runs."""
    if hours is None:
        return "unknown" if burn is None else "no burn"
    minutes = int(hours * 60)
    if minutes < 1:
        return "used up" if hours <= 0 else "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    whole_hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {whole_hours} h"
    if whole_hours:
        return f"{whole_hours} h {mins} min"
    return f"{mins} min"


def window(days: int, today: date | None = None) -> tuple[date, ...]:
    """The last `days` UTC dates, oldest first, today last."""
    today = today or datetime.now(UTC).date()
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChuteSpend:
    """One chute's spend and your calls per day of the window (oldest first)."""

    chute_id: str
    name: str
    amounts: tuple[float, ...]
    calls: tuple[int, ...]

    @property
    def total(self) -> float:
        return sum(self.amounts)

    @property
    def total_calls(self) -> int:
        return sum(self.calls)


@dataclass(frozen=True)
class ChuteTraffic:
    """Calls to one of your chutes by everyone (per day), and how busy it is now."""

    calls: tuple[int, ...] = ()
    requests_1h: int | None = None
    limited_1h: int | None = None
    utilization: float | None = None  # 0..1, now
    instances: int | None = None


@dataclass(frozen=True)
class SpendReport:
    days: tuple[date, ...]
    chutes: tuple[ChuteSpend, ...]  # the dearest first
    balance: float | None
    burn: float | None  # USD per hour now
    fees: float | None  # deployment fees in the window; None when the API cannot say
    traffic: dict[str, ChuteTraffic] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what could not be read, in words

    @property
    def runway(self) -> float | None:
        return runway_hours(self.balance, self.burn)

    @property
    def total(self) -> float:
        return sum(chute.total for chute in self.chutes)

    def per_day(self) -> tuple[float, ...]:
        return tuple(
            sum(chute.amounts[index] for chute in self.chutes) for index in range(len(self.days))
        )

    def rows(self) -> list[dict[str, Any]]:
        """One row per day and chute with spend or calls, newest day first, dearest first."""
        rows = [
            {
                "date": day.isoformat(),
                "chute": chute.name,
                "chute_id": chute.chute_id,
                "usd_amount": round(chute.amounts[index], 6),
                "invocation_count": chute.calls[index],
            }
            for index, day in enumerate(self.days)
            for chute in self.chutes
            if chute.amounts[index] or chute.calls[index]
        ]
        rows.sort(key=lambda row: (row["date"], row["usd_amount"]), reverse=True)
        return rows

    def summary(self) -> dict[str, Any]:
        """The account's figures as one JSON-ready record."""
        return {
            "from": self.days[0].isoformat(),
            "to": self.days[-1].isoformat(),
            "days": len(self.days),
            "total_usd": round(self.total, 6),
            "balance_usd": self.balance,
            "burn_usd_per_hour": None if self.burn is None else round(self.burn, 6),
            "runway_hours": None if self.runway is None else round(self.runway, 2),
            "runway": runway_text(self.runway, self.burn),
            "deploy_fees_usd": None if self.fees is None else round(self.fees, 6),
        }


def spend_per_chute(
    buckets: Iterable[Any], days: tuple[date, ...], names: dict[str, str]
) -> tuple[ChuteSpend, ...]:
    """Hourly billing rows (`UsageBucket`s) summed per chute and UTC day of the window."""
    index = {day: position for position, day in enumerate(days)}
    amounts: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(days))
    calls: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for bucket in buckets:
        position = index.get(bucket.bucket.astimezone(UTC).date())
        if position is None or bucket.chute_id is None:
            continue
        amounts[bucket.chute_id][position] += bucket.amount
        calls[bucket.chute_id][position] += bucket.count
    spent = [
        ChuteSpend(
            chute_id,
            names.get(chute_id, chute_id[:8]),
            tuple(amounts[chute_id]),
            tuple(calls[chute_id]),
        )
        for chute_id in amounts
    ]
    spent.sort(key=lambda chute: (-chute.total, chute.name))
    return tuple(spent)


@dataclass(frozen=True)
class Burn:
    """The quick half of the figures: balance and burn now, and your chutes (raw JSON)."""

    balance: float | None
    burn: float | None
    chutes: tuple[dict[str, Any], ...]

    @property
    def runway(self) -> float | None:
        return runway_hours(self.balance, self.burn)


async def load_burn(client: ChutesClient, table: GpuTable | None = None) -> Burn:
    """Balance and burn now: two reads, so a screen can show them before the rest."""
    me, chutes = await asyncio.gather(
        client.me(), client.all_pages(client.list_chutes, limit=PAGE, raw=True)
    )
    return Burn(me.balance, burn_now(chutes, table), tuple(chutes))


async def load_spend(
    client: ChutesClient,
    days: int = DEFAULT_DAYS,
    chute: str | None = None,
    table: GpuTable | None = None,
    strict: bool = True,
    burn: Burn | None = None,
) -> SpendReport:
    """Everything the Spend tab and `usage` show, read at once (`burn`, when already read,
    is not read again). Fees and traffic are optional, and so is your usage unless
    `strict`: what cannot be read is said in `notes`."""
    span = window(days)
    start = datetime.combine(span[0], time(), UTC)
    chute_id = await client.chute_id(chute) if chute else None
    notes: list[str] = []

    async def usage() -> list[Any]:
        try:
            return await client.my_usage(start, chute_id)
        except ChutesError as error:
            if strict:
                raise
            notes.append(f"spend per day: {error.message}")
            return []

    async def quick() -> Burn:
        return burn if burn is not None else await load_burn(client, table)

    now, buckets, fees, (usage_rows, busy) = await asyncio.gather(
        quick(),
        usage(),
        _fees(client, days + 1, span[0], chute_id, notes),
        _traffic_rows(client, notes),
    )
    names = {raw["chute_id"]: raw["name"] for raw in now.chutes}
    await _name_others(client, {b.chute_id for b in buckets if b.chute_id} - set(names), names)
    traffic = _traffic(usage_rows, busy, set(names), span)
    return SpendReport(
        days=span,
        chutes=spend_per_chute(buckets, span, names),
        balance=now.balance,
        burn=now.burn,
        fees=fees,
        traffic=traffic,
        notes=tuple(notes),
    )


async def _name_others(client: ChutesClient, unknown: set[str], names: dict[str, str]) -> None:
    """Names of chutes you spent on that are not yours (shared with you) or are gone."""
    for chute_id in sorted(unknown)[:NAME_LOOKUPS]:
        try:
            names[chute_id] = (await client.get_chute(chute_id, raw=True))["name"]
        except NotFound:
            names[chute_id] = f"(deleted) {chute_id[:8]}"
        except ChutesError:
            continue


async def _fees(
    client: ChutesClient, days: int, first: date, chute_id: str | None, notes: list[str]
) -> float | None:
    try:
        entries = await client.ledger(days, kind="fee")
    except ChutesError as error:  # Unsupported on the platform: it has no such figure
        notes.append(f"fees: {error.message}")
        return None
    return sum(
        (
            entry.amount
            for entry in entries
            if entry.kind == "fee"
            and entry.bucket.astimezone(UTC).date() >= first
            and (chute_id is None or entry.chute_id == chute_id)
        ),
        0.0,
    )


async def _traffic_rows(
    client: ChutesClient, notes: list[str]
) -> tuple[list[InvocationUsage], list[ChuteUtilization]]:
    try:
        usage, busy = await asyncio.gather(client.invocation_usage(), client.utilization())
    except ChutesError as error:
        notes.append(f"traffic: {error.message}")
        return [], []
    return usage, busy


def _traffic(
    usage: list[InvocationUsage],
    busy: list[ChuteUtilization],
    own: set[str],
    span: tuple[date, ...],
) -> dict[str, ChuteTraffic]:
    """Calls to your chutes per day (all callers) and their utilisation now."""
    index = {day.isoformat(): position for position, day in enumerate(span)}
    calls: dict[str, list[int]] = defaultdict(lambda: [0] * len(span))
    for row in usage:
        position = index.get(row.date)
        if row.chute_id in own and position is not None:
            calls[row.chute_id][position] += row.invocation_count
    now = {row.chute_id: row for row in busy if row.chute_id in own}
    return {
        chute_id: ChuteTraffic(
            calls=tuple(calls[chute_id]) if chute_id in calls else (0,) * len(span),
            requests_1h=now[chute_id].total_requests_1h if chute_id in now else None,
            limited_1h=now[chute_id].rate_limited_requests_1h if chute_id in now else None,
            utilization=now[chute_id].utilization_current if chute_id in now else None,
            instances=now[chute_id].total_instance_count if chute_id in now else None,
        )
        for chute_id in own
        if chute_id in calls or chute_id in now
    }
