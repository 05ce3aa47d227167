"""ChutesClient under injected faults: httpx.MockTransport replies, and a recording sleep.

Nothing here touches the network; every request the client makes is recorded, so the
tests can count attempts and check that writes are never sent twice.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from chutes_tui.client import api as api_module
from chutes_tui.client import models
from chutes_tui.client.api import ChutesClient, DeployOutcomeUnknown, LogHistory, StreamNotice
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    ClientClosed,
    ConfigError,
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
from chutes_tui.client.signing import Credentials, Hotkey
from chutes_tui.config import Connection
from chutes_tui.headless import commands
from chutes_tui.headless.output import Output

BASE = "https://api.test"
API_KEY = (
    "cpk_"
    + "0123456789abcdef" * 2
    + "."
    + "fedcba9876543210" * 2
    + ".TOPSECRETtopsecretTOPSECRET1234"
)
SEED = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
CHUTE_ID = "8d7c3f0e-2b1a-5c4d-9e8f-0a1b2c3d4e5f"
CODE = "print('hello')\n"
INSTANCE = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records every request before answering it."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def seen(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            request
            for request in self.requests
            if (method is None or request.method == method)
            and (path is None or request.url.path == path)
        ]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def connection(api_key: str | None = API_KEY, hotkey: bool = False) -> Connection:
    key = Hotkey.from_seed(SEED, user_id="9d3c5c0e-1f55-5b0e-8a33-0d3cfa2f0e11") if hotkey else None
    return Connection(base_url=BASE, credentials=Credentials(api_key=api_key, hotkey=key))


@pytest.fixture
async def make():
    made: list[ChutesClient] = []

    def build(handler: Handler, **options: Any) -> tuple[ChutesClient, Recorder, Sleeps]:
        recorder, sleeps = Recorder(handler), Sleeps()
        conn = options.pop("connection", None) or connection()
        client = ChutesClient(
            conn, transport=httpx.MockTransport(recorder), sleep=sleeps, **options
        )
        made.append(client)
        return client, recorder, sleeps

    yield build
    for client in made:
        await client.aclose()


def replies(*responses: httpx.Response | Exception) -> Handler:
    """Answer with each reply in turn, repeating the last one."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler


def detail(status: int, text: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": text}, headers=headers)


USER = {"username": "demo", "user_id": "u-1", "balance": 1.5}


def chute_json(name: str = "test-chute", **changes: Any) -> dict:
    chute = {
        "chute_id": CHUTE_ID,
        "name": name,
        "version": "5d3b1c3e-0000-5000-8000-000000000001",
        "image": {"image_id": "i-1", "name": "hello", "tag": "0.1", "status": "built and pushed"},
        "user": {"username": "demo", "user_id": "u-1"},
        "node_selector": {"gpu_count": 1, "min_vram_gb_per_gpu": 16},
        "cords": [{"path": "/echo", "function": "echo"}],
    }
    chute.update(changes)
    return chute


def deploy_payload(code: str = CODE) -> dict:
    return {"name": "test-chute", "image": "demo/hello:0.1", "code": code, "public": False}


# GET retries


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_get_retried_on_5xx_then_succeeds(make, status):
    client, seen, sleeps = make(
        replies(detail(status, "busy"), detail(status, "busy"), httpx.Response(200, json=USER))
    )
    me = await client.me()
    assert isinstance(me, models.User) and me.username == "demo"
    assert len(seen.requests) == 3
    assert len(sleeps.delays) == 2
    assert all(request.method == "GET" for request in seen.requests)


async def test_backoff_grows_and_is_capped(make, monkeypatch):
    monkeypatch.setattr(api_module.random, "uniform", lambda low, high: high)
    client, seen, sleeps = make(
        replies(detail(503, "busy")), retries=5, backoff=0.5, max_backoff=3.0
    )
    with pytest.raises(ServerError):
        await client.me()
    assert len(seen.requests) == 6
    assert sleeps.delays == [0.5, 1.0, 2.0, 3.0, 3.0]

    monkeypatch.setattr(api_module.random, "uniform", lambda low, high: low)
    client, seen, sleeps = make(
        replies(detail(503, "busy")), retries=5, backoff=0.5, max_backoff=3.0
    )
    with pytest.raises(ServerError):
        await client.me()
    assert sleeps.delays == [0.25, 0.5, 1.0, 1.5, 1.5]


async def test_jitter_stays_within_bounds(make):
    random.seed(1234)
    client, _, sleeps = make(replies(detail(500, "x")), retries=8, backoff=0.5, max_backoff=4.0)
    for _ in range(5):
        with pytest.raises(ServerError):
            await client.pricing()
    assert len(sleeps.delays) == 40
    for index, delay in enumerate(sleeps.delays):
        ceiling = min(4.0, 0.5 * 2 ** (index % 8))
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(sleeps.delays)) > 30  # jittered, not fixed
    assert max(sleeps.delays) <= 4.0


