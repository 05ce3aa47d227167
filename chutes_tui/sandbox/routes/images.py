"""Images: list, get, delete, build log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, Sandbox, sandbox
from chutes_tui.sandbox.lookup import find_image
from chutes_tui.sandbox.storage import ImageRow, UserRow

router = APIRouter()
NOT_FOUND = "Image not found, or does not belong to you"
FINISHED = ("built and pushed", "error:")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/images/")
async def list_images(
    request: Request,
    include_public: bool = False,
    name: str | None = None,
    tag: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    limit: int = Query(25, ge=0, le=MAX_LIMIT),
    user: UserRow = Depends(caller("images")),
) -> dict[str, Any]:
    box = sandbox(request)
    where = ["(user_id = ?" + (" OR public = 1)" if include_public else ")")]
    args = [user["user_id"]]
    if name:
        where.append("name LIKE ?")
        args.append(f"%{name}%")
    if tag:
        where.append("tag LIKE ?")
        args.append(f"%{tag}%")
    clause = " AND ".join(where)
    total = box.store.count(f"SELECT COUNT(*) AS n FROM images WHERE {clause}", *args)
    rows = box.store.all_as(
        ImageRow,
        f"SELECT * FROM images WHERE {clause} ORDER BY created_at DESC, image_id LIMIT ? OFFSET ?",
        *args,
        limit,
        page * limit,
    )
    render = box.renderer()
    return {
        "total": total,
        "page": page,
        "limit": limit,
        "items": [render.image(row) for row in rows],
        "cord_refs": None,
    }


async def _build_events(box: Sandbox, image_id: str, offset: int) -> AsyncIterator[str]:
    """An unfinished build: its log so far as single-newline `data:` lines, then keep-alives.

    No build progresses in the sandbox, so the keep-alives follow real time, like those of
    instance logs, even while the simulated clock is paused.
    """
    image = box.store.image(image_id)
    lines = (image["build_log"] if image else "").splitlines()
    for number, line in enumerate(lines[offset:], start=offset + 1):
        payload = {"log": {"log_type": "stdout", "log": line}, "offset": str(number)}
        yield f"data: {json.dumps(payload, separators=(',', ':'))}\n"
    while True:
        await asyncio.sleep(min(1.0, max(0.05, box.settings.real(1.0))))
        image = box.store.image(image_id)
        if image is None or image["status"].startswith(FINISHED):
            yield "DONE\n"
            return
        yield ".\n"


@router.get("/images/{image_id}/logs", response_model=None)
async def image_logs(
    request: Request,
    image_id: str,
    offset: str | None = None,
    user: UserRow | None = Depends(caller("images", required=False)),
) -> PlainTextResponse | StreamingResponse:
    start = limits.log_offset(offset)
    if start is None:
        raise HTTPException(422, f"offset must be a line number up to {limits.MAX_LOG_OFFSET}")
    box = sandbox(request)
    image = box.store.image(image_id)
    if image is None or not (image["public"] or (user and image["user_id"] == user["user_id"])):
        raise HTTPException(404, NOT_FOUND)
    if image["status"].startswith(FINISHED):
        return PlainTextResponse(
            image["build_log"] or image["status"],
            headers={"Content-Disposition": f'inline; filename="{image_id}.log"'},
        )
    return StreamingResponse(
        _build_events(box, image_id, start), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.get("/images/{ref:path}")
async def get_image(
    request: Request, ref: str, user: UserRow = Depends(caller("images"))
) -> dict[str, Any]:
    box = sandbox(request)
    image = find_image(box.store, ref, user)
    if image is None:
        raise HTTPException(404, NOT_FOUND)
    return box.renderer().image(image)


@router.delete("/images/{ref:path}")
async def delete_image(
    request: Request, ref: str, user: UserRow = Depends(caller("images"))
) -> dict[str, Any]:
    box = sandbox(request)
    image = find_image(box.store, ref, user)
    if image is None or image["user_id"] != user["user_id"]:
        raise HTTPException(404, NOT_FOUND)
    with box.store.tx() as db:
        in_use = db.execute(
            "SELECT COUNT(*) AS n FROM chutes WHERE image_id = ?", (image["image_id"],)
        ).fetchone()["n"]
        if in_use:
            raise HTTPException(409, "Image is in use by one or more chutes")
        db.execute("DELETE FROM images WHERE image_id = ?", (image["image_id"],))
    return {"image_id": image["image_id"], "deleted": True}
