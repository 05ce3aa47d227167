"""Who is calling: hotkey signatures first, then the Authorization header, else anonymous.

The checks, their order and their 401 texts follow the platform (contract §2).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Literal, overload

from fastapi import HTTPException, Request

from chutes_tui.sandbox import key_scopes, keys
from chutes_tui.sandbox.storage import Store, UserRow

HOTKEY = "X-Chutes-Hotkey"
SIGNATURE = "X-Chutes-Signature"
NONCE = "X-Chutes-Nonce"
NONCE_WINDOW = 600
NONCE_RE = re.compile(r"^[0-9]{1,20}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}

NO_USER = "Can't find a user with that api key in our db :("
BAD_HEADER = "Missing or invalid authorization header(s)"
BAD_KEY = "Invalid token or user not found"


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail)


async def _hotkey_user(request: Request, purpose: str | None, required: bool) -> UserRow | None:
    hotkey = request.headers[HOTKEY]
    signature = request.headers[SIGNATURE]
    nonce = request.headers[NONCE]
    if not NONCE_RE.match(nonce) or abs(time.time() - int(nonce)) >= NONCE_WINDOW:
        raise unauthorized("Invalid nonce!")
    if purpose:
        message = f"{hotkey}:{nonce}:{purpose}"
    elif request.method in BODY_METHODS:
        body = await request.body()
        message = f"{hotkey}:{nonce}:{hashlib.sha256(body).hexdigest()}"
    else:
        raise unauthorized("Either payload_str or purpose must be provided")
    try:
        signature_bytes = bytes.fromhex(signature)
    except ValueError as error:
        raise unauthorized(f"Invalid signature: {signature}, with error: {error}") from None
    if not keys.verify(hotkey, message.encode(), signature_bytes):
        raise unauthorized(f"Invalid request signature for hotkey {hotkey}. Message: {message}")
    user = _store(request).user_by_hotkey(hotkey)
    if user is None and required:
        raise unauthorized(f"Could not find user with hotkey: {hotkey}")
    return user


def _header_user(request: Request, header: str) -> UserRow:
    token = header.split()[-1] if header.split() else ""
    if header.lower().startswith("bearer ") and not token.startswith(("cpk_", "cak_")):
        raise unauthorized("Invalid token.")
    match = keys.API_KEY_RE.match(token)
    if not match or len(token) != 102:
        raise unauthorized(BAD_HEADER)
    store = _store(request)
    record = store.api_key(str(_uuid(match.group(1))))
    if record is None or not keys.api_key_matches(token, record["key_hash"]):
        raise unauthorized(BAD_KEY)
    user = store.user(record["user_id"])
    if user is None or not key_scopes.permitted(store, request, record, user):
        raise unauthorized(BAD_KEY)
    key_scopes.note_use(store, record)
    return user


def _store(request: Request) -> Store:
    return request.app.state.store


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


@overload
def caller(
    purpose: str | None = None, required: Literal[True] = True
) -> Callable[[Request], Awaitable[UserRow]]: ...
@overload
def caller(
    purpose: str | None = None, *, required: bool
) -> Callable[[Request], Awaitable[UserRow | None]]: ...
def caller(
    purpose: str | None = None, required: bool = True
) -> Callable[[Request], Awaitable[UserRow | None]]:
    """A FastAPI dependency giving the calling user (or None on optional routes)."""

    async def dependency(request: Request) -> UserRow | None:
        headers = request.headers
        if all(headers.get(name) for name in (HOTKEY, SIGNATURE, NONCE)):
            return await _hotkey_user(request, purpose, required)
        authorization = headers.get("Authorization")
        if authorization:
            return _header_user(request, authorization)
        if required:
            raise unauthorized(NO_USER)
        return None

    return dependency
