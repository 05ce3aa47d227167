"""Nothing waits without end: deadlines, idle streams, reopen backoff and Retry-After.

Faults come from httpx.MockTransport replies and from a small server on a loopback port
that trickles bytes or goes silent. Retry and reopen waits go through an injected sleep that
moves a simulated clock; only the idle and deadline limits are real, and small (tenths of a
second), and no test asserts how long anything took: a hang is caught by a generous guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import httpx
import pytest

from chutes_tui.client.api import MAX_RETRY_AFTER, ChutesClient, RetryNotice, StreamNotice
from chutes_tui.client.errors import (
    ExitCode,
    RateLimited,
    StreamBroken,
    StreamIdle,
    TimedOut,
)
from chutes_tui.client.signing import Credentials
from chutes_tui.config import Connection
from tests.test_client_faults import (
    API_KEY,
    COLD,
    CONNECTED,
    HOT,
    INSTANCE,
    USER,
    Feed,
    Recorder,
    chute_json,
    connection,
    deploy_payload,
    detail,
    log_events,
    replies,
    sse,
)

GUARD = 60.0  # wall seconds before a call counts as hung: a guard, not a measurement
T = TypeVar("T")


async def guarded(call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, GUARD)


async def collect(
    feed: Any, until: Callable[[list[Any]], bool] | None = None, into: list[Any] | None = None
) -> list[Any]:
    """A stream's items, until `until` says enough; `into` keeps them if the stream raises."""
    items: list[Any] = [] if into is None else into
    async with aclosing(feed) as stream:
        async for item in stream:
            items.append(item)
            if until is not None and until(items):
                break
    return items


class SimClock:
    """A clock that only the client's injected sleep moves; it records every wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let the loop run, so a hang guard can still fire


@pytest.fixture
async def make():
    made: list[ChutesClient] = []

    def build(
        handler: Callable[[httpx.Request], Any], **options: Any
    ) -> tuple[ChutesClient, Recorder, SimClock]:
        recorder, clock = Recorder(handler), SimClock()
        client = ChutesClient(
            options.pop("connection", None) or connection(),
            transport=httpx.MockTransport(recorder),
            sleep=clock.sleep,
            clock=clock,
            **options,
        )
        made.append(client)
        return client, recorder, clock

    yield build
    for client in made:
        await client.aclose()


class Trickle(httpx.AsyncByteStream):
    """A body that never ends: `chunk` again and again, a moment apart."""

    def __init__(self, chunk: bytes, every: float = 0.01) -> None:
        self.chunk = chunk
        self.every = every

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield self.chunk
            await asyncio.sleep(self.every)

    async def aclose(self) -> None:
        pass


# a whole request has a deadline


async def test_a_reply_trickled_byte_by_byte_hits_the_deadline(make):
    client, seen, clock = make(
        lambda request: httpx.Response(200, stream=Trickle(b" ")), deadline=0.2
    )
    with pytest.raises(TimedOut) as caught:
        await guarded(client.me())
    assert caught.value.message == (
        "GET /users/me: no complete reply from the Chutes API within 0.2 s"
    )
    assert caught.value.exit_code == ExitCode.TIMED_OUT
    assert len(seen.requests) == 1 and clock.delays == []  # a timeout is not retried


async def test_a_reply_that_never_comes_hits_the_deadline(make):
    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client, _, _ = make(silent, deadline=0.2)
    with pytest.raises(TimedOut, match=r"GET /chutes/hello-world: .* within 0\.2 s"):
        await guarded(client.get_chute("hello-world"))


async def test_a_deploy_has_no_deadline(make):
    """The platform checks image and code before it answers: a deploy may take long."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(200, json=chute_json())

    client, seen, _ = make(slow, deadline=0.05)
    chute = await guarded(client.deploy(deploy_payload(), accept_fee=True))
    assert chute.name == "test-chute" and len(seen.requests) == 1


