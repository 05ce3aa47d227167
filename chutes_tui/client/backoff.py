"""How long to wait before a retry or a reopen: exponential, jittered, capped.

One policy for request retries and for stream reopens, so a server that keeps failing, or
keeps closing a stream at once, is asked less and less often instead of in a tight loop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

HEALTHY_AFTER = 30.0


class Backoff:
    """Delays `base`, `2·base`, `4·base` … up to `cap`, each drawn from its upper half."""

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 8.0,
        jitter: Callable[[float, float], float] | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter or random.uniform
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        """The longest delay before retry `attempt` (counted from 0)."""
        return min(self.cap, self.base * 2 ** min(attempt, 64))

    def next(self, hint: float | None = None) -> float:
        """The delay before the next try; a server's `hint` wins but still counts a step."""
        ceiling = self.ceiling(self.attempt)
        self.attempt += 1
        jittered = self.jitter(ceiling / 2, ceiling)
        return jittered if hint is None else hint

    def reset(self) -> None:
        self.attempt = 0


class StreamBackoff(Backoff):
    """Backoff for reopening a stream: it starts over only after a stream lived a while.

    A stream that sends one event and closes must not reset the delay, or it is reopened
    in a tight loop; one that delivered events for `healthy_after` seconds was working.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 8.0,
        jitter: Callable[[float, float], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        healthy_after: float = HEALTHY_AFTER,
    ) -> None:
        super().__init__(base, cap, jitter)
        self.clock = clock
        self.healthy_after = healthy_after
        self._first_data: float | None = None

    def opened(self) -> None:
        """A new stream is about to be read."""
        self._first_data = None

    def delivered(self) -> None:
        """The current stream sent something."""
        if self._first_data is None:
            self._first_data = self.clock()

    def next(self, hint: float | None = None) -> float:
        if self._first_data is not None and self.clock() - self._first_data >= self.healthy_after:
            self.reset()
        self._first_data = None
        return super().next(hint)
