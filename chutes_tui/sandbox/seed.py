"""Seed data: users with keys, standard and demo images, a few demo chutes.

Each database gets a random secret on creation; every seeded credential is derived from
it, so `chutes-tui sandbox config` can print a user's keys again without storing them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chutes_tui.sandbox import keys
from chutes_tui.sandbox.buildlog import BuildRequest, script
from chutes_tui.sandbox.lookup import chute_uid, image_uid
from chutes_tui.sandbox.storage import ChuteRow, Store, now_iso

if TYPE_CHECKING:
    from chutes_tui.core.pricing import GpuTable

SDK_VERSION = "0.6.9"
ALWAYS_ON = 10 * 365 * 86400.0
Clock = Callable[[], str]  # the seeded timestamps: one fixed stamp, or the time of writing


@dataclass(frozen=True)
class SeedUser:
    username: str
    balance: float
    permissions: int


USERS = (
    SeedUser("chutes", 0.0, 1 << 0 | 1 << 4 | 1 << 11),
    SeedUser("demo", 50.0, 1 << 0),
    SeedUser("alice", 20.0, 1 << 0),
    SeedUser("bob", 10.0, 0),
)

STANDARD_IMAGES = (
    ("vllm", "0.10.1", "vLLM inference server with the chutes SDK."),
    ("sglang", "0.5.1", "SGLang inference server with the chutes SDK."),
    ("diffusion", "0.35.0", "Diffusers pipeline runtime with the chutes SDK."),
    ("tei", "1.8.0", "Text Embeddings Inference with the chutes SDK."),
)
# The standard images SDK 0.6.9's templates name (chutes/image/standard/*.py), built and
# public like on the platform, with the log of a build from these Dockerfiles.
SDK_STANDARD_IMAGES = (
    (
        "vllm",
        "nightly-2025111700",
        "## vLLM - fast, flexible LLM inference (nightly build)",
        "FROM parachutes/python:3.12\n"
        "RUN pip install --no-cache wheel packaging blobfile tiktoken\n"
        "RUN pip install -U vllm --extra-index-url https://wheels.vllm.ai/nightly accelerate\n"
        "RUN pip install -U transformers 'numpy<2.3'",
    ),
    (
        "sglang",
        "nightly-2025111800",
        "## SGLang - fast serving for large language and vision language models (nightly build)",
        "FROM parachutes/python:3.12\n"
        "RUN pip install --upgrade datasets blobfile tiktoken setuptools wheel xgrammar\n"
        "RUN git clone -b chutes https://github.com/chutesai/sglang sglang_src"
        " && pip install sglang transformers\n"
        "ENV SGLANG_ENABLE_JIT_DEEPGEMM=1",
    ),
    (
        "diffusion",
        "0.34.0.po",
        "## Diffusion pipelines",
        "FROM parachutes/python:3.12\n"
        "RUN pip install diffusers==0.34.0 transformers accelerate safetensors protobuf"
        " sentencepiece",
    ),
)
DEMO_IMAGES = (
    ("hello", "0.1", "built and pushed"),
    ("tts", "0.2", "building"),
    ("broken", "0.1", "error: Step 4/9 : RUN pip install torch==9.9 -- no matching distribution"),
    ("next", "0.3", "pending build"),
)

HELLO_CODE = """from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="hello-world",
    image="demo/hello:0.1",
    tagline="Says hello back",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    return f"hello, {text}"
"""


@dataclass(frozen=True)
class SeedChute:
    """One of the demo user's chutes: `hot` starts it with a running instance."""

    name: str
    image: str
    tagline: str
    selector: dict[str, int]
    shutdown_after: int
    hot: bool = False
    shared_with: str | None = None
    template: str | None = None


DEMO_CHUTES = (
    SeedChute("hello-world", "demo/hello:0.1", "Says hello back", {"gpu_count": 1}, 300, hot=True),
    SeedChute(
        "echo-stream",
        "demo/hello:0.1",
        "Streams your words back",
        {"gpu_count": 1, "min_vram_gb_per_gpu": 24},
        300,
        shared_with="alice",
    ),
    SeedChute(
        "llama-mini",
        "chutes/vllm:0.10.1",
        "A small Llama for tests",
        {"gpu_count": 2, "min_vram_gb_per_gpu": 48},
        600,
        template="vllm",
    ),
)


@dataclass(frozen=True)
class Credentials:
    username: str
    user_id: str
    hotkey_seed: str
    hotkey: str
    payment_address: str
    api_key: str


def _secret(store: Store) -> str:
    value = store.scalar("SELECT value FROM meta WHERE key = 'secret'")
    if isinstance(value, str):
        return value
    value = secrets.token_hex(32)
    with store.tx() as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)", (value,))
    return value


def _derive(secret: str, username: str, purpose: str) -> str:
    return hashlib.sha256(f"{secret}:{username}:{purpose}".encode()).hexdigest()


