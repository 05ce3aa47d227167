"""Simulated instances: created → verified → active (chute hot) → idle → deleted (cold).

Times are simulated seconds, turned into deadlines on the sandbox's clock through `--speed`
(the clock runs with real time unless a test pauses or advances it), and kept in the
database so a restarted sandbox carries on. One ticker task applies transitions,
bills running private instances, and writes instance log lines into bounded buffers:
a scripted start-up, then requests, health checks and the odd warning while active.
Log text comes from seeded random generators, so a run can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypedDict

from chutes_tui.client.models import NodeSelector
from chutes_tui.core import pricing
from chutes_tui.sandbox import ledger
from chutes_tui.sandbox.builds import Builder
from chutes_tui.sandbox.events import Events
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import (
    ChuteRow,
    InstanceRow,
    Store,
    UserRow,
    now_iso,
    present,
)

Route = tuple[str, str, bool]  # method, path, and whether it is an LLM endpoint
REGIONS = ("us-east", "us-west", "eu-central", "ap-south")
LOG_BUFFER_LINES = 10_000
LOG_SEED = 7
HEALTH_CHECK_LINE = 'INFO:     10.0.0.1:43210 - "GET /_ping HTTP/1.1" 200 OK'
ACTIVATION_LINES = ("Application startup complete.", "Uvicorn running on http://0.0.0.0:8000")
REQUEST_EVERY = 4.0  # simulated seconds between requests to an active instance, on average
WARNING_EVERY = 90.0  # simulated seconds between warnings, on average
PULL_WINDOW = (0.5, 0.95)  # image pull and GPU set-up, as fractions of the time to verify
LOAD_WINDOW = (0.05, 0.9)  # weights and warm-up, as fractions of the time to activate
# Clock seconds by which a deadline may be missed and still count as reached: a clock moved
# on in several steps lands on a deadline give or take a rounding error.
DUE_SLACK = 1e-5
BURST_DELAY = 1.0  # real seconds between a listener arriving and a burst starting
BURST_SLICE = 0.01  # real seconds between two writes of a burst
BURST_WIDTH = 100  # characters in a burst line
BOUNTY_BASE = 100  # compute units offered for a chute that has just gone cold
BOUNTY_CAP = 86400
LLM_TEMPLATES = ("vllm", "sglang")
LLM_ROUTES: tuple[Route, ...] = (
    ("POST", "/v1/chat/completions", True),
    ("POST", "/v1/chat/completions", True),
    ("POST", "/v1/completions", True),
)
STATUSES = ((200, "OK"), (429, "Too Many Requests"), (500, "Internal Server Error"))
STATUS_WEIGHTS = (92, 6, 2)
GPU_NAMES = {
    "3090": "NVIDIA GeForce RTX 3090",
    "4090": "NVIDIA GeForce RTX 4090",
    "5090": "NVIDIA GeForce RTX 5090",
    "a4000": "NVIDIA RTX A4000",
    "a4000_ada": "NVIDIA RTX 4000 Ada Generation",
    "a5000": "NVIDIA RTX A5000",
    "a6000": "NVIDIA RTX A6000",
    "a6000_ada": "NVIDIA RTX 6000 Ada Generation",
    "pro_6000": "NVIDIA RTX PRO 6000 Blackwell",
    "l4": "NVIDIA L4",
    "a10": "NVIDIA A10",
    "a40": "NVIDIA A40",
    "l40": "NVIDIA L40",
    "l40s": "NVIDIA L40S",
    "a100_40gb": "NVIDIA A100-PCIE-40GB",
    "a100_40gb_sxm": "NVIDIA A100-SXM4-40GB",
    "a100": "NVIDIA A100 80GB PCIe",
    "a100_sxm": "NVIDIA A100-SXM4-80GB",
    "h100": "NVIDIA H100 PCIe",
    "h100_nvl": "NVIDIA H100 NVL",
    "h100_sxm": "NVIDIA H100 80GB HBM3",
    "h800": "NVIDIA H800",
    "h20": "NVIDIA H20",
    "h200": "NVIDIA H200",
    "mi300x": "AMD Instinct MI300X",
    "b200": "NVIDIA B200",
    "b300": "NVIDIA B300",
}
SERVER_ERRORS = (
    "torch.OutOfMemoryError: {vendor} out of memory. Tried to allocate 2.00 GiB",
    "RuntimeError: {vendor} error: an illegal memory access was encountered",
    "asyncio.TimeoutError: generation did not finish within 120s",
)


# --- buffers -------------------------------------------------------------------------------


class _Buffer:
    """One instance's retained lines; `end` is the sequence number of the newest line."""

    __slots__ = ("end", "lines")

    def __init__(self, max_lines: int) -> None:
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.end = 0

    def last(self, count: int) -> list[str]:
        """The newest `count` retained lines, oldest first, in O(count)."""
        count = min(count, len(self.lines))
        if count <= 0:
            return []
        if count == len(self.lines):
            return list(self.lines)
        newest = list(islice(reversed(self.lines), count))
        newest.reverse()
        return newest


