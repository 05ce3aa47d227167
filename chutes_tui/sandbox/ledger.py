"""What the sandbox bills, kept the way the platform keeps its usage: amounts per user, chute
and hour.

Every balance change the simulation makes is written here in the same transaction, so a
user's balance moves by exactly what their ledger says. Kinds:

    fee         a deployment fee (the balance was taken by the deploy's own conditional update)
    instance    hours of a private chute's instances at their GPU rate, billed to the owner as
                they accrue (split at hour boundaries)
    invocation  a call, billed to the caller; `count` counts the calls (a chute's owner calling
                their own private chute pays nothing per call: the instance hours cover it)
    credit      what a shared user paid for a call, given back to the private chute's owner
                (a negative amount)

Hours are on the sandbox clock (epoch seconds). Rows of deleted chutes stay, as on the
platform. `/invocations/usage` sums every user's rows per chute and day;
`/users/me/usage` shows one user's rows per hour; `/_sandbox/ledger` shows them by kind.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from chutes_tui.sandbox.storage import Store

Kind = Literal["fee", "instance", "invocation", "credit"]
KINDS: tuple[Kind, ...] = ("fee", "instance", "invocation", "credit")
HOUR = 3600.0
DAY = 86400.0
USAGE_DAYS = 11  # `/invocations/usage` covers the last 11 days, as the platform's does
SEEDED_CALL_SECONDS = 1.5  # GPU time of one call in the seeded history


class LedgerRow(TypedDict):
    user_id: str
    chute_id: str
    kind: str
    bucket: float
    amount: float
    count: int


def hour_of(at: float) -> float:
    return at - at % HOUR


def iso_hour(bucket: float) -> str:
    """An hour as the platform writes `usage_data.bucket`: ISO 8601 with the UTC offset."""
    return datetime.fromtimestamp(bucket, UTC).isoformat()


def date_of(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def record(
    db: sqlite3.Connection,
    user_id: str,
    chute_id: str,
    kind: Kind,
    amount: float,
    at: float,
    count: int = 0,
    *,
    charge: bool = True,
) -> None:
    """Note `amount` (and `count` calls) in the hour of `at`; with `charge`, take it from the
    user's balance too (a negative amount gives it)."""
    if charge and amount:
        db.execute("UPDATE users SET balance = balance - ? WHERE user_id = ?", (amount, user_id))
    db.execute(
        "INSERT INTO ledger (user_id, chute_id, kind, bucket, amount, count)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT(user_id, chute_id, kind, bucket) DO UPDATE SET"
        " amount = amount + excluded.amount, count = count + excluded.count",
        (user_id, chute_id, kind, hour_of(at), amount, count),
    )


def accrue(
    db: sqlite3.Connection,
    user_id: str,
    chute_id: str,
    start: float,
    end: float,
    per_second: float,
) -> float:
    """Bill `per_second` (USD per clock second) from `start` to `end`, hour by hour, to the
    user; returns the total taken."""
    total = 0.0
    at = start
    while at < end:
        until = min(end, hour_of(at) + HOUR)
        amount = (until - at) * per_second
        if amount:
            record(db, user_id, chute_id, "instance", amount, at)
            total += amount
        at = until
    return total


# --- reading it ----------------------------------------------------------------------------


def usage_by_chute_day(store: Store, now: float) -> list[dict[str, Any]]:
    """`GET /invocations/usage`: every user's amounts and calls per chute and day over the
    last 11 days, newest day first, then the largest amount."""
    rows = store.tuples(
        "SELECT chute_id, date(bucket, 'unixepoch') AS day, SUM(amount) AS spent, SUM(count)"
        " FROM ledger WHERE bucket >= ? GROUP BY chute_id, day ORDER BY day DESC, spent DESC",
        now - USAGE_DAYS * DAY,
    )
    return [
        {"chute_id": chute, "date": day, "usd_amount": spent, "invocation_count": calls}
        for chute, day, spent, calls in rows
    ]


