"""The headless commands: each takes the client, the arguments and the output, returns a code."""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from chutes_tui.client.api import ChutesClient, StreamNotice, is_uuid
from chutes_tui.client.errors import (
    ExitCode,
    NotFound,
    RateLimited,
    ServerError,
    StreamBroken,
    TimedOut,
    Unreachable,
    Unsupported,
)
from chutes_tui.headless.output import Column, Output, plain

if TYPE_CHECKING:
    from chutes_tui.core.build import BuildPlan
    from chutes_tui.core.deploy import DeployPlan
    from chutes_tui.core.pricing import GpuTable

Command = Callable[[ChutesClient, argparse.Namespace, Output], Awaitable[int]]


# The dashboard's formatters, imported when a table is drawn (JSON output needs none).


def _short(value: str | None) -> str:
    from chutes_tui.core.formatting import short_time

    return short_time(value)


def _gpus(chute: dict[str, Any]) -> str:
    from chutes_tui.core.formatting import gpu_summary

    return gpu_summary(chute, _gpu_table())


@functools.cache
def _gpu_table() -> GpuTable:
    """The packaged table, read once: it only orders GPU names by price in a table."""
    from chutes_tui.core.pricing import GpuTable

    return GpuTable.load()


def _price(chute: dict[str, Any]) -> str:
    from chutes_tui.core.formatting import hourly_usd, usd_hour

    return usd_hour(hourly_usd(chute))


IMAGE_COLUMNS = (
    Column("ID", lambda row: row["image_id"], "dim"),
    Column(
        "NAME",
        lambda row: f"{row['user']['username']}/{row['name']}" if row.get("user") else row["name"],
        "bold",
    ),
    Column("TAG", lambda row: row["tag"]),
    Column("STATUS", lambda row: row["status"], wrap=True),
    Column("PUBLIC", lambda row: row["public"]),
    Column("CREATED", lambda row: _short(row.get("created_at"))),
)
CHUTE_COLUMNS = (
    Column("ID", lambda row: row["chute_id"], "dim"),
    Column("NAME", lambda row: row["name"], "bold"),
    Column("STATUS", lambda row: "hot" if row.get("hot") else "cold"),
    Column("INST", lambda row: len(row.get("instances") or [])),
    Column("GPUS", _gpus),
    Column("$/HOUR", _price),
    Column("CALLS", lambda row: row.get("invocation_count", 0)),
    Column("SLUG", lambda row: row.get("slug")),
)
SHARE_COLUMNS = (
    Column("CHUTE", lambda row: row.get("_chute") or row["chute_id"], "bold"),
    Column("CHUTE ID", lambda row: row["chute_id"], "dim"),
    Column("SHARED WITH", lambda row: row["shared_to"]),
    Column("SHARED AT", lambda row: _short(row["shared_at"])),
)