class LogBook:
    """Per-instance log lines in bounded buffers, with a way to wait for new ones.

    Each instance numbers its lines 1, 2, 3...; a position is the number of the last line
    a reader has, so new lines are found by arithmetic whatever the buffer holds. Lines
    evicted before a reader got to them are skipped. Open streams count as listeners.
    """

    def __init__(
        self,
        max_lines: int = LOG_BUFFER_LINES,
        on_attach: Callable[[str], None] | None = None,
    ) -> None:
        self.max_lines = max_lines
        self.on_attach = on_attach
        self._buffers: dict[str, _Buffer] = {}
        self._closed: set[str] = set()
        self._listeners: dict[str, int] = {}
        self._listening = 0
        self._version = 0
        self._changed: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def write(self, instance_id: str, line: str) -> None:
        self.write_many(instance_id, (line,))

    def write_many(self, instance_id: str, lines: Sequence[str]) -> None:
        """Append lines to an instance's log, waking readers once."""
        if not lines:
            return
        buffer = self._buffers.get(instance_id)
        if buffer is None:
            buffer = self._buffers[instance_id] = _Buffer(self.max_lines)
        buffer.lines.extend(lines)
        buffer.end += len(lines)
        self._wake()

    def close(self, instance_id: str) -> None:
        self._closed.add(instance_id)
        self._wake()

    def forget(self, instance_id: str) -> None:
        self._buffers.pop(instance_id, None)

    def _wake(self) -> None:
        self._version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def tail(self, instance_id: str, count: int) -> tuple[list[str], int]:
        """The last `count` lines and the position to continue from."""
        buffer = self._buffers.get(instance_id)
        if buffer is None:
            return [], 0
        return buffer.last(count), buffer.end

    def after(self, instance_id: str, position: int) -> tuple[list[str], int]:
        """Lines written since `position`, and the new position; O(new lines)."""
        buffer = self._buffers.get(instance_id)
        if buffer is None or position >= buffer.end:
            return [], position
        return buffer.last(buffer.end - position), buffer.end

    def closed(self, instance_id: str) -> bool:
        return instance_id in self._closed

    def version(self) -> int:
        """A number that changes whenever any log changes."""
        return self._version

    async def wait(self, timeout: float, since: int | None = None) -> None:
        """Until some log changes, at most `timeout` seconds; at once if `since` is stale."""
        if since is not None and since != self._version:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), timeout)

    def attach(self, instance_id: str) -> None:
        """A stream started reading this instance's log."""
        count = self._listeners.get(instance_id, 0) + 1
        self._listeners[instance_id] = count
        self._listening += 1
        if count == 1 and self.on_attach is not None:
            self.on_attach(instance_id)

    def detach(self, instance_id: str) -> None:
        """A stream of this instance's log ended."""
        count = self._listeners.get(instance_id, 0)
        if count <= 0:
            return
        self._listening -= 1
        if count == 1:
            del self._listeners[instance_id]
        else:
            self._listeners[instance_id] = count - 1

    def listeners(self, instance_id: str | None = None) -> int:
        """Open log streams, of one instance or of all."""
        if instance_id is None:
            return self._listening
        return self._listeners.get(instance_id, 0)


