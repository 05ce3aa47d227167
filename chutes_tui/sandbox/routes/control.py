"""`/_sandbox/clock`: read, pause, resume and advance the simulated clock.

Not part of the Chutes API: a control for tests and benchmarks, answered only to clients
on this machine.
"""

from __future__ import annotations

import ipaddress
import math

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, field_validator

from chutes_tui.sandbox.context import parse_body, sandbox

router = APIRouter(prefix="/_sandbox", include_in_schema=False)


class ClockChange(BaseModel):
    """`pause` stops or restarts the clock, then `advance` moves it on (simulated seconds)."""

    pause: bool | None = None
    advance: float | None = None

    @field_validator("advance")
    @classmethod
    def _forward(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError("advance by a finite, non-negative number of simulated seconds")
        return value


def _loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    mapped = getattr(address, "ipv4_mapped", None)
    if address is None or not (mapped or address).is_loopback:
        raise HTTPException(403, "The sandbox clock is controlled from this machine only.")


@router.get("/clock")
async def read_clock(request: Request) -> dict:
    _loopback_only(request)
    return sandbox(request).settings.clock.state()


@router.post("/clock")
async def change_clock(request: Request) -> dict:
    _loopback_only(request)
    change = await parse_body(request, ClockChange)
    clock = sandbox(request).settings.clock
    if change.pause is True:
        clock.pause()
    elif change.pause is False:
        clock.resume()
    if change.advance:
        clock.advance(change.advance)
    return clock.state()
