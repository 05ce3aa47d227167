"""What a scoped API key may do, checked on every request made with it.

A request is read as (object type, object id, action): the type is the first path segment
(`chutes`, `images`, `invocations`; an instance's logs count as its chute's), the object is
the chute or image the path names (by id or by name, resolved as the route would), the
action is the method (`GET` read, `POST`/`PUT`/`PATCH` write, `DELETE` delete) or `invoke`
for a call to a chute. A scope allows the request when its type matches, its object is
unset or the same, and its action is unset or the same. Anything else a scoped key asks
for (its user, keys, secrets, shares, logos) is refused: only admin keys reach those.

The platform takes the object type from the *last* path segment, so there scoped keys in
practice only invoke; the sandbox checks what the scopes say, as a client would expect.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from chutes_tui.sandbox.lookup import find_chute, find_image
from chutes_tui.sandbox.storage import ApiKeyRow, Store, UserRow, naive_iso

ACTIONS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "delete",
}
# Second path segments that name a sub-route rather than an object.
CHUTE_ROUTES = {"warmup", "code"}  # followed by the chute
CHUTE_ACTIONS = {"share", "unshare", "utilization"}  # no one chute in the path
USE_GRANULARITY = timedelta(minutes=1)  # `last_used_at` is written at most this often


def target(store: Store, request: Request, user: UserRow) -> tuple[str, str | None, str]:
    """(object type, object id or None for a list or a route about no one object, action)."""
    from chutes_tui.sandbox.routes import invoke

    path = request.url.path
    if path.startswith(invoke.PREFIX):
        slug = request.scope.get(invoke.SLUG)
        row = store.one("SELECT chute_id FROM chutes WHERE slug = ?", slug) if slug else None
        return "chutes", row["chute_id"] if row else None, "invoke"
    action = ACTIONS.get(request.method, "read")
    segments = [part for part in path.split("/") if part]
    if not segments:
        return "", None, action
    kind, rest = segments[0], segments[1:]
    if kind == "instances" and rest:
        row = store.one("SELECT chute_id FROM instances WHERE instance_id = ?", rest[0])
        return "chutes", row["chute_id"] if row else rest[0], "read"
    if kind == "chutes" and rest:
        if rest[0] in CHUTE_ACTIONS:
            return kind, None, action
        ref = "/".join(rest[1:] if rest[0] in CHUTE_ROUTES else rest)
        chute = find_chute(store, ref, user)
        return kind, chute["chute_id"] if chute else ref, action
    if kind == "images" and rest:
        ref = rest[0] if rest[-1] == "logs" and len(rest) == 2 else "/".join(rest)
        image = find_image(store, ref, user)
        return kind, image["image_id"] if image else ref, action
    return kind, rest[0] if rest else None, action


def allows(
    scopes: list[dict[str, Any]], object_type: str, object_id: str | None, action: str
) -> bool:
    return any(
        scope["object_type"] == object_type
        and scope["object_id"] in (None, object_id)
        and scope["action"] in (None, action)
        for scope in scopes
    )


def scopes_of(store: Store, api_key_id: str) -> list[dict[str, Any]]:
    return store.all(
        "SELECT scope_id, object_type, object_id, action FROM api_key_scopes"
        " WHERE api_key_id = ? ORDER BY rowid",
        api_key_id,
    )


def permitted(store: Store, request: Request, key: ApiKeyRow, user: UserRow) -> bool:
    """Whether the key may make this request: an admin key may make any."""
    if key["admin"]:
        return True
    object_type, object_id, action = target(store, request, user)
    return allows(scopes_of(store, key["api_key_id"]), object_type, object_id, action)


def note_use(store: Store, key: ApiKeyRow) -> None:
    """Record when a key was last used (the platform keeps the column but never fills it)."""
    last = key.get("last_used_at")
    now = datetime.now(UTC).replace(tzinfo=None)
    if last:
        try:
            if now - datetime.fromisoformat(last.rstrip("Z")) < USE_GRANULARITY:
                return
        except ValueError:
            pass
    with store.tx() as db:
        db.execute(
            "UPDATE api_keys SET last_used_at = ? WHERE api_key_id = ?",
            (naive_iso(), key["api_key_id"]),
        )