# --- what instances say --------------------------------------------------------------------


@dataclass(frozen=True)
class Hardware:
    gpu: str
    count: int
    memory: int
    amd: bool

    @property
    def name(self) -> str:
        return GPU_NAMES.get(self.gpu, f"NVIDIA {self.gpu.upper()}")

    @property
    def vendor(self) -> str:
        return "HIP" if self.amd else "CUDA"


def _size(megabytes: float) -> str:
    return f"{megabytes / 1024:.2f} GB" if megabytes >= 1024 else f"{megabytes:.1f} MB"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _jitter(rng: random.Random, mean: float) -> float:
    return mean * rng.uniform(0.3, 1.7)


def _peer(rng: random.Random) -> str:
    return (
        f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        f":{rng.randint(32768, 60999)}"
    )


def pull_lines(rng: random.Random, image: str, ref: str, hw: Hardware) -> list[str]:
    """The image pull, container start and GPU set-up, before verification."""
    layers = [rng.lognormvariate(4.5, 1.6) for _ in range(rng.randint(5, 8))]
    lines = [f"{rng.getrandbits(48):012x}: Pull complete ({_size(mb)})" for mb in layers]
    lines += [
        f"Digest: sha256:{rng.getrandbits(256):064x}",
        f"Status: Downloaded newer image for {image} ({_size(sum(layers))})",
        f"starting container: chutes run {ref} --port 8000",
    ]
    if hw.amd:
        lines.append(f"ROCm 6.2.{rng.randint(0, 4)}: {hw.count}x {hw.name} ({hw.memory} GB each)")
    else:
        driver = f"{rng.choice((550, 565, 570))}.{rng.randint(40, 180)}.{rng.randint(1, 9):02d}"
        lines.append(f"NVIDIA driver {driver}, CUDA 12.{rng.randint(4, 8)}")
        lines.append(f"found {hw.count}x {hw.name} ({hw.memory} GB each)")
    for index in range(min(hw.count, 8)):
        free = hw.memory * 1024 - rng.randint(300, 700)
        lines.append(f"GPU {index}: {hw.name}, {free} MiB free, PCI 0000:{0x17 + index:02x}:00.0")
    lines.append("running GPU verification challenge")
    return lines


def load_lines(rng: random.Random, hw: Hardware) -> list[str]:
    """Weights, shard by shard, then the warm-up, between verification and activation."""
    total_gb = hw.memory * hw.count * rng.uniform(0.3, 0.65)
    shards = max(1, min(12, round(total_gb / 5)))
    per_shard = rng.uniform(0.8, 3.0)
    lines = [f"loading model weights: {shards} safetensors shards, {total_gb:.1f} GB"]
    for done in range(1, shards + 1):
        elapsed, left = done * per_shard, (shards - done) * per_shard
        lines.append(
            f"Loading safetensors checkpoint shards: {100 * done // shards:3d}% Completed"
            f" | {done}/{shards} [{_clock(elapsed)}<{_clock(left)}, {per_shard:.2f}s/it]"
        )
    requests = rng.randint(2, 6)
    lines += [
        f"model weights loaded in {shards * per_shard:.1f}s, {total_gb / hw.count:.1f} GB per GPU",
        f"warming up with {requests} requests",
        f"warm-up done in {rng.uniform(0.4, 6.0):.2f}s",
    ]
    return lines


