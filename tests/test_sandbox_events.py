"""The Socket.IO `events` channel, driven by the simulated instance lifecycle."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from chutes_tui.sandbox.events import Events, config_id
from tests.conftest import Sandbox, body_bytes, deploy_body, running_sandbox
from tests.simclock import HANG_GUARD

socketio = pytest.importorskip("socketio")

# 200 simulated seconds to verify and 200 more to activate, and llama-mini idles out 600 s
# after it was created; the clock stands still until the test advances it, so each event
# is checked against the API before the next change.
SLOW_STEPS = {"speed": 400, "verify_after": 200, "activate_after": 200, "paused": True}
TIMEOUT = HANG_GUARD  # a wait for an event that never comes fails; no timing is asserted


class Listener:
    """A Socket.IO client collecting `events` broadcasts, as the SDK's dashboard does."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        self.client.on("events", self.queue.put_nowait)

    async def next(self, chute_id: str) -> dict:
        """The next event about `chute_id`."""
        while True:
            event = await asyncio.wait_for(self.queue.get(), TIMEOUT)
            if event["data"].get("chute_id") == chute_id:
                return event


@asynccontextmanager
async def listening(box: Sandbox, transport: str) -> AsyncIterator[Listener]:
    listener = Listener()
    await listener.client.connect(box.url, transports=[transport])
    assert listener.client.transport() == transport
    try:
        yield listener
    finally:
        await listener.client.disconnect()


def api(box: Sandbox) -> httpx.AsyncClient:
    headers = box.users["demo"].key_headers()
    return httpx.AsyncClient(base_url=box.url, headers=headers, timeout=10)


async def instances(http: httpx.AsyncClient, chute_id: str) -> dict[str, dict]:
    reply = await http.get(f"/chutes/{chute_id}")
    assert reply.status_code == 200, reply.text
    return {row["instance_id"]: row for row in reply.json()["instances"]}


