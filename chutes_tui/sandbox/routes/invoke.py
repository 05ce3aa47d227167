"""Calling a chute: `https://<slug>.<domain>/<path>`, routed by the Host header as the
platform routes it.

A request whose Host starts with a label naming a chute's slug (`demo-hello-world.localhost`,
`demo-hello-world.chutes.ai`; never `api.`) is an invocation of that chute, whatever host the
sandbox listens on: `ChuteHosts` hands it to the handler below, which answers in the
platform's words: 401 without credentials, 404 `No matching chute found!` for a chute the
caller may not use (not theirs, not shared with them, not public), 402 for an empty balance,
404 `No matching cord found!`, 503 when no instance is hot, 429 when every instance is busy,
then the cord's answer (`invocations.py`). A call that succeeds is billed to the caller.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from chutes_tui.client.models import NodeSelector
from chutes_tui.core import pricing
from chutes_tui.sandbox import ledger
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import Sandbox, sandbox
from chutes_tui.sandbox.invocations import Reply, match_cord, plan_reply, stream_error
from chutes_tui.sandbox.lookup import chute_visible
from chutes_tui.sandbox.routes.deploy import FREE_ACCOUNT, has
from chutes_tui.sandbox.storage import ChuteRow, Store, UserRow

router = APIRouter(include_in_schema=False)
PREFIX = "/_invocation"  # where ChuteHosts sends invocations; unreachable without the Host
SLUG = "chutes_tui.slug"
HOST_RE = re.compile(r"^([a-z0-9-]+)\.[a-z0-9-]+")
NOT_ROUTED = ("api", "events")
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
BODY_METHODS = ("POST", "PUT", "PATCH")
NO_CHUTE = "No matching chute found!"
NO_CORD = "No matching cord found!"
OVERLOADED = "infra_overload"


def slug_in(host: str) -> str | None:
    """The chute slug a Host header may name: its first label, when the host has a second."""
    match = HOST_RE.match(host.lower())
    if match is None or match.group(1) in NOT_ROUTED or match.group(1).isdigit():
        return None
    return match.group(1)


class ChuteHosts:
    """Send `<slug>.<anything>` requests for an existing chute to the invocation handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(PREFIX):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            slug = slug_in(host)
            store: Store | None = getattr(scope["app"].state, "store", None)
            if slug and store and store.one("SELECT 1 AS x FROM chutes WHERE slug = ?", slug):
                scope = {
                    **scope,
                    "path": PREFIX + scope["path"],
                    "raw_path": PREFIX.encode() + scope.get("raw_path", scope["path"].encode()),
                    SLUG: slug,
                }
        await self.app(scope, receive, send)


def _price(box: Sandbox, chute: ChuteRow, seconds: float) -> float:
    """A call's GPU time at the chute's hourly price (the price of its cheapest GPU)."""
    try:
        selector = NodeSelector.model_validate(chute["spec"]["node_selector"])
        hourly = pricing.hourly_price(selector, box.settings.gpu_table)
    except (pricing.NoSupportedGpus, KeyError, ValueError):
        return 0.0
    return hourly * seconds / 3600


def _bill(box: Sandbox, chute: ChuteRow, user: UserRow, charged: bool, reply: Reply) -> None:
    """The caller pays for the call; on a private chute a shared user's payment goes to the
    owner, and the owner's own calls cost nothing (their instance hours are billed)."""
    price = _price(box, chute, reply.seconds) if charged else 0.0
    now = box.settings.clock.now()
    with box.store.tx() as db:
        ledger.record(db, user["user_id"], chute["chute_id"], "invocation", price, now, count=1)
        if price and not chute["public"] and chute["user_id"] != user["user_id"]:
            ledger.record(db, chute["user_id"], chute["chute_id"], "credit", -price, now)
        db.execute(
            "UPDATE chutes SET invocation_count = invocation_count + 1 WHERE chute_id = ?",
            (chute["chute_id"],),
        )


