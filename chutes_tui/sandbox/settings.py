"""How a sandbox server is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chutes_tui.core.pricing import FeeFormula, GpuTable
from chutes_tui.sandbox import limits
from chutes_tui.sandbox.clock import SimClock

DEFAULT_PORT = 8765
OLDER_GPU_TABLE = "older_gpus.json"
# What the platform's own server did in late 2025 that the current API does not:
OLDER_SERVER = (
    "no shares listing (unknown paths fall into a catch-all 404 'No matching chute found!')",
    "?quick=true on warmup is ignored: the warmup stream answers",
    "instance logs refuse hotkey signatures (API keys only)",
    "the deployment fee counts the GPUs twice",
    "its own GPU price table, without a price-spread rule",
)
CATCH_ALL_404 = "No matching chute found!"


def older_gpu_table() -> GpuTable:
    """The GPU prices the late-2025 server answered on `/nodes/supported`."""
    import json
    from importlib import resources

    text = resources.files("chutes_tui.sandbox").joinpath(OLDER_GPU_TABLE).read_text()
    return GpuTable.from_dict(json.loads(text))


def default_db_path() -> Path:
    from chutes_tui.core.locations import sandbox_db

    return sandbox_db()


@dataclass
class SandboxSettings:
    db_path: Path | str = ":memory:"
    speed: float = 1.0
    seed: bool = True
    fee_formula: FeeFormula = "linear"
    tao_usd: float = 400.0
    history_limit: int = 12
    gpu_table: GpuTable = field(default_factory=GpuTable.load)
    verify_after: float = 20.0
    activate_after: float = 5.0
    log_interval: float = 3.0
    seed_time: str | None = None
    extra_chutes: int = 0
    log_burst: int = 0  # benchmark: lines per second written into a watched instance's log
    burst_seconds: float = 10.0  # how long a burst lasts, in real seconds
    paused: bool = False  # start with the simulated clock stopped (tests, benchmarks)
    older: bool = False  # behave like the platform's server of late 2025 (see OLDER_SERVER)
    max_build_upload: int = limits.MAX_BUILD_UPLOAD  # bytes of one `POST /images/` body
    clock: SimClock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.clock = SimClock(self.speed, paused=self.paused)

    def real(self, simulated_seconds: float) -> float:
        """Seconds on the sandbox's clock (real ones while it runs) for simulated seconds."""
        return simulated_seconds / self.speed
