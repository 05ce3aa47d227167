"""Start a command on a fresh pseudo-terminal of a given size (for the dashboard benchmarks)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
from pathlib import Path


def spawn_on_pty(
    command: list[str], env: dict[str, str], cwd: Path | None, size: tuple[int, int]
) -> tuple[subprocess.Popen, int]:
    """The process, in a session of its own, and the master end of its terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    return process, master
