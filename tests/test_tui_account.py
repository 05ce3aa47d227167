"""The account screen's Spend tab and the call screen, driven with Pilot against a sandbox:
the figures are the API's, the form and the JSON editor send what they show, a stream comes
in chunk by chunk, the last calls are sent again, and leaving the screen ends its call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from textual.widgets import Log, OptionList, Static, TextArea

from chutes_tui.core.spend import runway_text
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.screens.account import AccountScreen
from chutes_tui.tui.screens.account_spend import SpendPane
from chutes_tui.tui.screens.call import CallScreen
from chutes_tui.tui.screens.chute_detail import ChuteDetailScreen
from chutes_tui.tui.widgets.table import VirtualTable
from tests.conftest import Sandbox, deploy_body, running_sandbox
from tests.simclock import pilot_wait_simulated
from tests.test_tui import (  # noqa: F401 - fixtures are found by name
    Notes,
    api_get,
    app_for,
    private_dirs,
    static_text,
    type_text,
    wait_for,
    wait_loaded,
)


@pytest.fixture
def own_box(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh sandbox per test whose clock moves only when the test moves it (speed 1:
    Pilot waits for idle, and fast ticks would delay it)."""
    with running_sandbox(tmp_path / "box", speed=1.0, paused=True) as box:
        yield box


def spend_pane(app: ChutesApp) -> SpendPane:
    return app.screen.query_one(SpendPane)


async def open_spend(pilot) -> ChutesApp:
    app = await wait_loaded(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen), "the account screen")
    await wait_for(pilot, lambda: spend_pane(app).report is not None, "the spend")
    await pilot.pause()
    return app


def figure(app: ChutesApp, key: str) -> tuple[str, str]:
    """A figure card of the Spend tab: its label and its value."""
    card = app.screen.query_one(f"#spend-{key}", Static)
    return str(card.border_title), static_text(app, f"#spend-{key}")


def my_usage_total(box: Sandbox, chute_id: str, days: int = 11) -> float:
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=days - 1), time(), UTC)
    reply = api_get(
        box,
        f"/users/me/usage?per_chute=true&limit=10000&chute_id={chute_id}"
        f"&start_date={start.isoformat().replace('+', '%2B')}",
    ).json()
    return sum(item["amount"] for item in reply["items"])


async def test_spend_tab_shows_the_accounts_figures(own_box: Sandbox) -> None:
    with own_box.http() as http:
        body = deploy_body(name="fresh-one")
        reply = http.post(
            "/chutes/",
            params={"accept_fee": "true"},
            json=body,
            headers=own_box.users["demo"].key_headers(),
        )
        assert reply.status_code == 200
    balance = api_get(own_box, "/users/me").json()["balance"]
    hello = api_get(own_box, "/chutes/hello-world").json()
    burn = hello["current_estimated_price"]["usd"]["hour"]  # its one routable instance
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        app = await open_spend(pilot)
        assert figure(app, "balance") == ("balance", f"${balance:,.2f}")
        assert figure(app, "burn") == ("burn now", f"${burn:,.2f}/h")
        assert figure(app, "runway") == ("runway", runway_text(balance / burn, burn))
        assert figure(app, "fees") == ("fees (11 d)", "$0.60")
        spend = app.screen.query_one("#spend-table", VirtualTable)
        rows = {spend.row(key).spend.name: spend.row(key) for key in spend.visible_keys}
        assert set(rows) == {"hello-world", "echo-stream", "llama-mini", "fresh-one"}
        assert rows["fresh-one"].spend.total == pytest.approx(0.6)
        for row in rows.values():
            assert row.spend.total == pytest.approx(my_usage_total(own_box, row.key))
        assert spend.visible_keys[0] == rows["hello-world"].key  # the dearest first
        traffic = app.screen.query_one("#spend-traffic", VirtualTable)
        assert rows["hello-world"].key in traffic.visible_keys
        assert "11 days" not in static_text(app, "#spend-note")
        first = spend_pane(app).report
        await pilot.press("r")
        await wait_for(pilot, lambda: spend_pane(app).report is not first, "the reload")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AccountScreen), "back")


