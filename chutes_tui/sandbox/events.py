"""The platform's Socket.IO `events` channel: instance lifecycle and bounty broadcasts.

Every connected client gets every event, as `{"reason", "message", "data"}` under the
event name `events`. python-socketio is optional: without it `mount` leaves the API as
it is and broadcasts are dropped, so the simulator can call these hooks unconditionally.
Broadcasts never block the caller; they go out in order, from tasks on the server's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from chutes_tui.sandbox.storage import InstanceRow

EVENT = "events"
SHUTDOWN_WAIT = 2.0  # seconds any one shutdown step may take, whatever clients do
log = logging.getLogger("chutes_tui.sandbox.events")


def config_id(instance_id: str) -> str:
    """A stable launch-config id for an instance."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, instance_id))


async def _bounded(step: Callable[[], Awaitable[Any]]) -> None:
    """Run one shutdown step for at most `SHUTDOWN_WAIT`; whatever it raises is dropped."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(step(), SHUTDOWN_WAIT)


class Events:
    """Broadcasts on the `events` channel once mounted and started; otherwise does nothing."""

    def __init__(self) -> None:
        self.server: Any = None  # a socketio.AsyncServer once mounted
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def mount(self, app: FastAPI) -> ASGIApp:
        """`app` with Socket.IO at `/socket.io/` in front, or `app` itself without socketio."""
        try:
            import socketio
        except ImportError:
            return app
        self.server = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
        outer = socketio.ASGIApp(self.server, other_asgi_app=app)
        outer.state = app.state  # the API's state stays reachable from the served app
        return outer

    def start(self) -> None:
        """Send from the running loop (the server's) from now on."""
        self._loop = asyncio.get_running_loop()

    async def hang_up(self) -> None:
        """Disconnect every client, ending open long-polls; a client that never polls
        again (so never takes its close packet) is dropped after `SHUTDOWN_WAIT`."""
        if self.server is not None and self.server.eio.sockets:
            await _bounded(lambda: self.server.eio.disconnect())
            self.server.eio.sockets.clear()

    async def close(self) -> None:
        """Drop unsent events and stop the server's background tasks."""
        self._loop = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await _bounded(lambda: asyncio.gather(*tasks, return_exceptions=True))
        if self.server is not None:
            await _bounded(lambda: self.server.shutdown())

    def emit(self, reason: str, message: str, data: dict[str, Any]) -> None:
        """Queue a broadcast; safe from any thread, a no-op when not serving."""
        loop = self._loop
        if self.server is None or loop is None:
            return
        payload = {"reason": reason, "message": message, "data": data}
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._schedule(payload)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._schedule, payload)

    def _schedule(self, payload: dict[str, Any]) -> None:
        if self._loop is None:
            return
        task = self._loop.create_task(self._send(self._last, payload))
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, previous: asyncio.Task[None] | None, payload: dict[str, Any]) -> None:
        """Broadcast after the previous event has gone, so clients see them in order."""
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        try:
            await self.server.emit(EVENT, payload)
        except Exception as error:
            log.warning("could not broadcast %s: %r", payload["reason"], error)

    # what the simulator reports

    def created(self, instance: InstanceRow) -> None:
        hotkey, chute_id = instance["miner_hotkey"], instance["chute_id"]
        count, gpu = instance["gpu_count"], instance["gpu_model_name"]
        self.emit(
            "instance_created",
            f"Miner {hotkey} has provisioned an instance of chute {chute_id} on {count}x{gpu}",
            {
                "chute_id": chute_id,
                "instance_id": instance["instance_id"],
                "miner_hotkey": hotkey,
                "gpu_count": count,
                "gpu_model_name": gpu,
            },
        )

    def hot(self, instance: InstanceRow) -> None:
        hotkey, chute_id = instance["miner_hotkey"], instance["chute_id"]
        self.emit(
            "instance_hot",
            f"Miner {hotkey} instance {instance['instance_id']} chute {chute_id}"
            " has been verified, now 'hot'!",
            {"chute_id": chute_id, "miner_hotkey": hotkey},
        )

    def activated(self, instance: InstanceRow) -> None:
        hotkey, chute_id = instance["miner_hotkey"], instance["chute_id"]
        self.emit(
            "instance_activated",
            f"Miner {hotkey} has activated instance {instance['instance_id']} chute {chute_id}",
            _instance_data(instance),
        )

    def deleted(self, instance: InstanceRow, reason: str | None = None) -> None:
        """An instance went away; `reason` replaces the miner's wording when given."""
        hotkey, chute_id = instance["miner_hotkey"], instance["chute_id"]
        message = reason or f"Miner {hotkey} has deleted instance an instance of chute {chute_id}."
        self.emit("instance_deleted", message, _instance_data(instance))

    def bounty(self, chute_id: str, amount: int, boost: float, urgency: str) -> None:
        self.emit(
            "bounty_change",
            f"Chute {chute_id} bounty ({urgency}): {amount} compute units, {boost:.1f}x multiplier",
            {
                "chute_id": chute_id,
                "bounty": amount,
                "effective_multiplier": boost,
                "bounty_boost": boost,
                "urgency": urgency,
            },
        )


def _instance_data(instance: InstanceRow) -> dict[str, Any]:
    return {
        "chute_id": instance["chute_id"],
        "miner_hotkey": instance["miner_hotkey"],
        "instance_id": instance["instance_id"],
        "config_id": config_id(instance["instance_id"]),
    }
