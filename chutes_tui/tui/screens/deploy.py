"""The deploy wizard: reference, import, pre-flight, the fee, a deliberate `y`, deploy, result."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Static

from chutes_tui.client.errors import ChutesError
from chutes_tui.core import deploy as flow
from chutes_tui.tui.widgets.account_bar import AccountBar

CHUTE_ASSIGN_RE = re.compile(
    r"^([a-z][a-z0-9_]+)\s*=\s*(?:Chute|ChutePack|build_\w+)\(", re.I | re.M
)
MAX_SUGGESTIONS = 12
# accept_fee is not a field: pressing y on the fee shown is the acceptance.
WIZARD_OPTIONS = [option for option in flow.OPTIONS if option.name != "accept_fee"]


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


def fee_text(plan: flow.DeployPlan) -> Text:
    summary = plan.summary()
    text = Text()
    text.append(f"{summary['chute']}", style="bold")
    text.append(f"  {'update' if plan.existing else 'new chute'} from {summary['image']}\n")
    gpus = summary["gpus"]
    text.append(f"{gpus['count']} GPU(s), at least {gpus['min_vram_gb']} GB each; ")
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
    return text


class DeployScreen(Screen):
    AUTO_FOCUS = "#ref"
    BINDINGS = [
        Binding("escape", "back", "Back", id="deploy.back"),
        Binding("y", "deploy", "Deploy", id="deploy.confirm"),
        Binding("w", "wait_image", "Wait for image", id="deploy.wait_image"),
    ]

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        self.directory = directory or os.getcwd()
        self.plan: flow.DeployPlan | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        found = suggest_refs(self.directory)
        hint = ("Found here: " + "  ".join(found)) if found else "No chute files found here."
        yield AccountBar()
        yield Static(Text(" Deploy a chute ", style="bold reverse"), id="title")
        with VerticalScroll(id="wizard"):
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
            yield Static(id="checks")
            yield Static(id="fee")
            yield Static(id="next")
        yield Footer(compact=True)

    def show_status(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(message, style="italic"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "deploy":
            return self.plan is not None and self.plan.ready and not self.busy
        if action == "wait_image":
            return self.plan is not None and self.plan.waiting_for_image and not self.busy
        return True

    def action_wait_image(self) -> None:
        """Watch a building image and plan again once its build ends."""
        if self.plan is None or not self.plan.waiting_for_image:
            return
        plan, self.busy = self.plan, True
        self.refresh_bindings()

        async def watch() -> None:
            try:
                await flow.wait_for_image(self.app.client, plan.image, 3600, WizardUI(self))  # type: ignore[attr-defined]
            except ChutesError as error:
                self.notify(error.message, severity="warning")
            self.busy = False
            await self._plan(plan.ref)

        self.run_worker(watch(), group="plan", exclusive=True)

    @on(Input.Submitted, "#ref")
    def plan_it(self, event: Input.Submitted) -> None:
        self.plan = None
        for part in ("#checks", "#fee", "#next"):
            self.query_one(part, Static).update("")
        self.refresh_bindings()
        self.run_worker(self._plan(event.value.strip()), group="plan", exclusive=True)

    async def _plan(self, ref: str) -> None:
        options = self._options()
        try:
            plan = await flow.plan_deploy(self.app.client, ref, options, WizardUI(self))  # type: ignore[attr-defined]
        except flow.ImportFailed as error:
            self.show_status("")
            self.query_one("#checks", Static).update(
                Text(f"✗ {error.message}\n\n{error.detail}".rstrip(), style="red")
            )
            return
        except ChutesError as error:
            self.show_status("")
            self.query_one("#checks", Static).update(Text(f"✗ {error.message}", style="red"))
            return
        self.plan = plan
        self.show_status("")
        self.query_one("#wizard").focus()  # so y reaches the screen, not the input
        self.query_one("#checks", Static).update(plan_table(plan))
        self.query_one("#fee", Static).update(fee_text(plan))
        if plan.ready:
            cost = f" and accept the ${plan.fee:,.2f} fee" if plan.fee else ""
            self.query_one("#next", Static).update(
                Text.assemble(
                    ("Press ", ""),
                    ("y", "bold red" if plan.fee else "bold"),
                    (f" to deploy{cost}; esc to go back.", ""),
                )
            )
        elif plan.waiting_for_image:
            self.query_one("#next", Static).update(
                Text(
                    "The image is still being built: press w to wait and watch it.", style="yellow"
                )
            )
        else:
            self.query_one("#next", Static).update(
                Text(
                    "Fix the marked problems, then press enter in the reference box again.",
                    style="yellow",
                )
            )
        self.refresh_bindings()

    def _options(self) -> flow.DeployOptions:
        values = {}
        for option in WIZARD_OPTIONS:
            widget = self.query_one(f"#option-{option.name}")
            value = widget.value
            values[option.name] = (value.strip() or None) if option.takes else bool(value)
        return flow.DeployOptions(
            **values,
            accept_fee=True,  # only used after the user pressed y on the fee shown
            directory=self.directory,
        )

    def action_deploy(self) -> None:
        if self.plan is None or not self.plan.ready or self.busy:
            return
        self.busy = True
        self.refresh_bindings()
        self.run_worker(self._deploy(self.plan), group="deploy", exclusive=True)

    async def _deploy(self, plan: flow.DeployPlan) -> None:
        options = self._options()
        options.accept_fee = plan.fee > 0  # the fee was on screen when y was pressed
        try:
            chute = await flow.deploy(self.app.client, plan, options, WizardUI(self))  # type: ignore[attr-defined]
        except ChutesError as error:
            self.busy = False
            self.show_status("")
            self.notify(error.message, title="Deploy failed", severity="error", timeout=10)
            self.refresh_bindings()
            return
        self.notify(
            f"Deployed {chute.name}: id {chute.chute_id}, version {chute.version}",
            title="Deployed",
            timeout=8,
        )
        self.app.refresh_feed("chutes")  # type: ignore[attr-defined]
        self.app.load_account()  # type: ignore[attr-defined]
        self.app.open_live(chute.chute_id, replace=True)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        if not self.busy:
            self.app.pop_screen()
