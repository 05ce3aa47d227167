"""Calling a chute: where a call goes, and the call itself.

The platform routes a call by host name: a chute answers at its slug under the platform's
domain, `https://<slug>.chutes.ai/<path>`, to the caller's API key (or hotkey signature).
This module is the one place that rule lives. Where a chute answers comes from a template
with `{slug}` in it, `$CHUTES_TUI_INVOKE_URL` (or `ChutesClient(invoke_url=...)`), or else
from the API URL: `api.X` becomes `<slug>.X`; a loopback API (the sandbox) becomes
`<slug>.localhost:<port>`; any other host gets `<slug>.` in front. Names under `localhost`
are loopback (RFC 6761), so such a call is sent to the API's own address with the chute's
name in the Host header, whatever the resolver makes of them.

A call is never retried (it is billed). Replies: JSON, or chunks as they arrive (event-stream
events, or network reads of any other stream), timed from sending.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chutes_tui.client.errors import (
    AuthError,
    ChuteCold,
    ChutesError,
    InvocationFailed,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
    error_for,
)

INVOKE_URL_ENV = "CHUTES_TUI_INVOKE_URL"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NO_CHUTE = "No matching chute found!"
NO_CORD = "No matching cord found!"
STREAM_ERROR = "Unhandled exception during response stream"
INVOKE_READ = 600.0  # seconds a chute may stay silent while it works on a call
BODY_METHODS = ("POST", "PUT", "PATCH")


def is_slug(text: str) -> bool:
    return bool(SLUG_RE.match(text))


def default_template(api_url: str) -> str:
    """Where chutes answer, from the API URL (see the module's docstring)."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    if host in LOOPBACK:
        domain = "localhost"
    elif host.startswith("api."):
        domain = host.removeprefix("api.")
    else:
        domain = host
    return f"{parts.scheme or 'https'}://{{slug}}.{domain}{port}"


def template_for(
    api_url: str, template: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The template in force: the one given, else `$CHUTES_TUI_INVOKE_URL`, else the default."""
    chosen = template or (os.environ if env is None else env).get(INVOKE_URL_ENV, "").strip()
    if not chosen:
        return default_template(api_url)
    if "{slug}" not in chosen or not urlsplit(chosen.replace("{slug}", "x")).hostname:
        raise ValidationFailed(
            f"{INVOKE_URL_ENV} must be a URL with {{slug}} in it, like"
            f" https://{{slug}}.chutes.ai: {chosen!r}"
        )
    return chosen.rstrip("/")


@dataclass(frozen=True)
class InvokeTarget:
    """Where a chute answers: `url` as people write it; `send_to` where requests go, with
    `host` as the Host header when the two differ (a name under `localhost`)."""

    url: str
    send_to: str
    host: str | None = None

    def request_url(self, path: str) -> str:
        return f"{self.send_to}/{path.lstrip('/')}"


def invoke_target(slug: str, api_url: str, template: str | None = None) -> InvokeTarget:
    """The platform's rule: a chute answers at its slug under the platform's domain."""
    url = template_for(api_url, template).replace("{slug}", slug)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != "localhost" and not host.endswith(".localhost"):
        return InvokeTarget(url, url)
    api = urlsplit(api_url)
    loopback = api.hostname if api.hostname in LOOPBACK else "127.0.0.1"
    address = f"[{loopback}]" if ":" in loopback else loopback
    port = f":{parts.port}" if parts.port else ""
    send_to = f"{parts.scheme}://{address}{port}{parts.path}".rstrip("/")
    return InvokeTarget(url, send_to, f"{host}{port}")


# --- what a call gives ---------------------------------------------------------------------


@dataclass(frozen=True)
class InvokeChunk:
    """One piece of a streamed reply: an event's data, or what one network read brought."""

    text: str
    elapsed: float  # seconds since the call was sent


@dataclass
class InvokeResult:
    """A finished call: status, timings and the reply (JSON, text, or the chunks)."""

    url: str
    method: str
    status: int = 0
    latency: float = 0.0  # seconds from sending to the last byte
    first_chunk: float | None = None  # seconds to the first chunk of a streamed reply
    streamed: bool = False
    body: Any = None  # the JSON reply, or its text when it is not JSON
    chunks: list[str] = field(default_factory=list)
    content_type: str = ""
    invocation_id: str | None = None
    error: str | None = None  # an error the stream ended with

    def summary(self) -> dict[str, Any]:
        """The call as one JSON-ready record (headless `--json`, the call history)."""
        record: dict[str, Any] = {
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "latency_seconds": round(self.latency, 4),
            "streamed": self.streamed,
            "invocation_id": self.invocation_id,
        }
        if self.streamed:
            record["first_chunk_seconds"] = (
                round(self.first_chunk, 4) if self.first_chunk is not None else None
            )
            record["chunks"] = self.chunks
        else:
            record["reply"] = self.body
        if self.error:
            record["error"] = self.error
        return record


def stream_error(text: str) -> str | None:
    """The error a chunk carries, if it is the platform's error chunk (`{"error": ...}`)."""
    if '"error"' not in text:
        return None
    candidate = text.strip().removeprefix("data:").strip()
    try:
        payload = json.loads(candidate)
    except ValueError:
        return None
    if isinstance(payload, dict) and payload.get("error"):
        return str(payload["error"])
    return None


def call_error(status: int, detail: Any, where: str, retry_after: float | None) -> ChutesError:
    """A refused call, in words that say what to do."""
    base = error_for(status, detail, retry_after)
    message = base.message
    if status == 404 and message == NO_CHUTE:
        from chutes_tui.client.errors import NoAccess

        return NoAccess(
            f"{where}: no access (the API says {NO_CHUTE!r}): the chute is not yours, not"
            " shared with you and not public",
            status,
        )
    if status == 404 and message == NO_CORD:
        return NotFound(f"{where}: the chute has no cord for this method and path", status)
    if status == 404:
        return NotFound(f"{where}: no chute answers there ({message})", status)
    if status == 503:
        return ChuteCold(
            f"{where}: the chute is cold, no instance can answer ({message}); warm it up"
            " first (`warmup CHUTE --wait`, or w in the live view)",
            status,
        )
    if isinstance(base, RateLimited):
        return InvocationFailed(
            f"{where}: the chute's instances are all busy ({message}); try again", status
        )
    if isinstance(base, ServerError):
        return InvocationFailed(f"{where}: the chute failed: {message}", status)
    if isinstance(base, AuthError | ValidationFailed):
        return type(base)(f"{where}: {message}", status)
    return base


class ChunkSplitter:
    """Event-stream replies split into events (`data:` taken off); other streams give one
    chunk per network read. What is left at the end (no blank line after it) is a chunk too."""

    def __init__(self, events: bool) -> None:
        self.events = events
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        if not self.events:
            return [text] if text else []
        self._buffer += text.replace("\r\n", "\n")
        *complete, self._buffer = self._buffer.split("\n\n")
        return [chunk for block in complete if (chunk := _event_data(block))]

    def finish(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        if not rest.strip():
            return []
        return [_event_data(rest) or rest.strip()] if self.events else [rest]


def _event_data(block: str) -> str:
    """An event's `data:` lines joined; a block without any is kept whole (raw text)."""
    lines = [line for line in block.split("\n") if line and not line.startswith(":")]
    data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
    return "\n".join(data) if data else "\n".join(lines)


def elapsed_since(started: float) -> float:
    return time.monotonic() - started


async def read_chunks(
    stream: AsyncIterator[str], events: bool, started: float
) -> AsyncIterator[InvokeChunk]:
    """Chunks of a reply as they arrive, each with the seconds since `started`."""
    splitter = ChunkSplitter(events)
    async for text in stream:
        for chunk in splitter.feed(text):
            yield InvokeChunk(chunk, elapsed_since(started))
    for chunk in splitter.finish():
        yield InvokeChunk(chunk, elapsed_since(started))
