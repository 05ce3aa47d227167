"""Build a chute's image: pick the chute file, see the context that would be uploaded, `y`.

The chute is imported in the same isolated child as for a deploy; what it would send (the
Dockerfile and every file of the context with its size) is listed before anything leaves
the machine. `y` uploads once; the wizard then gives way to the build view.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Group
from rich.text import Text
from rich.tree import Tree
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.core import build as flow
from chutes_tui.core.chute_import import ContextFile
from chutes_tui.core.formatting import plural
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.screens.deploy import suggest_refs
from chutes_tui.tui.widgets.account_bar import AccountBar

MAX_LISTED = 400  # files drawn in the tree; the totals always count them all


def size_text(size: int) -> str:
    """`812 B`, `14.2 KB`, `3.1 MB`."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def context_tree(files: list[ContextFile], title: str) -> Tree:
    """The context's files as a tree of folders, each folder with its total size."""
    root = Tree(Text(title, style="bold"), guide_style="dim")
    folders: dict[tuple[str, ...], Tree] = {(): root}
    totals: dict[tuple[str, ...], int] = {}
    for entry in files[:MAX_LISTED]:
        parts = tuple(entry.path.split("/"))
        for depth in range(1, len(parts)):
            folder = parts[:depth]
            totals[folder] = totals.get(folder, 0) + entry.size
            if folder not in folders:
                folders[folder] = folders[folder[:-1]].add("")
        folders[parts[:-1]].add(Text.assemble(parts[-1], (f"  {size_text(entry.size)}", "dim")))
    for folder, node in folders.items():
        if folder:
            node.label = Text.assemble(
                (f"{folder[-1]}/", "bold blue"), (f"  {size_text(totals[folder])}", "dim")
            )
    if len(files) > MAX_LISTED:
        root.add(Text(f"… and {plural(len(files) - MAX_LISTED, 'more file')}", style="dim"))
    return root


def plan_text(plan: flow.BuildPlan) -> Text | Group:
    """What `y` would send (the context, then the Dockerfile), or why there is nothing to."""
    build = plan.build
    if build is None:
        return Text(
            f"{plan.ref} runs on the standard image {plan.image}: there is nothing to build.",
            style="green",
        )
    summary = plan.summary()["context"]
    title = (
        f"{build.ref}: {plural(summary['files'], 'file')}, {size_text(summary['bytes'])}"
        f" ({size_text(summary['zip_bytes'])} zipped)"
    )
    dockerfile = Text(build.dockerfile.strip(), style="dim", overflow="fold")
    return Group(context_tree(build.files, title), Text(""), Text("Dockerfile", "bold"), dockerfile)


