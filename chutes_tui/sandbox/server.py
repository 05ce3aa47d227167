"""Running the sandbox: in the foreground for `sandbox serve`, or in a thread when embedded."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from chutes_tui.sandbox.app import create_app
from chutes_tui.sandbox.events import Events
from chutes_tui.sandbox.settings import SandboxSettings


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only turns on TCP_NODELAY for sockets that say so,
    # and without it every small reply waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class _Server(uvicorn.Server):
    """Hangs up on Socket.IO clients first, so open long-polls do not hold up the exit;
    calls `on_ready` once the app has started and the socket accepts requests."""

    def __init__(
        self,
        config: uvicorn.Config,
        events: Events,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.events = events
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.events.hang_up()
        await super().shutdown(sockets)


def _server(
    settings: SandboxSettings,
    quiet: bool,
    events: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> _Server:
    """The API, behind the Socket.IO `events` channel at `/socket.io/` when `events` is on
    and python-socketio is installed."""
    channel = Events()
    app = create_app(settings, channel)
    config = uvicorn.Config(
        channel.mount(app) if events else app,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        timeout_graceful_shutdown=1,
        lifespan="on",
        ws="auto",  # websockets if installed, else wsproto; Socket.IO falls back to polling
    )
    return _Server(config, channel, on_ready)


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    settings: SandboxSettings,
    sock: socket.socket,
    quiet: bool = False,
    events: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> bool:
    """Serve on a socket from `bind` until interrupted; `events` adds the Socket.IO channel
    when it can. False when the app never started (uvicorn has logged why)."""
    server = _server(settings, quiet, events, on_ready)
    asyncio.run(server.serve(sockets=[sock]))
    return server.started


@dataclass
class RunningSandbox:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(
    settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0, events: bool = True
) -> RunningSandbox:
    """Start a sandbox on a background thread and wait until it accepts requests."""
    sock = bind(host, port)
    server = _server(settings, quiet=True, events=events)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="sandbox", daemon=True
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox failed to start")
        threading.Event().wait(0.01)
    return RunningSandbox(url_for(sock), server, thread)
