"""Start the dashboard: pick the API (or the embedded sandbox), read preferences, run."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from chutes_tui import config
from chutes_tui.client.errors import ChutesError, ExitCode


def run_dashboard(args: argparse.Namespace) -> int:
    from chutes_tui.tui.app import ChutesApp
    from chutes_tui.tui.session import open_session

    if args.backfill is not None and args.backfill > 10_000:
        print("chutes-tui: --backfill must be between 0 and 10000 lines", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        prefs = config.load_prefs()
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
    except OSError as error:
        print(f"chutes-tui: cannot start the sandbox: {error}", file=sys.stderr)
        return int(ExitCode.UNAVAILABLE)
    interval = args.refresh if args.refresh is not None else prefs.get("refresh_interval", 10.0)
    app = ChutesApp(
        session,
        refresh_interval=float(interval),
        prefs=prefs,
        exit_after_first_paint=os.environ.get("CHUTES_TUI_EXIT_AFTER_FIRST_PAINT") == "1",
        open_chute=args.chute,
        live_overrides={
            "poll_interval": args.poll,
            "backfill": args.backfill,
            "max_lines": args.log_lines,
            "events_url": args.events_url,
        },
    )
    try:
        app.run()
    finally:
        session.close()
    # Everything left is garbage at exit: spare the interpreter a full collection of it.
    gc.freeze()
    return int(app.return_code or 0)