def request_lines(rng: random.Random, route: Route, hw: Hardware) -> list[str]:
    """One request as uvicorn logs it, with latency and tokens; a failure adds its error."""
    method, path, llm = route
    code, phrase = rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
    if code == 429:
        detail = f"{rng.randint(1, 9)}ms, concurrency limit reached"
    else:
        prompt, completion = rng.randint(12, 2400), rng.randint(8, 1024 if llm else 96)
        millis = rng.randint(20, 90) + completion * rng.uniform(2.0, 25.0)
        detail = f"{millis:.0f}ms, {prompt} prompt + {completion} completion tokens"
    access = f'INFO:     {_peer(rng)} - "{method} {path} HTTP/1.1" {code} {phrase} ({detail})'
    if code != 500:
        return [access]
    error = rng.choice(SERVER_ERRORS).format(vendor=hw.vendor)
    return [f"ERROR:    Exception in ASGI application: {error}", access]


def warning_line(rng: random.Random, route: Route, hw: Hardware) -> str:
    method, path, llm = route
    choices = [
        f"slow request: {method} {path} took {rng.uniform(8, 40):.1f}s",
        f"GPU {rng.randrange(hw.count)} at {rng.randint(83, 91)}C,"
        f" clocks throttled to {rng.randint(9, 14) * 100} MHz",
        f"{rng.randint(2, 24)} requests waiting, concurrency limit reached",
        f"client {_peer(rng)} disconnected before the response was sent",
    ]
    if llm:
        choices.append(
            f"KV cache usage at {rng.randint(90, 99)}%, preempting {rng.randint(1, 4)} sequence(s)"
        )
    return f"WARNING:  {rng.choice(choices)}"


def shutdown_lines(rng: random.Random, reason: str, serving: bool) -> list[str]:
    lines = [f"shutting down: {reason}"]
    if serving:
        lines += [
            "INFO:     Shutting down",
            "INFO:     Waiting for application shutdown.",
            "INFO:     Application shutdown complete.",
            f"INFO:     Finished server process [{rng.randint(7, 400)}]",
        ]
    return [*lines, "container stopped"]


def routes_of(chute: ChuteRow | None) -> tuple[Route, ...]:
    """What clients call on a chute: the OpenAI routes of LLM templates, else its cords."""
    spec = (chute["spec"] if chute else None) or {}
    if spec.get("standard_template") in LLM_TEMPLATES:
        return LLM_ROUTES
    routes = tuple(
        (cord.get("method") or "POST", cord["path"], cord["path"].startswith("/v1/"))
        for cord in spec.get("cords") or ()
        if cord.get("path")
    )
    return routes or LLM_ROUTES[:1]


class BurstText:
    """Numbered benchmark lines, padded with request-like text to about BURST_WIDTH."""

    def __init__(self, rng: random.Random, total: int, hw: Hardware) -> None:
        self.width = max(7, len(str(total)))
        self.suffix = f"/{total:0{self.width}d} "
        room = BURST_WIDTH - len("burst ") - self.width - len(self.suffix)
        self.pads = [self._pad(rng, hw, room) for _ in range(64)]

    @staticmethod
    def _pad(rng: random.Random, hw: Hardware, room: int) -> str:
        text = f"{request_lines(rng, LLM_ROUTES[0], hw)[-1]} trace={rng.getrandbits(128):032x}"
        return text[:room]

    def lines(self, first: int, stop: int) -> list[str]:
        """Lines number `first` to `stop - 1`."""
        width, suffix, pads = self.width, self.suffix, self.pads
        return [f"burst {n:0{width}d}{suffix}{pads[n % 64]}" for n in range(first, stop)]


@dataclass
class Activity:
    """What an active instance logs next, and when (times on the sandbox's clock)."""

    rng: random.Random
    hw: Hardware
    routes: tuple[Route, ...]
    last_health: float
    next_request: float | None = None
    next_warning: float | None = None

    def due(self, now: float, settings: SandboxSettings) -> list[str]:
        lines: list[str] = []
        if self.next_request is not None and now >= self.next_request:
            lines += request_lines(self.rng, self.rng.choice(self.routes), self.hw)
            self.next_request = now + settings.real(_jitter(self.rng, REQUEST_EVERY))
        if self.next_warning is not None and now >= self.next_warning:
            lines.append(warning_line(self.rng, self.rng.choice(self.routes), self.hw))
            self.next_warning = now + settings.real(_jitter(self.rng, WARNING_EVERY))
        if now - self.last_health >= settings.real(settings.log_interval):
            self.last_health = now
            lines.append(HEALTH_CHECK_LINE)
        return lines


