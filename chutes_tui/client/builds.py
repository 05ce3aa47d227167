"""Image builds on the wire: the `POST /images/` form as `chutes build` sends it, and the
items of a build-log stream.

The form's fields, their values and their order are those of SDK 0.6.9; the build context
follows them as the file `build_context` named `chute.zip`. A build-log stream sends one
`data: {"log": {"log_type", "log"}, "offset"}` line per log line, `.` keep-alives, `DONE`
at the end and `data: ERROR: …` when the server's reading failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chutes_tui.client.sse import LINE, ServerEvent

CONTEXT_FIELD = "build_context"
CONTEXT_NAME = "chute.zip"
CONTEXT_TYPE = "application/zip"
NO_LOGO = "__none__"
DONE = "DONE"
ERROR_PREFIX = "ERROR:"


@dataclass(frozen=True)
class BuildLogLine:
    """One line of a build log; `offset` resumes the stream after it."""

    log: str
    log_type: str = "stdout"
    offset: str | None = None


@dataclass(frozen=True)
class BuildLogText:
    """A finished build's log as one text (the API answers `text/plain` once it ended);
    lines already streamed to this reader are left out."""

    text: str


@dataclass(frozen=True)
class BuildLogError:
    """The API's own report that reading the log failed (`data: ERROR: …`)."""

    message: str


def build_form(
    *,
    username: str,
    name: str,
    tag: str,
    readme: str,
    dockerfile: str,
    image: str,
    public: bool = False,
    logo_id: str | None = None,
) -> dict[str, str]:
    """The form fields, in the SDK's order; `image` is the base64 pickle of the SDK Image."""
    return {
        "username": username,
        "name": name,
        "tag": tag,
        "readme": readme or "",
        "dockerfile": dockerfile,
        "public": str(bool(public)),
        "logo_id": str(logo_id) if logo_id else NO_LOGO,
        "wait": "False",  # the SDK sends it; the API no longer reads it
        "image": image,
    }


def is_done(event: ServerEvent) -> bool:
    return event.kind == LINE and event.data.strip() == DONE


def build_log_item(event: ServerEvent) -> BuildLogLine | BuildLogError | None:
    """A log line or the API's error report from one `data:` event; None for anything else."""
    if not event.is_data:
        return None
    if event.data.startswith(ERROR_PREFIX):
        return BuildLogError(event.data.removeprefix(ERROR_PREFIX).strip())
    try:
        payload = json.loads(event.data)
    except ValueError:
        return BuildLogError(f"an event that is not JSON: {event.data[:80]!r}")
    if not isinstance(payload, dict):
        return None
    offset = payload.get("offset")
    offset = None if offset is None else str(offset)
    log = payload.get("log")
    if isinstance(log, dict):
        text = log.get("log")
        kind = log.get("log_type")
        return BuildLogLine(
            text if isinstance(text, str) else json.dumps(log),
            kind if isinstance(kind, str) else "stdout",
            offset,
        )
    if isinstance(log, str):
        return BuildLogLine(log, "stdout", offset)
    return None


def unseen(text: str, shown: int, last: str | None) -> str:
    """`text` without the first `shown` lines when they are the ones already streamed.

    A stream that broke and is reopened after the build ended gets the whole log as text;
    the lines already shown are left out when the last of them is where it should be.
    """
    if not shown:
        return text
    lines = text.splitlines(keepends=True)
    if len(lines) >= shown and lines[shown - 1].rstrip("\r\n") == last:
        return "".join(lines[shown:])
    return text
