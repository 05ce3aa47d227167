"""How the sandbox and the headless CLI hold up under attack, re-measured.

    .venv/bin/python bench/adversarial.py [--fuzz 20000] [--seed 1] [--kill-rounds 3]
        [--deploys 12] [--covered 5] [--sections cross,fuzz,race,kill,fake]

About a minute and a half on two cores (most of it the fuzz; --fuzz 2000 for a quick look).

Five sections, each printed as a compact table and a few figures once it is done:

1. cross-user: every resource one seeded user owns (chutes by id, name, owner/name; images
   by id and name; shares, instances, logs, warmup, updates, deletes, share/unshare) is
   asked for by every other user (API key and hotkey) and anonymously. Refusals must be the
   contract's; a leak is a 2xx where a refusal was due, another user's data in a reply, or
   any row of the database changed by a refused request. Public and shared chutes must stay
   readable (the controls).
2. fuzz: seeded random mutations of valid requests to every route (bodies, raw JSON text,
   query strings, path parameters, content types, auth headers). No reply may be a 5xx.
3. race: N concurrent new-chute deploys with accept_fee on a balance that covers only some
   of them; the balance, polled throughout, must never go below zero.
4. kill -9: rounds of a write burst against `chutes-tui sandbox serve`, SIGKILL, restart on
   the same database; no acknowledged write may be lost and SQLite must find the file intact.
5. fake servers: `chutes-tui --no-ui` commands against loopback servers that trickle, hang,
   fail, rate-limit, send huge or escape-laden details, or break their event streams. The
   CLI must end with the right exit code and print no raw control byte on stderr.

Ends with the figures that must be zero; exit status 1 when one is not.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import logging
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
from fastapi.routing import APIRoute

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chutes_tui.client.models import NodeSelector  # noqa: E402
from chutes_tui.core.pricing import deployment_fee  # noqa: E402
from chutes_tui.sandbox.seed import credentials  # noqa: E402
from chutes_tui.sandbox.storage import Store  # noqa: E402
from tests import test_durability as durability  # noqa: E402
from tests.conftest import (  # noqa: E402
    Sandbox,
    SandboxUser,
    body_bytes,
    deploy_body,
    running_sandbox,
)
from tests.sandbox_process import Server, api_key  # noqa: E402
from tests.test_sandbox_hardening import balance_of, set_balance  # noqa: E402

HANG_GUARD = 60.0  # seconds before anything counts as hung; a guard, not a measurement
ROUTE_MODULES = ("control", "users", "images", "live", "chutes", "deploy", "logos")  # app order
PUBLIC_IMAGE = "chutes/tei:1.8.0"


def api_routes() -> list[APIRoute]:
    """Every route of the sandbox API, in the order the app matches them."""
    found = []
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"chutes_tui.sandbox.routes.{name}")
        found += [route for route in module.router.routes if isinstance(route, APIRoute)]
    return found


def route_key(method: str, path: str, routes: list[APIRoute]) -> str:
    """`METHOD /template` of the route a request reaches, or `unrouted`."""
    plain = unquote(path.split("?", 1)[0])
    for route in routes:
        if method in route.methods and route.path_regex.match(plain):
            return f"{method} {route.path}"
    return "unrouted"


# HTTP helpers


NOT_SENT = "not sent"  # the HTTP client refused the request (a header with a newline)


@dataclass
class Reply:
    status: int | None  # None: no reply (the connection failed)
    body: bytes
    error: str = ""


def send(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    params: Any = None,
    content: bytes | None = None,
    headers: dict[str, Any] | None = None,
    limit: int = 1 << 20,
) -> Reply:
    """One request; an event stream is closed after its head, other bodies read to `limit`."""
    try:
        with http.stream(method, path, params=params, content=content, headers=headers) as reply:
            if reply.headers.get("content-type", "").startswith("text/event-stream"):
                return Reply(reply.status_code, b"")
            body = b""
            for chunk in reply.iter_bytes():
                body += chunk
                if len(body) >= limit:
                    break
            return Reply(reply.status_code, body)
    except httpx.LocalProtocolError as error:
        return Reply(None, b"", f"{NOT_SENT}: {error}"[:200])
    except httpx.HTTPError as error:
        return Reply(None, b"", f"{type(error).__name__}: {error}"[:200])


def seeded_user(box: Sandbox, username: str) -> SandboxUser:
    """A seeded user the test fixtures do not hand out (the `chutes` system account)."""
    store = Store(box.db_path)
    try:
        return SandboxUser(credentials(store, username), box.db_path)
    finally:
        store.close()


def keyed(user: SandboxUser, body: bytes | None = None) -> dict[str, str]:
    headers = user.key_headers()
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def signed(user: SandboxUser, purpose: str | None, body: bytes | None) -> dict[str, str]:
    """Hotkey headers: the body's hash for a body, the route's purpose otherwise."""
    return user.signed(body=body) if body is not None else user.signed(purpose)


def rows(db: sqlite3.Connection, sql: str, *args: Any) -> list[sqlite3.Row]:
    return db.execute(sql, args).fetchall()


def read_only(db_path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    db.row_factory = sqlite3.Row
    return db


def table(headers: tuple[str, ...], lines: list[tuple[Any, ...]]) -> str:
    """A plain text table, columns padded to their widest cell."""
    cells = [tuple(str(cell) for cell in line) for line in [headers, *lines]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


# 1. cross-user access

ATTACKERS = ("demo", "alice", "bob", "chutes", "anon")
# Rows that belong to a user, per table: what a refused request must leave alone.
OWNED_ROWS = {
    "users": "user_id",
    "api_keys": "user_id",
    "images": "user_id",
    "chutes": "user_id",
    "shares": "shared_by",
    "instances": "(SELECT user_id FROM chutes WHERE chutes.chute_id = instances.chute_id)",
    "logos": "user_id",
    "chute_history": "user_id",
}


@dataclass(frozen=True)
class ChuteTarget:
    owner: str
    name: str
    chute_id: str
    public: bool
    shared_with: tuple[str, ...]
    instance_id: str | None
    secrets: tuple[str, ...]  # what only those who may see it may read: id, slug, version...


@dataclass(frozen=True)
class ImageTarget:
    owner: str
    name: str
    tag: str
    image_id: str
    public: bool


@dataclass(frozen=True)
class Case:
    """One request by `actor`; `refusal` holds the contract's answers (empty: allowed)."""

    family: str
    method: str
    path: str
    refusal: frozenset[int] = frozenset()
    actor: str = "anon"
    auth: str = "none"  # key, hotkey, none, or forged (the headers are all in `headers`)
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    purpose: str | None = None
    secrets: tuple[str, ...] = ()  # must not be in the reply unless the request holds them
    filtered: bool = False  # a listing: 200 is due, and withholding `secrets` is the refusal
    keep: str = "all"  # rows that must not change: all, others (not the actor's), none
    headers: tuple[tuple[str, str], ...] = ()


NONE: frozenset[int] = frozenset()


def refused(actor: str, *statuses: int, optional: bool = False) -> frozenset[int]:
    """The refusal due: 401 for anonymous callers of routes that need a user."""
    if actor == "anon" and not optional:
        return frozenset({401})
    return frozenset(statuses)


def readable(actor: str, sees: bool, *statuses: int, optional: bool = False) -> frozenset[int]:
    """Nothing to refuse when the caller may see it, unless the route needs a user."""
    if sees and (actor != "anon" or optional):
        return NONE
    return refused(actor, *statuses, optional=optional) if not sees else frozenset({401})


def callers(owner: str) -> Iterator[tuple[str, Callable[..., Case]]]:
    """Everyone but `owner`, once per way of signing in: (actor, Case with them filled in)."""
    for actor in ATTACKERS:
        if actor != owner:
            for auth in ("none",) if actor == "anon" else ("key", "hotkey"):
                yield actor, partial(Case, actor=actor, auth=auth)


