"""`/_sandbox/clock` reads, pauses, resumes and advances the simulated clock;
`/_sandbox/credentials` hands a seeded user's keys to `chutes-tui sandbox config --url`.

Not part of the Chutes API: controls for tests, benchmarks and the sandbox's own command
line, answered only to clients on this machine (the credentials hold secrets).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, field_validator

from chutes_tui.sandbox.context import parse_body, sandbox
from chutes_tui.sandbox.seed import credentials

router = APIRouter(prefix="/_sandbox", include_in_schema=False)


class ClockChange(BaseModel):
    """`advance` moves the clock on (simulated seconds); `pause` stops or restarts it."""

    pause: bool | None = None
    advance: float | None = None

    @field_validator("advance")
    @classmethod
    def _forward(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError("advance by a finite, non-negative number of simulated seconds")
        return value


CLOCK_REFUSAL = "The sandbox clock is controlled from this machine only."
CREDENTIALS_REFUSAL = "The sandbox hands out credentials to this machine only."


def _loopback_only(request: Request, refusal: str = CLOCK_REFUSAL) -> None:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    mapped = getattr(address, "ipv4_mapped", None)
    if address is None or not (mapped or address).is_loopback:
        raise HTTPException(403, refusal)


@router.get("/clock")
async def read_clock(request: Request) -> dict[str, Any]:
    _loopback_only(request)
    return sandbox(request).settings.clock.state()


@router.post("/clock")
async def change_clock(request: Request) -> dict[str, Any]:
    _loopback_only(request)
    change = await parse_body(request, ClockChange)
    clock = sandbox(request).settings.clock
    if change.advance:  # first: a refused advance leaves the clock as it was
        try:
            clock.advance(change.advance)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
    if change.pause is True:
        clock.pause()
    elif change.pause is False:
        clock.resume()
    return clock.state()


@router.get("/credentials")
async def read_credentials(request: Request, user: str = "demo") -> dict[str, str]:
    """A user's derived credentials, and the database they come from (absolute, or
    `:memory:`), so `sandbox config --url` prints keys that open this sandbox."""
    _loopback_only(request, CREDENTIALS_REFUSAL)
    box = sandbox(request)
    found = box.store.find_user(user)
    if found is None:
        raise HTTPException(404, f"No sandbox user {user!r}.")
    path = box.store.path
    database = path if path == ":memory:" else str(Path(path).resolve())
    return {"database": database, **asdict(credentials(box.store, found["username"]))}
