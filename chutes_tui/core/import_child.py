"""Run in a child process: import `module:chute` with the chutes SDK, write the deploy body.

    python -m chutes_tui.core.import_child DIRECTORY MODULE:CHUTE RESULT_JSON
        [--context ZIP [--include-cwd]]

The body is built field for field as `chutes deploy` (SDK 0.6.9) builds it. With
`--context`, the image is also prepared as `chutes build` prepares it: its Dockerfile text,
its pickle, and the build context packed into ZIP the SDK's way (the files each directive
names, copied into a scratch directory and zipped with `shutil.make_archive`);
`--include-cwd` adds `ADD . /app` first, as the SDK's flag does. A standard image (a string)
has nothing to build. Anything the module prints goes to this process's stdout/stderr,
which the parent captures; the result travels only through RESULT_JSON, so noise cannot
corrupt it.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chutes.chute import Chute
    from chutes.image import Image

EXIT_OK, EXIT_FAILED = 0, 3


def _fail(result_path: str, message: str, detail: str = "") -> int:
    with open(result_path, "w") as out:
        json.dump({"ok": False, "error": message, "detail": detail}, out)
    return EXIT_FAILED


def _schema(value: object) -> dict[str, Any]:
    """As the SDK does: a pydantic model class in a cord schema becomes its JSON schema."""
    import inspect

    from pydantic import BaseModel

    if inspect.isclass(value) and issubclass(value, BaseModel):
        return value.model_json_schema()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def build_body(ref: str, module: ModuleType, chute: Chute) -> dict[str, Any]:
    """The request body of `POST /chutes/`, exactly as SDK 0.6.9 sends it (public: False)."""
    if module.__file__ is None:
        raise ValueError(f"{module.__name__} has no source file")
    with open(module.__file__) as source:
        code = source.read()
    return {
        "name": chute.name,
        "tagline": chute.tagline,
        "readme": chute.readme,
        "logo_id": None,
        "image": chute.image if isinstance(chute.image, str) else chute.image.uid,
        "public": False,
        "standard_template": chute.standard_template,
        "node_selector": chute.node_selector.dict(),
        "filename": os.path.basename(module.__file__),
        "ref_str": ref,
        "code": code,
        "concurrency": chute.concurrency,
        "max_instances": chute.max_instances,
        "scaling_threshold": chute.scaling_threshold,
        "shutdown_after_seconds": chute.shutdown_after_seconds,
        "allow_external_egress": chute.allow_external_egress,
        "encrypted_fs": chute.encrypted_fs,
        "tee": chute.tee,
        "lock_modules": chute.lock_modules,
        "revision": chute.revision,
        "cords": [
            {
                "method": cord._method,
                "path": cord.path,
                "public_api_path": cord.public_api_path,
                "public_api_method": cord._public_api_method,
                "stream": cord._stream,
                "function": cord._func.__name__,
                "input_schema": cord.input_schema,
                "output_schema": cord.output_schema,
                "output_content_type": cord.output_content_type,
                "minimal_input_schema": cord.minimal_input_schema,
                "passthrough": cord._passthrough,
            }
            for cord in chute._cords
        ],
        "jobs": [
            {
                "ports": [
                    {"name": port.name, "port": port.port, "proto": port.proto}
                    for port in job.ports
                ],
                "timeout": job.timeout,
                "name": job._name,
                "upload": job.upload,
            }
            for job in chute._jobs
        ],
    }


class ContextOutside(ValueError):
    """A build-context file lies outside the chute's directory."""


