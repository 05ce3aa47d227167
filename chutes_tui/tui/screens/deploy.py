"""The deploy wizard: reference, import, pre-flight, the fee, a deliberate `y`, deploy, result."""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Checkbox, Footer, Input, Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.core import deploy as flow
from chutes_tui.core.chute_import import ImportedChute
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.widgets.account_bar import AccountBar

CHUTE_ASSIGN_RE = re.compile(
    r"^([a-z][a-z0-9_]+)\s*=\s*(?:Chute|ChutePack|build_\w+)\(", re.I | re.M
)
MAX_SUGGESTIONS = 12
# accept_fee and max_fee are not fields: pressing y on the fee shown is the acceptance.
WIZARD_OPTIONS = [option for option in flow.OPTIONS if option.wizard]


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def suggest_refs(directory: str | Path) -> list[str]:
    """`module:chute` candidates from the *.py files in a directory (a quick text scan)."""
    found = []
    for path in sorted(Path(directory).glob("*.py")):
        try:
            text = path.read_text(errors="replace")[:200_000]
        except OSError:
            continue
        for match in CHUTE_ASSIGN_RE.finditer(text):
            found.append(f"{path.stem}:{match.group(1)}")
    return found[:MAX_SUGGESTIONS]


class WizardUI:
    """The flow's progress goes to the wizard; its confirmation was the `y` already given."""

    wait_hint = "press w to wait and watch it"

    def __init__(self, screen: DeployScreen) -> None:
        self.screen = screen

    def progress(self, message: str) -> None:
        self.screen.show_status(message)

    async def confirm(self, plan: flow.DeployPlan) -> bool:
        return True

    async def confirm_fee(self, plan: flow.DeployPlan, amount: float) -> bool:
        return await self.screen.ask_fee(plan, amount)


