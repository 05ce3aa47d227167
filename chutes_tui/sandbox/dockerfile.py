"""Reading a Dockerfile the way the simulated builder needs it, and what makes a build fail.

A build fails, at the step that causes it and in Docker's own words, when:

- the Dockerfile does not parse (an unknown instruction, an instruction without arguments,
  or a first instruction other than `ARG` or `FROM`);
- `FROM` names an image that does not exist: a reference Docker would refuse, a tag that
  contains `999`, or an image under a sandbox user's name (`demo/base:1`) that is not built,
  or not visible to the builder;
- `COPY` or `ADD` names a source that is not in the uploaded build context (or one outside it);
- `RUN pip install` asks for a version containing `999` (`torch==2.999`, `numpy>=999`);
- `RUN` runs `exit N` (N > 0) or `false`.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

KNOWN = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN"  # noqa: SIM905
    " SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
MISSING_MARK = "999"  # a version or tag holding it does not exist
OPERATORS = frozenset({"&&", "||", ";", "|", "&", ";;"})
WRAPPERS = frozenset({"sudo", "time", "exec", "env", "nohup"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PIP = re.compile(r"^pip[0-9.]*$")
PYTHON = re.compile(r"^python[0-9.]*$")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")
CLAUSE = re.compile(r"(===|==|~=|>=|<=|!=|>|<)\s*([^,;\s]+)")
PIP_VALUE_OPTIONS = frozenset(  # pip options that take the next word as their value
    "-i --index-url --extra-index-url -f --find-links -c --constraint -r --requirement -t"  # noqa: SIM905
    " --target --prefix --root --platform --python-version --implementation --abi"
    " --trusted-host --cache-dir --src --upgrade-strategy --progress-bar -C --config-settings"
    " -e --editable".split()
)
# Docker's reference grammar, reduced to what decides "invalid reference format".
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REFERENCE = re.compile(
    rf"^(?:(?P<host>[A-Za-z0-9.-]+(?::[0-9]+)?)/)?(?P<path>{COMPONENT}(?:/{COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Instruction:
    line: int  # where it starts in the Dockerfile, from 1
    keyword: str  # upper case
    args: str  # continuation lines joined

    @property
    def text(self) -> str:
        """The instruction as a build's `Step N/M :` line shows it."""
        return f"{self.keyword} {self.args}"


@dataclass(frozen=True)
class ParseError:
    line: int
    message: str

    @property
    def text(self) -> str:
        return f"dockerfile parse error line {self.line}: {self.message}"


