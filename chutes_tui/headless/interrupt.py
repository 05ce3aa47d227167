"""ctrl+c stops a headless command at once, whatever it is waiting on.

`asyncio.run` turns the first ctrl+c into one cancellation of the main task and then waits,
with no limit, for that task and every other one to end. An await that absorbs the
cancellation (a shielded clean-up in the HTTP stack, or Python 3.11's `wait_for` when its
inner task finishes in the same loop step) leaves the command running until a second ctrl+c.
Here the cancellation gets a short grace period to clean up; after it, or at a second ctrl+c,
the process says so and ends with 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

GRACE = 2.0  # seconds a cancelled command has to close its streams
INTERRUPTED = 130


def _hard_exit(say: Callable[[], None]) -> None:
    say()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(INTERRUPTED)


async def _guarded(main: Coroutine[Any, Any, int], say: Callable[[], None], grace: float) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    interrupted = False

    def on_interrupt() -> None:
        nonlocal interrupted
        if interrupted:
            _hard_exit(say)
        interrupted = True
        task.cancel()
        loop.call_later(grace, _hard_exit, say)

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return await task
    try:
        result = await task
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    if interrupted:  # the command swallowed the cancellation and finished anyway
        raise KeyboardInterrupt
    return result


def run_interruptible(
    main: Coroutine[Any, Any, int], say: Callable[[], None], grace: float = GRACE
) -> int:
    """Run `main` to its end; ctrl+c raises KeyboardInterrupt within `grace` seconds.

    `say` tells the user the command was interrupted when the process has to end without
    unwinding (the grace ran out, or a second ctrl+c).
    """
    with asyncio.Runner() as runner:
        return runner.run(_guarded(main, say, grace))
