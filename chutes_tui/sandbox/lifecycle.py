"""Simulated instances: created → verified → active (chute hot) → idle → deleted (cold).

Times are simulated seconds, turned into wall-clock deadlines through `--speed`, and kept
in the database so a restarted sandbox carries on. One ticker task applies transitions,
bills running private instances, and writes instance log lines into bounded buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import deque
from typing import Any

from chutes_tui.client.models import NodeSelector
from chutes_tui.core import pricing
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import Store, now_iso

Row = dict[str, Any]
REGIONS = ("us-east", "us-west", "eu-central", "ap-south")
LOG_BUFFER_LINES = 10_000
HEALTH_CHECK_LINE = 'INFO:     10.0.0.1:43210 - "GET /_ping HTTP/1.1" 200 OK'


class LogBook:
    """Per-instance log lines in bounded buffers, with a way to wait for new ones."""

    def __init__(self, max_lines: int = LOG_BUFFER_LINES) -> None:
        self.max_lines = max_lines
        self._lines: dict[str, deque[tuple[int, str]]] = {}
        self._closed: set[str] = set()
        self._counter = itertools.count(1)
        self._changed: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def write(self, instance_id: str, line: str) -> None:
        buffer = self._lines.setdefault(instance_id, deque(maxlen=self.max_lines))
        buffer.append((next(self._counter), line))
        self._wake()

    def close(self, instance_id: str) -> None:
        self._closed.add(instance_id)
        self._wake()

    def forget(self, instance_id: str) -> None:
        self._lines.pop(instance_id, None)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def tail(self, instance_id: str, count: int) -> tuple[list[str], int]:
        """The last `count` lines and the position to continue from."""
        buffer = self._lines.get(instance_id, deque())
        lines = list(buffer)[-count:] if count else []
        last = buffer[-1][0] if buffer else 0
        return [line for _, line in lines], last

    def after(self, instance_id: str, position: int) -> tuple[list[str], int]:
        buffer = self._lines.get(instance_id, deque())
        fresh = [(seq, line) for seq, line in buffer if seq > position]
        return [line for _, line in fresh], (fresh[-1][0] if fresh else position)

    def closed(self, instance_id: str) -> bool:
        return instance_id in self._closed

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), timeout)


class Simulator:
    """Drives every simulated instance of the sandbox."""

    def __init__(self, store: Store, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings
        self.logs = LogBook()
        self._last_log: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._random = random.Random(7)

    @property
    def tick_interval(self) -> float:
        return min(0.5, max(0.01, 0.5 / self.settings.speed))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.tick_interval)

    # what requests ask for

    def warm(self, chute: Row) -> None:
        """A warmup: keep live instances up, or start one when there are none."""
        instances = self.store.instances(chute["chute_id"])
        if instances:
            self._extend(chute)
        else:
            self._create(chute)

    def redeploy(self, chute: Row) -> None:
        """A deploy or update: replace the instances with ones running the new version."""
        for instance in self.store.instances(chute["chute_id"]):
            self._delete(instance, "rolling update to a new version")
        self._create(chute)

    def forget_chute(self, chute_id: str) -> None:
        for instance in self.store.instances(chute_id):
            self._settle(instance)
            self.logs.close(instance["instance_id"])

    def effective_balance(self, user: Row) -> float:
        """Stored balance minus what running private instances have cost so far."""
        rows = self.store.all(
            "SELECT i.* FROM instances i JOIN chutes c ON c.chute_id = i.chute_id "
            "WHERE c.user_id = ? AND c.public = 0 AND i.billed_from IS NOT NULL",
            user["user_id"],
        )
        return user["balance"] - sum(self._cost(row) for row in rows)

    # transitions

    def _selector(self, chute: Row) -> NodeSelector:
        return NodeSelector.model_validate(chute["spec"]["node_selector"])

    def _create(self, chute: Row) -> None:
        selector = self._selector(chute)
        table = self.settings.gpu_table
        supported = pricing.supported_gpus(selector, table)
        gpu = min(supported, key=lambda name: table.gpus[name].hourly_rate)
        now = time.time()
        instance_id = str(uuid.uuid4())
        verify_due = now + self.settings.real(self.settings.verify_after)
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO instances (instance_id, chute_id, region, gpu_model_name, gpu_count,"
                " hourly_rate, miner_hotkey, created_at, verify_due, activate_due, idle_deadline)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    instance_id,
                    chute["chute_id"],
                    self._random.choice(REGIONS),
                    gpu,
                    selector.gpu_count,
                    selector.gpu_count * table.gpus[gpu].hourly_rate,
                    f"5Miner{uuid.uuid4().hex[:42]}",
                    now_iso(),
                    verify_due,
                    verify_due + self.settings.real(self.settings.activate_after),
                    now + self.settings.real(self._shutdown_after(chute)),
                ),
            )
        self.logs.write(instance_id, f"provisioned on {selector.gpu_count}x {gpu}")
        self.logs.write(instance_id, f"pulling image for chute {chute['name']}")
        self.logs.write(instance_id, f"loading {chute['spec'].get('filename', 'chute.py')}")

    def _shutdown_after(self, chute: Row) -> float:
        return float(chute["spec"].get("shutdown_after_seconds") or 300)

    def _extend(self, chute: Row) -> None:
        deadline = time.time() + self.settings.real(self._shutdown_after(chute))
        with self.store.tx() as db:
            db.execute(
                "UPDATE instances SET idle_deadline = MAX(idle_deadline, ?) WHERE chute_id = ?",
                (deadline, chute["chute_id"]),
            )

    def _cost(self, instance: Row, until: float | None = None) -> float:
        if instance["billed_from"] is None:
            return 0.0
        elapsed = max(0.0, (until or time.time()) - instance["billed_from"])
        return instance["hourly_rate"] * elapsed * self.settings.speed / 3600

    def _settle(self, instance: Row) -> None:
        """Charge the owner of a private chute for an instance that is going away."""
        cost = self._cost(instance)
        if cost:
            with self.store.tx() as db:
                db.execute(
                    "UPDATE users SET balance = balance - ? WHERE user_id = ("
                    " SELECT user_id FROM chutes WHERE chute_id = ? AND public = 0)",
                    (cost, instance["chute_id"]),
                )

    def _delete(self, instance: Row, reason: str) -> None:
        self._settle(instance)
        with self.store.tx() as db:
            db.execute("DELETE FROM instances WHERE instance_id = ?", (instance["instance_id"],))
        self.logs.write(instance["instance_id"], f"shutting down: {reason}")
        self.logs.close(instance["instance_id"])
        self._last_log.pop(instance["instance_id"], None)

    def tick(self) -> None:
        now = time.time()
        due = self.store.all(
            "SELECT * FROM instances WHERE (verified = 0 AND verify_due <= ?)"
            " OR (active = 0 AND activate_due <= ?) OR idle_deadline <= ?",
            now,
            now,
            now,
        )
        for instance in due:
            instance_id = instance["instance_id"]
            if instance["idle_deadline"] <= now:
                idle = self.store.chute(instance["chute_id"])
                seconds = int(self._shutdown_after(idle)) if idle else 0
                self._delete(instance, f"idle for {seconds}s")
                continue
            if not instance["verified"] and instance["verify_due"] <= now:
                with self.store.tx() as db:
                    db.execute(
                        "UPDATE instances SET verified = 1, last_verified_at = ?"
                        " WHERE instance_id = ?",
                        (now_iso(), instance_id),
                    )
                self.logs.write(instance_id, "GPU verification passed")
            if not instance["active"] and instance["activate_due"] <= now:
                with self.store.tx() as db:
                    db.execute(
                        "UPDATE instances SET active = 1, billed_from = ? WHERE instance_id = ?",
                        (now, instance_id),
                    )
                self.logs.write(instance_id, "Application startup complete.")
                self.logs.write(instance_id, "Uvicorn running on http://0.0.0.0:8000")
                self._last_log[instance_id] = now
        self._chatter(now)

    def _chatter(self, now: float) -> None:
        """Active instances log a health check every `log_interval` simulated seconds."""
        interval = self.settings.real(self.settings.log_interval)
        for instance_id, last in list(self._last_log.items()):
            if now - last >= interval:
                self._last_log[instance_id] = now
                self.logs.write(instance_id, HEALTH_CHECK_LINE)

    def resume(self) -> None:
        """After a restart: keep logging for instances that were already active."""
        for row in self.store.all("SELECT instance_id FROM instances WHERE active = 1"):
            self._last_log[row["instance_id"]] = time.time()
