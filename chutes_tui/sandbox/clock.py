"""The sandbox's simulated clock: virtual wall time that tests can stop and move on.

By default it runs with real time, so `--speed` alone decides how fast instances progress.
Paused, virtual time stands still; `advance` jumps it by a span of simulated seconds, and
whatever falls due takes effect at the simulator's next tick. Only the simulation reads it;
signatures and stored timestamps stay on real time.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

# How far past its start a clock may be advanced, in simulated seconds (about 31,700 years):
# far beyond it, the simulation's sums (ages times speed, costs) stop being finite numbers.
MAX_SIMULATED = 1e12


class SimClock:
    """Epoch seconds as the simulation sees them; one simulated second is 1/speed of them."""

    def __init__(
        self, speed: float, paused: bool = False, source: Callable[[], float] = time.time
    ) -> None:
        self.speed = speed
        self._source = source
        self._lock = threading.Lock()  # a test thread may steer while the server thread reads
        self._origin = source()
        self._offset = 0.0  # virtual minus real, while running
        self._stopped_at: float | None = self._origin if paused else None

    def now(self) -> float:
        with self._lock:
            return self._now()

    def _now(self) -> float:
        if self._stopped_at is not None:
            return self._stopped_at
        return self._source() + self._offset

    @property
    def paused(self) -> bool:
        return self._stopped_at is not None

    def pause(self) -> None:
        with self._lock:
            if self._stopped_at is None:
                self._stopped_at = self._now()

    def resume(self) -> None:
        """Run on from where it stood; the paused span is skipped, not caught up."""
        with self._lock:
            if self._stopped_at is not None:
                self._offset = self._stopped_at - self._source()
                self._stopped_at = None

    def advance(self, simulated_seconds: float) -> None:
        """Jump forward by a span of simulated time, paused or not (at most MAX_SIMULATED
        past the start)."""
        if not (math.isfinite(simulated_seconds) and simulated_seconds >= 0):
            raise ValueError("the clock only moves forward, by a finite span")
        step = simulated_seconds / self.speed
        with self._lock:
            if not (self._now() + step - self._origin) * self.speed <= MAX_SIMULATED:
                raise ValueError(
                    f"the clock goes at most {MAX_SIMULATED:g} simulated seconds past its start"
                )
            if self._stopped_at is not None:
                self._stopped_at += step
            else:
                self._offset += step

    def simulated_seconds(self) -> float:
        """Simulated time since the clock started."""
        return (self.now() - self._origin) * self.speed

    def state(self) -> dict[str, Any]:
        return {
            "simulated_seconds": self.simulated_seconds(),
            "speed": self.speed,
            "paused": self.paused,
        }