async def test_429_honours_retry_after(make):
    client, seen, sleeps = make(
        replies(
            detail(429, "slow down", **{"Retry-After": "3"}),
            detail(429, "slow down", **{"Retry-After": "0.5"}),
            httpx.Response(200, json=USER),
        )
    )
    assert (await client.me()).username == "demo"
    assert sleeps.delays == [3.0, 0.5]
    assert len(seen.requests) == 3


async def test_retry_after_on_503_is_honoured_too(make):
    client, _, sleeps = make(
        replies(detail(503, "later", **{"Retry-After": "2"}), httpx.Response(200, json=USER))
    )
    await client.me()
    assert sleeps.delays == [2.0]


async def test_retry_after_as_an_http_date(make):
    when = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: 2 to 3 s away
    client, seen, sleeps = make(
        replies(detail(503, "later", **{"Retry-After": when}), httpx.Response(200, json=USER))
    )
    assert (await client.me()).username == "demo"
    assert len(seen.requests) == 2
    [delay] = sleeps.delays
    assert 1.5 < delay <= 3.0


GIVE_UP = "give up"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", GIVE_UP),
        ("30", 30.0),
        ("60", 60.0),
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date gone by: retry at once
        ("Fri, 01 Jan 2100 00:00:00 GMT", GIVE_UP),  # far ahead: longer than the cap
        ("Fri, 01 Jan 2100 00:00:00 -0000", GIVE_UP),
        ("Fri, 41 Foo 2100 00:00:00 GMT", None),
    ],
)
async def test_retry_after_odd_values(make, monkeypatch, value, expected):
    monkeypatch.setattr(api_module.random, "uniform", lambda low, high: high)
    client, _, sleeps = make(
        replies(detail(429, "slow", **{"Retry-After": value}), httpx.Response(200, json=USER)),
        max_backoff=8.0,
        backoff=0.5,
    )
    if expected == GIVE_UP:  # longer than MAX_RETRY_AFTER: no wait at all
        with pytest.raises(RateLimited, match="giving up"):
            await client.me()
        assert sleeps.delays == []
        return
    await client.me()
    # a hint up to the cap is waited out; a useless one falls back to the normal backoff
    assert sleeps.delays == [0.5 if expected is None else expected]


async def test_5xx_retries_exhausted_is_server_error(make):
    client, seen, sleeps = make(replies(detail(502, "Bad gateway, upstream down")))
    with pytest.raises(ServerError) as caught:
        await client.list_images()
    assert len(seen.requests) == 4  # one try and three retries
    assert len(sleeps.delays) == 3
    assert caught.value.status == 502
    assert caught.value.message == "Bad gateway, upstream down"
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


async def test_429_retries_exhausted_is_rate_limited(make):
    client, seen, sleeps = make(replies(detail(429, "Too many requests", **{"Retry-After": "7"})))
    with pytest.raises(RateLimited) as caught:
        await client.get_chute("hello-world")
    assert len(seen.requests) == 4
    assert sleeps.delays == [7.0, 7.0, 7.0]
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert caught.value.message == "Too many requests"
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


async def test_no_retries_when_retries_is_zero(make):
    client, seen, sleeps = make(replies(detail(500, "boom")), retries=0)
    with pytest.raises(ServerError):
        await client.me()
    assert len(seen.requests) == 1 and sleeps.delays == []


async def test_connect_error_on_get_is_retried_then_unreachable(make):
    client, seen, sleeps = make(replies(httpx.ConnectError("Connection refused")))
    with pytest.raises(Unreachable) as caught:
        await client.list_chutes()
    assert len(seen.requests) == 4
    assert len(sleeps.delays) == 3
    assert caught.value.sent is False
    assert caught.value.message == f"cannot reach the Chutes API at {BASE}: Connection refused"
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