def user_usage(
    store: Store,
    user_id: str,
    *,
    page: int,
    limit: int,
    per_chute: bool,
    chute_id: str | None,
    start: float | None,
    end: float | None,
) -> dict[str, Any]:
    """`GET /users/me/usage`: one user's amounts and calls per hour (per chute with
    `per_chute`), newest first, paged as the platform pages it."""
    where, args = ["user_id = ?"], [user_id]
    for clause, value in (("chute_id = ?", chute_id), ("bucket >= ?", start), ("bucket <= ?", end)):
        if value is not None:
            where.append(clause)
            args.append(value)  # type: ignore[arg-type]
    clause = " AND ".join(where)
    keys = "bucket, chute_id" if per_chute else "bucket"
    rows = store.tuples(
        f"SELECT bucket, {'chute_id' if per_chute else 'NULL'}, SUM(amount), SUM(count)"
        f" FROM ledger WHERE {clause} GROUP BY {keys} ORDER BY bucket DESC, SUM(amount) DESC"
        " LIMIT ? OFFSET ?",
        *args,
        limit,
        page * limit,
    )
    if page == 0 and len(rows) < limit:
        total = len(rows)  # all of them: no need to count again
    else:
        total = store.count(
            f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM ledger WHERE {clause} GROUP BY {keys})",
            *args,
        )
    hours: dict[Any, str] = {}
    items = []
    for bucket, chute, amount, count in rows:
        if bucket not in hours:
            hours[bucket] = iso_hour(float(bucket))  # type: ignore[arg-type]
        item: dict[str, Any] = {"bucket": hours[bucket]}
        if per_chute:
            item["chute_id"] = chute
        item["amount"], item["count"] = amount, count
        items.append(item)
    return {"total": total, "page": page, "limit": limit, "items": items}


def entries(
    store: Store, user_id: str, since: float, kind: str | None = None
) -> list[dict[str, Any]]:
    """One user's ledger rows by kind (or of one kind) from `since` on (sandbox only: the
    platform keeps fees, calls and instance hours in one sum)."""
    rows = store.all(
        "SELECT chute_id, kind, bucket, amount, count FROM ledger"
        " WHERE user_id = ? AND bucket >= ? AND (? IS NULL OR kind = ?)"
        " ORDER BY bucket DESC, kind, chute_id",
        user_id,
        hour_of(since),
        kind,
        kind,
    )
    return [
        {
            "bucket": iso_hour(row["bucket"]),
            "chute_id": row["chute_id"],
            "kind": row["kind"],
            "amount": float(row["amount"]),
            "count": int(row["count"]),
        }
        for row in rows
    ]


# --- a history for the seeded chutes --------------------------------------------------------


def seed_history(
    store: Store,
    now: float,
    owner_id: str,
    chutes: dict[str, tuple[str, float]],
    shared_user_id: str,
    shared: str,
) -> None:
    """Eleven days of plausible use of the demo chutes (`name -> (chute_id, hourly rate)`),
    before `now`: instance hours and the owner's own calls, and the calls of the user a
    chute is shared with (paid by them, credited to the owner).

    History only: the seeded balances are what is left after it, so they do not change.
    Seeded by the chute names, so every database gets the same history.
    """
    today = now - now % DAY
    with store.tx() as db:
        for name, (chute_id, rate) in chutes.items():
            rng = random.Random(f"usage:{name}")
            busy = {"hello-world": (8, 20), "echo-stream": (2, 9)}.get(name, (0, 3))
            for back in range(USAGE_DAYS - 1, -1, -1):
                day = today - back * DAY
                hours = rng.randint(*busy)
                calls = rng.randint(40, 420) if busy[0] else rng.randint(0, 12)
                guest = rng.randint(10, 140) if name == shared else 0
                length = min(DAY, now - day)  # today: only the part already gone
                for slot, share in ((9, 0.3), (14, 0.45), (20, 0.25)):
                    at = day + slot * length / 24
                    own, theirs = round(calls * share), round(guest * share)
                    if hours:
                        cost = rate * hours * share
                        record(db, owner_id, chute_id, "instance", cost, at, charge=False)
                    record(db, owner_id, chute_id, "invocation", 0.0, at, own, charge=False)
                    if theirs:
                        paid = rate * SEEDED_CALL_SECONDS / HOUR * theirs
                        record(
                            db,
                            shared_user_id,
                            chute_id,
                            "invocation",
                            paid,
                            at,
                            theirs,
                            charge=False,
                        )
                        record(db, owner_id, chute_id, "credit", -paid, at, charge=False)
