"""Chutes: list, get, code, update metadata, delete, share, unshare."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from chutes_tui.client.models import ChuteUpdate, ShareRequest
from chutes_tui.sandbox import limits
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import MAX_LIMIT, MAX_PAGE, parse_body, sandbox
from chutes_tui.sandbox.lookup import chute_visible, find_chute, find_owned_chute
from chutes_tui.sandbox.storage import ChuteRow, UserRow, naive_iso, now_iso, present

router = APIRouter()
NOT_FOUND = "Chute not found, or does not belong to you"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@router.get("/chutes/")
async def list_chutes(
    request: Request,
    include_public: bool = False,
    name: str | None = None,
    exclude: str | None = None,
    slug: str | None = None,
    template: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    limit: int = Query(25, ge=0, le=MAX_LIMIT),
    include_schemas: bool = False,
    user: UserRow | None = Depends(caller("chutes", required=False)),
) -> dict[str, Any]:
    box = sandbox(request)
    args: list[str]
    if user is None:
        where, args = ["(public = 1 OR name LIKE '%/affine%')"], []
    elif include_public:
        where, args = ["(user_id = ? OR public = 1 OR name LIKE '%/affine%')"], [user["user_id"]]
    else:
        where, args = ["user_id = ?"], [user["user_id"]]
    for column, value, pattern in (
        ("name LIKE ?", name, "%{}%"),
        ("name NOT LIKE ?", exclude, "%{}%"),
        ("slug LIKE ?", slug, "{}"),
    ):
        if value:
            where.append(column)
            args.append(pattern.format(value))
    if template == "other":
        where.append("json_extract(spec, '$.standard_template') IS NULL")
    elif template:
        where.append("json_extract(spec, '$.standard_template') = ?")
        args.append(template)
    clause = " AND ".join(where)
    total = box.store.count(f"SELECT COUNT(*) AS n FROM chutes WHERE {clause}", *args)
    rows = box.store.all_as(
        ChuteRow,
        f"SELECT * FROM chutes WHERE {clause}"
        " ORDER BY invocation_count DESC, created_at DESC LIMIT ? OFFSET ?",
        *args,
        limit,
        page * limit,
    )
    render = box.renderer()
    instances = box.store.instances_for([row["chute_id"] for row in rows])
    items: list[dict[str, Any]] = []
    cord_refs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        item = render.chute(row, instances[row["chute_id"]], listing=True)
        if item["cord_ref_id"] not in cord_refs:
            cord_refs[item["cord_ref_id"]] = render.cords(row, include_schemas)
        items.append(item)
    return {"total": total, "page": page, "limit": limit, "items": items, "cord_refs": cord_refs}


@router.get("/chutes/code/{chute_id}")
async def chute_code(
    request: Request, chute_id: str, user: UserRow = Depends(caller("chutes"))
) -> PlainTextResponse:
    box = sandbox(request)
    chute = box.store.chute(chute_id)
    if chute is None or not chute_visible(box.store, chute, user):
        raise HTTPException(404, NOT_FOUND)
    return PlainTextResponse(chute["code"])


async def _share_target(request: Request, user: UserRow) -> tuple[ChuteRow, UserRow | None]:
    box = sandbox(request)
    body = await parse_body(request, ShareRequest)
    chute = find_owned_chute(box.store, body.chute_id_or_name, user)
    if chute is None:
        raise HTTPException(
            404, f"Did not find target chute {body.chute_id_or_name}, or it does not belong to you"
        )
    target = box.store.find_user(body.user_id_or_name)
    return chute, target


@router.post("/chutes/share")
async def share(request: Request, user: UserRow = Depends(caller())) -> dict[str, str]:
    chute, target = await _share_target(request, user)
    if chute["public"]:
        raise HTTPException(400, "Chute is public, no need to share.")
    if target is None:
        raise HTTPException(404, "Could not find target user to share with")
    if target["user_id"] == user["user_id"]:
        raise HTTPException(400, "Cannot share a chute with yourself")
    with sandbox(request).store.tx() as db:
        db.execute(
            "INSERT OR IGNORE INTO shares (chute_id, shared_by, shared_to, shared_at)"
            " VALUES (?, ?, ?, ?)",
            (chute["chute_id"], user["user_id"], target["user_id"], naive_iso()),
        )
    return {
        "status": f"Successfully shared chute.name={chute['name']!r}"
        f" with user.username={target['username']!r}"
    }


@router.post("/chutes/unshare")
async def unshare(request: Request, user: UserRow = Depends(caller())) -> dict[str, str]:
    chute, target = await _share_target(request, user)
    if target is None:
        raise HTTPException(404, "Could not find target user to share with")
    with sandbox(request).store.tx() as db:
        db.execute(
            "DELETE FROM shares WHERE chute_id = ? AND shared_to = ?",
            (chute["chute_id"], target["user_id"]),
        )
    return {
        "status": f"Successfully unshared chute.name={chute['name']!r}"
        f" with user.username={target['username']!r} (if share exists)"
    }


@router.get("/chutes/{ref:path}")
async def get_chute(
    request: Request, ref: str, user: UserRow | None = Depends(caller("chutes", required=False))
) -> dict[str, Any]:
    box = sandbox(request)
    chute = find_chute(box.store, ref, user)
    if chute is None:
        raise HTTPException(404, NOT_FOUND)
    return box.renderer().chute(chute, box.store.instances(chute["chute_id"]))


@router.put("/chutes/{ref:path}")
async def update_chute(
    request: Request, ref: str, user: UserRow = Depends(caller())
) -> dict[str, Any]:
    box = sandbox(request)
    body = await parse_body(request, ChuteUpdate)
    chute = find_chute(box.store, ref, user)
    if chute is None or chute["user_id"] != user["user_id"]:
        raise HTTPException(404, NOT_FOUND)
    problem = limits.text_problem(body.model_dump())
    if problem:
        raise HTTPException(422, problem)
    spec = dict(chute["spec"])
    changes = body.model_dump(exclude_none=True)
    for key in ("tagline", "readme", "tool_description", "logo_id"):
        if isinstance(changes.get(key), str) and not changes[key].strip():
            changes.pop(key)
    spec.update(changes)
    with box.store.tx() as db:
        db.execute(
            "UPDATE chutes SET spec = ?, updated_at = ? WHERE chute_id = ?",
            (json.dumps(spec), now_iso(), chute["chute_id"]),
        )
    chute_id = chute["chute_id"]
    updated = present(box.store.chute(chute_id), f"chute {chute_id}")
    return box.renderer().chute(updated, box.store.instances(chute_id))


@router.delete("/chutes/{ref:path}")
async def delete_chute(
    request: Request, ref: str, user: UserRow = Depends(caller("chutes"))
) -> dict[str, Any]:
    box = sandbox(request)
    if not UUID_RE.match(ref):
        raise HTTPException(400, "Must use chute UUID to delete.")
    chute = box.store.chute(ref)
    if chute is None or chute["user_id"] != user["user_id"]:
        raise HTTPException(404, NOT_FOUND)
    box.sim.forget_chute(chute["chute_id"])
    with box.store.tx() as db:
        db.execute("DELETE FROM chutes WHERE chute_id = ?", (chute["chute_id"],))
        db.execute(
            "INSERT INTO chute_history (user_id, chute_id, action, at) VALUES (?, ?, 'delete', ?)",
            (user["user_id"], chute["chute_id"], time.time()),
        )
    return {"chute_id": chute["chute_id"], "deleted": True}
