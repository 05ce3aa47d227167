"""The last calls made from the call screen, per chute: kept in memory for the session (the
request bodies are the user's own data; no key or header is ever kept), to send again."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

CALLS_PER_CHUTE = 20


@dataclass(frozen=True)
class CallRecord:
    """One call: which cord, what was sent, and how it went."""

    chute_id: str
    method: str
    path: str
    body: str  # the JSON text sent (empty for a call without a body)
    status: int | None  # None: refused before any reply (unreachable, ...)
    outcome: str  # `200 in 0.41 s`, or the error in a few words
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400 and "error" not in self.outcome


class CallHistory:
    """Bounded per chute; the newest first."""

    def __init__(self, per_chute: int = CALLS_PER_CHUTE) -> None:
        self.per_chute = per_chute
        self._calls: dict[str, deque[CallRecord]] = {}

    def add(self, record: CallRecord) -> None:
        calls = self._calls.get(record.chute_id)
        if calls is None:
            calls = self._calls[record.chute_id] = deque(maxlen=self.per_chute)
        calls.appendleft(record)

    def of(self, chute_id: str) -> list[CallRecord]:
        return list(self._calls.get(chute_id, ()))
