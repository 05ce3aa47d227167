"""Run in a child process: import `module:chute` with the chutes SDK, write the deploy body.

    python -m chutes_tui.core.import_child DIRECTORY MODULE:CHUTE RESULT_JSON

The body is built field for field as `chutes deploy` (SDK 0.6.9) builds it. Anything the
module prints goes to this process's stdout/stderr, which the parent captures; the result
travels only through RESULT_JSON, so noise cannot corrupt it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chutes.chute import Chute

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


def main(argv: list[str]) -> int:
    directory, ref, result_path = argv
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
        text = json.dumps(
            {"ok": True, "body": body, "module_file": module.__file__}, default=_schema
        )
    except Exception as error:
        return _fail(result_path, f"cannot build the deploy request: {error!r}")
    with open(result_path, "w") as out:
        out.write(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
