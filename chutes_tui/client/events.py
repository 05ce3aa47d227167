"""The platform's Socket.IO `events` channel, filtered to one chute (optional).

It needs python-socketio (`pip install 'chutes-tui[events]'`); nothing imports it until a
channel is opened. The server broadcasts every event to everyone, with no auth, so the
filtering by `data.chute_id` happens here, as in the official SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chutes_tui.client.api import StreamNotice
from chutes_tui.client.errors import ConfigError, Unreachable

QUEUE_LIMIT = 1000


def events_url(api_url: str) -> str:
    """The platform's rule: `api.` becomes `events.`, else `events.` goes in front."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    host = "events." + host.removeprefix("api.")
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, "", "", ""))


async def chute_events(
    url: str, chute_id: str, connect_timeout: float = 10.0
) -> AsyncGenerator[dict[str, Any] | StreamNotice, None]:
    """`{reason, message, data}` payloads about `chute_id`, and notices when the link changes.

    The connection retries on its own (1 s, doubling up to 30 s, as the SDK does); closing
    the iterator disconnects.
    """
    try:
        import socketio
    except ImportError:
        raise ConfigError(
            "the events channel needs python-socketio: pip install 'chutes-tui[events]'"
        ) from None
    queue: asyncio.Queue[dict[str, Any] | StreamNotice] = asyncio.Queue(QUEUE_LIMIT)

    def put(item: dict[str, Any] | StreamNotice) -> None:
        if queue.full():  # a flood of unrelated chutes' events must not grow memory
            queue.get_nowait()
        queue.put_nowait(item)

    sio = socketio.AsyncClient(reconnection_delay=1, reconnection_delay_max=30)

    @sio.on("events")
    async def on_event(payload: Any) -> None:
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict) and data.get("chute_id") == chute_id:
            put(payload)

    @sio.event
    async def connect() -> None:
        put(StreamNotice("connected", f"events channel connected ({url})"))

    @sio.event
    async def disconnect(*_: Any) -> None:
        put(StreamNotice("retrying", "events channel lost; reconnecting"))

    try:
        try:
            await sio.connect(url, transports=["websocket"], wait_timeout=connect_timeout)
        except (socketio.exceptions.ConnectionError, OSError) as error:
            raise Unreachable(f"cannot open the events channel at {url}: {error}") from None
        while True:
            yield await queue.get()
    finally:
        await _close(sio)


async def _close(sio: Any) -> None:
    """Disconnect and stop reconnecting, and close the client's HTTP session even when no
    connection was ever made (a failed or cancelled connect leaves it open)."""
    with contextlib.suppress(Exception):
        await (getattr(sio, "shutdown", None) or sio.disconnect)()
    with contextlib.suppress(Exception):
        await sio.eio.disconnect(abort=True)