def plan_table(plan: flow.DeployPlan) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(width=2)
    table.add_column(style="bold", no_wrap=True, width=14)
    table.add_column(overflow="fold")
    for check in plan.checks:
        mark = Text("✓", style="green") if check.ok else Text("✗", style="bold red")
        detail = Text(check.detail)
        if check.fix and not check.ok:
            detail.append(f"\n→ {check.fix}", style="yellow")
        table.add_row(mark, check.name, detail)
    return table


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def elapsed(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fee_text(plan: flow.DeployPlan) -> Text:
    summary = plan.summary()
    text = Text()
    text.append(f"{summary['chute']}", style="bold")
    text.append(f"  {'update' if plan.existing else 'new chute'} from {summary['image']}\n")
    gpus = summary["gpus"]
    text.append(f"{plural(gpus['count'], 'GPU')}, at least {gpus['min_vram_gb']} GB each; ")
    text.append("public\n" if summary["public"] else "private\n")
    hourly = summary["hourly_usd"]
    if hourly:
        text.append(
            f"Runs at ${hourly['min']:,.2f} to ${hourly['max']:,.2f} per hour per"
            " instance, billed while instances are up.\n"
        )
    text.append("Deployment fee: ", style="bold")
    text.append(
        f"${plan.fee:,.2f}" if plan.fee else "none (an update)" if plan.existing else "none",
        style="bold yellow" if plan.fee else "bold green",
    )
    text.append(f"  ({plan.prices}; the server confirms it before charging)", style="dim")
    return text


def fee_change_text(plan: flow.DeployPlan, amount: float) -> Text:
    return Text.assemble(
        ("The server asks a deployment fee of ", ""),
        (f"${amount:,.2f}", "bold yellow"),
        (f" for {plan.name}, not the ${plan.fee:,.2f} estimated. Nothing was charged.", ""),
    )


class DeployScreen(DashboardAccess, Screen[None]):
    """A plan is made for the fields as they are; changing one drops it and plans again.

    The form sits at the top, the fee and the confirm line at the bottom; only the checks
    between them scroll, so the fee and `y` are on screen whatever the terminal's height.
    """

    AUTO_FOCUS = "#ref"
    BINDINGS = [
        Binding("escape", "back", "Back", id="deploy.back"),
        Binding("y", "deploy", "Deploy", id="deploy.confirm"),
        Binding("w", "wait_image", "Wait for image", id="deploy.wait_image"),
        Binding("b", "build_image", "Build image", id="deploy.build_image"),
        Binding("enter,r", "plan", "Plan", id="deploy.plan"),
    ]
    # After the last change to a field: a plan per keystroke would import per keystroke.
    REPLAN_DELAY = 0.8
    WAIT_LIMIT = 3600.0

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        self.directory = directory or os.getcwd()
        self.plan: flow.DeployPlan | None = None
        self.requested: tuple[str, flow.DeployOptions] | None = None  # the latest plan's inputs
        self.planning = False
        self._plans = 0  # counts plans started, so a superseded one cannot land
        self.waiting = False
        self.deploying = False
        self.wait_started = 0.0
        self.clock = time.monotonic  # the wait's elapsed time; a test may move it
        self._wait_line = ""
        self._wait_timer: Timer | None = None
        self._replan_timer: Timer | None = None
        self._focus_plan = False  # move to the checks when the plan lands (asked with enter/r)
        self._import: tuple[ImportedChute, int | None] | None = None  # last import, file mtime
        self.fee_question: asyncio.Future[bool] | None = None  # the server named another fee

    @property
    def busy(self) -> bool:
        return self.waiting or self.deploying

    def compose(self) -> ComposeResult:
        found = suggest_refs(self.directory)
        hint = ("Found here: " + "  ".join(found)) if found else "No chute files found here."
        yield AccountBar()
        yield Static(Text(" Deploy a chute ", style="bold reverse"), id="title")
        with Vertical(id="wizard"):
            shown = os.path.relpath(self.directory)
            where = "this directory" if shown == "." else shown
            yield Static(f"Chute reference (module:chute) in {where}", id="ref-label")
            with Horizontal(id="ref-row"):
                yield Input(found[0] if found else "", placeholder="my_chute:chute", id="ref")
                for option in WIZARD_OPTIONS:  # declared once in core: flags there, fields here
                    if option.takes:
                        yield Input(
                            placeholder=f"{option.name} {option.takes.lower()} (optional)",
                            id=f"option-{option.name}",
                        )
                    else:
                        yield Checkbox(option.name, id=f"option-{option.name}")
            yield Static(Text(hint, style="dim"), id="suggestions")
            yield Static(id="status")
        with VerticalScroll(id="checks-box"):
            yield Static(id="checks")
        with Vertical(id="summary", classes="-empty"):
            yield Static(id="fee")
            yield Static(id="next")
        yield Footer(compact=True)

    def show_status(self, message: str) -> None:
        if self.waiting:
            self._wait_line = message
            self._show_wait()
            return
        self.query_one("#status", Static).update(Text(message, style="italic"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "deploy":
            if self.fee_question is not None:
                return True
            return self.plan is not None and self.plan.ready and not self.busy
        if action == "wait_image":
            return self.plan is not None and self.plan.waiting_for_image and not self.busy
        if action == "build_image":
            return self.plan is not None and self.plan.image_missing and not self.busy
        if action == "plan":  # r stays this screen's, not the app's refresh, while waiting
            return not self.deploying
        return True

    # --- planning ------------------------------------------------------------------------

    def _inputs(self) -> tuple[str, flow.DeployOptions]:
        return self.query_one("#ref", Input).value.strip(), self._options()

    def _options(self) -> flow.DeployOptions:
        values: dict[str, Any] = {}
        for option in WIZARD_OPTIONS:
            if option.takes:
                text = self.query_one(f"#option-{option.name}", Input).value
                values[option.name] = text.strip() or None
            else:
                values[option.name] = self.query_one(f"#option-{option.name}", Checkbox).value
        return flow.DeployOptions(
            **values,
            accept_fee=True,  # only used after the user pressed y on the fee shown
            directory=self.directory,
        )

    def _clear_plan(self) -> None:
        self.plan = None
        self.query_one("#checks", Static).update("")
        for part in ("#fee", "#next"):
            self.query_one(part, Static).update("")
            self.query_one(part).display = False
        self.query_one("#summary").add_class("-empty")
        self.refresh_bindings()

    def _show_summary(self, part: str, content: Text) -> None:
        """The fee or the next step, at the bottom (the summary shows once it has either)."""
        self.query_one(part, Static).update(content)
        self.query_one(part).display = True
        self.query_one("#summary").remove_class("-empty")

    def _start_plan(self, *, focus: bool, reuse_import: bool = False) -> None:
        """Plan for the fields as they are. With `reuse_import` (only an option changed), the
        last import of the same reference is used again while its file is unchanged; enter and
        r always import afresh (the user may have changed a file the module reads)."""
        if self._replan_timer is not None:
            self._replan_timer.stop()
            self._replan_timer = None
        self._clear_plan()
        self._focus_plan = focus
        self.requested = ref, options = self._inputs()
        imported = self._reusable_import(ref) if reuse_import else None
        self.planning = True
        self._plans += 1
        self.run_worker(
            self._plan(ref, options, self._plans, imported), group="plan", exclusive=True
        )

    def _reusable_import(self, ref: str) -> ImportedChute | None:
        if self._import is None:
            return None
        imported, mtime = self._import
        same = imported.ref == ref and mtime is not None and _mtime(imported.module_file) == mtime
        return imported if same else None

    def action_plan(self) -> None:
        """Plan with the fields as they are now (after fixing a file, say); stops a wait."""
        if self.deploying:
            return
        if self.waiting:
            self._stop_wait()
        self._start_plan(focus=True)

    @on(Input.Submitted)
    def plan_it(self, event: Input.Submitted) -> None:
        """Enter in a field: done typing. Plan, unless a ready plan is for these fields."""
        event.stop()
        if self.busy:
            self.action_plan()  # stops a wait; nothing while deploying
            return
        current = self.requested == self._inputs()
        if current and self.planning:
            self._focus_plan = True
        elif current and self.plan is not None and self.plan.ready:
            self.query_one("#checks-box").focus()
        else:
            self._start_plan(focus=True)

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def field_changed(self, event: Input.Changed | Checkbox.Changed) -> None:
        """A plan checked other values: drop it now, plan again when the typing pauses."""
        if self.requested is None or self.deploying:
            return  # nothing planned yet, or already sent
        if self.waiting:
            self._stop_wait()
        self.workers.cancel_group(self, "plan")  # an import under way is for the old values
        self.planning = False
        self._plans += 1
        self._clear_plan()
        self.show_status("Changed since the plan: planning again …")
        if self._replan_timer is not None:
            self._replan_timer.stop()
        self._replan_timer = self.set_timer(
            self.REPLAN_DELAY, lambda: self._start_plan(focus=False, reuse_import=True)
        )

    async def _plan(
        self,
        ref: str,
        options: flow.DeployOptions,
        number: int,
        imported: ImportedChute | None = None,
    ) -> None:
        try:
            plan = await flow.plan_deploy(
                self.state.client, ref, options, WizardUI(self), imported=imported
            )
        except ChutesError as error:
            if number == self._plans:
                self.planning = False
                self._plan_failed(error)
            return
        if number != self._plans or (ref, options) != self._inputs():
            return  # superseded: a field changed meanwhile, and its own plan follows
        self.planning = False
        self.plan = plan
        if plan.imported is not None:
            self._import = plan.imported, _mtime(plan.imported.module_file)
        self.show_status("")
        if self._focus_plan:
            self.query_one("#checks-box").focus()  # so y and r reach the screen
        self.query_one("#checks", Static).update(plan_table(plan))
        self._show_summary("#fee", fee_text(plan))
        self._show_next(in_field=False if self._focus_plan else None)
        self.refresh_bindings()

    def _plan_failed(self, error: ChutesError) -> None:
        message = f"✗ {error.message}"
        if isinstance(error, flow.ImportFailed) and error.detail:
            message += f"\n\n{error.detail.rstrip()}"
        self.show_status("")
        self.query_one("#checks", Static).update(Text(message, style="red"))
        self._show_summary("#next", Text("Fix it, then press enter to plan again.", style="yellow"))

    def _show_next(self, in_field: bool | None = None) -> None:
        """What to press now; from a field, enter first (y and r would be typed)."""
        plan = self.plan
        if plan is None or self.waiting:
            return
        focused = self.focused if in_field is None else None  # else the focus is on its way
        if in_field is None:
            in_field = isinstance(focused, Input)
        if plan.ready:
            cost = f" and accept the ${plan.fee:,.2f} fee" if plan.fee else ""
            line = Text.assemble(
                ("Press ", ""),
                ("enter, then " if in_field else "", ""),
                ("y", "bold red" if plan.fee else "bold"),
                (f" to deploy{cost}; esc to go back.", ""),
            )
        elif plan.waiting_for_image:
            line = Text(
                f"The image is still being built: press {'enter, then ' if in_field else ''}w"
                " to wait and watch it.",
                style="yellow",
            )
        elif plan.image_missing:
            line = Text(
                f"The image does not exist yet: press {'enter, then ' if in_field else ''}b"
                " to build it now; the deploy plans again once it is built.",
                style="yellow",
            )
        else:
            # enter ticks a checkbox, r is typed into a field
            keys = "r" if isinstance(focused, Checkbox) else "enter" if in_field else "enter or r"
            line = Text(f"Fix the marked problems, then press {keys} to plan again.", "yellow")
        self._show_summary("#next", line)

    def on_descendant_focus(self) -> None:
        self._show_next()

    # --- building the missing image -------------------------------------------------------

    def action_build_image(self) -> None:
        """Build the chute's image now; once it is built, plan the deploy again."""
        from chutes_tui.tui.screens.build import BUILT, BuildScreen
        from chutes_tui.tui.screens.build_wizard import BuildWizard

        if self.plan is None or not self.plan.image_missing or self.busy:
            return
        ref = self.plan.ref

        def built(status: str | None) -> None:
            if status == BUILT:
                self._start_plan(focus=True)
            else:
                self.show_status("The image is not built yet: press b to build, r to plan.")

        def sent(image_id: str | None) -> None:
            if image_id:
                self.app.push_screen(BuildScreen(image_id, return_when_built=True), built)

        self.app.push_screen(BuildWizard(self.directory, ref), sent)

    # --- waiting for an image --------------------------------------------------------------

    def action_wait_image(self) -> None:
        """Watch a building image and plan again once its build ends; esc stops watching."""
        if self.plan is None or not self.plan.waiting_for_image or self.busy:
            return
        plan = self.plan
        self.waiting = True
        self.wait_started = self.clock()
        self._wait_line = f"image {plan.image}: waiting for its build"
        self._wait_timer = self.set_interval(1.0, self._show_wait)
        self._show_wait()
        self._show_summary(
            "#next",
            Text("Waiting for the image to be built and pushed; esc stops waiting.", "yellow"),
        )
        self.refresh_bindings()
        self.run_worker(self._wait(plan), group="wait", exclusive=True)

    async def _wait(self, plan: flow.DeployPlan) -> None:
        try:
            await flow.wait_for_image(
                self.state.client, plan.image, self.WAIT_LIMIT, WizardUI(self)
            )
        except ChutesError as error:
            self.notify(error.message, severity="warning")
        self._end_wait()
        self._start_plan(focus=True)

    def _show_wait(self) -> None:
        waited = elapsed(self.clock() - self.wait_started)
        self.query_one("#status", Static).update(
            Text(f"{self._wait_line} · waited {waited} · esc stops waiting", style="italic")
        )

    def _end_wait(self) -> None:
        if self._wait_timer is not None:
            self._wait_timer.stop()
            self._wait_timer = None
        self.waiting = False
        self.refresh_bindings()

    def _stop_wait(self) -> str:
        """Stop watching (the worker, the timer); how long it watched."""
        waited = elapsed(self.clock() - self.wait_started)
        self.workers.cancel_group(self, "wait")
        self._end_wait()
        return waited

    # --- deploying -------------------------------------------------------------------------

    async def ask_fee(self, plan: flow.DeployPlan, amount: float) -> bool:
        """Show the server's amount and wait for `y` (accept it) or esc (send nothing more)."""
        self.fee_question = asyncio.get_running_loop().create_future()
        self._show_summary("#fee", fee_change_text(plan, amount))
        self._show_summary(
            "#next",
            Text.assemble(
                ("Press ", ""),
                ("y", "bold red"),
                (f" to deploy and accept the ${amount:,.2f} fee; esc to cancel.", ""),
            ),
        )
        self.query_one("#checks-box").focus()  # so y and esc reach the screen
        self.refresh_bindings()
        try:
            return await self.fee_question
        finally:
            self.fee_question = None
            self.refresh_bindings()

    def _answer_fee(self, accepted: bool) -> None:
        if self.fee_question is not None and not self.fee_question.done():
            self.fee_question.set_result(accepted)

    def action_deploy(self) -> None:
        if self.fee_question is not None:
            self._answer_fee(True)
            return
        if self.plan is None or not self.plan.ready or self.busy or self.requested is None:
            return
        ref, options = self.requested
        if (ref, options) != self._inputs():  # a change not yet seen: never send the old plan
            self._start_plan(focus=True)
            return
        self.deploying = True
        self.refresh_bindings()
        self.run_worker(self._deploy(self.plan, options), group="deploy", exclusive=True)

    async def _deploy(self, plan: flow.DeployPlan, options: flow.DeployOptions) -> None:
        # the fee was on screen when y was pressed; the options are those the plan checked
        options = replace(options, accept_fee=plan.fee > 0)
        try:
            chute = await flow.deploy(self.state.client, plan, options, WizardUI(self))
        except ChutesError as error:
            self.deploying = False
            self.show_status("")
            self._show_summary("#fee", fee_text(plan))
            self._show_next()
            self.notify(error.message, title="Deploy failed", severity="error", timeout=10)
            self.refresh_bindings()
            return
        charged = f"; fee charged ${plan.fee_charged:,.2f}" if plan.fee_charged else ""
        self.notify(
            f"Deployed {chute.name}: id {chute.chute_id}, version {chute.version}{charged}",
            title="Deployed",
            timeout=8,
        )
        self.dashboard.refresh_feed("chutes")
        self.dashboard.load_account()
        self.dashboard.open_live(chute.chute_id, replace=True)

    def action_back(self) -> None:
        """Esc stops a wait for an image (back to the form), else leaves; never mid-deploy."""
        if self.waiting:
            waited = self._stop_wait()
            self.show_status(f"Stopped waiting after {waited}.")
            self._show_next()
            return
        if self.fee_question is not None:
            self._answer_fee(False)
            return
        if self.deploying:
            return
        self.workers.cancel_group(self, "plan")  # ends an import under way, and its child
        self.app.pop_screen()
