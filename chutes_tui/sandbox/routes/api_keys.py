"""API keys: list, get, create (the secret once, in the reply), delete.

Only a one-way hash of a key is stored; its secret exists in the reply that creates it and
nowhere else. Keys are admin (anything) or scoped (`key_scopes` enforces them).
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from chutes_tui.client.models import ApiKeyRequest
from chutes_tui.sandbox import keys
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, parse_body, sandbox
from chutes_tui.sandbox.key_scopes import scopes_of
from chutes_tui.sandbox.storage import ApiKeyRow, Store, UserRow, naive_iso, present

router = APIRouter()
NAME_RE = re.compile(r"[\$\w\u0080-\uFFFF\._\s-]{1,24}$")
BAD_NAME = (
    "API key name should start with alphanumeric character and contain up to 32 total allowed"
    " characters (letters, numbers, dashes, underscores, or spaces)"
)
OBJECT_TYPES = ("images", "chutes", "invocations")
BAD_TYPE = "Invalid object_type, must be one of images, chutes, invocations"
MAX_SCOPES = 100  # the sandbox's bounds; the platform has none
MAX_ID = 200
DUPLICATE = "An API key already exists with this name"


def render(store: Store, row: ApiKeyRow) -> dict[str, Any]:
    """A key as the API shows it (never its hash); scope actions under both names."""
    scopes = [{**scope, "method": scope["action"]} for scope in scopes_of(store, row["api_key_id"])]
    return {
        "api_key_id": row["api_key_id"],
        "user_id": row["user_id"],
        "admin": bool(row["admin"]),
        "name": row["name"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
        "scopes": scopes,
    }


def _own_key(store: Store, api_key_id: str, user: UserRow) -> ApiKeyRow | None:
    return store.one_as(
        ApiKeyRow,
        "SELECT * FROM api_keys WHERE api_key_id = ? AND user_id = ?",
        api_key_id,
        user["user_id"],
    )


@router.get("/api_keys/")
async def list_keys(
    request: Request,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    limit: int = Query(25, ge=0, le=MAX_LIMIT),
    user: UserRow = Depends(caller("api_keys")),
) -> dict[str, Any]:
    store = sandbox(request).store
    total = store.count("SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?", user["user_id"])
    rows = store.all_as(
        ApiKeyRow,
        "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
        user["user_id"],
        limit,
        page * limit,
    )
    items = [render(store, row) for row in rows]
    return {"total": total, "page": page, "limit": limit, "items": items}


@router.get("/api_keys/{api_key_id}")
async def get_key(
    request: Request, api_key_id: str, user: UserRow = Depends(caller("api_keys"))
) -> dict[str, Any]:
    store = sandbox(request).store
    row = _own_key(store, api_key_id, user)
    if row is None:
        raise HTTPException(404, f"API key with id {api_key_id} not found or doesn't belong to you")
    return render(store, row)


@router.delete("/api_keys/{api_key_id}")
async def delete_key(
    request: Request, api_key_id: str, user: UserRow = Depends(caller("api_keys"))
) -> dict[str, Any]:
    store = sandbox(request).store
    if _own_key(store, api_key_id, user) is None:
        raise HTTPException(404, "API key not found, or does not belong to you")
    with store.tx() as db:
        db.execute("DELETE FROM api_keys WHERE api_key_id = ?", (api_key_id,))
    return {"api_key_id": api_key_id, "deleted": True}


@router.post("/api_keys/")
async def create_key(request: Request, user: UserRow = Depends(caller())) -> dict[str, Any]:
    store = sandbox(request).store
    body = await parse_body(request, ApiKeyRequest)
    if not NAME_RE.match(body.name):
        raise HTTPException(400, f"Invalid request: {BAD_NAME}")
    scopes = [] if body.admin else list(body.scopes or [])
    if any(scope.object_type not in OBJECT_TYPES for scope in scopes):
        raise HTTPException(400, f"Invalid request: {BAD_TYPE}")
    if len(scopes) > MAX_SCOPES or any(len(s.object_id or "") > MAX_ID for s in scopes):
        raise HTTPException(
            422, f"An API key has at most {MAX_SCOPES} scopes, each id at most {MAX_ID} characters"
        )
    api_key_id, secret = keys.new_api_key(user["user_id"])
    try:
        with store.tx() as db:
            db.execute(
                "INSERT INTO api_keys (api_key_id, user_id, name, admin, key_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    api_key_id,
                    user["user_id"],
                    body.name,
                    int(body.admin),
                    keys.hash_api_key(secret),
                    naive_iso(),
                ),
            )
            db.executemany(
                "INSERT INTO api_key_scopes (scope_id, api_key_id, object_type, object_id, action)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (str(uuid.uuid4()), api_key_id, s.object_type, s.object_id, s.action)
                    for s in scopes
                ],
            )
    except sqlite3.IntegrityError:  # the name is taken (unique per user)
        raise HTTPException(409, DUPLICATE) from None
    row = present(store.api_key(api_key_id), f"API key {api_key_id}")
    return {**render(store, row), "secret_key": secret}
