"""The sandbox bills what it says it bills: every balance movement is in the ledger, calls are
paid by the caller (a shared user pays, the owner is credited), and spend read back through
the product's own code adds up to how far the balances moved. The simulated clock is paused
and moved by the test; nothing here depends on wall-clock time."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import ChuteCold, InvocationFailed, NoAccess
from chutes_tui.client.models import NodeSelector
from chutes_tui.client.signing import Credentials
from chutes_tui.config import Connection
from chutes_tui.core import pricing
from chutes_tui.core.spend import load_spend
from chutes_tui.sandbox.invocations import CALL_SECONDS, CHUNK_SECONDS, FIRST_CHUNK_SECONDS
from chutes_tui.sandbox.ledger import HOUR, USAGE_DAYS, seed_history, usage_by_chute_day
from chutes_tui.sandbox.storage import Store
from tests.conftest import Sandbox, deploy_body, running_sandbox
from tests.simclock import wait_simulated

TABLE = pricing.GpuTable.load()


def client(box: Sandbox, user: str) -> ChutesClient:
    return ChutesClient(Connection(box.url, Credentials(api_key=box.users[user].api_key)))


def call(box: Sandbox, user: str, slug: str, path: str, body: Any, stream: bool = False) -> Any:
    async def run() -> Any:
        async with client(box, user) as api:
            return await api.invoke(slug, path, body, stream=stream)

    return asyncio.run(run())


def spent(box: Sandbox, user: str, days: int = 2) -> float:
    """What the product's own spend code says the user spent in the last `days`."""

    async def run() -> float:
        async with client(box, user) as api:
            return (await load_spend(api, days)).total

    return asyncio.run(run())


def balance(http: httpx.Client, box: Sandbox, user: str) -> float:
    return http.get("/users/me", headers=box.users[user].key_headers()).json()["balance"]


