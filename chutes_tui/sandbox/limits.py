"""What the sandbox accepts: the limits every route that stores a client's data applies.

Deploy and `PUT /chutes/{x}` share the text limits, so neither can store what the other
refuses; every JSON body is bounded in size and depth and holds finite numbers only, so
whatever is stored can be read back, rendered and listed. An image build upload is bounded
in bytes, form parts, files and unpacked size, and the log a build writes is bounded too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MAX_BODY_BYTES = 1_000_000  # code may be 150,000 characters; schemas take the rest
MAX_JSON_DEPTH = 32  # levels of nested objects and lists, counted from the body itself
TEXT_LIMITS = {"tagline": 1024, "readme": 16384, "tool_description": 16384}
REVISION_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_LOG_OFFSET = 10**12  # a build-log line number

# `POST /images/`: the whole multipart body, then what it holds.
MAX_BUILD_UPLOAD = 50_000_000  # bytes; SandboxSettings.max_build_upload may change it
MAX_FORM_PARTS = 32  # the SDK sends ten
MAX_PART_HEAD = 8192  # bytes of headers in one form part
MAX_DOCKERFILE_CHARS = 100_000
MAX_CONTEXT_FILES = 5_000  # entries in the build context zip
MAX_CONTEXT_UNPACKED = 200_000_000  # bytes, summed over the zip's entries
# What a build writes: lines past the limit are dropped from the middle, never the end.
MAX_BUILD_LOG_LINES = 5_000
MAX_BUILD_LOG_LINE = 2_000  # characters; longer lines are cut
MAX_BUILD_LOG_BYTES = 1_000_000


def body_problem(raw: bytes) -> str | None:
    if len(raw) > MAX_BODY_BYTES:
        return f"Request body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted"
    return None


def json_problem(data: Any) -> str | None:
    """Too deep, or a number JSON cannot carry back out (1e400 parses as Infinity)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(value, float) and not math.isfinite(value):
            return "JSON numbers must be finite (a value overflows a 64-bit float)"
    return None


def text_problem(fields: Mapping[str, Any]) -> str | None:
    for name, limit in TEXT_LIMITS.items():
        value = fields.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"{name} is {len(value)} characters; at most {limit} are accepted"
    return None


def revision_problem(revision: str | None) -> str | None:
    if revision is not None and not REVISION_RE.match(revision):
        return "revision must be a 40-character lowercase hex commit hash"
    return None


def log_offset(offset: str | None) -> int | None:
    """A build-log offset as a line number: 0 when absent or not a number, None when it is a
    number beyond any log."""
    if not offset or not offset.isdigit() or not offset.isascii():
        return 0
    if len(offset) > len(str(MAX_LOG_OFFSET)):
        return None
    value = int(offset)
    return value if value <= MAX_LOG_OFFSET else None