async def deploy(box: Sandbox, http: httpx.AsyncClient, body: dict) -> dict:
    raw = body_bytes(body)
    headers = box.users["demo"].signed(body=raw)
    reply = await http.post("/chutes/?accept_fee=true", content=raw, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_websocket_client_follows_a_cold_warmup_to_idle_shutdown(tmp_path: Path):
    with running_sandbox(tmp_path, **SLOW_STEPS) as box:
        async with listening(box, "websocket") as events, api(box) as http:
            chute_id = (await http.get("/chutes/llama-mini")).json()["chute_id"]
            assert await instances(http, chute_id) == {}
            reply = await http.get("/chutes/warmup/llama-mini?quick=true")
            assert reply.status_code == 200
            (started,) = reply.json()["instances"]

            bounty = await events.next(chute_id)
            assert bounty["reason"] == "bounty_change"
            assert bounty["data"] == {
                "chute_id": chute_id,
                "bounty": 100,
                "effective_multiplier": 1.5,
                "bounty_boost": 1.5,
                "urgency": "cold",
            }
            assert bounty["message"] == (
                f"Chute {chute_id} bounty (cold): 100 compute units, 1.5x multiplier"
            )

            created = await events.next(chute_id)
            assert created["reason"] == "instance_created"
            data = created["data"]
            instance_id, hotkey = data["instance_id"], data["miner_hotkey"]
            gpu = started["gpu_model_name"]
            assert (instance_id, started["gpu_count"]) == (started["instance_id"], 2)
            row = (await instances(http, chute_id))[instance_id]
            assert (row["verified"], row["active"]) == (False, False)
            box.advance(200)
            assert data == {
                "chute_id": chute_id,
                "instance_id": instance_id,
                "miner_hotkey": hotkey,
                "gpu_count": 2,
                "gpu_model_name": gpu,
            }
            assert created["message"] == (
                f"Miner {hotkey} has provisioned an instance of chute {chute_id} on 2x{gpu}"
            )

            hot = await events.next(chute_id)
            assert hot["reason"] == "instance_hot"
            assert hot["data"] == {"chute_id": chute_id, "miner_hotkey": hotkey}
            assert hot["message"] == (
                f"Miner {hotkey} instance {instance_id} chute {chute_id}"
                " has been verified, now 'hot'!"
            )
            row = (await instances(http, chute_id))[instance_id]
            assert (row["verified"], row["active"]) == (True, False)
            box.advance(200)

            activated = await events.next(chute_id)
            assert activated["reason"] == "instance_activated"
            full = {
                "chute_id": chute_id,
                "miner_hotkey": hotkey,
                "instance_id": instance_id,
                "config_id": config_id(instance_id),
            }
            assert activated["data"] == full
            assert activated["message"] == (
                f"Miner {hotkey} has activated instance {instance_id} chute {chute_id}"
            )
            assert (await http.get(f"/chutes/{chute_id}")).json()["hot"] is True
            box.advance(200)  # 600 s since the warmup

            deleted = await events.next(chute_id)
            assert deleted["reason"] == "instance_deleted"
            assert deleted["data"] == full
            assert deleted["message"] == (
                f"Miner {hotkey} has deleted instance an instance of chute {chute_id}."
            )
            assert await instances(http, chute_id) == {}


async def test_a_polling_client_sees_deploys_updates_and_deletes(tmp_path: Path):
    demo_body = deploy_body(shutdown_after_seconds=600)
    with running_sandbox(tmp_path, **SLOW_STEPS) as box:
        demo = box.users["demo"]
        async with listening(box, "polling") as events, api(box) as http:
            first = await deploy(box, http, demo_body)
            chute_id, old = first["chute_id"], first["instances"][0]["instance_id"]
            box.advance(400)
            reasons = [(await events.next(chute_id))["reason"] for _ in range(3)]
            assert reasons == ["instance_created", "instance_hot", "instance_activated"]

            second = await deploy(box, http, {**demo_body, "code": "print('v2')\n"})
            new = second["instances"][0]["instance_id"]
            replaced = await events.next(chute_id)
            assert replaced["reason"] == "instance_deleted"
            assert replaced["data"]["instance_id"] == old
            assert replaced["message"] == (
                f"Instance {old} of chute {chute_id} deleted: rolling update to a new version"
            )
            created = await events.next(chute_id)
            assert (created["reason"], created["data"]["instance_id"]) == ("instance_created", new)

            reply = await http.delete(f"/chutes/{chute_id}", headers=demo.signed("chutes"))
            assert reply.status_code == 200, reply.text
            gone = await events.next(chute_id)
            assert (gone["reason"], gone["data"]["instance_id"]) == ("instance_deleted", new)
            assert gone["message"].endswith("deleted: chute deleted")
            assert (await http.get(f"/chutes/{chute_id}")).status_code == 404
            # The server hangs up first: a polling client that leaves on its own waits
            # for its open long-poll to time out (python-engineio's behaviour).
            await asyncio.to_thread(box.running.stop)
            assert not events.client.connected


async def test_the_sdk_events_client_gets_the_events_of_its_chute(tmp_path: Path):
    warmup_events = pytest.importorskip("chutes.entrypoint.warmup_events")
    with running_sandbox(tmp_path, speed=1000, paused=True) as box:
        async with api(box) as http:
            chute_id = (await http.get("/chutes/llama-mini")).json()["chute_id"]
            got: asyncio.Queue[dict] = asyncio.Queue()

            async def seen(event: dict) -> None:
                got.put_nowait(event)

            client = warmup_events.EventsClient(box.url, chute_id, seen)
            assert client.events_url == f"http://events.{box.url.removeprefix('http://')}"
            client.events_url = box.url  # events.127.0.0.1 does not resolve
            await client.connect()
            try:
                assert client.connected
                assert (await http.get("/chutes/warmup/llama-mini?quick=true")).status_code == 200
                box.advance(25)  # verified after 20 s, active 5 s later
                reasons = []
                while "instance_activated" not in reasons:
                    event = await asyncio.wait_for(got.get(), TIMEOUT)
                    assert event["data"]["chute_id"] == chute_id
                    reasons.append(event["reason"])
            finally:
                await client.disconnect()
    expected = ["bounty_change", "instance_created", "instance_hot", "instance_activated"]
    assert reasons == expected


def test_without_socketio_the_sandbox_serves_the_api_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "socketio", None)  # `import socketio` now fails
    with running_sandbox(tmp_path) as box, box.http() as http:
        assert http.get("/socket.io/", params={"EIO": 4, "transport": "polling"}).status_code == 404
        headers = box.users["demo"].key_headers()
        assert http.get("/chutes/", headers=headers).status_code == 200
        reply = http.get("/chutes/warmup/llama-mini?quick=true", headers=headers)
        assert reply.status_code == 200
        assert reply.json()["bounty"]["amount"] >= 100


class FlakyServer:
    """Stands in for socketio.AsyncServer: the first send is slow and one always fails."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def emit(self, event: str, payload: dict) -> None:
        assert event == "events"
        await asyncio.sleep(0.05 if not self.sent else 0)
        if payload["reason"] == "boom":
            raise RuntimeError("no transport")
        self.sent.append(payload["reason"])


async def test_broadcasts_keep_their_order_and_survive_send_failures(
    caplog: pytest.LogCaptureFixture,
):
    events, server = Events(), FlakyServer()
    events.emit("dropped", "", {})  # not started: nothing to send from
    events.server = server
    events.start()
    with caplog.at_level(logging.WARNING, logger="chutes_tui.sandbox.events"):
        for reason in ("first", "boom", "second"):
            events.emit(reason, "", {})
        await asyncio.to_thread(events.emit, "from a thread", "", {})
        for _ in range(200):
            if len(server.sent) == 3:
                break
            await asyncio.sleep(0.01)
    await events.close()
    assert server.sent == ["first", "second", "from a thread"]
    assert "could not broadcast boom" in caplog.text