async def test_connect_error_on_get_then_success(make):
    client, seen, _ = make(replies(httpx.ConnectError("refused"), httpx.Response(200, json=USER)))
    assert (await client.me()).username == "demo"
    assert len(seen.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(make, status):
    client, seen, sleeps = make(replies(detail(status, "no")))
    with pytest.raises(ChutesError):
        await client.me()
    assert len(seen.requests) == 1 and sleeps.delays == []


# writes go exactly once


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_share_is_never_retried(make, status):
    client, seen, sleeps = make(replies(detail(status, "upstream failed")))
    with pytest.raises((ServerError, RateLimited)):
        await client.share("hello-world", "bob")
    assert len(seen.requests) == 1 and sleeps.delays == []
    assert seen.requests[0].method == "POST"
    assert json.loads(seen.requests[0].content) == {
        "chute_id_or_name": "hello-world",
        "user_id_or_name": "bob",
    }


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_deploy_is_never_retried_on_5xx(make, status):
    client, seen, sleeps = make(replies(detail(status, "deploy exploded")))
    with pytest.raises(ServerError) as caught:
        await client.deploy(deploy_payload(), accept_fee=True)
    assert not isinstance(caught.value, DeployOutcomeUnknown)
    assert caught.value.message == "deploy exploded"
    assert [(r.method, r.url.path) for r in seen.requests] == [("POST", "/chutes/")]
    assert seen.requests[0].url.params["accept_fee"] == "true"
    assert seen.requests[0].headers["X-Chutes-Version"] == "0.6.9"
    assert sleeps.delays == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_update_and_deletes_are_never_retried(make, status):
    client, seen, _ = make(replies(detail(status, "nope")))
    with pytest.raises(ServerError):
        await client.update_chute(CHUTE_ID, {"tagline": "x"})
    with pytest.raises(ServerError):
        await client.delete_chute(CHUTE_ID)
    with pytest.raises(ServerError):
        await client.delete_image("hello:0.1")
    with pytest.raises(ServerError):
        await client.unshare("hello-world", "bob")
    assert [r.method for r in seen.requests] == ["PUT", "DELETE", "DELETE", "POST"]


async def test_update_by_name_retries_the_lookup_but_not_the_put(make):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=chute_json("hello-world"))
        return detail(503, "busy")

    client, seen, _ = make(handler)
    with pytest.raises(ServerError):
        await client.update_chute("hello-world", {"tagline": "x"})
    assert [(r.method, r.url.path) for r in seen.requests] == [
        ("GET", "/chutes/hello-world"),
        ("PUT", f"/chutes/{CHUTE_ID}"),
    ]


# deploy whose reply is lost


