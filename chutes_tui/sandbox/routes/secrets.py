"""Secrets: environment variables for one chute's instances (e.g. `HF_TOKEN`).

A secret belongs to its creator and to one of their chutes (its `purpose`, stored as the
chute's id; named by id or name when created). Its value is never sent back. The platform
stores it encrypted to hand it to the chute's instances; simulated instances run no code,
so the sandbox keeps only a salted SHA-256 of it, and the value itself is written nowhere.
Deleting a chute leaves its secrets, as on the platform.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError

from chutes_tui.client.models import SecretRequest
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, parse_body, sandbox
from chutes_tui.sandbox.lookup import find_owned_chute
from chutes_tui.sandbox.storage import Store, UserRow, naive_iso

router = APIRouter()
NOT_FOUND = "Secret not found, or does not belong to you"
DUPLICATE = "A secret already exists for this purpose with this key."
MAX_KEY = 256  # the sandbox's bounds; the platform has none
MAX_VALUE = 65_536
SHOWN = "secret_id, purpose, key, created_at"


def secret_id(user_id: str, chute_id: str, key: str) -> str:
    """The platform's id: one secret per user, chute and key."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{user_id}:{chute_id}:{key}"))


def value_digest(secret: str, value: str) -> str:
    return hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()


def _own(store: Store, secret: str, user: UserRow) -> dict[str, Any] | None:
    return store.one(
        f"SELECT {SHOWN} FROM secrets WHERE secret_id = ? AND user_id = ?", secret, user["user_id"]
    )


@router.get("/secrets/")
async def list_secrets(
    request: Request,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    limit: int = Query(25, ge=0, le=MAX_LIMIT),
    user: UserRow = Depends(caller("secrets")),
) -> dict[str, Any]:
    store = sandbox(request).store
    total = store.count("SELECT COUNT(*) AS n FROM secrets WHERE user_id = ?", user["user_id"])
    items = store.all(
        f"SELECT {SHOWN} FROM secrets WHERE user_id = ?"
        " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        user["user_id"],
        limit,
        page * limit,
    )
    return {"total": total, "page": page, "limit": limit, "items": items}


@router.get("/secrets/{secret}")
async def get_secret(
    request: Request, secret: str, user: UserRow = Depends(caller("secrets"))
) -> dict[str, Any]:
    found = _own(sandbox(request).store, secret, user)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


@router.delete("/secrets/{secret}")
async def delete_secret(
    request: Request, secret: str, user: UserRow = Depends(caller("secrets"))
) -> dict[str, str]:
    store = sandbox(request).store
    if _own(store, secret, user) is None:
        raise HTTPException(404, NOT_FOUND)
    with store.tx() as db:
        db.execute("DELETE FROM secrets WHERE secret_id = ?", (secret,))
    return {"status": f"Successfully deleted secret {secret}", "secret_id": secret}


async def _request(request: Request) -> SecretRequest:
    """The body; a refusal never echoes what was sent (it may hold the value)."""
    try:
        return await parse_body(request, SecretRequest)
    except RequestValidationError as error:
        raise RequestValidationError(
            [{key: v for key, v in item.items() if key != "input"} for item in error.errors()]
        ) from None


@router.post("/secrets/")
async def create_secret(request: Request, user: UserRow = Depends(caller())) -> dict[str, Any]:
    store = sandbox(request).store
    body = await _request(request)
    if len(body.key) > MAX_KEY or len(body.value) > MAX_VALUE:
        raise HTTPException(
            422, f"A secret's key has at most {MAX_KEY} characters, its value {MAX_VALUE}"
        )
    chute = find_owned_chute(store, body.purpose, user)
    if chute is None:
        raise HTTPException(
            404, f"Did not find target chute {body.purpose}, or it does not belong to you"
        )
    new_id = secret_id(user["user_id"], chute["chute_id"], body.key)
    try:
        with store.tx() as db:
            db.execute(
                "INSERT INTO secrets (secret_id, user_id, purpose, key, value_sha256, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    new_id,
                    user["user_id"],
                    chute["chute_id"],
                    body.key,
                    value_digest(new_id, body.value),
                    naive_iso(),
                ),
            )
    except sqlite3.IntegrityError:
        raise HTTPException(409, DUPLICATE) from None
    created = _own(store, new_id, user)
    return {**(created or {}), "user_id": user["user_id"]}
