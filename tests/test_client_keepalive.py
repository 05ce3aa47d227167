"""A pooled connection the server hangs up as a request goes down it.

A server closes a keep-alive connection that stayed idle (uvicorn after 5 s). A request sent
at that instant is lost: nothing comes back, and the client cannot know whether it was
handled. Here a real server on loopback plays that moment on purpose: it answers the first
request on each connection and closes the connection when a second one arrives on it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn

from chutes_tui.client import api as api_module
from chutes_tui.client.api import KEEP_ALIVE_EXPIRY, ChutesClient
from chutes_tui.client.errors import Unreachable
from chutes_tui.client.signing import Credentials
from chutes_tui.config import Connection
from chutes_tui.sandbox import server as sandbox_server

USER = {"username": "demo", "user_id": "u-1", "balance": 1.5}


@dataclass
class OneAnswerServer:
    """Answers one request per connection; hangs up on the next one without a word."""

    url: str = ""
    connections: int = 0
    answered: list[str] = field(default_factory=list)  # "GET /users/me", ...
    hung_up: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                request = " ".join(lines[0].split(" ")[:2])
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if served:
                    self.hung_up.append(request)
                    break
                served += 1
                self.answered.append(request)
                body = json.dumps(USER if request.endswith("/users/me") else {"status": "ok"})
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[OneAnswerServer]:
    state = OneAnswerServer()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    host, port = listening.sockets[0].getsockname()[:2]
    state.url = f"http://{host}:{port}"
    async with listening:
        yield state


def client_for(server: OneAnswerServer) -> ChutesClient:
    async def no_wait(_: float) -> None:
        return None

    connection = Connection(base_url=server.url, credentials=Credentials(api_key="cpk_test"))
    return ChutesClient(connection, sleep=no_wait)


async def test_a_get_sent_as_the_server_hangs_up_goes_again_on_a_new_connection(server):
    async with client_for(server) as client:
        await client.me()
        assert (await client.me()).username == "demo"  # down the pooled connection, hung up
    assert server.hung_up == ["GET /users/me"]
    assert server.answered == ["GET /users/me", "GET /users/me"]
    assert server.connections == 2


async def test_a_write_sent_as_the_server_hangs_up_is_not_sent_again(server):
    async with client_for(server) as client:
        await client.me()
        with pytest.raises(Unreachable) as caught:
            await client.share("hello-world", "bob")
    assert caught.value.sent is True
    assert "POST /chutes/share: the connection failed" in caught.value.message
    assert server.hung_up == ["POST /chutes/share"] and server.connections == 1


async def test_an_idle_connection_is_dropped_before_the_server_would_hang_it_up(
    server, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(api_module, "KEEP_ALIVE_EXPIRY", 0.05)
    async with client_for(server) as client:
        await client.me()
        await asyncio.sleep(0.2)  # idle for longer than the pool keeps a connection
        assert (await client.share("hello-world", "bob")).status == "ok"
    assert server.answered == ["GET /users/me", "POST /chutes/share"]
    assert server.hung_up == [] and server.connections == 2


def test_the_pool_lets_go_of_idle_connections_well_before_servers_do() -> None:
    uvicorn_default = uvicorn.Config(app=None).timeout_keep_alive  # type: ignore[arg-type]
    for server_keep_alive in (uvicorn_default, sandbox_server.KEEP_ALIVE):
        assert server_keep_alive - KEEP_ALIVE_EXPIRY >= 1
