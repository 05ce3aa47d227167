"""A simulated image build's log: Docker's own output for the Dockerfile's steps, timed.

The log is a script of lines, each at a point in simulated seconds after the build starts;
the builder releases them as the sandbox's clock passes those points. Everything is drawn
from a generator seeded by the image id and the Dockerfile, so a build (and a sandbox that
resumes one after a restart) always says the same thing. What fails, and why, is decided
in `dockerfile`; this module only writes it down the way Docker and pip would.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.dockerfile import (
    REQUIREMENT,
    ImageLookup,
    Instruction,
    ParseError,
    base_image,
    commands,
    copy_problem,
    describe_base,
    exit_code,
    from_problem,
    missing_version,
    parse,
    pip_requirements,
    run_script,
    runs,
)

REGISTRY = "registry.sandbox.local"
SITE_PACKAGES = "/usr/local/lib/python3.12/site-packages"
BUILT = "built and pushed"
BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
BAR = "━" * 40
ROOT_WARNING = (
    "WARNING: Running pip as the 'root' user can result in broken permissions and conflicting"
    " behaviour with the system package manager. It is recommended to use a virtual"
    " environment instead: https://pip.pypa.io/warnings/venv"
)
STEP_TEXT = 200  # characters of an instruction an error status repeats


@dataclass(frozen=True)
class Package:
    version: str
    megabytes: float
    binary: bool = False
    deps: tuple[str, ...] = ()


# What pip finds for a few packages chute images install; any other is made up, per name.
PACKAGES = {
    "chutes": Package(
        "0.6.9", 0.6, deps=("aiohttp", "loguru", "fastapi", "uvicorn", "orjson", "typer")
    ),
    "torch": Package(
        "2.9.0",
        899.7,
        True,
        ("filelock", "typing-extensions", "sympy", "networkx", "jinja2", "fsspec", "triton"),
    ),
    "triton": Package("3.5.0", 170.4, True),
    "vllm": Package(
        "0.11.1", 438.2, True, ("torch", "transformers", "fastapi", "openai", "numpy", "xgrammar")
    ),
    "sglang": Package("0.5.5", 2.9, deps=("torch", "transformers", "fastapi", "numpy")),
    "transformers": Package(
        "4.57.1",
        12.0,
        deps=("huggingface-hub", "tokenizers", "safetensors", "regex", "numpy", "pyyaml", "tqdm"),
    ),
    "diffusers": Package(
        "0.34.0", 3.8, deps=("huggingface-hub", "safetensors", "pillow", "numpy", "regex")
    ),
    "accelerate": Package("1.11.0", 0.4, deps=("torch", "numpy", "psutil", "safetensors")),
    "numpy": Package("2.3.4", 16.6, True),
    "pillow": Package("12.0.0", 7.0, True),
    "tokenizers": Package("0.22.1", 3.3, True, ("huggingface-hub",)),
    "safetensors": Package("0.6.2", 0.5, True),
    "huggingface-hub": Package("0.36.0", 0.6, deps=("filelock", "fsspec", "requests", "tqdm")),
    "fastapi": Package("0.121.0", 0.1, deps=("starlette", "pydantic")),
    "pydantic": Package("2.12.3", 0.5, deps=("pydantic-core", "typing-extensions")),
    "pydantic-core": Package("2.41.4", 2.1, True),
    "requests": Package("2.32.5", 0.1, deps=("idna", "certifi", "urllib3", "charset-normalizer")),
    "aiohttp": Package("3.13.2", 1.7, True, ("yarl", "multidict", "aiosignal", "frozenlist")),
    "uvicorn": Package("0.38.0", 0.1, deps=("click", "h11")),
    "loguru": Package("0.7.3", 0.1),
    "orjson": Package("3.11.4", 0.1, True),
    "typer": Package("0.20.0", 0.1, deps=("click", "rich")),
    "certifi": Package("2025.10.5", 0.2),
    "idna": Package("3.11", 0.1),
    "urllib3": Package("2.5.0", 0.1),
    "charset-normalizer": Package("3.4.4", 0.2, True),
    "tqdm": Package("4.67.1", 0.1),
    "pyyaml": Package("6.0.3", 0.8, True),
    "regex": Package("2025.10.23", 0.8, True),
    "typing-extensions": Package("4.15.0", 0.1),
    "packaging": Package("25.0", 0.1),
    "filelock": Package("3.20.0", 0.1),
}
POOL = (
    "typing-extensions",
    "packaging",
    "requests",
    "filelock",
    "tqdm",
    "pyyaml",
    "six",
    "attrs",
)
APT_MIRROR = "http://archive.ubuntu.com/ubuntu"


@dataclass(frozen=True)
class LogLine:
    at: float  # simulated seconds after the build started
    stream: str  # "stdout" or "stderr"
    text: str


@dataclass(frozen=True)
class BuildScript:
    lines: list[LogLine]
    duration: float  # simulated seconds from start to the final status
    status: str  # "built and pushed" or "error: ..."


@dataclass(frozen=True)
class BuildRequest:
    image_id: str
    owner: str
    name: str
    tag: str
    dockerfile: str
    context: Sequence[str]  # paths in the build context zip
    context_bytes: int  # their unpacked size
    lookup: ImageLookup  # images under sandbox users' names (see dockerfile.from_problem)


class _Log:
    """Lines as they are written, with the simulated time each one appears."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 0.0
        self.lines: list[LogLine] = []

    def out(self, text: str, after: float = 0.05, stream: str = "stdout") -> None:
        self.now += after
        clean = BREAKS.sub(" ", text)[: limits.MAX_BUILD_LOG_LINE]
        self.lines.append(LogLine(round(self.now, 3), stream, clean))

    def err(self, text: str, after: float = 0.05) -> None:
        self.out(text, after, "stderr")

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def hex(self, digits: int = 12) -> str:
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"

    def between(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)