def _may_pay(box: Sandbox, chute: ChuteRow, user: UserRow) -> bool:
    """Whether the call is billed; 402 when the one who would pay has nothing left."""
    owner = box.store.user(chute["user_id"])
    if not chute["public"] and owner is not None and box.sim.effective_balance(owner) <= 0:
        raise HTTPException(
            402,
            "Chute unavailable because the creator of this chute"
            f" chute.user_id={chute['user_id']!r} has zero balance.",
        )
    charged = (bool(chute["public"]) or chute["user_id"] != user["user_id"]) and not has(
        user, FREE_ACCOUNT
    )
    balance = box.sim.effective_balance(user)
    if charged and balance <= 0:
        raise HTTPException(
            402,
            {
                "message": f"Quota exceeded and account balance is ${balance}, please pay with"
                f" fiat or send tao to {user['payment_address']}"
            },
        )
    return charged


async def _body(request: Request) -> Any:
    if request.method not in BODY_METHODS:
        return {}
    try:
        return json.loads(await request.body())
    except ValueError as error:
        raise HTTPException(400, f"invalid request JSON payload: {error}") from None


def _wants_stream(body: Any, request: Request) -> bool:
    value = body.get("stream") if isinstance(body, dict) else None
    if value is None:
        value = request.query_params.get("stream", False)
    return value not in (False, None, "", "false", "False", "0", 0)


@router.api_route(PREFIX + "/{path:path}", methods=METHODS)
async def invoke(
    request: Request, path: str, user: UserRow | None = Depends(caller(required=False))
) -> Response:
    slug = request.scope.get(SLUG)
    if slug is None:
        raise HTTPException(404, "Not Found")
    if user is None:
        raise HTTPException(401, "Authentication required.")
    box = sandbox(request)
    chute = box.store.one_as(ChuteRow, "SELECT * FROM chutes WHERE slug = ?", slug)
    if chute is None or not chute_visible(box.store, chute, user):
        raise HTTPException(404, NO_CHUTE)
    charged = _may_pay(box, chute, user)
    body = await _body(request)
    stream = _wants_stream(body, request)
    cord = match_cord(chute["spec"], request.method, f"/{path}", stream)
    if cord is None:
        raise HTTPException(404, NO_CORD)
    stream = stream or bool(cord.get("stream"))
    instances = box.store.instances(chute["chute_id"])
    hot = [row for row in instances if row["active"] and row["verified"]]
    if not hot:
        raise HTTPException(503, f"No instances available (yet) for chute_id={chute['chute_id']!r}")
    clock, traffic, chute_id = box.settings.clock, box.traffic, chute["chute_id"]
    capacity = max(1, int(chute["spec"].get("concurrency") or 1)) * len(hot)
    if traffic.busy(chute_id) >= capacity:
        traffic.limited(chute_id, clock.now())
        raise HTTPException(429, OVERLOADED)
    box.sim.keep_alive(chute)
    reply = plan_reply(dict(chute), cord, body, stream, f"/{path}")
    headers = {"X-Chutes-InvocationID": str(uuid.uuid4())}
    call = traffic.begin(chute_id, clock.now())
    if not reply.stream:
        ok = False
        try:
            await asyncio.sleep(box.settings.real(reply.seconds))
            if reply.error is not None:
                raise HTTPException(500, reply.error)
            _bill(box, chute, user, charged, reply)
            ok = True
        finally:
            traffic.finish(chute_id, call, clock.now(), ok)
        return JSONResponse(reply.body, headers=headers)
    try:  # the platform answers a stream once its first chunk is there
        await asyncio.sleep(box.settings.real(reply.chunks[0][0]))
    except BaseException:
        traffic.finish(chute_id, call, clock.now(), False)
        raise

    async def chunks() -> AsyncIterator[str]:
        ok = False
        try:
            for index, (wait, text) in enumerate(reply.chunks):
                if index:
                    await asyncio.sleep(box.settings.real(wait))
                yield text
            if reply.error is not None:
                yield stream_error(reply.error)
            else:
                _bill(box, chute, user, charged, reply)
                ok = True
        finally:
            traffic.finish(chute_id, call, clock.now(), ok)

    return StreamingResponse(chunks(), media_type=reply.media_type, headers=headers)
