"""Waiting on the sandbox in simulated time, never on a wall-clock budget.

A wait's budget is simulated seconds of the sandbox's clock: it fails once the clock has
moved on that far without the condition holding. A test that pauses the clock and
advances it by exactly what a transition needs gives no budget at all; then only a
generous hang guard stops a test that would wait forever. The guard is no timing
assertion: a loaded machine is slow, never wrong.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from textual.pilot import Pilot

HANG_GUARD = 120.0  # wall seconds before a wait gives up as hung
POLL = 0.05  # wall seconds between two looks

T = TypeVar("T")


@dataclass(frozen=True)
class ClockState:
    simulated_seconds: float
    speed: float
    paused: bool


class SandboxClock(Protocol):
    """What `Sandbox` (in this process) and `Server` (a process of its own) offer."""

    def clock_state(self) -> ClockState: ...


class _Budget:
    """How far the clock and the wall have gone since a wait began."""

    def __init__(self, what: str, simulated: float | None, start: ClockState | None) -> None:
        self.what = what
        self.simulated = simulated
        self.start = start
        self.guard = time.monotonic() + HANG_GUARD

    def check(self, state: ClockState | None) -> None:
        if state is not None and self.start is not None and self.simulated is not None:
            moved = state.simulated_seconds - self.start.simulated_seconds
            if moved > self.simulated:
                raise AssertionError(
                    f"no {self.what} within {self.simulated:g} simulated seconds"
                    f" (the clock moved {moved:.1f})"
                )
        if time.monotonic() > self.guard:
            clock = "" if state is None else f"; clock {'paused' if state.paused else 'running'}"
            raise AssertionError(f"no {self.what}: hung for {HANG_GUARD:g} s{clock}")


def wait_simulated(
    clock: SandboxClock,
    predicate: Callable[[], T],
    what: str,
    simulated: float | None = None,
) -> T:
    """The predicate's first true value; `simulated` bounds the clock's progress meanwhile."""
    budget = _Budget(what, simulated, clock.clock_state() if simulated is not None else None)
    while True:
        value = predicate()
        if value:
            return value
        budget.check(clock.clock_state() if simulated is not None else None)
        time.sleep(POLL)


async def pilot_wait_simulated(
    pilot: Pilot,
    clock: SandboxClock,
    predicate: Callable[[], object],
    what: str,
    simulated: float | None = None,
) -> None:
    """`wait_simulated` for an app under Pilot: the app runs while the test waits."""

    def state() -> Awaitable[ClockState]:
        return asyncio.to_thread(clock.clock_state)  # never block the app's loop on a read

    budget = _Budget(what, simulated, await state() if simulated is not None else None)
    while not predicate():
        budget.check(await state() if simulated is not None else None)
        await pilot.pause(POLL)
