"""Every `--no-ui` command documents itself, and asking for help stays cheap."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from chutes_tui.client.errors import ExitCode
from chutes_tui.headless.parser import EXIT_CODES, EXIT_CODES_HELP, build_parser


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and nested action (`chutes list`), with the words that reach it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


COMMANDS = dict(commands(build_parser()))
ROW = re.compile(r"\s(\d{1,2}) (\S.*?)(?=\s{2,}\d{1,2} |$)")


def test_the_commands_are_all_there() -> None:
    assert {"me", "deploy", "logs", "pricing"} <= {path[0] for path in COMMANDS}
    assert {("chutes", "list"), ("images", "delete"), ("shares", "list")} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_has_a_description_examples_and_exit_codes(path: tuple[str, ...]) -> None:
    text = COMMANDS[path].format_help()
    blocks = text.split("\n\n")
    assert blocks[0].startswith(f"usage: chutes-tui --no-ui {' '.join(path)}")
    description = blocks[1]
    assert description.strip() and "\n" not in description, text  # one line
    assert not description.startswith(("options:", "positional arguments:"))

    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(
        line.startswith(f"  chutes-tui --no-ui {path[0]}") for line in examples
    ), text

    codes = text.split("exit codes:\n", 1)[1].splitlines()
    listed = {
        int(code): meaning.strip() for line in codes for code, meaning in ROW.findall(f" {line}")
    }
    assert {ExitCode.OK, ExitCode.USAGE} <= set(listed), text
    assert listed == {code: EXIT_CODES[ExitCode(code)] for code in listed}  # one wording


def test_top_level_help_has_every_exit_code() -> None:
    text = build_parser().format_help()
    assert EXIT_CODES_HELP in text
    for code, meaning in EXIT_CODES.items():
        assert f"{int(code):>2} {meaning}" in text
    assert set(EXIT_CODES) == set(ExitCode)


def run_with_importtime(*args: str) -> tuple[set[str], str]:
    """The modules a `chutes-tui` run imports (as `-X importtime` reports them), and stdout."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chutes_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, done.stdout


def test_help_of_a_command_imports_no_models_and_no_ui() -> None:
    modules, text = run_with_importtime("--no-ui", "chutes", "list", "--help")
    assert "List your chutes" in text and "examples:" in text and "exit codes:" in text
    assert "chutes_tui.headless.parser" in modules  # the probe really ran
    heavy = sorted(
        name
        for name in modules
        if name.split(".")[0] in ("pydantic", "pydantic_core", "textual", "httpx")
        or name == "chutes_tui.core.deploy"
    )
    assert heavy == []


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_a_command_line_builds_only_its_command_and_the_same_help(path: tuple[str, ...]) -> None:
    """A one-shot command builds only its own parser (start-up time); what it parses and
    what its help says are the same as with the whole parser."""
    argv = ["--config", "x.ini", *path, "--help"]  # an option's value is not a command word
    built = dict(commands(build_parser(argv)))
    assert path in built and {words[0] for words in built} == {path[0]}  # only this command
    if len(path) == 2:
        assert [words for words in built if len(words) == 2] == [path]  # and only this action
    assert built[path].format_help() == COMMANDS[path].format_help()


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["chutes", "bogus"], ["--json"], [], ["chutes"], ["me", "extra"]],
    ids=repr,
)
def test_a_command_line_without_a_known_command_gets_every_choice(argv: list[str]) -> None:
    """A typo or a missing word is told what there is: the whole parser answers it."""
    parser = build_parser(argv)
    built = dict(commands(parser))
    if argv[:1] == ["chutes"] and argv[1:] != ["bogus"]:
        assert {("chutes", "list"), ("chutes", "get"), ("chutes", "delete")} <= set(built)
    elif argv[:1] != ["me"]:
        assert set(built) == set(COMMANDS)
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(argv)
    assert stopped.value.code == 2