def lost_deploy(
    post_fault: Exception,
    chute: httpx.Response | Exception,
    code: httpx.Response | Exception | None = None,
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise post_fault  # the request was sent; the reply never came
        if request.url.path == "/chutes/test-chute":
            reply = chute
        elif request.url.path == f"/chutes/code/{CHUTE_ID}":
            reply = code if code is not None else httpx.Response(200, text=CODE)
        else:
            reply = detail(404, "unexpected path")
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler


LOST = [
    pytest.param(httpx.ReadError("Connection reset by peer"), id="read-error"),
    pytest.param(httpx.ReadTimeout("timed out"), id="read-timeout"),
    pytest.param(httpx.RemoteProtocolError("Server disconnected"), id="disconnected"),
]


@pytest.mark.parametrize("fault", LOST)
async def test_lost_deploy_reply_read_back_matches(make, fault):
    client, seen, _ = make(lost_deploy(fault, httpx.Response(200, json=chute_json())))
    chute = await client.deploy(deploy_payload(), accept_fee=True)
    assert isinstance(chute, models.Chute)
    assert chute.chute_id == CHUTE_ID and chute.name == "test-chute"
    assert [(r.method, r.url.path) for r in seen.requests] == [
        ("POST", "/chutes/"),
        ("GET", "/chutes/test-chute"),
        ("GET", f"/chutes/code/{CHUTE_ID}"),
    ]


@pytest.mark.parametrize("fault", LOST)
async def test_lost_deploy_reply_and_no_chute_is_safe_to_retry(make, fault):
    client, seen, _ = make(
        lost_deploy(fault, detail(404, "Chute not found, or does not belong to you"))
    )
    with pytest.raises(Unreachable) as caught:
        await client.deploy(deploy_payload(), accept_fee=True)
    assert not isinstance(caught.value, DeployOutcomeUnknown)
    assert "safe to try again" in caught.value.message
    assert "does not exist" in caught.value.message
    assert len(seen.seen("POST")) == 1
    assert [r.url.path for r in seen.seen("GET")] == ["/chutes/test-chute"]


@pytest.mark.parametrize("fault", LOST)
async def test_lost_deploy_reply_and_other_code_is_safe_to_retry(make, fault):
    client, seen, _ = make(
        lost_deploy(
            fault,
            httpx.Response(200, json=chute_json()),
            httpx.Response(200, text="print('the old version')\n"),
        )
    )
    with pytest.raises(Unreachable) as caught:
        await client.deploy(deploy_payload(), accept_fee=True)
    assert "safe to try again" in caught.value.message
    assert "other code" in caught.value.message
    assert len(seen.seen("POST")) == 1


@pytest.mark.parametrize("fault", LOST)
@pytest.mark.parametrize(
    "read_back",
    [
        pytest.param(detail(500, "db down"), id="5xx"),
        pytest.param(httpx.ConnectError("refused"), id="connect"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(detail(401, "Invalid nonce!"), id="401"),
    ],
)
async def test_lost_deploy_reply_and_read_back_fails_is_unknown(make, fault, read_back):
    client, seen, _ = make(lost_deploy(fault, read_back))
    with pytest.raises(DeployOutcomeUnknown) as caught:
        await client.deploy(deploy_payload(), accept_fee=True)
    assert isinstance(caught.value, ServerError)
    assert "chutes-tui --no-ui chutes get test-chute" in caught.value.message
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    assert len(seen.seen("POST")) == 1


async def test_lost_deploy_reply_and_code_read_back_fails_is_unknown(make):
    client, seen, _ = make(
        lost_deploy(
            httpx.ReadError("reset"), httpx.Response(200, json=chute_json()), detail(503, "x")
        )
    )
    with pytest.raises(DeployOutcomeUnknown):
        await client.deploy(deploy_payload(), accept_fee=True)
    assert len(seen.seen("POST")) == 1


async def test_connect_error_on_deploy_means_nothing_was_sent(make):
    client, seen, sleeps = make(replies(httpx.ConnectError("Connection refused")))
    with pytest.raises(Unreachable) as caught:
        await client.deploy(deploy_payload(), accept_fee=True)
    assert caught.value.sent is False
    assert "cannot reach the Chutes API" in caught.value.message
    assert [r.method for r in seen.requests] == ["POST"]  # no retry, no read-back
    assert sleeps.delays == []


# replies that are not what the API promises


async def test_reply_that_is_not_json(make):
    client, _, _ = make(replies(httpx.Response(200, text="<html>gateway</html>")))
    with pytest.raises(ServerError) as caught:
        await client.me()
    assert "not JSON" in caught.value.message
    assert "HTTP 200" in caught.value.message
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


async def test_error_reply_that_is_not_json_keeps_its_text(make):
    client, _, _ = make(replies(httpx.Response(404, text="  no such route  ")), retries=0)
    with pytest.raises(NotFound) as caught:
        await client.me()
    assert caught.value.message == "no such route"
    client, _, _ = make(replies(httpx.Response(500, text="")), retries=0)
    with pytest.raises(ServerError) as caught:
        await client.me()
    assert caught.value.message == "HTTP 500"


WRONG_SHAPES = [
    ("me", (), {"user": "demo"}),
    ("me", (), []),
    ("name_check", ("demo",), {"valid": "perhaps"}),
    ("list_images", (), {"items": []}),
    ("list_images", (), {"total": 1, "page": 0, "limit": 25, "items": [{"name": "x"}]}),
    ("get_image", ("hello:0.1",), {"image_id": "x"}),
    ("delete_image", ("hello:0.1",), {"gone": True}),
    ("list_chutes", (), []),
    ("list_chutes", (), {"total": 1, "page": 0, "limit": 25, "items": [{"chute_id": "x"}]}),
    ("get_chute", ("hello-world",), {"chute_id": CHUTE_ID}),
    ("delete_chute", (CHUTE_ID,), {"deleted": "maybe"}),
    ("update_chute", (CHUTE_ID, {"tagline": "x"}), {"status": "ok"}),
    ("deploy", (deploy_payload(),), {"detail": "ok"}),
    ("share", ("hello-world", "bob"), {"ok": True}),
    ("unshare", ("hello-world", "bob"), ["ok"]),
    ("warmup_status", ("hello-world",), {"status": "hot"}),
    ("pricing", (), {"tao_usd": 400}),
]


@pytest.mark.parametrize(
    ("method", "args", "body"),
    WRONG_SHAPES,
    ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(WRONG_SHAPES)],
)
async def test_reply_with_the_wrong_shape_is_server_error(make, method, args, body):
    client, _, _ = make(replies(httpx.Response(200, json=body)))
    with pytest.raises(ServerError) as caught:
        await getattr(client, method)(*args)
    assert "unexpected shape" in caught.value.message


@pytest.mark.parametrize("body", [[{"chute_id": 1}], {"detail": "x"}], ids=["bad-item", "dict"])
async def test_list_shares_wrong_shape_is_server_error(make, body):
    client, _, _ = make(replies(httpx.Response(200, json=body)))
    with pytest.raises(ServerError):
        await client.list_shares()


@pytest.mark.parametrize(
    "body",
    [
        {"total": 0, "page": 0, "limit": 25, "items": None, "cord_refs": {}},
        {"total": 1, "page": 0, "limit": 25, "items": [{"cord_ref_id": "r"}], "cord_refs": ["r"]},
    ],
    ids=["items-null", "cord-refs-list"],
)
async def test_list_chutes_odd_shapes_are_server_error(make, body):
    client, _, _ = make(replies(httpx.Response(200, json=body)))
    with pytest.raises(ServerError):
        await client.list_chutes()


async def test_warmup_event_with_the_wrong_shape(make):
    client, _, _ = make(replies(sse(b'data: {"log": "no status"}\n\n')))
    with pytest.raises((ServerError, StreamBroken)):
        async for _ in client.warmup("hello-world"):
            pass


async def test_list_chutes_without_cord_refs_still_parses(make):
    page = {
        "total": 1,
        "page": 0,
        "limit": 25,
        "items": [chute_json(cords=None, cord_ref_id="r")],
        "cord_refs": None,
    }
    client, _, _ = make(replies(httpx.Response(200, json=page)))
    result = await client.list_chutes()
    assert result.items[0].cords is None


@pytest.mark.parametrize(
    ("status", "body", "error", "exit_code", "message"),
    [
        (400, "Bad thing", ValidationFailed, ExitCode.USAGE, "Bad thing"),
        (401, "Invalid nonce!", AuthError, ExitCode.AUTH, "Invalid nonce!"),
        (402, "Account balance is $0", PaymentRequired, ExitCode.PAYMENT, "Account balance is $0"),
        (403, "Forbidden", AuthError, ExitCode.AUTH, "Forbidden"),
        (404, "Gone", NotFound, ExitCode.NOT_FOUND, "Gone"),
        (409, "Exists", Conflict, ExitCode.CONFLICT, "Exists"),
        (413, "Request body too large", ValidationFailed, ExitCode.USAGE, "Request body too large"),
        (
            422,
            [
                {"loc": ["body", "node_selector", "gpu_count"], "msg": "too big"},
                {"loc": ["query", "page"], "msg": "bad"},
            ],
            ValidationFailed,
            ExitCode.USAGE,
            "node_selector.gpu_count: too big; query.page: bad",
        ),
        (418, "teapot", ChutesError, ExitCode.UNEXPECTED, "teapot"),
    ],
)
async def test_status_maps_to_error_class(make, status, body, error, exit_code, message):
    client, _, _ = make(replies(detail(status, body)))
    with pytest.raises(error) as caught:
        await client.share("hello-world", "bob")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.message == message
    assert caught.value.exit_code == exit_code


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
    ],
)
async def test_timeout_is_timed_out(make, fault):
    client, seen, _ = make(replies(fault))
    with pytest.raises(TimedOut) as caught:
        await client.get_chute("hello-world")
    assert caught.value.message == "GET /chutes/hello-world: no reply from the Chutes API in time"
    assert caught.value.exit_code == ExitCode.TIMED_OUT
    assert len(seen.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(httpx.RemoteProtocolError("Server disconnected"), id="disconnected"),
        pytest.param(httpx.ReadError("Connection reset by peer"), id="reset"),
        pytest.param(httpx.WriteError("Broken pipe"), id="broken-pipe"),
    ],
)
async def test_a_get_whose_connection_failed_goes_again(make, fault):
    client, seen, sleeps = make(replies(fault, httpx.Response(200, json=USER)))
    assert (await client.me()).username == "demo"
    assert len(seen.requests) == 2 and len(sleeps.delays) == 1


