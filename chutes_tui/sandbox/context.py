"""What a route handler needs: the store, the settings, the simulator, and body parsing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.invocations import Traffic
from chutes_tui.sandbox.lifecycle import Simulator
from chutes_tui.sandbox.render import Renderer
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import Store

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

M = TypeVar("M", bound=BaseModel)
# List paging bounds: generous, but within SQLite's 64-bit LIMIT and OFFSET.
MAX_PAGE = 1_000_000
MAX_LIMIT = 100_000


@dataclass
class Sandbox:
    store: Store
    settings: SandboxSettings
    sim: Simulator
    traffic: Traffic = field(default_factory=Traffic)  # calls per chute, for utilisation

    def renderer(self) -> Renderer:
        return Renderer(self.store, self.settings)


def sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _clean(errors: Sequence[ErrorDetails]) -> list[dict[str, Any]]:
    """Validation errors as FastAPI sends them: `loc` starts at `body`, ctx is text."""
    cleaned = []
    for error in errors:
        item: dict[str, Any] = dict(error)
        item["loc"] = ["body", *error.get("loc", ())]
        if "ctx" in error:
            item["ctx"] = {key: str(value) for key, value in error["ctx"].items()}
        item.pop("url", None)
        cleaned.append(item)
    return cleaned


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


async def parse_body(request: Request, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate a JSON body into `model`, answering 422 the way FastAPI does."""
    raw = await request.body()
    too_big = limits.body_problem(raw)
    if too_big:
        raise HTTPException(422, too_big)
    try:
        data = json.loads(raw, parse_constant=_no_constants)
        json.dumps(data, ensure_ascii=False).encode()  # lone surrogates cannot be stored
    except (ValueError, UnicodeError, RecursionError) as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", getattr(error, "pos", 0)],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(error)},
                }
            ]
        ) from None
    problem = limits.json_problem(data)
    if problem:
        raise HTTPException(422, problem)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise RequestValidationError(_clean(error.errors(include_url=False))) from None
