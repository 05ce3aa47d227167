"""One deploy flow for both front ends: import, pre-flight, fee, explicit yes, deploy once.

The flow talks to its caller only through `DeployUI` (confirm and progress), so the
dashboard answers with screens and the headless mode with flags. Nothing that could
deploy is sent before the caller has seen the fee and said yes. The fee shown is an
estimate from the server's own prices (`GET /nodes/supported`, the packaged table when it
does not answer); the server's formula is its own, so the deploy goes out first without
`accept_fee`: a new chute then comes back as a 402 fee notice that writes nothing, and
`accept_fee=true` is sent only for the amount the user accepted, to the cent. A deploy
that needs no fee (an update) succeeds on that first request.
"""

from __future__ import annotations

import ast
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chutes_tui.client.api import ChutesClient, FeeNotice
from chutes_tui.client.errors import ChutesError, ExitCode, NotFound
from chutes_tui.client.models import Chute, NodeSelector
from chutes_tui.core import pricing
from chutes_tui.core.build import READY
from chutes_tui.core.chute_import import (
    DEFAULT_TIMEOUT,
    ImportedChute,
    ImportFailed,
    check_ref,
    import_chute,
)
from chutes_tui.core.deploy_options import OPTIONS

__all__ = ["OPTIONS", "ImportFailed", "deploy", "plan_deploy"]

PRICES_FROM_API = "prices from the API"
PRICES_PACKAGED = "packaged price table, the API did not answer"

PUBLIC_MODELS_BIT, FREE_ACCOUNT_BIT = 11, 4
NAME_RE = re.compile(r"^(?:([A-Za-z0-9_.-]+)/)*([a-z0-9][a-z0-9_./-]*)$", re.I)
CORD_PATH_RE = re.compile(r"^(/[a-z][a-z0-9_]*)+$", re.I)
SERVER_REF_RE = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")


@dataclass
class DeployOptions:
    public: bool = False
    accept_fee: bool = False
    logo: str | None = None
    max_fee: float | None = None  # USD; a server fee above it is refused, one within accepted
    directory: str = "."
    import_timeout: float = DEFAULT_TIMEOUT


@dataclass
class Check:
    """One pre-flight line: what was checked, whether it passed, and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True
    exit_code: int = ExitCode.USAGE
    waitable: bool = False  # passes by itself later (an image still building)
    buildable: bool = False  # passes once the image is built (it does not exist yet)


@dataclass
class DeployPlan:
    ref: str
    name: str
    image: str
    body: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    existing: bool = False
    fee: float = 0.0
    hourly: tuple[float, float] | None = None
    supported_gpus: list[str] = field(default_factory=list)
    balance: float | None = None
    logo: str | None = None  # the logo file the checks read
    price_source: str = "packaged"  # "api": the estimate uses the server's GPU table
    fee_charged: float | None = None  # set by deploy(): what the server charged, in USD
    imported: ImportedChute | None = field(default=None, repr=False)  # what the checks read

    @property
    def prices(self) -> str:
        return PRICES_FROM_API if self.price_source == "api" else PRICES_PACKAGED

    @property
    def blockers(self) -> list[Check]:
        return [check for check in self.checks if not check.ok and check.blocking]

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def waiting_for_image(self) -> bool:
        """The only problem is an image still being built."""
        return bool(self.blockers) and all(check.waitable for check in self.blockers)

    @property
    def image_missing(self) -> bool:
        """The image does not exist: building it would clear a blocker."""
        return any(check.buildable for check in self.blockers)

    @property
    def needs_image(self) -> bool:
        """The only problem is an image that is missing or still being built."""
        return bool(self.blockers) and all(
            check.waitable or check.buildable for check in self.blockers
        )

    def summary(self) -> dict[str, Any]:
        """What the confirmation shows, and what `--dry-run --json` prints."""
        selector = self.body.get("node_selector") or {}
        return {
            "ref": self.ref,
            "chute": self.name,
            "image": self.image,
            "public": bool(self.body.get("public")),
            "update": self.existing,
            "gpus": {
                "count": selector.get("gpu_count", 1),
                "min_vram_gb": selector.get("min_vram_gb_per_gpu", 16),
                "supported": self.supported_gpus,
            },
            "fee_usd": round(self.fee, 2),
            "prices": self.prices,
            "hourly_usd": {"min": self.hourly[0], "max": self.hourly[1]} if self.hourly else None,
            "balance_usd": self.balance,
            "checks": [asdict(check) for check in self.checks],
            "ready": self.ready,
        }


class DeployUI(Protocol):
    # How this front end waits for an image still being built ("press w ...", "pass
    # --wait-image S ..."): the pre-flight's fix for that image names it.
    wait_hint: str

    def progress(self, message: str) -> None: ...

    async def confirm(self, plan: DeployPlan) -> bool: ...

    async def confirm_fee(self, plan: DeployPlan, amount: float) -> bool:
        """The server asks `amount` USD, not the fee accepted: accept that instead?"""
        ...


class DeployBlocked(ChutesError):
    """Pre-flight found a problem; nothing was sent."""

    def __init__(self, plan: DeployPlan) -> None:
        first = plan.blockers[0]
        super().__init__(f"{first.name}: {first.detail}" + (f" ({first.fix})" if first.fix else ""))
        self.plan = plan
        self.exit_code = ExitCode(first.exit_code)


class FeeNotAccepted(ChutesError):
    exit_code = ExitCode.PAYMENT


class FeeRefused(ChutesError):
    """The server's fee was not the one accepted, or above the limit: nothing was charged."""

    exit_code = ExitCode.PAYMENT

    def __init__(self, message: str, amount: float) -> None:
        super().__init__(message)
        self.amount = amount