async def test_a_get_whose_connection_keeps_failing_is_unreachable_after_sending(make):
    client, seen, sleeps = make(replies(httpx.RemoteProtocolError("Server disconnected")))
    with pytest.raises(Unreachable) as caught:
        await client.me()
    assert caught.value.sent is True
    assert caught.value.message == "GET /users/me: the connection failed: Server disconnected"
    assert len(seen.requests) == 4 and len(sleeps.delays) == 3


async def test_a_write_whose_connection_failed_goes_once(make):
    client, seen, sleeps = make(replies(httpx.RemoteProtocolError("Server disconnected")))
    with pytest.raises(Unreachable) as caught:
        await client.share("hello-world", "bob")
    assert caught.value.sent is True
    assert len(seen.requests) == 1 and sleeps.delays == []


async def test_timeouts_are_passed_to_httpx(make):
    timeouts = {}

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts[request.method] = request.extensions["timeout"]
        if request.method == "POST":
            return httpx.Response(200, json=chute_json())
        return httpx.Response(200, json=USER)

    client, _, _ = make(handler, timeout=12.0, connect_timeout=3.0)
    await client.me()
    await client.deploy(deploy_payload(), accept_fee=False)
    assert timeouts["GET"] == {"connect": 3.0, "read": 12.0, "write": 12.0, "pool": 12.0}
    assert timeouts["POST"]["connect"] == 3.0 and timeouts["POST"]["read"] is None


# server-sent events


class Feed(httpx.AsyncByteStream):
    """A response body given chunk by chunk, optionally failing or hanging at the end."""

    def __init__(self, *chunks: bytes, error: Exception | None = None, hang: bool = False) -> None:
        self.chunks = chunks
        self.error = error
        self.hang = hang
        self.closed = False

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed = True


def sse(*chunks: bytes, error: Exception | None = None, hang: bool = False) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"Content-Type": "text/event-stream"},
        stream=Feed(*chunks, error=error, hang=hang),
    )


COLD = b'data: {"status": "cold", "log": "waiting for instances ..."}\n\n'
HOT = b'data: {"status": "hot", "log": "chute is hot, 1 instances available"}\n\n'


async def test_warmup_stream_parses_events_split_anywhere(make):
    raw = COLD + b".\n\n: comment\n\n" + COLD + HOT
    chunks = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    client, seen, _ = make(replies(sse(*chunks)))
    events = [event async for event in client.warmup("hello-world")]
    assert [event.status for event in events] == ["cold", "cold", "hot"]
    assert events[-1].log == "chute is hot, 1 instances available"
    assert seen.requests[0].url.path == "/chutes/warmup/hello-world"