def credentials(store: Store, username: str) -> Credentials:
    """The derived credentials of a seeded user (the user must exist)."""
    secret = _secret(store)
    seed = _derive(secret, username, "hotkey")
    fingerprint = _derive(secret, username, "fingerprint")
    user_id = str(uuid.uuid5(uuid.NAMESPACE_OID, hashlib.blake2b(fingerprint.encode()).hexdigest()))
    key_id = str(uuid.UUID(_derive(secret, username, "api_key_id")[:32]))
    tail = _derive(secret, username, "api_key")[:32]
    api_key = f"cpk_{uuid.UUID(key_id).hex}.{uuid.UUID(user_id).hex}.{tail}"
    payment = keys.hotkey_from_seed(_derive(secret, username, "payment"))
    return Credentials(username, user_id, seed, keys.hotkey_from_seed(seed), payment, api_key)


def seed(store: Store, stamp: str | None = None, extra_chutes: int = 0) -> None:
    """Fill an empty database.

    `stamp` fixes every timestamp (reproducible screenshots); `extra_chutes` adds that many
    more demo chutes, for trying large accounts.
    """
    now = time.time()
    clock = (lambda: stamp) if stamp else now_iso
    secret = _secret(store)
    users: dict[str, Credentials] = {}
    with store.tx() as db:
        for spec in USERS:
            cred = credentials(store, spec.username)
            users[spec.username] = cred
            db.execute(
                "INSERT INTO users (user_id, username, hotkey, coldkey, payment_address,"
                " permissions_bitmask, balance, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    cred.user_id,
                    spec.username,
                    cred.hotkey,
                    keys.hotkey_from_seed(_derive(secret, spec.username, "coldkey")),
                    cred.payment_address,
                    spec.permissions,
                    spec.balance,
                    clock(),
                ),
            )
            db.execute(
                "INSERT INTO api_keys (api_key_id, user_id, name, admin, key_hash, created_at)"
                " VALUES (?,?,?,1,?,?)",
                (
                    str(uuid.UUID(cred.api_key[4:36])),
                    cred.user_id,
                    "sandbox",
                    keys.hash_api_key(cred.api_key),
                    clock(),
                ),
            )
        for name, tag, readme, dockerfile in SDK_STANDARD_IMAGES:
            log = _built_log(users["chutes"], name, tag, dockerfile)
            _image(db, clock, users["chutes"], name, tag, "built and pushed", True, readme, log)
        for name, tag, readme in STANDARD_IMAGES:
            _image(db, clock, users["chutes"], name, tag, "built and pushed", True, readme)
        for name, tag, status in DEMO_IMAGES:
            _image(db, clock, users["demo"], name, tag, status, False, f"# {name}\n")
        for chute in DEMO_CHUTES:
            _chute(db, clock, users, now, chute)
        for number in range(extra_chutes):
            bulk = SeedChute(
                f"bulk-{number:05d}",
                "demo/hello:0.1",
                f"Bulk chute number {number}",
                {"gpu_count": 1 + number % 4, "min_vram_gb_per_gpu": (16, 24, 48, 80)[number % 4]},
                300,
            )
            _chute(db, clock, users, now, bulk)


def add_standard_images(store: Store) -> None:
    """A database seeded before the SDK's standard images were gets them on opening (when
    it has the `chutes` user); nothing else of it changes."""
    owner = store.find_user("chutes")
    if owner is None:
        return
    missing = [
        image
        for image in SDK_STANDARD_IMAGES
        if store.image(image_uid(owner["username"], image[0], image[1])) is None
    ]
    if not missing:
        return
    cred = credentials(store, owner["username"])
    if cred.user_id != owner["user_id"]:  # not the seeded user: leave that database alone
        return
    with store.tx() as db:
        for name, tag, readme, dockerfile in missing:
            log = _built_log(cred, name, tag, dockerfile)
            _image(db, now_iso, cred, name, tag, "built and pushed", True, readme, log)


def _image(
    db: sqlite3.Connection,
    clock: Clock,
    owner: Credentials,
    name: str,
    tag: str,
    status: str,
    public: bool,
    readme: str,
    build_log: str | None = None,
) -> None:
    stamp = clock()
    started = None if status == "pending build" else stamp
    done = stamp if status == "built and pushed" or status.startswith("error:") else None
    log = "\n".join(
        [
            f"Step 1/9 : FROM parachutes/python:3.12 ({owner.username}/{name}:{tag})",
            "Step 2/9 : RUN pip install chutes==" + SDK_VERSION,
        ]
        + ([status] if status.startswith("error:") else [])
    )
    db.execute(
        "INSERT INTO images (image_id, user_id, name, tag, readme, public, status,"
        " chutes_version, build_log, created_at, build_started_at, build_completed_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            image_uid(owner.username, name, tag),
            owner.user_id,
            name,
            tag,
            readme,
            int(public),
            status,
            SDK_VERSION,
            build_log or (log if started else ""),
            stamp,
            started,
            done,
        ),
    )


