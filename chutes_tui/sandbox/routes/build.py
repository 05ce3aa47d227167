"""`POST /images/`: an image build, exactly as `chutes build` (SDK 0.6.9) uploads it.

Checks, in order: the caller (hotkey over the body hash, or an API key); the form; the
username (the platform's 401); developer permission (the deploy route's 401); the public
flag, which needs the permission to deploy publicly (403; the platform's server does not
check it, the sandbox does so a public image cannot come from anyone); name, tag, readme,
Dockerfile and logo; an existing image (409, spelled as the server spells it); then the
build context zip (413/422). Only then is anything written: the image, `pending build`, and
its build, which the simulator runs on the sandbox's clock.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from chutes_tui.sandbox import limits, upload
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.buildlog import BUILT, BuildRequest, script
from chutes_tui.sandbox.context import Sandbox, sandbox
from chutes_tui.sandbox.dockerfile import ImageLookup
from chutes_tui.sandbox.lookup import image_uid, image_visible
from chutes_tui.sandbox.routes.deploy import DEVELOPER, PUBLIC_MODELS, developer_refusal, has
from chutes_tui.sandbox.seed import SDK_VERSION
from chutes_tui.sandbox.storage import ImageRow, UserRow, now_iso, present

router = APIRouter()

# The SDK's character rule, with the lengths the platform's server enforces.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,64}$", re.I)
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,32}$", re.I)
PUBLIC_REFUSAL = (
    "Public images need the permission to deploy publicly ('Allow deploying models"
    " publicly.', bit 11 of permissions_bitmask), which this account does not have. Build the"
    " image without --public: a private image works for your own chutes, which you can share"
    " with other users."
)


def _field_problem(box: Sandbox, form: upload.BuildForm) -> str | None:
    if not NAME_RE.match(form.name):
        return f"Invalid image name: {form.name}"
    if not TAG_RE.match(form.tag):
        return f"Invalid image tag: {form.tag}"
    problem = limits.text_problem({"readme": form.readme})
    if problem:
        return problem
    if len(form.dockerfile) > limits.MAX_DOCKERFILE_CHARS:
        return (
            f"dockerfile is {len(form.dockerfile)} characters; at most"
            f" {limits.MAX_DOCKERFILE_CHARS} are accepted"
        )
    if form.logo_id and not box.store.one(
        "SELECT 1 AS x FROM logos WHERE logo_id = ?", form.logo_id
    ):
        return f"Logo not found: {form.logo_id}"
    return None


def _lookup(box: Sandbox, user: UserRow) -> ImageLookup:
    """What `FROM owner/name:tag` finds among the sandbox's images (see dockerfile)."""

    def lookup(owner: str, name: str, tag: str) -> bool | None:
        found = box.store.find_user(owner)
        if found is None:
            return None
        image = box.store.image(image_uid(found["username"], name, tag))
        return bool(image and image_visible(image, user) and image["status"] == BUILT)

    return lookup


@router.post("/images/", status_code=202)
async def create_image(request: Request, user: UserRow = Depends(caller())) -> JSONResponse:
    box = sandbox(request)
    body = await request.body()
    form = upload.build_form(upload.form_parts(request.headers.get("content-type", ""), body))
    if form.username != user["username"]:
        raise HTTPException(401, "Cannot make images for users other than yourself!")
    if not has(user, DEVELOPER):
        raise developer_refusal(box, user)
    if form.public and not has(user, PUBLIC_MODELS):
        raise HTTPException(403, PUBLIC_REFUSAL)
    problem = _field_problem(box, form)
    if problem:
        raise HTTPException(422, problem)
    image_id = image_uid(user["username"], form.name, form.tag)
    exists = HTTPException(409, f"Image with name={form.name!r} and tag={form.tag!r} aready exists")
    if box.store.image(image_id):
        raise exists
    context = await asyncio.to_thread(upload.inspect_context, form.build_context)

    # As the platform does: the build installs the server's own SDK version last.
    dockerfile = f"{form.dockerfile}\n\nRUN pip install chutes=={SDK_VERSION}"
    plan = await asyncio.to_thread(  # a long Dockerfile takes a moment to write out
        script,
        BuildRequest(
            image_id=image_id,
            owner=user["username"],
            name=form.name,
            tag=form.tag,
            dockerfile=dockerfile,
            context=context.files,
            context_bytes=context.unpacked,
            lookup=_lookup(box, user),
        ),
    )
    try:
        with box.store.tx() as db:
            db.execute(
                "INSERT INTO images (image_id, user_id, name, tag, readme, public, status,"
                " logo_id, chutes_version, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    image_id,
                    user["user_id"],
                    form.name,
                    form.tag,
                    form.readme,
                    int(form.public),
                    "pending build",
                    form.logo_id,
                    SDK_VERSION,
                    now_iso(),
                ),
            )
            box.sim.builds.submit(db, image_id, dockerfile, plan)
    except sqlite3.IntegrityError:  # the same image, uploaded twice at once
        raise exists from None
    box.sim.builds.track(image_id)
    image: ImageRow = present(box.store.image(image_id), f"image {image_id}")
    return JSONResponse(box.renderer().image(image), status_code=202)