Body = Callable[[asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers with fixed head bytes, then `body`.

    A body runs until the connection fails or the server stops (its event is set).
    """

    def __init__(self, head: bytes, body: Body) -> None:
        self.head = head
        self.body = body
        self.stop = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()
        self.stop.set()
        await asyncio.gather(*self.tasks)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.head)
            await writer.drain()
            await self.body(writer, self.stop)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def trickle(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    while not stop.is_set():
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.02)


def loopback_client(base_url: str, **options: Any) -> ChutesClient:
    return ChutesClient(
        Connection(base_url=base_url, credentials=Credentials(api_key=API_KEY)), **options
    )


async def test_a_real_server_trickling_bytes_cannot_hold_a_request():
    """httpx's read timeout restarts with every byte; the deadline does not."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    async with (
        LoopbackServer(head, trickle) as url,
        loopback_client(url, timeout=0.5, deadline=1.0) as client,
    ):
        with pytest.raises(TimedOut) as caught:
            await guarded(client.me())
    assert caught.value.message == "GET /users/me: no complete reply from the Chutes API within 1 s"


# a stream may be long, but not silent

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


async def test_a_real_stream_gone_silent_is_broken():
    async def one_cold_then_silence(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(COLD), COLD))
        await writer.drain()
        await stop.wait()

    async with (
        LoopbackServer(SSE_HEAD, one_cold_then_silence) as url,
        loopback_client(url, stream_idle=0.2) as client,
    ):
        events: list[Any] = []
        with pytest.raises(StreamIdle) as caught:
            await guarded(collect(client.warmup("hello-world"), into=events))
    assert [event.status for event in events] == ["cold"]
    assert caught.value.message == (
        "GET /chutes/warmup/hello-world: no event and no keep-alive for 0.2 s:"
        " the stream is taken as broken"
    )
    assert isinstance(caught.value, StreamBroken)


async def test_a_stream_trickling_bytes_that_never_end_an_event_is_broken(make):
    """Bytes alone keep nothing alive: only a whole event or a keep-alive does."""
    client, _, _ = make(
        lambda request: httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, stream=Trickle(b"d")
        ),
        stream_idle=0.2,
    )
    with pytest.raises(StreamIdle, match=r"no event and no keep-alive for 0\.2 s"):
        await guarded(collect(client.warmup("hello-world")))


async def test_a_stream_that_never_opens_is_broken(make):
    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client, _, _ = make(silent, stream_idle=0.2)
    with pytest.raises(StreamIdle) as caught:
        await guarded(collect(client.warmup("hello-world")))
    assert caught.value.message == (
        "GET /chutes/warmup/hello-world: no reply within 0.2 s of opening the stream"
    )


class Paced(httpx.AsyncByteStream):
    """Chunks with a pause before each but the first."""

    def __init__(self, pause: float, *chunks: bytes) -> None:
        self.pause = pause
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index:
                await asyncio.sleep(self.pause)
            yield chunk

    async def aclose(self) -> None:
        pass


async def test_the_idle_limit_counts_from_the_last_event_not_from_the_start(make):
    keepalive = b".\n\n"
    body = Paced(0.3, COLD, keepalive, COLD, keepalive, HOT)  # 1.2 s in all, 0.3 s gaps
    client, _, _ = make(
        replies(httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=body)),
        stream_idle=1.0,
    )
    statuses = [event.status for event in await guarded(collect(client.warmup("hello-world")))]
    assert statuses == ["cold", "cold", "hot"]


async def test_a_one_shot_log_read_of_a_silent_stream_fails_cleanly(make):
    client, seen, clock = make(
        replies(sse(CONNECTED, log_events("one"), hang=True)), stream_idle=0.2
    )
    lines: list[Any] = []
    with pytest.raises(StreamIdle):
        logs = client.instance_logs(INSTANCE, backfill=100, follow=False)
        await guarded(collect(logs, into=lines))
    assert lines == ["one"]
    assert len(seen.requests) == 1 and clock.delays == []


async def test_a_silent_log_stream_is_reopened(make):
    client, seen, clock = make(
        replies(
            sse(CONNECTED, log_events("one"), hang=True),
            sse(CONNECTED, log_events("two"), hang=True),
            detail(404, "Instance not found."),
        ),
        stream_idle=0.2,
    )
    items = await guarded(collect(client.log_feed(INSTANCE, backfill=0)))
    lines = [line for item in items if isinstance(item, list) for line in item]
    notices = [item for item in items if isinstance(item, StreamNotice)]
    assert lines == ["one", "two"]
    assert [notice.kind for notice in notices] == ["retrying", "connected", "retrying", "gone"]
    assert "no event and no keep-alive for 0.2 s" in notices[0].message
    assert len(seen.requests) == 3 and len(clock.delays) == 2


