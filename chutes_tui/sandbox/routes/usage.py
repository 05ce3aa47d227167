"""Spend and traffic: `/invocations/usage`, `/users/me/usage`, `/chutes/utilization`, and the
sandbox's own `/_sandbox/ledger` (the platform keeps fees, calls and hours in one sum).

Every read settles the running instances first, so what it shows has accrued up to now.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from chutes_tui.sandbox import ledger
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, Sandbox, sandbox
from chutes_tui.sandbox.invocations import WINDOWS
from chutes_tui.sandbox.storage import UserRow, now_iso

router = APIRouter()
MAX_DAYS = 366


def _json(data: Any) -> Response:
    """Long lists of plain values, serialised at once (FastAPI's encoder walks every item)."""
    return Response(json.dumps(data, separators=(",", ":")), media_type="application/json")


def _settled(request: Request) -> Sandbox:
    box = sandbox(request)
    box.sim.settle()
    return box


@router.get("/invocations/usage")
async def invocation_usage(request: Request) -> Response:
    """Every chute's amounts and calls per day for the last 11 days (no auth: the platform
    publishes it)."""
    box = _settled(request)
    return _json(ledger.usage_by_chute_day(box.store, box.settings.clock.now()))


@router.get("/users/me/usage")
async def my_usage(
    request: Request,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    limit: int = Query(24, ge=0, le=MAX_LIMIT),
    per_chute: bool = False,
    chute_id: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    user: UserRow = Depends(caller()),
) -> Response:
    """What the caller was billed per hour (per chute with `per_chute`)."""
    box = _settled(request)
    page_of_usage = ledger.user_usage(
        box.store,
        user["user_id"],
        page=page,
        limit=limit,
        per_chute=per_chute,
        chute_id=chute_id,
        start=start_date.timestamp() if start_date else None,
        end=end_date.timestamp() if end_date else None,
    )
    return _json(page_of_usage)


@router.get("/_sandbox/ledger", include_in_schema=False)
async def my_ledger(
    request: Request,
    days: int = Query(ledger.USAGE_DAYS, ge=1, le=MAX_DAYS),
    kind: ledger.Kind | None = None,
    user: UserRow = Depends(caller("me")),
) -> Response:
    """The caller's ledger by kind (fee, instance, invocation, credit) for the last `days`,
    or only one `kind`."""
    box = _settled(request)
    since = box.settings.clock.now() - days * ledger.DAY
    return _json(ledger.entries(box.store, user["user_id"], since, kind))


@router.get("/chutes/utilization")
async def utilization(request: Request) -> list[dict[str, Any]]:
    """The platform's capacity view: one row per chute with instances or recent calls;
    private chutes are named `[private chute]`."""
    box = sandbox(request)
    now = box.settings.clock.now()
    traffic = box.traffic
    spans = {name: box.settings.real(seconds) for name, seconds in WINDOWS.items()}
    traffic.prune(now - spans["1h"])
    called = traffic.chute_ids()
    marks = ",".join("?" * len(called)) or "NULL"
    rows = box.store.all(
        "SELECT c.chute_id, c.name, c.public, json_extract(c.spec, '$.concurrency') AS concurrency,"
        " COUNT(i.instance_id) AS total, COALESCE(SUM(i.active AND i.verified), 0) AS routable"
        " FROM chutes c LEFT JOIN instances i ON i.chute_id = c.chute_id"
        f" GROUP BY c.chute_id HAVING total > 0 OR c.chute_id IN ({marks})",
        *called,
    )
    stamp = now_iso()
    items = []
    for row in rows:
        capacity = max(1, int(row["concurrency"] or 1)) * int(row["routable"])
        figures = traffic.figures(row["chute_id"], now, spans, capacity)
        total = int(row["total"])
        item: dict[str, Any] = {
            "chute_id": row["chute_id"],
            "timestamp": stamp,
            **figures,
            "instance_count": total,
            "action_taken": "no_action",
            "target_count": total,
            "name": row["name"] if row["public"] else "[private chute]",
            "update_in_progress": False,
            "total_instance_count": total,
            "active_instance_count": int(row["routable"]),
        }
        item.update(
            scalable=False,
            scale_allowance=0,
            avg_busy_ratio=item["utilization_1h"],
            total_invocations=item["total_requests_1h"],
            total_rate_limit_errors=item["rate_limited_requests_1h"],
        )
        items.append(item)
    items.sort(key=lambda item: item["total_requests_1h"], reverse=True)
    return items
