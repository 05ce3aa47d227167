"""Running the sandbox: in the foreground for `sandbox serve`, or in a thread when embedded."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

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


HEAD_TIMEOUT = 10.0  # seconds a client may take to send a request's line and headers
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
MAX_HEAD_BYTES = 64 * 1024  # a request line and headers larger than this are a 400


class _H11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for the request head: uvicorn has none, so a
    client that sends half a request line would otherwise hold its connection forever."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._between_requests():
            self._await_head()  # a partial head: the deadline set when it began still holds
        else:
            self._head_arrived()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._head_arrived()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _await_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_overdue)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()


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
        http=_H11Protocol,
        timeout_keep_alive=KEEP_ALIVE,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
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