async def test_warmup_stream_cut_mid_event_is_stream_broken(make):
    client, _, _ = make(replies(sse(COLD, b'data: {"status": "ho')))
    events = []
    with pytest.raises(StreamBroken) as caught:
        async for event in client.warmup("hello-world"):
            events.append(event)
    assert [event.status for event in events] == ["cold"]
    assert "cut in the middle of an event" in caught.value.message
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


async def test_warmup_stream_connection_dropped_is_stream_broken(make):
    client, _, _ = make(replies(sse(COLD, error=httpx.ReadError("Connection reset by peer"))))
    events = []
    with pytest.raises(StreamBroken) as caught:
        async for event in client.warmup("hello-world"):
            events.append(event)
    assert len(events) == 1
    assert "the stream broke" in caught.value.message
    assert "Connection reset by peer" in caught.value.message


@pytest.mark.parametrize("path", ["warmup", "logs"])
async def test_event_with_non_json_data_is_stream_broken(make, path):
    client, _, _ = make(replies(sse(b"data: this is not json\n\n")))
    stream = client.warmup("x") if path == "warmup" else client.instance_logs(INSTANCE)
    with pytest.raises(StreamBroken) as caught:
        async for _ in stream:
            pass
    assert "not JSON" in caught.value.message
    assert "this is not json" in caught.value.message


async def test_stream_error_status_raises_typed_error(make):
    client, _, _ = make(replies(detail(402, "Account balance is $0.0, please top-up")))
    with pytest.raises(PaymentRequired) as caught:
        async for _ in client.warmup("hello-world"):
            pass
    assert caught.value.message == "Account balance is $0.0, please top-up"


async def test_stream_connect_error_is_unreachable(make):
    client, _, _ = make(replies(httpx.ConnectError("refused")))
    with pytest.raises(Unreachable) as caught:
        async for _ in client.warmup("hello-world"):
            pass
    assert caught.value.sent is False


def log_events(*lines: str) -> bytes:
    return b"".join(f"data: {json.dumps({'log': line})}\n\n".encode() for line in lines)


CONNECTED = b'data: {"event": "connected", "filename": "current"}\n\n'


async def test_instance_logs_skip_other_events(make):
    client, seen, _ = make(
        replies(
            sse(
                CONNECTED,
                log_events("one"),
                b".\n\n",
                b'data: {"error": "x"}\n\n',
                log_events("two"),
            )
        )
    )
    lines = [line async for line in client.instance_logs(INSTANCE, backfill=5)]
    assert lines == ["one", "two"]
    assert seen.requests[0].url.path == f"/instances/{INSTANCE}/logs"
    assert seen.requests[0].url.params["backfill"] == "5"


async def test_instance_logs_without_reconnect_raise_on_a_cut(make):
    client, seen, _ = make(replies(sse(CONNECTED, log_events("one"), b'data: {"lo')))
    lines = []
    with pytest.raises(StreamBroken):
        async for line in client.instance_logs(INSTANCE):
            lines.append(line)
    assert lines == ["one"]
    assert len(seen.requests) == 1


async def test_instance_logs_reconnect_after_a_cut(make):
    client, seen, sleeps = make(
        replies(
            sse(CONNECTED, log_events("one", "two"), b'data: {"log": "thr'),
            sse(CONNECTED, log_events("three")),
            detail(404, "Instance not found."),
        )
    )
    lines = [line async for line in client.instance_logs(INSTANCE, reconnect=True)]
    assert lines == ["one", "two", "three"]
    assert [r.url.params["backfill"] for r in seen.requests] == ["100", "0", "0"]
    assert len(sleeps.delays) == 2


async def test_instance_logs_reconnect_after_a_dropped_connection(make):
    client, seen, _ = make(
        replies(
            sse(log_events("one"), error=httpx.RemoteProtocolError("peer closed connection")),
            httpx.ConnectError("refused"),
            sse(log_events("two")),
            detail(404, "Instance not found."),
        )
    )
    lines = [line async for line in client.instance_logs(INSTANCE, reconnect=True, attempts=3)]
    assert lines == ["one", "two"]
    assert [r.url.params["backfill"] for r in seen.requests] == ["100", "0", "0", "0"]


@pytest.mark.parametrize("attempts", [1, 3])
async def test_instance_logs_give_up_after_attempts(make, attempts):
    client, seen, sleeps = make(lambda request: sse(b'data: {"lo'))
    with pytest.raises(StreamBroken):
        async for _ in client.instance_logs(INSTANCE, reconnect=True, attempts=attempts):
            pass
    assert len(seen.requests) == attempts + 1
    assert len(sleeps.delays) == attempts
    assert [r.url.params["backfill"] for r in seen.requests][1:] == ["0"] * attempts


async def test_instance_logs_do_not_reconnect_on_http_errors(make):
    client, seen, _ = make(
        replies(detail(403, "You may only view logs for your own (private) chutes."))
    )
    with pytest.raises(AuthError):
        async for _ in client.instance_logs(INSTANCE, reconnect=True):
            pass
    assert len(seen.requests) == 1


