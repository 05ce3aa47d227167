"""Arguments of `chutes-tui --no-ui <command>`."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from chutes_tui import __version__
from chutes_tui.client.errors import ExitCode, redact


class Parser(argparse.ArgumentParser):
    """argparse that never echoes a secret back in a usage error.

    `path` names the command words the command line holds (`("chutes", "list")`): then only
    that command is built, which keeps a one-shot command's start-up short. None builds all.
    """

    path: tuple[str, ...] | None = None

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {redact(message)}\n")

    def add_subparsers(self, **kwargs: Any) -> Any:
        commands = super().add_subparsers(action=_Commands, **kwargs)
        if isinstance(commands, _Commands):
            commands.path = self.path  # read by _command
        return commands


if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    _SubParsers = argparse._SubParsersAction


class _Commands(_SubParsers):
    """The commands of one level, and which of them the command line names."""

    path: tuple[str, ...] | None = None


class _Absent:
    """A command the command line does not name: whatever is added to it goes nowhere."""

    def __getattr__(self, name: str) -> Any:
        return self._absorb

    def _absorb(self, *args: Any, **kwargs: Any) -> _Absent:
        return self


_ABSENT = _Absent()
# Options that take a value, and may come before the command's words.
VALUE_OPTIONS = {"--config", "--api-url", "--api-key", "--profile", "--output"}


def command_path(argv: Sequence[str]) -> tuple[str, ...]:
    """The command words of a command line: its first two arguments that are not options."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--":
            break
        elif arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
        else:
            words.append(arg)
            if len(words) == 2:
                break
    return tuple(words)


# The commands go under this module's Parser, and under the dashboard's parser for completion.
AnyParser = TypeVar("AnyParser", bound=argparse.ArgumentParser)

EXIT_CODES = {
    ExitCode.OK: "ok",
    ExitCode.UNEXPECTED: "unexpected error",
    ExitCode.USAGE: "usage, bad arguments",
    ExitCode.AUTH: "auth or permission",
    ExitCode.NOT_FOUND: "not found",
    ExitCode.CONFLICT: "conflict (409)",
    ExitCode.PAYMENT: "payment (402: fee not accepted or not the one accepted, balance too low)",
    ExitCode.TIMED_OUT: "timed out (e.g. warmup --wait)",
    ExitCode.UNAVAILABLE: "API unreachable or failing (connect errors, 5xx)",
    ExitCode.IMPORT_FAILED: "chute import failed",
    ExitCode.DECLINED: "declined at a prompt",
    ExitCode.BUILD_FAILED: "image build failed",
    ExitCode.UNSUPPORTED: "not supported by this server (an older one)",
    ExitCode.CHUTE_COLD: "chute cold: no instance to answer the call (warm it up)",
    ExitCode.INVOKE_FAILED: "the call failed: the chute answered an error",
}
# What any command can end with; each command adds its own (`_command(codes=...)`).
ANY_COMMAND = (ExitCode.OK, ExitCode.UNEXPECTED, ExitCode.USAGE, ExitCode.UNAVAILABLE)
SIGNED_IN = (*ANY_COMMAND, ExitCode.AUTH)


def exit_codes_help(codes: Iterable[ExitCode] = EXIT_CODES) -> str:
    """The exit codes table, in two columns: all of them, or those one command can return."""
    entries = [f"{int(code):>2} {EXIT_CODES[code]}" for code in sorted(set(codes))]
    half = (len(entries) + 1) // 2
    left, right = entries[:half], entries[half:]
    width = max(len(entry) for entry in left) + 3
    rows = [
        f" {entry.ljust(width)}{right[row]}".rstrip() if row < len(right) else f" {entry}"
        for row, entry in enumerate(left)
    ]
    return "\n".join(["exit codes:", *rows])


EXIT_CODES_HELP = (
    exit_codes_help() + "\n\n--debug (or CHUTES_TUI_DEBUG=1) logs every API request to the debug"
    " log\n(`chutes-tui paths` shows where) and shows a traceback for unexpected errors."
)