class BuildWizard(DashboardAccess, Screen[str | None]):
    """Dismissed with the new image's id once its build is under way, else None."""

    AUTO_FOCUS = "#ref"
    BINDINGS = [
        Binding("escape", "back", "Back", id="build_wizard.back"),
        Binding("y", "build", "Build", id="build_wizard.confirm"),
        Binding("enter,r", "plan", "Plan", id="build_wizard.plan"),
    ]

    def __init__(self, directory: str | None = None, ref: str | None = None) -> None:
        super().__init__()
        self.directory = directory or os.getcwd()
        self.ref = ref
        self.plan: flow.BuildPlan | None = None
        self.sending = False

    def compose(self) -> ComposeResult:
        found = suggest_refs(self.directory)
        hint = ("Found here: " + "  ".join(found)) if found else "No chute files found here."
        shown = os.path.relpath(self.directory)
        where = "this directory" if shown == "." else shown
        yield AccountBar()
        yield Static(Text(" Build an image ", style="bold reverse"), id="title")
        with Vertical(id="wizard"):
            yield Static(f"Chute reference (module:chute) in {where}", id="ref-label")
            with Horizontal(id="ref-row"):
                yield Input(
                    self.ref or (found[0] if found else ""), placeholder="my_chute:chute", id="ref"
                )
                yield Checkbox("public", id="option-public")
                yield Checkbox("include_cwd", id="option-include_cwd")
            yield Static(Text(hint, style="dim"), id="suggestions")
            yield Static(id="status")
        with VerticalScroll(id="checks-box"):
            yield Static(id="context")
        with Vertical(id="summary"):
            yield Static(id="next")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.ref:
            self.action_plan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "build":
            return self._sendable() and not self.sending
        return True

    def _sendable(self) -> bool:
        plan = self.plan
        return plan is not None and plan.build is not None and plan.existing is None

    def _options(self) -> flow.BuildOptions:
        return flow.BuildOptions(
            public=self.query_one("#option-public", Checkbox).value,
            include_cwd=self.query_one("#option-include_cwd", Checkbox).value,
            directory=self.directory,
        )

    def _say(self, part: str, text: Text | Group | str) -> None:
        self.query_one(part, Static).update(text)

    # planning

    def action_plan(self) -> None:
        if self.sending:
            return
        self.plan = None
        self.refresh_bindings()
        self._say("#context", "")
        self._say("#next", "")
        ref = self.query_one("#ref", Input).value.strip()
        self.run_worker(self._plan(ref, self._options()), group="plan", exclusive=True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_plan()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        """The plan shown was for other values: it goes (enter plans again)."""
        if self.plan is not None and not self.sending:
            self.workers.cancel_group(self, "plan")
            self.plan = None
            self.refresh_bindings()
            self._say("#context", "")
            self._say("#next", Text("Changed: press enter to plan again.", style="yellow"))

    async def _plan(self, ref: str, options: flow.BuildOptions) -> None:
        self._say("#status", Text(f"importing {ref} and packing its context …", style="italic"))
        try:
            plan = await flow.plan_build(self.state.client, ref, options)
        except ChutesError as error:
            self._say("#status", "")
            self._say("#context", Text(f"✗ {error.message}", style="red"))
            self._say("#next", Text("Fix it, then press enter to plan again.", style="yellow"))
            return
        self.plan = plan
        self._say("#status", "")
        self._say("#context", plan_text(plan))
        self.query_one("#checks-box").focus()  # so y reaches the screen
        build = plan.build
        if build is None:
            line = Text("Nothing to build: esc to go back.", style="green")
        elif plan.existing is not None:
            line = Text(
                f"{build.ref} exists already ({plan.existing.status}): give it another tag, or"
                " delete it first.",
                style="yellow",
            )
        else:
            public = " as a public image" if options.public else ""
            line = Text.assemble(
                ("Press ", ""),
                ("y", "bold"),
                (f" to upload these files and build {build.ref}{public}; esc to go back.", ""),
            )
        self._say("#next", line)
        self.refresh_bindings()

    # sending

    def action_build(self) -> None:
        plan = self.plan
        if plan is None or not self._sendable() or self.sending:
            return
        self.sending = True
        self.refresh_bindings()
        self.run_worker(self._send(plan, self._options()), group="send")

    async def _send(self, plan: flow.BuildPlan, options: flow.BuildOptions) -> None:
        ui = _WizardUI(self)
        try:
            reply = await flow.start_build(self.state.client, plan, options, ui)
        except ChutesError as error:
            self.sending = False
            self.refresh_bindings()
            self._say("#status", "")
            self._say("#next", Text(f"✗ {error.message}", style="red"))
            return
        self.dismiss(str(reply.get("image_id") or (plan.build.image_id if plan.build else "")))

    def action_back(self) -> None:
        if self.sending:
            self.notify("The upload is under way; the build view opens once it is sent.")
            return
        self.workers.cancel_node(self)  # an import under way: its child process goes too
        self.dismiss(None)


class _WizardUI:
    """The flow's progress goes to the wizard; its question was the `y` already given."""

    def __init__(self, screen: BuildWizard) -> None:
        self.screen = screen

    def progress(self, message: str) -> None:
        self.screen._say("#status", Text(message, style="italic"))

    async def confirm_build(self, plan: flow.BuildPlan) -> bool:
        return True


def open_build(screen: DashboardAccess, directory: str | Path | None = None) -> None:
    """From the images list: the wizard, then the build view of what it sent."""
    from chutes_tui.tui.screens.build import BuildScreen

    app = screen.dashboard

    def sent(image_id: str | None) -> None:
        if image_id:
            app.refresh_feed("images")
            app.push_screen(BuildScreen(image_id))

    app.push_screen(BuildWizard(str(directory) if directory else None), sent)