@dataclass
class _Stage:
    """What the build has made so far: layers for the push, packages pip already has."""

    stages: list[str] = field(default_factory=list)
    pulled: set[str] = field(default_factory=set)
    installed: dict[str, str] = field(default_factory=dict)
    base_layers: int = 0
    layers: list[float] = field(default_factory=list)  # megabytes of each own layer
    started: bool = False


def docker_size(size: float) -> str:
    """Bytes as Docker prints the build context (`2.048kB`, `15.36MB`)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.4g}{unit}"
        size /= 1000
    return f"{size:.4g}GB"


def pip_size(megabytes: float) -> str:
    return f"{megabytes:.1f} MB" if megabytes >= 1 else f"{max(1, round(megabytes * 1000))} kB"


def script(request: BuildRequest) -> BuildScript:
    """The whole build: context upload, each step, then tag and push, or the failure."""
    rng = random.Random(f"{request.image_id}\n{request.dockerfile}")
    log = _Log(rng)
    log.out(
        f"Sending build context to Docker daemon  {docker_size(max(request.context_bytes, 512))}",
        after=0.3 + request.context_bytes / 40e6,
    )
    parsed = parse(request.dockerfile)
    if isinstance(parsed, ParseError):
        log.err(f"Error response from daemon: {parsed.text}", after=0.1)
        return _finish(log, f"error: {parsed.text}")
    state = _Stage()
    for number, instruction in enumerate(parsed, start=1):
        step = f"Step {number}/{len(parsed)} : {instruction.text}"
        log.out(step, after=0.05)
        problem = _step(log, state, request, instruction)
        if problem:
            shown = step if len(step) <= STEP_TEXT else step[: STEP_TEXT - 1] + "…"
            return _finish(log, f"error: {shown} -- {problem}")
    _push(log, state, request)
    return _finish(log, BUILT)


def _finish(log: _Log, status: str) -> BuildScript:
    lines = _bounded(log.lines)
    return BuildScript(lines, round(log.now + 0.5, 3), status)


def _bounded(lines: list[LogLine]) -> list[LogLine]:
    """At most MAX_BUILD_LOG_LINES lines and MAX_BUILD_LOG_BYTES bytes: the start and the
    end are kept, the middle is replaced by one line saying how much went."""
    budget_lines = limits.MAX_BUILD_LOG_LINES // 2 - 1
    budget_bytes = limits.MAX_BUILD_LOG_BYTES // 2 - 100
    total = sum(len(line.text.encode()) + 1 for line in lines)
    if len(lines) <= limits.MAX_BUILD_LOG_LINES and total <= limits.MAX_BUILD_LOG_BYTES:
        return lines

    def take(ordered: Sequence[LogLine]) -> int:
        count = size = 0
        for line in ordered:
            size += len(line.text.encode()) + 1
            if count >= budget_lines or size > budget_bytes:
                break
            count += 1
        return count

    head = take(lines)
    tail = take(lines[::-1])
    dropped = len(lines) - head - tail
    marker = LogLine(lines[head].at, "stdout", f"... {dropped} lines of build output omitted ...")
    return [*lines[:head], marker, *lines[len(lines) - tail :]]


def _step(log: _Log, state: _Stage, request: BuildRequest, instruction: Instruction) -> str | None:
    keyword = instruction.keyword
    if keyword == "FROM":
        return _from(log, state, request, instruction.args)
    if not state.started and keyword != "ARG":
        log.err("No build stage in current context", after=0.05)
        return "No build stage in current context"
    if keyword == "RUN":
        return _run(log, state, instruction.args)
    if keyword in ("COPY", "ADD"):
        problem = copy_problem(keyword, instruction.args, request.context)
        if problem:
            log.err(problem, after=log.between(0.1, 0.4))
            return problem
        state.layers.append(max(0.001, request.context_bytes / 1e6))
        log.out(f" ---> {log.hex()}", after=log.between(0.2, 0.8))
        return None
    if keyword == "ARG" and not state.started:
        return None
    container = log.hex()
    log.out(f" ---> Running in {container}", after=log.between(0.1, 0.4))
    log.out(f"Removing intermediate container {container}", after=log.between(0.05, 0.2))
    log.out(f" ---> {log.hex()}", after=0.01)
    return None


def _from(log: _Log, state: _Stage, request: BuildRequest, args: str) -> str | None:
    reference, stage = base_image(args)
    problem = from_problem(reference, state.stages, request.lookup)
    if problem:
        log.err(problem, after=log.between(0.5, 2.0))
        return problem
    state.started = True
    if stage:
        state.stages.append(stage.lower())
    if reference.lower() not in state.stages and reference not in state.pulled:
        if reference != "scratch" and "$" not in reference:
            state.base_layers = _pull(log, reference)
        state.pulled.add(reference)
    log.out(f" ---> {log.hex()}", after=0.05)
    return None


def _pull(log: _Log, reference: str) -> int:
    base = describe_base(reference)
    repository = base.repository if "/" in base.repository else f"library/{base.repository}"
    layers = [(log.hex(), log.rng.lognormvariate(3.0, 1.4)) for _ in range(log.rng.randint(4, 9))]
    log.out(f"{base.tag}: Pulling from {repository}", after=log.between(0.3, 1.0))
    for layer, _ in layers:
        log.out(f"{layer}: Pulling fs layer", after=0.02)
    for layer, megabytes in layers:
        log.out(f"{layer}: Download complete", after=megabytes / log.between(60, 140))
    for layer, megabytes in layers:
        log.out(f"{layer}: Pull complete", after=0.2 + megabytes / log.between(200, 400))
    log.out(f"Digest: sha256:{log.hex(64)}", after=0.05)
    log.out(f"Status: Downloaded newer image for {base.reference}", after=0.02)
    return len(layers)


def _run(log: _Log, state: _Stage, args: str) -> str | None:
    """A `RUN`: each command's output; the shell's status decides, so `|| true` recovers."""
    container = log.hex()
    log.out(f" ---> Running in {container}", after=log.between(0.3, 0.9))
    script = run_script(args)
    megabytes = 0.01
    reason: str | None = None
    status, previous = 0, None
    for words, operator in commands(script):
        if runs(previous, status):
            status, reason, size = _command(log, state, words)
            megabytes += size
        previous = operator
    if status:
        command = f"The command '/bin/sh -c {script}' returned a non-zero code: {status}"
        log.err(command, after=log.between(0.1, 0.4))
        return reason or command
    state.layers.append(megabytes)
    log.out(f"Removing intermediate container {container}", after=log.between(0.2, 1.0))
    log.out(f" ---> {log.hex()}", after=0.05 + megabytes / 400)
    return None


def _command(log: _Log, state: _Stage, words: Sequence[str]) -> tuple[int, str | None, float]:
    """One simple command: its exit status, why it failed, and the megabytes it added."""
    requirements = pip_requirements(words)
    if requirements is not None:
        missing, size = _pip(log, state, requirements)
        if missing:
            return 1, f"No matching distribution found for {missing}", 0.0
        return 0, None, size
    if words[0] in ("apt-get", "apt") and len(words) > 1:
        return 0, None, _apt(log, words)
    status = exit_code(words)
    if status:
        return status, None, 0.0
    _other(log, words)
    return 0, None, 0.0


@functools.lru_cache(maxsize=4096)
def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=4096)
def _package(name: str) -> Package:
    """What pip finds for a name: a known package, or one made up from the name alone, so
    it is the same in every build."""
    known = PACKAGES.get(_normal(name))
    if known:
        return known
    rng = random.Random(_normal(name))
    version = f"{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
    megabytes = rng.uniform(0.02, 3.0)
    return Package(version, megabytes, False, tuple(rng.sample(POOL, rng.randint(0, 2))))


def _versions(version: str) -> str:
    """What pip lists as available before saying none matches."""
    parts = [int(part) if part.isdigit() else 0 for part in version.split(".")[:2]]
    major, minor = ([*parts, 0, 0])[:2]
    found = [
        f"{major}.{number}.{patch}"
        for number in range(max(0, minor - 4), minor + 1)
        for patch in range(3 if number < minor else 1)
    ]
    return ", ".join(found)


def _wheel(name: str, version: str, package: Package) -> str:
    stem = re.sub(r"[-.]+", "_", _normal(name))
    if package.binary:
        return f"{stem}-{version}-cp312-cp312-manylinux_2_28_x86_64.whl"
    return f"{stem}-{version}-py3-none-any.whl"


def _pip(log: _Log, state: _Stage, requirements: Sequence[str]) -> tuple[str | None, float]:
    """Collecting, downloading and installing, as pip prints it: (the requirement no
    version satisfies, or None; megabytes installed)."""
    queued: dict[str, tuple[str, str, float]] = {}  # normal name -> (name, version, MB)
    for requirement in requirements:
        match = REQUIREMENT.match(requirement.split("@")[0].strip())
        name = match.group(1) if match else requirement.rsplit("/", 1)[-1].split(".")[0]
        if missing_version(requirement):
            package = _package(name)
            log.err(
                f"ERROR: Could not find a version that satisfies the requirement {requirement}"
                f" (from versions: {_versions(package.version)})",
                after=log.between(0.8, 2.5),
            )
            log.err(f"ERROR: No matching distribution found for {requirement}", after=0.01)
            return requirement, 0.0
        pinned = re.search(r"==\s*([^,;\s]+)", requirement)
        if _normal(name) in queued:  # pip takes a requirement given twice once
            continue
        if _normal(name) in state.installed and not pinned:
            log.out(
                f"Requirement already satisfied: {requirement} in {SITE_PACKAGES}"
                f" ({state.installed[_normal(name)]})",
                after=0.05,
            )
            continue
        _collect(log, state, queued, name, requirement, pinned.group(1) if pinned else None)
    total = 0.0
    for name, version, megabytes in queued.values():
        package = _package(name)
        log.out(f"Downloading {_wheel(name, version, package)} ({pip_size(megabytes)})", 0.05)
        seconds = megabytes / log.between(40, 140)
        if megabytes >= 1:
            speed = megabytes / max(seconds, 0.05)
            log.out(
                f"   {BAR} {megabytes:.1f}/{megabytes:.1f} MB {speed:.1f} MB/s eta 0:00:00",
                after=seconds,
            )
        else:
            log.wait(seconds)
        total += megabytes
    if not queued:
        return None, 0.0
    names = [name for name, _, _ in queued.values()][::-1]
    log.out(f"Installing collected packages: {', '.join(names)}", after=0.2)
    installed = sorted(f"{name}-{version}" for name, version, _ in queued.values())
    log.out(f"Successfully installed {' '.join(installed)}", after=0.5 + total / 150)
    log.err(ROOT_WARNING, after=0.05)
    for key, (_, version, _) in queued.items():
        state.installed[key] = version
    return None, total


def _collect(
    log: _Log,
    state: _Stage,
    queued: dict[str, tuple[str, str, float]],
    name: str,
    requirement: str,
    pinned: str | None,
) -> None:
    package = _package(name)
    version = pinned or package.version
    megabytes = package.megabytes
    log.out(f"Collecting {requirement}", after=log.between(0.2, 0.8))
    metadata = f"{_wheel(name, version, package)}.metadata ({log.rng.randint(2, 60)} kB)"
    log.out(f"  Downloading {metadata}", after=log.between(0.05, 0.3))
    queued[_normal(name)] = (name, version, megabytes)
    for dep in package.deps:
        key = _normal(dep)
        if key in queued:
            continue
        parent = f"{name}=={version}"
        if key in state.installed:
            log.out(
                f"Requirement already satisfied: {dep} in {SITE_PACKAGES}"
                f" (from {parent}) ({state.installed[key]})",
                after=0.02,
            )
            continue
        dep_package = _package(dep)
        size = dep_package.megabytes
        log.out(f"Collecting {dep} (from {parent})", after=log.between(0.1, 0.4))
        wheel = _wheel(dep, dep_package.version, dep_package)
        log.out(f"  Downloading {wheel}.metadata ({log.rng.randint(2, 60)} kB)", 0.1)
        queued[key] = (dep, dep_package.version, size)


def _apt(log: _Log, words: Sequence[str]) -> float:
    """`apt-get update` and `apt-get install` as they print in a build: megabytes added."""
    action = next((word for word in words[1:] if not word.startswith("-")), "")
    if action == "update":
        suites = ("jammy", "jammy-updates", "jammy-backports", "jammy-security")
        for number, suite in enumerate(suites, start=1):
            kilobytes = log.rng.randint(100, 280)
            log.out(f"Get:{number} {APT_MIRROR} {suite} InRelease [{kilobytes} kB]", 0.3)
        log.out(f"Fetched {log.rng.uniform(18, 40):.1f} MB in {log.rng.randint(2, 6)}s", 1.5)
        log.out("Reading package lists...", after=0.8)
        return 40.0
    if action != "install":
        return 0.0
    packages = [word for word in words[2:] if not word.startswith("-") and word != "install"]
    if not packages:
        return 0.0
    log.out("Reading package lists...", after=0.6)
    log.out("Building dependency tree...", after=0.3)
    log.out("Reading state information...", after=0.1)
    log.out("The following NEW packages will be installed:", after=0.1)
    log.out("  " + " ".join(packages), after=0.01)
    log.out(f"0 upgraded, {len(packages)} newly installed, 0 to remove and 0 not upgraded.", 0.01)
    sizes = {package: log.rng.randint(20, 4000) for package in packages}
    versions = {p: f"{log.rng.randint(1, 9)}.{log.rng.randint(0, 20)}-1" for p in packages}
    log.out(f"Need to get {sum(sizes.values()):,} kB of archives.", after=0.01)
    for number, package in enumerate(packages, start=1):
        log.out(
            f"Get:{number} {APT_MIRROR} jammy/main amd64 {package} amd64 {versions[package]}"
            f" [{sizes[package]:,} kB]",
            after=0.1 + sizes[package] / 20000,
        )
    log.err("debconf: delaying package configuration, since apt-utils is not installed", 0.05)
    for package in packages:
        log.out(f"Selecting previously unselected package {package}.", after=0.05)
        log.out(f"Unpacking {package} ({versions[package]}) ...", after=0.1)
    for package in packages:
        log.out(f"Setting up {package} ({versions[package]}) ...", after=0.15)
    return sum(sizes.values()) * 3 / 1000


def _other(log: _Log, words: Sequence[str]) -> None:
    """What a few common commands print; anything else runs silently for a moment."""
    program = words[0].rsplit("/", 1)[-1]
    if program == "echo":
        log.out(" ".join(word for word in words[1:] if not word.startswith("-")), after=0.05)
    elif program == "git" and words[1:2] == ["clone"]:
        targets = [word for word in words[2:] if not word.startswith("-")]
        if targets:
            folder = targets[1] if len(targets) > 1 else targets[0].rstrip("/").rsplit("/", 1)[-1]
            folder = folder.removesuffix(".git")
            log.err(f"Cloning into '{folder}'...", after=log.between(1.0, 4.0))
    elif program in ("wget", "curl"):
        url = next((word for word in words[1:] if "://" in word), None)
        if url:
            name = url.rstrip("/").rsplit("/", 1)[-1] or "index.html"
            log.err(f"Saving to: '{name}'", after=log.between(0.5, 2.0))
            log.err(f"'{name}' saved", after=log.between(0.5, 5.0))
    else:
        log.wait(log.between(0.1, 1.5))


def _push(log: _Log, state: _Stage, request: BuildRequest) -> None:
    owner, name, tag = request.owner, request.name, request.tag
    log.out(f"Successfully built {log.hex()}", after=0.1)
    log.out(f"Successfully tagged {owner}/{name}:{tag}", after=0.02)
    log.out("pushing image to registry...", after=0.2)
    log.out(f"The push refers to repository [{REGISTRY}/{owner}/{name}]", after=0.3)
    own = [(log.hex(), megabytes) for megabytes in reversed(state.layers)]
    base = [log.hex() for _ in range(state.base_layers)]
    for layer in [layer for layer, _ in own] + base:
        log.out(f"{layer}: Preparing", after=0.01)
    for layer, megabytes in own:
        log.out(f"{layer}: Pushed", after=0.2 + megabytes / log.between(80, 200))
    for layer in base:
        log.out(f"{layer}: Layer already exists", after=0.05)
    size = 400 + 160 * (len(own) + len(base))
    log.out(f"{tag}: digest: sha256:{log.hex(64)} size: {size}", after=0.3)
    log.out(f"completed forging image {request.image_id} in {log.now + 0.2:.2f} seconds", 0.2)