def _command(
    commands: argparse._SubParsersAction[AnyParser],
    name: str,
    *,
    help: str,
    description: str,
    examples: Sequence[str],
    codes: Iterable[ExitCode] = (),
) -> argparse.ArgumentParser:
    """A command whose `--help` says what it does, shows how, and lists how it can end."""
    if isinstance(commands, _Absent):
        return cast(argparse.ArgumentParser, _ABSENT)  # an action of an absent command
    path = commands.path if isinstance(commands, _Commands) else None
    if path and path[0] != name:
        return cast(argparse.ArgumentParser, _ABSENT)  # another command was asked for
    lines = "\n".join(f"  chutes-tui --no-ui {example}" for example in examples)
    parser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"examples:\n{lines}\n\n{exit_codes_help((*SIGNED_IN, *codes))}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if path and isinstance(parser, Parser):
        parser.path = path[1:] or None  # its own actions: the one named, or all of them
    return parser


def _paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="fetch every page")
    parser.add_argument("--limit", type=int, default=25, help="items per page (default 25)")
    parser.add_argument("--page", type=int, default=0, help="zero-based page (default 0)")
    parser.add_argument("--name", help="only names containing this text")
    parser.add_argument("--include-public", action="store_true", help="also list public ones")


KEEP = argparse.SUPPRESS  # a sub-command's option that was not given keeps the earlier choice


def output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=KEEP,
        help="print JSON (the default when stdout is not a terminal)",
    )
    group.add_argument("--output", choices=("table", "json"), default=KEEP, help="output format")


DEBUG_HELP = "log every API request to the debug log (also CHUTES_TUI_DEBUG=1)"


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sandbox",
        action="store_true",
        default=KEEP,
        help="run against the embedded local sandbox, signed in as demo",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=KEEP,
        help="the SDK's config.ini (default: $CHUTES_CONFIG_PATH, then ~/.chutes/config.ini)",
    )
    parser.add_argument(
        "--api-url", metavar="URL", default=KEEP, help="API base URL (overrides the config)"
    )
    parser.add_argument(
        "--api-key", metavar="KEY", default=KEEP, help="API key (default $CHUTES_API_KEY)"
    )
    parser.add_argument(
        "--profile", metavar="NAME", default=KEEP, help="a profile from the preferences file"
    )
    parser.add_argument("--debug", action="store_true", default=KEEP, help=DEBUG_HELP)


def _common(parser: argparse.ArgumentParser) -> None:
    """Output and connection options, accepted before or after the command name."""
    output_options(parser)
    _connection_options(parser)


