"""The sandbox ASGI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware

from chutes_tui.sandbox.context import Sandbox
from chutes_tui.sandbox.lifecycle import Simulator
from chutes_tui.sandbox.routes import chutes, deploy, images, live, users
from chutes_tui.sandbox.seed import seed
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import Store

MAX_BODY = 2 * 1024 * 1024
log = logging.getLogger("chutes_tui.sandbox")


class BodyLimit(BaseHTTPMiddleware):
    """Refuse oversized bodies before anything reads them."""

    async def dispatch(self, request: Request, call_next):
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            return JSONResponse({"detail": "Request body too large"}, status_code=413)
        return await call_next(request)


def open_store(settings: SandboxSettings) -> Store:
    """The database, seeded on first use when the settings ask for it."""
    store = Store(settings.db_path)
    if settings.seed and store.is_empty():
        seed(store)
    return store


def create_app(settings: SandboxSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        sim = Simulator(store, settings)
        app.state.store = store
        app.state.sandbox = Sandbox(store, settings, sim)
        sim.resume()
        sim.start()
        try:
            yield
        finally:
            await sim.stop()
            store.close()

    app = FastAPI(
        title="chutes-tui sandbox",
        description="A local, simulated stand-in for the Chutes API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodyLimit)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s: %r", request.method, request.url.path, error)
        return JSONResponse({"detail": "Internal sandbox error"}, status_code=500)

    for module in (users, images, live, chutes, deploy):
        app.include_router(module.router)
    return app
