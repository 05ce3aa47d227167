"""Image builds in the client, under injected faults (httpx.MockTransport, a recording sleep).

The upload: one multipart request in the SDK's field order, signed over its exact bytes,
never sent twice, its refusals in words that say what to do. The build log: single-newline
`data:` lines, keep-alives, `DONE`, `ERROR:` reports, the finished log as text, and a
stream that breaks resumed from the last offset it delivered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chutes_tui.client.api import ChutesClient, StreamNotice
from chutes_tui.client.builds import BuildLogLine, BuildLogText
from chutes_tui.client.errors import (
    AuthError,
    Conflict,
    ExitCode,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    StreamBroken,
    TimedOut,
    Unreachable,
    ValidationFailed,
)
from chutes_tui.client.signing import Credentials
from chutes_tui.config import Connection
from chutes_tui.core.build import BuildOutcome, finished, follow_build
from tests.build_capture import multipart_parts
from tests.conftest import Sandbox, start_sandbox
from tests.test_client_faults import Feed, Recorder, Sleeps, connection, detail, replies, sse

HANG_GUARD = 120.0  # wall seconds before the test counts as hung: a guard, not a measurement
IMAGE_ID = "7e1b5a4c-0000-5000-8000-000000000001"
LOG = f"/images/{IMAGE_ID}/logs"
CONTEXT = b"PK\x05\x06" + bytes(18)  # an empty zip
FORM = {
    "username": "demo",
    "name": "app",
    "tag": "0.1",
    "readme": "# app",
    "dockerfile": "FROM parachutes/python:3.12\nRUN echo hi",
    "image": "cGlja2xl",
}


@pytest.fixture
async def make():
    made: list[ChutesClient] = []

    def build(
        handler: Callable[[httpx.Request], httpx.Response], **options: Any
    ) -> tuple[ChutesClient, Recorder, Sleeps]:
        recorder, sleeps = Recorder(handler), Sleeps()
        conn = options.pop("connection", None) or connection()
        client = ChutesClient(conn, transport=httpx.MockTransport(recorder), sleep=sleeps)
        made.append(client)
        return client, recorder, sleeps

    yield build
    for client in made:
        await client.aclose()


def build_args(**changes: Any) -> dict[str, Any]:
    return {**FORM, "context": CONTEXT, **changes}


def accepted() -> httpx.Response:
    return httpx.Response(202, json={"image_id": IMAGE_ID, "status": "pending build"})


def line(text: str, offset: str, log_type: str = "stdout") -> bytes:
    payload = {"log": {"log_type": log_type, "log": text}, "offset": offset}
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n".encode()


def plain(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        text=text,
        headers={"Content-Disposition": f'inline; filename="{IMAGE_ID}.log"'},
    )


def image(status: str) -> httpx.Response:
    return httpx.Response(
        200, json={"image_id": IMAGE_ID, "name": "app", "tag": "0.1", "status": status}
    )


async def collect(client: ChutesClient, **options: Any) -> list[Any]:
    return [item async for item in client.image_build_log(IMAGE_ID, **options)]


def lines_of(items: list[Any]) -> list[str]:
    return [item.log for item in items if isinstance(item, BuildLogLine)]


# the upload


async def test_the_upload_is_the_sdk_form_signed_over_its_bytes(make):
    client, seen, _ = make(replies(accepted()), connection=connection(None, hotkey=True))
    reply = await client.build_image(**build_args(public=True, logo_id="logo-1"))
    assert reply["image_id"] == IMAGE_ID
    (request,) = seen.requests
    assert (request.method, request.url.path) == ("POST", "/images/")
    body = request.content
    parts = multipart_parts(body, request.headers["Content-Type"])
    assert [part.name for part in parts] == [
        "username",
        "name",
        "tag",
        "readme",
        "dockerfile",
        "public",
        "logo_id",
        "wait",
        "image",
        "build_context",
    ]
    fields = {part.name: part.data.decode() for part in parts if part.filename is None}
    assert fields == {**FORM, "public": "True", "logo_id": "logo-1", "wait": "False"}
    context = parts[-1]
    assert (context.filename, context.content_type, context.data) == (
        "chute.zip",
        "application/zip",
        CONTEXT,
    )
    assert request.headers["X-Chutes-Version"] == "0.6.9"
    assert request.headers["Content-Length"] == str(len(body))
    signed = request.headers["X-Chutes-Signature"]
    nonce = request.headers["X-Chutes-Nonce"]
    hotkey = request.headers["X-Chutes-Hotkey"]
    from substrateinterface import Keypair

    message = f"{hotkey}:{nonce}:{hashlib.sha256(body).hexdigest()}"
    assert Keypair(ss58_address=hotkey).verify(message.encode(), bytes.fromhex(signed))


async def test_no_logo_and_private_are_spelled_as_the_sdk_does(make):
    client, seen, _ = make(replies(accepted()))
    await client.build_image(**build_args())
    parts = multipart_parts(seen.requests[0].content, seen.requests[0].headers["Content-Type"])
    fields = {part.name: part.data.decode() for part in parts}
    assert (fields["public"], fields["logo_id"], fields["wait"]) == ("False", "__none__", "False")


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_the_upload_is_never_retried(make, status):
    client, seen, sleeps = make(replies(detail(status, "busy")))
    with pytest.raises((ServerError, RateLimited)):
        await client.build_image(**build_args())
    assert len(seen.requests) == 1 and sleeps.delays == []


@pytest.mark.parametrize(
    ("status", "text", "error", "code", "words"),
    [
        (409, "Image with name='app' and tag='0.1' aready exists", Conflict, 5, "already exists"),
        (401, "Cannot make images for users other than yourself!", AuthError, 3, "is yours"),
        (403, "Public images need the permission", AuthError, 3, "does not allow"),
        (402, "You must have a balance of >= $50 to create images.", PaymentRequired, 6, ">= $50"),
        (413, "Request Entity Too Large", ValidationFailed, 2, "too large"),
        (422, [{"loc": ["body", "tag"], "msg": "Field required"}], ValidationFailed, 2, "tag"),
    ],
)
async def test_refusals_say_what_to_do(make, status, text, error, code, words):
    client, seen, _ = make(replies(detail(status, text)))
    with pytest.raises(error) as caught:
        await client.build_image(**build_args())
    assert caught.value.exit_code == code
    assert words in caught.value.message
    assert "demo/app:0.1" in caught.value.message
    assert len(seen.requests) == 1


@pytest.mark.parametrize("fault", [httpx.ReadTimeout("slow"), httpx.ReadError("reset")])
async def test_a_lost_reply_is_read_back(make, fault):
    client, seen, _ = make(replies(fault, image("pending build")))
    reply = await client.build_image(**build_args())
    assert reply["image_id"] == IMAGE_ID
    assert [(r.method, r.url.path) for r in seen.requests] == [
        ("POST", "/images/"),
        ("GET", "/images/demo/app:0.1"),
    ]


async def test_a_lost_reply_and_no_image_is_safe_to_retry(make):
    client, seen, _ = make(replies(httpx.ReadTimeout("slow"), detail(404, "Image not found")))
    with pytest.raises(Unreachable) as caught:
        await client.build_image(**build_args())
    assert "safe to try again" in caught.value.message
    assert len(seen.seen("POST")) == 1


async def test_connect_error_means_nothing_was_sent(make):
    client, seen, _ = make(replies(httpx.ConnectError("refused")))
    with pytest.raises(Unreachable) as caught:
        await client.build_image(**build_args())
    assert caught.value.sent is False and len(seen.requests) == 1


# the build log


async def test_single_newline_lines_keepalives_and_done(make):
    raw = line("Step 1/3 : FROM x", "1-0") + b".\n" + line("oops", "1-1", "stderr") + b"DONE\n"
    chunks = [raw[i : i + 5] for i in range(0, len(raw), 5)]  # split anywhere
    client, seen, _ = make(replies(sse(*chunks)))
    items = await collect(client)
    assert items == [
        BuildLogLine("Step 1/3 : FROM x", "stdout", "1-0"),
        BuildLogLine("oops", "stderr", "1-1"),
    ]
    assert seen.requests[0].url.path == LOG and "offset" not in seen.requests[0].url.params


async def test_a_finished_build_is_its_whole_text(make):
    client, _, _ = make(replies(plain("Step 1/2\nStep 2/2\nbuilt\n")))
    assert await collect(client) == [BuildLogText("Step 1/2\nStep 2/2\nbuilt\n")]


async def test_a_broken_stream_resumes_from_the_last_offset(make):
    client, seen, sleeps = make(
        replies(
            sse(line("one", "5-0"), line("two", "5-1"), error=httpx.ReadError("reset")),
            sse(line("three", "5-2"), b'data: {"log": {"log_type": "std'),  # cut mid-line
            httpx.ConnectError("refused"),
            sse(b".\n", line("four", "5-3"), b"DONE\n"),
        )
    )
    items = await collect(client)
    assert lines_of(items) == ["one", "two", "three", "four"]
    offsets = [request.url.params.get("offset") for request in seen.requests]
    assert offsets == [None, "5-1", "5-2", "5-2"]
    notices = [item for item in items if isinstance(item, StreamNotice)]
    kinds = [notice.kind for notice in notices]
    assert kinds == ["retrying", "connected", "retrying", "retrying", "connected"]
    assert "from offset 5-1" in notices[0].message
    assert len(sleeps.delays) == 3


async def test_a_stream_that_ends_without_done_is_resumed(make):
    client, seen, _ = make(replies(sse(line("one", "7")), sse(line("two", "8"), b"DONE\n")))
    assert lines_of(await collect(client)) == ["one", "two"]
    assert [request.url.params.get("offset") for request in seen.requests] == [None, "7"]


async def test_resumed_after_the_build_ended_shows_only_the_rest(make):
    client, _, _ = make(
        replies(
            sse(line("one", "1"), line("two", "2"), error=httpx.ReadError("reset")),
            plain("one\ntwo\nthree\nbuilt\n"),
        )
    )
    items = await collect(client)
    assert lines_of(items) == ["one", "two"]
    assert items[-1] == BuildLogText("three\nbuilt\n")


async def test_an_error_report_is_a_notice_and_the_stream_goes_on(make):
    client, seen, _ = make(
        replies(
            sse(line("one", "1"), b"data: ERROR: redis went away\n"),
            sse(line("two", "2"), b"DONE\n"),
        )
    )
    items = await collect(client)
    assert lines_of(items) == ["one", "two"]
    errors = [item for item in items if isinstance(item, StreamNotice) and item.kind == "error"]
    assert [notice.message for notice in errors] == ["build log: redis went away"]
    assert seen.requests[1].url.params["offset"] == "1"


async def test_a_log_stream_gives_up_after_its_attempts(make):
    client, seen, sleeps = make(lambda request: sse(b'data: {"lo'))
    with pytest.raises(StreamBroken):
        await collect(client, attempts=2)
    assert len(seen.requests) == 3 and len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (detail(404, "Image not found, or does not belong to you"), NotFound),
        (detail(401, "Invalid token"), AuthError),
    ],
)
async def test_a_refused_log_is_not_retried(make, reply, error):
    client, seen, _ = make(replies(reply))
    with pytest.raises(error):
        await collect(client)
    assert len(seen.requests) == 1


async def test_without_follow_only_what_is_logged_so_far(make):
    feed = Feed(line("one", "1"), line("two", "2"), b".\n", line("later", "3"), hang=True)
    client, _, _ = make(
        replies(httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=feed))
    )
    assert lines_of(await collect(client, follow=False)) == ["one", "two"]
    assert feed.closed


# following a build to its end (core)


def log_then_status(log: httpx.Response, *statuses: str):
    status_replies = [image(status) for status in statuses]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LOG:
            return log
        return status_replies.pop(0) if len(status_replies) > 1 else status_replies[0]

    return handler


@pytest.mark.parametrize(
    ("status", "built"), [("built and pushed", True), ("error: pip install failed", False)]
)
async def test_following_ends_with_the_image_status(make, status, built):
    client, _, _ = make(log_then_status(sse(line("one", "1"), b"DONE\n"), status))
    heard: list[Any] = []
    outcome = await follow_build(client, IMAGE_ID, 60.0, heard.append)
    assert isinstance(outcome, BuildOutcome)
    assert (outcome.status, outcome.built) == (status, built)
    assert lines_of(heard) == ["one"]


async def test_following_past_the_timeout_is_timed_out(make):
    feed = Feed(line("one", "1"), hang=True)
    client, _, _ = make(
        replies(httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=feed))
    )
    with pytest.raises(TimedOut) as caught:
        await follow_build(client, IMAGE_ID, 0.2, lambda item: None, label="demo/app:0.1")
    assert caught.value.exit_code == ExitCode.TIMED_OUT
    assert "still building" in caught.value.message and "images logs" in caught.value.message


# the build log against a real sandbox, its first stream cut by the transport


class CutStream(httpx.AsyncByteStream):
    """The sandbox's stream, line by line, broken off after `lines` log lines."""

    def __init__(self, inner: httpx.AsyncByteStream, lines: int) -> None:
        self.inner = inner
        self.lines = lines

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending, sent = b"", 0
        async for chunk in self.inner:
            pending += chunk
            *whole, pending = pending.split(b"\n")
            for text in whole:
                yield text + b"\n"
                sent += text.startswith(b"data: {")
                if sent == self.lines:
                    raise httpx.ReadError("connection reset (injected)")

    async def aclose(self) -> None:
        await self.inner.aclose()


