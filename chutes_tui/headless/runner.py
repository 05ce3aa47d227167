"""Run one headless command: resolve the connection, call the API, map failures to exit codes."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Sequence

from chutes_tui.client.errors import ChutesError, ExitCode

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

    parser = build_parser()
    args = parser.parse_args(argv)
    from chutes_tui.headless.output import Output

    out = Output(args.output)
    try:
        return asyncio.run(_run(args, out))
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
        if os.environ.get("CHUTES_TUI_DEBUG") == "1":
            out.info(traceback.format_exc().rstrip())  # redacted like every diagnostic
        out.error(f"unexpected {type(error).__name__}: {error}")
        return int(ExitCode.UNEXPECTED)


async def _run(args, out) -> int:
    from chutes_tui import config
    from chutes_tui.client.api import ChutesClient
    from chutes_tui.headless.commands import pick

    connection = config.resolve(
        config_path=args.config, api_url=args.api_url, api_key=args.api_key, profile=args.profile
    )
    if args.command not in NO_AUTH_COMMANDS:
        config.require_credentials(connection)
    async with ChutesClient(connection) as client:
        return int(await pick(args)(client, args, out))
