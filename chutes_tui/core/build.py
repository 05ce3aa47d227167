"""Building a chute's image as `chutes build` does: import, list the context, confirm,
upload once, follow the build log until the build ends.

The SDK work (the Dockerfile text, the pickled Image, the context zip) happens in the
import child shared with the deploy flow. Before anything is uploaded the caller sees the
files and their size and says yes (`BuildUI`); a standard image (a name, not an Image) has
nothing to build and sends nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chutes_tui.client.api import StreamNotice
from chutes_tui.client.builds import BuildLogLine, BuildLogText
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    Conflict,
    ExitCode,
    NotFound,
    TimedOut,
)
from chutes_tui.core.chute_import import DEFAULT_TIMEOUT, ImageBuild, ImportedChute, import_chute

if TYPE_CHECKING:
    from chutes_tui.client.api import ChutesClient
    from chutes_tui.client.models import Image

BuildLogItem = BuildLogLine | BuildLogText | StreamNotice
READY = "built and pushed"  # the one status an image can be deployed from
STATUS_POLL = 2.0  # seconds between two looks at an image whose log said DONE too early


class BuildFailed(ChutesError):
    """The image build ended in an error."""

    exit_code = ExitCode.BUILD_FAILED


def finished(status: str) -> bool:
    return status == READY or status.startswith("error")


@dataclass
class BuildOptions:
    public: bool = False
    include_cwd: bool = False
    logo: str | None = None  # a path, relative to here
    directory: str = "."
    import_timeout: float = DEFAULT_TIMEOUT


@dataclass
class BuildPlan:
    ref: str
    imported: ImportedChute
    existing: Image | None = None  # the image on the platform already, if any
    username: str | None = None  # the caller's, when there is something to build

    @property
    def image(self) -> str:
        """The image the chute names: a standard image's name, or the id of the one built."""
        return str(self.imported.body["image"])

    @property
    def build(self) -> ImageBuild | None:
        """What would be sent; None for a standard image."""
        return self.imported.build

    def summary(self) -> dict[str, Any]:
        """The listing the confirmation shows, and the JSON result's `context`."""
        build = self.build
        if build is None:
            return {"ref": self.ref, "image": self.image, "standard_image": True}
        files = build.files
        return {
            "ref": self.ref,
            "image": build.ref,
            "image_id": build.image_id,
            "standard_image": False,
            "exists": self.existing is not None,
            "dockerfile": build.dockerfile,
            "context": {
                "files": len(files),
                "bytes": sum(entry.size for entry in files),
                "zip_bytes": len(build.context),
                "listing": [{"path": entry.path, "size": entry.size} for entry in files],
            },
        }


class BuildUI(Protocol):
    def progress(self, message: str) -> None: ...

    async def confirm_build(self, plan: BuildPlan) -> bool:
        """Upload this context and build this image?"""
        ...


async def plan_build(
    client: ChutesClient, ref: str, options: BuildOptions, ui: BuildUI | None = None
) -> BuildPlan:
    """Import the chute with its image's build; look the image up. Sends nothing that writes.

    A standard image asks the API nothing at all.
    """
    say = ui.progress if ui else (lambda message: None)
    say(f"importing {ref} and packing its build context …")
    imported = await import_chute(
        ref,
        options.directory,
        options.import_timeout,
        build=True,
        include_cwd=options.include_cwd,
    )
    plan = BuildPlan(ref, imported)
    if imported.build is None:
        return plan
    say(f"looking for image {imported.build.ref} …")
    try:
        plan.existing = await client.get_image(imported.build.image_id)
    except NotFound:
        plan.existing = None
    plan.username = (await client.me()).username
    return plan


async def start_build(
    client: ChutesClient, plan: BuildPlan, options: BuildOptions, ui: BuildUI
) -> dict[str, Any]:
    """Ask, upload the logo if any, then send the build once; the API's reply (`image_id`)."""
    from chutes_tui.core.deploy import Declined, LogoUnreadable, logo_check

    build = plan.build
    if build is None:
        raise ValueError(f"{plan.ref} uses the standard image {plan.image}: nothing to build")
    if plan.existing is not None:
        raise Conflict(
            f"image {build.ref} already exists ({plan.existing.status}): give it another tag"
            f" or delete it first (`chutes-tui --no-ui images delete {build.ref}`); nothing"
            " was sent"
        )
    if plan.username is not None and plan.username != build.username:
        raise AuthError(
            f"image {build.ref} is made for user {build.username}, and you are {plan.username}:"
            " set username in Image(...) to yours; nothing was sent"
        )
    if options.logo:
        check = logo_check(Path(options.logo))
        if not check.ok:
            fix = f" ({check.fix})" if check.fix else ""
            raise LogoUnreadable(f"{check.detail}{fix}: nothing was sent")
    if not await ui.confirm_build(plan):
        raise Declined("build cancelled: nothing was sent")
    logo_id = None
    if options.logo:
        ui.progress(f"uploading the logo {options.logo} …")
        try:
            logo_id = await client.upload_logo(Path(options.logo))
        except OSError as error:
            raise LogoUnreadable(
                f"cannot read the logo {options.logo}: {error.strerror or error}; nothing was sent"
            ) from None
    ui.progress(f"uploading {len(build.context):,} bytes and building {build.ref} …")
    return await client.build_image(
        username=build.username,
        name=build.name,
        tag=build.tag,
        readme=build.readme,
        dockerfile=build.dockerfile,
        image=build.pickled,
        context=build.context,
        public=options.public,
        logo_id=logo_id,
    )


@dataclass
class BuildOutcome:
    image_id: str
    status: str
    waited_seconds: float

    @property
    def built(self) -> bool:
        return self.status == READY


async def follow_build(
    client: ChutesClient,
    image_id: str,
    timeout: float | None,
    on_item: Callable[[BuildLogItem], None],
    label: str | None = None,
) -> BuildOutcome:
    """Stream the build log until the build ends, then read its status.

    `on_item` hears every line, the finished log's text and every reopening. Past
    `timeout` seconds (None: no limit) raises TimedOut; the build goes on on the platform.
    """
    started = time.monotonic()
    label = label or image_id
    guard = asyncio.timeout(timeout)
    try:
        async with guard:
            async for item in client.image_build_log(image_id):
                on_item(item)
            status = await _final_status(client, image_id)
    except TimeoutError:
        if not guard.expired():
            raise
        raise TimedOut(
            f"image {label} was still building after {timeout or 0:g} s; the build goes on:"
            f" follow it with `chutes-tui --no-ui images logs {image_id} --follow`"
        ) from None
    return BuildOutcome(image_id, status, round(time.monotonic() - started, 3))


async def _final_status(client: ChutesClient, image_id: str) -> str:
    """The image's status once it has ended (the log's DONE may come a moment before)."""
    while True:
        status = str((await client.get_image(image_id, raw=True)).get("status", ""))
        if finished(status):
            return status
        await asyncio.sleep(STATUS_POLL)
