"""The sandbox's simulated clock: pausing holds instances, advancing moves them exactly,
and only this machine may steer it."""

from __future__ import annotations

import math

import httpx
import pytest

from chutes_tui.cli import build_parser
from chutes_tui.sandbox.app import create_app, open_store
from chutes_tui.sandbox.clock import SimClock
from chutes_tui.sandbox.commands import _settings
from chutes_tui.sandbox.lifecycle import Simulator
from chutes_tui.sandbox.settings import SandboxSettings
from tests.conftest import Sandbox, running_sandbox
from tests.simclock import wait_simulated
from tests.test_sandbox_lifecycle import chute, deploy

SPEED = 100.0


class FakeTime:
    """Real time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_runs_with_real_time_stops_when_paused_and_jumps_when_advanced() -> None:
    real = FakeTime()
    clock = SimClock(10.0, source=real)
    start = clock.now()
    assert start == real.now and clock.simulated_seconds() == 0 and not clock.paused
    real.now += 2
    assert clock.now() == start + 2 and clock.simulated_seconds() == 20
    clock.pause()
    real.now += 5
    assert clock.paused and clock.now() == start + 2  # stood still
    clock.advance(30)
    assert clock.now() == start + 5 and clock.simulated_seconds() == 50
    clock.resume()
    real.now += 1
    assert clock.now() == start + 6  # on from where it stood, the paused span skipped
    clock.advance(10)
    assert clock.now() == start + 7
    assert clock.state() == {"simulated_seconds": 70.0, "speed": 10.0, "paused": False}
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            clock.advance(bad)
    assert clock.now() == start + 7


class Steps:
    """A simulator on a paused clock whose real time never moves: only `advance` does."""

    def __init__(self) -> None:
        self.settings = SandboxSettings(speed=SPEED)
        self.real = FakeTime()
        self.settings.clock = SimClock(SPEED, paused=True, source=self.real)
        self.store = open_store(self.settings)
        self.sim = Simulator(self.store, self.settings)
        self.chute = self.store.one("SELECT * FROM chutes WHERE name = 'llama-mini'")
        self.demo = self.store.find_user("demo")

    def advance(self, simulated: float) -> list[dict]:
        """Move the clock on, tick, and the chute's instances."""
        self.settings.clock.advance(simulated)
        self.sim.tick()
        return self.store.instances(self.chute["chute_id"])

    def wait_real(self, seconds: float) -> list[dict]:
        """Real time passes (the fake one), the simulator ticks."""
        self.real.now += seconds
        self.sim.tick()
        return self.store.instances(self.chute["chute_id"])


def test_a_paused_clock_holds_instances_and_advancing_moves_them_exactly() -> None:
    steps = Steps()
    steps.sim.warm(steps.chute)  # llama-mini: verified after 20 s, active 5 s later, idle 600
    (created,) = steps.advance(0)
    assert (created["verified"], created["active"]) == (0, 0)
    (held,) = steps.wait_real(3600)  # an hour of real time on a paused clock: nothing moves
    assert (held["verified"], held["active"]) == (0, 0)
    assert steps.advance(19.99)[0]["verified"] == 0
    (verified,) = steps.advance(0.01)
    assert (verified["verified"], verified["active"]) == (1, 0)
    assert "GPU verification passed" in steps.sim.logs.tail(created["instance_id"], 100)[0]
    assert steps.advance(4.99)[0]["active"] == 0
    (active,) = steps.advance(0.01)
    assert active["active"] == 1
    balance = steps.sim.effective_balance(steps.demo)
    steps.advance(100)  # billed by simulated time: 100 s of the instance's hourly rate
    spent = balance - steps.sim.effective_balance(steps.demo)
    assert spent == pytest.approx(active["hourly_rate"] * 100 / 3600)
    assert steps.advance(474.99)  # 600 s after the warmup, less a hundredth
    assert steps.advance(0.01) == []
    lines, _ = steps.sim.logs.tail(created["instance_id"], 100)
    assert any("idle for 600s" in line for line in lines)
    steps.store.close()


def test_a_paused_sandbox_keeps_a_deploy_pending_until_advanced(tmp_path) -> None:
    with running_sandbox(tmp_path, speed=SPEED, paused=True) as box:
        assert box.clock_state().paused
        created = deploy(box, shutdown_after_seconds=60)
        (instance,) = created["instances"]
        assert not chute(box, "test-chute")["hot"]
        box.advance(25)  # verified at 20, active at 25
        wait_simulated(box, lambda: chute(box, "test-chute")["hot"], "hot")
        box.advance(35)  # 60 s after the deploy, with no warmup since
        wait_simulated(box, lambda: not chute(box, "test-chute")["instances"], "gone")
        assert box.simulated_seconds() == pytest.approx(60)
        assert instance["instance_id"]


def test_the_control_route_reads_pauses_resumes_and_advances(sandbox: Sandbox) -> None:
    with sandbox.http() as http:
        state = http.get("/_sandbox/clock").json()
        assert set(state) == {"simulated_seconds", "speed", "paused"}
        assert state["speed"] == SPEED and state["paused"] is False
        paused = http.post("/_sandbox/clock", json={"pause": True}).json()
        assert paused["paused"] is True
        moved = http.post("/_sandbox/clock", json={"advance": 42.5}).json()
        assert moved["simulated_seconds"] == pytest.approx(paused["simulated_seconds"] + 42.5)
        assert http.get("/_sandbox/clock").json() == moved  # stood still
        resumed = http.post("/_sandbox/clock", json={"pause": False}).json()
        assert resumed["paused"] is False
        for bad in ({"advance": -1}, {"advance": "soon"}, {"pause": "maybe"}):
            reply = http.post("/_sandbox/clock", json=bad)
            assert reply.status_code == 422, bad
        assert http.post("/_sandbox/clock", content=b"{").status_code == 422


@pytest.mark.parametrize("host", ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "testclient"])
async def test_the_control_route_refuses_other_machines(host: str) -> None:
    app = create_app(SandboxSettings(speed=SPEED))
    transport = httpx.ASGITransport(app=app, client=(host, 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        for reply in (
            await http.get("/_sandbox/clock"),
            await http.post("/_sandbox/clock", json={"pause": True}),
            await http.post("/_sandbox/clock", json={"advance": 3600}),
        ):
            assert reply.status_code == 403
            assert reply.json() == {
                "detail": "The sandbox clock is controlled from this machine only."
            }


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
async def test_the_control_route_answers_loopback_clients(host: str) -> None:
    settings = SandboxSettings(speed=SPEED)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(host, 123))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http,
    ):
        reply = await http.post("/_sandbox/clock", json={"pause": True, "advance": 7})
        assert reply.status_code == 200
        assert reply.json()["paused"] is True and settings.clock.paused


def test_serve_can_start_with_the_clock_paused() -> None:
    args = build_parser().parse_args(["sandbox", "serve", "--paused-clock", "--speed", "60"])
    settings = _settings(args)
    assert settings.paused and settings.clock.paused and settings.clock.speed == 60
    default = _settings(build_parser().parse_args(["sandbox", "serve"]))
    assert not default.clock.paused