def chute_reads(t: ChuteTarget, actor: str, ask: Callable[..., Case]) -> Iterator[Case]:
    sees = t.public or actor in t.shared_with
    secrets = () if sees else t.secrets
    for ref in (t.chute_id, t.name, f"{t.owner}/{t.name}", t.name.upper(), f"/{t.name}"):
        refusal = readable(actor, sees, 404, optional=True)
        yield ask("chute: get", "GET", f"/chutes/{ref}", refusal, purpose="chutes", secrets=secrets)
    refusal = readable(actor, sees, 404)
    code = f"/chutes/code/{t.chute_id}"
    yield ask("chute: code", "GET", code, refusal, purpose="chutes", secrets=secrets)
    keep = "all" if refusal else "none"  # a warmup may start an instance
    for ref in (t.chute_id, t.name, f"{t.owner}/{t.name}"):
        for quick in (("quick", "true"),), ():
            path = f"/chutes/warmup/{ref}"
            yield ask(
                "chute: warmup",
                "GET",
                path,
                refusal,
                params=quick,
                purpose="chutes",
                secrets=secrets,
                keep=keep,
            )
    if t.instance_id:
        sharee = actor in t.shared_with and not t.public
        logs = f"/instances/{t.instance_id}/logs"
        yield ask(
            "instance: logs",
            "GET",
            logs,
            NONE if sharee else refused(actor, 403),
            params=(("backfill", "5"),),
            purpose="logs",
            keep="none" if sharee else "all",
        )


def chute_writes(t: ChuteTarget, actor: str, ask: Callable[..., Case]) -> Iterator[Case]:
    update = body_bytes({"tagline": f"pwned by {actor}", "max_instances": 9})
    for ref in (t.chute_id, t.name, f"{t.owner}/{t.name}", t.name.upper()):
        path = f"/chutes/{ref}"
        yield ask(
            "chute: update (PUT)", "PUT", path, refused(actor, 404), body=update, secrets=t.secrets
        )
    for ref, status in ((t.chute_id, 404), (t.name, 400)):  # [F26+]: delete by UUID only
        yield ask(
            "chute: delete",
            "DELETE",
            f"/chutes/{ref}",
            refused(actor, status),
            purpose="chutes",
        )
    for ref in (t.chute_id, t.name):
        for target in dict.fromkeys((actor if actor != "anon" else "bob", "bob")):
            share = body_bytes({"chute_id_or_name": ref, "user_id_or_name": target})
            for action in ("share", "unshare"):
                yield ask(
                    f"chute: {action}",
                    "POST",
                    f"/chutes/{action}",
                    refused(actor, 404),
                    body=share,
                    secrets=t.secrets,
                )


def chute_cases(t: ChuteTarget) -> Iterator[Case]:
    for actor, ask in callers(t.owner):
        yield from chute_reads(t, actor, ask)
        yield from chute_writes(t, actor, ask)


def image_cases(image: ImageTarget) -> Iterator[Case]:
    refs = (
        image.image_id,
        f"{image.owner}/{image.name}:{image.tag}",
        f"{image.owner.upper()}/{image.name.upper()}:{image.tag}",
    )
    secrets = () if image.public else (image.image_id,)
    for actor, ask in callers(image.owner):
        for ref in refs:
            path = f"/images/{ref}"
            read = readable(actor, image.public, 404)
            yield ask("image: get", "GET", path, read, purpose="images", secrets=secrets)
            gone = refused(actor, 404)
            yield ask("image: delete", "DELETE", path, gone, purpose="images", secrets=secrets)
        logs = readable(actor, image.public, 404, optional=True)
        path = f"/images/{image.image_id}/logs"
        yield ask("image: build log", "GET", path, logs, purpose="images", secrets=secrets)


# fmt: off
CHUTE_LISTINGS = (
    (), (("include_public", "true"),), (("include_public", "True"), ("name", "hello")),
    (("name", "%"), ("limit", "1000")), (("slug", "%"), ("include_public", "1")),
    (("template", "vllm"), ("include_public", "true")),
    (("exclude", "zzz"), ("include_public", "yes"), ("page", "0")),
)
IMAGE_LISTINGS = ((), (("include_public", "true"),), (("name", "%"), ("tag", "%")))
# fmt: on


def listing_cases(
    targets: list[ChuteTarget], pictures: list[ImageTarget], ids: dict[str, str], shares: list
) -> Iterator[Case]:
    """Lists and accounts: 200, but nothing of anyone else's that is not public."""
    for actor, ask in callers(""):
        hidden = tuple(
            t.chute_id
            for t in targets
            if t.owner != actor and not t.public and actor not in t.shared_with
        )
        hidden_images = tuple(i.image_id for i in pictures if i.owner != actor and not i.public)
        signed_in = actor != "anon"
        for params in CHUTE_LISTINGS:
            yield ask(
                "list: chutes",
                "GET",
                "/chutes/",
                params=params,
                purpose="chutes",
                secrets=hidden,
                filtered=True,
            )
        for params in IMAGE_LISTINGS:
            yield ask(
                "list: images",
                "GET",
                "/images/",
                refused(actor, 401),
                params=params,
                purpose="images",
                secrets=hidden_images,
                filtered=signed_in,
            )
        others = tuple(user_id for name, user_id in ids.items() if name != actor)
        yield ask(
            "users: me",
            "GET",
            "/users/me",
            refused(actor, 401),
            purpose="me",
            secrets=others,
            filtered=signed_in,
        )
        foreign = tuple(chute_id for by, chute_id in shares if by != actor)
        mine = ask(
            "list: my shares", "GET", "/users/me/shares", refused(actor, 401), secrets=foreign
        )
        yield replace(mine, filtered=signed_in and mine.auth == "key")  # hotkeys cannot sign it
        for other, user_id in ids.items():
            if other != actor:
                theirs = tuple(chute_id for by, chute_id in shares if by == other)
                yield ask(
                    "list: others' shares",
                    "GET",
                    f"/users/{user_id}/shares",
                    refused(actor, 403, 401),
                    secrets=theirs,
                )


def deploy_cases(pictures: list[ImageTarget]) -> Iterator[Case]:
    """Deploys that reach for demo's private image or demo's names (bob is no developer)."""
    private = next(i for i in pictures if i.owner == "demo" and i.name == "hello")
    fee = (("accept_fee", "true"),)
    for n, (actor, ask) in enumerate(callers("demo")):
        if actor not in ("alice", "bob"):
            continue
        developer = actor == "alice"
        for image in (private.image_id, f"demo/{private.name}:{private.tag}"):
            body = body_bytes(deploy_body(name=f"steal-{actor}-{n}", image=image))
            yield ask(
                "deploy: foreign image",
                "POST",
                "/chutes/",
                frozenset({400 if developer else 401}),
                params=fee,
                body=body,
                secrets=(private.image_id,),
            )
        body = body_bytes(deploy_body(name="demo/hello-world", image=PUBLIC_IMAGE))
        yield ask(
            "deploy: another's namespace",
            "POST",
            "/chutes/",
            frozenset({422}),
            params=fee,
            body=body,
        )
        code = f"print('{actor} {n}')\n"
        body = body_bytes(deploy_body(name="hello-world", image=PUBLIC_IMAGE, code=code))
        yield ask(
            "deploy: namesake of another's",
            "POST",
            "/chutes/",
            NONE if developer else frozenset({401}),
            params=fee,
            body=body,
            keep="others" if developer else "all",
        )


def forged_cases(box: Sandbox, victim: ChuteTarget) -> Iterator[Case]:
    """bob, holding only his own keys and requests of demo's he has seen."""
    from substrateinterface import Keypair

    demo, bob = box.users["demo"], box.users["bob"]
    nonce = str(int(time.time()))
    pair = Keypair.create_from_seed(seed_hex=bob.creds.hotkey_seed)
    as_demo = {
        "X-Chutes-Hotkey": demo.creds.hotkey,
        "X-Chutes-Nonce": nonce,
        "X-Chutes-Signature": pair.sign(f"{demo.creds.hotkey}:{nonce}:chutes".encode()).hex(),
    }
    key_id, _, tail = bob.api_key[4:].split(".")
    spliced = f"cpk_{key_id}.{uuid.UUID(demo.creds.user_id).hex}.{tail}"
    ok, evil = body_bytes({"tagline": "fine"}), body_bytes({"tagline": "pwned"})
    stale = demo.signed("chutes", nonce=int(time.time()) - 700)
    none_jwt = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJkZW1vIn0."
    bob_as_demo = {**bob.signed("chutes"), "X-Chutes-UserID": demo.creds.user_id}
    half_hotkey = {"X-Chutes-Hotkey": demo.creds.hotkey, **bob.key_headers()}
    # fmt: off
    attempts: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
        ("GET", "bob signs as demo's hotkey", as_demo, None, 401),
        ("DELETE", "bob signs as demo's hotkey", as_demo, None, 401),
        ("GET", "demo's `me` signature replayed", demo.signed("me"), None, 401),
        ("GET", "demo's signature, stale nonce", stale, None, 401),
        ("PUT", "demo's body signature, other body", demo.signed(body=ok), evil, 401),
        ("GET", "bob's signature, demo's user id", bob_as_demo, None, 404),
        ("GET", "bob's key, demo's user id in it", {"Authorization": spliced}, None, 401),
        ("GET", "JWT with alg none", {"Authorization": none_jwt}, None, 401),
        ("GET", "demo's hotkey alone, bob's key", half_hotkey, None, 404),
    ]
    # fmt: on
    for method, what, headers, body, status in attempts:
        yield Case(
            f"forged: {what}",
            method,
            f"/chutes/{victim.chute_id}",
            frozenset({status}),
            "bob",
            "forged",
            body=body,
            headers=tuple(headers.items()),
            secrets=victim.secrets,
        )


