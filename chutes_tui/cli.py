"""Command-line entry point: argument parsing only; everything heavy is imported lazily."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from chutes_tui import __version__

EXIT_OK, EXIT_USAGE = 0, 2


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _sandbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = commands.add_parser("sandbox", help="run or configure the local sandbox API")
    actions = sandbox.add_subparsers(dest="action", required=True, metavar="ACTION")

    serve = actions.add_parser(
        "serve",
        help="serve the sandbox API until interrupted",
        description="Serve the sandbox API until interrupted; the banner shows once it listens.",
        epilog="exit codes: 0 stopped, 2 bad arguments or GPU table, 8 cannot listen (the"
        " address is in use: pick another --port) or the sandbox did not start",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8765)")
    serve.add_argument("--db", type=Path, default=None, help="database file")
    serve.add_argument(
        "--speed", type=_positive, default=1.0, help="simulated seconds per real second (default 1)"
    )
    serve.add_argument("--no-seed", action="store_true", help="start with an empty database")
    serve.add_argument(
        "--fee-formula",
        choices=("linear", "quadratic"),
        default=None,
        help="deployment fee: 3 x gpus x rate (linear, the default) or 3 x gpus^2 x rate"
        " (quadratic, the default with --older-server)",
    )
    serve.add_argument(
        "--gpu-table",
        type=Path,
        default=None,
        help="GPU price table (JSON; default: the packaged one, or the older server's)",
    )
    serve.add_argument(
        "--older-server",
        action="store_true",
        help="behave like the platform's server of late 2025: no shares listing, ?quick=true"
        " ignored (the warmup stream answers), instance logs refuse hotkeys, the fee counts"
        " the GPUs twice, its own price table",
    )
    serve.add_argument("--tao-usd", type=_positive, default=400.0, help="TAO price in USD")
    serve.add_argument(
        "--history-limit",
        type=int,
        default=12,
        help="deploys/updates/deletes per user per 24 h (0: no limit)",
    )
    serve.add_argument(
        "--extra-chutes",
        type=int,
        default=0,
        metavar="N",
        help="seed N more demo chutes (to try a large account)",
    )
    serve.add_argument(
        "--seed-time",
        metavar="ISO",
        default=None,
        help="fixed seed timestamps, e.g. 2026-01-01T12:00:00.000000Z",
    )
    serve.add_argument(
        "--log-burst",
        type=_count,
        default=0,
        metavar="RATE",
        help="benchmark: once someone streams an active instance's log, write RATE lines"
        " a second into it (once per instance; default 0, off)",
    )
    serve.add_argument(
        "--burst-seconds",
        type=_positive,
        default=10.0,
        metavar="S",
        help="how long a --log-burst lasts, in real seconds (default 10)",
    )
    serve.add_argument(
        "--paused-clock",
        action="store_true",
        help="start with the simulated clock stopped; POST /_sandbox/clock pauses, resumes"
        " or advances it (tests, benchmarks; loopback only)",
    )
    serve.add_argument(
        "--max-build-upload",
        type=_count,
        default=None,
        metavar="BYTES",
        help="largest image build upload (POST /images/) accepted, in bytes (default 50000000)",
    )
    serve.add_argument("--quiet", action="store_true", help="no access log")

    config = actions.add_parser("config", help="print a chutes config.ini for a seeded user")
    config.add_argument("--user", default="demo", help="seeded user (demo, alice, bob)")
    config.add_argument("--url", default=None, help="API URL (default http://127.0.0.1:8765)")
    config.add_argument("--db", type=Path, default=None, help="database file")
    config.add_argument("--api-key", action="store_true", help="print only the user's API key")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chutes-tui",
        description="A keyboard-driven dashboard for the Chutes serverless-GPU platform."
        " With no Chutes credentials it opens on an embedded local sandbox.",
        epilog="For scripts: chutes-tui --no-ui --help",
    )
    parser.add_argument("--version", action="version", version=f"chutes-tui {__version__}")
    parser.add_argument(
        "--no-ui",
        action="store_true",
        help="run one command for scripts: chutes-tui --no-ui --help lists them",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="use the embedded local sandbox even when credentials exist",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log every API request to the debug log (`chutes-tui paths` shows where) and show"
        " tracebacks; also CHUTES_TUI_DEBUG=1",
    )
    parser.add_argument("--config", metavar="PATH", help="the SDK's config.ini")
    parser.add_argument("--api-url", metavar="URL", help="API base URL")
    parser.add_argument("--api-key", metavar="KEY", help="API key (default $CHUTES_API_KEY)")
    parser.add_argument("--profile", metavar="NAME", help="a profile from the preferences file")
    parser.add_argument(
        "--refresh",
        type=float,
        metavar="SECONDS",
        default=None,
        help="auto-refresh interval (default 10; 0 turns it off)",
    )
    live = parser.add_argument_group("live view")
    live.add_argument(
        "--chute", metavar="NAME", help="open straight into the live view of a chute (name or id)"
    )
    live.add_argument(
        "--poll",
        type=_positive,
        metavar="SECONDS",
        default=None,
        help="how often the live view reads the chute's status (default 5)",
    )
    live.add_argument(
        "--backfill",
        type=_count,
        metavar="LINES",
        default=None,
        help="lines of history per instance log, 0 to 10000 (default 100)",
    )
    live.add_argument(
        "--events-url",
        metavar="URL",
        default=None,
        help="the platform's Socket.IO events channel for the live view: a URL, or auto"
        " (api.X becomes events.X); default $CHUTES_EVENTS_URL; needs python-socketio",
    )
    live.add_argument(
        "--log-lines",
        type=_count,
        metavar="LINES",
        default=None,
        help="lines kept per log pane (default 10000); older ones are dropped",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _sandbox_parser(commands)
    commands.add_parser("paths", help="print where every file chutes-tui uses lives")
    completion = commands.add_parser(
        "completion",
        help="print a tab-completion script for bash, zsh or fish",
        description="Print a tab-completion script; the README says where each shell wants it.",
        epilog="example: chutes-tui completion bash > ~/.local/share/bash-completion/completions/"
        "chutes-tui",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: ctrl+c while starting up ends with 130 and one line, no traceback."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    if "--no-ui" in argv:
        from chutes_tui.headless.runner import run as run_headless

        argv.remove("--no-ui")
        return run_headless(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        os.environ["CHUTES_TUI_DEBUG"] = "1"  # the client's request log and tracebacks read it
    if args.command == "sandbox":
        from chutes_tui.sandbox.commands import run

        return run(args)
    if args.command == "paths":
        from chutes_tui.paths import print_paths

        return print_paths(args)
    if args.command == "completion":
        from chutes_tui.completion import print_completion

        return print_completion(args)
    from chutes_tui.tui.launch import run_dashboard

    return run_dashboard(args)


if __name__ == "__main__":
    sys.exit(main())
