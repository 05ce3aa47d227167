"""Run one headless command: resolve the connection, call the API, map failures to exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chutes_tui.client import debuglog
from chutes_tui.client.errors import ChutesError, ExitCode, Unreachable

if TYPE_CHECKING:
    import argparse

    from chutes_tui.headless.output import Output
    from chutes_tui.sandbox.embedded import EmbeddedSandbox

NO_AUTH_COMMANDS = {"pricing"}


def _lean_imports() -> None:
    """Skip optional imports a one-shot command never uses (about 60 ms of start-up).

    httpx loads its own command line (click, rich, pygments) when those are installed, and
    httpcore loads trio and h2 when they are installed; this process only ever runs asyncio
    over HTTP/1.1.
    """
    for optional in ("httpx._main", "trio", "h2"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]


def run(argv: Sequence[str]) -> int:
    _lean_imports()
    from chutes_tui.headless.parser import build_parser

    parser = build_parser(argv)  # only the command named: a shorter start
    args = parser.parse_args(argv)
    if args.sandbox and (args.config or args.api_url or args.api_key or args.profile):
        parser.error("--sandbox takes no --config, --api-url, --api-key or --profile")
    if args.debug:
        os.environ[debuglog.ENV] = "1"
    from chutes_tui.headless.output import Output

    out = Output(args.output)
    sandbox = None
    try:
        if args.sandbox:
            sandbox = _start_sandbox()
        from chutes_tui.headless.interrupt import run_interruptible

        return run_interruptible(_run(args, out, sandbox), lambda: out.info("Interrupted."))
    except ChutesError as error:
        out.error(error.message)
        return int(error.exit_code)
    except KeyboardInterrupt:
        out.info("Interrupted.")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); quietly stop writing.
        sys.stderr.close()
        return ExitCode.OK
    except Exception as error:  # the last line of defence: one line, never a traceback
        if debuglog.enabled():
            out.info(traceback.format_exc().rstrip())  # redacted like every diagnostic
        out.error(f"unexpected {type(error).__name__}: {error}")
        return int(ExitCode.UNEXPECTED)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _start_sandbox() -> EmbeddedSandbox:
    """The embedded sandbox (the dashboard's own database), stopped by `run` at the end."""
    from chutes_tui.sandbox.embedded import start_embedded

    try:
        return start_embedded()
    except (OSError, RuntimeError) as error:
        raise Unreachable(f"cannot start the sandbox: {error}") from error


async def _run(args: argparse.Namespace, out: Output, sandbox: EmbeddedSandbox | None) -> int:
    from chutes_tui import config
    from chutes_tui.client.api import ChutesClient, RetryNotice
    from chutes_tui.client.signing import Credentials
    from chutes_tui.headless.commands import pick

    if sandbox is not None:
        connection = config.Connection(
            base_url=sandbox.url,
            credentials=Credentials(api_key=sandbox.api_key),
            username=sandbox.username,
        )
    else:
        connection = config.resolve(
            config_path=args.config,
            api_url=args.api_url,
            api_key=args.api_key,
            profile=args.profile,
        )
    if args.command not in NO_AUTH_COMMANDS:
        config.require_credentials(connection)

    def waiting(notice: RetryNotice) -> None:
        """A wait the API asked for is said; quick retries of a failed connect stay quiet."""
        if notice.asked:
            out.info(notice.message)

    from chutes_tui.client import limits

    async with ChutesClient(connection, on_retry=waiting, **limits.from_environment()) as client:
        return int(await pick(args)(client, args, out))
