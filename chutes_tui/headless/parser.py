"""Arguments of `chutes-tui --no-ui <command>`."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from chutes_tui.client.errors import redact


class Parser(argparse.ArgumentParser):
    """argparse that never echoes a secret back in a usage error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {redact(message)}\n")


EXIT_CODES_HELP = """exit codes:
  0 ok                      6 payment (402: fee not accepted, balance too low)
  1 unexpected error        7 timed out (e.g. warmup --wait)
  2 usage, bad arguments    8 API unreachable or failing (connect errors, 5xx)
  3 auth or permission      9 chute import failed
  4 not found              10 declined at a prompt
  5 conflict (409)

Set CHUTES_TUI_DEBUG=1 to see a traceback for unexpected errors."""


def _paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="fetch every page")
    parser.add_argument("--limit", type=int, default=25, help="items per page (default 25)")
    parser.add_argument("--page", type=int, default=0, help="zero-based page (default 0)")
    parser.add_argument("--name", help="only names containing this text")
    parser.add_argument("--include-public", action="store_true", help="also list public ones")


def _common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """Output and connection options, accepted before or after the command name.

    Only the top level has defaults, so a sub-command never resets an earlier choice.
    """
    if top:
        parser.set_defaults(output=None, config=None, api_url=None, api_key=None, profile=None)
    keep = argparse.SUPPRESS
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=keep,
        help="print JSON (the default when stdout is not a terminal)",
    )
    group.add_argument("--output", choices=("table", "json"), default=keep, help="output format")
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=keep,
        help="the SDK's config.ini (default: $CHUTES_CONFIG_PATH, then ~/.chutes/config.ini)",
    )
    parser.add_argument(
        "--api-url", metavar="URL", default=keep, help="API base URL (overrides the config)"
    )
    parser.add_argument(
        "--api-key", metavar="KEY", default=keep, help="API key (default $CHUTES_API_KEY)"
    )
    parser.add_argument(
        "--profile", metavar="NAME", default=keep, help="a profile from the preferences file"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chutes-tui --no-ui",
        description="Chutes operations for scripts: JSON output, explicit confirmations.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(parser, top=True)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    me = commands.add_parser("me", help="your account: name, id, balance, permissions")
    _common(me)

    for kind in ("images", "chutes"):
        group = commands.add_parser(kind, help=f"list, get or delete {kind}")
        actions = group.add_subparsers(
            dest="action", required=True, metavar="ACTION", parser_class=Parser
        )
        listing = actions.add_parser("list", help=f"list {kind}")
        _paging(listing)
        _common(listing)
        get = actions.add_parser("get", help=f"one of your {kind} by id or name")
        get.add_argument("ref", metavar="ID_OR_NAME")
        _common(get)
        delete = actions.add_parser("delete", help=f"delete one of your {kind}")
        delete.add_argument("ref", metavar="ID_OR_NAME")
        delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
        _common(delete)

    deploy = commands.add_parser(
        "deploy", help="deploy MODULE:CHUTE: import, pre-flight, fee, then deploy once"
    )
    deploy.add_argument("ref", metavar="MODULE:CHUTE")
    from chutes_tui.core.deploy_options import OPTIONS

    for option in OPTIONS:
        if option.takes:
            deploy.add_argument(
                option.flag, dest=option.name, metavar=option.takes, help=option.help
            )
        else:
            deploy.add_argument(
                option.flag, dest=option.name, action="store_true", help=option.help
            )
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="import and check only; print the plan and fee, send nothing",
    )
    deploy.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    deploy.add_argument("--wait", action="store_true", help="follow the warmup until hot")
    deploy.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)"
    )
    deploy.add_argument(
        "--wait-image",
        type=float,
        default=0.0,
        metavar="S",
        help="if the image is still building, wait up to S seconds for it",
    )
    deploy.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="directory holding the module file (default: here)",
    )
    deploy.add_argument(
        "--import-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the module may take to import (default 60)",
    )
    _common(deploy)

    share = commands.add_parser("share", help="share a chute with a user, or --remove it")
    share.add_argument("chute", metavar="CHUTE")
    share.add_argument("user", metavar="USER")
    share.add_argument("--remove", action="store_true", help="unshare instead")
    _common(share)

    shares = commands.add_parser("shares", help="the shares you created")
    share_actions = shares.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=Parser
    )
    share_list = share_actions.add_parser("list", help="list the shares you created")
    share_list.add_argument("--chute", help="only shares of this chute (id or name)")
    _common(share_list)

    warmup = commands.add_parser("warmup", help="warm a chute up; --wait until it is hot")
    warmup.add_argument("chute", metavar="CHUTE")
    warmup.add_argument(
        "--wait",
        action="store_true",
        help="print each warmup event (JSON Lines without a terminal) until the chute is hot",
    )
    warmup.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds to wait with --wait, across reconnects (default 600; then exit 7)",
    )
    _common(warmup)

    logs = commands.add_parser(
        "logs",
        help="instance logs of a chute (lines tagged [id8]) or of one instance",
    )
    logs.add_argument("target", metavar="CHUTE_OR_INSTANCE")
    logs.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep streaming, picking up new instances, until ctrl+c",
    )
    logs.add_argument(
        "--backfill", type=int, default=100, metavar="N", help="lines of history (0-10000)"
    )
    # How often --follow looks for new instances; tests make it fast.
    logs.add_argument("--poll", type=float, default=5.0, metavar="S", help=argparse.SUPPRESS)
    _common(logs)

    pricing = commands.add_parser("pricing", help="GPU prices per hour")
    _common(pricing)

    code = commands.add_parser("code", help="the source code of a chute (JSON with --json)")
    code.add_argument("chute", metavar="CHUTE")
    _common(code)
    return parser