def parse(dockerfile: str) -> list[Instruction] | ParseError:
    """Instructions in order; comments, blank lines and line continuations as Docker reads
    them (the escape character is always a backslash)."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(dockerfile.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if continued:
            continue
        problem = _instruction(start, " ".join(part for part in pending if part), found)
        pending = []
        if isinstance(problem, ParseError):
            return problem
    if pending:
        problem = _instruction(start, " ".join(part for part in pending if part), found)
        if isinstance(problem, ParseError):
            return problem
    return found


def _instruction(line: int, text: str, found: list[Instruction]) -> ParseError | None:
    keyword, _, args = text.partition(" ")
    keyword = keyword.upper()
    if keyword not in KNOWN:
        return ParseError(line, f"unknown instruction: {keyword}")
    if not args.strip():
        return ParseError(line, f"{keyword} requires at least one argument")
    found.append(Instruction(line, keyword, args.strip()))
    return None


# --- FROM ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseImage:
    reference: str  # as written, with `:latest` added when it has no tag
    repository: str  # without the tag
    tag: str


def base_image(args: str) -> tuple[str, str | None]:
    """The image a `FROM` names and the stage name it gives (`AS builder`)."""
    words = [word for word in args.split() if not word.startswith("--")]
    if not words:
        return "", None
    stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return words[0], stage


ImageLookup = Callable[[str, str, str], "bool | None"]  # owner, name, tag -> built, or None


def from_problem(reference: str, stages: Sequence[str], lookup: ImageLookup) -> str | None:
    """Why the image a `FROM` names cannot be pulled, in Docker's words; None when it can.

    `lookup(owner, name, tag)` answers for images under a sandbox user's name: True when it
    is built and visible, False when not, None when `owner` is no sandbox user.
    """
    if reference.lower() in stages or reference == "scratch" or "$" in reference:
        return None
    match = REFERENCE.match(reference)
    if match is None:
        if reference.lower() != reference and REFERENCE.match(reference.lower()):
            return "invalid reference format: repository name must be lowercase"
        return "invalid reference format"
    host, path, tag = match.group("host"), match.group("path"), match.group("tag") or "latest"
    if host is not None and not ("." in host or ":" in host or host == "localhost"):
        host, path = None, f"{host}/{path}"  # a first part that is no registry host
        if path.lower() != path:
            return "invalid reference format: repository name must be lowercase"
    owner, _, name = path.partition("/")
    if host is None and name and "/" not in name:
        known = lookup(owner, name, tag)
        if known is False:
            return (
                f"pull access denied for {path}, repository does not exist or may require"
                " 'docker login': denied: requested access to the resource is denied"
            )
    if MISSING_MARK in tag:
        return f"manifest for {path}:{tag} not found: manifest unknown: manifest unknown"
    return None


def describe_base(reference: str) -> BaseImage:
    repository, _, tag = reference.partition("@")[0].rpartition(":")
    if not repository or "/" in tag:
        repository, tag = reference.partition("@")[0], "latest"
    return BaseImage(f"{repository}:{tag}", repository, tag)


# --- COPY and ADD ----------------------------------------------------------------------


def copy_sources(args: str) -> tuple[list[str], bool]:
    """The sources of a `COPY`/`ADD` and whether they come from the build context
    (not from another stage with `--from`)."""
    words: list[str]
    if args.lstrip().startswith("["):
        try:
            parsed = json.loads(args)
        except ValueError:
            parsed = None
        words = [str(word) for word in parsed] if isinstance(parsed, list) else args.split()
    else:
        words = args.split()
    from_context = not any(word.startswith("--from") for word in words)
    paths = [word for word in words if not word.startswith("--")]
    return paths[:-1], from_context


def copy_problem(keyword: str, args: str, context: Sequence[str]) -> str | None:
    """Why a `COPY`/`ADD` fails against the uploaded files (`context`: paths in the zip)."""
    sources, from_context = copy_sources(args)
    if not from_context:
        return None
    for source in sources:
        if keyword == "ADD" and "://" in source:
            continue
        cleaned = posixpath.normpath(source.lstrip("/") or ".")
        if cleaned == ".." or cleaned.startswith("../"):
            return f"{keyword} failed: forbidden path outside the build context: {source} ()"
        if not _in_context(cleaned, context):
            return (
                f"{keyword} failed: file not found in build context or excluded by"
                f" .dockerignore: stat {cleaned}: file does not exist"
            )
    return None


def _in_context(path: str, context: Sequence[str]) -> bool:
    if path == ".":
        return True
    names = [name.rstrip("/") for name in context]
    if any(char in path for char in "*?["):
        return any(fnmatch.fnmatchcase(name, path) for name in names)
    prefix = path + "/"
    return any(name == path or name.startswith(prefix) for name in names)


# --- RUN -------------------------------------------------------------------------------


def run_script(args: str) -> str:
    """The command a `RUN` hands to the shell (exec form joined with spaces)."""
    if args.lstrip().startswith("["):
        try:
            parsed = json.loads(args)
        except ValueError:
            return args
        if isinstance(parsed, list):
            return " ".join(str(word) for word in parsed)
    return args


def commands(script: str) -> list[tuple[list[str], str]]:
    """A shell script as simple commands, each with the operator after it (`&&`, `||`, `;`,
    `|`, `&`, or "" at the end): words without leading variable assignments and wrappers
    such as `sudo`."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote: the shell would fail too, but read it anyway
        words = script.split()
    found: list[tuple[list[str], str]] = []
    current: list[str] = []
    for word in words:
        if word in OPERATORS:
            if current:
                found.append((current, word))
            current = []
        elif current or not (ASSIGNMENT.match(word) or word in WRAPPERS):
            current.append(word)
    if current:
        found.append((current, ""))
    return found


def runs(previous: str | None, status: int) -> bool:
    """Whether the shell runs a command after `previous` left `status`."""
    if previous == "&&":
        return status == 0
    if previous == "||":
        return status != 0
    return True


def pip_requirements(command: Sequence[str]) -> list[str] | None:
    """The requirements of a `pip install` command (`pip`, `pip3`, `python -m pip`,
    `uv pip`); None for any other command."""
    words = [posixpath.basename(word) if index == 0 else word for index, word in enumerate(command)]
    if words[:1] == ["uv"] and words[1:2] == ["pip"]:
        rest = words[2:]
    elif words and PIP.match(words[0]):
        rest = words[1:]
    elif len(words) >= 3 and PYTHON.match(words[0]) and words[1:3] == ["-m", "pip"]:
        rest = words[3:]
    else:
        return None
    if not rest or rest[0] != "install":
        return None
    found, skip = [], False
    for word in rest[1:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in PIP_VALUE_OPTIONS
        elif not word.startswith((".", "/")):
            found.append(word)
    return found


def missing_version(requirement: str) -> bool:
    """A pinned or minimum version that does not exist (it contains `999`)."""
    match = REQUIREMENT.match(requirement)
    if match is None:
        return False
    return any(
        operator in ("==", "===", "~=", ">=", ">") and MISSING_MARK in version
        for operator, version in CLAUSE.findall(match.group(3))
    )


def exit_code(command: Sequence[str]) -> int | None:
    """The status a command certainly fails with (`exit 3`, `false`), else None."""
    if command[0] == "false":
        return 1
    if command[0] == "exit" and len(command) > 1 and command[1].isdigit():
        code = int(command[1]) % 256
        return code or None
    return None
