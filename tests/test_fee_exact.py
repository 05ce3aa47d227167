"""The fee shown is the fee charged: estimated from the server's prices, confirmed by its notice.

Against real sandboxes: one whose fee formula counts the GPUs twice (the estimate is then
wrong, and the server's notice must win before anything is charged) and one whose GPU table
has other prices than the packaged one (the estimate must use the server's). Demo's balance
is read before and after every deploy: what it lost is what was shown and accepted. The
simulated clock stands still, so running instances bill nothing meanwhile.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chutes_tui.client.api import ChutesClient, FeeNotice
from chutes_tui.client.errors import ExitCode, PaymentRequired, ServerError
from chutes_tui.config import Connection, Credentials
from chutes_tui.core import deploy as flow
from chutes_tui.core.pricing import GpuTable
from chutes_tui.tui.screens.deploy import DeployScreen
from chutes_tui.tui.screens.live import LiveScreen
from tests.conftest import Sandbox, running_sandbox
from tests.test_deploy_flow import FIXTURES, Headless, RecordingTransport, RecordingUI, options
from tests.test_tui import (  # noqa: F401 - private_dirs is an autouse fixture
    app_for,
    private_dirs,
    static_text,
    wait_for,
    wait_loaded,
)

FOUR = "four_gpus:chute"
FOUR_NAME = "four-gpu-fixture"
LINEAR_ESTIMATE = 2.40  # 3 x 4 GPUs x a4000 $0.20
QUADRATIC_FEE = 9.60  # the 2025 formula counts the 4 GPUs twice


def notice(amount: str) -> str:
    return (
        "DEPLOYMENT FEE NOTICE:\n===\nThere is a deployment fee of (hourly price per GPU *"
        f" number of GPUs * 3), which for this configuration is: {amount}\n To acknowledge"
        " this fee, ensure you have chutes>=0.3.23 and re-run the deployment command with"
        " `--accept-fee`"
    )


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        (notice("$3.0"), 3.0),
        (notice("$9.6"), 9.6),
        (notice("$2"), 2.0),
        (notice("$ 1,234.56"), 1234.56),
        (notice("$0.36") + "\nYour hourly rate per instance will range from ~$0.2/hr", 0.36),
    ],
)
def test_a_fee_notice_carries_its_amount(text: str, amount: float) -> None:
    parsed = FeeNotice.from_refusal(PaymentRequired(text))
    assert parsed is not None and parsed.amount == amount
    assert parsed.exit_code == ExitCode.PAYMENT and parsed.status == 402


@pytest.mark.parametrize(
    "text",
    [
        notice("unknown"),
        "The deployment fee, based on your node selector, is $3.0, but you have a balance of 1",
        "Account balance is $0, please top-up",
        notice("$1e999"),
    ],
)
def test_other_refusals_are_not_fee_notices(text: str) -> None:
    assert FeeNotice.from_refusal(PaymentRequired(text)) is None


def balance(box: Sandbox) -> float:
    [row] = box.query("SELECT balance FROM users WHERE username = 'demo'")
    return float(row["balance"])


def chutes_named(box: Sandbox, name: str) -> list[dict[str, Any]]:
    return box.query("SELECT chute_id FROM chutes WHERE name = ?", name)


def cents(amount: float) -> int:
    return round(amount * 100)


def dearer_table() -> GpuTable:
    """The packaged GPUs at other prices: every rate x1.5."""
    packaged = GpuTable.load()
    raw = {
        "rules": {
            "price_spread": packaged.price_spread,
            "always_allowed": sorted(packaged.always_allowed),
            "amd_only": sorted(packaged.amd_only),
        },
        "gpus": {
            name: {"memory": gpu.memory, "hourly_rate": round(gpu.hourly_rate * 1.5, 3)}
            for name, gpu in packaged.gpus.items()
        },
    }
    return GpuTable.from_dict(raw)


@pytest.fixture
def quadratic(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "quadratic", fee_formula="quadratic", paused=True) as box:
        yield box


@pytest.fixture
def dearer(tmp_path: Path) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path / "dearer", gpu_table=dearer_table(), paused=True) as box:
        yield box


def connect(box: Sandbox, wire: httpx.AsyncBaseTransport | None = None) -> ChutesClient:
    connection = Connection(
        base_url=box.url, credentials=Credentials(api_key=box.users["demo"].api_key)
    )
    return ChutesClient(connection, transport=wire)


def posts(wire: RecordingTransport) -> list[str]:
    return [str(request.url.query, "ascii") for request in wire.sent if request.method == "POST"]


# --- the flow through the real client ------------------------------------------------------


async def test_quadratic_server_fee_is_asked_again_and_charged_as_accepted(
    quadratic: Sandbox,
) -> None:
    wire = RecordingTransport()
    async with connect(quadratic, wire) as client:
        plan = await flow.plan_deploy(client, FOUR, options())
        assert plan.price_source == "api" and plan.prices == flow.PRICES_FROM_API
        assert plan.fee == pytest.approx(LINEAR_ESTIMATE)
        before = balance(quadratic)

        # The server names another fee; the user says no: nothing written, nothing charged.
        no = RecordingUI(fee_answer=False)
        with pytest.raises(flow.FeeRefused) as refused:
            await flow.deploy(client, plan, options(accept_fee=True), no)
        assert refused.value.exit_code == ExitCode.PAYMENT
        assert refused.value.amount == QUADRATIC_FEE and "$9.60" in str(refused.value)
        assert no.fees_asked == [QUADRATIC_FEE]
        assert balance(quadratic) == before and chutes_named(quadratic, FOUR_NAME) == []
        assert posts(wire) == ["accept_fee=false"]

        # Yes to the server's amount: charged exactly that, once.
        yes = RecordingUI(fee_answer=True)
        chute = await flow.deploy(client, plan, options(accept_fee=True), yes)
    assert chute.name == FOUR_NAME
    assert yes.fees_asked == [QUADRATIC_FEE]
    assert plan.fee_charged == QUADRATIC_FEE
    assert cents(before - balance(quadratic)) == cents(QUADRATIC_FEE)
    assert posts(wire) == ["accept_fee=false", "accept_fee=false", "accept_fee=true"]
    assert len(chutes_named(quadratic, FOUR_NAME)) == 1


async def test_the_estimate_uses_the_servers_prices(dearer: Sandbox) -> None:
    packaged = GpuTable.load()
    wire = RecordingTransport()
    async with connect(dearer, wire) as client:
        plan = await flow.plan_deploy(client, FOUR, options())
        assert plan.price_source == "api"
        assert plan.fee == pytest.approx(3 * 4 * 0.3)  # a4000 at $0.30 on this server
        assert plan.fee != pytest.approx(3 * 4 * packaged.gpus["a4000"].hourly_rate)
        before = balance(dearer)
        ui = RecordingUI()
        await flow.deploy(client, plan, options(accept_fee=True), ui)
    assert ui.fees_asked == []  # the notice named the amount shown: no second question
    assert cents(plan.fee_charged or 0) == cents(plan.fee)
    assert cents(before - balance(dearer)) == cents(plan.fee)
    assert posts(wire) == ["accept_fee=false", "accept_fee=true"]


async def test_an_update_pays_nothing_and_is_sent_once(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.pause()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURES / "plain.py", work / "plain.py")
    async with connect(sandbox) as client:
        first = await flow.plan_deploy(client, "plain:chute", options(directory=str(work)))
        await flow.deploy(
            client, first, options(accept_fee=True, directory=str(work)), RecordingUI()
        )
    source = (work / "plain.py").read_text()
    (work / "plain.py").write_text(source.replace('f"plain, {text}"', 'f"plain v3, {text}"'))
    before = balance(sandbox)
    wire = RecordingTransport()
    async with connect(sandbox, wire) as client:
        plan = await flow.plan_deploy(client, "plain:chute", options(directory=str(work)))
        assert plan.existing and plan.fee == 0
        await flow.deploy(client, plan, options(directory=str(work)), RecordingUI())
    assert posts(wire) == ["accept_fee=false"]
    assert plan.fee_charged == 0
    assert balance(sandbox) == before


async def test_without_an_answer_from_the_api_the_packaged_table_is_used(
    sandbox: Sandbox,
) -> None:
    class NoTable(ChutesClient):
        async def supported_gpus(self) -> dict[str, Any]:
            raise ServerError("/nodes/supported: 503", 503)

    connection = Connection(
        base_url=sandbox.url, credentials=Credentials(api_key=sandbox.users["demo"].api_key)
    )
    async with NoTable(connection) as client:
        plan = await flow.plan_deploy(client, FOUR, options())
    assert plan.price_source == "packaged"
    assert plan.summary()["prices"] == "packaged price table, the API did not answer"
    assert plan.fee == pytest.approx(LINEAR_ESTIMATE)


def test_a_served_table_that_is_not_a_table_is_refused() -> None:
    packaged = GpuTable.load()
    for served in ({}, [], {"a4000": {"memory": 16}}, {"a4000": {"memory": 16, "hourly_rate": 0}}):
        with pytest.raises(ValueError):
            packaged.with_prices(served)
    served = packaged.with_prices({"a4000": {"memory": 16, "hourly_rate": 0.5, "extra": 1}})
    assert served.gpus["a4000"].hourly_rate == 0.5
    assert served.price_spread == packaged.price_spread


# --- headless -------------------------------------------------------------------------------


@pytest.fixture
def quadratic_cli(quadratic: Sandbox, tmp_path: Path) -> Headless:
    return Headless(quadratic, tmp_path)


def test_headless_dry_run_sends_no_deploy_and_says_the_notice_confirms(
    quadratic_cli: Headless,
) -> None:
    box = quadratic_cli.box
    before = balance(box)
    dry = quadratic_cli(FOUR, "--dry-run", "--json", code=0)
    plan = dry.json()
    assert plan["fee_usd"] == LINEAR_ESTIMATE and plan["prices"] == "prices from the API"
    assert "the server's fee notice confirms it at deploy time" in dry.stderr
    assert chutes_named(box, FOUR_NAME) == [] and balance(box) == before


def test_headless_refuses_a_fee_other_than_the_one_accepted(quadratic_cli: Headless) -> None:
    box = quadratic_cli.box
    before = balance(box)
    refused = quadratic_cli(FOUR, "--yes", "--accept-fee", code=ExitCode.PAYMENT)
    assert "$9.60" in refused.stderr and "nothing was charged" in refused.stderr
    assert refused.stdout == ""
    capped = quadratic_cli(FOUR, "--yes", "--accept-fee", "--max-fee", "5", code=ExitCode.PAYMENT)
    assert "$9.60" in capped.stderr and "--max-fee" in capped.stderr
    assert balance(box) == before and chutes_named(box, FOUR_NAME) == []

    done = quadratic_cli(FOUR, "--yes", "--accept-fee", "--max-fee", "9.60", code=0)
    assert done.json()["fee_charged"] == QUADRATIC_FEE
    assert cents(before - balance(box)) == cents(QUADRATIC_FEE)
    assert len(chutes_named(box, FOUR_NAME)) == 1


def test_headless_charges_the_fee_shown_by_the_servers_prices(
    dearer: Sandbox, tmp_path: Path
) -> None:
    cli = Headless(dearer, tmp_path)
    before = balance(dearer)
    shown = cli(FOUR, "--dry-run", "--json", code=0).json()["fee_usd"]
    assert shown == pytest.approx(3.6)
    done = cli(FOUR, "--yes", "--accept-fee", code=0)
    assert done.json()["fee_charged"] == shown
    assert cents(before - balance(dearer)) == cents(shown)


def test_headless_rejects_a_bad_max_fee(quadratic_cli: Headless) -> None:
    for bad in ("abc", "-1", "nan", "inf"):
        run = quadratic_cli(FOUR, "--yes", "--accept-fee", "--max-fee", bad, code=ExitCode.USAGE)
        assert "not an amount in USD" in run.stderr


# --- the wizard ------------------------------------------------------------------------------


@pytest.fixture
def four_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "chutes"
    folder.mkdir()
    shutil.copy(FIXTURES / "four_gpus.py", folder / "four_gpus.py")
    return folder


async def open_plan(pilot: Any, folder: Path) -> Any:
    app = await wait_loaded(pilot)
    app.push_screen(DeployScreen(str(folder)))
    await wait_for(
        pilot, lambda: isinstance(app.screen, DeployScreen) and app.screen.query("#ref"), "wizard"
    )
    app.screen.query_one("#ref").value = FOUR
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.plan is not None, "the plan")
    return app


async def test_wizard_shows_the_servers_fee_and_asks_again(
    quadratic: Sandbox, four_dir: Path
) -> None:
    before = balance(quadratic)
    async with app_for(quadratic).run_test(size=(120, 40)) as pilot:
        app = await open_plan(pilot, four_dir)
        assert "Deployment fee: $2.40" in static_text(app, "#fee")
        assert "prices from the API" in static_text(app, "#fee")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.fee_question is not None, "the fee question")
        assert "$9.60" in static_text(app, "#fee") and "$9.60" in static_text(app, "#next")
        assert balance(quadratic) == before and chutes_named(quadratic, FOUR_NAME) == []
        # esc: nothing charged, the plan is back on screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.deploying, "the refusal")
        assert isinstance(app.screen, DeployScreen)
        assert balance(quadratic) == before and chutes_named(quadratic, FOUR_NAME) == []
        # y, then y on the server's amount: charged exactly what was shown
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.fee_question is not None, "the fee question")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), "the live view", 15)
    assert cents(before - balance(quadratic)) == cents(QUADRATIC_FEE)
    assert len(chutes_named(quadratic, FOUR_NAME)) == 1


async def test_wizard_charges_the_fee_it_showed_from_the_servers_prices(
    dearer: Sandbox, four_dir: Path
) -> None:
    before = balance(dearer)
    async with app_for(dearer).run_test(size=(120, 40)) as pilot:
        app = await open_plan(pilot, four_dir)
        assert "Deployment fee: $3.60" in static_text(app, "#fee")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), "the live view", 15)
    assert cents(before - balance(dearer)) == cents(3.60)
