"""Call a chute's cord: pick it, fill its body (a form for simple schemas, a checked JSON
editor otherwise), send it, and watch the reply: status, latency, and for a stream each chunk
as it arrives with the time to the first. The last calls are kept per chute, to send again.

Every request runs in a worker of this screen: leaving the screen cancels it.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Log, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from chutes_tui.client.errors import ChuteCold, ChutesError, InvocationFailed, NoAccess
from chutes_tui.client.invoke import InvokeChunk, InvokeResult, invoke_target
from chutes_tui.client.models import Chute, Cord
from chutes_tui.core.cord_input import FormField, check_json, form_body, simple_fields, skeleton
from chutes_tui.headless.terminal_text import safe_text
from chutes_tui.tui.access import DashboardAccess
from chutes_tui.tui.call_history import CallRecord
from chutes_tui.tui.widgets.account_bar import AccountBar

MAX_OUTPUT_LINES = 2000
KINDS = {ChuteCold: "cold", NoAccess: "no access", InvocationFailed: "failed"}


def cord_label(cord: Cord) -> str:
    method = (cord.public_api_method or "POST").upper()
    stream = "  (stream)" if cord.stream else ""
    return f"{method} {cord.public_api_path}  {cord.function}{stream}"


class CallScreen(DashboardAccess, Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", id="call.back"),
        Binding("ctrl+s", "send", "Send", id="call.send"),
        Binding("ctrl+t", "toggle_editor", "Form/JSON", id="call.editor"),
        Binding("ctrl+o", "focus_history", "History", id="call.history"),
    ]

    DEFAULT_CSS = """
    CallScreen #call-title { height: 1; padding: 0 1; }
    CallScreen #call-body { height: 1fr; }
    CallScreen #call-request { width: 1fr; padding: 0 1; }
    CallScreen #call-response { width: 1fr; padding: 0 1; }
    CallScreen #call-form { height: 1fr; }
    CallScreen #call-form Input { margin-bottom: 0; }
    CallScreen .field-label { height: 1; margin-top: 1; }
    CallScreen #call-json { height: 1fr; }
    CallScreen #call-check { height: auto; min-height: 1; }
    CallScreen #call-status { height: auto; min-height: 2; }
    CallScreen #call-output { height: 1fr; border: round $primary 40%; scrollbar-size: 1 1; }
    CallScreen #call-history { height: 8; border: round $primary 40%; }
    """

    def __init__(self, chute: Chute) -> None:
        super().__init__()
        self.chute = chute
        self.cords = [cord for cord in chute.cords or [] if cord.public_api_path]
        self.cord: Cord | None = self.cords[0] if self.cords else None
        self.fields: list[FormField] | None = None
        self.use_form = False
        self._form = 0  # which form the field ids belong to: a new cord builds a new one
        self.sending = False
        self.result: InvokeResult | None = None

    @property
    def slug(self) -> str:
        return self.chute.slug or ""

    def compose(self) -> ComposeResult:
        yield AccountBar()
        yield Static(id="call-title")
        with Horizontal(id="call-body"):
            with Vertical(id="call-request"):
                yield Select(
                    [(cord_label(cord), index) for index, cord in enumerate(self.cords)],
                    value=0 if self.cords else Select.BLANK,
                    allow_blank=False,
                    id="call-cord",
                )
                yield VerticalScroll(id="call-form")
                yield TextArea(id="call-json", soft_wrap=True, show_line_numbers=True)
                yield Static(id="call-check")
            with Vertical(id="call-response"):
                yield Static("Nothing sent yet. ctrl+s sends the body.", id="call-status")
                yield Log(id="call-output", max_lines=MAX_OUTPUT_LINES)
                yield OptionList(id="call-history")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        try:
            where = invoke_target(
                self.slug, self.state.client.connection.base_url, self.state.client.invoke_url
            ).url
        except ChutesError as error:
            where = error.message
        title = Text()
        title.append(f" Call {self.chute.name} ", style="bold reverse")
        title.append(f"  {where}", style="dim")
        self.query_one("#call-title", Static).update(title)
        self.query_one("#call-history", OptionList).border_title = "last calls (enter sends again)"
        self._show_history()
        self._use_cord(self.cord)

    # the body

    def _use_cord(self, cord: Cord | None, body: str | None = None) -> None:
        """Show `cord`'s body: its form, or with `body` (a call sent again) that JSON."""
        changed = cord is not self.cord or not self._form
        self.cord = cord
        self.fields = simple_fields(cord.input_schema) if cord else None
        self.use_form = self.fields is not None and body is None
        editor = self.query_one("#call-json", TextArea)
        if cord is not None:
            editor.text = body or skeleton(
                cord.public_api_path or "", cord.input_schema, cord.minimal_input_schema
            )
        if changed:
            self._build_form()
        self._show_editor()

    def field(self, index: int) -> Input | Checkbox:
        """The form's widget for the cord's field number `index`."""
        widget = self.query_one(f"#field-{self._form}-{index}")
        assert isinstance(widget, Input | Checkbox)
        return widget

    def _build_form(self) -> None:
        form = self.query_one("#call-form", VerticalScroll)
        form.remove_children()
        self._form += 1
        widgets: list[Any] = []
        for index, field in enumerate(self.fields or []):
            mark = " *" if field.required else ""
            label = Text(f"{field.name}{mark}", style="bold")
            label.append(f"  {field.kind}", style="dim")
            if field.description:
                label.append(f"  {field.description}", style="dim italic")
            widgets.append(Static(label, classes="field-label"))
            if field.kind == "boolean":
                checked = bool(field.default)
                widgets.append(Checkbox(field.name, checked, id=f"field-{self._form}-{index}"))
            else:
                value = "" if field.default is None else str(field.default)
                field_id = f"field-{self._form}-{index}"
                if field.kind == "integer":
                    widgets.append(Input(value, placeholder="integer", type="integer", id=field_id))
                elif field.kind == "number":
                    widgets.append(Input(value, placeholder="number", type="number", id=field_id))
                else:
                    widgets.append(Input(value, placeholder=field.kind, id=field_id))
        form.mount_all(widgets)

    def _show_editor(self) -> None:
        form, editor = self.query_one("#call-form"), self.query_one("#call-json", TextArea)
        form.display, editor.display = self.use_form, not self.use_form
        self._check()

    def _form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for index, field in enumerate(self.fields or []):
            values[field.name] = self.field(index).value
        return values

    def body(self) -> tuple[Any, str | None]:
        """The body to send and None, or None and what is wrong with it."""
        cord = self.cord
        if cord is None:
            return None, "this chute has no cord with a public path to call"
        if self.use_form and self.fields is not None:
            return form_body(self.fields, self._form_values())
        return check_json(self.query_one("#call-json", TextArea).text, cord.input_schema)

    def _check(self) -> None:
        _, problem = self.body()
        check = self.query_one("#call-check", Static)
        mode = "form" if self.use_form else "JSON"
        other = "JSON" if self.use_form else "form"
        switch = f"  (ctrl+t: {other})" if self.fields is not None else ""
        if problem:
            check.update(Text(f"✗ {problem}", style="red") + Text(switch, style="dim"))
        else:
            check.update(Text(f"✓ {mode} ready to send", style="green") + Text(switch, style="dim"))

    @on(Select.Changed, "#call-cord")
    def cord_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int) and self.cords[event.value] is not self.cord:
            self._use_cord(self.cords[event.value])

    @on(TextArea.Changed, "#call-json")
    @on(Input.Changed)
    @on(Checkbox.Changed)
    def body_changed(self) -> None:
        self._check()

    def action_toggle_editor(self) -> None:
        if self.fields is None:
            self.notify("This cord's input needs the JSON editor.", timeout=3)
            return
        if self.use_form:  # carry the form's values over into the JSON
            body, _ = self.body()
            if body is not None:
                self.query_one("#call-json", TextArea).text = json.dumps(body, indent=2)
        self.use_form = not self.use_form
        self._show_editor()

    # sending

    def action_send(self) -> None:
        body, problem = self.body()
        cord = self.cord
        if problem or cord is None:
            self.notify(problem or "nothing to call", title="Not sent", severity="warning")
            return
        self._start(cord, body)

    def _start(self, cord: Cord, body: Any) -> None:
        self.query_one("#call-output", Log).clear()
        self.run_worker(self._send(cord, body), group="call", exclusive=True)

    async def _send(self, cord: Cord, body: Any) -> None:
        method = (cord.public_api_method or "POST").upper()
        path = cord.public_api_path or ""
        status = self.query_one("#call-status", Static)
        output = self.query_one("#call-output", Log)
        status.update(Text(f"{method} {path}: sending…", style="yellow"))
        self.sending, self.result = True, None
        sent = json.dumps(body, separators=(",", ":")) if body is not None else ""
        chunks = 0
        try:
            events = self.state.client.invoke_events(self.slug, path, body, method=method)
            async with aclosing(events) as items:
                async for item in items:
                    if isinstance(item, InvokeChunk):
                        chunks += 1
                        if chunks == 1:
                            status.update(
                                Text(f"streaming… first chunk after {item.elapsed:.3f} s")
                            )
                        output.write_line(safe_text(item.text))
                    else:
                        self.result = item
        except ChutesError as error:
            kind = next((label for cls, label in KINDS.items() if isinstance(error, cls)), "")
            label = f"{kind}: " if kind else ""
            status.update(Text(f"✗ {label}{error.message}", style="bold red"))
            self._remember(cord, sent, error.status, f"{kind or 'error'}: {error.message}")
            return
        finally:
            self.sending = False
        result = self.result
        if result is None:
            return
        if not result.streamed:
            body_text = (
                result.body if isinstance(result.body, str) else json.dumps(result.body, indent=2)
            )
            for line in safe_text(body_text).splitlines() or [""]:
                output.write_line(line)
        outcome = f"HTTP {result.status} in {result.latency:.3f} s"
        if result.streamed:
            first = result.first_chunk
            outcome += f", first chunk {first:.3f} s" if first is not None else ", no chunks"
            outcome += f", {len(result.chunks)} chunks"
        style = "bold green"
        if result.error:
            outcome += f", then an error: {result.error}"
            style = "bold red"
        status.update(Text(outcome, style=style))
        self._remember(cord, sent, result.status, outcome)

    def _remember(self, cord: Cord, sent: str, status: int | None, outcome: str) -> None:
        method = (cord.public_api_method or "POST").upper()
        record = CallRecord(
            self.chute.chute_id, method, cord.public_api_path or "", sent, status, outcome
        )
        self.state.calls.add(record)
        self._show_history()

    def _show_history(self) -> None:
        history = self.query_one("#call-history", OptionList)
        history.clear_options()
        for index, record in enumerate(self.state.calls.of(self.chute.chute_id)):
            line = Text(f"{record.method} {record.path} ", style="bold")
            line.append(record.body[:40] or "(no body)", style="dim")
            line.append(f"  {record.outcome[:60]}", style="green" if record.ok else "red")
            history.add_option(Option(line, id=str(index)))

    @on(OptionList.OptionSelected, "#call-history")
    def resend(self, event: OptionList.OptionSelected) -> None:
        """Send a call from the history again: its cord, its body, as they were."""
        records = self.state.calls.of(self.chute.chute_id)
        index = int(event.option.id or 0)
        if index >= len(records):
            return
        record = records[index]
        cord = next(
            (
                cord
                for cord in self.cords
                if cord.public_api_path == record.path
                and (cord.public_api_method or "POST").upper() == record.method
            ),
            None,
        )
        if cord is None:
            self.notify(f"{record.method} {record.path} is no longer a cord of this chute.")
            return
        if cord is not self.cord:
            self.query_one("#call-cord", Select).value = self.cords.index(cord)
        pretty = json.dumps(json.loads(record.body), indent=2) if record.body else "{}"
        self._use_cord(cord, body=pretty)
        body, problem = self.body()
        if problem:
            self.notify(problem, title="Not sent", severity="warning")
            return
        self._start(cord, body)

    def action_focus_history(self) -> None:
        self.query_one("#call-history", OptionList).focus()

    def action_back(self) -> None:
        self.app.pop_screen()  # the call's worker goes with the screen