async def open_call(pilot, chute: str) -> CallScreen:
    app = await wait_loaded(pilot)
    app.push_screen(ChuteDetailScreen(chute))
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, ChuteDetailScreen) and app.screen.chute is not None,
        "the chute's detail",
    )
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, CallScreen), "the call screen")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CallScreen)
    return screen


def output(screen: CallScreen) -> list[str]:
    return list(screen.query_one("#call-output", Log).lines)


async def test_call_screen_form_json_editor_and_history(own_box: Sandbox) -> None:
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        screen = await open_call(pilot, "hello-world")
        notes = Notes(pilot.app)
        assert screen.use_form  # {"text": string}: a form
        screen.field(0).focus()
        await type_text(pilot, "from the form")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.result is not None, "the reply")
        assert '  "echo": {' in output(screen)
        assert '    "text": "from the form"' in output(screen)
        assert static_text(pilot.app, "#call-status").startswith("HTTP 200 in ")

        await pilot.press("ctrl+t")  # the JSON editor, with the form's values
        editor = screen.query_one("#call-json", TextArea)
        assert editor.display and '"text": "from the form"' in editor.text
        editor.text = '{"text": '
        await pilot.pause()
        assert static_text(pilot.app, "#call-check").startswith("✗ line 1")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notes.any("line 1"), "the refusal")
        editor.text = '{"text": "from the editor", "n": 2}'
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: len(pilot.app.state.calls.of(screen.chute.chute_id)) == 2, "2"
        )

        history = screen.query_one("#call-history", OptionList)
        assert history.option_count == 2
        await pilot.press("ctrl+o")
        history.highlighted = 1  # the older call: the form's body
        await pilot.press("enter")
        calls = pilot.app.state.calls.of(screen.chute.chute_id)
        await wait_for(
            pilot, lambda: len(pilot.app.state.calls.of(screen.chute.chute_id)) == 3, "3"
        )
        calls = pilot.app.state.calls.of(screen.chute.chute_id)
        assert [call.body for call in calls] == [
            '{"text":"from the form"}',
            '{"text":"from the editor","n":2}',
            '{"text":"from the form"}',
        ]
        assert all(call.ok for call in calls)
    chute = api_get(own_box, "/chutes/hello-world").json()
    assert chute["invocation_count"] == 1280 + 3


async def test_call_screen_streams_chunks_and_leaving_ends_the_call(own_box: Sandbox) -> None:
    with own_box.http() as http:
        http.get(
            "/chutes/warmup/echo-stream",
            params={"quick": "true"},
            headers=own_box.users["demo"].key_headers(),
        )
    own_box.advance(30)
    async with app_for(own_box).run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot_wait_simulated(
            pilot,
            own_box,
            lambda: api_get(own_box, "/chutes/echo-stream").json()["hot"],
            "echo-stream hot",
        )
        screen = await open_call(pilot, "echo-stream")
        screen.field(0).value = "one two three four"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.result is not None, "the stream's end")
        result = screen.result
        assert result is not None and result.streamed
        assert output(screen) == [
            '{"index":0,"text":"one"}',
            '{"index":1,"text":"two"}',
            '{"index":2,"text":"three"}',
            '{"index":3,"text":"four"}',
        ]
        status = static_text(pilot.app, "#call-status")
        assert "first chunk" in status and "4 chunks" in status

        screen.field(0).value = "a b c d e f g h"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(output(screen)) >= 1, "the first chunk")
        running = [worker for worker in screen.workers if worker.group == "call"]
        log = screen.query_one("#call-output", Log)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, CallScreen), "back")
        await wait_for(pilot, lambda: all(worker.is_finished for worker in running), "cancelled")
        assert all(worker.is_cancelled for worker in running)
        assert len(log.lines) < 8  # it stopped before the stream ended
