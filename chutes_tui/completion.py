"""`chutes-tui completion SHELL`: a tab-completion script for bash, zsh or fish (by shtab)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path


def completion_parser() -> argparse.ArgumentParser:
    """The dashboard's parser with the `--no-ui` commands and output options beside its own.

    `main()` switches to the headless parser when `--no-ui` is on the line, which no
    generated script can follow; one parser that knows both lets
    `chutes-tui --no-ui chutes l<TAB>` complete, at the price of offering the headless
    commands without `--no-ui` too. Used for completion only, never for parsing.
    """
    import shtab

    from chutes_tui.cli import build_parser
    from chutes_tui.headless.parser import add_commands, output_options

    parser = build_parser()
    output_options(parser)
    add_commands(_commands(parser))
    for action in _every_action(parser):
        if action.type is Path or action.metavar in ("PATH", "FILE"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.metavar == "DIR":
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    return parser


def _commands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _every_action(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _every_action(sub)


def print_completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(completion_parser(), shell=args.shell), end="")
    return 0