def _copy_into(source: str, scratch: str, cwd: str) -> None:
    relative = os.path.relpath(source, start=cwd)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        raise ContextOutside(f"the build context names {source}, outside {cwd}")
    target = os.path.join(scratch, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(source, target)


def pack_context(image: Image, zip_path: str) -> None:
    """The build context as `chutes build` (SDK 0.6.9) zips it, written to `zip_path`.

    Every path a directive names (a directory: every file under it) is copied into a
    scratch directory at its place relative to here, and that directory is zipped.
    """
    cwd = os.getcwd()
    paths = [path for directive in image._directives for path in directive._build_context]
    with tempfile.TemporaryDirectory(prefix="chutes-tui-context-") as scratch:
        tree = os.path.join(scratch, "context")
        os.mkdir(tree)
        for path in paths:
            absolute = os.path.abspath(path)
            if os.path.isdir(absolute):
                for root, _, files in os.walk(absolute):
                    for name in files:
                        _copy_into(os.path.join(root, name), tree, cwd)
            elif os.path.isfile(absolute):
                _copy_into(absolute, tree, cwd)
        made = shutil.make_archive(os.path.join(scratch, "chute"), "zip", tree)
        shutil.move(made, zip_path)


def build_request(image: Image, zip_path: str, include_cwd: bool) -> dict[str, Any]:
    """What `chutes build` sends for `image`, but the context (packed into `zip_path`)."""
    import base64
    import pickle

    if include_cwd:
        from chutes.image.directive.add import ADD

        image._directives.append(ADD(source=".", dest="/app"))
    pack_context(image, zip_path)
    return {
        "username": image.username,
        "name": image.name,
        "tag": image.tag,
        "readme": image.readme or "",
        "dockerfile": str(image),
        "image": base64.b64encode(pickle.dumps(image)).decode(),
        "image_id": image.uid,
    }


def _options(argv: list[str]) -> tuple[list[str], str | None, bool]:
    """The positional arguments, the context zip path (or None) and --include-cwd."""
    positional, context, include_cwd = [], None, False
    words = iter(argv)
    for word in words:
        if word == "--context":
            context = next(words)
        elif word == "--include-cwd":
            include_cwd = True
        else:
            positional.append(word)
    return positional, context, include_cwd


def main(argv: list[str]) -> int:
    (directory, ref, result_path), context, include_cwd = _options(argv)
    module_name, _, attribute = ref.partition(":")
    os.environ.setdefault("CHUTES_ALLOW_MISSING", "true")
    try:
        from chutes.chute import Chute, ChutePack
    except ImportError as error:
        return _fail(result_path, "the chutes SDK is not installed", str(error))
    sys.path.insert(0, directory)
    os.chdir(directory)
    if not os.path.isfile(os.path.join(directory, f"{module_name}.py")):
        return _fail(result_path, f"no file {module_name}.py in {directory}")
    try:
        module = importlib.import_module(module_name)
    except SystemExit as stop:
        return _fail(result_path, f"{module_name}.py called sys.exit({stop.code})")
    except BaseException as error:  # the module's own failure, reported, never raised
        tail = "".join(traceback.format_exception(error)[-6:])
        return _fail(result_path, f"importing {module_name}.py failed: {error!r}", tail)
    if not hasattr(module, attribute):
        found = [
            name
            for name, value in vars(module).items()
            if isinstance(value, Chute | ChutePack) and not name.startswith("_")
        ]
        offer = f"; chutes in it: {', '.join(sorted(found))}" if found else "; it defines no chute"
        return _fail(result_path, f"{module_name}.py has no `{attribute}`{offer}")
    chute = getattr(module, attribute)
    if isinstance(chute, ChutePack):
        chute = chute.chute
    if not isinstance(chute, Chute):
        kind = type(chute).__name__
        return _fail(
            result_path, f"`{attribute}` in {module_name}.py is a {kind}, not a Chute or ChutePack"
        )
    try:
        body = build_body(ref, module, chute)
    except Exception as error:
        return _fail(result_path, f"cannot build the deploy request: {error!r}")
    result: dict[str, Any] = {
        "ok": True,
        "body": body,
        "module_file": module.__file__,
        "standard_image": isinstance(chute.image, str),
    }
    if context is not None and not isinstance(chute.image, str):
        try:
            result["build"] = build_request(chute.image, context, include_cwd)
        except Exception as error:  # unreadable files, a context outside the directory
            tail = "".join(traceback.format_exception(error)[-4:])
            return _fail(result_path, f"cannot pack the build context: {error}", tail)
    try:
        text = json.dumps(result, default=_schema)
    except Exception as error:
        return _fail(result_path, f"cannot build the deploy request: {error!r}")
    with open(result_path, "w") as out:
        out.write(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