class Declined(ChutesError):
    exit_code = ExitCode.DECLINED


class NotConfirmed(ChutesError):
    """No terminal to ask on and no --yes: nothing was sent."""

    exit_code = ExitCode.USAGE


class OptionsChanged(ChutesError):
    """The options differ from those the plan checked: nothing was sent."""

    exit_code = ExitCode.USAGE


class LogoUnreadable(ChutesError):
    """The logo file could not be read at upload time: nothing was sent."""

    exit_code = ExitCode.USAGE


async def wait_for_image(
    client: ChutesClient,
    ref: str,
    timeout: float,
    ui: DeployUI | None = None,
    poll: float = 2.0,
) -> str:
    """Poll an image until its build ends; its final status, or TimedOut."""
    import asyncio

    from chutes_tui.client.errors import TimedOut

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = ""
    while True:
        status = (await client.get_image(ref)).status
        if status != last and ui is not None:
            ui.progress(f"image {ref}: {status}")
        last = status
        if status == READY or status.startswith("error"):
            return status
        if loop.time() + poll > deadline:
            raise TimedOut(f"image {ref} was still {status} after {timeout:g} s")
        await asyncio.sleep(poll)


def cents(amount: float) -> int:
    """USD to whole cents, rounded as the server rounds the amount in its fee notice."""
    return round(round(amount, 2) * 100)


async def price_table(client: ChutesClient) -> tuple[pricing.GpuTable, str]:
    """The server's GPU table and prices, or the packaged one; and which it is."""
    packaged = pricing.GpuTable.load()
    try:
        served = await client.supported_gpus()
        return packaged.with_prices(served, "GET /nodes/supported"), "api"
    except (ChutesError, ValueError):
        return packaged, "packaged"


