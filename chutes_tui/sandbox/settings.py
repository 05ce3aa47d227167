"""How a sandbox server is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chutes_tui.core.pricing import FeeFormula, GpuTable
from chutes_tui.sandbox.clock import SimClock

DEFAULT_PORT = 8765


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
    clock: SimClock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.clock = SimClock(self.speed, paused=self.paused)

    def real(self, simulated_seconds: float) -> float:
        """Seconds on the sandbox's clock (real ones while it runs) for simulated seconds."""
        return simulated_seconds / self.speed
