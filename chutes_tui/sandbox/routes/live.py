"""Live endpoints: the warmup stream, quick warmup status, instance log streams."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from json.encoder import encode_basestring_ascii
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import Sandbox, sandbox
from chutes_tui.sandbox.lookup import find_chute
from chutes_tui.sandbox.storage import InstanceRow, UserRow, present

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
WARMUP_CAP = 600.0
COLD_EVERY = 5.0
KEEPALIVE = 1.0


def _hot(instances: list[InstanceRow]) -> list[InstanceRow]:
    return [row for row in instances if row["active"] and row["verified"]]


def _warmup_line(status: str, log: str) -> str:
    return f'data: {{"status": "{status}", "log": "{log}"}}\n\n'


async def _warmup_events(box: Sandbox, chute_id: str) -> AsyncIterator[str]:
    """`cold` every COLD_EVERY and the end after WARMUP_CAP, both on the simulated clock."""
    settings, clock = box.settings, box.settings.clock
    poll = min(0.25, max(0.01, settings.real(0.5)))
    started = last_cold = clock.now()
    yield _warmup_line("cold", "waiting for instances ...")
    while clock.now() - started < settings.real(WARMUP_CAP):
        await asyncio.sleep(poll)
        hot = _hot(box.store.instances(chute_id))
        if hot:
            yield _warmup_line("hot", f"chute is hot, {len(hot)} instances available")
            return
        if clock.now() - last_cold >= settings.real(COLD_EVERY):
            last_cold = clock.now()
            yield _warmup_line("cold", "waiting for instances ...")


@router.get("/chutes/warmup/{ref:path}", response_model=None)
async def warmup(
    request: Request, ref: str, quick: bool = False, user: UserRow = Depends(caller("chutes"))
) -> StreamingResponse | dict[str, Any]:
    box = sandbox(request)
    chute = find_chute(box.store, ref, user)
    if chute is None:
        raise HTTPException(404, "Chute not found, or does not belong to you")
    balance = box.sim.effective_balance(user)
    if balance <= 0:
        raise HTTPException(
            402,
            f"Account balance is ${balance}, please top-up with fiat or send tao to"
            f" {user['payment_address']}",
        )
    box.sim.warm(chute)
    if not quick or box.settings.older:  # the older server ignores `quick`
        return StreamingResponse(
            _warmup_events(box, chute["chute_id"]),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    instances = box.store.instances(chute["chute_id"])
    hot = _hot(instances)
    return {
        "chute_id": chute["chute_id"],
        "status": "hot" if hot else "cold",
        "instance_count": len(hot),
        "bounty": box.sim.bounty(instances) if instances else None,
        "instances": [
            {
                "instance_id": row["instance_id"],
                "active": bool(row["active"]),
                "gpu_count": row["gpu_count"],
                "gpu_model_name": row["gpu_model_name"],
            }
            for row in instances
        ],
    }


def _event(payload: dict[str, str]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


CONNECTED = _event({"event": "connected", "filename": "current"})


def _log_chunk(lines: list[str]) -> str:
    """Log events for many lines in one string, framed exactly as `_event({"log": line})`."""
    return "".join([f'data: {{"log": {encode_basestring_ascii(line)}}}\n\n' for line in lines])


async def _log_events(box: Sandbox, instance_id: str, backfill: int) -> AsyncIterator[str]:
    """History, then whatever is new at each wake as one chunk, `.` when idle.

    Idle keep-alives go out at most once per keep-alive period, however often other
    instances' writes wake the stream; the first comes right after the history. They keep
    the connection alive, so they follow real time even while the simulated clock is paused.
    """
    logs = box.sim.logs
    logs.attach(instance_id)
    try:
        yield CONNECTED
        lines, position = logs.tail(instance_id, backfill)
        if lines:
            yield _log_chunk(lines)
        keepalive = min(KEEPALIVE, max(0.05, box.settings.real(KEEPALIVE)))
        last_keepalive = -math.inf
        while True:
            seen = logs.version()
            lines, position = logs.after(instance_id, position)
            if lines:
                yield _log_chunk(lines)
            if logs.closed(instance_id):
                return
            if not lines and time.monotonic() - last_keepalive >= keepalive * 0.9:
                last_keepalive = time.monotonic()
                yield ".\n\n"
            await logs.wait(keepalive, seen)
    finally:
        logs.detach(instance_id)


async def _logs_caller(request: Request) -> UserRow:
    """The older server checks instance-log callers without a purpose: hotkeys cannot sign."""
    return await caller(None if sandbox(request).settings.older else "logs")(request)


@router.get("/instances/{instance_id}/logs")
async def instance_logs(
    request: Request,
    instance_id: str,
    backfill: int = 100,
    user: UserRow = Depends(_logs_caller),
) -> StreamingResponse:
    box = sandbox(request)
    instance = box.store.instance(instance_id)
    if instance is None:
        raise HTTPException(404, "Instance not found.")
    if not 0 <= backfill <= 10000:
        raise HTTPException(400, "`backfill` must be between 0 and 10000 (lines of logs)")
    chute = present(box.store.chute(instance["chute_id"]), f"chute {instance['chute_id']}")
    allowed = chute["user_id"] == user["user_id"] or box.store.shared_with(
        chute["chute_id"], user["user_id"]
    )
    if chute["public"] or not allowed:
        raise HTTPException(403, "You may only view logs for your own (private) chutes.")
    return StreamingResponse(
        _log_events(box, instance_id, backfill),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
