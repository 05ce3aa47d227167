"""The async Chutes API client: one `httpx.AsyncClient` per session, typed methods.

Idempotent GETs retry on connect and connection errors, 429 and 5xx with capped, jittered
backoff. Nothing else is ever retried: a deploy whose reply was lost is reconciled by
reading the chute back, never by sending it again.

Nothing waits without end: every request but a deploy and a build upload has a total
deadline (a server that trickles one byte at a time cannot hold it open; an upload takes
as long as its size), a stream that goes quiet, without even
a keep-alive, is taken as broken, and a `Retry-After` longer than the client is willing to
wait gives up at once instead of waiting in silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import random
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx

from chutes_tui.client import debuglog
from chutes_tui.client.backoff import Backoff, StreamBackoff
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    ClientClosed,
    ConfigError,
    Conflict,
    HotkeyRefused,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    StreamBroken,
    StreamIdle,
    TimedOut,
    Unreachable,
    Unsupported,
    ValidationFailed,
    error_for,
)
from chutes_tui.client.sse import KEEPALIVE, ServerEvent, iter_event_batches
from chutes_tui.config import Connection

if TYPE_CHECKING:
    from chutes_tui.client import models
    from chutes_tui.client.builds import BuildLogLine, BuildLogText
    from chutes_tui.client.invoke import InvokeChunk, InvokeResult
else:

    class _LazyModels:
        """Import the pydantic models on first use: raw JSON callers never pay for them."""

        def __getattr__(self, name: str) -> Any:
            from chutes_tui.client import models as loaded

            return getattr(loaded, name)

    models = _LazyModels()

log = logging.getLogger("chutes_tui.client")
Parsed = TypeVar("Parsed")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
USER_AGENT = "chutes-tui"
SDK_VERSION_HEADER = {"X-Chutes-Version": "0.6.9"}
# The longest `Retry-After` the client waits out (seconds); a server asking for more gets
# RateLimited at once, with what it asked for. `ChutesClient(max_retry_after=...)` changes it.
MAX_RETRY_AFTER = 60.0
# The longest one request may take from sending to the last byte of its reply (seconds).
DEADLINE = 30.0
# How long a stream may go without an event or a keep-alive (the platform sends one every
# few seconds) before it is taken as broken and reopened (seconds).
STREAM_IDLE = 60.0
FIRST_EVENT_WAIT = 5.0  # seconds: an unwanted stream is read this long for its first event
# How long the API may take to answer a build upload once it has every byte (seconds).
UPLOAD_REPLY = 300.0
SHARES_UNSUPPORTED = (
    "this server cannot list shares (it has no /users/me/shares; an older server):"
    " sharing and unsharing still work"
)
QUICK_UNSUPPORTED = (
    "this server has no quick warmup status (it answered ?quick=true with the warmup"
    " stream; an older server): the warmup has begun, and the chute's instances tell how warm"
)
# An idle pooled connection is dropped after this many seconds, before the server hangs it
# up: uvicorn, which the sandbox and many APIs run on, closes idle ones after 5 s, and a
# request sent down a connection as the server closes it is lost (and a POST cannot be
# sent again to find out).
KEEP_ALIVE_EXPIRY = 3.0
CLOSED = "this connection to the API was closed (another profile, or quitting)"


@dataclass(frozen=True)
class StreamNotice:
    """What a live stream wants its reader to know: `retrying`, `connected`, `error`, `gone`."""

    kind: str
    message: str
    delay: float = 0.0


@dataclass(frozen=True)
class RetryNotice:
    """A request is about to wait before it is sent again: why, and for how long."""

    method: str
    path: str
    reason: str
    delay: float
    retry: int
    retries: int
    asked: bool = False  # the server asked for this wait (Retry-After)

    @property
    def message(self) -> str:
        wait = (
            f"waiting {_seconds(self.delay)} s as the API asks"
            if self.asked
            else f"retrying in {_seconds(self.delay)} s"
        )
        return (
            f"{self.method} {self.path}: {self.reason}; {wait}"
            f" (retry {self.retry} of {self.retries})"
        )


class LogHistory(list[str]):
    """Log lines the server sent as history (the backfill): when they were written, it
    does not say, so they were not written when they arrived."""


class DeployOutcomeUnknown(ServerError):
    """The deploy was sent but its reply was lost, and reading back could not settle it."""


# "... which for this configuration is: $3.0\n To acknowledge ...": the amount, as the
# server rounded it (tolerating "$ 1,234.5" and an exponent).
FEE_NOTICE_AMOUNT_RE = re.compile(
    r"configuration\s+is:?\s*\$\s*([0-9][0-9,]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
)


class FeeNotice(PaymentRequired):
    """A 402 deployment fee notice: the server wrote nothing and asks to accept `amount` USD."""

    def __init__(self, message: str, amount: float) -> None:
        super().__init__(message, 402)
        self.amount = amount

    @classmethod
    def from_refusal(cls, refusal: PaymentRequired) -> FeeNotice | None:
        """The notice in a 402, or None when it is another refusal or names no amount."""
        if "DEPLOYMENT FEE NOTICE" not in refusal.message.upper():
            return None
        match = FEE_NOTICE_AMOUNT_RE.search(refusal.message)
        if match is None:
            return None
        try:
            amount = float(match.group(1).replace(",", ""))
        except ValueError:
            return None
        if amount == float("inf"):  # "1e999": no amount anyone could accept
            return None
        return cls(refusal.message, amount)


def is_uuid(text: str) -> bool:
    return bool(UUID_RE.match(text))


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After`: a number of seconds or an HTTP date (RFC 9110)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC without saying where
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _seconds(value: float) -> str:
    """Seconds for people: `3600`, `2.5`."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")


def _body(payload: Any) -> bytes:
    """Compact JSON: the bytes that are hashed are the bytes that are sent."""
    return json.dumps(payload, separators=(",", ":")).encode()


