"""Users, shares listing, pricing and the GPU table."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from chutes_tui.client.models import Share
from chutes_tui.core import pricing
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import sandbox
from chutes_tui.sandbox.settings import CATCH_ALL_404
from chutes_tui.sandbox.storage import ShareRow, UserRow

router = APIRouter()
USERNAME_RE = re.compile(r"^[a-zA-Z0-9_-]{3,15}$")


@router.get("/users/me")
async def me(request: Request, user: UserRow = Depends(caller("me"))) -> dict[str, Any]:
    box = sandbox(request)
    return box.renderer().me(user, box.sim.effective_balance(user))


@router.get("/users/name_check")
async def name_check(request: Request, username: str) -> dict[str, bool]:
    valid = bool(USERNAME_RE.match(username))
    taken = valid and sandbox(request).store.find_user(username) is not None
    return {"valid": valid, "available": valid and not taken}


@router.get("/users/{user_id}/shares")
async def shares(
    request: Request, user_id: str, user: UserRow = Depends(caller())
) -> list[dict[str, Any]]:
    if sandbox(request).settings.older:  # no such route: the catch-all answers
        raise HTTPException(404, CATCH_ALL_404)
    if user_id not in ("me", user["user_id"]):
        raise HTTPException(403, "This action can only be performed by billing admin accounts.")
    rows = sandbox(request).store.all_as(
        ShareRow,
        "SELECT chute_id, shared_by, shared_to, shared_at FROM shares WHERE shared_by = ?"
        " ORDER BY shared_at DESC",
        user["user_id"],
    )
    return [Share.model_validate(row).model_dump(mode="json") for row in rows]


@router.get("/pricing")
async def prices(request: Request) -> dict[str, Any]:
    settings = sandbox(request).settings
    unit = settings.gpu_table.max_rate
    return {
        "tao_usd": settings.tao_usd,
        "compute_unit_estimate": {
            "usd": unit,
            "tao": unit / settings.tao_usd,
            "description": "One compute unit is one hour of the most expensive GPU.",
        },
        "gpu_price_estimates": pricing.gpu_price_estimates(settings.gpu_table, settings.tao_usd),
    }


@router.get("/nodes/supported")
async def supported(request: Request) -> dict[str, Any]:
    return sandbox(request).settings.gpu_table.raw()