class CutFirstLog(httpx.AsyncBaseTransport):
    """A real transport whose first build-log stream breaks after a few lines."""

    def __init__(self, lines: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lines = lines
        self.offsets: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/logs"):
            return response
        self.offsets.append(request.url.params.get("offset"))
        if len(self.offsets) > 1 or "event-stream" not in response.headers["content-type"]:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=CutStream(response.stream, self.lines),
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def context_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("requirements.txt", "numpy==2.1.3\n")
    return buffer.getvalue()


@pytest.fixture
def paused_box(tmp_path: Path) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path, speed=1.0, paused=True)
    try:
        yield box
    finally:
        box.running.stop()


async def test_a_cut_stream_resumes_where_it_broke_on_the_sandbox(paused_box: Sandbox) -> None:
    box = paused_box
    transport = CutFirstLog(lines=3)
    conn = Connection(base_url=box.url, credentials=Credentials(api_key=box.users["demo"].api_key))
    async with ChutesClient(conn, transport=transport) as client:
        reply = await client.build_image(
            username="demo",
            name="resume",
            tag="1.0",
            readme="",
            dockerfile="FROM parachutes/python:3.12\nADD requirements.txt /app/\n"
            "RUN pip install -r /app/requirements.txt\nRUN echo done",
            image=base64.b64encode(b"not loaded").decode(),
            context=context_zip(),
        )
        image_id = reply["image_id"]
        streamed: list[Any] = []

        async def follow() -> None:
            async for item in client.image_build_log(image_id):
                streamed.append(item)

        task = asyncio.create_task(follow())
        # The build moves only when the simulated clock does: a second at a time.
        async with asyncio.timeout(HANG_GUARD):
            while not task.done():
                box.advance(1.0)
                await asyncio.sleep(0.05)
            await task
            while not finished((await client.get_image(image_id)).status):
                await asyncio.sleep(0.05)  # the simulator's next tick writes the status
        (whole,) = [item async for item in client.image_build_log(image_id)]  # now text
    assert isinstance(whole, BuildLogText)
    assert lines_of(streamed) == whole.text.splitlines()  # no line lost, none twice
    assert transport.offsets[:2] == [None, "3"]
    notices = [item.kind for item in streamed if isinstance(item, StreamNotice)]
    assert notices[:2] == ["retrying", "connected"]
