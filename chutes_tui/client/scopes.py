"""API key scopes as people write them, `OBJECT:ACTION[:ID]`, and as the API sends them.

A scope names an object type, optionally one action (none: every action) and optionally
one object (none: every object of that type). Plain data, no pydantic: headless commands
that only print JSON import nothing heavier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OBJECT_TYPES = ("chutes", "images", "invocations")
ACTIONS = ("read", "write", "delete", "invoke")
ANY_ACTION = "any"
# Secrets become environment variables of a chute's instances: their keys are names.
SECRET_KEY_HINT = "letters, digits and _, not starting with a digit (e.g. HF_TOKEN)"
COMMON_SECRET_KEYS = (
    "HF_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "WANDB_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "DATABASE_URL",
)


@dataclass(frozen=True)
class Scope:
    object_type: str
    action: str | None = None  # None: every action
    object_id: str | None = None  # None: every object of the type

    def wire(self) -> dict[str, Any]:
        """The scope as `POST /api_keys/` takes it (`chutes keys create` sends this shape)."""
        body: dict[str, Any] = {"object_type": self.object_type, "action": self.action}
        if self.object_id is not None:
            body["object_id"] = self.object_id
        return body

    def text(self) -> str:
        words = [self.object_type, self.action or ANY_ACTION]
        return ":".join([*words, self.object_id] if self.object_id else words)


def parse_scope(text: str) -> Scope:
    """`chutes:read`, `chutes:delete:<id or name>`, `images:any`; ValueError says what is wrong."""
    parts = text.strip().split(":", 2)
    if len(parts) < 2:
        raise ValueError(f"a scope is OBJECT:ACTION[:ID], e.g. chutes:read: {text!r}")
    object_type, action = parts[0].strip().lower(), parts[1].strip().lower()
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"a scope's object is one of {', '.join(OBJECT_TYPES)}: {text!r}")
    if action not in (*ACTIONS, ANY_ACTION):
        raise ValueError(f"a scope's action is one of {', '.join(ACTIONS)} or any: {text!r}")
    object_id = parts[2].strip() if len(parts) == 3 else None
    if len(parts) == 3 and not object_id:
        raise ValueError(f"a scope's ID is empty: {text!r}")
    return Scope(object_type, None if action == ANY_ACTION else action, object_id)


def scope_of(item: dict[str, Any]) -> Scope:
    """A scope from an API reply; the platform's reply names the action `method`."""
    action = item.get("action") or item.get("method")
    return Scope(
        str(item.get("object_type") or "?"),
        str(action) if action else None,
        str(item["object_id"]) if item.get("object_id") else None,
    )


def scopes_text(key: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """What an API key may do, in one line: `admin`, or its scopes with names for ids."""
    if key.get("admin"):
        return "admin (everything)"
    scopes = [scope_of(item) for item in key.get("scopes") or [] if isinstance(item, dict)]
    if not scopes:
        return "nothing (no scopes)"
    shown = []
    for scope in dict.fromkeys(scopes):  # the SDK may send a scope twice
        named = (names or {}).get(scope.object_id or "")
        shown.append(Scope(scope.object_type, scope.action, named or scope.object_id).text())
    return ", ".join(shown)


def is_env_name(key: str) -> bool:
    return (
        bool(key)
        and key.isascii()
        and (key[0].isalpha() or key[0] == "_")
        and all(char.isalnum() or char == "_" for char in key)
    )
