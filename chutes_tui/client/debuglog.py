"""The request log that CHUTES_TUI_DEBUG=1 turns on: one line per HTTP exchange, no secrets.

A line names the method, the path and query, the status and the time taken, never a header
or a body: those hold API keys and signatures. Every line is redacted once more on the way
out. The file is private (0600, in a 0700 directory) because it names private chutes, and
it is rotated at `MAX_BYTES`, keeping one older file beside it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chutes_tui.client.errors import redact

if TYPE_CHECKING:
    import httpx

ENV = "CHUTES_TUI_DEBUG"
MAX_BYTES = 5 * 1024 * 1024
MAX_ERROR = 300


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether CHUTES_TUI_DEBUG asks for debugging (`1` or `true`)."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    return value.strip().lower() in ("1", "true")


def log_path() -> Path:
    """Where the request log goes: the user's state directory (`chutes-tui paths` shows it)."""
    from chutes_tui.core.locations import debug_log

    return debug_log()


def target(request: httpx.Request) -> str:
    """Path and query as sent: no scheme, host or user info."""
    return request.url.raw_path.decode("ascii", "replace")


class RequestLog:
    """An append-only, size-bounded, private log file, opened on the first line written."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._fd: int | None = None
        self._size = 0
        self._broken = False
        self._lock = threading.Lock()

    # what the client reports

    def exchange(self, request: httpx.Request, status: int, started: float) -> None:
        self.write(f"{request.method} {target(request)} {status} {_ms(started)}")

    def failure(self, request: httpx.Request, error: BaseException, started: float) -> None:
        self.write(f"{request.method} {target(request)} failed after {_ms(started)}: {_why(error)}")

    def retry(self, request: httpx.Request, attempt: int, delay: float) -> None:
        self.write(f"{request.method} {target(request)} retry {attempt} in {delay:.2f} s")

    def stream_opened(self, request: httpx.Request, status: int, started: float) -> None:
        self.write(f"stream {request.method} {target(request)} opened {status} {_ms(started)}")

    def stream_closed(
        self, request: httpx.Request, opened: float, error: BaseException | None
    ) -> None:
        """`error` is what ended the stream: None when it simply ran out."""
        if error is None:
            how = "ended"
        elif isinstance(error, GeneratorExit):
            how = "closed by its reader"
        else:
            how = _why(error)
        seconds = time.monotonic() - opened
        self.write(f"stream {request.method} {target(request)} closed after {seconds:.1f} s: {how}")

    # the file

    def write(self, text: str) -> None:
        """Append one timestamped, redacted line; a log that cannot be written goes quiet."""
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        line = f"{stamp}.{int(now % 1 * 1000):03d}Z [{os.getpid()}] {redact(text)}\n".encode()
        with self._lock:
            if self._broken:
                return
            try:
                if self._fd is None:
                    self._open()
                elif self._size + len(line) > self.max_bytes:
                    self._rotate()
                assert self._fd is not None
                self._size += os.write(self._fd, line)
            except OSError:
                self._broken = True
                self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(self._fd, 0o600)  # a file left behind with wider permissions
        self._size = os.fstat(self._fd).st_size
        if self._size >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._open()


_shared: RequestLog | None = None
_shared_lock = threading.Lock()


def request_log() -> RequestLog | None:
    """The process's request log when CHUTES_TUI_DEBUG asks for one; None otherwise."""
    global _shared
    if not enabled():
        return None
    with _shared_lock:
        if _shared is None:
            _shared = RequestLog(log_path())
        return _shared


def _why(error: BaseException) -> str:
    text = " ".join(str(error).split())[:MAX_ERROR]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _ms(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.1f} ms"