@dataclass
class Verdict:
    case: Case
    kind: str  # refused, other-4xx, leak, 5xx, no reply, allowed, blocked
    status: int | None
    why: str = ""


def snapshot(db: sqlite3.Connection, ids: dict[str, str], case: Case) -> dict[str, list]:
    """The rows a case must leave alone."""
    if case.keep == "none":
        return {}
    skip = ids.get(case.actor) if case.keep == "others" else None
    state = {}
    for name, owner in OWNED_ROWS.items():
        found = rows(db, f"SELECT {owner} AS owner_, * FROM {name}")
        state[name] = sorted(
            (tuple(row) for row in found if row[0] != skip or skip is None), key=repr
        )
    return state


def case_headers(case: Case, people: dict[str, SandboxUser]) -> dict[str, str]:
    if case.auth == "key":
        return keyed(people[case.actor], case.body)
    if case.auth == "hotkey":
        return signed(people[case.actor], case.purpose, case.body)
    headers = dict(case.headers)
    if case.body is not None:
        headers.setdefault("Content-Type", "application/json")
    return headers


def judge(case: Case, reply: Reply, before: dict, after: dict) -> Verdict:
    if reply.status is None:
        return Verdict(case, "no reply", None, reply.error)
    if reply.status >= 500:
        return Verdict(case, "5xx", reply.status, reply.body[:200].decode(errors="replace"))
    if before != after:
        changed = [name for name in before if before[name] != after.get(name)]
        return Verdict(case, "leak", reply.status, f"rows changed: {changed}")
    asked = f"{case.path} {case.params} {(case.body or b'').decode()}"
    text = reply.body.decode(errors="replace")
    shown = [secret for secret in case.secrets if secret in text and secret not in asked]
    if shown:
        return Verdict(case, "leak", reply.status, f"reply shows {shown[:2]}")
    if case.filtered:
        return Verdict(case, "refused" if reply.status == 200 else "other-4xx", reply.status)
    if not case.refusal:
        return Verdict(case, "allowed" if reply.status < 400 else "blocked", reply.status)
    if reply.status < 400:
        return Verdict(case, "leak", reply.status, "a refusal was due")
    kind = "refused" if reply.status in case.refusal else "other-4xx"
    return Verdict(case, kind, reply.status, text[:120])


def run_cases(box: Sandbox, people: dict[str, SandboxUser], cases: list[Case]) -> list[Verdict]:
    ids = {name: user.creds.user_id for name, user in people.items()}
    verdicts = []
    with closing(read_only(box.db_path)) as db, box.http() as http:
        for case in cases:
            before = snapshot(db, ids, case)
            reply = send(
                http,
                case.method,
                case.path,
                params=list(case.params),
                content=case.body,
                headers=case_headers(case, people),
            )
            verdicts.append(judge(case, reply, before, snapshot(db, ids, case)))
    return verdicts


def deploy_as(box: Sandbox, user: SandboxUser, **changes: Any) -> None:
    raw = body_bytes(deploy_body(**changes))
    with box.http() as http:
        reply = http.post("/chutes/?accept_fee=true", content=raw, headers=keyed(user, raw))
    assert reply.status_code == 200, reply.text


def cross_targets(box: Sandbox) -> tuple[list[ChuteTarget], list[ImageTarget], list]:
    """Every chute, image and share in the database, with who may see what."""
    with closing(read_only(box.db_path)) as db:
        names = {row["user_id"]: row["username"] for row in rows(db, "SELECT * FROM users")}
        shares = [
            (names[r["shared_by"]], r["chute_id"], names[r["shared_to"]])
            for r in rows(db, "SELECT * FROM shares")
        ]
        targets = []
        for row in rows(db, "SELECT * FROM chutes ORDER BY name"):
            instance = rows(
                db, "SELECT instance_id FROM instances WHERE chute_id = ?", row["chute_id"]
            )
            spec = json.loads(row["spec"])
            targets.append(
                ChuteTarget(
                    names[row["user_id"]],
                    row["name"],
                    row["chute_id"],
                    bool(row["public"]),
                    tuple(s[2] for s in shares if s[1] == row["chute_id"]),
                    instance[0]["instance_id"] if instance else None,
                    (row["chute_id"], row["slug"], row["version"], spec["tagline"]),
                )
            )
        pictures = [
            ImageTarget(names[r["user_id"]], r["name"], r["tag"], r["image_id"], bool(r["public"]))
            for r in rows(db, "SELECT * FROM images ORDER BY name")
        ]
    return targets, pictures, shares


def cross_setup(box: Sandbox) -> dict[str, SandboxUser]:
    """A public chute (the `chutes` account's), a private one of alice's, and an instance
    on demo's shared chute, so every kind of visibility has something to look at."""
    people = {**box.users, "chutes": seeded_user(box, "chutes")}
    deploy_as(box, people["chutes"], name="public-echo", image=PUBLIC_IMAGE, public=True)
    deploy_as(box, people["alice"], name="alice-private", image=PUBLIC_IMAGE)
    with box.http() as http:
        warm = http.get("/chutes/warmup/echo-stream?quick=true", headers=keyed(people["demo"]))
    assert warm.status_code == 200, warm.text
    return people


def owner_controls(targets: list[ChuteTarget], pictures: list[ImageTarget]) -> Iterator[Case]:
    """The owner's own reads: the same paths answer when they should."""
    for t in targets:
        for ref in (t.chute_id, t.name, f"{t.owner}/{t.name}"):
            yield Case("control: owner", "GET", f"/chutes/{ref}", actor=t.owner, auth="key")
    for i in pictures:
        yield Case("control: owner", "GET", f"/images/{i.image_id}", actor=i.owner, auth="key")


@dataclass
class CrossResult:
    verdicts: list[Verdict]
    routes: Counter
    uncovered: list[str]


def cross_user(path: Path) -> CrossResult:
    with running_sandbox(path, history_limit=0, paused=True) as box:
        people = cross_setup(box)
        targets, pictures, shares = cross_targets(box)
        ids = {name: user.creds.user_id for name, user in people.items()}
        demo_chute = next(t for t in targets if t.name == "llama-mini")
        cases = [case for t in targets for case in chute_cases(t)]
        cases += [case for i in pictures for case in image_cases(i)]
        cases += listing_cases(targets, pictures, ids, [(s[0], s[1]) for s in shares])
        cases += forged_cases(box, demo_chute)
        cases += owner_controls(targets, pictures)
        cases += deploy_cases(pictures)  # last: alice's namesake changes what names find
        verdicts = run_cases(box, people, cases)
    routes = api_routes()
    reached = Counter(route_key(c.method, c.path, routes) for c in cases)
    every = {f"{m} {r.path}" for r in routes for m in r.methods}
    return CrossResult(verdicts, reached, sorted(every - set(reached)))


ATTACK_KINDS = ("refused", "other-4xx", "leak", "5xx", "no reply")


def print_cross(result: CrossResult) -> None:
    attacks = [v for v in result.verdicts if v.case.refusal or v.case.filtered]
    controls = [v for v in result.verdicts if not (v.case.refusal or v.case.filtered)]
    families: dict[str, Counter] = {}
    for verdict in attacks:
        families.setdefault(verdict.case.family, Counter())[verdict.kind] += 1
    lines = [
        (family, sum(c.values()), *(c[k] for k in ATTACK_KINDS)) for family, c in families.items()
    ]
    total = Counter(v.kind for v in attacks)
    lines.append(("total", len(attacks), *(total[k] for k in ATTACK_KINDS)))
    print(table(("family", "cases", "refused", "other 4xx", "leaks", "5xx", "no reply"), lines))
    allowed = Counter(v.kind for v in controls)
    print(
        f"allowed controls (public, shared, own): {len(controls)} tried,"
        f" {allowed['allowed']} answered 2xx, {allowed['blocked']} refused"
    )
    by_actor = Counter(v.case.actor for v in attacks)
    print("attack cases by caller: " + ", ".join(f"{a} {n}" for a, n in by_actor.items()))
    print(
        f"routes reached: {len(result.routes)} of {len(result.routes) + len(result.uncovered)};"
        f" not user-scoped, so not attacked: {', '.join(result.uncovered)} (prices, the GPU"
        " table and name checks are public; logos are public on the platform's CDN;"
        " /_sandbox/* answers this machine only). A chute's logs are its instances' logs."
    )
    for kind in ("leak", "5xx", "no reply", "other-4xx", "blocked"):
        shown = [v for v in result.verdicts if v.kind == kind][:4]
        for v in shown:
            c = v.case
            print(
                f"  {kind}: {c.actor}/{c.auth} {c.method} {c.path} {list(c.params)}"
                f" -> {v.status} {v.why[:100]!r}"
            )


