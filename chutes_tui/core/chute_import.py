"""Importing a `module:chute` reference: in a child process, with a timeout, output captured.

A chute module is arbitrary code: it may raise, hang, call sys.exit or print noise. Running
it in a child keeps all of that away from the dashboard and the headless process. The child
leads a process group of its own, and the whole group is killed when the import is cancelled
or times out, so nothing the module started outlives the import.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import re
import signal
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chutes_tui.client.errors import ChutesError, ExitCode

# The SDK's rule (a module, a colon, an attribute of at least two characters), lowercase
# only: the SDK accepts capitals, but the platform then refuses the reference.
REF_RE = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]+$")
DEFAULT_TIMEOUT = 60.0
OUTPUT_TAIL = 2000


class ImportFailed(ChutesError):
    """The chute could not be imported; `detail` holds the traceback or output tail."""

    exit_code = ExitCode.IMPORT_FAILED

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class BadRef(ChutesError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class ContextFile:
    path: str
    size: int


@dataclass(frozen=True)
class ImageBuild:
    """What `chutes build` sends for a chute's image: the form fields and the context zip."""

    username: str
    name: str
    tag: str
    readme: str
    dockerfile: str
    pickled: str  # base64 of the pickled SDK Image, as the SDK sends it
    image_id: str
    context: bytes = field(repr=False)  # chute.zip

    @property
    def ref(self) -> str:
        return f"{self.username}/{self.name}:{self.tag}"

    @functools.cached_property
    def files(self) -> list[ContextFile]:
        """The files in the context zip, in its order (directories left out)."""
        with zipfile.ZipFile(io.BytesIO(self.context)) as archive:
            return [
                ContextFile(entry.filename, entry.file_size)
                for entry in archive.infolist()
                if not entry.is_dir()
            ]

    @property
    def total_size(self) -> int:
        """Bytes of the files, uncompressed."""
        return sum(entry.size for entry in self.files)


@dataclass(frozen=True)
class ImportedChute:
    ref: str
    body: dict[str, Any]
    module_file: str
    output: str  # what the module printed while importing
    standard_image: bool = False  # the image is a name on the platform: nothing to build
    build: ImageBuild | None = None  # when asked for, and the image is one to build


def check_ref(ref: str) -> None:
    if not REF_RE.match(ref):
        raise BadRef(
            f"invalid chute reference {ref!r}: use lowercase module:chute, e.g. my_chute:chute"
            " (module file my_chute.py in the working directory)"
        )


async def _end(process: asyncio.subprocess.Process) -> None:
    """Kill the child's process group (the child and all it started) and reap the child."""
    with contextlib.suppress(ProcessLookupError):  # the group has ended already
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


async def import_chute(
    ref: str,
    directory: str | Path = ".",
    timeout: float = DEFAULT_TIMEOUT,
    *,
    build: bool = False,
    include_cwd: bool = False,
) -> ImportedChute:
    """The deploy body for `ref`, built by the official SDK in a child process.

    With `build`, also the image build `chutes build` would send (None for a standard
    image); `include_cwd` puts the whole directory into its context, as the SDK's flag does.
    """
    check_ref(ref)
    directory = Path(directory).resolve()
    with tempfile.TemporaryDirectory(prefix="chutes-tui-import-") as scratch:
        result_path = Path(scratch) / "result.json"
        context_path = Path(scratch) / "chute.zip"
        extra = ["--context", str(context_path)] if build else []
        if build and include_cwd:
            extra.append("--include-cwd")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chutes_tui.core.import_child",
            str(directory),
            ref,
            str(result_path),
            *extra,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, so the group can be killed
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except asyncio.CancelledError:
            await _end(process)
            raise
        except TimeoutError:
            await _end(process)
            raise ImportFailed(
                f"importing {ref} did not finish in {timeout:g} s (does the module block or"
                " wait for input at import time?)"
            ) from None
        text = output.decode(errors="replace")
        try:
            result = json.loads(result_path.read_text())
            fields = result.get("build") if result.get("ok") else None
            image = None if fields is None else _image_build(fields, context_path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            raise ImportFailed(
                f"importing {ref} stopped without a result (exit code {process.returncode})",
                text[-OUTPUT_TAIL:],
            ) from None
    if not result.get("ok"):
        message = result.get("error", "import failed")
        if "not installed" in message:
            message += ": install it with `pip install chutes` (or `pip install 'chutes-tui[sdk]'`)"
        raise ImportFailed(message, (result.get("detail") or text)[-OUTPUT_TAIL:])
    return ImportedChute(
        ref,
        result["body"],
        result["module_file"],
        text,
        standard_image=bool(result.get("standard_image")),
        build=image,
    )


def _image_build(fields: dict[str, Any], context: bytes) -> ImageBuild:
    return ImageBuild(
        username=fields["username"],
        name=fields["name"],
        tag=fields["tag"],
        readme=fields["readme"],
        dockerfile=fields["dockerfile"],
        pickled=fields["image"],
        image_id=fields["image_id"],
        context=context,
    )
