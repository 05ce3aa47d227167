"""Logos: `POST /logos/` (multipart, signed over the exact bytes) and fetching them back.

The platform re-encodes logos as 512x512 WebP; the sandbox keeps the uploaded bytes as
they are and serves them under both names.
"""

from __future__ import annotations

import uuid
from email.parser import BytesParser
from email.policy import HTTP

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import sandbox
from chutes_tui.sandbox.storage import LogoRow, UserRow, now_iso

router = APIRouter()
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")


def _logo_part(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The `logo` field of a multipart body: (content type, bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise HTTPException(400, "Expected a multipart body with a `logo` file")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "logo":
            payload = part.get_payload(decode=True)  # None for a nested multipart
            return part.get_content_type(), payload if isinstance(payload, bytes) else b""
    raise HTTPException(422, "Missing the `logo` file field")


@router.post("/logos/")
async def upload(request: Request, user: UserRow = Depends(caller())) -> dict[str, str]:
    kind, data = _logo_part(request.headers.get("content-type", ""), await request.body())
    if not kind.startswith("image/"):
        raise HTTPException(400, "Uploaded logo is not an image!")
    if not data.startswith(SIGNATURES):
        raise HTTPException(400, "Invalid image file: cannot identify image file")
    logo_id = str(uuid.uuid4())
    with sandbox(request).store.tx() as db:
        db.execute(
            "INSERT INTO logos (logo_id, user_id, content_type, data, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (logo_id, user["user_id"], kind, data, now_iso()),
        )
    return {"logo_id": logo_id, "path": f"/logos/{logo_id}.webp"}


@router.get("/logos/{name}")
async def fetch(request: Request, name: str) -> Response:
    logo_id, _, extension = name.rpartition(".")
    row = sandbox(request).store.one_as(LogoRow, "SELECT * FROM logos WHERE logo_id = ?", logo_id)
    if row is None or extension not in ("webp", "png"):
        raise HTTPException(404, f"Logo not found: {logo_id or name}")
    return Response(row["data"], media_type=row["content_type"])
