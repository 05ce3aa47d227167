"""What a chute answers when it is called, what the call costs, and the traffic it makes.

Replies are deterministic, made from the request alone: a plain cord echoes its body, a
streaming cord sends the body's words back one chunk at a time, and an OpenAI-style path of
an LLM template answers in OpenAI's shapes. A body with a `"raise"` key makes the chute fail
with that text: a 500 for a plain call, an error chunk after two chunks for a stream.

A call takes simulated GPU time (`CALL_SECONDS`, or `FIRST_CHUNK_SECONDS` then
`CHUNK_SECONDS` per chunk) and costs that time at the chute's hourly price, as the platform
prices calls that have no per-token or per-step price.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

CALL_SECONDS = 0.5
FIRST_CHUNK_SECONDS = 0.4
CHUNK_SECONDS = 0.25
MAX_CHUNKS = 8
FAIL_KEY = "raise"
FAILED_CHUNKS = 2  # chunks a failing stream sends before its error
LLM_TEMPLATES = ("vllm", "sglang")
WINDOWS = {"5m": 300.0, "15m": 900.0, "1h": 3600.0}  # simulated seconds


def match_cord(spec: dict[str, Any], method: str, path: str, stream: bool) -> dict[str, Any] | None:
    """The cord a call reaches: its public path and method; an LLM template also matches
    the stream flag (its streaming and plain cords share a path)."""
    llm = spec.get("standard_template") in LLM_TEMPLATES
    for cord in spec.get("cords") or ():
        if cord.get("public_api_path") != path:
            continue
        if (cord.get("public_api_method") or "POST").upper() != method:
            continue
        if not llm or bool(cord.get("stream")) == stream:
            return cord
    return None


@dataclass(frozen=True)
class Reply:
    """A planned answer: one JSON body, or chunks each sent after some simulated seconds."""

    stream: bool
    body: Any = None
    chunks: tuple[tuple[float, str], ...] = ()
    error: str | None = None  # the chute raised: a 500, or a last error chunk in a stream
    media_type: str = "application/json"
    seconds: float = CALL_SECONDS  # GPU time, what the call is billed for

    @property
    def ok(self) -> bool:
        return self.error is None


def _words(value: Any) -> list[str]:
    """Every word of every string in a JSON value, in order."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, dict):
        return [word for item in value.values() for word in _words(item)]
    if isinstance(value, list):
        return [word for item in value for word in _words(item)]
    return []