def ledger(http: httpx.Client, box: Sandbox, user: str) -> dict[str, float]:
    """The user's ledger summed by kind (the sandbox's own view)."""
    rows = http.get(
        "/_sandbox/ledger", params={"days": 1}, headers=box.users[user].key_headers()
    ).json()
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["kind"]] = totals.get(row["kind"], 0.0) + row["amount"]
    return totals


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each kind of ledger entry added between two readings."""
    return {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}


def hourly(selector: dict[str, Any]) -> float:
    return pricing.hourly_price(NodeSelector.model_validate(selector), TABLE)


def warm(box: Sandbox, http: httpx.Client, name: str) -> None:
    """Warm a chute with the clock paused, then move the clock just past activation."""
    headers = box.users["demo"].key_headers()
    assert http.get(f"/chutes/warmup/{name}", params={"quick": "true"}, headers=headers).is_success
    box.advance(30)
    wait_simulated(
        box,
        lambda: http.get(f"/chutes/{name}", headers=headers).json()["hot"],
        f"{name} hot",
    )


def test_spend_adds_up_to_the_balance_movement(sandbox: Sandbox) -> None:
    """Deploy (fee), half an hour of an instance, calls by a shared user and by the owner:
    the spend read back moves exactly as the balances do, and the ledger says why."""
    box = sandbox
    box.pause()
    demo = box.users["demo"].key_headers()
    selector = {"gpu_count": 1, "min_vram_gb_per_gpu": 16}
    with box.http() as http:
        before = {user: balance(http, box, user) for user in ("demo", "alice")}
        spent_before = {user: spent(box, user) for user in ("demo", "alice")}
        kinds_before = {user: ledger(http, box, user) for user in ("demo", "alice")}
        body = deploy_body(name="billed", shutdown_after_seconds=7200, node_selector=selector)
        reply = http.post("/chutes/", params={"accept_fee": "true"}, json=body, headers=demo)
        assert reply.status_code == 200, reply.text
        shared = http.post(
            "/chutes/share",
            json={"chute_id_or_name": "billed", "user_id_or_name": "alice"},
            headers=demo,
        )
        assert shared.is_success
        box.advance(30)  # verified, then active: billing starts
        wait_simulated(
            box, lambda: http.get("/chutes/billed", headers=demo).json()["hot"], "billed hot"
        )
        box.advance(1800)  # half an hour of the instance
        for word in ("one", "two", "three"):
            assert call(box, "alice", "demo-billed", "/echo", {"text": word}).status == 200
        assert call(box, "demo", "demo-billed", "/echo", {"text": "mine"}).status == 200
        after = {user: balance(http, box, user) for user in ("demo", "alice")}
        kinds = {
            user: moved(kinds_before[user], ledger(http, box, user)) for user in ("demo", "alice")
        }
    spent_after = {user: spent(box, user) for user in ("demo", "alice")}

    rate = hourly(selector)
    fee = pricing.deployment_fee(NodeSelector.model_validate(selector), TABLE)
    per_call = rate * CALL_SECONDS / 3600
    assert kinds["alice"]["invocation"] == pytest.approx(3 * per_call, abs=1e-9)
    session = kinds["demo"]
    assert session["fee"] == pytest.approx(fee)
    assert session["credit"] == pytest.approx(-3 * per_call, abs=1e-9)
    assert session["instance"] == pytest.approx(0.5 * rate)
    assert session["invocation"] == 0.0  # the owner's own call is covered by the hours
    for user in ("demo", "alice"):
        fell = before[user] - after[user]
        assert spent_after[user] - spent_before[user] == pytest.approx(fell, abs=1e-5)
    assert before["demo"] - after["demo"] == pytest.approx(
        fee + 0.5 * rate - 3 * per_call, abs=1e-5
    )


def test_a_shared_users_call_is_billed_to_them_not_the_owner(sandbox: Sandbox) -> None:
    box = sandbox
    box.pause()
    with box.http() as http:
        warm(box, http, "echo-stream")
        before = {user: balance(http, box, user) for user in ("demo", "alice")}
        result = call(box, "alice", "demo-echo-stream", "/echo", {"text": "one two three"})
        after = {user: balance(http, box, user) for user in ("demo", "alice")}
        chute = http.get("/chutes/echo-stream", headers=box.users["demo"].key_headers()).json()
        usage = http.get(
            "/users/me/usage",
            params={"per_chute": "true", "chute_id": chute["chute_id"], "limit": 1},
            headers=box.users["alice"].key_headers(),
        ).json()
    assert result.streamed and result.chunks == [
        '{"index":0,"text":"one"}',
        '{"index":1,"text":"two"}',
        '{"index":2,"text":"three"}',
    ]
    assert result.first_chunk is not None and result.first_chunk <= result.latency
    price = hourly(chute["node_selector"]) * (FIRST_CHUNK_SECONDS + 2 * CHUNK_SECONDS) / 3600
    assert before["alice"] - after["alice"] == pytest.approx(price, abs=2e-6)
    assert after["demo"] - before["demo"] == pytest.approx(price, abs=2e-6)  # credited
    (latest,) = usage["items"]
    assert latest["count"] >= 1 and latest["chute_id"] == chute["chute_id"]


def test_calls_refused_the_platforms_way(sandbox: Sandbox) -> None:
    box = sandbox
    box.pause()
    with pytest.raises(ChuteCold, match="No instances available"):
        call(box, "alice", "demo-echo-stream", "/echo", {"text": "x"})
    with pytest.raises(NoAccess, match="not shared with you"):
        call(box, "bob", "demo-hello-world", "/echo", {"text": "x"})
    with pytest.raises(InvocationFailed, match="the chute failed: ValueError: boom"):
        call(box, "demo", "demo-hello-world", "/echo", {"text": "x", "raise": "ValueError: boom"})
    with box.http() as http:
        host = {"Host": "demo-hello-world.chutes.ai"}
        anonymous = http.post("/echo", json={}, headers=host)
        assert (anonymous.status_code, anonymous.json()) == (
            401,
            {"detail": "Authentication required."},
        )
        wrong = http.post("/nope", json={}, headers={**host, **box.users["demo"].key_headers()})
        assert wrong.json() == {"detail": "No matching cord found!"}
        bad = http.post("/echo", content=b"{", headers={**host, **box.users["demo"].key_headers()})
        assert bad.status_code == 400 and "invalid request JSON payload" in bad.json()["detail"]
        # only a Host naming a chute's slug routes to it; the API stays where it was
        assert http.get("/pricing", headers={"Host": "api.chutes.ai"}).status_code == 200
        assert http.post("/_invocation/echo", json={}).status_code == 404
        assert http.post("/echo", json={}, headers={"Host": "nobody-here.localhost"}).json() == {
            "detail": "Not Found"
        }
    with box.http() as http:
        chute = http.get("/chutes/hello-world", headers=box.users["demo"].key_headers()).json()
    assert chute["invocation_count"] == 1280  # refused and failed calls are not counted


def test_busy_instances_rate_limit_and_utilisation_counts_it(tmp_path) -> None:
    """Concurrency 1 and one instance: a second call while a stream runs is a 429, and
    `/chutes/utilization` counts both (private chutes by that name only)."""
    with running_sandbox(tmp_path, speed=1.0, paused=True) as box, box.http() as http:
        warm(box, http, "echo-stream")
        first_chunk = threading.Event()
        outcome: dict[str, Any] = {}

        def stream() -> None:
            headers = {**box.users["demo"].key_headers(), "Host": "demo-echo-stream.localhost"}
            body = {"text": "a b c d e f g h"}
            with (
                httpx.Client(base_url=box.url, timeout=30) as own,
                own.stream("POST", "/echo", json=body, headers=headers) as reply,
            ):
                for _ in reply.iter_raw():
                    first_chunk.set()
                outcome["status"] = reply.status_code

        worker = threading.Thread(target=stream)
        worker.start()
        assert first_chunk.wait(30)
        with pytest.raises(InvocationFailed, match="infra_overload"):
            call(box, "alice", "demo-echo-stream", "/echo", {"text": "x"})
        during = http.get("/chutes/utilization").json()
        worker.join(30)
        rows = http.get("/chutes/utilization").json()
        usage = http.get("/invocations/usage").json()
    assert outcome["status"] == 200
    (row,) = [row for row in rows if row["total_requests_1h"]]
    assert row["name"] == "[private chute]"
    assert (row["total_requests_1h"], row["completed_requests_1h"]) == (2, 1)
    assert row["rate_limited_requests_1h"] == row["total_rate_limit_errors"] == 1
    assert row["rate_limit_ratio_1h"] == 0.5
    assert row["active_instance_count"] == 1 and row["utilization_current"] == 0.0
    (busy,) = [row for row in during if row["total_requests_1h"]]
    assert busy["utilization_current"] == 1.0  # the one slot is taken while the stream runs
    assert set(usage[0]) == {"chute_id", "date", "usd_amount", "invocation_count"}


def test_seeded_usage_covers_eleven_days_and_leaves_the_balances(box: Sandbox) -> None:
    with box.http() as http:
        usage = http.get("/invocations/usage").json()
        me = http.get("/users/me", headers=box.users["demo"].key_headers()).json()
        chutes = http.get("/chutes/", headers=box.users["demo"].key_headers()).json()["items"]
    demo = {chute["chute_id"] for chute in chutes}
    days = {row["date"] for row in usage if row["chute_id"] in demo}
    assert len(days) == USAGE_DAYS
    assert [row["date"] for row in usage] == sorted((row["date"] for row in usage), reverse=True)
    assert me["balance"] == 50.0


@pytest.mark.parametrize("hour", [0.01, 8.99, 9.5, 23.99])
def test_seeded_usage_covers_eleven_days_before_now_at_any_hour(hour: float) -> None:
    """Today's seeded usage falls in the part of the day already gone, so the history covers
    eleven days even just after midnight, and nothing is dated after `now`."""
    store = Store()
    now = 1_796_083_200 + hour * HOUR  # a UTC midnight, plus the hour
    chutes = {"hello-world": ("c-1", 0.2), "echo-stream": ("c-2", 0.25)}
    seed_history(store, now, "u-demo", chutes, "u-alice", "echo-stream")
    days = {row["date"] for row in usage_by_chute_day(store, now)}
    assert len(days) == USAGE_DAYS
    assert store.count("SELECT COUNT(*) FROM ledger WHERE bucket > ?", now) == 0
    store.close()


def test_billing_stops_at_the_idle_deadline(sandbox: Sandbox) -> None:
    """An instance idle past `shutdown_after_seconds` is billed up to then, not up to when
    the clock was next read."""
    box = sandbox
    box.pause()
    demo = box.users["demo"].key_headers()
    selector = {"gpu_count": 1, "min_vram_gb_per_gpu": 16}
    with box.http() as http:
        before = ledger(http, box, "demo")
        body = deploy_body(name="idler", shutdown_after_seconds=600, node_selector=selector)
        assert http.post("/chutes/", params={"accept_fee": "true"}, json=body, headers=demo)
        box.advance(30)
        wait_simulated(box, lambda: http.get("/chutes/idler", headers=demo).json()["hot"], "hot")
        box.advance(7200)
        wait_simulated(
            box, lambda: not http.get("/chutes/idler", headers=demo).json()["instances"], "gone"
        )
        billed = moved(before, ledger(http, box, "demo"))["instance"]
    # created at 0, billed from the tick after 30 s, idle deadline at 600
    assert billed == pytest.approx(hourly(selector) * (600 - 30) / 3600)