def _module_options(parser: argparse.ArgumentParser) -> None:
    """Where the chute module is, and how long it may take to import."""
    parser.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="directory holding the module file (default: here)",
    )
    parser.add_argument(
        "--import-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the module may take to import (default 60)",
    )


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the command line, only the command it names (when it names
    one that exists: otherwise the whole parser, so a mistake is told what there is)."""
    path = command_path(argv) if argv is not None else ()
    if path:
        parser = _build(path)
        if _names_commands(parser, path):
            return parser
    return _build(None)


def _names_commands(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> bool:
    """Each word of `path` is a command of the parser built for it (a word after a command
    without actions of its own is that command's argument)."""
    for word in path:
        commands = next(
            (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
        )
        if commands is None:
            return True
        if word not in commands.choices:
            return False
        parser = commands.choices[word]
    return True


def _build(path: tuple[str, ...] | None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="chutes-tui --no-ui",
        description="Chutes operations for scripts: JSON output, explicit confirmations.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chutes-tui {__version__}")
    # Only the top level has defaults, so a sub-command never resets an earlier choice.
    parser.set_defaults(
        output=None,
        sandbox=False,
        config=None,
        api_url=None,
        api_key=None,
        profile=None,
        debug=False,
    )
    _common(parser)
    parser.path = path
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    add_commands(commands)
    return parser


def add_commands(commands: argparse._SubParsersAction[AnyParser]) -> None:
    """Every `--no-ui` command, with its own options."""
    me = _command(
        commands,
        "me",
        help="your account: name, id, balance, permissions",
        description="Show your account: user name, id, balance and permissions.",
        examples=["me", "me --json | jq .balance"],
    )
    _common(me)

    for kind, ref in (("images", "hello:0.1"), ("chutes", "hello-world")):
        group = _command(
            commands,
            kind,
            help=f"list, get or delete {kind}" + (", or a build log" if kind == "images" else ""),
            description=f"List, show or delete your {kind}"
            + (" or show an image's build log" if kind == "images" else "")
            + "; ACTION --help tells more.",
            examples=[f"{kind} list --all", f"{kind} get {ref}", f"{kind} delete {ref} --yes"],
            codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT, ExitCode.DECLINED)
            + ((ExitCode.BUILD_FAILED,) if kind == "images" else ()),
        )
        actions = group.add_subparsers(
            dest="action", required=True, metavar="ACTION", parser_class=Parser
        )
        listing = _command(
            actions,
            "list",
            help=f"list {kind}",
            description=f"List your {kind}, one page or --all, optionally public ones too.",
            examples=[
                f"{kind} list",
                f"{kind} list --all --json | jq -r '.[].name'",
                f"{kind} list --include-public --name vllm",
            ],
        )
        _paging(listing)
        _common(listing)
        get = _command(
            actions,
            "get",
            help=f"one of your {kind} by id or name",
            description=f"Show one of your {kind}, found by id or name.",
            examples=[f"{kind} get {ref}", f"{kind} get {ref} --output table"],
            codes=(ExitCode.NOT_FOUND,),
        )
        get.add_argument("ref", metavar="ID_OR_NAME")
        _common(get)
        delete = _command(
            actions,
            "delete",
            help=f"delete one of your {kind}",
            description=f"Delete one of your {kind}; asks on a terminal, needs --yes otherwise.",
            examples=[f"{kind} delete {ref}", f"{kind} delete {ref} --yes --json"],
            codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT, ExitCode.DECLINED),
        )
        delete.add_argument("ref", metavar="ID_OR_NAME")
        delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
        _common(delete)
        if kind == "images":
            image_logs = _command(
                actions,
                "logs",
                help="the build log of one of your images",
                description="Print an image's build log: all of it once the build has ended,"
                " what there is so far otherwise; --follow streams it until the build ends.",
                examples=[
                    "images logs hello:0.1",
                    "images logs demo/hello:0.1 --follow --json",
                ],
                codes=(ExitCode.NOT_FOUND, ExitCode.BUILD_FAILED),
            )
            image_logs.add_argument("ref", metavar="ID_OR_NAME")
            image_logs.add_argument(
                "--follow",
                "-f",
                action="store_true",
                help="stream until the build ends (exit 11 if it failed)",
            )
            _common(image_logs)

    deploy = _command(
        commands,
        "deploy",
        help="deploy MODULE:CHUTE: import, pre-flight, fee, then deploy once",
        description="Deploy MODULE:CHUTE: import it, check it, show the fee, then deploy once.",
        examples=[
            "deploy my_chute:chute --dry-run      # import, checks and fee; sends nothing",
            "deploy my_chute:chute --accept-fee --yes --wait",
            "deploy my_chute:chute --dir examples --logo logo.png",
        ],
        codes=EXIT_CODES,
    )
    deploy.add_argument("ref", metavar="MODULE:CHUTE")
    if not isinstance(deploy, _Absent):  # declared in core: loaded only when deploy is built
        _deploy_flags(deploy)
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="import and check only; print the plan and the fee estimated from the API's"
        " prices (the server's fee notice confirms it at deploy time); send nothing",
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
        "--build",
        action="store_true",
        help="build the chute's image first when it does not exist (asks, like build),"
        " or wait for it while it is being built",
    )
    deploy.add_argument(
        "--build-timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds to wait for the build with --build (default 3600; then exit 7)",
    )
    _module_options(deploy)
    _common(deploy)

    build = _command(
        commands,
        "build",
        help="build the image of MODULE:CHUTE as `chutes build` does",
        description="Build the image of MODULE:CHUTE: import it, list the build context, ask,"
        " upload it once; --wait follows the build log until the build ends.",
        examples=[
            "build my_chute:chute --wait",
            "build my_chute:chute --wait --yes --json > build.jsonl",
            "build my_chute:chute --include-cwd --public --logo logo.png",
        ],
        codes=(
            ExitCode.CONFLICT,
            ExitCode.PAYMENT,
            ExitCode.TIMED_OUT,
            ExitCode.IMPORT_FAILED,
            ExitCode.DECLINED,
            ExitCode.BUILD_FAILED,
        ),
    )
    build.add_argument("ref", metavar="MODULE:CHUTE")
    build.add_argument("--public", action="store_true", help="make the image public")
    build.add_argument(
        "--wait",
        action="store_true",
        help="stream the build log (JSON Lines without a terminal) until the build ends",
    )
    build.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds to wait with --wait, across reconnects (default 3600; then exit 7)",
    )
    build.add_argument("--yes", "-y", action="store_true", help="do not ask before uploading")
    build.add_argument(
        "--include-cwd",
        action="store_true",
        help="put the whole directory into the build context, as `ADD . /app`",
    )
    build.add_argument("--logo", metavar="FILE", help="an image file to upload as the logo")
    _module_options(build)
    _common(build)

    share = _command(
        commands,
        "share",
        help="share a chute with a user, or --remove it",
        description="Share one of your chutes with another user, or --remove the share.",
        examples=["share hello-world bob", "share hello-world bob --remove"],
        codes=(ExitCode.NOT_FOUND,),
    )
    share.add_argument("chute", metavar="CHUTE")
    share.add_argument("user", metavar="USER")
    share.add_argument("--remove", action="store_true", help="unshare instead")
    _common(share)

    shares = _command(
        commands,
        "shares",
        help="the shares you created",
        description="The shares you created; needs an API key (the API's rule).",
        examples=["shares list", "shares list --chute hello-world"],
        codes=(ExitCode.NOT_FOUND, ExitCode.UNSUPPORTED),
    )
    share_actions = shares.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=Parser
    )
    share_list = _command(
        share_actions,
        "list",
        help="list the shares you created",
        description="List the shares you created, of every chute or of one. A server"
        " without a shares listing (an older one) ends with 12.",
        examples=["shares list", "shares list --chute hello-world --json"],
        codes=(ExitCode.NOT_FOUND, ExitCode.UNSUPPORTED),
    )
    share_list.add_argument("--chute", help="only shares of this chute (id or name)")
    _common(share_list)

    warmup = _command(
        commands,
        "warmup",
        help="warm a chute up; --wait until it is hot",
        description="Ask for a chute to warm up and print its status; --wait follows it until"
        " hot. A server without a quick status (an older one) is told so on stderr, and the"
        " status is read from the chute's instances.",
        examples=["warmup hello-world", "warmup hello-world --wait --timeout 120"],
        codes=(ExitCode.NOT_FOUND, ExitCode.PAYMENT, ExitCode.TIMED_OUT),
    )
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

    logs = _command(
        commands,
        "logs",
        help="instance logs of a chute (lines tagged [id8]) or of one instance",
        description="Print the instance logs of a chute or of one instance; ctrl+c exits 130.",
        examples=[
            "logs hello-world --backfill 50",
            "logs hello-world --follow --backfill 0 | tee run.log",
        ],
        codes=(ExitCode.NOT_FOUND,),
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

    pricing = _command(
        commands,
        "pricing",
        help="GPU prices per hour",
        description="GPU prices per hour and the TAO price; needs no credentials.",
        examples=["pricing", "pricing --json | jq .tao_usd"],
    )
    _common(pricing)

    code = _command(
        commands,
        "code",
        help="the source code of a chute (JSON with --json)",
        description="Print the source code of a chute (a JSON object with --json).",
        examples=["code hello-world > hello.py", "code hello-world --json"],
        codes=(ExitCode.NOT_FOUND,),
    )
    code.add_argument("chute", metavar="CHUTE")
    _common(code)
    _cockpit_commands(commands)


def _deploy_flags(deploy: argparse.ArgumentParser) -> None:
    """The deploy options, declared once in core for these flags and the wizard's fields."""
    from chutes_tui.core.deploy_options import OPTIONS

    for option in OPTIONS:
        if option.takes:
            deploy.add_argument(
                option.flag,
                dest=option.name,
                metavar=option.takes,
                type=option.parse,
                help=option.help,
            )
        else:
            deploy.add_argument(
                option.flag, dest=option.name, action="store_true", help=option.help
            )


def _cockpit_commands(commands: argparse._SubParsersAction[AnyParser]) -> None:
    """What the account spends, and calling a chute."""
    usage = _command(
        commands,
        "usage",
        help="your spend per chute per day, burn now, balance, runway, fees",
        description="What you were billed per chute and day (instance hours, deployment fees,"
        " your calls; what shared users paid for theirs comes off), the hourly burn of your"
        " running instances now, your balance, how long it lasts at this burn, and the"
        " deployment fees of the period (where the API tells them apart).",
        examples=["usage", "usage --days 3 --chute hello-world", "usage --csv > spend.csv"],
        codes=(ExitCode.NOT_FOUND,),
    )
    usage.add_argument(
        "--days", type=int, default=11, metavar="N", help="the last N days, today included (11)"
    )
    usage.add_argument("--chute", metavar="NAME", help="only this chute (name or id)")
    usage.add_argument("--csv", action="store_true", help="CSV rows on stdout")
    _common(usage)

    invoke = _command(
        commands,
        "invoke",
        help="call a chute's cord: CHUTE PATH [--data JSON|@file|-] [--stream]",
        description="Call a chute at https://<slug>.<domain>/PATH, as the platform routes"
        " calls ($CHUTES_TUI_INVOKE_URL, e.g. https://{slug}.chutes.ai, overrides where);"
        " sent once, never retried (calls are billed to you). A streamed reply is printed chunk"
        " by chunk as it arrives (JSON Lines with --json). Cold: 13; no access: 3; the chute"
        " failed: 14.",
        examples=[
            'invoke hello-world /echo --data \'{"text": "hi"}\'',
            "invoke echo-stream /echo --data @body.json --stream --json",
            "invoke demo-hello-world /echo --data - < body.json",
        ],
        codes=(
            ExitCode.NOT_FOUND,
            ExitCode.PAYMENT,
            ExitCode.CHUTE_COLD,
            ExitCode.INVOKE_FAILED,
        ),
    )
    invoke.add_argument("chute", metavar="CHUTE", help="name, id or slug")
    invoke.add_argument("path", metavar="PATH", help="the cord's public path, e.g. /echo")
    invoke.add_argument("--data", "-d", metavar="JSON|@FILE|-", help="the request body")
    invoke.add_argument(
        "--stream", action="store_true", help='ask for a streamed reply (adds "stream": true)'
    )
    invoke.add_argument("--method", "-X", default="POST", help="HTTP method (default POST)")
    _common(invoke)
    _key_commands(commands)


class NoEchoParser(Parser):
    """A command that may be handed a secret by mistake: a usage error never repeats what was
    typed (only option names), and there are no abbreviations to guess at."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        self._typed: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._typed = [arg for arg in args or () if not arg.startswith("-")]
        self._typed += [arg.partition("=")[2] for arg in args or () if "=" in arg]
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unexpected arguments ({len(extras)}, not shown)")
        return parsed, []

    def error(self, message: str) -> NoReturn:
        for typed in sorted(filter(None, self._typed), key=len, reverse=True):
            message = re.sub(rf"(?<!\w){re.escape(typed)}(?!\w)", "…", message)
        super().error(message)


class NoValueHere(argparse.Action):
    """`--value` is refused whatever follows it, and what follows is never shown."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            "a secret's value is never taken from the command line (it would stay in your"
            " shell history and show in the process list): pipe it on stdin, or use"
            " --value-file FILE"
        )