async def test_a_silent_warmup_stream_is_reopened(make):
    client, seen, _ = make(replies(sse(COLD, hang=True), sse(COLD, HOT)), stream_idle=0.2)
    items = await guarded(collect(client.warmup_feed("hello-world")))
    kinds = [item.kind if isinstance(item, StreamNotice) else item.status for item in items]
    assert kinds == ["cold", "retrying", "cold", "hot"]
    assert len(seen.requests) == 2


# reopening waits longer each time


def within_backoff(delays: list[float], base: float, cap: float) -> bool:
    """Each delay in its jitter range: the upper half of min(cap, base·2ⁿ)."""
    for index, delay in enumerate(delays):
        ceiling = min(cap, base * 2**index)
        if not ceiling / 2 <= delay <= ceiling:
            return False
    return True


def most_reopens(span: float, base: float, cap: float) -> int:
    """The most reopens backoff allows in `span` simulated seconds: every delay the shortest."""
    waited, count = 0.0, 0
    while waited < span:
        waited += min(cap, base * 2**count) / 2
        count += 1
    return count + 1


SPAN = 300.0  # simulated seconds


async def test_a_warmup_stream_closed_after_each_event_is_reopened_ever_more_slowly(make):
    client, seen, clock = make(lambda request: sse(COLD), backoff=0.5, max_backoff=8.0)
    items = await guarded(
        collect(client.warmup_feed("hello-world"), until=lambda items: clock.now >= SPAN)
    )
    assert within_backoff(clock.delays, 0.5, 8.0), clock.delays
    assert clock.delays[:5] == sorted(clock.delays[:5])  # 0.5, 1, 2, 4, 8: ranges apart
    assert max(clock.delays) <= 8.0
    assert len(seen.requests) <= most_reopens(SPAN, 0.5, 8.0)  # 78; without backoff ~800
    notices = [item for item in items if isinstance(item, StreamNotice)]
    assert all(notice.kind == "retrying" for notice in notices)
    assert [notice.delay for notice in notices] == clock.delays


async def test_a_log_stream_closed_after_each_line_is_reopened_ever_more_slowly(make):
    client, seen, clock = make(
        lambda request: sse(CONNECTED, log_events("a line")), backoff=0.5, max_backoff=8.0
    )
    await guarded(collect(client.log_feed(INSTANCE), until=lambda items: clock.now >= SPAN))
    assert within_backoff(clock.delays, 0.5, 8.0), clock.delays
    assert len(seen.requests) <= most_reopens(SPAN, 0.5, 8.0)


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(sse(CONNECTED, log_events("a line"), b'data: {"lo'), id="cut"),
        pytest.param(
            sse(CONNECTED, log_events("a line"), error=httpx.RemoteProtocolError("reset")),
            id="dropped",
        ),
    ],
)
async def test_a_log_stream_that_breaks_after_a_line_is_reopened_ever_more_slowly(make, broken):
    """Each stream says something before it breaks, so no attempt limit ever stops this."""
    feed = broken.stream

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers=broken.headers, stream=Feed(*feed.chunks, error=feed.error)
        )

    client, seen, clock = make(handler, backoff=0.5, max_backoff=4.0)
    await guarded(
        collect(client.log_feed(INSTANCE, attempts=5), until=lambda items: clock.now >= SPAN)
    )
    assert len(clock.delays) > 5  # more reopens than `attempts`: each stream said something
    assert within_backoff(clock.delays, 0.5, 4.0), clock.delays
    assert len(seen.requests) <= most_reopens(SPAN, 0.5, 4.0)


class Lasting(Feed):
    """A stream that delivers its chunks over `seconds` of the simulated clock, then ends."""

    def __init__(self, clock: SimClock, seconds: float, *chunks: bytes) -> None:
        super().__init__(*chunks)
        self.clock = clock
        self.seconds = seconds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        self.clock.now += self.seconds


async def test_backoff_starts_over_after_a_stream_that_worked_for_a_while(make):
    opened: list[int] = []
    clock_box: list[SimClock] = []

    def handler(request: httpx.Request) -> httpx.Response:
        opened.append(1)
        if len(opened) == 4:  # delivers events for two minutes, then the server closes it
            stream: httpx.AsyncByteStream = Lasting(clock_box[0], 120.0, COLD, COLD)
        elif len(opened) < 7:
            stream = Feed(COLD)
        else:
            stream = Feed(HOT)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=stream)

    client, _, clock = make(handler, backoff=0.5, max_backoff=8.0)
    clock_box.append(clock)
    await guarded(collect(client.warmup_feed("hello-world")))
    assert len(clock.delays) == 6
    assert within_backoff(clock.delays[:3], 0.5, 8.0)
    assert within_backoff(clock.delays[3:], 0.5, 8.0), clock.delays  # from the start again


