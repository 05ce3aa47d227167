"""`usage` and `invoke`, run as real subprocesses against a real sandbox: every way a call
ends has its exit code, a stream is printed chunk by chunk, and usage adds up."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from chutes_tui.client.errors import ExitCode
from tests.conftest import Sandbox, deploy_body
from tests.simclock import wait_simulated
from tests.test_headless import Cli, json_stream


@pytest.fixture
def paused(sandbox: Sandbox, tmp_path: Path) -> Cli:
    """A sandbox of its own whose clock moves only when the test moves it."""
    sandbox.pause()
    return Cli(sandbox, tmp_path)


@pytest.fixture(scope="module")
def reader(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The module's shared sandbox, for commands that change nothing."""
    return Cli(box, tmp_path_factory.mktemp("home"))


def with_key(runner: Cli, user: str = "demo") -> dict[str, str]:
    """The environment for a user's API key (usage needs one, as on the platform)."""
    return runner.env(None, CHUTES_API_KEY=runner.key(user), CHUTES_API_URL=runner.box.url)


def warm(box: Sandbox, name: str) -> None:
    headers = box.users["demo"].key_headers()
    with box.http() as http:
        http.get(f"/chutes/warmup/{name}", params={"quick": "true"}, headers=headers)
        box.advance(30)
        wait_simulated(
            box, lambda: http.get(f"/chutes/{name}", headers=headers).json()["hot"], "hot"
        )


def test_invoke_prints_the_reply_and_times_it(paused: Cli) -> None:
    run = paused("invoke", "hello-world", "/echo", "--data", '{"text": "hi"}')
    reply = run.json()
    assert reply["status"] == 200 and reply["streamed"] is False
    assert reply["reply"] == {"cord": "/echo", "function": "echo", "echo": {"text": "hi"}}
    assert reply["url"].startswith("http://demo-hello-world.localhost:")
    assert reply["latency_seconds"] >= 0
    text = paused("invoke", "hello-world", "/echo", "-d", '{"text": "hi"}', "--output", "table")
    assert json.loads(text.stdout)["echo"] == {"text": "hi"}
    assert text.stderr.startswith("HTTP 200 in ")


def test_invoke_exit_codes_cold_forbidden_failed(paused: Cli) -> None:
    cold = paused.error("invoke", "echo-stream", "/echo", "-d", "{}", code=ExitCode.CHUTE_COLD)
    assert "cold" in cold.stderr and "warm it up" in cold.stderr
    forbidden = paused.error(
        "invoke", "demo-hello-world", "/echo", "-d", "{}", user="bob", code=ExitCode.AUTH
    )
    assert "not shared with you" in forbidden.stderr
    failed = paused.error(
        "invoke",
        "hello-world",
        "/echo",
        "-d",
        '{"raise": "RuntimeError: out of luck"}',
        code=ExitCode.INVOKE_FAILED,
    )
    assert "the chute failed: RuntimeError: out of luck" in failed.stderr
    paused.error("invoke", "hello-world", "/nope", code=ExitCode.NOT_FOUND)
    paused.error("invoke", "no-such-slug", "/echo", code=ExitCode.NOT_FOUND)
    paused.error("invoke", "hello-world", "/echo", "-d", "{oops", code=ExitCode.USAGE)


def test_invoke_streams_chunk_by_chunk(paused: Cli, tmp_path: Path) -> None:
    """JSON Lines: each chunk with its time, then the call; a stream that ends in an error
    prints what came before it and exits 14. The body comes from a file, or stdin."""
    warm(paused.box, "echo-stream")
    body = tmp_path / "body.json"
    body.write_text('{"text": "one two three"}')
    run = paused("invoke", "echo-stream", "/echo", "--data", f"@{body}", output="stream")
    *chunks, summary = json_stream(run.stdout)
    assert [json.loads(chunk["chunk"])["text"] for chunk in chunks] == ["one", "two", "three"]
    assert summary["streamed"] is True and summary["status"] == 200
    assert summary["first_chunk_seconds"] == chunks[0]["elapsed"]
    assert chunks[0]["elapsed"] <= chunks[-1]["elapsed"] <= summary["latency_seconds"]
    broken = paused(
        "invoke",
        "echo-stream",
        "/echo",
        "-d",
        '{"text": "a b c d", "raise": "KeyError: x"}',
        code=ExitCode.INVOKE_FAILED,
    )
    *chunks, summary = json_stream(broken.stdout)
    assert len(chunks) == 3 and "Unhandled exception during response stream" in summary["error"]
    assert "the stream ended with an error" in broken.stderr


def test_usage_json_and_csv_agree(reader: Cli) -> None:
    cli = reader
    env = with_key(cli)
    report = cli("usage", "--days", "3", env=env).json()
    assert report["days"] == 3 and report["balance_usd"] == 50.0
    assert report["burn_usd_per_hour"] > 0  # hello-world runs
    assert report["runway"].endswith(" h") and report["deploy_fees_usd"] == 0.0
    rows = report["rows"]
    assert {row["chute"] for row in rows} == {"hello-world", "echo-stream", "llama-mini"}
    assert report["total_usd"] == pytest.approx(sum(row["usd_amount"] for row in rows))
    table = cli("usage", "--days", "3", "--csv", env=env, output="csv")
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [row["chute_id"] for row in parsed] == [row["chute_id"] for row in rows]
    assert [float(row["usd_amount"]) for row in parsed] == [row["usd_amount"] for row in rows]
    assert "spent" in table.stderr and "runway" in table.stderr
    one = cli("usage", "--days", "3", "--chute", "llama-mini", env=env).json()
    assert {row["chute"] for row in one["rows"]} == {"llama-mini"}
    cli.error("usage", "--days", "0", env=env, code=ExitCode.USAGE)
    hotkey_only = cli.error("usage", code=ExitCode.AUTH)
    assert "API key" in hotkey_only.stderr


def test_usage_adds_up_to_the_balance_movement(paused: Cli) -> None:
    """Spend read by `usage` before and after a deploy, an hour of its instance and calls
    moves exactly as the balance does; the fee is told apart."""
    box = paused.box
    env = with_key(paused)
    demo = box.users["demo"].key_headers()
    before = paused("usage", "--days", "2", env=env).json()
    with box.http() as http:
        body = deploy_body(name="counted", shutdown_after_seconds=7200)
        assert http.post("/chutes/", params={"accept_fee": "true"}, json=body, headers=demo)
        box.advance(30)
        wait_simulated(box, lambda: http.get("/chutes/counted", headers=demo).json()["hot"], "hot")
        box.advance(3600)
    paused("invoke", "counted", "/echo", "-d", "{}", env=env)
    after = paused("usage", "--days", "2", env=env).json()
    fell = before["balance_usd"] - after["balance_usd"]
    assert after["total_usd"] - before["total_usd"] == pytest.approx(fell, abs=1e-5)
    assert after["deploy_fees_usd"] - before["deploy_fees_usd"] == pytest.approx(0.6)
    assert fell > 0.6  # the fee and an hour of the instance


def test_invoke_with_a_hotkey_signs_the_body(paused: Cli) -> None:
    """The SDK's config.ini (a hotkey, no API key) calls a chute: the body hash is signed."""
    reply = paused("invoke", "hello-world", "/echo", "-d", '{"text": "signed"}').json()
    assert reply["reply"]["echo"] == {"text": "signed"}
    with httpx.Client(base_url=paused.box.url) as http:
        anonymous = http.post("/echo", json={}, headers={"Host": "demo-hello-world.localhost"})
    assert anonymous.status_code == 401
