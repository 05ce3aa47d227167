"""One exception per failure class, each carrying the server's `detail` as its message.

Every error knows the headless exit code it maps to, so front ends never re-classify.
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of `chutes-tui --no-ui`, documented in the README and `--help`."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    PAYMENT = 6
    TIMED_OUT = 7
    UNAVAILABLE = 8
    IMPORT_FAILED = 9
    DECLINED = 10
    BUILD_FAILED = 11  # an image build ended in an error
    UNSUPPORTED = 12  # the server the user talks to has no such feature
    CHUTE_COLD = 13  # a call found no hot instance of the chute to answer it
    INVOKE_FAILED = 14  # the chute answered a call with an error, or its stream ended in one


class ChutesError(Exception):
    """Base of every error the client raises."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ConfigError(ChutesError):
    """Credentials or configuration are missing or unreadable."""

    exit_code = ExitCode.AUTH


class AuthError(ChutesError):
    """401 or 403: bad credentials, or not allowed."""

    exit_code = ExitCode.AUTH


class HotkeyRefused(AuthError):
    """The server takes no hotkey signature for this request (older servers, instance logs)."""


class NotFound(ChutesError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(ChutesError):
    exit_code = ExitCode.CONFLICT


class PaymentRequired(ChutesError):
    """402: a deployment fee to accept, or a balance too low; `fee` is parsed when present."""

    exit_code = ExitCode.PAYMENT

    def __init__(self, message: str, status: int | None = 402) -> None:
        super().__init__(message, status)
        self.fee = parse_fee(message)

    @property
    def is_fee_notice(self) -> bool:
        return self.message.startswith("DEPLOYMENT FEE NOTICE")


class ValidationFailed(ChutesError):
    """400 or 422: the server refused the request's content."""

    exit_code = ExitCode.USAGE


class RateLimited(ChutesError):
    """429, or a 429/5xx whose `Retry-After` asks for a longer wait than the client makes."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, status: int | None = 429, retry_after: float | None = None):
        super().__init__(message, status)
        self.retry_after = retry_after


class ServerError(ChutesError):
    """5xx, or a reply that is not what the API promises; `retry_after` from the reply."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class Unreachable(ChutesError):
    """The API could not be reached, or the connection failed; `sent` says if the request left."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, message: str, status: int | None = None, sent: bool = False) -> None:
        super().__init__(message, status)
        self.sent = sent


class ClientClosed(ChutesError):
    """The client was closed (a profile switch, or quitting) while something still used it.

    Never retried: nothing will reopen it.
    """

    exit_code = ExitCode.UNAVAILABLE


class NoAccess(AuthError):
    """A call to a chute the caller may not use: not theirs, not shared with them, not public
    (the platform answers `404 No matching chute found!`)."""


class ChuteCold(ChutesError):
    """A call found no hot instance (503): the chute needs a warmup first."""

    exit_code = ExitCode.CHUTE_COLD


class InvocationFailed(ChutesError):
    """The chute answered a call with an error (5xx, 429 at capacity, an error in its stream)."""

    exit_code = ExitCode.INVOKE_FAILED


class TimedOut(ChutesError):
    exit_code = ExitCode.TIMED_OUT


class Unsupported(ChutesError):
    """The server has no such feature (an older server): not an outage, nothing to retry."""

    exit_code = ExitCode.UNSUPPORTED


class StreamBroken(ChutesError):
    """A server-sent event stream ended before it should have."""

    exit_code = ExitCode.UNAVAILABLE


class StreamIdle(StreamBroken):
    """A stream sent no event and no keep-alive for longer than the idle limit."""


SECRET_RE = re.compile(r"cpk_[A-Za-z0-9._-]+|\b(?:0x)?[0-9a-fA-F]{64}\b")


def redact(text: str) -> str:
    """Text with anything shaped like an API key or a hotkey seed replaced."""
    return SECRET_RE.sub("<redacted>", text)


FEE_RE = re.compile(r"(?:configuration is:|node selector, is) \$(\d+(?:\.\d+)?(?:e-?\d+)?)")


def parse_fee(detail: str) -> float | None:
    """The dollar amount in a 402 fee notice or balance refusal, if there is one."""
    match = FEE_RE.search(detail)
    return float(match.group(1)) if match else None


def format_detail(detail: object) -> str:
    """A readable line from a `detail` that may be a string or a 422 error list."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return detail["message"]  # a 402 on a call: {"message": ..., "quota_reset_timestamp"?}
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def error_for(status: int, detail: object, retry_after: float | None = None) -> ChutesError:
    """The exception for an HTTP error reply."""
    message = format_detail(detail)
    if status in (401, 403):
        return AuthError(message, status)
    if status == 402:
        return PaymentRequired(message, status)
    if status == 404:
        return NotFound(message, status)
    if status == 409:
        return Conflict(message, status)
    if status in (400, 413, 422):
        return ValidationFailed(message, status)
    if status == 429:
        return RateLimited(message, status, retry_after)
    if status >= 500:
        return ServerError(message or f"server error {status}", status, retry_after)
    return ChutesError(message or f"unexpected status {status}", status)