# 2. fuzz


@dataclass(frozen=True)
class Template:
    """A valid request to one route; `{name}` in the path takes a value from `values`."""

    method: str
    path: str
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None  # JSON-able, or bytes sent as they are (multipart)
    purpose: str | None = None
    content_type: str = "application/json"


@dataclass
class FuzzRequest:
    route: str
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes | None
    headers: dict[str, Any]
    mutations: list[str]


# fmt: off
STRINGS = (
    "", " ", "x" * 20_000, "é" * 3000, "\u202e\u200b", "\x00", "\x1b]0;t\x07\x1b[2J",
    "../../etc/passwd", "%", "_", "' OR 1=1 --", "null", "1e400", "NaN", "-1", "0" * 400,
    "9" * 5000, "\ud800", "😀" * 200, "\r\nX-Injected: 1", "demo", "DEMO/hello-world", "/",
    "//", "a/b/c", "%2F..%2F", "\\", "*", "?", "#", "\t", "cpk_" + "0" * 98,
)
NUMBERS = (0, -1, 1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30, 10**4000, 1.5, -0.0, 1e308,
           5e-324, 0.75)
RAW_NUMBERS = (
    "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000, "1e999999999", "0x10",
    "01", "1_000", ".5", "1.", "+1", "--1", "1e", "9" * 4000,
)
QUERY_VALUES = (
    "", "-1", "1e400", "NaN", "99999999999999999999999", "9" * 5000, "true", "maybe", "\x00",
    "é", "x" * 10_000, "[]", "{}", "1.5", "0x10", " 1", "%", "_", "None", "\ud800", "-0", "+1",
    "1,2", "\r\n",
)
CONTENT_TYPES = (
    "", "text/plain", "multipart/form-data; boundary=zz", "application/json; charset=utf-16",
    "application/x-www-form-urlencoded", "image/png", "application/json\x00",
    "multipart/form-data", 'multipart/mixed; boundary="',
)
AUTH_GARBAGE = (
    "", "Bearer", "Bearer ", "Basic cpk_", "cpk_" + "f" * 98, "Bearer " + "a" * 5000,
    "Bearer eyJ.eyJ.x", "\x7f", "Basic cpk_0.0.0", "Bearer cak_x",
)
# Values near the rules of particular fields, tried on those fields half the time.
GPU_LISTS = ([], ["5090"], ["b200"], ["b200", "mi300x"], ["H100"], ["h100", "nope"],
             ["a4000"] * 1000, ["mi300x", "h100"], [""], [1])
INTERESTING: dict[str, tuple[Any, ...]] = {
    "include": GPU_LISTS, "exclude": GPU_LISTS, "gpu_count": (0, 8, 9, True),
    "min_vram_gb_per_gpu": (15, 140, 141, 288), "max_hourly_price_per_gpu": (1e-9, 9.99, 10),
    "standard_template": ("vllm", "diffusion", "tei", "other", ""),
    "revision": ("0" * 40, "A" * 40), "public": (True, "true", 1),
    "image": ("chutes/vllm:0.10.1", "demo/tts:0.2", "demo/broken:0.1", "x:y", ":", "a/b/c:d",
              "alice/hello:0.1", "DEMO/HELLO:0.1"),
    "name": ("demo/x", "ab", "x" * 128, "x" * 129, "alice/x", "UPPER", "a..b", "./x", "x/"),
    "filename": ("a.py", "A.py", "a.py.py", ".py"), "ref_str": ("a:b", "A:b", "a:", ":b"),
    "code": ("", "def (", "x" * 150_001, "\x00"),
    "jobs": ([{"name": "j", "ports": [{"name": "p", "port": 2202}]}],
             [{"name": "j", "ports": [{"name": "p", "port": 80}]}]),
    "cords": ([],), "path": ("/", "/A", "/a/b", "a", "/a-b"), "public_api_path": ("/a-b", "a"),
    "public_api_method": ("PUT", "get", None), "method": ("GET", "TRACE"),
    "concurrency": (-1, 0, 256, 257), "max_instances": (0, 100, 101),
    "scaling_threshold": (-0.0, 1, 1.0000001), "shutdown_after_seconds": (59, 604800, 604801),
    "chute_id_or_name": ("%", "_", "hello_world", "HELLO-WORLD", "demo/hello-world", ""),
    "user_id_or_name": ("%", "_", "b_b", "demo", "DEMO", "chutes", "BOB", ""),
    "advance": (1e308, 1e300, 3.15e9, 0), "pause": (True, None, "no"),
    "tagline": ("", " ", "t" * 1024, "t" * 1025), "logo_id": ("", "x" * 5000, "../x"),
}
# fmt: on


def structural(body: Any, rng: random.Random) -> tuple[Any, str]:
    """One change at a random place in a JSON value: drop, replace, nest, or add a key."""
    holders: list[tuple[Any, Any]] = []  # (container, key)
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            holders += [(value, key) for key in value]
            pending += list(value.values())
        elif isinstance(value, list):
            holders += [(value, index) for index in range(len(value))]
            pending += value
    if not holders:
        return rng.choice((*STRINGS, *NUMBERS, [], {})), "whole body replaced"
    container, key = rng.choice(holders)
    move = rng.choice(("drop", "replace", "replace", "nest", "add", "swap"))
    if move == "drop" and isinstance(container, dict):
        del container[key]
        return body, f"dropped {key}"
    if move == "nest":
        container[key] = nested(rng.choice((31, 33, 200)))
        return body, f"{key}: deep nesting"
    if move == "add" and isinstance(container, dict):
        container[rng.choice(("extra", "__proto__", "chute_id", "user_id", "balance"))] = (
            rng.choice((*STRINGS[:6], *NUMBERS[:4], None))
        )
        return body, "unknown key added"
    if move == "swap":
        current = container[key]
        container[key] = (
            ([current] if not isinstance(current, list) else {"0": current})
            if rng.random() < 0.5
            else str(current)
        )
        return body, f"{key}: type swapped"
    if key in INTERESTING and rng.random() < 0.5:
        container[key] = rng.choice(INTERESTING[key])
        return body, f"{key}: edge value"
    container[key] = rng.choice(
        (*STRINGS, *NUMBERS, None, True, False, [], {}, [1, "a"], {"a": {}})
    )
    return body, f"{key}: replaced"


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