class ChutesClient:
    """Typed access to one Chutes API with one connection pool.

    `timeout` bounds each network read; `deadline` bounds a whole request (None: none);
    `stream_idle` is how long a stream may stay silent; `max_retry_after` is the longest
    `Retry-After` waited out; `on_retry` hears of every wait before a retry, so a front end
    can say that it waits and for how long. `sleep` and `clock` are injectable for tests.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        deadline: float | None = DEADLINE,
        stream_idle: float | None = STREAM_IDLE,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = MAX_RETRY_AFTER,
        on_retry: Callable[[RetryNotice], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        invoke_url: str | None = None,
    ) -> None:
        self.connection = connection
        self.invoke_url = invoke_url  # where chutes answer calls (client/invoke.py)
        self._calls: httpx.AsyncClient | None = None  # opened by the first call
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.deadline = deadline
        self.stream_idle = stream_idle
        self.max_retry_after = max_retry_after
        self.on_retry = on_retry
        self._sleep = sleep
        self._clock = clock
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._stream_timeout = httpx.Timeout(None, connect=connect_timeout)
        # An upload may take as long as its size needs; its reply may not.
        self._upload_timeout = httpx.Timeout(
            None, connect=connect_timeout, read=max(timeout, UPLOAD_REPLY)
        )
        self._hotkey_checked = False
        self._debug = debuglog.request_log()
        self._http = httpx.AsyncClient(
            base_url=connection.base_url,
            transport=transport,
            # Plain-HTTP APIs (the sandbox) use no TLS: skip loading the CA bundle (~45 ms).
            verify=not connection.base_url.startswith("http://"),
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            limits=_pool_limits(),
        )

    async def __aenter__(self) -> ChutesClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._calls is not None:
            await self._calls.aclose()

    # plumbing

    def _auth(self, method: str, purpose: str | None, body: bytes | None) -> dict[str, str]:
        credentials = self.connection.credentials
        if credentials.hotkey and not credentials.api_key and not self._hotkey_checked:
            try:
                credentials.hotkey.check()
            except ValueError as error:
                raise ConfigError(f"{error} (in {self.connection.source})") from None
            self._hotkey_checked = True
        return credentials.headers(purpose, body, method)

    def _check_wait(self, hint: float | None, what: str, status: int | None) -> None:
        """Give up at once when the server asks for a longer wait than the client makes."""
        if hint is not None and hint > self.max_retry_after:
            raise RateLimited(
                f"{what}; the API asks to wait {_seconds(hint)} s; giving up (the longest"
                f" chutes-tui waits is {_seconds(self.max_retry_after)} s)",
                status,
                hint,
            )

    def _stream_backoff(self) -> StreamBackoff:
        return StreamBackoff(self.backoff, self.max_backoff, random.uniform, self._clock)

    def _reopen_delay(self, backoff: StreamBackoff, reason: ChutesError) -> tuple[float, str]:
        """The wait before reopening a stream that ended for `reason`, and how to say it."""
        hint = getattr(reason, "retry_after", None)
        what = (
            reason.message if reason.status is None else f"{reason.message} (HTTP {reason.status})"
        )
        self._check_wait(hint, what, reason.status)
        delay = backoff.next(hint)
        return delay, " as the API asks" if hint is not None else ""

    async def _exchange(
        self, request: httpx.Request, refuse_stream: str | None = None, stream: bool = False
    ) -> httpx.Response:
        """Send one request, noting it in the debug log when there is one."""
        started = time.monotonic()
        if self._http.is_closed:
            raise ClientClosed(CLOSED)
        try:
            response = await self._http.send(request, stream=stream or refuse_stream is not None)
        except BaseException as error:
            if self._debug:
                self._debug.failure(request, error, started)
            if isinstance(error, RuntimeError) and self._http.is_closed:
                raise ClientClosed(CLOSED) from None  # closed while this request waited
            raise
        if self._debug:
            note = self._debug.stream_opened if stream else self._debug.exchange
            note(request, response.status_code, started)
        if refuse_stream is not None:
            try:
                if _is_event_stream(response):
                    with suppress(TimeoutError, httpx.TransportError, ChutesError):
                        async with asyncio.timeout(FIRST_EVENT_WAIT):
                            async for _ in iter_event_batches(response.aiter_bytes()):
                                break  # the first event: the server has begun what was asked
                    raise Unsupported(refuse_stream, response.status_code)
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def _pause(
        self, request: httpx.Request, attempt: int, delay: float, reason: str, asked: bool = False
    ) -> None:
        """Wait before retrying `request`, telling the debug log, the log and `on_retry`."""
        if self._debug:
            self._debug.retry(request, attempt + 1, delay)
        notice = RetryNotice(
            request.method, request.url.path, reason, delay, attempt + 1, self.retries, asked
        )
        log.info("%s", notice.message)
        if self.on_retry is not None:
            self.on_retry(notice)
        await self._sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        purpose: str | None = None,
        params: dict[str, Any] | None = None,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        bounded: bool = True,
        content: bytes | None = None,
        content_type: str = "application/json",
        refuse_stream: str | None = None,
    ) -> httpx.Response:
        """Send one request; GETs retry, everything else goes exactly once.

        A JSON `payload` or raw `content`: either way the signed bytes are the sent bytes.
        When `bounded`, each try must be answered in full within the client's `deadline`.
        With `refuse_stream`, an event stream in reply is closed after its first event and
        `Unsupported(refuse_stream)` raised: the server ignored what asked for one reply.
        """
        body = content if content is not None else None if payload is None else _body(payload)
        retryable = method == "GET"
        params = {key: value for key, value in (params or {}).items() if value is not None}
        limit = self.deadline if bounded else None
        backoff = Backoff(self.backoff, self.max_backoff, random.uniform)
        attempt = 0
        while True:
            request_headers = {**self._auth(method, purpose, body), **(headers or {})}
            if body is not None:
                request_headers["Content-Type"] = content_type
            request = self._http.build_request(
                method,
                path,
                params=params,
                content=body,
                headers=request_headers,
                timeout=timeout or self._timeout,
            )
            guard = asyncio.timeout(limit)
            try:
                async with guard:
                    response = await self._exchange(request, refuse_stream)
            except TimeoutError:
                if not guard.expired():
                    raise
                raise TimedOut(
                    f"{method} {path}: no complete reply from the Chutes API within"
                    f" {_seconds(limit or 0)} s"
                ) from None
            except httpx.ConnectError as error:
                if retryable and attempt < self.retries:
                    why = f"cannot reach the API ({_why(error)})"
                    await self._pause(request, attempt, backoff.next(), why)
                    attempt += 1
                    continue
                raise Unreachable(
                    f"cannot reach the Chutes API at {self.connection.base_url}: {_why(error)}"
                ) from None
            except httpx.TimeoutException:
                raise TimedOut(f"{method} {path}: no reply from the Chutes API in time") from None
            except httpx.TransportError as error:
                lost = isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError)
                if lost and retryable and attempt < self.retries:  # a GET may go again
                    why = f"the connection failed ({_why(error)})"
                    await self._pause(request, attempt, backoff.next(), why)
                    attempt += 1
                    continue
                raise Unreachable(
                    f"{method} {path}: the connection failed: {_why(error)}", sent=True
                ) from None
            if response.status_code < 400:
                return response
            retry_hint = _retry_after(response)
            status = response.status_code
            if retryable and (status == 429 or status >= 500):
                why = f"{error_for(status, _detail(response)).message} (HTTP {status})"
                self._check_wait(retry_hint, f"{method} {path}: {why}", status)
                if attempt < self.retries:
                    delay = backoff.next(retry_hint)
                    await self._pause(request, attempt, delay, why, retry_hint is not None)
                    attempt += 1
                    continue
            raise _refusal(request, response)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"{method} {path}: the API replied with something that is not JSON"
                f" (HTTP {response.status_code})",
                response.status_code,
            ) from None

    async def _model(self, model: type[Parsed], method: str, path: str, **kwargs: Any) -> Parsed:
        return self._parse(model, await self._json(method, path, **kwargs), path)

    @staticmethod
    def _parse(model: type[Parsed], data: Any, path: str) -> Parsed:
        from pydantic import BaseModel, TypeAdapter

        try:
            if isinstance(model, type) and issubclass(model, BaseModel):
                return model.model_validate(data)
            return TypeAdapter(model).validate_python(data)
        except Exception as error:  # pydantic.ValidationError, imported lazily
            raise ServerError(f"{path}: the API reply has an unexpected shape: {error}") from None

    # users

    @overload
    async def me(self, raw: Literal[False] = ...) -> models.User: ...
    @overload
    async def me(self, raw: Literal[True]) -> dict[str, Any]: ...
    async def me(self, raw: bool = False) -> models.User | dict[str, Any]:
        data = await self._json("GET", "/users/me", purpose="me")
        return data if raw else self._parse(models.User, data, "/users/me")

    async def name_check(self, username: str) -> models.NameCheck:
        return await self._model(
            models.NameCheck, "GET", "/users/name_check", params={"username": username}
        )

    async def list_shares(self) -> list[models.Share]:
        """The shares you created. The API accepts only API keys here, not hotkeys."""
        if not self.connection.credentials.api_key:
            raise ConfigError(
                "listing shares needs an API key (the API does not take hotkey signatures"
                " there): set CHUTES_API_KEY or pass --api-key"
            )
        try:
            data = await self._json("GET", "/users/me/shares")
        except NotFound:  # a fixed path: only a server without the route answers 404
            raise Unsupported(SHARES_UNSUPPORTED, 404) from None
        return self._parse(list[models.Share], data, "/users/me/shares")

    # images

    @overload
    async def list_images(
        self,
        page: int = ...,
        limit: int = ...,
        name: str | None = ...,
        include_public: bool = ...,
        raw: Literal[False] = ...,
    ) -> models.Page[models.Image]: ...
    @overload
    async def list_images(
        self,
        page: int = ...,
        limit: int = ...,
        name: str | None = ...,
        include_public: bool = ...,
        *,
        raw: Literal[True],
    ) -> dict[str, Any]: ...
    async def list_images(
        self,
        page: int = 0,
        limit: int = 25,
        name: str | None = None,
        include_public: bool = False,
        raw: bool = False,
    ) -> models.Page[models.Image] | dict[str, Any]:
        """A page of images; `raw` gives the API's JSON unparsed."""
        params = {"page": page, "limit": limit, "name": name, "include_public": include_public}
        data = await self._json("GET", "/images/", purpose="images", params=params)
        return data if raw else self._parse(models.Page[models.Image], data, "/images/")

    @overload
    async def get_image(self, ref: str, raw: Literal[False] = ...) -> models.Image: ...
    @overload
    async def get_image(self, ref: str, raw: Literal[True]) -> dict[str, Any]: ...
    async def get_image(self, ref: str, raw: bool = False) -> models.Image | dict[str, Any]:
        data = await self._json("GET", f"/images/{ref}", purpose="images")
        return data if raw else self._parse(models.Image, data, f"/images/{ref}")

    async def delete_image(self, ref: str) -> models.Deleted:
        return await self._model(models.Deleted, "DELETE", f"/images/{ref}", purpose="images")

    # chutes

    @overload
    async def list_chutes(
        self,
        page: int = ...,
        limit: int = ...,
        name: str | None = ...,
        include_public: bool = ...,
        raw: Literal[False] = ...,
    ) -> models.Page[models.Chute]: ...
    @overload
    async def list_chutes(
        self,
        page: int = ...,
        limit: int = ...,
        name: str | None = ...,
        include_public: bool = ...,
        *,
        raw: Literal[True],
    ) -> dict[str, Any]: ...
    async def list_chutes(
        self,
        page: int = 0,
        limit: int = 25,
        name: str | None = None,
        include_public: bool = False,
        raw: bool = False,
    ) -> models.Page[models.Chute] | dict[str, Any]:
        """A page of chutes with each item's cords filled in from `cord_refs`."""
        params = {"page": page, "limit": limit, "name": name, "include_public": include_public}
        data = await self._json("GET", "/chutes/", purpose="chutes", params=params)
        items = data.get("items") if isinstance(data, dict) else None
        refs = data.get("cord_refs") if isinstance(data, dict) else None
        if not isinstance(items, list) or not isinstance(refs, dict | None):
            raise ServerError("/chutes/: the API reply has an unexpected shape")
        for item in items:
            if isinstance(item, dict) and item.get("cords") is None:
                item["cords"] = (refs or {}).get(item.get("cord_ref_id"))
        return data if raw else self._parse(models.Page[models.Chute], data, "/chutes/")

    @overload
    async def get_chute(self, ref: str, raw: Literal[False] = ...) -> models.Chute: ...
    @overload
    async def get_chute(self, ref: str, raw: Literal[True]) -> dict[str, Any]: ...
    async def get_chute(self, ref: str, raw: bool = False) -> models.Chute | dict[str, Any]:
        data = await self._json("GET", f"/chutes/{ref}", purpose="chutes")
        return data if raw else self._parse(models.Chute, data, f"/chutes/{ref}")

    async def chute_id(self, ref: str) -> str:
        """The UUID of a chute given its id or name (newer servers delete by UUID only)."""
        return ref if is_uuid(ref) else (await self.get_chute(ref)).chute_id

    async def code(self, ref: str) -> str:
        chute_id = await self.chute_id(ref)
        response = await self._send("GET", f"/chutes/code/{chute_id}", purpose="chutes")
        return response.text

    async def update_chute(self, ref: str, changes: dict[str, Any]) -> models.Chute:
        chute_id = await self.chute_id(ref)
        return await self._model(models.Chute, "PUT", f"/chutes/{chute_id}", payload=changes)

    async def delete_chute(self, ref: str) -> models.Deleted:
        chute_id = await self.chute_id(ref)
        return await self._model(models.Deleted, "DELETE", f"/chutes/{chute_id}", purpose="chutes")

    async def deploy(self, body: dict[str, Any], accept_fee: bool = False) -> models.Chute:
        """`POST /chutes/` exactly once; a lost reply is settled by reading the chute back.

        A fee notice (402 without `accept_fee`, nothing written) raises `FeeNotice`.
        """
        params = {"accept_fee": str(bool(accept_fee)).lower()}
        try:
            return await self._model(
                models.Chute,
                "POST",
                "/chutes/",
                params=params,
                payload=body,
                headers=SDK_VERSION_HEADER,
                timeout=self._stream_timeout,
                bounded=False,  # the platform checks the image and code before it answers
            )
        except PaymentRequired as refusal:
            notice = None if accept_fee else FeeNotice.from_refusal(refusal)
            if notice is None:
                raise
            raise notice from None
        except (TimedOut, Unreachable) as lost:
            if isinstance(lost, Unreachable) and not lost.sent:
                raise  # never connected: nothing was sent
            return await self._reconcile_deploy(body, lost)

    async def _reconcile_deploy(self, body: dict[str, Any], lost: ChutesError) -> models.Chute:
        try:
            chute = await self.get_chute(body["name"])
            code = await self.code(chute.chute_id)
        except NotFound:
            raise Unreachable(
                f"the deploy of {body['name']} got no reply and the chute does not exist:"
                " it was not deployed, so it is safe to try again"
            ) from None
        except ChutesError as error:
            raise DeployOutcomeUnknown(
                f"the deploy of {body['name']} got no reply ({lost.message}) and reading it back"
                f" failed ({error.message}): check with `chutes-tui --no-ui chutes get"
                f" {body['name']}` before deploying again"
            ) from None
        if code == body.get("code"):
            return chute
        raise Unreachable(
            f"the deploy of {body['name']} got no reply and the chute on the server has other"
            " code: this version was not deployed, so it is safe to try again"
        )

    async def upload_logo(self, path: str | Path) -> str:
        """Upload an image as a logo (`POST /logos/`, multipart); its `logo_id`."""
        path = Path(path)
        kind = mimetypes.guess_type(path.name)[0] or "image/png"
        # httpx encodes the multipart body (and escapes the file name); its bytes are then
        # signed and sent as they are.
        form = self._http.build_request(
            "POST", "/logos/", files={"logo": (path.name, path.read_bytes(), kind)}
        )
        data = await self._json(
            "POST",
            "/logos/",
            content=form.read(),
            content_type=form.headers["Content-Type"],
        )
        if not isinstance(data, dict) or not isinstance(data.get("logo_id"), str):
            raise ServerError("/logos/: the API reply has no logo_id")
        return data["logo_id"]

    async def share(self, chute: str, user: str) -> models.StatusReply:
        payload = {"chute_id_or_name": chute, "user_id_or_name": user}
        return await self._model(models.StatusReply, "POST", "/chutes/share", payload=payload)

    async def unshare(self, chute: str, user: str) -> models.StatusReply:
        payload = {"chute_id_or_name": chute, "user_id_or_name": user}
        return await self._model(models.StatusReply, "POST", "/chutes/unshare", payload=payload)

    # API keys and secrets

    @overload
    async def list_api_keys(
        self, page: int = ..., limit: int = ..., raw: Literal[False] = ...
    ) -> models.Page[models.ApiKey]: ...
    @overload
    async def list_api_keys(
        self, page: int = ..., limit: int = ..., *, raw: Literal[True]
    ) -> dict[str, Any]: ...
    async def list_api_keys(
        self, page: int = 0, limit: int = 25, raw: bool = False
    ) -> models.Page[models.ApiKey] | dict[str, Any]:
        """A page of your API keys: names, scopes, times; never a key's secret."""
        params = {"page": page, "limit": limit}
        data = await self._json("GET", "/api_keys/", purpose="api_keys", params=params)
        if raw:
            return data
        return self._parse(models.Page[models.ApiKey], data, "/api_keys/")

    async def create_api_key(
        self, name: str, admin: bool, scopes: Sequence[dict[str, Any]] = ()
    ) -> models.ApiKeyCreated:
        """`POST /api_keys/`, sent once: the reply holds the key's secret, shown this once.

        A lost reply is settled by reading the keys back; the secret cannot be.
        """
        body: dict[str, Any] = {"name": name, "admin": admin}
        if not admin:
            body["scopes"] = list(scopes)
        try:
            data = await self._json("POST", "/api_keys/", payload=body)
        except (TimedOut, Unreachable) as lost:
            if isinstance(lost, Unreachable) and not lost.sent:
                raise  # never connected: nothing was sent
            raise await self._lost_key(name, lost) from None
        try:
            return models.ApiKeyCreated.model_validate(data)
        except Exception:  # pydantic's message would quote the reply, secret and all
            raise ServerError(
                "/api_keys/: the reply to creating a key has an unexpected shape"
            ) from None

    async def _lost_key(self, name: str, lost: ChutesError) -> ChutesError:
        """Why a key whose creation got no reply cannot be used, or can be created again."""
        try:
            items = await self.all_pages(self.list_api_keys, raw=True)
        except ChutesError as error:
            return ServerError(
                f"creating the API key {name} got no reply ({lost.message}) and reading the keys"
                f" back failed ({error.message}): check with `chutes-tui --no-ui keys list`"
            )
        if any(isinstance(item, dict) and item.get("name") == name for item in items):
            return ServerError(
                f"the API key {name} was created, but the reply holding its secret was lost and"
                f" the API never shows it again: delete it (`chutes-tui --no-ui keys delete"
                f" {name}`) and create another"
            )
        return Unreachable(
            f"creating the API key {name} got no reply and it does not exist: it was not"
            " created, so it is safe to try again"
        )

    async def delete_api_key(self, api_key_id: str) -> models.ApiKeyDeleted:
        path = f"/api_keys/{api_key_id}"
        return await self._model(models.ApiKeyDeleted, "DELETE", path, purpose="api_keys")

    @overload
    async def list_secrets(
        self, page: int = ..., limit: int = ..., raw: Literal[False] = ...
    ) -> models.Page[models.Secret]: ...
    @overload
    async def list_secrets(
        self, page: int = ..., limit: int = ..., *, raw: Literal[True]
    ) -> dict[str, Any]: ...
    async def list_secrets(
        self, page: int = 0, limit: int = 25, raw: bool = False
    ) -> models.Page[models.Secret] | dict[str, Any]:
        """A page of your secrets: chute (`purpose`, its id), key, time; never a value."""
        params = {"page": page, "limit": limit}
        data = await self._json("GET", "/secrets/", purpose="secrets", params=params)
        if raw:
            return data
        return self._parse(models.Page[models.Secret], data, "/secrets/")

    async def create_secret(self, chute_id: str, key: str, value: str) -> models.Secret:
        """`POST /secrets/`, sent once: the value is in this one request and kept nowhere.

        No error raised here quotes the value, whatever the server answers; a lost reply is
        settled by reading the secrets back.
        """
        try:
            data = await self._json(
                "POST", "/secrets/", payload={"purpose": chute_id, "key": key, "value": value}
            )
        except (TimedOut, Unreachable) as lost:
            if isinstance(lost, Unreachable) and not lost.sent:
                raise _without(lost, value) from None
            data = await self._lost_secret(chute_id, key, _without(lost, value))
        except ChutesError as refusal:
            raise _without(refusal, value) from None
        try:
            return models.Secret.model_validate(data)
        except Exception:  # pydantic's message would quote the reply
            raise ServerError(
                "/secrets/: the reply to creating a secret has an unexpected shape"
            ) from None

    async def _lost_secret(self, chute_id: str, key: str, lost: ChutesError) -> dict[str, Any]:
        try:
            items = await self.all_pages(self.list_secrets, raw=True)
        except ChutesError as error:
            raise ServerError(
                f"creating the secret {key} got no reply ({lost.message}) and reading the secrets"
                f" back failed ({error.message}): check with `chutes-tui --no-ui secrets list`"
            ) from None
        for item in items:
            if isinstance(item, dict) and (item.get("purpose"), item.get("key")) == (chute_id, key):
                return item
        raise Unreachable(
            f"creating the secret {key} got no reply and it does not exist: it was not created,"
            " so it is safe to try again"
        )

    async def delete_secret(self, secret_id: str) -> models.SecretDeleted:
        path = f"/secrets/{secret_id}"
        return await self._model(models.SecretDeleted, "DELETE", path, purpose="secrets")

    # live

    async def warmup_status(self, ref: str) -> models.QuickWarmup:
        """Start warming `ref` and say how warm it is, in one short reply.

        A server that ignores `quick` answers with the warmup stream instead: its first
        event is read (so the warmup has begun), the stream closed, and `Unsupported` raised;
        the chute's own instances then tell how warm it is.
        """
        return await self._model(
            models.QuickWarmup,
            "GET",
            f"/chutes/warmup/{ref}",
            purpose="chutes",
            params={"quick": "true"},
            refuse_stream=QUICK_UNSUPPORTED,
        )

    @asynccontextmanager
    async def _stream(
        self, path: str, purpose: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        request = self._http.build_request(
            "GET",
            path,
            params=params,
            headers=self._auth("GET", purpose, None),
            timeout=self._stream_timeout,
        )
        guard = asyncio.timeout(self.stream_idle)
        try:
            async with guard:
                response = await self._exchange(request, stream=True)
        except TimeoutError:
            if not guard.expired():
                raise
            raise StreamIdle(
                f"GET {path}: no reply within {_seconds(self.stream_idle or 0)} s"
                " of opening the stream"
            ) from None
        except httpx.ConnectError as error:
            raise Unreachable(
                f"cannot reach the Chutes API at {self.connection.base_url}: {_why(error)}"
            ) from None
        except httpx.TransportError as error:
            raise Unreachable(f"GET {path}: the connection failed: {_why(error)}") from None
        opened = time.monotonic()
        ending: BaseException | None = None  # what ended the stream, for the debug log
        try:
            if response.status_code >= 400:
                if not await self._read_in_time(response):
                    raise TimedOut(
                        f"GET {path}: HTTP {response.status_code}, and its reason did not arrive"
                        f" within {_seconds(self.deadline or 0)} s"
                    )
                raise _refusal(request, response)
            yield response
        except BaseException as error:
            ending = error
            raise
        finally:
            await response.aclose()
            if self._debug:
                self._debug.stream_closed(request, opened, ending)

    async def _event_batches(
        self, path: str, purpose: str, params: dict[str, Any] | None = None
    ) -> AsyncGenerator[list[ServerEvent], None]:
        """Events as they arrive, one list per network read (busy streams stay cheap)."""
        async with self._stream(path, purpose, params) as response:
            chunks = response.aiter_bytes()
            try:
                async for batch in iter_event_batches(chunks, idle=self.stream_idle):
                    yield batch
            except httpx.TransportError as error:
                raise StreamBroken(f"GET {path}: the stream broke: {_why(error)}") from None
            except StreamIdle as error:
                raise StreamIdle(f"GET {path}: {error.message}") from None

    async def _events(
        self, path: str, purpose: str, params: dict[str, Any] | None = None
    ) -> AsyncGenerator[ServerEvent, None]:
        async with aclosing(self._event_batches(path, purpose, params)) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    async def warmup(self, ref: str) -> AsyncGenerator[models.WarmupEvent, None]:
        """The warmup stream: `cold` events, then one `hot` event when the chute is ready."""
        path = f"/chutes/warmup/{ref}"
        async with aclosing(self._events(path, "chutes")) as events:
            async for event in events:
                if event.is_data:
                    yield self._parse(models.WarmupEvent, _event_json(event), path)

    async def warmup_feed(
        self, ref: str, attempts: int | None = None
    ) -> AsyncGenerator[models.WarmupEvent | StreamNotice, None]:
        """Warmup events until the chute is hot, the stream reopened whenever it ends early.

        The API closes a warmup stream after about ten minutes without going hot, and
        connections drop: each reopening is announced by a `retrying` notice, and waits
        longer than the last until a stream has worked for a while (`StreamBackoff`). An
        API that was never reached raises at once (a wrong URL does not fix itself); so does
        402, 403 or 404, or a `Retry-After` beyond `max_retry_after`. With `attempts`, that
        many failures in a row raise the last one.
        """
        failures, opened = 0, False
        backoff = self._stream_backoff()
        while True:
            backoff.opened()
            try:
                async with aclosing(self.warmup(ref)) as stream:
                    async for event in stream:
                        failures, opened = 0, True
                        backoff.delivered()
                        yield event
                        if event.status == "hot":
                            return
                reason: ChutesError = StreamBroken(
                    "the warmup stream ended before the chute went hot"
                )
            except (StreamBroken, Unreachable, ServerError, RateLimited) as error:
                if isinstance(error, Unreachable) and not opened:
                    raise
                reason = error
            failures += 1
            if attempts is not None and failures > attempts:
                raise reason
            delay, asked = self._reopen_delay(backoff, reason)
            yield StreamNotice(
                "retrying", f"{reason.message}; reopening in {delay:.1f} s{asked}", delay
            )
            await self._sleep(delay)

    async def instance_logs(
        self,
        instance_id: str,
        backfill: int = 100,
        reconnect: bool = False,
        attempts: int = 5,
        follow: bool = True,
    ) -> AsyncGenerator[str, None]:
        """Log lines of one instance; with `reconnect`, a broken stream is reopened.

        Without `follow`, only the history: it ends after `backfill` lines or at the first
        keep-alive, which the log server sends once it has nothing more to say.
        """
        if follow and reconnect:
            async with aclosing(self.log_feed(instance_id, backfill, attempts)) as feed:
                async for item in feed:
                    if isinstance(item, list):
                        for text in item:
                            yield text
            return
        seen = 0
        path = f"/instances/{instance_id}/logs"
        async with aclosing(self._events(path, "logs", {"backfill": backfill})) as events:
            async for event in events:
                if not follow and (seen >= backfill or event.kind == KEEPALIVE):
                    return
                line = _log_line(event)
                if line is not None:
                    seen += 1
                    yield line

    async def log_feed(
        self, instance_id: str, backfill: int = 100, attempts: int = 30
    ) -> AsyncGenerator[list[str] | StreamNotice, None]:
        """An instance's log lines in batches, reconnecting with backoff, saying what it does.

        Yields lists of lines, and a `StreamNotice` whenever the stream is retried, comes
        back, reports an error, or ends because the instance is gone (404). After
        `attempts` failures in a row it raises the last error. Reconnects ask for no
        backfill, so lines are not repeated. The history comes as `LogHistory` lists: the
        first connection's lines before the server's first keep-alive, `backfill` at most.
        """
        path = f"/instances/{instance_id}/logs"
        params = {"backfill": backfill}
        failures = 0
        backoff = self._stream_backoff()
        history = backfill  # lines of history still to come, on the first connection only
        while True:
            backoff.opened()
            try:
                async with aclosing(self._event_batches(path, "logs", params)) as batches:
                    async for batch in batches:
                        backoff.delivered()
                        if failures:
                            failures = 0
                            yield StreamNotice("connected", "reconnected")
                        old, lines = LogHistory(), list[str]()
                        for event in batch:
                            if event.kind == KEEPALIVE:
                                history = 0  # the server has sent all it had
                            line = _log_line(event)
                            if line is None:
                                continue
                            if history:
                                old.append(line)
                                history -= 1
                            else:
                                lines.append(line)
                        if old:
                            yield old
                        if lines:
                            yield lines
                        for problem in filter(None, map(_log_error, batch)):
                            yield StreamNotice("error", problem)
                reason: ChutesError = StreamBroken("the server closed the stream")
            except NotFound:
                yield StreamNotice("gone", "instance gone: the API no longer knows it")
                return
            except (StreamBroken, Unreachable, ServerError, RateLimited) as error:
                reason = error
            failures += 1
            if failures > attempts:
                raise reason
            delay, asked = self._reopen_delay(backoff, reason)
            yield StreamNotice(
                "retrying",
                f"{reason.message}; reconnecting in {delay:.1f} s{asked}"
                f" (attempt {failures} of {attempts})",
                delay,
            )
            params, history = {"backfill": 0}, 0
            await self._sleep(delay)

    # image builds

    async def build_image(
        self,
        *,
        username: str,
        name: str,
        tag: str,
        readme: str,
        dockerfile: str,
        image: str,
        context: bytes,
        public: bool = False,
        logo_id: str | None = None,
    ) -> dict[str, Any]:
        """`POST /images/` as `chutes build` sends it, exactly once; the API's reply.

        The multipart body is rendered once, and its bytes are both signed and sent. A reply
        lost on the way is settled by reading the image back, never by sending it again.
        """
        from chutes_tui.client.builds import CONTEXT_FIELD, CONTEXT_NAME, CONTEXT_TYPE, build_form

        ref = f"{username}/{name}:{tag}"
        fields = build_form(
            username=username,
            name=name,
            tag=tag,
            readme=readme,
            dockerfile=dockerfile,
            image=image,
            public=public,
            logo_id=logo_id,
        )
        form = self._http.build_request(
            "POST",
            "/images/",
            data=fields,
            files={CONTEXT_FIELD: (CONTEXT_NAME, context, CONTEXT_TYPE)},
        )
        try:
            data = await self._json(
                "POST",
                "/images/",
                content=form.read(),
                content_type=form.headers["Content-Type"],
                headers=SDK_VERSION_HEADER,
                timeout=self._upload_timeout,
                bounded=False,
            )
        except (TimedOut, Unreachable) as lost:
            if isinstance(lost, Unreachable) and not lost.sent:
                raise  # never connected: nothing was sent
            return await self._reconcile_build(ref, lost)
        except ChutesError as refusal:
            raise _build_refusal(ref, len(context), refusal) from None
        if not isinstance(data, dict) or not isinstance(data.get("image_id"), str):
            raise ServerError("/images/: the API reply has no image_id")
        return data

    async def _reconcile_build(self, ref: str, lost: ChutesError) -> dict[str, Any]:
        try:
            return await self.get_image(ref, raw=True)
        except NotFound:
            raise Unreachable(
                f"the build upload of {ref} got no reply and the image does not exist: it was"
                " not created, so it is safe to try again"
            ) from None
        except ChutesError as error:
            raise ServerError(
                f"the build upload of {ref} got no reply ({lost.message}) and reading it back"
                f" failed ({error.message}): check with `chutes-tui --no-ui images get {ref}`"
                " before building again"
            ) from None

    async def image_build_log(
        self,
        image_id: str,
        offset: str | None = None,
        *,
        follow: bool = True,
        attempts: int = 30,
    ) -> AsyncGenerator[BuildLogLine | BuildLogText | StreamNotice, None]:
        """An image's build log: its lines as they come, until `DONE`.

        A build that has ended is answered with its whole log as text (`BuildLogText`). A
        stream that breaks, goes quiet or ends early is reopened from the last line's
        offset (announced by a `retrying` notice, waiting longer each time, as
        `log_feed` does); the API's `ERROR:` reports come as `error` notices. Without
        `follow`, only what is logged so far: it ends at the first keep-alive.
        """
        from chutes_tui.client.builds import (
            BuildLogError,
            BuildLogText,
            build_log_item,
            is_done,
            unseen,
        )

        path = f"/images/{image_id}/logs"
        failures = 0
        backoff = self._stream_backoff()
        shown, last = 0, None  # lines yielded, and the last of them
        while True:
            backoff.opened()
            params = {"offset": offset} if offset is not None else None
            try:
                async with self._stream(path, "images", params) as response:
                    if not _is_event_stream(response):
                        text = await self._whole_text(response, path)
                        yield BuildLogText(unseen(text, shown, last))
                        return
                    async for batch in self._batches(response, path):
                        backoff.delivered()
                        if failures:
                            failures = 0
                            yield StreamNotice("connected", "reconnected")
                        for event in batch:
                            if is_done(event) or (not follow and event.kind == KEEPALIVE):
                                return
                            item = build_log_item(event)
                            if isinstance(item, BuildLogError):
                                yield StreamNotice("error", f"build log: {item.message}")
                            elif item is not None:
                                offset = item.offset if item.offset is not None else offset
                                shown, last = shown + 1, item.log
                                yield item
                reason: ChutesError = StreamBroken("the build log stream ended before DONE")
            except (StreamBroken, Unreachable, ServerError, RateLimited) as error:
                reason = error
            failures += 1
            if failures > attempts:
                raise reason
            delay, asked = self._reopen_delay(backoff, reason)
            where = f" from offset {offset}" if offset is not None else ""
            yield StreamNotice(
                "retrying",
                f"{reason.message}; reopening{where} in {delay:.1f} s{asked}"
                f" (attempt {failures} of {attempts})",
                delay,
            )
            await self._sleep(delay)

    async def _batches(
        self, response: httpx.Response, path: str
    ) -> AsyncGenerator[list[ServerEvent], None]:
        """The events of an open stream, one list per read; a broken one raises StreamBroken."""
        try:
            async for batch in iter_event_batches(response.aiter_bytes(), idle=self.stream_idle):
                yield batch
        except httpx.TransportError as error:
            raise StreamBroken(f"GET {path}: the stream broke: {_why(error)}") from None
        except StreamIdle as error:
            raise StreamIdle(f"GET {path}: {error.message}") from None

    async def _read_in_time(self, response: httpx.Response) -> bool:
        """Read the rest of a reply within the deadline; False when it did not all arrive."""
        reading = asyncio.timeout(self.deadline)
        try:
            async with reading:
                await response.aread()
        except TimeoutError:
            if not reading.expired():
                raise
            return False
        return True

    async def _whole_text(self, response: httpx.Response, path: str) -> str:
        try:
            arrived = await self._read_in_time(response)
        except httpx.TransportError as error:
            raise StreamBroken(f"GET {path}: the log broke off: {_why(error)}") from None
        if not arrived:
            raise StreamBroken(
                f"GET {path}: the log did not arrive within {_seconds(self.deadline or 0)} s"
            )
        return response.text

    # platform

    @overload
    async def pricing(self, raw: Literal[False] = ...) -> models.Pricing: ...
    @overload
    async def pricing(self, raw: Literal[True]) -> dict[str, Any]: ...
    async def pricing(self, raw: bool = False) -> models.Pricing | dict[str, Any]:
        data = await self._json("GET", "/pricing")
        return data if raw else self._parse(models.Pricing, data, "/pricing")

    async def supported_gpus(self) -> dict[str, Any]:
        return await self._json("GET", "/nodes/supported")

    # spend and usage

    async def invocation_usage(self) -> list[models.InvocationUsage]:
        """Every chute's amount and calls per day over the last 11 days (all users: the
        platform publishes it)."""
        data = await self._json("GET", "/invocations/usage")
        return self._parse(list[models.InvocationUsage], data, "/invocations/usage")

    async def my_usage(
        self, start: datetime, chute_id: str | None = None, limit: int = 50_000
    ) -> list[models.UsageBucket]:
        """What you were billed per chute and hour since `start`, every page. The API takes
        API keys only here, not hotkeys."""
        if not self.connection.credentials.api_key:
            raise ConfigError(
                "your usage needs an API key (the API does not take hotkey signatures there):"
                " set CHUTES_API_KEY or pass --api-key"
            )
        params = {"per_chute": "true", "start_date": start.isoformat(), "chute_id": chute_id}
        items: list[models.UsageBucket] = []
        page = 0
        while True:
            data = await self._json(
                "GET", "/users/me/usage", params={**params, "page": page, "limit": limit}
            )
            result = self._parse(models.UsagePage, data, "/users/me/usage")
            items.extend(result.items)
            if not result.items or len(items) >= result.total:
                return items
            page += 1

    async def utilization(self) -> list[models.ChuteUtilization]:
        """Requests, rate-limited requests and how busy each chute is (no auth needed)."""
        data = await self._json("GET", "/chutes/utilization")
        return self._parse(list[models.ChuteUtilization], data, "/chutes/utilization")

    async def ledger(self, days: int, kind: str | None = None) -> list[models.LedgerEntry]:
        """What the sandbox billed you by kind (fees, instance hours, calls, credits), or of
        one `kind`. The platform has no such route (it keeps one sum per hour): `Unsupported`
        there.
        """
        params = {"days": days, "kind": kind}
        try:
            data = await self._json("GET", "/_sandbox/ledger", purpose="me", params=params)
        except NotFound:
            raise Unsupported(
                "this API does not say what was deployment fees (the platform sums fees,"
                " calls and instance hours together); the sandbox does",
                404,
            ) from None
        return self._parse(list[models.LedgerEntry], data, "/_sandbox/ledger")

    # calls

    async def invoke_events(
        self,
        slug: str,
        path: str,
        payload: Any = None,
        *,
        method: str = "POST",
        stream: bool = False,
    ) -> AsyncGenerator[InvokeChunk | InvokeResult, None]:
        """Call a chute at `path`: the chunks of a streamed reply as they arrive, then the
        finished call. Sent once, never retried (calls are billed); a refusal raises the
        error for it (cold, no access, failed, ...)."""
        from chutes_tui.client import invoke as calls

        method = method.upper()
        target = calls.invoke_target(slug, self.connection.base_url, self.invoke_url)
        if stream and isinstance(payload, dict) and "stream" not in payload:
            payload = {**payload, "stream": True}
        body = _body({} if payload is None else payload) if method in calls.BODY_METHODS else None
        headers = self._auth(method, None, body)
        if body is not None:
            headers["Content-Type"] = "application/json"
        if target.host:
            headers["Host"] = target.host
        http = self._calls_client(target.send_to)
        where = f"{method} {target.url}/{path.lstrip('/')}"
        request = http.build_request(
            method, target.request_url(path), content=body, headers=headers
        )
        result = calls.InvokeResult(url=f"{target.url}/{path.lstrip('/')}", method=method)
        started = time.monotonic()
        try:
            response = await http.send(request, stream=True)
        except httpx.ConnectError as error:
            raise Unreachable(f"{where}: cannot reach the chute: {_why(error)}") from None
        except httpx.TimeoutException:
            raise TimedOut(f"{where}: no reply in time") from None
        except httpx.TransportError as error:
            raise Unreachable(f"{where}: the connection failed: {_why(error)}", sent=True) from None
        try:
            result.status = response.status_code
            result.content_type = response.headers.get("content-type", "")
            result.invocation_id = response.headers.get("X-Chutes-InvocationID")
            if response.status_code >= 400:
                await response.aread()
                raise calls.call_error(
                    response.status_code, _detail(response), where, _retry_after(response)
                )
            events = _is_event_stream(response)
            result.streamed = events or (stream and "json" not in result.content_type)
            if result.streamed:
                async for chunk in calls.read_chunks(response.aiter_text(), events, started):
                    if result.first_chunk is None:
                        result.first_chunk = chunk.elapsed
                    result.chunks.append(chunk.text)
                    result.error = result.error or calls.stream_error(chunk.text)
                    yield chunk
            else:
                await response.aread()
                try:
                    result.body = response.json()
                except ValueError:
                    result.body = response.text
        except httpx.TransportError as error:
            raise StreamBroken(f"{where}: the reply broke off: {_why(error)}") from None
        finally:
            await response.aclose()
            if self._debug:
                self._debug.exchange(request, response.status_code, started)
        result.latency = time.monotonic() - started
        yield result

    async def invoke(
        self,
        slug: str,
        path: str,
        payload: Any = None,
        *,
        method: str = "POST",
        stream: bool = False,
    ) -> InvokeResult:
        """Call a chute and wait for the whole reply (see `invoke_events`)."""
        from chutes_tui.client.invoke import InvokeChunk

        async with aclosing(
            self.invoke_events(slug, path, payload, method=method, stream=stream)
        ) as events:
            async for item in events:
                if not isinstance(item, InvokeChunk):
                    return item
        raise ServerError(f"{path}: the call ended without a result")

    def _calls_client(self, send_to: str) -> httpx.AsyncClient:
        """One connection pool for calls: chutes answer on other hosts than the API, and a
        chute may work on a call for minutes."""
        from chutes_tui.client.invoke import INVOKE_READ

        if self._calls is None:
            self._calls = httpx.AsyncClient(
                verify=not send_to.startswith("http://"),
                timeout=httpx.Timeout(None, connect=self._timeout.connect, read=INVOKE_READ),
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
                limits=_pool_limits(),
            )
        return self._calls

    async def all_pages(
        self,
        lister: Callable[..., Awaitable[models.Page[Any] | dict[str, Any]]],
        limit: int = 100,
        **filters: Any,
    ) -> list[Any]:
        """Every item of a paged list."""
        items: list[Any] = []
        page = 0
        while True:
            result = await lister(page=page, limit=limit, **filters)
            batch, total = (
                (result["items"], result["total"])
                if isinstance(result, dict)
                else (result.items, result.total)
            )
            items.extend(batch)
            if not batch or len(items) >= total:
                return items
            page += 1


HOTKEY_REFUSED = "Either payload_str or purpose must be provided"


def _build_refusal(ref: str, size: int, refusal: ChutesError) -> ChutesError:
    """A refused build upload in words that say what to do; the class (exit code) is kept."""
    said = f" (the API: {refusal.message})" if refusal.message else ""
    if isinstance(refusal, Conflict):
        message = (
            f"image {ref} already exists: give the image another tag, or delete it first"
            f" (`chutes-tui --no-ui images delete {ref}`)"
        )
    elif isinstance(refusal, AuthError) and refusal.status == 403:
        message = f"the API does not allow this build of {ref}{said}"
    elif isinstance(refusal, AuthError):
        message = (
            f"the API refused the build of {ref}{said}: check the credentials, and that the"
            " username in Image(...) is yours"
        )
    elif isinstance(refusal, PaymentRequired):
        message = f"the API refused the build of {ref}{said}: top up the account to build images"
    elif isinstance(refusal, ValidationFailed) and refusal.status == 413:
        message = (
            f"the build context of {ref} ({size:,} bytes zipped) is too large for the API:"
            " leave out what the image does not need (--include-cwd adds the whole directory)"
        )
    elif isinstance(refusal, ValidationFailed):
        message = f"the API refused the build request of {ref}{said}"
    else:
        return refusal
    return type(refusal)(message, refusal.status)


def _refusal(request: httpx.Request, response: httpx.Response) -> ChutesError:
    """The error for a 4xx/5xx reply, in words that say what to do where the API's do not."""
    detail = _detail(response)
    if (
        response.status_code == 401
        and "X-Chutes-Hotkey" in request.headers
        and HOTKEY_REFUSED in str(detail)
    ):
        what = "instance logs" if request.url.path.endswith("/logs") else request.url.path
        return HotkeyRefused(
            f"this server does not take hotkey signatures for {what}: it needs an API key"
            " (set CHUTES_API_KEY, pass --api-key, or create one with `chutes keys create`)",
            401,
        )
    return error_for(response.status_code, detail, _retry_after(response))


def _without(error: ChutesError, value: str) -> ChutesError:
    """The error, with every copy of a secret value in its message blanked out."""
    if value and value in error.message:
        error.message = error.message.replace(value, "<secret value>")
        error.args = (error.message,)
    return error


def _is_event_stream(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def _detail(response: httpx.Response) -> Any:
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] or f"HTTP {response.status_code}"
    if isinstance(data, dict) and "detail" in data:
        return data["detail"]
    return data


def _event_json(event: ServerEvent) -> Any:
    try:
        return event.json()
    except ValueError:
        raise StreamBroken(
            f"the server sent an event that is not JSON: {event.data[:80]!r}"
        ) from None


def _log_line(event: ServerEvent) -> str | None:
    """The `log` text of an instance-log event, or None for anything else."""
    if not event.is_data:
        return None
    payload = _event_json(event)
    if isinstance(payload, dict) and isinstance(payload.get("log"), str):
        return payload["log"]
    return None


def _log_error(event: ServerEvent) -> str | None:
    """The log server's own error report (`{"error": ...}`), if the event is one."""
    if not event.is_data or '"error"' not in event.data:
        return None
    payload = _event_json(event)
    if isinstance(payload, dict) and payload.get("error"):
        return f"log server: {payload.get('event') or 'error'}: {payload['error']}"
    return None


def _pool_limits() -> httpx.Limits:
    """httpx's defaults, but idle connections go before a server would hang them up."""
    return httpx.Limits(
        max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEP_ALIVE_EXPIRY
    )


def _why(error: Exception) -> str:
    text = str(error).strip()
    return text or type(error).__name__
