"""The sandbox ASGI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chutes_tui.sandbox.context import Sandbox
from chutes_tui.sandbox.events import Events
from chutes_tui.sandbox.lifecycle import Simulator
from chutes_tui.sandbox.routes import (
    api_keys,
    build,
    chutes,
    control,
    deploy,
    images,
    invoke,
    live,
    logos,
    secrets,
    usage,
    users,
)
from chutes_tui.sandbox.seed import add_standard_images, add_usage_history, seed
from chutes_tui.sandbox.settings import CATCH_ALL_404, SandboxSettings
from chutes_tui.sandbox.storage import Store

MAX_BODY = 2 * 1024 * 1024
log = logging.getLogger("chutes_tui.sandbox")


TOO_LARGE = "Request body too large"
BUILD_UPLOAD = ("POST", "/images/")


def build_too_large(limit: int) -> str:
    return (
        f"Build upload too large: at most {limit} bytes are accepted (the build context zip"
        " with the form around it); leave large files out of the image's build context"
    )


class BodyLimit:
    """Refuse bodies over MAX_BODY, whether announced by Content-Length or sent chunked;
    `larger` raises the limit for some (method, path) routes, with its own refusal text."""

    def __init__(self, app: ASGIApp, larger: dict[tuple[str, str], tuple[int, str]]) -> None:
        self.app = app
        self.larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, refusal = self.larger.get((scope["method"], scope["path"]), (MAX_BODY, TOO_LARGE))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await JSONResponse({"detail": refusal}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, refusal)
            return message

        await self.app(scope, limited, send)


def open_store(settings: SandboxSettings) -> Store:
    """The database, seeded on first use when the settings ask for it (an older seeded
    database gains the standard images it lacks)."""
    store = Store(settings.db_path)
    if settings.seed and store.is_empty():
        seed(store, stamp=settings.seed_time, extra_chutes=settings.extra_chutes)
    elif settings.seed:
        add_standard_images(store)
    if settings.seed:  # a new database, or one from before the ledger, gains a usage history
        add_usage_history(store, settings.gpu_table, settings.clock.now())
    return store


def create_app(settings: SandboxSettings, events: Events | None = None) -> FastAPI:
    """The API; lifecycle events go to `events` (dropped without one)."""
    events = events or Events()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        sim = Simulator(store, settings, events)
        app.state.store = store
        app.state.sandbox = Sandbox(store, settings, sim)
        events.start()
        sim.resume()
        sim.start()
        try:
            yield
        finally:
            await sim.stop()
            await events.close()
            store.close()

    app = FastAPI(
        title="chutes-tui sandbox",
        description="A local, simulated stand-in for the Chutes API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    upload = settings.max_build_upload
    app.add_middleware(BodyLimit, larger={BUILD_UPLOAD: (upload, build_too_large(upload))})
    app.add_middleware(invoke.ChuteHosts)  # `<slug>.<domain>` calls that chute

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s: %r", request.method, request.url.path, error)
        return JSONResponse({"detail": "Internal sandbox error"}, status_code=500)

    for module in (control, usage, users, build, images, live, invoke, chutes, deploy, logos):
        app.include_router(module.router)
    for module in (api_keys, secrets):
        app.include_router(module.router)
    if settings.older:

        @app.api_route("/{anything:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def catch_all(anything: str) -> JSONResponse:
            """The older server sends every unknown path to a chute look-up that fails."""
            return JSONResponse({"detail": CATCH_ALL_404}, status_code=404)

    return app