NUMBER_TOKEN = re.compile(rb"(?<=[:\[,])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def raw_mutation(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Byte-level damage JSON parsers must survive."""
    move = rng.randrange(12)
    if move == 0:
        numbers = list(NUMBER_TOKEN.finditer(raw))
        if numbers:
            hit = rng.choice(numbers)
            token = rng.choice(RAW_NUMBERS).encode()
            return raw[: hit.start()] + token + raw[hit.end() :], f"raw number {token[:12]!r}"
        return raw.replace(b"{", b'{"n":1e400,', 1), "raw 1e400 added"
    if move == 1:
        return raw[: rng.randrange(len(raw) + 1)], "truncated"
    if move == 2:
        depth = rng.choice((33, 1000, 100_000))
        return b'{"a":' * depth + b"1" + b"}" * depth, f"raw nesting {depth}"
    if move == 3:
        depth = rng.choice((1000, 200_000))
        return b"[" * depth + b"]" * depth, f"raw list nesting {depth}"
    if move == 4:
        where = rng.randrange(len(raw) + 1)
        bad = rng.choice((b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00", b"\x80"))
        return raw[:where] + bad + raw[where:], f"bad bytes {bad!r}"
    if move == 5:
        return b"\xef\xbb\xbf" + raw, "BOM"
    if move == 6:
        return raw.decode("utf-8", "surrogateescape").encode("utf-16", "surrogatepass"), "utf-16"
    if move == 7:
        return raw.replace(b"{", b'{"tagline":"a","tagline":5,"name":[],', 1), "duplicate keys"
    if move == 8:
        return rng.choice((b"", b"null", b"[]", b'"s"', b"1", b"true", b"{}", b"{")), "tiny body"
    if move == 9:
        size = rng.choice((1_100_000, 2_500_000))
        return b'{"readme":"' + b"r" * size + b'"}', f"{size // 1000} kB body"
    if move == 10:
        return raw + rng.choice((b"garbage", b"}", b"\n\n{}", b"\x00")), "trailing garbage"
    return raw.replace(b'"', b"'"), "single quotes"


def mutate_query(
    query: list[tuple[str, str]], rng: random.Random
) -> tuple[list[tuple[str, str]], str]:
    move = rng.randrange(4)
    if move == 0 and query:
        index = rng.randrange(len(query))
        name = query[index][0]
        query[index] = (name, rng.choice(QUERY_VALUES))
        return query, f"query {name} changed"
    if move == 1 and query:
        return [pair for pair in query if rng.random() < 0.5], "query fields dropped"
    if move == 2:
        name = (
            query[0][0]
            if query and rng.random() < 0.6
            else rng.choice(
                ("page", "limit", "include_public", "quick", "backfill", "offset", "user", "x")
            )
        )
        return [*query, (name, rng.choice(QUERY_VALUES))], f"query {name} added"
    return [(k, v + rng.choice(QUERY_VALUES)) for k, v in query], "query values extended"


def mutate_path(template: Template, values: dict[str, str], rng: random.Random) -> tuple[str, str]:
    names = list(template.values)
    if names:
        name = rng.choice(names)
        values[name] = rng.choice(
            (
                *STRINGS,
                str(uuid.uuid4()),
                values[name] + rng.choice(STRINGS[:8]),
                values[name].upper(),
            )
        )
        return fill(template.path, values, safe=rng.choice(("", "/"))), f"path {name} changed"
    suffix = rng.choice(("/x", "//", "/..", "%00", "/" + "a" * 5000, "?", "%2F"))
    return template.path + suffix, "path extended"


def fill(path: str, values: dict[str, str], safe: str = "") -> str:
    """`path` with each `{name}` or `{name:path}` replaced by its percent-encoded value."""
    for name, value in values.items():
        encoded = quote(value, safe=safe, errors="surrogatepass")
        path = re.sub(rf"\{{{name}(:path)?\}}", encoded.replace("\\", "\\\\"), path)
    return path


def mutate_headers(
    headers: dict[str, Any], rng: random.Random, demo: SandboxUser
) -> tuple[dict[str, Any], str]:
    move = rng.randrange(5)
    if move == 0:
        return {"Authorization": rng.choice(AUTH_GARBAGE)}, "garbage Authorization"
    if move == 1:
        hotkey = rng.choice((demo.creds.hotkey, "5" + "A" * 47, "", "é", "x" * 5000))
        nonce = rng.choice((str(int(time.time())), "", "-1", "1e3", "9" * 20, "9" * 21, "٣"))
        signature = rng.choice(("zz", "abc", "00" * 64, "0x" + "00" * 64, "00" * 10_000, "é"))
        fields = {
            "X-Chutes-Hotkey": hotkey,
            "X-Chutes-Nonce": nonce,
            "X-Chutes-Signature": signature,
        }
        encoded = {k: v.encode("utf-8") for k, v in fields.items()}
        return {**headers, **encoded}, "garbage hotkey headers"
    if move == 2:
        return {**headers, "Content-Type": rng.choice(CONTENT_TYPES)}, "content type changed"
    if move == 3:
        return {**headers, "X-Chutes-UserID": rng.choice(STRINGS[:12]).encode()}, "user id header"
    return {}, "no credentials"


def fuzz_request(template: Template, rng: random.Random, demo: SandboxUser) -> FuzzRequest:
    """A valid request, then one to three mutations, signed as demo by key or hotkey."""
    values = {name: rng.choice(pool) for name, pool in template.values.items()}
    if isinstance(template.body, dict) and "code" in template.body:
        fresh = rng.getrandbits(48)  # a new chute each time, so deploys get past the 409
        template = replace(
            template, body={**template.body, "name": f"fuzz-{fresh:x}", "code": f"print({fresh})\n"}
        )
    path = fill(template.path, values)
    query = list(template.query)
    body = json.loads(json.dumps(template.body)) if not isinstance(template.body, bytes) else None
    raw = template.body if isinstance(template.body, bytes) else None
    mutations: list[str] = []
    targets = ["path", "query", "headers"]
    if template.body is not None:
        targets += ["body", "body", "raw"] if body is not None else ["raw", "raw"]
    chosen = [rng.choice(targets) for _ in range(rng.choice((1, 1, 2, 3)))]
    for target in chosen:
        if target == "path":
            path, what = mutate_path(template, values, rng)
        elif target == "query":
            query, what = mutate_query(query, rng)
        elif target == "body" and body is not None:
            body, what = structural(body, rng)
        elif target in ("raw", "body"):
            raw, what = raw_mutation(raw if raw is not None else json_bytes(body), rng)
            body = None
        else:
            continue
        mutations.append(what)
    content = raw if raw is not None else (json_bytes(body) if body is not None else None)
    use_hotkey = rng.random() < 0.2
    headers: dict[str, Any] = (
        signed(demo, template.purpose, content) if use_hotkey else demo.key_headers()
    )
    if content is not None:
        headers["Content-Type"] = template.content_type
    if "headers" in chosen:
        headers, what = mutate_headers(headers, rng, demo)
        mutations.append(what)
    route = f"{template.method} {template.path}"
    return FuzzRequest(route, template.method, path, query, content, headers, mutations)


def json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except ValueError:  # an integer too long to print
        return b'{"n":' + b"9" * 4400 + b"}"


def logo_body() -> tuple[bytes, str]:
    boundary = "fuzzboundary"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="logo"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def fuzz_templates(box: Sandbox, demo: SandboxUser) -> list[Template]:
    with closing(read_only(box.db_path)) as db:
        chute_ids = tuple(r[0] for r in rows(db, "SELECT chute_id FROM chutes ORDER BY name"))
        doomed = tuple(
            r[0] for r in rows(db, "SELECT chute_id FROM chutes WHERE name != ?", "hello-world")
        )
        instance = rows(db, "SELECT instance_id FROM instances")[0]["instance_id"]
        building = rows(db, "SELECT image_id FROM images WHERE status = 'building'")[0][0]
        image_ids = tuple(r["image_id"] for r in rows(db, "SELECT image_id FROM images"))
    names = ("hello-world", "echo-stream", "llama-mini", "demo/hello-world")
    refs = (*chute_ids, *names)
    logo, logo_type = logo_body()
    share = {"chute_id_or_name": "hello-world", "user_id_or_name": "bob"}
    listing = (("include_public", "true"), ("name", "hello"), ("page", "0"), ("limit", "25"))
    listing = (*listing, ("template", "vllm"), ("slug", "demo-%"), ("include_schemas", "true"))
    # fmt: off
    update = {"tagline": "t", "readme": "r", "tool_description": "d", "logo_id": None,
              "max_instances": 2, "scaling_threshold": 0.5, "shutdown_after_seconds": 600}
    return [
        Template("GET", "/users/me", purpose="me"),
        Template("GET", "/users/name_check", query=(("username", "demo"),)),
        Template("GET", "/users/{user_id}/shares", {"user_id": ("me", demo.creds.user_id)}),
        Template("GET", "/pricing"),
        Template("GET", "/nodes/supported"),
        Template("GET", "/images/", query=(*listing, ("tag", "0.1")), purpose="images"),
        Template("GET", "/images/{image_id}/logs", {"image_id": (building,)}, (("offset", "1"),),
                 purpose="images"),
        Template("GET", "/images/{ref:path}", {"ref": (*image_ids, "demo/hello:0.1", "tts:0.2")},
                 purpose="images"),
        Template("DELETE", "/images/{ref:path}",
                 {"ref": ("demo/next:0.3", "broken:0.1", *image_ids)}, purpose="images"),
        Template("GET", "/chutes/", query=listing, purpose="chutes"),
        Template("GET", "/chutes/code/{chute_id}", {"chute_id": chute_ids}, purpose="chutes"),
        Template("POST", "/chutes/share", body=share),
        Template("POST", "/chutes/unshare", body=share),
        Template("GET", "/chutes/{ref:path}", {"ref": refs}, purpose="chutes"),
        Template("PUT", "/chutes/{ref:path}", {"ref": refs}, body=update),
        Template("DELETE", "/chutes/{ref:path}", {"ref": (*doomed, "llama-mini")},
                 purpose="chutes"),
        Template("POST", "/chutes/", query=(("accept_fee", "true"),),
                 body=deploy_body(name="fuzz-chute")),
        Template("GET", "/chutes/warmup/{ref:path}", {"ref": refs}, (("quick", "true"),),
                 purpose="chutes"),
        Template("GET", "/instances/{instance_id}/logs", {"instance_id": (instance,)},
                 (("backfill", "5"),), purpose="logs"),
        Template("POST", "/logos/", body=logo, content_type=logo_type),
        Template("GET", "/logos/{name}", {"name": (f"{uuid.uuid4()}.webp", "x.png")}),
        Template("GET", "/_sandbox/clock"),
        Template("POST", "/_sandbox/clock", body={"pause": False, "advance": 1}),
        Template("GET", "/_sandbox/credentials", query=(("user", "demo"),)),
    ]
    # fmt: on


@dataclass
class FuzzResult:
    cases: int
    fixed: int
    per_route: dict[str, Counter]
    failures: list[tuple[FuzzRequest, Reply]]
    logged: list[str]
    seconds: float
    uncovered: list[str]


class ErrorLog(logging.Handler):
    """Errors the server logs while the fuzz runs (a 500 it answered, or a crash after the
    reply began, which no status shows)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


def fuzz(path: Path, count: int, seed: int) -> FuzzResult:
    rng = random.Random(seed)
    routes = api_routes()
    watch = ErrorLog()
    loggers = [logging.getLogger(name) for name in ("chutes_tui.sandbox", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(watch)
    started = time.perf_counter()
    per_route: dict[str, Counter] = {}
    failures: list[tuple[FuzzRequest, Reply]] = []
    try:
        with running_sandbox(path, history_limit=0) as box:
            set_balance(box.db_path, "demo", 1e9)
            demo = box.users["demo"]
            templates = fuzz_templates(box, demo)
            randoms = (
                fuzz_request(templates[number % len(templates)], rng, demo)
                for number in range(count)
            )
            probes = clock_probes(demo)
            with httpx.Client(base_url=box.url, timeout=30) as http:
                for request in itertools.chain(randoms, probes):  # made one at a time
                    target = with_query(request.path, request.query)
                    reply = send(
                        http, request.method, target, content=request.body, headers=request.headers
                    )
                    tally = per_route.setdefault(request.route, Counter())
                    tally[status_class(reply)] += 1
                    if status_class(reply) in ("5xx", "no reply"):
                        failures.append((request, reply))
    finally:
        for logger in loggers:
            logger.removeHandler(watch)
    every = {f"{m} {r.path}" for r in routes for m in r.methods}
    return FuzzResult(
        count,
        len(probes),
        per_route,
        failures,
        watch.messages,
        time.perf_counter() - started,
        sorted(every - set(per_route)),
    )


def clock_probes(demo: SandboxUser) -> list[FuzzRequest]:
    """After the random cases: a new chute (its instance pending), the clock pushed as far as
    it goes, then what reads it. Two advances of 1e308 once made quick warmup answer 500."""
    json_type = {**demo.key_headers(), "Content-Type": "application/json"}
    probe = body_bytes(deploy_body(name="clock-probe", code="print('clock')\n"))
    pushes = (b'{"advance":1e308}',) * 3 + (b'{"advance":9.9e11}', b'{"advance":1e11}')
    steps = [("POST /chutes/", "POST", "/chutes/", [("accept_fee", "true")], probe)]
    steps += [("POST /_sandbox/clock", "POST", "/_sandbox/clock", [], push) for push in pushes]
    steps += [
        (
            "GET /chutes/warmup/{ref:path}",
            "GET",
            "/chutes/warmup/clock-probe",
            [("quick", "true")],
            None,
        ),
        ("GET /users/me", "GET", "/users/me", [], None),
        ("GET /chutes/", "GET", "/chutes/", [("include_public", "true")], None),
        ("GET /chutes/{ref:path}", "GET", "/chutes/clock-probe", [], None),
        ("GET /_sandbox/clock", "GET", "/_sandbox/clock", [], None),
    ]
    return [
        FuzzRequest(route, method, path, query, body, json_type, ["clock pushed"])
        for route, method, path, query, body in steps
    ]


def with_query(path: str, query: list[tuple[str, str]]) -> str:
    """The query written out by hand: httpx cannot encode a lone surrogate."""
    if not query:
        return path
    return f"{path}?{urlencode(query, quote_via=quote, errors='surrogatepass')}"


def status_class(reply: Reply) -> str:
    if reply.status is None:
        return NOT_SENT if reply.error.startswith(NOT_SENT) else "no reply"
    return f"{reply.status // 100}xx"


def print_fuzz(result: FuzzResult) -> None:
    kinds = ("2xx", "4xx", "5xx", "no reply", NOT_SENT)
    lines = [
        (route, sum(c.values()), *(c[k] for k in kinds))
        for route, c in sorted(result.per_route.items())
    ]
    total: Counter = Counter()
    for tally in result.per_route.values():
        total.update(tally)
    lines.append(("total", result.cases + result.fixed, *(total[k] for k in kinds)))
    print(table(("route", "cases", "2xx", "4xx", "5xx", "no reply", "not sent"), lines))
    print(
        f"{result.cases} random cases and {result.fixed} fixed ones (the clock pushed to its"
        f" limit, then read) in {result.seconds:.1f} s;"
        f" routes not fuzzed: {', '.join(result.uncovered) or 'none'};"
        f" server errors logged: {len(result.logged)}; not sent: the HTTP client itself"
        " refused them (a newline or NUL in a header)"
    )
    for request, reply in result.failures[:5]:
        body = (request.body or b"")[:160]
        print(
            f"  {reply.status or reply.error}: {request.method} {request.path[:120]}"
            f" query={request.query!r:.120} body={body!r} mutations={request.mutations}"
        )
    for message in result.logged[:5]:
        print(f"  logged: {message}")


# 3. concurrent deploys on a small balance


@dataclass
class RaceResult:
    attempts: int
    fee: float
    start: float
    statuses: Counter
    end: float
    lowest: float
    made: int


def deploy_race(path: Path, attempts: int, covered: int) -> RaceResult:
    """The hardening test's race: each deploy is authenticated and half-sent before any
    finishes, so all of them meet the balance at once."""
    with running_sandbox(path, history_limit=0) as box:
        selector = NodeSelector(**deploy_body()["node_selector"])
        fee = deployment_fee(selector, box.settings.gpu_table, box.settings.fee_formula)
        start = covered * fee + 0.1  # the platform refuses a balance equal to the fee
        set_balance(box.db_path, "demo", start)
        lowest, stop = [start], threading.Event()
        poller = threading.Thread(target=poll_balance, args=(box.db_path, lowest, stop))
        poller.start()
        statuses = race(box, attempts)
        stop.set()
        poller.join()
        made = box.query("SELECT COUNT(*) AS n FROM chutes WHERE name LIKE 'race-%'")[0]["n"]
        end = balance_of(box, "demo")
    return RaceResult(attempts, fee, start, Counter(statuses), end, min(*lowest, end), made)


def poll_balance(db_path: Path, lowest: list[float], stop: threading.Event) -> None:
    with closing(read_only(db_path)) as db:
        while not stop.is_set():
            row = rows(db, "SELECT balance FROM users WHERE username = 'demo'")[0]
            lowest[0] = min(lowest[0], row["balance"])
            time.sleep(0.001)


def race(box: Sandbox, attempts: int) -> list[int]:
    headers = {**box.users["demo"].key_headers(), "Content-Type": "application/json"}
    gate = threading.Barrier(attempts)
    statuses: list[int] = []

    def slow_body(raw: bytes) -> Iterator[bytes]:
        yield raw[: len(raw) // 2]
        gate.wait()
        time.sleep(0.3)  # lets the server take in every half first; not a timing budget
        yield raw[len(raw) // 2 :]

    def one(number: int) -> None:
        raw = body_bytes(deploy_body(name=f"race-{number}"))
        sized = {**headers, "Content-Length": str(len(raw))}
        with httpx.Client(base_url=box.url, timeout=HANG_GUARD) as http:
            reply = http.post("/chutes/?accept_fee=true", content=slow_body(raw), headers=sized)
        statuses.append(reply.status_code)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD)
    return statuses


# fmt: off
RACE_COLUMNS = ("deploys", "fee $", "balance before", "200", "402", "other", "balance after",
                "lowest seen", "chutes made")
# fmt: on


def print_race(r: RaceResult) -> None:
    other = sum(n for status, n in r.statuses.items() if status not in (200, 402))
    money = [f"{value:.4f}" for value in (r.start, r.end, r.lowest)]
    line = (r.attempts, f"{r.fee:.2f}", money[0], r.statuses[200], r.statuses[402], other)
    print(table(RACE_COLUMNS, [(*line, money[1], money[2], r.made)]))
    spent = r.start - r.end
    print(
        f"spent {spent:.4f} = {spent / r.fee:.2f} fees for {r.statuses[200]} deploys;"
        f" never negative: {'yes' if r.lowest >= 0 else 'NO'}"
    )


# 4. kill -9 rounds


@dataclass
class KillRound:
    number: int
    acked: int
    acked_by_kind: str  # tagline/share/deploy
    rejected: int
    unknown: int
    in_flight: int | None
    crash_check: str
    lost: list[str]

    def row(self) -> tuple[Any, ...]:
        counts = (self.acked, self.acked_by_kind, self.rejected, self.unknown, self.in_flight)
        return (self.number, *counts, len(self.lost), self.crash_check)


WRITE_KINDS = ("tagline", "share", "deploy")


def kill_rounds(path: Path, count: int) -> tuple[list[KillRound], str]:
    path.mkdir(parents=True, exist_ok=True)
    server = Server(path / "sandbox.db", path / "server.log", extra=("--history-limit", "0"))
    results = []
    try:
        server.start()
        key = api_key(server.db, "demo")
        for number in range(1, count + 1):
            results.append(kill_round(server, key, number))
        server.stop()
    finally:
        server.stop()
    check, foreign = durability.integrity(server.db)
    return results, f"{check}, {len(foreign)} foreign-key problems"


def kill_round(server: Server, key: str, number: int) -> KillRound:
    set_balance(server.db, "demo", 1000.0)  # fees of every round's deploys
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=10) as http:
        before = durability.read_before(http, server.db)
    ledger, in_flight = durability.burst_then_kill(server, key, prefix=f"kill{number}x")
    if in_flight is None:  # never got there, so never killed: stop it before the restart
        server.stop()
    check, foreign = durability.crash_integrity(server.db)
    server.start()
    with httpx.Client(base_url=server.url, headers={"Authorization": key}, timeout=10) as http:
        lost = durability.lost_writes(http, ledger, before)
    return KillRound(
        number,
        ledger.count(durability.ACKED),
        "/".join(str(ledger.count(durability.ACKED, kind)) for kind in WRITE_KINDS),
        ledger.count(durability.REJECTED),
        ledger.count(durability.UNKNOWN),
        in_flight,
        f"{check}/{len(foreign)} fk",
        lost,
    )


# fmt: off
KILL_COLUMNS = ("round", "acked writes", "tagline/share/deploy", "rejected", "outcome unknown",
                "in flight at kill", "lost", "crash copy integrity")
# fmt: on


def print_kills(results: list[KillRound], final: str) -> None:
    print(table(KILL_COLUMNS, [r.row() for r in results]))
    print(
        f"{len(results)} rounds, {sum(r.acked for r in results)} acknowledged writes,"
        f" {sum(len(r.lost) for r in results)} lost; integrity after the last restart: {final}"
    )
    for r in results:
        for problem in r.lost[:3]:
            print(f"  round {r.number} lost: {problem}")


# 5. fake servers against the headless CLI

DEADLINE, STREAM_IDLE = 3.0, 3.0  # the client's limits for this section (defaults 30 and 60)
FAKE_WORKERS = 4  # commands run at once: most of their time is waiting
API_KEY = "cpk_" + "0123456789abcdef" * 2 + "." + "fedcba9876543210" * 2 + "." + "A1" * 16
INSTANCE = "3f2e1d0c-b9a8-4765-8432-10fedcba9876"
CHUTE = {
    "chute_id": "8d7c3f0e-2b1a-5c4d-9e8f-0a1b2c3d4e5f",
    "name": "hello-world",
    "version": "5d3b1c3e-0000-5000-8000-000000000001",
    "image": {"image_id": "i-1", "name": "hello", "tag": "0.1", "status": "built and pushed"},
    "user": {"username": "demo", "user_id": "u-1"},
    "node_selector": {"gpu_count": 1, "min_vram_gb_per_gpu": 16},
    "cords": [],
    "instances": [{"instance_id": INSTANCE, "active": True, "verified": True}],
}
ESCAPES = "\x1b]0;pwned title\x07\x1b[2J\x1b[31mred\rOVERWRITE\x9b2J\x00\x08\x7f tail"
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Connection: close\r\n\r\n"
)
CONNECTED = b'data: {"event": "connected", "filename": "current"}\n\n'


@dataclass
class FakeRequest:
    method: str
    path: str
    reader: asyncio.StreamReader


Handler = Callable[[FakeRequest, asyncio.StreamWriter], Awaitable[None]]


class FakeApi:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target = head.split(b" ", 2)[:2]
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            path = target.decode("latin-1").split("?", 1)[0]
            await self.handler(FakeRequest(method.decode(), path, reader), writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def response(status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def always(
    status: int, detail: Any, *headers: tuple[str, str], raw: bytes | None = None
) -> Handler:
    body = raw if raw is not None else json.dumps({"detail": detail}).encode()
    kind = ("Content-Type", "application/json" if raw is None else "text/html")

    async def handler(request: FakeRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(response(status, body, (kind, *headers)))

    return handler


async def trickle(request: FakeRequest, writer: asyncio.StreamWriter) -> None:
    """A 200 that promises a body and sends one byte every two seconds."""
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n"
    )
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(2.0)


async def never(request: FakeRequest, writer: asyncio.StreamWriter) -> None:
    """Takes the request and says nothing until the client hangs up."""
    await request.reader.read()


def stream(
    events: bytes, then: str = "close"
) -> Callable[[FakeRequest, asyncio.StreamWriter], Awaitable[None]]:
    """An event stream: `events`, then close, or go silent until the client hangs up."""

    async def handler(request: FakeRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + events)
        await writer.drain()
        if then == "silent":
            await request.reader.read()

    return handler


def chute_api(instance_logs: Handler | None = None, warmup: Handler | None = None) -> Handler:
    """`GET /chutes/hello-world` answers a chute with one instance; streams as given."""

    async def handler(request: FakeRequest, writer: asyncio.StreamWriter) -> None:
        if request.path.startswith("/instances/") and instance_logs:
            await instance_logs(request, writer)
        elif request.path.startswith("/chutes/warmup/") and warmup:
            await warmup(request, writer)
        else:
            body = json.dumps(CHUTE).encode()
            writer.write(response(200, body, (("Content-Type", "application/json"),)))

    return handler


def sse_json(*payloads: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(p)}\n\n".encode() for p in payloads)


@dataclass(frozen=True)
class FakeCase:
    name: str
    handler: Handler | None  # None: nothing listens on the port
    command: tuple[str, ...]
    expect: int
    interrupt_after: float | None = None


def fake_cases() -> list[FakeCase]:
    cold = {"status": "cold", "log": "waiting for instances ..."}
    hot = {"status": "hot", "log": "chute is hot, 1 instances available"}
    huge = "5MB:" + "A" * 5_000_000
    far = "Wed, 21 Oct 2099 07:28:00 GMT"
    get = ("chutes", "get", "hello-world")
    logs = ("logs", "hello-world", "--backfill", "5")
    wait = ("warmup", "hello-world", "--wait", "--timeout")
    silent_logs = chute_api(stream(CONNECTED, "silent"))
    cut_logs = chute_api(stream(CONNECTED + b'data: {"log": "half a li'))
    dirty_logs = chute_api(stream(CONNECTED + sse_json({"log": ESCAPES}) + b".\n\n", "silent"))
    dirty_warmup = chute_api(warmup=stream(sse_json({**cold, "log": ESCAPES}, hot)))
    detail_list = [{"loc": ["body", "x"], "msg": ESCAPES}]
    text = ("--output", "table")
    # fmt: off
    return [
        FakeCase("trickle 1 byte / 2 s", trickle, get, 7),
        FakeCase("never answers", never, ("me",), 7),
        FakeCase("500 always", always(500, "boom"), ("chutes", "list"), 8),
        FakeCase("502 always", always(502, "bad gateway"), get, 8),
        FakeCase("503 always", always(503, "unavailable"), ("images", "list"), 8),
        FakeCase("503 Retry-After: 1", always(503, "busy", ("Retry-After", "1")), ("me",), 8),
        FakeCase("429 Retry-After: 3600", always(429, "slow", ("Retry-After", "3600")), ("me",), 8),
        FakeCase("429 Retry-After: 2099 date", always(429, "later", ("Retry-After", far)),
                 ("chutes", "list"), 8),
        FakeCase("401 detail", always(401, "Invalid token or user not found"), ("me",), 3),
        FakeCase("402 detail", always(402, "Account balance is $0.0"), ("warmup", "hello-world"),
                 6),
        FakeCase("403 detail", always(403, "not yours"), get, 3),
        FakeCase("404 detail", always(404, "Chute not found"), get, 4),
        FakeCase("409 detail", always(409, "in use"), ("chutes", "delete", "hello-world", "--yes"),
                 5),
        FakeCase("422 detail list", always(422, detail_list), ("share", "hello-world", "bob"), 2),
        FakeCase("5 MB detail", always(404, huge), get, 4),
        FakeCase("escapes in detail", always(403, ESCAPES), get, 3),
        FakeCase("escapes in detail, table", always(403, ESCAPES), (*get, *text), 3),
        FakeCase("200, HTML not JSON", always(200, None, raw=b"<html>\x1b[2J</html>"), ("me",), 8),
        FakeCase("connection refused", None, ("me",), 8),
        FakeCase("log stream goes silent", silent_logs, logs, 8),
        FakeCase("silent log --follow, ctrl+c", silent_logs, ("logs", "hello-world", "--follow"),
                 130, interrupt_after=8.0),
        FakeCase("log stream cut mid-event", cut_logs, logs, 8),
        FakeCase("escapes in log lines", dirty_logs, logs, 0),
        FakeCase("escapes in log lines, text", dirty_logs, (*logs, *text), 0),
        FakeCase("warmup closes after each event", chute_api(warmup=stream(sse_json(cold))),
                 (*wait, "6"), 7),
        FakeCase("warmup cut mid-event", chute_api(warmup=stream(b'data: {"status": "co')),
                 (*wait, "5"), 7),
        FakeCase("escapes in warmup events", dirty_warmup, (*wait, "5"), 0),
        FakeCase("escapes in warmup events, text", dirty_warmup, (*wait, "5", *text), 0),
    ]
    # fmt: on


@dataclass
class FakeRun:
    case: FakeCase
    code: int | None
    seconds: float
    stderr: bytes
    stdout: bytes


def isolated_env(home: Path) -> dict[str, str]:
    """No credentials, profiles or preferences from this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUTES", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONUNBUFFERED="1",
        CHUTES_TUI_DEADLINE=f"{DEADLINE:g}",
        CHUTES_TUI_STREAM_IDLE=f"{STREAM_IDLE:g}",
    )
    return env


def run_headless(case: FakeCase, url: str, env: dict[str, str]) -> FakeRun:
    argv = [sys.executable, "-m", "chutes_tui", "--no-ui", "--api-url", url, "--api-key", API_KEY]
    started = time.perf_counter()
    child = subprocess.Popen(
        [*argv, *case.command],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            out, err = child.communicate(timeout=case.interrupt_after or HANG_GUARD)
        except subprocess.TimeoutExpired:
            if case.interrupt_after is None:
                raise
            child.send_signal(signal.SIGINT)  # ctrl+c; communicate again loses no output
            out, err = child.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        return FakeRun(case, None, time.perf_counter() - started, err, out)
    return FakeRun(case, child.returncode, time.perf_counter() - started, err, out)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def fake_servers(path: Path) -> tuple[list[FakeRun], float]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-apis", daemon=True)
    thread.start()
    env = isolated_env(path)
    cases = fake_cases()
    apis = [FakeApi(case.handler) if case.handler else None for case in cases]

    def on_loop(coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()  # type: ignore[arg-type]

    urls = [on_loop(api.start()) if api else closed_port() for api in apis]
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(FAKE_WORKERS) as pool:
            runs = list(
                pool.map(
                    lambda pair: run_headless(pair[0], pair[1], env), zip(cases, urls, strict=True)
                )
            )
    finally:
        for api in apis:
            if api:
                on_loop(api.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    return runs, time.perf_counter() - started


# fmt: off
FAKE_COLUMNS = ("case", "command", "exit (want)", "wall s", "ctl in stderr", "ctl in stdout",
                "stderr B")
# fmt: on


def fake_line(run: FakeRun) -> tuple[Any, ...]:
    code = "hung" if run.code is None else run.code
    dirty = ["yes" if CONTROL_BYTES.search(text) else "no" for text in (run.stderr, run.stdout)]
    command = " ".join(run.case.command)
    wall = f"{run.seconds:.1f}"
    return (run.case.name, command, f"{code} ({run.case.expect})", wall, *dirty, len(run.stderr))


def print_fakes(runs: list[FakeRun], seconds: float) -> None:
    print(table(FAKE_COLUMNS, [fake_line(run) for run in runs]))
    print(
        f"{len(runs)} cases in {seconds:.1f} s, {FAKE_WORKERS} at a time. Each runs"
        " `chutes-tui --no-ui --api-url http://127.0.0.1:<port> --api-key cpk_...` + command,"
        f" with CHUTES_TUI_DEADLINE={DEADLINE:g} and CHUTES_TUI_STREAM_IDLE={STREAM_IDLE:g}"
        " (30 s and 60 s otherwise); retries (3), backoff (0.5 s, at most 8 s) and the 60 s"
        " Retry-After cap are the defaults"
    )
    for run in runs:
        if run.code != run.case.expect:
            tail = run.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            print(f"  {run.case.name}: exit {run.code}, wanted {run.case.expect}: {tail[0][:160]}")


# the run


SECTIONS = ("cross", "fuzz", "race", "kill", "fake")


def heading(number: int, title: str) -> None:
    print(f"\n== {number}. {title}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=20000, metavar="N", help="fuzz cases")
    parser.add_argument("--kill-rounds", type=int, default=3, metavar="K")
    parser.add_argument("--seed", type=int, default=1, help="fuzz seed")
    parser.add_argument("--deploys", type=int, default=12, help="concurrent deploys in the race")
    parser.add_argument("--covered", type=int, default=5, help="deploys the balance covers")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="which sections to run")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.sections.split(",")]
    musts: list[tuple[str, float]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adversarial-") as tmp:
        base = Path(tmp)
        if "cross" in chosen:
            heading(1, "cross-user access (seeded users, API key and hotkey, and anonymous)")
            cross = cross_user(base / "cross")
            print_cross(cross)
            kinds = Counter(v.kind for v in cross.verdicts)
            musts += [("cross-user leaks", kinds["leak"]), ("cross-user 5xx", kinds["5xx"])]
        if "fuzz" in chosen:
            heading(2, f"fuzz ({args.fuzz} cases, seed {args.seed}, authenticated as demo)")
            result = fuzz(base / "fuzz", args.fuzz, args.seed)
            print_fuzz(result)
            musts += [
                ("fuzz 5xx or no reply", len(result.failures)),
                ("fuzz server errors logged", len(result.logged)),
            ]
        if "race" in chosen:
            heading(3, f"{args.deploys} concurrent new-chute deploys, balance for {args.covered}")
            outcome = deploy_race(base / "race", args.deploys, args.covered)
            print_race(outcome)
            musts.append(("race: lowest balance below zero", int(outcome.lowest < 0)))
        if "kill" in chosen:
            heading(4, f"kill -9 rounds ({args.kill_rounds})")
            rounds, final = kill_rounds(base / "kill", args.kill_rounds)
            print_kills(rounds, final)
            musts.append(("kill: lost acknowledged writes", sum(len(r.lost) for r in rounds)))
            musts.append(("kill: rounds never killed", sum(r.in_flight is None for r in rounds)))
            bad = sum(not r.crash_check.startswith("ok/0") for r in rounds)
            musts.append(("kill: integrity problems", bad + int(not final.startswith("ok, 0"))))
        if "fake" in chosen:
            heading(5, "fake servers against `chutes-tui --no-ui`")
            runs, seconds = fake_servers(base / "fake")
            print_fakes(runs, seconds)
            musts += [
                (
                    "fake: raw control bytes on stderr",
                    sum(bool(CONTROL_BYTES.search(r.stderr)) for r in runs),
                ),
                ("fake: unexpected exit codes", sum(r.code != r.case.expect for r in runs)),
            ]
    print(f"\n== must be zero (all sections in {time.perf_counter() - started:.0f} s)")
    for name, value in musts:
        print(f"  {name}: {value}{'' if not value else '   <-- FAIL'}")
    return 1 if any(value for _, value in musts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
