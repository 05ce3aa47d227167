"""Images: list, get, delete, build log (`POST /images/`, the build itself, is in `build`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from chutes_tui.sandbox import limits
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.builds import Build
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, Sandbox, sandbox
from chutes_tui.sandbox.lookup import find_image
from chutes_tui.sandbox.storage import ImageRow, UserRow

router = APIRouter()
NOT_FOUND = "Image not found, or does not belong to you"
FINISHED = ("built and pushed", "error:")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEP_ALIVE = 1.0  # real seconds without a line before a `.`
POLL = 0.1  # real seconds between two looks at a running build's clock


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


def _event(stream: str, text: str, number: int) -> str:
    """One log line; `offset` is the line's number, which `?offset=` continues after."""
    payload = {"log": {"log_type": stream, "log": text}, "offset": str(number)}
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n"


async def _running_build_events(box: Sandbox, build: Build, offset: int) -> AsyncIterator[str]:
    """A build the sandbox runs: lines as the simulated clock releases them, a `.` after a
    (real) second without one, and `DONE` once the build has finished (or its image is gone).
    """
    position, quiet_since = offset, time.monotonic()
    while True:
        now = box.settings.clock.now()
        released = build.released(now)
        if released > position:
            lines = build.lines[position:released]
            yield "".join(
                _event(line.stream, line.text, number)
                for number, line in enumerate(lines, start=position + 1)
            )
            position, quiet_since = released, time.monotonic()
        if build.finished(now):
            yield "DONE\n"
            return
        if time.monotonic() - quiet_since >= KEEP_ALIVE:
            if box.store.image(build.image_id) is None:
                yield "DONE\n"
                return
            yield ".\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(POLL)


async def _build_events(box: Sandbox, image_id: str, offset: int) -> AsyncIterator[str]:
    """A seeded image that only shows an unfinished status: its log so far as
    single-newline `data:` lines, then keep-alives (nothing runs it, so they follow real
    time, like those of instance logs, even while the simulated clock is paused).
    """
    image = box.store.image(image_id)
    lines = (image["build_log"] if image else "").splitlines()
    for number, line in enumerate(lines[offset:], start=offset + 1):
        yield _event("stdout", line, number)
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
    build = box.sim.builds.running(image_id)
    events = (
        _running_build_events(box, build, start) if build else _build_events(box, image_id, start)
    )
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


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