def _prompt(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        if isinstance(content, str):
            return content
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


def _chunked(pieces: list[str]) -> tuple[tuple[float, str], ...]:
    return tuple(
        (FIRST_CHUNK_SECONDS if index == 0 else CHUNK_SECONDS, piece)
        for index, piece in enumerate(pieces)
    )


def _event(payload: Any) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def plan_reply(
    chute: dict[str, Any], cord: dict[str, Any], body: Any, stream: bool, path: str
) -> Reply:
    """The answer of `cord` to `body`; `stream` when the call asked for or the cord streams."""
    spec = chute["spec"]
    fields = body if isinstance(body, dict) else {}
    failure = str(fields[FAIL_KEY]) if FAIL_KEY in fields else None
    llm = spec.get("standard_template") in LLM_TEMPLATES and path.startswith("/v1/")
    call_id = f"chatcmpl-{uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(body, sort_keys=True)).hex}"
    words = (_prompt(fields).split() if llm else _words(body))[:MAX_CHUNKS] or [cord["function"]]
    if llm:
        text = "echo: " + " ".join(words)
        usage = {"prompt_tokens": len(words) + 8, "completion_tokens": len(words) + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        plain: Any = {
            "id": call_id,
            "object": "chat.completion",
            "model": chute["name"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        pieces = [
            _event(
                {
                    "id": call_id,
                    "object": "chat.completion.chunk",
                    "model": chute["name"],
                    "choices": [{"index": 0, "delta": {"content": piece}}],
                }
            )
            for piece in ["echo:", *(f" {word}" for word in words)]
        ] + ["data: [DONE]\n\n"]
    else:
        plain = {"cord": cord["path"], "function": cord["function"], "echo": body}
        pieces = [_event({"index": index, "text": word}) for index, word in enumerate(words)]
    if not stream:
        return Reply(False, body=plain, error=failure)
    if not cord.get("stream"):  # a plain cord asked to stream: its one result, as one chunk
        pieces = [json.dumps(plain, separators=(",", ":"))]
    if failure is not None:
        pieces = pieces[:FAILED_CHUNKS]
    chunks = _chunked(pieces)
    seconds = sum(wait for wait, _ in chunks)
    return Reply(
        True, chunks=chunks, error=failure, media_type="text/event-stream", seconds=seconds
    )


def stream_error(message: str) -> str:
    """The platform's last chunk when a chute fails after its stream began."""
    return json.dumps({"error": f"Unhandled exception during response stream: {message}"})


# --- traffic, for /chutes/utilization ------------------------------------------------------


@dataclass
class _Call:
    start: float
    end: float | None = None  # None while it runs
    outcome: str = "running"  # ok, failed, limited


CALLS_KEPT = 10_000  # per chute: older calls are forgotten first, read or not


@dataclass
class _ChuteTraffic:
    calls: deque[_Call] = field(default_factory=lambda: deque(maxlen=CALLS_KEPT))
    busy: int = 0


class Traffic:
    """Calls per chute over the last simulated hour (times on the sandbox clock), in memory:
    like the platform's capacity log, it says how busy a chute has been lately."""

    def __init__(self) -> None:
        self._chutes: dict[str, _ChuteTraffic] = {}

    def _of(self, chute_id: str) -> _ChuteTraffic:
        traffic = self._chutes.get(chute_id)
        if traffic is None:
            traffic = self._chutes[chute_id] = _ChuteTraffic()
        return traffic

    def busy(self, chute_id: str) -> int:
        traffic = self._chutes.get(chute_id)
        return traffic.busy if traffic else 0

    def begin(self, chute_id: str, now: float) -> _Call:
        traffic = self._of(chute_id)
        call = _Call(now)
        traffic.calls.append(call)
        traffic.busy += 1
        return call

    def finish(self, chute_id: str, call: _Call, now: float, ok: bool) -> None:
        if call.end is not None:
            return
        call.end, call.outcome = now, "ok" if ok else "failed"
        self._of(chute_id).busy -= 1

    def limited(self, chute_id: str, now: float) -> None:
        self._of(chute_id).calls.append(_Call(now, now, "limited"))

    def chute_ids(self) -> list[str]:
        return list(self._chutes)

    def prune(self, before: float) -> None:
        """Forget calls that ended before `before`."""
        for chute_id, traffic in list(self._chutes.items()):
            calls = traffic.calls
            while calls and calls[0].end is not None and calls[0].end < before:
                calls.popleft()
            if not calls and not traffic.busy:
                del self._chutes[chute_id]

    def figures(
        self, chute_id: str, now: float, clock_seconds: dict[str, float], capacity: int
    ) -> dict[str, Any]:
        """Requests, completed and rate-limited requests and the busy ratio per window."""
        traffic = self._chutes.get(chute_id) or _ChuteTraffic()
        slots = max(capacity, 1)
        figures: dict[str, Any] = {
            "utilization_current": round(min(1.0, traffic.busy / slots), 4) if capacity else 0.0
        }
        for name, span in clock_seconds.items():
            since = now - span
            started = [call for call in traffic.calls if call.start >= since]
            limited = sum(1 for call in started if call.outcome == "limited")
            busy = sum(
                max(
                    0.0,
                    min(call.end if call.end is not None else now, now) - max(call.start, since),
                )
                for call in traffic.calls
                if call.outcome != "limited"
            )
            figures[f"utilization_{name}"] = round(min(1.0, busy / (span * slots)), 4)
            figures[f"total_requests_{name}"] = len(started)
            figures[f"completed_requests_{name}"] = sum(
                1 for call in started if call.outcome == "ok"
            )
            figures[f"rate_limited_requests_{name}"] = limited
            figures[f"rate_limit_ratio_{name}"] = (
                round(limited / len(started), 4) if started else 0.0
            )
        return figures
