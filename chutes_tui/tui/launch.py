"""Start the dashboard: pick the API (or the embedded sandbox), resolve the options once, run."""

from __future__ import annotations

import argparse
import gc
import sys

from chutes_tui import config
from chutes_tui.client import limits
from chutes_tui.client.errors import ChutesError, ExitCode


def run_dashboard(args: argparse.Namespace) -> int:
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.options import DashboardOptions
    from chutes_tui.tui.session import open_session

    if args.backfill is not None and args.backfill > 10_000:
        print("chutes-tui: --backfill must be between 0 and 10000 lines", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        options = DashboardOptions.resolve(
            config.load_prefs(),
            refresh=args.refresh,
            chute=args.chute,
            poll=args.poll,
            backfill=args.backfill,
            log_lines=args.log_lines,
            events_url=args.events_url,
        )
        limits.from_environment()  # a bad limit is said before anything starts
        session = open_session(
            sandbox=args.sandbox,
            config_path=args.config,
            api_url=args.api_url,
            api_key=args.api_key,
            profile=args.profile,
        )
    except ChutesError as error:
        print(f"chutes-tui: {error.message}", file=sys.stderr)
        return int(error.exit_code)
    except (OSError, RuntimeError) as error:
        print(f"chutes-tui: cannot start the sandbox: {error}", file=sys.stderr)
        return int(ExitCode.UNAVAILABLE)
    app = ChutesApp(session, options)
    try:
        app.run()
    finally:
        session.close()
    # Everything left is garbage at exit: spare the interpreter a full collection of it.
    gc.freeze()
    return int(app.return_code or 0)
