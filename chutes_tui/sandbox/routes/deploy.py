"""`POST /chutes/`: the platform's deploy checks, in its order, then create or update."""

from __future__ import annotations

import ast
import json
import re
import secrets
import sqlite3
import string
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from chutes_tui.client.models import DeployRequest
from chutes_tui.core import pricing
from chutes_tui.sandbox import ledger, limits
from chutes_tui.sandbox.auth import caller
from chutes_tui.sandbox.context import Sandbox, parse_body, sandbox
from chutes_tui.sandbox.lookup import chute_uid, find_image
from chutes_tui.sandbox.storage import ChuteRow, UserRow, now_iso, present

router = APIRouter()

DEVELOPER, FREE_ACCOUNT, UNLIMITED, UNLIMITED_DEV, PUBLIC_MODELS = 0, 4, 5, 7, 11
RESTRICTED_GPUS = ("b200", "mi300x")
NAME_RE = re.compile(r"^(?:([A-Za-z0-9_.-]+)/)*([a-z0-9][a-z0-9_./-]*)$", re.I)
FILENAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.py$")
REF_RE = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
CORD_PATH_RE = re.compile(r"^(/[a-z][a-z0-9_]*)+$", re.I)
PUBLIC_PATH_RE = re.compile(r"^(/[a-z][a-z0-9_-]*)+$", re.I)

FEE_NOTICE = (
    "DEPLOYMENT FEE NOTICE:\n===\nThere is a deployment fee of (hourly price per GPU * number"
    " of GPUs * 3), which for this configuration is: ${fee}\n To acknowledge this fee, ensure"
    " you have chutes>=0.3.23 and re-run the deployment command with `--accept-fee`"
)
LOW_BALANCE = (
    "The deployment fee, based on your node selector, is ${fee}, but you have a balance of"
    " {balance}.\nPlease top up your account with tao @ {address} or via fiat."
)


def has(user: UserRow, bit: int) -> bool:
    return bool(user["permissions_bitmask"] & (1 << bit))


def developer_refusal(box: Sandbox, user: UserRow) -> HTTPException:
    """The platform's 401 for an account without developer permission (deploys, builds)."""
    tao = round(250.0 / box.settings.tao_usd, 4)
    return HTTPException(
        401,
        "You do not have developer permissions, to enable developer permissions, deposit"
        f" $250.0 USD worth of tao (currently ~{tao} tao) to your developer deposit"
        f" address: {user['payment_address']}",
    )


def slug_for(box: Sandbox, username: str, name: str) -> str:
    """`username-name` slugified to 58 characters; a random suffix on collision."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{username}-{name}".lower()).strip("-")[:58].strip("-")
    while box.store.one("SELECT 1 AS x FROM chutes WHERE slug = ?", slug):
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        slug = f"{slug[:52]}-{suffix}"
    return slug


def _namespace_problem(box: Sandbox, name: str, user: UserRow) -> str | None:
    """Names may hold `/` (`unsloth/Llama-3.2-1B`), but a first part naming another user
    would make the name read as that user's chute: `alice` may not deploy `demo/hello-world`."""
    prefix, slash, _ = name.partition("/")
    if not slash or prefix.casefold() == user["username"].casefold():
        return None
    if box.store.find_user(prefix) is None:
        return None
    return (
        f"Invalid chute name: {name!r} begins with another user's name ({prefix}/);"
        " a chute name may use `/` but not start with someone else's username"
    )


def _charge(db: sqlite3.Connection, user: UserRow, fee: float) -> bool:
    """Take `fee` if the balance, as it is now, exceeds it; the platform refuses `<=`.

    One conditional update, so concurrent deploys cannot all pass on one stale balance.
    """
    cursor = db.execute(
        "UPDATE users SET balance = balance - ? WHERE user_id = ? AND balance > ?",
        (fee, user["user_id"], fee),
    )
    return cursor.rowcount == 1


def _low_balance(db: sqlite3.Connection, user: UserRow, fee: float) -> str:
    row = db.execute("SELECT balance FROM users WHERE user_id = ?", (user["user_id"],)).fetchone()
    balance = row["balance"] if row else user["balance"]
    return LOW_BALANCE.format(fee=fee, balance=balance, address=user["payment_address"])


def _field_problem(body: DeployRequest) -> str | None:
    """The first create-time validation failure, in the server's words."""
    if not NAME_RE.match(body.name):
        return f"Invalid chute name: {body.name}"
    if not FILENAME_RE.match(body.filename):
        return f"Invalid filename: {body.filename!r}"
    if not REF_RE.match(body.ref_str):
        return f"Invalid reference string: {body.ref_str!r}"
    for cord in body.cords:
        if not CORD_PATH_RE.match(cord.path):
            return f"Invalid cord path: {cord.path}"
        if cord.public_api_path and not PUBLIC_PATH_RE.match(cord.public_api_path):
            return f"Invalid public_api_path: {cord.public_api_path}"
        if cord.public_api_method and cord.public_api_method.upper() not in ("GET", "POST"):
            return f"Invalid public_api_method: {cord.public_api_method}"
    try:
        ast.parse(body.code)
    except SyntaxError as error:
        return f"Invalid code: {error.msg} (line {error.lineno})"
    return None


