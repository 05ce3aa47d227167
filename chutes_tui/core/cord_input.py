"""A cord's request body from its input schema: a form when the schema is simple (an object
of plain fields), a JSON text to edit otherwise, and the checks both get before sending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PLAIN_TYPES = ("string", "integer", "number", "boolean")
MAX_FIELDS = 10
CHAT_SKELETON = {"messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 64}


@dataclass(frozen=True)
class FormField:
    """One plain field of a simple schema."""

    name: str
    kind: str  # string, integer, number or boolean
    required: bool
    description: str = ""
    default: Any = None


def simple_fields(schema: dict[str, Any] | None) -> list[FormField] | None:
    """The fields of a simple schema (an object of at most 10 plain, unreferenced fields),
    or None when the body needs the JSON editor."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties or len(properties) > MAX_FIELDS:
        return None
    required = set(schema.get("required") or ())
    fields = []
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in PLAIN_TYPES or "$ref" in spec:
            return None
        fields.append(
            FormField(
                name,
                kind,
                name in required,
                str(spec.get("description") or ""),
                spec.get("default"),
            )
        )
    return fields


def _example(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return None
    if "default" in spec:
        return spec["default"]
    if spec.get("examples"):
        return spec["examples"][0]
    kind = spec.get("type")
    if kind == "object":
        return {name: _example(item) for name, item in (spec.get("properties") or {}).items()}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def skeleton(path: str, schema: dict[str, Any] | None, example: Any = None) -> str:
    """A body to start editing from: the schema's fields with defaults (an OpenAI chat body
    for a chat path), else the cord's own example, else `{}`."""
    if path.endswith("/chat/completions"):
        body: Any = CHAT_SKELETON
    elif isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        body = _example({**schema, "type": "object"})
    elif isinstance(example, dict):
        body = example
    else:
        body = {}
    return json.dumps(body, indent=2)


def check_json(text: str, schema: dict[str, Any] | None) -> tuple[Any, str | None]:
    """The body in `text` and None, or None and what is wrong with it (line and column)."""
    if not text.strip():
        return None, "the body is empty: write a JSON object (or {})"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"line {error.lineno}, column {error.colno}: {error.msg}"
    problem = _schema_problem(value, schema)
    return (None, problem) if problem else (value, None)


def _schema_problem(value: Any, schema: dict[str, Any] | None) -> str | None:
    if not isinstance(schema, dict) or not schema:
        return None
    if schema.get("type", "object") == "object" and schema.get("properties") is not None:
        if not isinstance(value, dict):
            return "the body must be a JSON object"
        missing = [name for name in schema.get("required") or () if name not in value]
        if missing:
            return f"missing: {', '.join(missing)}"
    return None


def form_body(
    fields: list[FormField], values: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """A body from a form's values (text, or bool for booleans); blank optional fields are
    left out. None and the first problem when a value does not fit its field."""
    body: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if field.kind == "boolean":
            body[field.name] = bool(value)
            continue
        text = "" if value is None else str(value)
        if not text.strip():
            if field.required:
                return None, f"{field.name} is required"
            continue
        if field.kind == "string":
            body[field.name] = text
            continue
        try:
            body[field.name] = int(text) if field.kind == "integer" else float(text)
        except ValueError:
            whole = field.kind == "integer"
            return None, f"{field.name} must be {'a whole number' if whole else 'a number'}"
    return body, None