async def test_closing_instance_logs_closes_the_response(make):
    feed = Feed(CONNECTED, log_events("one"), hang=True)
    client, _, _ = make(
        replies(httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=feed))
    )
    stream = client.instance_logs(INSTANCE)
    assert await anext(stream) == "one"
    await stream.aclose()
    assert feed.closed


async def test_closing_instance_logs_closes_the_response_eventually(make):
    feed = Feed(CONNECTED, log_events("one"), hang=True)
    client, _, _ = make(
        replies(httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=feed))
    )
    async with aclosing(client.instance_logs(INSTANCE)) as stream:
        assert await anext(stream) == "one"
    for _ in range(5):
        await asyncio.sleep(0)
    assert feed.closed


# secrets


def leaks(text: str) -> bool:
    return API_KEY in text or SEED in text or "TOPSECRET" in text


async def test_no_secret_in_reprs():
    conn = connection(hotkey=True)
    for text in (
        repr(conn),
        str(conn),
        repr(conn.credentials),
        repr(conn.credentials.hotkey),
        conn.source,
    ):
        assert not leaks(text), text
    hotkey_only = connection(api_key=None, hotkey=True)
    assert not leaks(repr(hotkey_only))
    assert hotkey_only.credentials.hotkey.ss58 in repr(hotkey_only)


@pytest.mark.parametrize("hotkey", [False, True])
async def test_no_secret_in_any_error(make, hotkey):
    conn = connection(api_key=None if hotkey else API_KEY, hotkey=hotkey)
    scenarios: list[tuple[Handler, Callable[[ChutesClient], Any]]] = [
        (replies(httpx.ConnectError("refused")), lambda c: c.me()),
        (replies(httpx.ReadTimeout("slow")), lambda c: c.me()),
        (replies(httpx.ReadError("reset")), lambda c: c.me()),
        (replies(detail(500, "boom")), lambda c: c.me()),
        (replies(detail(401, "Invalid token or user not found")), lambda c: c.me()),
        (replies(detail(429, "slow", **{"Retry-After": "1"})), lambda c: c.me()),
        (replies(httpx.Response(200, text="nope")), lambda c: c.me()),
        (replies(httpx.Response(200, json={"x": 1})), lambda c: c.me()),
        (replies(httpx.ReadError("reset")), lambda c: c.deploy(deploy_payload())),
        (
            lost_deploy(httpx.ReadError("reset"), detail(500, "x")),
            lambda c: c.deploy(deploy_payload()),
        ),
        (
            lost_deploy(httpx.ReadError("reset"), detail(404, "x")),
            lambda c: c.deploy(deploy_payload()),
        ),
    ]
    errors: list[Exception] = []
    for handler, call in scenarios:
        client, seen, _ = make(handler, connection=conn)
        with pytest.raises(ChutesError) as caught:
            await call(client)
        errors.append(caught.value)
        if hotkey:
            assert "X-Chutes-Signature" in seen.requests[0].headers
        else:
            assert seen.requests[0].headers["Authorization"] == API_KEY
    for stream_handler in (replies(sse(b'data: {"lo')), replies(sse(b"data: junk\n\n"))):
        client, _, _ = make(stream_handler, connection=conn)
        with pytest.raises(ChutesError) as caught:
            async for _ in client.instance_logs(INSTANCE):
                pass
        errors.append(caught.value)
    for error in errors:
        for text in (
            str(error),
            repr(error),
            error.message,
            str(error.__cause__),
            str(error.__context__),
        ):
            assert not leaks(text), text


async def test_mismatched_hotkey_config_error_has_no_seed(make, tmp_path):
    other = Hotkey.from_seed("22" * 32)
    mismatched = Hotkey.from_config(SEED, other.ss58)
    conn = Connection(
        base_url=BASE,
        credentials=Credentials(hotkey=mismatched),
        config_path=tmp_path / "config.ini",
    )
    client, seen, _ = make(replies(httpx.Response(200, json=USER)), connection=conn)
    with pytest.raises(ConfigError) as caught:
        await client.me()
    assert seen.requests == []
    assert str(tmp_path / "config.ini") in caught.value.message
    assert other.ss58 in caught.value.message
    assert not leaks(str(caught.value)) and not leaks(repr(caught.value))


TOO_MANY_ERRORS = b'data: {"event": "too_many_errors", "error": "disk"}\n\n'


async def test_log_feed_says_what_it_does(make):
    client, seen, sleeps = make(
        replies(
            sse(CONNECTED, log_events("one", "two"), b'data: {"log": "thr'),
            httpx.ConnectError("refused"),
            sse(
                CONNECTED,
                log_events("three"),
                b'data: {"event": "too_many_errors", "error": "disk"}\n\n',
            ),
            detail(404, "Instance not found."),
        )
    )
    items = [item async for item in client.log_feed(INSTANCE, backfill=7, attempts=5)]
    lines = [line for item in items if isinstance(item, list) for line in item]
    notices = [(item.kind, item.message) for item in items if isinstance(item, StreamNotice)]
    assert lines == ["one", "two", "three"]
    kinds = [kind for kind, _ in notices]
    assert kinds == ["retrying", "retrying", "connected", "error", "retrying", "gone"]
    assert "attempt 1 of 5" in notices[0][1] and "attempt 2 of 5" in notices[1][1]
    assert "too_many_errors: disk" in notices[3][1]
    assert [r.url.params["backfill"] for r in seen.requests] == ["7", "0", "0", "0"]
    assert len(sleeps.delays) == 3