def _key_commands(commands: argparse._SubParsersAction[AnyParser]) -> None:
    """`keys` and `secrets`: a key's secret is printed once, a secret's value read from stdin."""
    keys = _command(
        commands,
        "keys",
        help="list, create or delete API keys",
        description="List, create or delete your API keys; a new key's secret is shown once.",
        examples=[
            "keys list",
            "keys create --name ci --admin --json | jq -r .secret_key",
            "keys delete ci --yes",
        ],
        codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT, ExitCode.DECLINED),
    )
    key_actions = keys.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=Parser
    )
    key_list = _command(
        key_actions,
        "list",
        help="list your API keys",
        description="List your API keys: name, access (admin or scopes), created, last used.",
        examples=["keys list", "keys list --json | jq -r '.[].name'"],
    )
    _pages(key_list)
    _common(key_list)
    create = _command(
        key_actions,
        "create",
        help="create an API key and print its secret, once",
        description="Create an admin or a scoped API key and print its secret once (stdout).",
        examples=[
            "keys create --name ci --admin --json | jq -r .secret_key",
            "keys create --name reader --scope chutes:read:hello-world",
            "keys create --name builder --scope images:any --scope chutes:write",
        ],
        codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT),
    )
    create.add_argument("--name", required=True, help="up to 24 letters, digits, _ - . or spaces")
    access = create.add_mutually_exclusive_group(required=True)
    access.add_argument("--admin", action="store_true", help="the key may do anything you may")
    access.add_argument(
        "--scope",
        action="append",
        metavar="OBJECT:ACTION[:ID]",
        help="allow ACTION (read, write, delete, invoke or any) on OBJECT (chutes, images,"
        " invocations), or on one of them when ID (an id or a name) is given; repeatable",
    )
    _common(create)
    delete = _command(
        key_actions,
        "delete",
        help="delete one of your API keys",
        description="Delete an API key by id or name; asks on a terminal, needs --yes otherwise.",
        examples=["keys delete ci", "keys delete ci --yes --json"],
        codes=(ExitCode.NOT_FOUND, ExitCode.DECLINED),
    )
    delete.add_argument("ref", metavar="ID_OR_NAME")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _common(delete)

    secrets = _command(
        commands,
        "secrets",
        help="list, create or delete a chute's secrets",
        description="List, create or delete secrets: environment variables of a chute's"
        " instances, such as HF_TOKEN; values are never shown.",
        examples=[
            "secrets list --chute hello-world",
            "secrets create --chute hello-world --key HF_TOKEN < token.txt",
            "secrets delete --chute hello-world --key HF_TOKEN --yes",
        ],
        codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT, ExitCode.DECLINED),
    )
    secret_actions = secrets.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=NoEchoParser
    )
    secret_list = _command(
        secret_actions,
        "list",
        help="list your secrets, by chute",
        description="List your secrets by chute and key; their values are never shown.",
        examples=["secrets list", "secrets list --chute hello-world --json"],
        codes=(ExitCode.NOT_FOUND,),
    )
    secret_list.add_argument("--chute", help="only the secrets of this chute (id or name)")
    _pages(secret_list)
    _common(secret_list)
    secret_create = _command(
        secret_actions,
        "create",
        help="give a chute a secret, its value read from stdin",
        description="Create a secret for one of your chutes; the value comes from stdin (a"
        " hidden prompt on a terminal) or --value-file, never from the command line.",
        examples=[
            "secrets create --chute hello-world --key HF_TOKEN < token.txt",
            'secrets create --chute hello-world --key HF_TOKEN <<< "$HF_TOKEN"',
            "secrets create --chute hello-world --key HF_TOKEN --value-file token.txt",
        ],
        codes=(ExitCode.NOT_FOUND, ExitCode.CONFLICT),
    )
    secret_create.add_argument("--chute", required=True, help="your chute (id or name)")
    secret_create.add_argument(
        "--key", required=True, help="the environment variable's name, e.g. HF_TOKEN"
    )
    secret_create.add_argument(
        "--value-file",
        metavar="FILE",
        help="read the value from FILE (- for stdin); one trailing newline is dropped",
    )
    secret_create.add_argument("--value", nargs="?", action=NoValueHere, help=argparse.SUPPRESS)
    _common(secret_create)
    secret_delete = _command(
        secret_actions,
        "delete",
        help="delete a secret",
        description="Delete a secret by id, or by --chute and --key; asks on a terminal, needs"
        " --yes otherwise.",
        examples=[
            "secrets delete --chute hello-world --key HF_TOKEN",
            "secrets delete 6f1c0c2e-3a51-5c5e-9d1b-0f1e2d3c4b5a --yes",
        ],
        codes=(ExitCode.NOT_FOUND, ExitCode.DECLINED),
    )
    secret_delete.add_argument("secret", nargs="?", metavar="SECRET_ID")
    secret_delete.add_argument("--chute", help="the secret's chute (id or name), with --key")
    secret_delete.add_argument("--key", help="the secret's key, with --chute")
    secret_delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _common(secret_delete)


def _pages(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="fetch every page")
    parser.add_argument("--limit", type=int, default=25, help="items per page (default 25)")
    parser.add_argument("--page", type=int, default=0, help="zero-based page (default 0)")