def _built_log(owner: Credentials, name: str, tag: str, dockerfile: str) -> str:
    """The log of a successful build of a standard image, as a sandbox build writes it."""
    request = BuildRequest(
        image_id=image_uid(owner.username, name, tag),
        owner=owner.username,
        name=name,
        tag=tag,
        dockerfile=f"{dockerfile}\n\nRUN pip install chutes=={SDK_VERSION}",
        context=(),
        context_bytes=0,
        lookup=lambda *_: None,
    )
    return "\n".join(line.text for line in script(request).lines)


def _chute(
    db: sqlite3.Connection,
    clock: Clock,
    users: dict[str, Credentials],
    now: float,
    seeded: SeedChute,
) -> None:
    name, image, tagline, template = seeded.name, seeded.image, seeded.tagline, seeded.template
    owner = users["demo"]
    image_owner, _, name_tag = image.partition("/")
    image_id = image_uid(image_owner, *name_tag.split(":"))
    code = HELLO_CODE.replace('"hello-world"', f'"{name}"').replace("demo/hello:0.1", image)
    chute_id = chute_uid(owner.username, name)
    spec = {
        "tagline": tagline,
        "readme": f"# {name}\n\n{tagline}.\n\nDeployed from the chutes-tui sandbox seed.",
        "tool_description": None,
        "logo_id": None,
        "standard_template": template,
        "node_selector": seeded.selector,
        "filename": "hello.py",
        "ref_str": "hello:chute",
        "concurrency": 1,
        "max_instances": 1,
        "scaling_threshold": 0.75,
        "shutdown_after_seconds": seeded.shutdown_after,
        "revision": "0" * 40 if template == "vllm" else None,
        "cords": [
            {
                "method": "POST",
                "path": "/echo",
                "public_api_path": "/echo",
                "public_api_method": "POST",
                "stream": name == "echo-stream",
                "function": "echo",
                "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
                "output_schema": {"type": "string"},
                "output_content_type": None,
                "minimal_input_schema": {"text": "hi"},
                "passthrough": False,
            }
        ],
        "jobs": [],
        "chutes_version": SDK_VERSION,
    }
    stamp = clock()
    db.execute(
        "INSERT INTO chutes (chute_id, user_id, name, slug, public, version, image_id, code,"
        " spec, invocation_count, created_at, updated_at) VALUES (?,?,?,?,0,?,?,?,?,?,?,?)",
        (
            chute_id,
            owner.user_id,
            name,
            f"demo-{name}",
            str(uuid.uuid5(uuid.NAMESPACE_OID, f"{image_id}:{code}")),
            image_id,
            code,
            json.dumps(spec),
            {"hello-world": 1280, "echo-stream": 340}.get(name, 0),
            stamp,
            stamp,
        ),
    )
    if seeded.shared_with:
        db.execute(
            "INSERT INTO shares (chute_id, shared_by, shared_to, shared_at) VALUES (?,?,?,?)",
            (chute_id, owner.user_id, users[seeded.shared_with].user_id, stamp.rstrip("Z")),
        )
    if seeded.hot:
        db.execute(
            "INSERT INTO instances (instance_id, chute_id, region, gpu_model_name, gpu_count,"
            " hourly_rate, miner_hotkey, active, verified, created_at, last_verified_at,"
            " verify_due, activate_due, idle_deadline, billed_from)"
            " VALUES (?,?,?,?,?,?,?,1,1,?,?,?,?,?,NULL)",
            (
                str(uuid.uuid5(uuid.NAMESPACE_OID, f"{chute_id}:seed-instance")),
                chute_id,
                "us-east",
                "a4000",
                1,
                0.2,
                "5SeedMiner",
                stamp,
                stamp,
                now,
                now,
                now + ALWAYS_ON,
            ),
        )


def add_usage_history(store: Store, table: GpuTable, now: float) -> None:
    """Eleven days of use of the demo user's chutes before `now`, in a database whose ledger
    is empty (a new one, or one from before the ledger); only a seeded `demo` gets it."""
    if store.one("SELECT 1 AS x FROM ledger LIMIT 1") is not None:
        return
    demo, guest = store.find_user("demo"), store.find_user("alice")
    if demo is None or guest is None or credentials(store, "demo").user_id != demo["user_id"]:
        return
    from chutes_tui.client.models import NodeSelector
    from chutes_tui.core import pricing
    from chutes_tui.sandbox import ledger

    rates: dict[str, tuple[str, float]] = {}
    for row in store.all_as(
        ChuteRow, "SELECT * FROM chutes WHERE user_id = ? ORDER BY name", demo["user_id"]
    ):
        try:
            selector = NodeSelector.model_validate(row["spec"]["node_selector"])
            rates[row["name"]] = (row["chute_id"], pricing.hourly_price(selector, table))
        except (pricing.NoSupportedGpus, KeyError, ValueError):
            continue
    shared = next(chute.name for chute in DEMO_CHUTES if chute.shared_with == "alice")
    ledger.seed_history(store, now, demo["user_id"], rates, guest["user_id"], shared)
