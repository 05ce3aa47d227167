"""How long the client waits, from the environment: one rule for the dashboard and headless.

    CHUTES_TUI_DEADLINE         seconds one request may take, sending to last byte (30)
    CHUTES_TUI_STREAM_IDLE      seconds a stream may go without an event or keep-alive (60)
    CHUTES_TUI_MAX_RETRY_AFTER  longest Retry-After waited out; longer gives up at once (60)

`0` turns a limit off (a deploy never has a deadline anyway: it is never sent twice).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from chutes_tui.client.errors import ValidationFailed

LIMITS = {
    "CHUTES_TUI_DEADLINE": "deadline",
    "CHUTES_TUI_STREAM_IDLE": "stream_idle",
    "CHUTES_TUI_MAX_RETRY_AFTER": "max_retry_after",
}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`ChutesClient` keyword arguments for the limits the environment sets."""
    environ = os.environ if environ is None else environ
    chosen: dict[str, Any] = {}
    for variable, keyword in LIMITS.items():
        text = environ.get(variable, "").strip()
        if not text:
            continue
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ValidationFailed(f"{variable} must be a number of seconds (0 for none): {text!r}")
        if keyword == "max_retry_after":
            chosen[keyword] = seconds if seconds else math.inf
        else:
            chosen[keyword] = seconds or None
    return chosen