def _version(image_id: str, code: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{image_id}:{code}"))


async def plan_deploy(
    client: ChutesClient,
    ref: str,
    options: DeployOptions,
    ui: DeployUI | None = None,
    imported: ImportedChute | None = None,
) -> DeployPlan:
    """Import the chute (unless given `imported`) and run every pre-flight check; sends
    nothing that writes."""
    say = ui.progress if ui else (lambda message: None)
    check_ref(ref)
    if imported is None:
        say(f"importing {ref} …")
        imported = await import_chute(ref, options.directory, options.import_timeout)
    body = dict(imported.body, public=options.public)
    plan = DeployPlan(ref, body["name"], body["image"], body, logo=options.logo, imported=imported)
    checks = plan.checks
    checks.append(Check("reference", True, f"{ref} → {Path(imported.module_file).name}"))

    say("checking the account, image and chute …")
    me = await client.me()
    plan.balance = me.balance
    image = None
    try:
        image = await client.get_image(body["image"])
    except NotFound:
        checks.append(
            Check(
                "image",
                False,
                f"image {body['image']} not found or not yours",
                f"build it first: `chutes-tui --no-ui build {ref}` (or `chutes build {ref}`)",
                buildable=True,
            )
        )
    if image is not None:
        if image.status == READY:
            checks.append(Check("image", True, f"{body['image']} is built and pushed"))
        elif image.status.startswith("error"):
            checks.append(
                Check(
                    "image",
                    False,
                    f"{body['image']}: {image.status}",
                    "fix the image and build it again",
                )
            )
        else:
            checks.append(
                Check(
                    "image",
                    False,
                    f"{body['image']} is {image.status}",
                    "wait until it is built and pushed"
                    + (f": {ui.wait_hint}" if ui is not None and ui.wait_hint else ""),
                    waitable=True,
                )
            )
        if options.public and not image.public:
            checks.append(Check("public image", False, "a public chute needs a public image"))
    if options.public:
        allowed = bool(me.permissions_bitmask & (1 << PUBLIC_MODELS_BIT))
        checks.append(
            Check(
                "public",
                allowed,
                "you may deploy public chutes"
                if allowed
                else "your account may not deploy public chutes",
                "" if allowed else "deploy it private and share it instead",
            )
        )

    say("reading the GPU prices …")
    table, plan.price_source = await price_table(client)
    selector = NodeSelector.model_validate(body.get("node_selector") or {"gpu_count": 1})
    plan.supported_gpus = pricing.supported_gpus(selector, table)
    if plan.supported_gpus:
        plan.hourly = pricing.hourly_range(selector, table)
        checks.append(
            Check(
                "node selector",
                True,
                f"{selector.gpu_count} x one of {', '.join(plan.supported_gpus)}",
            )
        )
    else:
        checks.append(
            Check(
                "node selector",
                False,
                "no GPU matches the node selector",
                "lower min_vram_gb_per_gpu or widen include/exclude",
            )
        )
    if body.get("standard_template") == "vllm" and not body.get("revision"):
        checks.append(
            Check(
                "revision",
                False,
                "a vllm chute needs a revision",
                "pin the model revision (40 hex characters)",
            )
        )
    checks.extend(_field_checks(body))
    if options.logo:
        checks.append(logo_check(Path(options.directory) / options.logo))

    existing: Chute | None = None
    try:
        existing = await client.get_chute(body["name"])
        if existing.user.user_id != me.user_id:
            existing = None
    except NotFound:
        existing = None
    plan.existing = existing is not None
    if existing is not None and image is not None:
        same = existing.version == _version(image.image_id, body["code"])
        if same and existing.public == options.public:
            checks.append(
                Check(
                    "version",
                    False,
                    f"{plan.name} is already deployed with this exact code and image",
                    "change the code or image first",
                    exit_code=ExitCode.CONFLICT,
                )
            )
        else:
            checks.append(Check("update", True, f"{plan.name} exists: this is an update, no fee"))
    free = bool(me.permissions_bitmask & (1 << FREE_ACCOUNT_BIT))
    if not plan.existing and not free and plan.supported_gpus:
        plan.fee = pricing.deployment_fee(selector, table)
    balance = me.balance or 0.0
    enough = free or balance > plan.fee
    checks.append(
        Check(
            "balance",
            enough,
            f"fee ${plan.fee:,.2f}, balance ${balance:,.2f}",
            "" if enough else "top up the account",
            exit_code=ExitCode.PAYMENT,
        )
    )
    return plan


def logo_check(path: Path) -> Check:
    fix = "give the path of an existing PNG, JPEG, GIF or WebP file"
    try:
        head = path.read_bytes()[:16]
    except OSError as error:
        return Check("logo", False, f"cannot read {path}: {error.strerror or error}", fix)
    except ValueError:  # a path no file can have (a NUL byte)
        return Check("logo", False, f"{str(path)!r} is not a file path", fix)
    if not head.startswith(IMAGE_MAGIC):
        return Check("logo", False, f"{path.name} is not a PNG, JPEG, GIF or WebP image")
    return Check("logo", True, f"{path.name} will be uploaded as the logo")


def _field_checks(body: dict[str, Any]) -> list[Check]:
    problems = []
    if not NAME_RE.match(body["name"]) or not 3 <= len(body["name"]) <= 128:
        problems.append(f"name {body['name']!r} is not a valid chute name")
    if not SERVER_REF_RE.match(body["ref_str"]):
        problems.append(f"the platform wants a lowercase reference, not {body['ref_str']!r}")
    for cord in body.get("cords") or []:
        if not CORD_PATH_RE.match(cord["path"]):
            problems.append(f"cord path {cord['path']!r} is not valid")
    try:
        ast.parse(body["code"])
    except SyntaxError as error:
        problems.append(f"the code does not parse: {error.msg} (line {error.lineno})")
    if not body.get("cords") and not body.get("jobs"):
        problems.append("a chute needs at least one cord or job")
    if problems:
        return [Check("fields", False, "; ".join(problems))]
    return [Check("fields", True, "name, reference and cord paths are valid")]


def require_fee_accepted(plan: DeployPlan, options: DeployOptions) -> None:
    """FeeNotAccepted when the deploy costs a fee that was not accepted."""
    if plan.fee > 0 and not options.accept_fee:
        raise FeeNotAccepted(
            f"deploying {plan.name} costs a one-off fee of ${plan.fee:,.2f}"
            + (
                f" and ${plan.hourly[0]:,.2f}-${plan.hourly[1]:,.2f} per hour per instance"
                " while it runs"
                if plan.hourly
                else ""
            )
            + ": accept it to go ahead (--accept-fee). Nothing was sent."
        )


async def deploy(
    client: ChutesClient, plan: DeployPlan, options: DeployOptions, ui: DeployUI
) -> Chute:
    """Deploy once, after the plan passed and the caller said yes; never retried blindly.

    The first request carries no `accept_fee`, so it either deploys without a fee or gets a
    notice that writes nothing; only the second, sent for the amount accepted, can charge.
    """
    changed = [
        name
        for name, planned, now in (
            ("public", bool(plan.body.get("public")), options.public),
            ("logo", plan.logo, options.logo),
        )
        if planned != now
    ]
    if changed:
        raise OptionsChanged(
            f"{' and '.join(changed)} changed since the plan: plan again. Nothing was sent."
        )
    if not plan.ready:
        raise DeployBlocked(plan)
    require_fee_accepted(plan, options)
    if not await ui.confirm(plan):
        raise Declined("deploy cancelled: nothing was sent")
    if options.logo:
        logo = Path(options.directory) / options.logo
        ui.progress(f"uploading the logo {options.logo} …")
        try:
            plan.body["logo_id"] = await client.upload_logo(logo)
        except OSError as error:  # read before anything is sent
            raise LogoUnreadable(
                f"cannot read the logo {logo}: {error.strerror or error}; nothing was sent"
            ) from None
    ui.progress(f"deploying {plan.name} …")
    # Never accept_fee on the first request: a fee is charged only after the server named
    # it in a notice (which writes nothing) and the amount is the one accepted.
    try:
        chute = await client.deploy(plan.body, accept_fee=False)
    except FeeNotice as notice:
        amount = notice.amount
    else:
        plan.fee_charged = 0.0
        return chute
    await _accept(plan, options, ui, amount)
    ui.progress(f"accepting the ${amount:,.2f} fee and deploying {plan.name} …")
    chute = await client.deploy(plan.body, accept_fee=True)
    plan.fee_charged = amount
    return chute


async def _accept(plan: DeployPlan, options: DeployOptions, ui: DeployUI, amount: float) -> None:
    """Go on only for the amount accepted: the one shown, one within `max_fee`, or a new yes."""
    asked = f"the server's fee for deploying {plan.name} is ${amount:,.2f}"
    if options.max_fee is not None and cents(amount) > cents(options.max_fee):
        raise FeeRefused(
            f"{asked}, above the ${options.max_fee:,.2f} allowed (--max-fee): nothing was charged",
            amount,
        )
    if cents(amount) == cents(plan.fee) or (options.accept_fee and options.max_fee is not None):
        return
    ui.progress(f"{asked}, not the ${plan.fee:,.2f} estimated")
    if not await ui.confirm_fee(plan, amount):
        raise FeeRefused(f"{asked}, not the ${plan.fee:,.2f} accepted: nothing was charged", amount)