async def me(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    out.result(await client.me(raw=True))
    return ExitCode.OK


def _listing(kind: str) -> Command:
    async def run(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
        lister = client.list_images if kind == "images" else client.list_chutes
        filters = {"name": args.name, "include_public": args.include_public, "raw": True}
        if args.all:
            items = await client.all_pages(lister, **filters)
            total = len(items)
        else:
            page = await lister(page=args.page, limit=args.limit, **filters)
            items, total = page["items"], page["total"]
        if not out.json:
            out.info(f"{total} {kind}, showing {len(items)}")
        columns = IMAGE_COLUMNS if kind == "images" else CHUTE_COLUMNS
        out.result(items, columns)
        return ExitCode.OK

    return run


def _getter(kind: str) -> Command:
    async def run(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
        getter = client.get_image if kind == "images" else client.get_chute
        out.result(await getter(args.ref, raw=True))
        return ExitCode.OK

    return run


def confirm(question: str, assume_yes: bool, out: Output) -> int | None:
    """None when the user agreed; otherwise the exit code to stop with."""
    if assume_yes:
        return None
    if not sys.stdin.isatty():
        out.error(f"{question} Not confirmed: pass --yes to do this without a terminal.")
        return ExitCode.USAGE
    out.stderr.write(f"{question} [y/N] ")
    out.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        out.info("Cancelled.")
        return ExitCode.DECLINED
    return None


def _deleter(kind: str) -> Command:
    async def run(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
        if kind == "images":
            target = await client.get_image(args.ref)
            owner = target.user.username if target.user else ""
            label = f"image {owner}/{target.name}:{target.tag}"
            used_by = [
                chute.name
                for chute in await client.all_pages(client.list_chutes)
                if chute.image.image_id == target.image_id
            ]
            if used_by:
                label += f" (used by {', '.join(used_by)}: delete those chutes first)"
        else:
            chute = await client.get_chute(args.ref)
            label = f"chute {chute.name} ({chute.chute_id})"
        stop = confirm(f"Delete {label}? This cannot be undone.", args.yes, out)
        if stop is not None:
            return stop
        if kind == "images":
            result = await client.delete_image(target.image_id)
        else:
            result = await client.delete_chute(chute.chute_id)
        out.result(result)
        return ExitCode.OK

    return run


class HeadlessDeployUI:
    """The deploy flow's questions, answered by flags or a terminal prompt."""

    wait_hint = "pass --wait-image S to wait for it up to S seconds"

    def __init__(self, out: Output, assume_yes: bool) -> None:
        self.out = out
        self.assume_yes = assume_yes

    def progress(self, message: str) -> None:
        self.out.info(message)

    async def confirm(self, plan: DeployPlan) -> bool:
        summary = plan.summary()
        hourly = summary["hourly_usd"]
        self.out.info(
            f"Deploy {summary['chute']} ({'update' if plan.existing else 'new chute'}) from"
            f" {summary['image']}, {summary['gpus']['count']} GPU(s)"
            f" ≥{summary['gpus']['min_vram_gb']} GB,"
            f" {'public' if summary['public'] else 'private'};"
            f" fee ${plan.fee:,.2f} ({plan.prices})"
            + (
                f", ${hourly['min']:,.2f}-${hourly['max']:,.2f} per hour per instance"
                if hourly
                else ""
            )
        )
        if not self.assume_yes and not sys.stdin.isatty():
            from chutes_tui.core.deploy import NotConfirmed

            raise NotConfirmed(
                "not confirmed: pass --yes to deploy without a terminal; nothing was sent"
            )
        return confirm("Deploy now?", self.assume_yes, self.out) is None

    async def confirm_fee(self, plan: DeployPlan, amount: float) -> bool:
        """Another amount than the one accepted: only --max-fee accepts it (the flow checks)."""
        return False


def _show_checks(plan: DeployPlan, out: Output) -> None:
    for check in plan.checks:
        mark = "✓" if check.ok else "✗"
        fix = f"  → {check.fix}" if check.fix and not check.ok else ""
        if check.buildable and not check.ok:
            fix += "; or deploy with --build"
        out.info(f"  {mark} {check.name}: {check.detail}{fix}")


async def deploy(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    from chutes_tui.core import deploy as flow

    options = flow.DeployOptions(
        public=args.public,
        accept_fee=args.accept_fee,
        max_fee=args.max_fee,
        logo=str(Path(args.logo).resolve()) if args.logo else None,  # relative to here
        directory=args.dir,
        import_timeout=args.import_timeout,
    )
    ui = HeadlessDeployUI(out, args.yes)
    image_plan: BuildPlan | None = None  # with --build: the chute's image and its build
    built: dict[str, Any] | None = None
    try:
        if args.build and not args.dry_run:
            from chutes_tui.headless import builds

            image_plan = await builds.image_for_deploy(client, args, out)
        imported = image_plan.imported if image_plan is not None else None
        plan = await flow.plan_deploy(client, args.ref, options, ui, imported=imported)
    except flow.ImportFailed as error:
        if error.detail:
            out.info(error.detail.rstrip())
        raise
    if image_plan is not None and image_plan.build is not None and plan.needs_image:
        # The image is all that is missing: build it (or wait for its build), then plan
        # again. A fee not accepted stops before the build, as it would stop the deploy.
        _show_checks(plan, out)
        flow.require_fee_accepted(plan, options)
        built = await builds.build_for_deploy(client, image_plan, args, out)
        plan = await flow.plan_deploy(client, args.ref, options, ui, imported=imported)
    elif plan.waiting_for_image and args.wait_image > 0 and not args.dry_run:
        _show_checks(plan, out)
        await flow.wait_for_image(client, plan.image, args.wait_image, ui)
        plan = await flow.plan_deploy(client, args.ref, options, ui)
    _show_checks(plan, out)
    if args.dry_run:
        out.info(
            f"  fee ${plan.fee:,.2f}, estimated from the {plan.prices};"
            " the server's fee notice confirms it at deploy time"
        )
        out.result(plan.summary())
        if not plan.ready:
            return int(flow.DeployBlocked(plan).exit_code)
        return ExitCode.OK
    chute = await flow.deploy(client, plan, options, ui)
    charged: dict[str, Any] = {"fee_charged": plan.fee_charged or 0.0}
    if built is not None:
        charged["build"] = built
    if not args.wait:
        out.result({**plain(chute), **charged})
        return ExitCode.OK
    # One document on stdout: the deployed chute, what it cost, how its warmup went.
    record = await follow_warmup(client, chute.chute_id, args.timeout, out)
    out.result({**plain(chute), **charged, "warmup": record})
    if not record["hot"]:
        raise TimedOut(f"{chute.name} was deployed but not hot after {args.timeout:g} s")
    return ExitCode.OK


async def share(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    action = client.unshare if args.remove else client.share
    out.result(await action(args.chute, args.user))
    return ExitCode.OK


async def shares(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    items = await client.list_shares()
    if args.chute:
        chute_id = await client.chute_id(args.chute)
        items = [item for item in items if item.chute_id == chute_id]
    if out.json:
        out.result(items)
        return ExitCode.OK
    names = {
        chute["chute_id"]: chute["name"]
        for chute in await client.all_pages(client.list_chutes, raw=True)
    }
    rows = [{**item.model_dump(mode="json"), "_chute": names.get(item.chute_id)} for item in items]
    out.result(rows, SHARE_COLUMNS)
    return ExitCode.OK


class WarmupStep(TypedDict):
    status: str
    log: str


class WarmupEvent(WarmupStep):
    """A step as it happens, with the seconds since the warmup began."""

    elapsed: float


class WarmupRecord(TypedDict):
    chute: str
    hot: bool
    waited_seconds: float
    events: list[WarmupStep]


WarmupHandler = Callable[[WarmupEvent], None]
# Failures worth reopening a stream for; anything else (404, 402, 403) cannot get better.
REOPENABLE = (StreamBroken, Unreachable, ServerError, RateLimited)


async def follow_warmup(
    client: ChutesClient,
    chute: str,
    timeout: float,
    out: Output,
    on_event: WarmupHandler | None = None,
) -> WarmupRecord:
    """Follow the warmup until hot or `timeout`, reopening the stream when it ends early.

    Each event, and each reopening (status `reconnecting`), goes to `on_event` as
    `{status, log, elapsed}`; by default people see them on stderr. Returns what happened.
    """
    started = time.monotonic()
    events: list[WarmupStep] = []
    handler = on_event or _warmup_notes(out)

    def note(status: str, log: str) -> None:
        events.append({"status": status, "log": log})
        handler({"status": status, "log": log, "elapsed": round(time.monotonic() - started, 2)})

    try:
        hot = await asyncio.wait_for(_until_hot(client, chute, note), timeout=timeout)
    except TimeoutError:
        hot = False
    waited = round(time.monotonic() - started, 3)
    return {"chute": chute, "hot": hot, "waited_seconds": waited, "events": events}


def _warmup_notes(out: Output) -> WarmupHandler:
    """Events as stderr notes for people; nothing extra for JSON readers."""
    if out.json:
        return lambda record: None
    return lambda record: out.info(f"{record['status']}: {record['log']}")


async def _until_hot(client: ChutesClient, chute: str, note: Callable[[str, str], None]) -> bool:
    """Follow the warmup (the client reopens the stream) until it says hot."""
    async with aclosing(client.warmup_feed(chute)) as feed:
        async for item in feed:
            if isinstance(item, StreamNotice):
                note("reconnecting", item.message)
            else:
                note(item.status, item.log)
    return True


def _warmup_printer(out: Output) -> WarmupHandler:
    """Warmup events on stdout: JSON Lines, or `elapsed  status  log` for people."""
    if out.json:
        return out.line
    return lambda record: out.text(
        f"{record['elapsed']:5.1f}s  {record['status']}  {record['log']}"
    )


async def warmup(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    if not args.wait:
        try:
            status = await client.warmup_status(args.chute)
        except Unsupported as error:  # an older server: the chute's instances say it
            from chutes_tui.client.models import QuickWarmup

            out.info(error.message)
            status = QuickWarmup.from_chute(await client.get_chute(args.chute))
        out.result(status)
        return ExitCode.OK
    record = await follow_warmup(client, args.chute, args.timeout, out, _warmup_printer(out))
    if out.json:
        out.line({key: record[key] for key in ("chute", "hot", "waited_seconds")})
    elif record["hot"]:
        out.text(f"{args.chute} is hot after {record['waited_seconds']:.1f} s")
    if not record["hot"]:
        raise TimedOut(f"{args.chute} was not hot after {args.timeout:g} s")
    return ExitCode.OK


LogPrinter = Callable[[str], None]
RESTART_DELAY = 1.0  # seconds before reopening a log stream whose reconnects ran out


async def logs(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    if not 0 <= args.backfill <= 10000:
        out.error("--backfill must be between 0 and 10000")
        return ExitCode.USAGE
    if args.poll <= 0:
        out.error("--poll must be more than 0 seconds")
        return ExitCode.USAGE
    try:
        chute = await client.get_chute(args.target)
    except NotFound:
        if not is_uuid(args.target):
            raise
        await _one_instance(client, args.target, args, out)
        return ExitCode.OK
    instance_ids = [instance.instance_id for instance in chute.instances]
    if not args.follow:
        if not instance_ids:
            out.info(f"{chute.name} has no instances (it is cold): nothing to show.")
            return ExitCode.OK
        await asyncio.gather(
            *(
                _history(client, instance_id, args.backfill, _log_printer(out, instance_id))
                for instance_id in instance_ids
            )
        )
        return ExitCode.OK
    if not instance_ids:
        out.info(f"{chute.name} has no instances (it is cold): waiting for some to start ...")
    await _follow_chute(client, chute.chute_id, instance_ids, args, out)
    return ExitCode.OK


def _log_printer(out: Output, instance_id: str, tagged: bool = True) -> LogPrinter:
    """One log line on stdout: JSON Lines, or text tagged `[id8] ` for a chute's instances."""
    if out.json:
        return lambda line: out.line({"instance_id": instance_id, "log": line})
    tag = f"[{instance_id[:8]}] " if tagged else ""
    return lambda line: out.text(f"{tag}{line}")


async def _history(client: ChutesClient, instance_id: str, backfill: int, emit: LogPrinter) -> None:
    async for line in _instance_lines(client, instance_id, backfill):
        emit(line)


def _instance_lines(client: ChutesClient, instance_id: str, backfill: int) -> AsyncIterator[str]:
    """The history of one instance: it ends once the log server has nothing more to say."""
    return client.instance_logs(instance_id, backfill, reconnect=False, follow=False)


async def _one_instance(
    client: ChutesClient, instance_id: str, args: argparse.Namespace, out: Output
) -> None:
    """An instance named by id: its history, then with --follow its live lines until gone."""
    emit = _log_printer(out, instance_id, tagged=False)
    if not args.follow:
        await _history(client, instance_id, args.backfill, emit)
        return
    tag = f"[{instance_id[:8]}]"
    async with aclosing(client.log_feed(instance_id, args.backfill)) as feed:
        async for item in feed:
            if isinstance(item, list):
                for line in item:
                    emit(line)
            else:
                out.info(f"{tag} {'instance gone' if item.kind == 'gone' else item.message}")


async def _follow_chute(
    client: ChutesClient,
    chute_id: str,
    instance_ids: list[str],
    args: argparse.Namespace,
    out: Output,
) -> None:
    """Stream every instance of a chute, picking up new ones every `--poll` seconds."""
    streams: dict[str, asyncio.Task[None]] = {}
    try:
        while True:
            for instance_id in instance_ids:
                if instance_id not in streams:
                    streams[instance_id] = asyncio.create_task(
                        _follow_instance(client, chute_id, instance_id, args.backfill, out)
                    )
            await _watch(streams.values(), args.poll)
            instance_ids = await _current_instances(client, chute_id, instance_ids, out)
    finally:
        for task in streams.values():
            task.cancel()
        await asyncio.gather(*streams.values(), return_exceptions=True)


async def _watch(streams: Iterable[asyncio.Task[None]], seconds: float) -> None:
    """Wait up to `seconds`; a stream that failed for good ends the command with its error."""
    running = [task for task in streams if not task.done()]
    if not running:
        await asyncio.sleep(seconds)
        return
    done, _ = await asyncio.wait(running, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        error = task.exception()
        if error is not None:
            raise error


async def _current_instances(
    client: ChutesClient, chute_id: str, known: list[str], out: Output
) -> list[str]:
    """The chute's instance ids now; the last known ones if the API is briefly away."""
    try:
        chute = await client.get_chute(chute_id)
    except (*REOPENABLE, TimedOut) as error:
        out.info(f"could not check for new instances: {error.message}")
        return known
    return [instance.instance_id for instance in chute.instances]


async def _follow_instance(
    client: ChutesClient, chute_id: str, instance_id: str, backfill: int, out: Output
) -> None:
    """Live lines of one instance until it leaves the chute, then a note on stderr."""
    emit, tag = _log_printer(out, instance_id), f"[{instance_id[:8]}]"
    while True:
        try:
            async with aclosing(client.log_feed(instance_id, backfill)) as feed:
                async for item in feed:
                    if isinstance(item, list):
                        for line in item:
                            emit(line)
                    elif item.kind == "gone" or (
                        item.kind == "retrying"
                        and not await _in_chute(client, chute_id, instance_id)
                    ):
                        break
                    else:
                        out.info(f"{tag} {item.message}")
        except REOPENABLE as error:
            out.info(f"{tag} {error.message}")
        if not await _in_chute(client, chute_id, instance_id):
            out.info(f"{tag} instance gone")
            return
        backfill = 0  # the history was shown already
        await asyncio.sleep(RESTART_DELAY)


async def _in_chute(client: ChutesClient, chute_id: str, instance_id: str) -> bool:
    """Whether the chute still lists the instance (yes, when that cannot be checked now)."""
    try:
        chute = await client.get_chute(chute_id)
    except NotFound:
        return False
    except (*REOPENABLE, TimedOut):
        return True
    return any(instance.instance_id == instance_id for instance in chute.instances)


PRICE_COLUMNS = (
    Column("GPU", lambda row: row["gpu"], "bold"),
    Column("USD/HOUR", lambda row: f"{row['usd_hour']:.2f}"),
    Column("TAO/HOUR", lambda row: f"{row['tao_hour']:.5f}"),
)


async def pricing(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    if out.json:  # as the API shaped it: no models to load
        out.result(await client.pricing(raw=True))
        return ExitCode.OK
    prices = await client.pricing()
    cheapest_first = sorted(
        prices.gpu_price_estimates.items(), key=lambda estimate: estimate[1].usd.hour
    )
    rows = [
        {"gpu": name, "usd_hour": price.usd.hour, "tao_hour": price.tao.hour}
        for name, price in cheapest_first
    ]
    out.info(f"TAO at ${prices.tao_usd:g}")
    out.result(rows, PRICE_COLUMNS)
    return ExitCode.OK


async def code(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    """Source as plain text (ready to redirect to a file); JSON only when asked for."""
    source = await client.code(args.chute)
    if args.output == "json":
        out.result({"chute": args.chute, "code": source})
    else:
        out.text(source)
    return ExitCode.OK


def pick(args: argparse.Namespace) -> Command:
    if args.command == "build" or (args.command, getattr(args, "action", None)) == (
        "images",
        "logs",
    ):
        from chutes_tui.headless import builds

        return builds.build if args.command == "build" else builds.image_logs
    if args.command in ("usage", "invoke"):
        from chutes_tui.headless import cockpit

        return cockpit.usage if args.command == "usage" else cockpit.invoke
    if args.command in ("keys", "secrets"):
        from chutes_tui.headless.keys import COMMANDS

        return COMMANDS[args.command, args.action]
    if args.command in ("images", "chutes"):
        return {"list": _listing, "get": _getter, "delete": _deleter}[args.action](args.command)
    return {
        "me": me,
        "deploy": deploy,
        "share": share,
        "shares": shares,
        "warmup": warmup,
        "logs": logs,
        "pricing": pricing,
        "code": code,
    }[args.command]
