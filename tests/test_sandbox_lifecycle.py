"""Simulated instances: warmup streams, hot and cold, idle shutdown, instance log streams.

Tests of the lifecycle pause the sandbox's clock, act, and advance it by exactly what a
transition needs, so no state can be skipped however loaded the machine is.
"""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from tests.conftest import body_bytes, deploy_body
from tests.simclock import wait_simulated


def deploy(sandbox, **changes) -> dict:
    body = deploy_body(**changes)
    raw = body_bytes(body)
    with sandbox.http() as http:
        reply = http.post(
            "/chutes/?accept_fee=true", content=raw, headers=sandbox.users["demo"].signed(body=raw)
        )
    assert reply.status_code == 200, reply.text
    return reply.json()


def chute(sandbox, name: str, user: str = "demo") -> dict:
    with sandbox.http() as http:
        return http.get(f"/chutes/{name}", headers=sandbox.users[user].key_headers()).json()


VERIFY, ACTIVATE = 20.0, 5.0  # simulated seconds from creation to verified, then to active


def sse_data(lines: list[str]) -> list[dict]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: ")]


def test_warmup_streams_cold_then_one_hot_line_then_closes(sandbox):
    demo = sandbox.users["demo"]
    headers = demo.signed("chutes")
    sandbox.pause()
    with (
        sandbox.http() as http,
        http.stream("GET", "/chutes/warmup/llama-mini", headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = r.iter_text()
        raw = next(chunks)  # the first cold line, while the clock stands still
        assert raw.startswith('data: {"status": "cold"')
        sandbox.advance(VERIFY + ACTIVATE)
        raw += "".join(chunks)
    assert "\n\n" in raw
    events = sse_data(raw.splitlines())
    assert events[0] == {"status": "cold", "log": "waiting for instances ..."}
    assert events[-1] == {"status": "hot", "log": "chute is hot, 1 instances available"}
    assert [event["status"] for event in events].count("hot") == 1
    assert 'data: {"status": "cold", "log": "waiting for instances ..."}' in raw
    assert chute(sandbox, "llama-mini")["hot"] is True


def test_quick_warmup_reports_pending_instances_then_hot(sandbox):
    demo = sandbox.users["demo"]
    sandbox.pause()
    with sandbox.http() as http:
        first = http.get("/chutes/warmup/echo-stream?quick=true", headers=demo.key_headers())
        assert first.status_code == 200
        status = first.json()
        assert status["status"] == "cold" and status["instance_count"] == 0
        assert len(status["instances"]) == 1
        instance = status["instances"][0]
        assert instance["active"] is False and instance["gpu_count"] == 1
        assert instance["gpu_model_name"]
        assert status["bounty"]["amount"] >= 100

        def hot():
            reply = http.get("/chutes/warmup/echo-stream?quick=true", headers=demo.key_headers())
            return reply.json() if reply.json()["status"] == "hot" else None

        assert hot() is None  # the clock stands still
        sandbox.advance(VERIFY + ACTIVATE)
        status = wait_simulated(sandbox, hot, "hot")
    assert status["instance_count"] == 1 and status["bounty"] is None
    assert status["instances"][0]["instance_id"] == instance["instance_id"]


def test_deploy_goes_hot_then_idles_down_to_cold(sandbox):
    sandbox.pause()
    created = deploy(sandbox, shutdown_after_seconds=60)
    states = [(i["verified"], i["active"]) for i in created["instances"]]
    assert states == [(False, False)]
    sandbox.advance(VERIFY)
    wait_simulated(
        sandbox, lambda: chute(sandbox, "test-chute")["instances"][0]["verified"], "verified"
    )
    assert chute(sandbox, "test-chute")["hot"] is False  # verified, not yet active
    sandbox.advance(ACTIVATE)
    wait_simulated(sandbox, lambda: chute(sandbox, "test-chute")["hot"], "hot")
    # 60 simulated seconds after the deploy, with no warmup since, it is deleted.
    sandbox.advance(60 - VERIFY - ACTIVATE)
    wait_simulated(sandbox, lambda: not chute(sandbox, "test-chute")["instances"], "cold")
    assert chute(sandbox, "test-chute")["hot"] is False


def test_running_private_instances_cost_the_owner(sandbox):
    sandbox.pause()
    deploy(sandbox)
    sandbox.advance(VERIFY + ACTIVATE)
    wait_simulated(sandbox, lambda: chute(sandbox, "test-chute")["hot"], "hot")
    demo = sandbox.users["demo"]
    with sandbox.http() as http:
        start = http.get("/users/me", headers=demo.key_headers()).json()["balance"]
        sandbox.advance(100)
        later = http.get("/users/me", headers=demo.key_headers()).json()["balance"]
    # One a4000 at $0.20/h for 100 simulated seconds costs about $0.0056.
    assert 0.003 < start - later < 0.012
    assert start - later == pytest.approx(0.20 * 100 / 3600, abs=2e-6)  # balances show 6 places


def test_update_replaces_instances(sandbox):
    first = deploy(sandbox)
    old = first["instances"][0]["instance_id"]
    second = deploy(sandbox, code="print('v2')\n")
    assert [i["instance_id"] for i in second["instances"]] != [old]
    assert len(second["instances"]) == 1


def read_events(response: httpx.Response, count: int) -> list[str]:
    lines = []
    for line in response.iter_lines():
        if line:
            lines.append(line)
        if len(lines) >= count:
            break
    return lines


def test_instance_logs_stream_connected_backfill_live_and_keepalive(sandbox):
    sandbox.pause()
    created = deploy(sandbox)
    instance_id = created["instances"][0]["instance_id"]
    sandbox.advance(VERIFY + ACTIVATE)
    wait_simulated(sandbox, lambda: chute(sandbox, "test-chute")["hot"], "hot")
    sandbox.resume()  # live lines follow the running clock
    demo = sandbox.users["demo"]
    with sandbox.http() as http:
        url = f"/instances/{instance_id}/logs?backfill=2"
        with http.stream("GET", url, headers=demo.signed("logs")) as reply:
            assert reply.status_code == 200
            assert reply.headers["cache-control"] == "no-cache"
            lines = read_events(reply, 12)
    events = sse_data(lines)
    assert events[0] == {"event": "connected", "filename": "current"}
    logs = [event["log"] for event in events[1:]]
    assert len(logs) >= 3  # two backfilled, then live lines
    assert "." in lines  # keep-alives between live lines
    assert any("_ping" in line for line in logs)


def test_instance_log_errors(sandbox):
    created = deploy(sandbox)
    instance_id = created["instances"][0]["instance_id"]
    with sandbox.http() as http:
        demo = sandbox.users["demo"].key_headers()
        missing = http.get("/instances/00000000-0000-0000-0000-000000000000/logs", headers=demo)
        assert (missing.status_code, missing.json()["detail"]) == (404, "Instance not found.")
        bad = http.get(f"/instances/{instance_id}/logs?backfill=10001", headers=demo)
        assert bad.status_code == 400
        assert bad.json()["detail"] == "`backfill` must be between 0 and 10000 (lines of logs)"
        other = http.get(
            f"/instances/{instance_id}/logs", headers=sandbox.users["bob"].key_headers()
        )
        assert other.status_code == 403
        assert other.json()["detail"] == "You may only view logs for your own (private) chutes."


def test_instance_log_stream_ends_when_the_instance_goes(sandbox):
    created = deploy(sandbox, shutdown_after_seconds=60)
    instance_id = created["instances"][0]["instance_id"]
    with sandbox.http() as http:
        url = f"/instances/{instance_id}/logs?backfill=100"
        with http.stream("GET", url, headers=sandbox.users["demo"].key_headers()) as reply:
            text = reply.read().decode()
    assert "shutting down: idle for 60s" in text


def test_warmup_refuses_an_empty_balance_and_unknown_chutes(sandbox):
    db = sqlite3.connect(sandbox.db_path)
    with db:
        db.execute("UPDATE users SET balance = 0 WHERE username = 'alice'")
    db.close()
    alice = sandbox.users["alice"]
    with sandbox.http() as http:
        reply = http.get("/chutes/warmup/echo-stream?quick=true", headers=alice.key_headers())
        assert reply.status_code == 402
        assert reply.json()["detail"] == (
            "Account balance is $0.0, please top-up with fiat or send tao to"
            f" {alice.creds.payment_address}"
        )
        bob = sandbox.users["bob"].key_headers()
        reply = http.get("/chutes/warmup/echo-stream", headers=bob)
        assert reply.status_code == 404
        assert reply.json()["detail"] == "Chute not found, or does not belong to you"


def test_instances_survive_a_restart(tmp_path):
    from tests.conftest import start_sandbox

    box = start_sandbox(tmp_path)
    try:
        created = deploy(box)
        instance_id = created["instances"][0]["instance_id"]
    finally:
        box.running.stop()
    box = start_sandbox(tmp_path, paused=True)
    try:
        box.advance(VERIFY + ACTIVATE)  # deadlines from the first run, on the second's clock
        wait_simulated(box, lambda: chute(box, "test-chute")["hot"], "hot")
        assert [i["instance_id"] for i in chute(box, "test-chute")["instances"]] == [instance_id]
    finally:
        box.running.stop()


def test_image_build_logs_stream_while_building_and_are_text_when_finished(sandbox):
    demo = sandbox.users["demo"].key_headers()
    with sandbox.http() as http:
        building = http.get("/images/demo/tts:0.2", headers=demo).json()["image_id"]
        with http.stream("GET", f"/images/{building}/logs", headers=demo) as reply:
            assert reply.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in reply.iter_lines():
                lines.append(line)
                if line == ".":
                    break
        first = json.loads(lines[0].removeprefix("data: "))
        assert first["log"]["log_type"] == "stdout" and first["offset"] == "1"
        # resuming skips the first line
        with http.stream("GET", f"/images/{building}/logs?offset=1", headers=demo) as reply:
            line = next(reply.iter_lines())
        assert json.loads(line.removeprefix("data: "))["offset"] == "2"
        failed = http.get("/images/demo/broken:0.1", headers=demo).json()["image_id"]
        text = http.get(f"/images/{failed}/logs", headers=demo)
        assert text.headers["content-type"].startswith("text/plain")
        assert text.text.endswith("no matching distribution")
        other = http.get(f"/images/{failed}/logs", headers=sandbox.users["bob"].key_headers())
        assert other.status_code == 404