async def test_log_feed_batches_lines_of_one_read(make):
    client, _, _ = make(
        replies(sse(CONNECTED + log_events(*map(str, range(50)))), detail(404, "gone"))
    )
    items = [item async for item in client.log_feed(INSTANCE)]
    batches = [item for item in items if isinstance(item, list)]
    assert batches == [[str(n) for n in range(50)]]


async def test_log_feed_tells_the_history_from_new_lines(make):
    client, _, _ = make(
        replies(
            # history until the first keep-alive, new lines after it
            sse(CONNECTED, log_events("old 1", "old 2"), b".\n\n" + log_events("new 1")),
            detail(404, "gone"),
        )
    )
    items = [item async for item in client.log_feed(INSTANCE, backfill=5)]
    batches = [(type(item), list(item)) for item in items if isinstance(item, list)]
    assert batches == [(LogHistory, ["old 1", "old 2"]), (list, ["new 1"])]
    # no keep-alive: `backfill` lines at most are history; a reconnect brings none
    client, _, _ = make(
        replies(
            sse(CONNECTED + log_events("a", "b", "c")),
            httpx.ConnectError("refused"),
            sse(CONNECTED, log_events("d")),
            detail(404, "gone"),
        )
    )
    items = [item async for item in client.log_feed(INSTANCE, backfill=2, attempts=5)]
    batches = [(type(item), list(item)) for item in items if isinstance(item, list)]
    assert batches == [(LogHistory, ["a", "b"]), (list, ["c"]), (list, ["d"])]


async def test_log_feed_gives_up_after_attempts(make):
    client, seen, _ = make(lambda request: sse(b'data: {"lo'))
    with pytest.raises(StreamBroken):
        async for _ in client.log_feed(INSTANCE, attempts=2):
            pass
    assert len(seen.requests) == 3


# warmup_feed: the warmup followed until hot, as headless `warmup --wait` and the live view use it


async def test_warmup_reopens_a_broken_stream(make) -> None:
    client, seen_requests, sleeps = make(
        replies(
            sse(COLD),
            sse(error=httpx.RemoteProtocolError("the stream broke")),
            sse(COLD, HOT),
        )
    )
    seen: list[dict[str, Any]] = []
    record = await commands.follow_warmup(client, "c", 10, Output("json"), seen.append)
    assert record["hot"] is True
    assert [event["status"] for event in seen] == [
        "cold",
        "reconnecting",
        "reconnecting",
        "cold",
        "hot",
    ]
    assert seen[1]["log"].startswith("the warmup stream ended")
    assert "the stream broke; reopening in" in seen[2]["log"]
    assert record["events"] == [
        {k: v for k, v in event.items() if k != "elapsed"} for event in seen
    ]
    assert len(seen_requests.requests) == 3 and len(sleeps.delays) == 2


async def test_warmup_gives_up_at_once_when_the_api_was_never_reached(make) -> None:
    client, seen_requests, _ = make(replies(httpx.ConnectError("refused")))
    with pytest.raises(Unreachable):
        await commands.follow_warmup(client, "c", 10, Output("json"))
    assert len(seen_requests.requests) == 1


async def test_warmup_feed_gives_up_after_attempts(make) -> None:
    """Failures in a row count; a stream that delivered events before it ended does not."""
    client, seen_requests, _ = make(
        lambda request: sse(error=httpx.RemoteProtocolError("peer closed connection"))
    )
    items = []
    with pytest.raises(StreamBroken):
        async for item in client.warmup_feed("c", attempts=2):
            items.append(item)
    notices = [item for item in items if isinstance(item, StreamNotice)]
    assert [notice.kind for notice in notices] == ["retrying", "retrying"]
    assert len(seen_requests.requests) == 3


async def test_a_closed_client_fails_like_any_transport_failure(make):
    """A profile switch closes the client under a screen's worker: a ChutesError, no crash."""
    client, recorder, _ = make(replies(httpx.Response(200, json={"items": [], "total": 0})))
    await client.aclose()
    with pytest.raises(ClientClosed) as closed:
        await client.list_chutes()
    assert isinstance(closed.value, ChutesError) and "closed" in closed.value.message
    assert not recorder.requests
    with pytest.raises(ClientClosed):
        async with aclosing(client.log_feed("3f2e1d0c-b9a8-4765-8432-10fedcba9876")) as feed:
            async for _ in feed:
                pass  # never reopened: a closed client does not come back