@router.post("/chutes/")
async def deploy(
    request: Request, accept_fee: bool = False, user: UserRow = Depends(caller())
) -> dict[str, Any]:
    box = sandbox(request)
    settings = box.settings
    table = settings.gpu_table
    body = await parse_body(request, DeployRequest, context={"gpu_names": table.names})
    problem = (
        limits.text_problem(body.model_dump())
        or limits.revision_problem(body.revision)
        or _namespace_problem(box, body.name, user)
    )
    if problem:
        raise HTTPException(422, problem)

    if not has(user, DEVELOPER):
        raise developer_refusal(box, user)
    if settings.history_limit:
        recent = box.store.count(
            "SELECT COUNT(*) AS n FROM chute_history WHERE user_id = ? AND at > ?",
            user["user_id"],
            time.time() - 86400,
        )
        if recent >= settings.history_limit:
            raise HTTPException(
                429,
                f"You many only update/create {settings.history_limit} chutehistorys per 24 hours.",
            )
    if body.public and not has(user, PUBLIC_MODELS):
        raise HTTPException(
            400,
            "Chutes no longer supports public chutes. You can instead deploy the chute as a"
            " private chute and share it with other users.",
        )
    image = find_image(box.store, body.image, user)
    if image is None:
        raise HTTPException(400, "Chute image not found, or does not belong to you")
    if body.public and not image["public"]:
        raise HTTPException(409, "Chute cannot be public when image is not public!")

    version = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{image['image_id']}:{body.code}"))
    existing = box.store.one_as(
        ChuteRow,
        "SELECT * FROM chutes WHERE user_id = ? AND name = ? COLLATE NOCASE",
        user["user_id"],
        body.name,
    )
    if existing and existing["version"] == version and bool(existing["public"]) == body.public:
        raise HTTPException(
            409,
            f"Chute with name={body.name}, version='{version}' and public={body.public}"
            " already exists",
        )
    selector = body.node_selector
    supported = pricing.supported_gpus(selector, table)
    if set(supported) == {"5090"}:
        raise HTTPException(403, "You are not allowed to require 5090s")
    if not supported:
        raise HTTPException(400, "No supported GPUs based on node selector!")

    free = has(user, FREE_ACCOUNT)
    fee = 0.0 if existing or free else pricing.deployment_fee(selector, table, settings.fee_formula)
    if fee > 0 and not accept_fee:
        raise HTTPException(402, FEE_NOTICE.format(fee=round(fee, 2)))
    if not free and user["balance"] <= fee:
        raise HTTPException(
            402,
            LOW_BALANCE.format(fee=fee, balance=user["balance"], address=user["payment_address"]),
        )

    if not (has(user, UNLIMITED) or has(user, UNLIMITED_DEV)):
        if selector.include and set(selector.include) <= set(RESTRICTED_GPUS):
            raise HTTPException(
                403, "You are not allowed to limit deployments to b200/mi300x at this time."
            )
        if not selector.exclude:
            selector = selector.model_copy(update={"exclude": list(RESTRICTED_GPUS)})
        if not pricing.supported_gpus(selector, table):
            raise HTTPException(400, "No supported GPUs based on node selector!")
    if body.standard_template == "vllm" and not body.revision:
        raise HTTPException(400, "Missing required revision parameter for vllm template.")
    problem = _field_problem(body)
    if problem:
        raise HTTPException(400, f"Validation failure: {problem}")
    if not body.cords and not body.jobs:
        raise HTTPException(400, "A chute must define at least one cord() or job() function!")
    if body.cords and body.jobs:
        raise HTTPException(400, "A chute can have jobs or cords not both.")

    spec = body.model_dump(exclude={"name", "image", "public", "code"})
    spec["node_selector"] = selector.model_dump(exclude_none=True)
    spec["chutes_version"] = request.headers.get("X-Chutes-Version") or image["chutes_version"]
    stamp = now_iso()
    if existing:
        chute_id, slug, created_at = existing["chute_id"], existing["slug"], existing["created_at"]
    else:
        chute_id = chute_uid(user["username"], body.name)
        slug, created_at = slug_for(box, user["username"], body.name), stamp
    with box.store.tx() as db:
        db.execute(
            "INSERT INTO chutes (chute_id, user_id, name, slug, public, version, image_id, code,"
            " spec, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(chute_id) DO UPDATE SET name = excluded.name, public = excluded.public,"
            " version = excluded.version, image_id = excluded.image_id, code = excluded.code,"
            " spec = excluded.spec, updated_at = excluded.updated_at",
            (
                chute_id,
                user["user_id"],
                body.name,
                slug,
                int(body.public),
                version,
                image["image_id"],
                body.code,
                json.dumps(spec),
                created_at,
                stamp,
            ),
        )
        db.execute(
            "INSERT INTO chute_history (user_id, chute_id, action, at) VALUES (?, ?, ?, ?)",
            (user["user_id"], chute_id, "update" if existing else "create", time.time()),
        )
        if not free and not _charge(db, user, fee):
            raise HTTPException(402, _low_balance(db, user, fee))
        if fee > 0 and not free:
            now = settings.clock.now()
            ledger.record(db, user["user_id"], chute_id, "fee", fee, now, charge=False)
    chute = present(box.store.chute(chute_id), f"chute {chute_id}")
    box.sim.redeploy(chute)
    return box.renderer().chute(chute, box.store.instances(chute_id), image=image)
