"""ChutesClient's API keys and secrets: against a sandbox, and under faults that must never put
a secret into an error or send a create twice."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from chutes_tui import config
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import (
    AuthError,
    ChutesError,
    Conflict,
    NotFound,
    ServerError,
    Unreachable,
    ValidationFailed,
)
from chutes_tui.client.scopes import Scope, is_env_name, parse_scope, scopes_text
from chutes_tui.client.signing import Credentials
from tests.conftest import Sandbox

VALUE = "hf_ClientValueThatStaysOut0987654321"
BASE = "https://api.test"
KEY = "cpk_" + "ab" * 16 + "." + "cd" * 16 + ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def client_for(box: Sandbox, user: str = "demo", key: str | None = None) -> ChutesClient:
    connection = config.Connection(
        base_url=box.url, credentials=Credentials(api_key=key or box.users[user].api_key)
    )
    return ChutesClient(connection)


def hotkey_client(box: Sandbox, user: str = "demo") -> ChutesClient:
    return ChutesClient(config.resolve(config_path=box.users[user].config_path, env={}))


async def test_keys_round_trip_with_a_hotkey_and_the_new_key_works(sandbox: Sandbox) -> None:
    async with hotkey_client(sandbox) as demo:
        hello = (await demo.get_chute("hello-world")).chute_id
        created = await demo.create_api_key(
            "reader", admin=False, scopes=[Scope("chutes", "read", hello).wire()]
        )
        assert created.secret_key.startswith("cpk_") and created.secret_key not in repr(created)
        page = await demo.list_api_keys()
        assert [key.name for key in page.items] == ["sandbox", "reader"]
        (scope,) = page.items[1].scopes or []
        assert (scope.object_type, scope.object_id, scope.verb) == ("chutes", hello, "read")
        async with client_for(sandbox, key=created.secret_key) as reader:
            assert (await reader.get_chute(hello)).name == "hello-world"
            with pytest.raises(AuthError, match="Invalid token or user not found"):
                await reader.delete_chute(hello)
            with pytest.raises(AuthError):
                await reader.list_api_keys()
        assert (await demo.delete_api_key(created.api_key_id)).deleted is True
        with pytest.raises(NotFound):
            await demo.delete_api_key(created.api_key_id)
        with pytest.raises(Conflict):
            await demo.create_api_key("sandbox", admin=True)
        with pytest.raises(ValidationFailed, match="Invalid object_type"):
            await demo.create_api_key("x", admin=False, scopes=[{"object_type": "users"}])


async def test_secrets_round_trip(sandbox: Sandbox) -> None:
    async with client_for(sandbox) as demo:
        hello = (await demo.get_chute("hello-world")).chute_id
        secret = await demo.create_secret(hello, "HF_TOKEN", VALUE)
        assert (secret.purpose, secret.key) == (hello, "HF_TOKEN")
        raw = await demo.list_secrets(raw=True)
        assert raw["total"] == 1 and VALUE not in str(raw)
        with pytest.raises(Conflict) as caught:
            await demo.create_secret(hello, "HF_TOKEN", VALUE)
        assert VALUE not in str(caught.value)
        with pytest.raises(NotFound):
            await demo.create_secret("no-such-chute", "K", VALUE)
        assert (await demo.delete_secret(secret.secret_id)).secret_id == secret.secret_id
        assert (await demo.list_secrets()).total == 0
    async with client_for(sandbox, "alice") as alice:
        with pytest.raises(NotFound):
            await alice.create_secret(hello, "K", VALUE)


# faults


def fake(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[ChutesClient, list]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    connection = config.Connection(base_url=BASE, credentials=Credentials(api_key=KEY))
    client = ChutesClient(connection, transport=httpx.MockTransport(record), retries=0)
    return client, seen


async def test_a_refusal_that_quotes_the_value_is_blanked() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"detail": f"bad value {request.content.decode()}"})

    client, seen = fake(echo)
    async with client:
        with pytest.raises(ValidationFailed) as caught:
            await client.create_secret("c", "K", VALUE)
    assert VALUE not in str(caught.value) and VALUE not in caught.value.message
    assert "<secret value>" in caught.value.message
    assert len(seen) == 1


async def test_a_create_is_sent_once_and_a_lost_reply_is_read_back() -> None:
    def lost_then_listed(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadError("reset")
        if request.url.path == "/api_keys/":
            item = {"api_key_id": "k", "user_id": "u", "admin": True, "name": "ci"}
            return httpx.Response(200, json={"total": 1, "page": 0, "limit": 100, "items": [item]})
        item = {"secret_id": "s", "purpose": "c", "key": "K", "created_at": None}
        return httpx.Response(200, json={"total": 1, "page": 0, "limit": 100, "items": [item]})

    client, seen = fake(lost_then_listed)
    async with client:
        with pytest.raises(ServerError, match="was created, but the reply holding its secret"):
            await client.create_api_key("ci", admin=True)
        with pytest.raises(Unreachable, match="safe to try again"):
            await client.create_api_key("other", admin=True)
        assert (await client.create_secret("c", "K", VALUE)).secret_id == "s"
        with pytest.raises(Unreachable) as caught:
            await client.create_secret("c", "OTHER", VALUE)
    assert VALUE not in str(caught.value)
    assert len([request for request in seen if request.method == "POST"]) == 4


async def test_a_create_reply_of_the_wrong_shape_never_quotes_it() -> None:
    def odd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"secret_key": KEY, "value": VALUE})

    client, _ = fake(odd)
    async with client:
        for call in (
            client.create_api_key("ci", admin=True),
            client.create_secret("c", "K", VALUE),
        ):
            with pytest.raises(ChutesError) as caught:
                await call
            assert KEY not in str(caught.value) and VALUE not in str(caught.value)


# the scope grammar


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("chutes:read", Scope("chutes", "read")),
        ("CHUTES:Delete:hello-world", Scope("chutes", "delete", "hello-world")),
        ("images:any", Scope("images", None)),
        ("invocations:invoke:abc:def", Scope("invocations", "invoke", "abc:def")),
    ],
)
def test_scopes_parse(text: str, scope: Scope) -> None:
    assert parse_scope(text) == scope


@pytest.mark.parametrize("text", ["chutes", "users:read", "chutes:fly", "chutes:read:", ""])
def test_bad_scopes_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        parse_scope(text)


def test_scopes_read_back_as_people_write_them() -> None:
    key = {
        "admin": False,
        "scopes": [
            {"object_type": "chutes", "object_id": "id1", "method": "read"},
            {"object_type": "chutes", "object_id": "id1", "action": "read"},
            {"object_type": "images", "object_id": None, "action": None},
        ],
    }
    assert scopes_text(key, {"id1": "hello-world"}) == "chutes:read:hello-world, images:any"
    assert scopes_text({"admin": True}) == "admin (everything)"
    assert scopes_text({"admin": False, "scopes": []}) == "nothing (no scopes)"


def test_secret_keys_are_environment_names() -> None:
    assert all(map(is_env_name, ["HF_TOKEN", "_X", "a1"]))
    assert not any(map(is_env_name, ["", "1X", "HF-TOKEN", "A B", "Ä"]))