# Retry-After: waited out when short, given up on at once when long


@pytest.mark.parametrize("status", [429, 503])
async def test_a_retry_after_longer_than_the_cap_gives_up_at_once(make, status):
    message = "Too many requests" if status == 429 else "Service unavailable"
    client, seen, clock = make(replies(detail(status, message, **{"Retry-After": "3600"})))
    with pytest.raises(RateLimited) as caught:
        await guarded(client.me())
    assert caught.value.message == (
        f"GET /users/me: {message} (HTTP {status}); the API asks to wait 3600 s;"
        " giving up (the longest chutes-tui waits is 60 s)"
    )
    assert caught.value.retry_after == 3600.0 and caught.value.status == status
    assert caught.value.exit_code == ExitCode.UNAVAILABLE == 8
    assert clock.delays == [] and len(seen.requests) == 1
    assert MAX_RETRY_AFTER == 60.0


@pytest.mark.parametrize("status", [429, 503])
async def test_a_short_retry_after_is_waited_out_and_said(make, status):
    heard: list[RetryNotice] = []
    client, seen, clock = make(
        replies(detail(status, "busy", **{"Retry-After": "5"}), httpx.Response(200, json=USER)),
        on_retry=heard.append,
    )
    assert (await guarded(client.me())).username == "demo"
    assert clock.delays == [5.0] and len(seen.requests) == 2
    [notice] = heard
    assert (notice.method, notice.path, notice.delay, notice.asked) == ("GET", "/users/me", 5, True)
    assert notice.message == (
        f"GET /users/me: busy (HTTP {status}); waiting 5 s as the API asks (retry 1 of 3)"
    )


async def test_every_retry_wait_is_said(make):
    heard: list[RetryNotice] = []
    client, _, clock = make(
        replies(
            httpx.ConnectError("Connection refused"),
            detail(502, "Bad gateway"),
            httpx.Response(200, json=USER),
        ),
        on_retry=heard.append,
    )
    await guarded(client.me())
    assert [notice.delay for notice in heard] == clock.delays
    assert [notice.asked for notice in heard] == [False, False]
    assert "cannot reach the API (Connection refused); retrying in" in heard[0].message
    assert heard[1].message.startswith("GET /users/me: Bad gateway (HTTP 502); retrying in")
    assert heard[1].message.endswith("(retry 2 of 3)")


async def test_the_retry_after_cap_is_configurable(make):
    client, _, clock = make(
        replies(detail(429, "slow", **{"Retry-After": "30"})), max_retry_after=10
    )
    with pytest.raises(RateLimited, match=r"asks to wait 30 s; giving up \(the longest .* 10 s\)"):
        await guarded(client.me())
    assert clock.delays == []
    client, _, clock = make(
        replies(detail(429, "slow", **{"Retry-After": "3600"}), httpx.Response(200, json=USER)),
        max_retry_after=7200,
    )
    await guarded(client.me())
    assert clock.delays == [3600.0]


@pytest.mark.parametrize("status", [429, 503])
async def test_a_stream_told_to_wait_too_long_gives_up_at_once(make, status):
    client, seen, clock = make(replies(detail(status, "later", **{"Retry-After": "3600"})))
    items: list[Any] = []
    with pytest.raises(RateLimited) as caught:
        await guarded(collect(client.warmup_feed("hello-world"), until=bool, into=items))
    assert caught.value.message == (
        f"later (HTTP {status}); the API asks to wait 3600 s;"
        " giving up (the longest chutes-tui waits is 60 s)"
    )
    assert items == [] and clock.delays == [] and len(seen.requests) == 1
    client, seen, clock = make(replies(detail(status, "later", **{"Retry-After": "3600"})))
    with pytest.raises(RateLimited):
        await guarded(collect(client.log_feed(INSTANCE)))
    assert clock.delays == [] and len(seen.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_a_stream_told_to_wait_briefly_waits_and_says_so(make, status):
    client, _, clock = make(
        replies(detail(status, "later", **{"Retry-After": "5"}), sse(COLD, HOT)),
    )
    items = await guarded(collect(client.warmup_feed("hello-world")))
    [notice] = [item for item in items if isinstance(item, StreamNotice)]
    assert notice.delay == 5.0 and "reopening in 5.0 s as the API asks" in notice.message
    assert clock.delays == [5.0]
