"""Server-sent events as the Chutes API sends them.

Three framings share one decoder: blank-line-terminated events (warmup, instance logs),
single-newline lines (image build logs), and bare lines such as `DONE`. Every `data:` line
is one event (the API never splits one event over several `data:` lines). `.` lines and
`:` comments are keep-alives. Chunks may end anywhere, even inside a UTF-8 character.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from chutes_tui.client.errors import StreamBroken, StreamIdle

KEEPALIVE = "keepalive"
LINE = "line"


@dataclass(frozen=True)
class ServerEvent:
    """One event: `kind` is None for a `data:` event, `keepalive`, or `line` for a bare line."""

    data: str
    kind: str | None = None
    event: str | None = None

    @property
    def is_data(self) -> bool:
        return self.kind is None

    def json(self) -> Any:
        return json.loads(self.data)


class SseDecoder:
    """Incremental decoder: feed it bytes, get complete events back."""

    def __init__(self) -> None:
        self._pending = b""
        self._event_name: str | None = None

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        data = self._pending + chunk
        hold = b""
        if data.endswith(b"\r"):
            # A trailing CR may be the first half of a CRLF split across chunks.
            data, hold = data[:-1], b"\r"
        *lines, rest = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._pending = rest + hold
        events = []
        for raw in lines:
            event = self._line(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    @property
    def partial(self) -> bool:
        """True when the stream stopped in the middle of a line (a held CR ends its line)."""
        return bool(self._pending.strip()) and not self._pending.endswith(b"\r")

    def finish(self) -> list[ServerEvent]:
        """Events still held at the end of the stream: a last line ended by a lone CR."""
        return self.feed(b"\n") if self._pending.endswith(b"\r") else []

    def _line(self, line: str) -> ServerEvent | None:
        if not line:
            self._event_name = None
            return None
        if line == "." or line.startswith(":"):
            return ServerEvent("", KEEPALIVE)
        field, sep, value = line.partition(":")
        if not sep:
            return ServerEvent(line, LINE)
        value = value.removeprefix(" ")
        if field == "data":
            # Each data line is one event here, so a name applies to one line only.
            name, self._event_name = self._event_name, None
            return ServerEvent(value, None, name)
        if field == "event":
            self._event_name = value
        return None


def decode_all(chunks: Iterable[bytes]) -> list[ServerEvent]:
    """Decode a whole stream at once (tests and small replies)."""
    decoder = SseDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    events.extend(decoder.feed(b"\n") if decoder.partial else decoder.finish())
    return events


async def iter_event_batches(
    chunks: AsyncIterator[bytes], strict: bool = True, idle: float | None = None
) -> AsyncGenerator[list[ServerEvent], None]:
    """Events from a byte stream, one list per chunk that completed any.

    A stream cut mid-line raises StreamBroken when `strict`. With `idle`, a stream that
    completes no event, not even a keep-alive, for `idle` seconds raises StreamIdle: bytes
    trickled without ever ending a line do not keep it alive. The time the reader spends
    between two batches does not count.
    """
    decoder = SseDecoder()
    source = aiter(chunks)
    loop = asyncio.get_running_loop()
    quiet_until = None if idle is None else loop.time() + idle
    while True:
        guard = asyncio.timeout_at(quiet_until)
        try:
            async with guard:
                chunk = await anext(source)
        except StopAsyncIteration:
            break
        except TimeoutError:
            if not guard.expired():
                raise
            raise StreamIdle(
                f"no event and no keep-alive for {idle:g} s: the stream is taken as broken"
            ) from None
        events = decoder.feed(chunk)
        if events:
            yield events
            if idle is not None:
                quiet_until = loop.time() + idle
    tail = decoder.finish()
    if decoder.partial:
        if strict:
            if tail:
                yield tail
            raise StreamBroken("the event stream was cut in the middle of an event")
        tail += decoder.feed(b"\n")
    if tail:
        yield tail


async def iter_events(
    chunks: AsyncIterator[bytes], strict: bool = True
) -> AsyncGenerator[ServerEvent, None]:
    """Events from a byte stream, one at a time (see `iter_event_batches`)."""
    async for batch in iter_event_batches(chunks, strict):
        for event in batch:
            yield event
