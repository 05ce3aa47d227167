"""`chutes-tui completion SHELL`: the scripts complete both the dashboard and `--no-ui` commands.

Bash is always there and runs the generated function the way readline would (COMP_WORDS,
COMP_CWORD, then COMPREPLY). zsh and fish are checked for content, and driven for real when
they happen to be installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chutes_tui.cli import build_parser as dashboard_parser
from chutes_tui.headless.parser import build_parser as headless_parser

TIMEOUT = 60


def script(shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chutes_tui", "completion", shell],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    assert done.stderr == ""
    return done.stdout


def commands_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


DASHBOARD = commands_of(dashboard_parser())
HEADLESS = commands_of(headless_parser())
NESTED = {
    name: sorted(commands_of(sub))
    for name, sub in HEADLESS.items()
    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
}

# Fed to bash with the python to run and the lines to complete (the cursor at the end). The
# generated function sets globals such as `line`, so the loop's variable has another name.
BASH_PROBE = r"""
source <("$1" -m chutes_tui completion bash) || exit 3
spec=$(complete -p chutes-tui) || exit 4
fn=${spec##* -F }
fn=${fn%% *}
shift
for typed in "$@"; do
  read -ra COMP_WORDS <<<"$typed"
  [[ $typed == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMP_LINE=$typed
  COMP_POINT=${#typed}
  COMPREPLY=()
  "$fn" chutes-tui "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\t%s\n' "$typed" "${COMPREPLY[*]}"
done
"""


def bash_complete(cwd: Path, *lines: str) -> dict[str, list[str]]:
    """What bash offers at the end of each line, as the installed script computes it."""
    done = subprocess.run(
        ["bash", "-c", BASH_PROBE, "probe", sys.executable, *lines],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    replies = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    return {line: sorted(reply.split()) for line, reply in replies.items()}


def test_bash_registers_the_completion_function(tmp_path: Path) -> None:
    probe = 'source <("$1" -m chutes_tui completion bash); complete -p chutes-tui'
    done = subprocess.run(
        ["bash", "-c", probe, "probe", sys.executable],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert " -F " in done.stdout and done.stdout.strip().endswith(" chutes-tui")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("chutes-tui --no-ui ch", ["chutes"]),
        ("chutes-tui --no-ui chutes l", ["list"]),
        ("chutes-tui sa", ["sandbox"]),
        ("chutes-tui --sandbox --no-ui chutes list --inc", ["--include-public"]),
        ("chutes-tui --no-ui --json shares ", ["list"]),
        ("chutes-tui --no-ui deploy my_chute:chute --dr", ["--dry-run"]),
        ("chutes-tui --no-ui --output ", ["json", "table"]),
        ("chutes-tui completion ", ["bash", "fish", "zsh"]),
        ("chutes-tui sandbox serve --fee-formula ", ["linear", "quadratic"]),
        ("chutes-tui --no-ui deploy my_chute:chute --logo lo", ["logo.png"]),
        ("chutes-tui --no-ui deploy my_chute:chute --dir ex", ["examples"]),
    ],
)
def test_bash_completes(tmp_path: Path, line: str, expected: list[str]) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "examples").mkdir()
    (tmp_path / "example.txt").write_text("not a directory")
    assert bash_complete(tmp_path, line) == {line: expected}


def test_bash_offers_every_command_of_both_parsers(tmp_path: Path) -> None:
    lines = ["chutes-tui ", "chutes-tui --no-ui "]
    lines += [f"chutes-tui --no-ui {name} " for name in NESTED]
    replies = bash_complete(tmp_path, *lines)
    assert set(DASHBOARD) <= set(replies["chutes-tui "])
    assert set(HEADLESS) <= set(replies["chutes-tui --no-ui "])
    for name, actions in NESTED.items():
        assert replies[f"chutes-tui --no-ui {name} "] == actions


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command(shell: str) -> None:
    text = script(shell)
    assert "chutes-tui" in text
    for name in [*DASHBOARD, *HEADLESS, *(a for actions in NESTED.values() for a in actions)]:
        assert name in text, f"{shell} script misses {name}"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes(tmp_path: Path) -> None:
    path = tmp_path / "chutes-tui.fish"
    path.write_text(script("fish"))
    probe = (
        f"source {path}; "
        'complete -C "chutes-tui --no-ui chutes l"; echo ---; '
        'complete -C "chutes-tui --no-ui ch"; echo ---; '
        'complete -C "chutes-tui sa"'
    )
    done = subprocess.run(
        ["fish", "--no-config", "-c", probe], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    offered = [
        sorted(line.split("\t")[0] for line in block.strip().splitlines())
        for block in done.stdout.split("---")
    ]
    assert offered == [["list"], ["chutes"], ["sandbox"]]


# Types a line and TAB into an interactive zsh on a pseudo-terminal; prints each candidate.
# The markers are split in the source so that the echo of the commands never matches them.
ZSH_PROBE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= ; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'comppostfuncs=( finish ); finish() { print -r -- "<E""ND>"; exit }'
zpty -w z 'compadd() { builtin compadd -O hits "$@"; local h; for h in $hits; do \
  print -r -- "<H""IT>$h"; done; builtin compadd "$@"; }'
zpty -w z 'bindkey "^I" complete-word'
zpty -n -w z "$2"$'\t'
while zpty -r z line; do
  [[ $line == *'<END>'* ]] && break
  [[ $line == *'<HIT>'* ]] && print -r -- "${${line#*<HIT>}%%$'\r'*}"
done
zpty -d z
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("chutes-tui --no-ui chutes l", ["list"]),
        ("chutes-tui --no-ui ch", ["chutes"]),
        ("chutes-tui sa", ["sandbox"]),
    ],
)
def test_zsh_completes(tmp_path: Path, line: str, expected: list[str]) -> None:
    (tmp_path / "_chutes-tui").write_text(script("zsh"))
    done = subprocess.run(
        ["zsh", "-f", "-c", ZSH_PROBE, "probe", str(tmp_path), line],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(set(done.stdout.split())) == expected
