"""What is still running, read from /proc: the import's child, what it started, its group."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """A process's state letter, parent and process group; None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[2])


def _pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie has ended: only its parent's wait is still due)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def import_children(directory: str | Path) -> list[int]:
    """Running import children started on `directory` (its path is in their command line)."""
    wanted = str(Path(directory).resolve()).encode()
    found = []
    for pid in _pids():
        try:
            argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"chutes_tui.core.import_child" in argv and wanted in argv and alive(pid):
            found.append(pid)
    return found


def process_group(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[2]


def descendants(pid: int) -> list[int]:
    """Running processes started by `pid`, and by those, and so on."""
    parents = {}
    for other in _pids():
        stat = _stat(other)
        if stat is not None and stat[0] != "Z":
            parents[other] = stat[1]
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found.extend(frontier)
    return found


def group_members(pgid: int) -> list[int]:
    """Running processes in the process group `pgid`."""
    return [pid for pid in _pids() if process_group(pid) == pgid and alive(pid)]


async def until(predicate: Callable[[], object], what: str, guard: float = 30.0) -> None:
    """Poll until `predicate()` holds; the guard only catches a hang, it times nothing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + guard
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting for {what} after {guard:g} s")
        await asyncio.sleep(0.05)
