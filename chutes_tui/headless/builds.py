"""The headless image builds: `build`, `images logs`, and the build step of `deploy --build`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chutes_tui.client.api import ChutesClient, StreamNotice, is_uuid
from chutes_tui.client.builds import BuildLogLine, BuildLogText
from chutes_tui.client.errors import ExitCode, TimedOut
from chutes_tui.core.build import (
    BuildFailed,
    BuildLogItem,
    BuildOptions,
    BuildOutcome,
    BuildPlan,
    finished,
    follow_build,
    plan_build,
    start_build,
)
from chutes_tui.headless.commands import confirm
from chutes_tui.headless.output import Output

SHOWN_FILES = 20  # files listed before a confirmation; --json lists them all


def size(count: int) -> str:
    """Bytes for people: `812 B`, `4.2 KB`, `1.3 MB`."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


class HeadlessBuildUI:
    """The build's question, answered by --yes or a terminal prompt."""

    def __init__(self, out: Output, assume_yes: bool, public: bool = False) -> None:
        self.out = out
        self.assume_yes = assume_yes
        self.public = public

    def progress(self, message: str) -> None:
        self.out.info(message)

    async def confirm_build(self, plan: BuildPlan) -> bool:
        build = plan.build
        if build is None:
            return False
        files, total = build.files, build.total_size
        self.out.info(
            f"Build context of image {build.ref}: {len(files)} file(s), {size(total)}"
            f" ({size(len(build.context))} zipped); Dockerfile of"
            f" {len(build.dockerfile.splitlines())} line(s)"
        )
        for entry in files[:SHOWN_FILES]:
            self.out.info(f"  {entry.path}  {size(entry.size)}")
        if len(files) > SHOWN_FILES:
            self.out.info(f"  … and {len(files) - SHOWN_FILES} more (--json lists them all)")
        if not self.assume_yes and not sys.stdin.isatty():
            from chutes_tui.core.deploy import NotConfirmed

            raise NotConfirmed(
                "not confirmed: pass --yes to build without a terminal; nothing was sent"
            )
        question = (
            f"Upload {len(files)} file(s) ({size(total)}) and build"
            f" {'public' if self.public else 'private'} image {build.ref}?"
        )
        return confirm(question, self.assume_yes, self.out) is None


def build_options(args: argparse.Namespace, logo: bool = True) -> BuildOptions:
    """The build's options from `build`'s flags, or from `deploy`'s (whose logo is the
    chute's, not the image's)."""
    return BuildOptions(
        public=args.public,
        include_cwd=getattr(args, "include_cwd", False),
        logo=str(Path(args.logo).resolve()) if logo and args.logo else None,  # from here
        directory=args.dir,
        import_timeout=args.import_timeout,
    )


def log_printer(out: Output, to_stderr: bool = False) -> Callable[[BuildLogItem], None]:
    """Build-log items: lines on stdout (JSON Lines with --json), notes on stderr.

    `to_stderr` puts the lines on stderr too, for a command whose stdout holds one result.
    """

    def line(text: str, log_type: str | None = None, offset: str | None = None) -> None:
        if to_stderr:
            out.info(text)
        elif out.json:
            out.line({"log_type": log_type, "log": text, "offset": offset})
        else:
            out.text(text)

    def emit(item: BuildLogItem) -> None:
        if isinstance(item, StreamNotice):
            out.info(item.message)
        elif isinstance(item, BuildLogText):
            for text in item.text.splitlines():
                line(text)
        elif isinstance(item, BuildLogLine):
            line(item.log, item.log_type, item.offset)

    return emit


def _outcome(outcome: BuildOutcome, label: str) -> dict[str, Any]:
    return {
        "image_id": outcome.image_id,
        "image": label,
        "status": outcome.status,
        "built": outcome.built,
        "waited_seconds": outcome.waited_seconds,
    }


async def _follow(
    client: ChutesClient,
    image_id: str,
    label: str,
    timeout: float | None,
    out: Output,
    to_stderr: bool = False,
) -> BuildOutcome:
    """Stream the log until the build ends: BuildFailed (11) if it failed, TimedOut (7)."""
    try:
        outcome = await follow_build(
            client, image_id, timeout, log_printer(out, to_stderr), label=label
        )
    except TimedOut:
        if out.json and not to_stderr:
            out.line({"image_id": image_id, "image": label, "built": False, "timed_out": True})
        raise
    if out.json and not to_stderr:
        out.line(_outcome(outcome, label))
    else:
        out.info(f"image {label}: {outcome.status} (after {outcome.waited_seconds:.1f} s)")
    if not outcome.built:
        raise BuildFailed(f"the build of image {label} failed: {outcome.status}")
    return outcome


async def build(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    from chutes_tui.core.chute_import import ImportFailed

    options = build_options(args)
    ui = HeadlessBuildUI(out, args.yes, args.public)
    try:
        plan = await plan_build(client, args.ref, options, ui)
    except ImportFailed as error:
        if error.detail:
            out.info(error.detail.rstrip())
        raise
    if plan.build is None:
        out.info(f"{args.ref} uses the standard image {plan.image}: nothing to build, nothing sent")
        out.result({**plan.summary(), "sent": False})
        return ExitCode.OK
    reply = await start_build(client, plan, options, ui)
    image_id = str(reply["image_id"])
    label = plan.build.ref
    out.info(f"image {label} accepted for building: {image_id}")
    if not args.wait:
        summary = plan.summary()
        out.result(
            {
                **summary,
                "image_id": image_id,
                "status": reply.get("status", "pending build"),
                "public": options.public,
                "sent": True,
            }
        )
        return ExitCode.OK
    await _follow(client, image_id, label, args.timeout, out)
    return ExitCode.OK


async def image_logs(client: ChutesClient, args: argparse.Namespace, out: Output) -> int:
    """An image's build log: what there is, or with --follow until the build ends."""
    image = None if is_uuid(args.ref) else await client.get_image(args.ref, raw=True)
    image_id = args.ref if image is None else str(image["image_id"])
    label = args.ref
    if args.follow:
        await _follow(client, image_id, label, None, out)
        return ExitCode.OK
    emit = log_printer(out)
    async for item in client.image_build_log(image_id, follow=False):
        emit(item)
    return ExitCode.OK


async def image_for_deploy(
    client: ChutesClient, args: argparse.Namespace, out: Output
) -> BuildPlan:
    """Import the chute with its image's build, for `deploy --build`."""
    options = build_options(args, logo=False)
    return await plan_build(client, args.ref, options, HeadlessBuildUI(out, args.yes))


async def build_for_deploy(
    client: ChutesClient, plan: BuildPlan, args: argparse.Namespace, out: Output
) -> dict[str, Any] | None:
    """Build the missing image (or wait for one being built) before a deploy; what happened.

    The log goes to stderr: the deploy's stdout holds its one result.
    """
    if plan.build is None:
        return None
    label = plan.build.ref
    if plan.existing is None:
        options = build_options(args, logo=False)
        reply = await start_build(
            client, plan, options, HeadlessBuildUI(out, args.yes, options.public)
        )
        image_id = str(reply["image_id"])
    elif finished(plan.existing.status):
        return None
    else:
        image_id = plan.existing.image_id
        out.info(f"image {label} is {plan.existing.status}: following its build")
    outcome = await _follow(client, image_id, label, args.build_timeout, out, to_stderr=True)
    return _outcome(outcome, label)