# --- the simulator -------------------------------------------------------------------------


class Bounty(TypedDict):
    """What a cold chute offers the miner who starts it."""

    amount: int
    boost: float
    age_seconds: int
    created_at: float


class Simulator:
    """Drives every simulated instance of the sandbox."""

    def __init__(
        self, store: Store, settings: SandboxSettings, events: Events | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = settings.clock
        self.events = events or Events()
        self.logs = LogBook(on_attach=self._listener_joined)
        self.builds = Builder(store, settings)
        self._random = random.Random(LOG_SEED)
        self._rngs: dict[str, random.Random] = {}
        self._scripts: dict[str, deque[tuple[float, str]]] = {}
        self._activity: dict[str, Activity] = {}
        self._bursts: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._settled_hour = ledger.hour_of(self.clock.now())

    @property
    def tick_interval(self) -> float:
        return min(0.5, max(0.01, 0.5 / self.settings.speed))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._bursts.values()) if task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.tick_interval)

    # what requests ask for

    def warm(self, chute: ChuteRow) -> None:
        """A warmup: keep live instances up, or start one when there are none.
        A cold chute gets a bounty first, which a miner then claims."""
        instances = self.store.instances(chute["chute_id"])
        bounty = self.bounty(instances)
        if bounty is not None:
            self.events.bounty(chute["chute_id"], bounty["amount"], bounty["boost"], "cold")
        if instances:
            self._extend(chute)
        else:
            self._create(chute)

    def keep_alive(self, chute: ChuteRow) -> None:
        """A call: the chute's instances stay up for another `shutdown_after_seconds`."""
        self._extend(chute)

    def redeploy(self, chute: ChuteRow) -> None:
        """A deploy or update: replace the instances with ones running the new version."""
        for instance in self.store.instances(chute["chute_id"]):
            self._delete(instance, "rolling update to a new version")
        self._create(chute)

    def forget_chute(self, chute_id: str) -> None:
        """Before a chute's rows go: settle and retire its instances."""
        for instance in self.store.instances(chute_id):
            self._settle(instance)
            self._retire(instance, "chute deleted")

    def settle(self) -> None:
        """Bill every running private instance up to now, so balances and the ledger agree
        with what has accrued (before spend is read, and every hour on the clock)."""
        now = self.clock.now()
        self._settled_hour = ledger.hour_of(now)
        for instance in self.store.all_as(
            InstanceRow, "SELECT * FROM instances WHERE billed_from IS NOT NULL"
        ):
            self._settle(instance, now)

    def bounty(self, instances: Sequence[InstanceRow]) -> Bounty | None:
        """A cold chute's bounty, growing with the age of its oldest pending instance;
        None once an instance is hot."""
        if any(row["active"] and row["verified"] for row in instances):
            return None
        now = self.clock.now()
        verify = self.settings.real(self.settings.verify_after)
        oldest = min((row["verify_due"] - verify for row in instances), default=now)
        age = max(0.0, now - oldest) * self.settings.speed
        return {
            "amount": min(3 * int(age) + BOUNTY_BASE, BOUNTY_CAP),
            "boost": round(1.5 + min(age / (180 * 60), 1.0), 2),
            "age_seconds": int(age),
            "created_at": oldest,
        }

    def effective_balance(self, user: UserRow) -> float:
        """Stored balance minus what running private instances have cost so far."""
        rows = self.store.all_as(
            InstanceRow,
            "SELECT i.* FROM instances i JOIN chutes c ON c.chute_id = i.chute_id "
            "WHERE c.user_id = ? AND c.public = 0 AND i.billed_from IS NOT NULL",
            user["user_id"],
        )
        return user["balance"] - sum(self._cost(row) for row in rows)

    # transitions

    def _selector(self, chute: ChuteRow) -> NodeSelector:
        return NodeSelector.model_validate(chute["spec"]["node_selector"])

    def _hardware(self, gpu: str, count: int) -> Hardware:
        table = self.settings.gpu_table
        memory = table.gpus[gpu].memory if gpu in table.gpus else 16
        return Hardware(gpu, count, memory, gpu in table.amd_only or gpu.startswith("mi"))

    def _rng(self, instance_id: str) -> random.Random:
        """The instance's own generator; instances from an earlier run seed it by id."""
        rng = self._rngs.get(instance_id)
        if rng is None:
            rng = self._rngs[instance_id] = random.Random(instance_id)
        return rng

    def _image_ref(self, chute: ChuteRow) -> str:
        image = self.store.image(chute["image_id"])
        if image is None:
            return chute["image_id"]
        owner = self.store.user(image["user_id"])
        prefix = f"{owner['username']}/" if owner else ""
        return f"{prefix}{image['name']}:{image['tag']}"

    def _create(self, chute: ChuteRow) -> None:
        selector = self._selector(chute)
        table = self.settings.gpu_table
        supported = pricing.supported_gpus(selector, table)
        gpu = min(supported, key=lambda name: table.gpus[name].hourly_rate)
        now = self.clock.now()
        instance_id = str(uuid.uuid4())
        verify_due = now + self.settings.real(self.settings.verify_after)
        activate_due = verify_due + self.settings.real(self.settings.activate_after)
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
                    activate_due,
                    now + self.settings.real(self._shutdown_after(chute)),
                ),
            )
        self.events.created(present(self.store.instance(instance_id), f"instance {instance_id}"))
        self._rngs[instance_id] = random.Random(self._random.getrandbits(64))
        self.logs.write_many(
            instance_id,
            [
                f"provisioned on {selector.gpu_count}x {gpu}",
                f"pulling image for chute {chute['name']}",
                f"loading {chute['spec'].get('filename', 'chute.py')}",
            ],
        )
        self._script(instance_id, chute, self._hardware(gpu, selector.gpu_count), now)

    def _script(self, instance_id: str, chute: ChuteRow, hw: Hardware, created: float) -> None:
        """Schedule the rest of the start-up: pulled and set up before verification,
        weights loaded and warmed up before activation."""
        rng = self._rng(instance_id)
        ref = chute["spec"].get("ref_str") or "chute:chute"
        verify, activate = self.settings.verify_after, self.settings.activate_after
        pulled = _spread(rng, pull_lines(rng, self._image_ref(chute), ref, hw), PULL_WINDOW)
        loaded = _spread(rng, load_lines(rng, hw), LOAD_WINDOW)
        verified = created + self.settings.real(verify)
        self._scripts[instance_id] = deque(
            [(created + self.settings.real(verify * at), line) for at, line in pulled]
            + [(verified + self.settings.real(activate * at), line) for at, line in loaded]
        )

    def _flush(self, instance_id: str, until: float) -> None:
        """Write the scripted lines due by `until`."""
        script = self._scripts.get(instance_id)
        if not script:
            return
        lines = []
        while script and script[0][0] <= until:
            lines.append(script.popleft()[1])
        self.logs.write_many(instance_id, lines)
        if not script:
            del self._scripts[instance_id]

    def _shutdown_after(self, chute: ChuteRow) -> float:
        return float(chute["spec"].get("shutdown_after_seconds") or 300)

    def _extend(self, chute: ChuteRow) -> None:
        deadline = self.clock.now() + self.settings.real(self._shutdown_after(chute))
        with self.store.tx() as db:
            db.execute(
                "UPDATE instances SET idle_deadline = MAX(idle_deadline, ?) WHERE chute_id = ?",
                (deadline, chute["chute_id"]),
            )

    def _cost(self, instance: InstanceRow, until: float | None = None) -> float:
        if instance["billed_from"] is None:
            return 0.0
        end = min(until or self.clock.now(), instance["idle_deadline"])
        elapsed = max(0.0, end - instance["billed_from"])
        return instance["hourly_rate"] * elapsed * self.settings.speed / 3600

    def _settle(self, instance: InstanceRow, until: float | None = None) -> None:
        """Charge the owner of a private chute for an instance's time since it was last
        billed (hour by hour, in the ledger), and bill it from `until` on. Billing stops at
        the idle deadline, as the platform's stops at `stop_billing_at`."""
        start = instance["billed_from"]
        until = min(self.clock.now() if until is None else until, instance["idle_deadline"])
        if start is None or until <= start:
            return
        with self.store.tx() as db:
            owner = db.execute(
                "SELECT user_id FROM chutes WHERE chute_id = ? AND public = 0",
                (instance["chute_id"],),
            ).fetchone()
            if owner is not None:
                per_second = instance["hourly_rate"] * self.settings.speed / 3600
                ledger.accrue(db, owner["user_id"], instance["chute_id"], start, until, per_second)
            db.execute(
                "UPDATE instances SET billed_from = ? WHERE instance_id = ?",
                (until, instance["instance_id"]),
            )

    def _delete(self, instance: InstanceRow, reason: str, by_miner: bool = False) -> None:
        self._settle(instance)
        with self.store.tx() as db:
            db.execute("DELETE FROM instances WHERE instance_id = ?", (instance["instance_id"],))
        self._retire(instance, reason, by_miner)

    def _retire(self, instance: InstanceRow, reason: str, by_miner: bool = False) -> None:
        """Log the shutdown, end the instance's streams, drop what drives its log, and
        announce it: in the miner's words, or else with the platform's reason."""
        instance_id = instance["instance_id"]
        burst = self._bursts.get(instance_id)
        if burst is not None:
            burst.cancel()
        self._scripts.pop(instance_id, None)
        self._activity.pop(instance_id, None)
        rng = self._rngs.pop(instance_id, None) or random.Random(instance_id)
        self.logs.write_many(instance_id, shutdown_lines(rng, reason, bool(instance["active"])))
        self.logs.close(instance_id)
        self.events.deleted(instance, None if by_miner else _gone(instance, reason))

    def tick(self) -> None:
        now = self.clock.now()
        reached = now + DUE_SLACK
        due = self.store.all_as(
            InstanceRow,
            "SELECT * FROM instances WHERE (verified = 0 AND verify_due <= ?)"
            " OR (active = 0 AND activate_due <= ?) OR idle_deadline <= ?",
            reached,
            reached,
            reached,
        )
        for instance in due:
            if instance["idle_deadline"] <= reached:
                idle = self.store.chute(instance["chute_id"])
                seconds = int(self._shutdown_after(idle)) if idle else 0
                self._delete(instance, f"idle for {seconds}s", by_miner=True)
                continue
            if not instance["verified"] and instance["verify_due"] <= reached:
                self._verify(instance, now)
            if not instance["active"] and instance["activate_due"] <= reached:
                self._activate(instance, now)
        for instance_id in list(self._scripts):
            self._flush(instance_id, reached)
        self._chatter(now)
        self.builds.tick(now)
        if ledger.hour_of(now) != self._settled_hour:
            self.settle()

    def _verify(self, instance: InstanceRow, now: float) -> None:
        instance_id = instance["instance_id"]
        with self.store.tx() as db:
            db.execute(
                "UPDATE instances SET verified = 1, last_verified_at = ? WHERE instance_id = ?",
                (now_iso(), instance_id),
            )
        self.events.hot(instance)
        self._flush(instance_id, instance["verify_due"])
        self.logs.write(instance_id, "GPU verification passed")

    def _activate(self, instance: InstanceRow, now: float) -> None:
        instance_id = instance["instance_id"]
        with self.store.tx() as db:
            db.execute(
                "UPDATE instances SET active = 1, billed_from = ? WHERE instance_id = ?",
                (now, instance_id),
            )
        self.events.activated(instance)
        self._flush(instance_id, instance["activate_due"])
        self.logs.write_many(instance_id, ACTIVATION_LINES)
        self._activity[instance_id] = self._serving(instance, now, traffic=True)
        if self.logs.listeners(instance_id):
            self._start_burst(instance_id)

    def _serving(self, instance: InstanceRow, now: float, traffic: bool) -> Activity:
        """How an active instance keeps logging: with `traffic`, requests and warnings too."""
        rng = self._rng(instance["instance_id"])
        activity = Activity(
            rng,
            self._hardware(instance["gpu_model_name"], instance["gpu_count"]),
            routes_of(self.store.chute(instance["chute_id"])),
            last_health=now,
        )
        if traffic:
            activity.next_request = now + self.settings.real(_jitter(rng, REQUEST_EVERY))
            activity.next_warning = now + self.settings.real(_jitter(rng, WARNING_EVERY))
        return activity

    def _chatter(self, now: float) -> None:
        """Active instances log requests, warnings, and a health check every `log_interval`."""
        for instance_id, activity in list(self._activity.items()):
            self.logs.write_many(instance_id, activity.due(now, self.settings))

    def resume(self) -> None:
        """After a start: instances already active (seeded, or from an earlier run) go on
        answering health checks; what traffic they had is not known, so they log no requests.
        Image builds an earlier run left unfinished carry on.
        """
        now = self.clock.now()
        for row in self.store.all_as(InstanceRow, "SELECT * FROM instances WHERE active = 1"):
            self._activity[row["instance_id"]] = self._serving(row, now, traffic=False)
        self.builds.resume()

    # benchmark bursts

    def _listener_joined(self, instance_id: str) -> None:
        if instance_id in self._activity:
            self._start_burst(instance_id)

    def _start_burst(self, instance_id: str) -> None:
        """Once per instance, when `log_burst` is set and someone is reading the log."""
        if self.settings.log_burst <= 0 or instance_id in self._bursts:
            return
        task = asyncio.get_running_loop().create_task(self._burst(instance_id))
        self._bursts[instance_id] = task

    async def _burst(self, instance_id: str) -> None:
        """Write `log_burst` lines a second for `burst_seconds`, in short slices that catch
        up when the loop lags, then a closing line with the count and the time. A benchmark
        of the viewer, so real time throughout, whatever the simulated clock does."""
        await asyncio.sleep(BURST_DELAY)
        rate = self.settings.log_burst
        total = round(rate * self.settings.burst_seconds)
        activity = self._activity.get(instance_id)
        hw = activity.hw if activity else self._hardware("a4000", 1)
        text = BurstText(self._rng(instance_id), total, hw)
        started, written = time.monotonic(), 0
        while written < total and not self.logs.closed(instance_id):
            await asyncio.sleep(BURST_SLICE)
            target = min(total, int((time.monotonic() - started) * rate))
            if target > written:
                self.logs.write_many(instance_id, text.lines(written + 1, target + 1))
                written = target
        if not self.logs.closed(instance_id):
            self.logs.write(instance_id, f"burst done: {written} lines, ended at {time.time():.3f}")


def _gone(instance: InstanceRow, reason: str) -> str:
    return f"Instance {instance['instance_id']} of chute {instance['chute_id']} deleted: {reason}"


def _spread(
    rng: random.Random, lines: list[str], window: tuple[float, float]
) -> list[tuple[float, str]]:
    """Lines at increasing, jittered points of `window` (fractions of a span)."""
    start, end = window
    step = (end - start) / max(len(lines), 1)
    return [
        (start + step * (index + rng.uniform(0.1, 0.9)), line) for index, line in enumerate(lines)
    ]
