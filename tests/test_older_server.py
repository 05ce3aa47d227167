"""Against a sandbox that behaves like the platform's server of late 2025 (`--older-server`).

That server has no shares listing (its catch-all answers unknown paths with a chute 404),
ignores `?quick=true` on warmup and answers with the stream, refuses hotkey signatures on
instance logs, counts the GPUs twice in the deployment fee and has its own price table.
chutes-tui must say what each of these means, never hang, and charge what it showed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chutes_tui import config
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import AuthError, ExitCode, Unsupported
from chutes_tui.client.models import NodeSelector
from chutes_tui.config import Connection, Credentials
from chutes_tui.core.pricing import deployment_fee
from chutes_tui.sandbox.settings import CATCH_ALL_404, older_gpu_table
from chutes_tui.tui.app import ChutesApp
from chutes_tui.tui.options import DashboardOptions
from chutes_tui.tui.screens.live import LiveScreen
from chutes_tui.tui.session import Session
from chutes_tui.tui.widgets.log_panes import ALL
from tests.conftest import Sandbox, running_sandbox
from tests.test_deploy_flow import FIXTURES
from tests.test_headless import Cli
from tests.test_tui import (  # noqa: F401 - private_dirs is an autouse fixture
    app_for,
    header,
    private_dirs,
    static_text,
    wait_for,
    wait_loaded,
)

OLDER = {"older": True, "fee_formula": "quadratic"}


@pytest.fixture(scope="module")
def older(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(
        tmp_path_factory.mktemp("older"), gpu_table=older_gpu_table(), **OLDER
    ) as box:
        yield box


@pytest.fixture(scope="module")
def cli(older: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(older, tmp_path_factory.mktemp("home"))


def api_key_client(box: Sandbox, user: str = "demo") -> ChutesClient:
    key = box.users[user].api_key
    return ChutesClient(Connection(base_url=box.url, credentials=Credentials(api_key=key)))


def key_env(cli: Cli) -> dict[str, str]:
    return cli.env(None, CHUTES_API_URL=cli.box.url, CHUTES_API_KEY=cli.key("demo"))


# --- the sandbox behaves like that server ---------------------------------------------------


def test_unknown_paths_fall_into_the_catch_all(older: Sandbox) -> None:
    with older.http() as http:
        for path in ("/users/me/shares", "/no/such/path"):
            reply = http.get(path, headers=older.users["demo"].key_headers())
            assert (reply.status_code, reply.json()) == (404, {"detail": CATCH_ALL_404})


def test_the_older_price_table_is_not_the_packaged_one(older: Sandbox) -> None:
    with older.http() as http:
        served = http.get("/nodes/supported").json()
    assert served == older_gpu_table().raw()
    assert older_gpu_table().price_spread is None


# --- shares ----------------------------------------------------------------------------------


async def test_the_client_says_shares_cannot_be_listed(older: Sandbox) -> None:
    async with api_key_client(older) as client:
        with pytest.raises(Unsupported) as caught:
            await client.list_shares()
    assert "cannot list shares" in caught.value.message
    assert caught.value.exit_code == ExitCode.UNSUPPORTED


@pytest.mark.parametrize("extra", [(), ("--chute", "hello-world")])
def test_headless_shares_list_exits_not_supported(cli: Cli, extra: tuple[str, ...]) -> None:
    run = cli.error("shares", "list", *extra, code=ExitCode.UNSUPPORTED, env=key_env(cli))
    assert "cannot list shares" in run.stderr
    assert CATCH_ALL_404 not in run.stderr  # the server's words mislead here


def test_sharing_still_works(cli: Cli) -> None:
    cli("share", "hello-world", "bob", env=key_env(cli))
    cli("share", "hello-world", "bob", "--remove", env=key_env(cli))


# --- quick warmup --------------------------------------------------------------------------


async def test_a_streamed_quick_warmup_is_unsupported_not_a_hang(older: Sandbox) -> None:
    async with api_key_client(older) as client:
        with pytest.raises(Unsupported) as caught:
            await client.warmup_status("hello-world")
    assert "no quick warmup status" in caught.value.message


def test_headless_warmup_reads_the_chute_instead(cli: Cli) -> None:
    run = cli("warmup", "hello-world")
    status = run.json()
    assert status["status"] == "hot" and status["instance_count"] >= 1
    assert "no quick warmup status" in run.stderr


def test_headless_warmup_wait_follows_the_stream(cli: Cli) -> None:
    run = cli("warmup", "hello-world", "--wait", "--json", output="stream")
    assert '"hot":true' in run.stdout


# --- instance logs ---------------------------------------------------------------------------


def test_hotkey_logs_are_refused_with_what_to_do(cli: Cli) -> None:
    run = cli.error("logs", "hello-world", code=ExitCode.AUTH)
    assert "needs an API key" in run.stderr
    assert "payload_str" not in run.stderr


def test_logs_with_an_api_key_work(cli: Cli) -> None:
    run = cli("logs", "hello-world", "--backfill", "5", env=key_env(cli), output="text")
    assert run.stdout.strip()


async def test_the_client_error_is_an_auth_error(older: Sandbox) -> None:
    connection = config.resolve(config_path=older.users["demo"].config_path, env={})  # hotkey
    async with ChutesClient(connection) as client:
        chute = await client.get_chute("hello-world")
        with pytest.raises(AuthError, match="needs an API key"):
            async for _ in client.instance_logs(chute.instances[0].instance_id, follow=False):
                pass


# --- the fee -------------------------------------------------------------------------------


def balance(box: Sandbox) -> float:
    return box.query("SELECT balance FROM users WHERE username = 'demo'")[0]["balance"]


def test_the_fee_charged_is_the_servers_and_within_what_was_allowed(
    tmp_path: Path, cli: Cli
) -> None:
    with running_sandbox(tmp_path, gpu_table=older_gpu_table(), paused=True, **OLDER) as box:
        fresh = Cli(box, cli.home)
        selector = NodeSelector(gpu_count=4, min_vram_gb_per_gpu=16)
        shown = deployment_fee(selector, older_gpu_table())
        charged = deployment_fee(selector, older_gpu_table(), "quadratic")
        assert charged > shown
        args = ("deploy", "four_gpus:chute", "--dir", str(FIXTURES), "--yes", "--accept-fee")
        before = balance(box)
        refused = fresh(*args, "--max-fee", f"{shown:.2f}", code=ExitCode.PAYMENT, output="")
        assert f"${charged:,.2f}" in refused.stderr
        assert balance(box) == pytest.approx(before)  # nothing charged
        done = fresh(*args, "--max-fee", f"{charged:.2f}", "--json", output="")
        assert balance(box) == pytest.approx(before - charged)
        assert json.loads(done.stdout)["fee_charged"] == pytest.approx(charged)


# --- the dashboard ---------------------------------------------------------------------------


def dashboard(box: Sandbox, user: str = "demo", hotkey: bool = False, **options: Any) -> ChutesApp:
    """The app as `user`: with their API key, or with only their hotkey config file."""
    if hotkey:
        connection = config.resolve(config_path=box.users[user].config_path, env={})
    else:
        key = box.users[user].api_key
        connection = Connection(
            base_url=box.url, credentials=Credentials(api_key=key), username=user
        )
    return ChutesApp(
        Session(connection, sandbox=None, label=box.url),
        DashboardOptions(refresh_interval=0.2, **options),
    )


async def test_the_shares_screen_explains_and_the_header_stays_fresh(older: Sandbox) -> None:
    app = dashboard(older)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot)
        await pilot.press("3")
        await wait_for(
            pilot, lambda: "cannot list shares" in static_text(app, "#empty"), "the explanation"
        )
        loads = app.state.chutes.loaded_at
        await wait_for(pilot, lambda: app.state.chutes.loaded_at != loads, "another refresh")
        assert app.state.connection == "online"
        assert app.state.stale_age() is None
        assert "stale" not in header(app)


async def test_warming_without_quick_status_keeps_the_view_current(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, gpu_table=older_gpu_table(), paused=True, **OLDER) as box:
        app = dashboard(box, open_chute="llama-mini", live={"poll_interval": 0.2})
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: live_screen(app).live is not None, "the chute")
            view = live_screen(app)
            assert view.live is not None and not view.live.hot
            await wait_for(pilot, lambda: app.state.account is not None, "the account")
            await pilot.press("w", "y")
            await wait_for(pilot, lambda: not view.quick_status, "the quick status given up")
            told = " ".join(event.text for event in view.live.events)
            assert "no quick warmup status" in told
            polled = view._last_poll
            await wait_for(pilot, lambda: view._last_poll != polled, "the next poll")
            box.advance(120)  # the warmup's instance comes up on the simulated clock
            await wait_for(pilot, lambda: view.live is not None and view.live.hot, "hot")


async def test_hotkey_logs_in_the_live_view_say_an_api_key_is_needed(older: Sandbox) -> None:
    app = dashboard(older, hotkey=True, open_chute="hello-world", live={"poll_interval": 0.2})
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: live_screen(app).live is not None, "the chute")
        view = live_screen(app)
        await wait_for(
            pilot,
            lambda: any("needs an API key" in line.text for line in view.logs.panes[ALL]),
            "the explanation in the log pane",
        )
        told = [line.text for line in view.logs.panes[ALL] if "needs an API key" in line.text]
        assert not any("Public chutes" in text for text in told)  # not the 403's story
        assert app.state.connection == "online"  # the account is fine


def live_screen(app: ChutesApp) -> LiveScreen:
    assert isinstance(app.screen, LiveScreen), app.screen
    return app.screen
