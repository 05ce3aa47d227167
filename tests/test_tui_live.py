"""The live view driven with Pilot against a sandbox process running at high speed.

The sandbox runs in its own process so that this one stays idle between events (Pilot
needs that), and so a test can kill it mid-stream and start it again. Tests of the
lifecycle pause its clock and advance it by exactly what each transition needs, then wait
for the view to show it; waits for log lines get a budget in simulated seconds.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Input, Tab, Tabs

from chutes_tui import config
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.signing import Credentials
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.live import LiveScreen
from chutes_tui.tui.screens.modals import ConfirmScreen, PromptScreen
from chutes_tui.tui.session import Session
from chutes_tui.tui.widgets.log_panes import ALL
from chutes_tui.tui.widgets.log_view import CURRENT_STYLE, LogView
from tests.conftest import deploy_body
from tests.sandbox_process import Server, api_key, sandbox_process
from tests.simclock import pilot_wait_simulated as until
from tests.test_sandbox_lifecycle import ACTIVATE, VERIFY
from tests.test_tui import private_dirs, static_text  # noqa: F401 - autouse fixture
from tests.test_tui_state import footer_overflow

SPEED = 60.0
SIZE = (120, 36)
POLL = 0.2
LINES = 1200.0  # simulated seconds the running clock may move while log lines are awaited


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with sandbox_process(tmp_path / "box", SPEED) as running:
        yield running


def live_app(
    server: Server, user: str = "demo", chute: str | None = None, **options: str
) -> ChutesApp:
    key = api_key(server.db, user)
    connection = config.Connection(
        base_url=server.url, credentials=Credentials(api_key=key), username=user
    )
    return ChutesApp(
        Session(connection, sandbox=None, label=server.url),
        DashboardOptions(
            refresh_interval=0, open_chute=chute, live={"poll_interval": POLL, **options}
        ),
    )


def screen(app: ChutesApp) -> LiveScreen:
    assert isinstance(app.screen, LiveScreen), app.screen
    return app.screen


def pane_text(app: ChutesApp, pane: str = ALL) -> list[str]:
    return [line.text for line in screen(app).logs.panes[pane]]


def has_line(app: ChutesApp, part: str, pane: str = ALL) -> bool:
    return any(part in text for text in pane_text(app, pane))


async def deploy(server: Server, name: str, **changes) -> str:
    connection = config.Connection(
        base_url=server.url, credentials=Credentials(api_key=api_key(server.db, "demo"))
    )
    async with ChutesClient(connection) as client:
        chute = await client.deploy(deploy_body(name=name, **changes), accept_fee=True)
    return chute.chute_id


async def test_deploy_warm_up_hot_logs_idle_and_cold(server: Server) -> None:
    server.pause()  # from here on, the instances move only when the test says
    chute_id = await deploy(server, "live-test", shutdown_after_seconds=60)
    app = live_app(server, chute="live-test")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        assert "live-test" in static_text(app, "#live-header")
        live = screen(app).live
        await until(pilot, server, lambda: live.present(), "the deploy's instance")
        # never called, the deploy's instance goes 60 simulated seconds later: the chute is cold
        server.advance(60)
        await until(pilot, server, lambda: live.hot is False and not live.present(), "cold")
        assert "press w to warm up" in static_text(app, "#live-header")
        await until(pilot, server, lambda: app.state.account is not None, "the account")
        await pilot.press("w")
        assert isinstance(app.screen, ConfirmScreen)
        assert "/hour per instance" in static_text(app, "#dialog-body")  # the cost, first
        assert "bill to you" in static_text(app, "#dialog-body")  # demo owns it
        await pilot.press("y")
        await until(pilot, server, lambda: live.present(), "the warmup's instance")
        (started,) = (state.instance_id for state in live.present())
        server.advance(VERIFY)
        await until(pilot, server, lambda: live.instances[started].verified, "verified")
        assert not live.instances[started].active and not live.hot
        server.advance(ACTIVATE)
        routable = lambda: [state for state in live.present() if state.routable]  # noqa: E731
        await until(pilot, server, lambda: live.hot and routable(), "hot")
        header = static_text(app, "#live-header")
        assert "HOT" in header and "hot after" in header
        kinds = [event.kind for event in live.events]
        after_warmup = list(live.events)[kinds.index("warmup") :]
        assert {"created", "hot"} <= {event.kind for event in after_warmup}
        # a poll sees each step, or a new instance already verified and active
        told = " ".join(event.text for event in after_warmup)
        assert "verified" in told and "active" in told
        instance_id = routable()[0].instance_id
        assert instance_id == started
        assert instance_id in screen(app).query_one("#live-instances").rows
        await until(
            pilot,
            server,
            lambda: has_line(app, "Application startup complete.", instance_id),
            "startup lines in the instance's pane",
        )
        assert any(
            f"[{instance_id[:8]}]" in line.plain(False, True)
            for line in screen(app).logs.panes[ALL]
        )
        # nobody calls it: it shuts down after 60 simulated seconds idle, and goes cold
        server.advance(60)
        await until(pilot, server, lambda: live.hot is False, "cold again")
        await until(pilot, server, lambda: live.instances[instance_id].gone, "gone")
        assert live.chute_id == chute_id
        assert "COLD" in static_text(app, "#live-header")
        header = static_text(app, "#live-header")
        assert "was hot after" in header and "warming" not in header  # what happened, frozen
        assert "press w to warm up" in header  # and w is offered again
        tab = screen(app).query_one(f"#pane-{instance_id}", Tab)
        assert "gone" in str(tab.label)  # marked, not removed
        assert "gone" in screen(app).query_one("#live-instances").get_row(instance_id)[-1].plain


async def test_search_pause_wrap_and_follow(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 60, "lines", LINES)
        view = screen(app).query_one(LogView)
        assert view.follow and "FOLLOWING" in static_text(app, "#log-status")
        await pilot.press("space")
        assert not view.follow and "PAUSED" in static_text(app, "#log-status")
        await pilot.pause()
        top, seen = view.scroll_y, view.buffer.appended
        await until(
            pilot,
            server,
            lambda: view.buffer.appended > seen + 5 and view.unseen > 5,
            "new lines while paused",
            LINES,
        )
        assert view.scroll_y == top  # nothing moved under the reader
        await pilot.press("slash")
        search = screen(app).query_one("#log-search", Input)
        assert search.has_focus
        await pilot.press(*"ping", "enter")
        assert view.term == "ping" and view.current is not None
        assert "lines match" in static_text(app, "#log-status")
        first = view.current
        index = first - view.buffer.dropped
        assert "ping" in view.buffer[index].text.lower()
        spans = view._text(view.buffer[index], first).spans
        assert any(span.style == CURRENT_STYLE for span in spans)  # highlighted
        await pilot.press("N")
        assert view.current != first
        await pilot.press("n")
        assert view.current == first
        await pilot.press("W")
        assert view.wrap and "wrap on" in static_text(app, "#log-status")
        await pilot.press("t")
        assert not view.timestamps
        await pilot.press("escape")
        assert view.term == "" and isinstance(app.screen, LiveScreen)
        await pilot.press("end")
        assert view.follow and view.scroll_y == view.max_scroll_y
        await pilot.resize_terminal(SIZE[0], SIZE[1] + 12)  # a taller terminal: still following
        await pilot.pause()
        assert view.follow and "FOLLOWING" in static_text(app, "#log-status")


async def test_a_cut_stream_reconnects_and_says_so(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 10, "lines", LINES)
        server.kill()
        # no clock to read while the sandbox is down: these waits have the hang guard only
        await until(pilot, server, lambda: has_line(app, "reconnecting in"), "a retry note")
        server.start(port=server.port)
        await until(pilot, server, lambda: has_line(app, "reconnected"), "reconnected")
        text = pane_text(app)
        after = len(text) - max(i for i, line in enumerate(text) if line == "reconnected")
        await until(
            pilot,
            server,
            lambda: len(pane_text(app)) - len(text) + after > 3,
            "lines after the reconnect",
            LINES,
        )
        assert screen(app).problem is None or "retrying" in screen(app).problem


async def test_leaving_the_view_cancels_its_streams(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 5, "lines", LINES)
        live_screen = screen(app)
        workers = [worker for worker in app.workers if worker.node is live_screen]
        assert {worker.group for worker in workers} >= {"poll", "logs"}
        await pilot.press("escape")
        await until(
            pilot, server, lambda: all(worker.is_finished for worker in workers), "workers ended"
        )
        assert all(worker.state.name == "CANCELLED" for worker in workers)


async def test_logs_of_a_public_chute_explain_the_403(server: Server) -> None:
    db = sqlite3.connect(server.db, timeout=30)
    with db:
        db.execute("UPDATE chutes SET public = 1 WHERE name = 'hello-world'")
    db.close()
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: has_line(app, "logging_enabled"), "the 403 note")
        await until(
            pilot,
            server,
            lambda: any("private" in event.text for event in screen(app).live.events),
            "the note in the timeline",
        )


async def test_save_a_pane_and_choose_the_backfill(server: Server, tmp_path: Path) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 20, "lines", LINES)
        await pilot.press("s")
        assert isinstance(app.screen, PromptScreen)
        prompt = app.screen.query_one(Input)
        assert prompt.value.startswith("hello-world-all-")
        prompt.value = str(tmp_path / "saved.log")
        await pilot.press("enter")
        saved = (tmp_path / "saved.log").read_text().splitlines()
        assert len(saved) >= 20 and all("] " in line for line in saved)  # [id8] prefixes
        await pilot.press("b")
        prompt = app.screen.query_one(Input)
        prompt.value = "3"
        await pilot.press("enter")
        assert screen(app).options.backfill == 3
        await until(pilot, server, lambda: len(pane_text(app)) >= 3, "the backfill", LINES)
        await pilot.press("b")
        app.screen.query_one(Input).value = "20000"
        await pilot.press("enter")
        assert screen(app).options.backfill == 3  # refused: the API allows 0 to 10,000


async def test_each_instance_has_its_own_pane(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, server, lambda: len(screen(app).logs.panes) == 2, "an instance pane", LINES
        )
        instance_id = next(key for key in screen(app).logs.panes if key != ALL)
        await pilot.press("right_square_bracket")
        assert screen(app).logs.pane == instance_id
        assert screen(app).query_one(Tabs).active == f"pane-{instance_id}"
        assert not screen(app).query_one(LogView).prefix  # one instance: no [id8] tags
        await pilot.press("left_square_bracket")
        assert screen(app).logs.pane == ALL


async def test_the_events_channel_feeds_the_timeline(server: Server) -> None:
    pytest.importorskip("socketio")
    app = live_app(server, chute="llama-mini", events_url=server.url)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        live = screen(app).live
        await until(
            pilot,
            server,
            lambda: any("events channel connected" in e.text for e in live.events),
            "the channel",
        )
        server.pause()
        await pilot.press("w", "y")
        await until(
            pilot,
            server,
            lambda: any(e.text.startswith("instance_created:") for e in live.events),
            "the creation event",
        )
        server.advance(VERIFY + ACTIVATE)
        await until(
            pilot,
            server,
            lambda: any(e.text.startswith("instance_activated:") for e in live.events),
            "the activation event",
        )
        reasons = [e.text.split(":")[0] for e in live.events if e.kind == "event"]
        assert reasons.index("instance_created") < reasons.index("instance_activated")
        created = next(e for e in live.events if e.text.startswith("instance_created:"))
        assert live.instances[created.instance_id].gpu_model_name  # named by the event


async def test_gone_instances_are_kept_up_to_a_bound(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chutes_tui.tui.screens import live as live_screen

    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(screen(app).logs.panes) == 2, "the pane", LINES)
        instance_id = next(key for key in screen(app).logs.panes if key != ALL)
        await pilot.press("right_square_bracket")
        monkeypatch.setattr(live_screen, "KEEP_GONE", 0)
        with sqlite3.connect(server.db) as db:
            db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,))
        table = screen(app).query_one("#live-instances")
        await until(pilot, server, lambda: instance_id not in table.rows, "the row dropped")
        assert instance_id not in screen(app).logs.panes
        assert screen(app).logs.pane == ALL  # the pane that was shown went back to all
        assert any(e.kind == "gone" for e in screen(app).live.events)


async def test_jumping_to_another_list_ends_the_view_cleanly(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 5, "lines", LINES)
        live_screen = screen(app)
        workers = [worker for worker in app.workers if worker.node is live_screen]
        for _ in range(3):  # while polls and streams are in flight
            await pilot.press("r")
        await pilot.press("2")  # the images list, straight from the live view
        await until(
            pilot, server, lambda: all(worker.is_finished for worker in workers), "workers ended"
        )
        assert not isinstance(app.screen, LiveScreen)
        assert app.is_running and app.return_code is None  # no worker took the app down


async def test_warming_a_shared_chute_says_the_owner_pays(server: Server) -> None:
    app = live_app(server, user="alice", chute="echo-stream")  # demo's chute, shared with alice
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        await until(pilot, server, lambda: app.state.account is not None, "the account")
        await pilot.press("w")
        assert isinstance(app.screen, ConfirmScreen)
        body = static_text(app, "#dialog-body")
        assert "bill to demo" in body and "not to you" in body
        assert "bill to you" not in body
        assert "up to 1 instance." in body  # one instance, not "instance(s)"
        await pilot.press("n")


async def test_an_instance_older_than_the_view_shows_its_age_not_the_views(
    server: Server,
) -> None:
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    with sqlite3.connect(server.db, timeout=30) as db:  # hello-world's instance, up a while
        db.execute(
            "UPDATE instances SET last_verified_at = ?, created_at = ?",
            (ten_minutes_ago.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),) * 2,
        )
    db.close()
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        live = screen(app).live
        await until(pilot, server, lambda: live.present(), "the instance")
        (state,) = live.present()
        table = screen(app).query_one("#live-instances")
        await until(pilot, server, lambda: state.instance_id in table.rows, "the row")
        age = str(table.get_cell(state.instance_id, "age"))
        assert age.startswith("≥10m"), age  # not the second the view has watched it
        timeline = static_text(app, "#live-events")
        assert "created" not in timeline and "running" in timeline


async def test_backfilled_lines_are_history_on_screen_and_in_a_saved_file(
    server: Server, tmp_path: Path
) -> None:
    app = live_app(server, chute="hello-world", backfill="5")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 10, "lines", LINES)
        lines = list(screen(app).logs.panes[ALL])
        assert [line.history for line in lines[:5]] == [True] * 5
        assert not any(line.history for line in lines[5:])
        await pilot.press("s")
        app.screen.query_one(Input).value = str(tmp_path / "saved.log")
        await pilot.press("enter")
        saved = (tmp_path / "saved.log").read_text().splitlines()
        assert all(line.startswith("history ") for line in saved[:5])
        assert not any(line.startswith("history") for line in saved[5:])
        assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line) for line in saved[5:])


async def test_the_search_count_keeps_up_with_new_lines_and_a_reload(server: Server) -> None:
    from chutes_tui.tui.widgets.log_panes import match_words

    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: has_line(app, "_ping"), "a health check", LINES)
        view = screen(app).query_one(LogView)
        await pilot.press("slash", *"_ping", "enter")
        first, number = view.match_count, view.match_number
        assert first and number is not None  # on one of them (the newest, when searched)
        assert f"{number:,} of " in static_text(app, "#log-status")

        def counted() -> bool:  # the status says what the pane holds now
            held = view.buffer.count("_ping", view.prefix)
            words = match_words(view.match_number, view.match_count)
            return view.match_count == held and words in static_text(app, "#log-status")

        await until(pilot, server, lambda: view.match_count > first + 2, "new matches", LINES)
        await until(pilot, server, counted, "an up-to-date count", LINES)
        assert view.match_number == number  # still the same match, of more
        assert f"{number:,} of {view.match_count:,} lines match" in static_text(app, "#log-status")
        before = view.match_count
        await pilot.press("b")
        app.screen.query_one(Input).value = "3"
        await pilot.press("enter")  # the panes reload with 3 lines of history
        await until(pilot, server, lambda: len(view.buffer) >= 3, "the reload", LINES)
        await until(pilot, server, counted, "a count of the reloaded lines", LINES)
        assert view.match_count < before  # counted again, not carried over


async def test_the_live_views_keys_each_say_one_thing(server: Server) -> None:
    from chutes_tui.tui.screens.help import HelpScreen, key_table

    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 5, "lines", LINES)
        table = key_table(screen(app))
        rows = list(zip(table.columns[0]._cells, table.columns[1]._cells, strict=True))
        pausing = [(key, words) for key, words in rows if "Pause" in str(words)]
        assert pausing == [("space", "Pause/follow")]  # no `p Pause` of the lists
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        view = screen(app).query_one(LogView)
        await pilot.press("p")  # in this view, p pauses what it shows: the logs
        assert not view.follow and "PAUSED" in static_text(app, "#log-status")
        await pilot.press("p")
        assert view.follow


async def test_a_deleted_chute_is_gone_and_offers_no_warmup(server: Server) -> None:
    server.pause()
    chute_id = await deploy(server, "doomed")
    app = live_app(server, chute="doomed")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        live = screen(app).live
        await until(pilot, server, lambda: live.present(), "the deploy's instance")
        await until(pilot, server, lambda: "1 instance ·" in static_text(app, "#live-header"), "1")
        assert "1 instances" not in static_text(app, "#live-header")
        assert "Warm up" in await palette_titles(pilot)
        connection = config.Connection(
            base_url=server.url, credentials=Credentials(api_key=api_key(server.db, "demo"))
        )
        async with ChutesClient(connection) as client:
            await client.delete_chute(chute_id)
        await until(pilot, server, lambda: live.deleted, "the 404")
        header = static_text(app, "#live-header")
        assert "GONE" in header and "deleted" in header
        assert "press w" not in header
        await pilot.press("w")
        assert isinstance(app.screen, LiveScreen)  # no warmup dialog for a chute that is gone
        assert not live.present() and any("chute is gone" in e.text for e in live.events)
        footer = {active.binding.action for active in app.screen.active_bindings.values()}
        assert "warmup" not in footer and "back" in footer  # the footer offers no w
        assert "Warm up" not in await palette_titles(pilot)  # nor does the palette


async def palette_titles(pilot) -> set[str]:
    """The titles the command palette offers on the current screen (closed again after)."""
    from textual.command import CommandPalette

    from tests.test_tui import offered

    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    titles = {line.split("\n")[0] for line in offered(palette)}
    await pilot.press("escape")
    await pilot.pause()
    return titles


async def test_at_80x24_the_header_fits_and_the_instances_have_room(server: Server) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        live = screen(app).live
        await until(pilot, server, lambda: live.present(), "the instance")
        await pilot.pause()
        header = screen(app).query_one("#live-header")
        text = static_text(app, "#live-header")
        assert header.size.height == 2 and len(text.splitlines()) == 2  # no wrapped line
        assert all(len(line) <= 80 for line in text.splitlines())
        assert "HOT" in text and "1 instance ·" in text
        table = screen(app).query_one("#live-instances")
        assert {"id", "state", "gpu", "age"} <= {key.value for key in table.columns}
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no cut
        assert table.scrollable_content_region.height - table.header_height >= 4  # rows
        assert not footer_overflow(app)  # every key in the footer whole
        await pilot.resize_terminal(120, 36)  # wider: the other columns come back
        await pilot.pause()
        assert {"region", "last"} <= {key.value for key in table.columns}
        assert table.virtual_size.width <= table.scrollable_content_region.width


async def test_an_outage_is_one_state_for_the_app_and_marks_the_view_stale(
    server: Server,
) -> None:
    app = live_app(server, chute="hello-world")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: screen(app).live is not None, "the chute")
        await until(pilot, server, lambda: app.state.connection == "online", "online")
        assert "HOT" in static_text(app, "#live-header")
        server.kill()
        # no clock to read while the sandbox is down: the hang guard only
        await until(pilot, server, lambda: screen(app).problem is not None, "the failed poll")
        assert app.state.connection == "offline, retrying"  # the top header at the same time
        await until(pilot, server, lambda: "stale" in static_text(app, "#live-header"), "stale")
        server.start(port=server.port)
        await until(pilot, server, lambda: app.state.connection == "online", "online again")
        await until(pilot, server, lambda: "stale" not in static_text(app, "#live-header"), "fresh")


async def test_a_saved_pane_is_named_by_its_full_path(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_tui import Notes

    monkeypatch.chdir(tmp_path)
    app = live_app(server, chute="hello-world")
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, server, lambda: len(pane_text(app)) > 3, "lines", LINES)
        await pilot.press("s")
        app.screen.query_one(Input).value = "relative.log"
        await pilot.press("enter")
        assert (tmp_path / "relative.log").exists()
        assert notes.any(f"to {tmp_path / 'relative.log'}"), notes.seen
