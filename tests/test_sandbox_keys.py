"""The sandbox's API keys and secrets, over HTTP as the SDK sends them: routes, fields, status
codes and texts; the secret of a key in its create reply only (its hash stored); a secret's
value in no reply and on no disk; scoped keys enforced; one user never reaches another's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from chutes_tui.sandbox.keys import hash_api_key
from tests.conftest import Sandbox, body_bytes

KEY_RE = re.compile(r"^cpk_[0-9a-f]{32}\.[0-9a-f]{32}\.[A-Za-z0-9]{32}$")
HF_VALUE = "hf_Sandb0xValueThatMustNeverComeBack1234"


def post(box: Sandbox, path: str, payload: dict[str, Any], user: str = "demo") -> httpx.Response:
    """Signed over the body hash, as `chutes keys create` / `chutes secrets create` sign."""
    body = body_bytes(payload)
    with box.http() as http:
        return http.post(path, content=body, headers=box.users[user].signed(body=body))


def get(box: Sandbox, path: str, user: str = "demo", purpose: str = "api_keys") -> httpx.Response:
    with box.http() as http:
        return http.get(path, headers=box.users[user].signed(purpose))


def delete(
    box: Sandbox, path: str, user: str = "demo", purpose: str = "api_keys"
) -> httpx.Response:
    with box.http() as http:
        return http.delete(path, headers=box.users[user].signed(purpose))


def with_key(box: Sandbox, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
    with box.http() as http:
        return http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)


def chute_id(box: Sandbox, name: str, owner: str = "demo") -> str:
    return box.query(
        "SELECT chute_id FROM chutes WHERE name = ? AND user_id = ?",
        name,
        box.users[owner].creds.user_id,
    )[0]["chute_id"]


def everything_on_disk(box: Sandbox) -> bytes:
    """The database and its -wal/-shm companions, as bytes."""
    return b"".join(
        path.read_bytes()
        for path in Path(box.db_path).parent.iterdir()
        if path.name.startswith(Path(box.db_path).name)
    )


# API keys


def test_an_admin_key_is_created_listed_used_and_deleted(sandbox: Sandbox) -> None:
    created = post(sandbox, "/api_keys/", {"name": "ci", "admin": True})
    assert created.status_code == 200, created.text
    reply = created.json()
    assert set(reply) == {
        "api_key_id",
        "user_id",
        "admin",
        "name",
        "created_at",
        "last_used_at",
        "scopes",
        "secret_key",
    }
    secret = reply["secret_key"]
    assert KEY_RE.match(secret) and len(secret) == 102
    assert secret.startswith(f"cpk_{reply['api_key_id'].replace('-', '')}.")
    assert reply["admin"] is True and reply["scopes"] == [] and reply["last_used_at"] is None
    assert reply["user_id"] == sandbox.users["demo"].creds.user_id
    # only a hash is stored, and the secret is nowhere on disk
    (row,) = sandbox.query("SELECT * FROM api_keys WHERE api_key_id = ?", reply["api_key_id"])
    assert row["key_hash"] == hash_api_key(secret) and secret not in json.dumps(row)
    assert secret.encode() not in everything_on_disk(sandbox)

    listed = get(sandbox, "/api_keys/").json()
    assert listed["total"] == 2 and [item["name"] for item in listed["items"]] == ["sandbox", "ci"]
    assert all("secret_key" not in item and "key_hash" not in item for item in listed["items"])
    assert secret not in json.dumps(listed)
    one = get(sandbox, f"/api_keys/{reply['api_key_id']}").json()
    assert one["name"] == "ci" and "secret_key" not in one

    me = with_key(sandbox, "GET", "/users/me", secret)
    assert me.status_code == 200 and me.json()["username"] == "demo"
    used = get(sandbox, f"/api_keys/{reply['api_key_id']}").json()
    assert used["last_used_at"] is not None

    gone = delete(sandbox, f"/api_keys/{reply['api_key_id']}")
    assert gone.json() == {"api_key_id": reply["api_key_id"], "deleted": True}
    refused = with_key(sandbox, "GET", "/users/me", secret)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token or user not found"}
    assert delete(sandbox, f"/api_keys/{reply['api_key_id']}").json() == {
        "detail": "API key not found, or does not belong to you"
    }


def test_key_creation_refusals_in_the_platforms_words(sandbox: Sandbox) -> None:
    too_long = post(sandbox, "/api_keys/", {"name": "x" * 25, "admin": True})
    assert too_long.status_code == 400
    assert too_long.json()["detail"].startswith("Invalid request: API key name should start")
    bad_type = post(
        sandbox,
        "/api_keys/",
        {"name": "s", "admin": False, "scopes": [{"object_type": "users", "action": "read"}]},
    )
    assert bad_type.status_code == 400
    assert bad_type.json()["detail"] == (
        "Invalid request: Invalid object_type, must be one of images, chutes, invocations"
    )
    bad_action = post(
        sandbox,
        "/api_keys/",
        {"name": "s", "admin": False, "scopes": [{"object_type": "chutes", "action": "fly"}]},
    )
    assert bad_action.status_code == 422
    assert post(sandbox, "/api_keys/", {"name": "twice", "admin": True}).status_code == 200
    again = post(sandbox, "/api_keys/", {"name": "twice", "admin": False})
    assert again.status_code == 409
    assert again.json() == {"detail": "An API key already exists with this name"}
    # another user may use the same name
    assert post(sandbox, "/api_keys/", {"name": "twice", "admin": True}, "alice").status_code == 200
    # an admin key ignores the scopes sent with it
    admin = post(
        sandbox,
        "/api_keys/",
        {"name": "adm", "admin": True, "scopes": [{"object_type": "chutes", "action": "read"}]},
    )
    assert admin.json()["scopes"] == []


def test_keys_need_the_api_keys_purpose_or_a_key(sandbox: Sandbox) -> None:
    wrong = get(sandbox, "/api_keys/", purpose="chutes")
    assert wrong.status_code == 401
    assert wrong.json()["detail"].startswith("Invalid request signature for hotkey")
    with sandbox.http() as http:
        assert http.get("/api_keys/").status_code == 401
        assert http.get("/secrets/").status_code == 401


def test_one_user_never_reaches_anothers_keys_or_secrets(sandbox: Sandbox) -> None:
    key = post(sandbox, "/api_keys/", {"name": "mine", "admin": True}).json()
    secret = post(
        sandbox, "/secrets/", {"purpose": "hello-world", "key": "HF_TOKEN", "value": HF_VALUE}
    ).json()
    assert get(sandbox, "/api_keys/", "alice").json()["items"][0]["name"] == "sandbox"
    assert get(sandbox, "/api_keys/", "alice").json()["total"] == 1
    assert get(sandbox, f"/api_keys/{key['api_key_id']}", "alice").status_code == 404
    assert delete(sandbox, f"/api_keys/{key['api_key_id']}", "alice").status_code == 404
    assert get(sandbox, "/secrets/", "alice", "secrets").json()["total"] == 0
    assert get(sandbox, f"/secrets/{secret['secret_id']}", "alice", "secrets").status_code == 404
    assert delete(sandbox, f"/secrets/{secret['secret_id']}", "alice", "secrets").json() == {
        "detail": "Secret not found, or does not belong to you"
    }
    # a secret for someone else's chute, even one shared with you, is refused
    refused = post(
        sandbox, "/secrets/", {"purpose": "echo-stream", "key": "K", "value": "v"}, "alice"
    )
    assert refused.status_code == 404
    assert refused.json() == {
        "detail": "Did not find target chute echo-stream, or it does not belong to you"
    }
    assert len(sandbox.query("SELECT * FROM api_keys WHERE name = 'mine'")) == 1
    assert len(sandbox.query("SELECT * FROM secrets")) == 1


# scoped keys


def scoped(box: Sandbox, name: str, *scopes: dict[str, Any]) -> str:
    reply = post(box, "/api_keys/", {"name": name, "admin": False, "scopes": list(scopes)})
    assert reply.status_code == 200, reply.text
    assert [scope["action"] for scope in reply.json()["scopes"]] == [
        s.get("action") for s in scopes
    ]
    return reply.json()["secret_key"]


def test_a_key_scoped_to_read_one_chute_reads_it_and_nothing_more(sandbox: Sandbox) -> None:
    hello = chute_id(sandbox, "hello-world")
    key = scoped(sandbox, "reader", {"object_type": "chutes", "object_id": hello, "action": "read"})
    assert with_key(sandbox, "GET", f"/chutes/{hello}", key).status_code == 200
    assert with_key(sandbox, "GET", "/chutes/hello-world", key).status_code == 200  # by name
    assert with_key(sandbox, "GET", "/chutes/warmup/hello-world?quick=true", key).status_code == 200
    assert with_key(sandbox, "GET", f"/chutes/code/{hello}", key).status_code == 200
    refusals = [
        ("DELETE", f"/chutes/{hello}"),
        ("PUT", f"/chutes/{hello}"),
        ("GET", "/chutes/llama-mini"),
        ("GET", "/chutes/"),
        ("GET", "/images/"),
        ("GET", "/users/me"),
        ("GET", "/api_keys/"),
        ("GET", "/secrets/"),
        ("GET", "/users/me/shares"),
    ]
    for method, path in refusals:
        reply = with_key(sandbox, method, path, key, content=b"{}")
        assert reply.status_code == 401, (method, path, reply.text)
        assert reply.json() == {"detail": "Invalid token or user not found"}
    # a scoped key cannot make itself an admin key
    body = body_bytes({"name": "escalate", "admin": True})
    assert with_key(sandbox, "POST", "/api_keys/", key, content=body).status_code == 401
    assert sandbox.query("SELECT chute_id FROM chutes WHERE chute_id = ?", hello)


def test_scopes_by_action_and_by_type(sandbox: Sandbox) -> None:
    hello = chute_id(sandbox, "hello-world")
    deleter = scoped(
        sandbox, "deleter", {"object_type": "chutes", "object_id": hello, "action": "delete"}
    )
    assert with_key(sandbox, "GET", f"/chutes/{hello}", deleter).status_code == 401
    instance = sandbox.query("SELECT instance_id FROM instances WHERE chute_id = ?", hello)
    any_chute = scoped(sandbox, "lister", {"object_type": "chutes", "action": "read"})
    assert with_key(sandbox, "GET", "/chutes/", any_chute).json()["total"] == 3
    assert with_key(sandbox, "GET", "/chutes/llama-mini", any_chute).status_code == 200
    logs = f"/instances/{instance[0]['instance_id']}/logs?backfill=1"
    assert with_key(sandbox, "HEAD", logs, any_chute).status_code != 401  # its chute's logs
    assert with_key(sandbox, "GET", "/images/", any_chute).status_code == 401
    images = scoped(sandbox, "images", {"object_type": "images", "action": None})
    assert with_key(sandbox, "GET", "/images/", images).status_code == 200
    assert with_key(sandbox, "GET", "/images/hello:0.1", images).status_code == 200
    assert with_key(sandbox, "GET", "/chutes/", images).status_code == 401
    nothing = scoped(sandbox, "nothing")
    assert with_key(sandbox, "GET", "/chutes/", nothing).status_code == 401
    # the delete scope deletes exactly its chute
    assert with_key(sandbox, "DELETE", f"/chutes/{hello}", deleter).json()["deleted"] is True
    llama = chute_id(sandbox, "llama-mini")
    assert with_key(sandbox, "DELETE", f"/chutes/{llama}", deleter).status_code == 401


def test_the_list_shows_scopes_with_their_action(sandbox: Sandbox) -> None:
    hello = chute_id(sandbox, "hello-world")
    scoped(
        sandbox,
        "two",
        {"object_type": "chutes", "object_id": hello, "action": "read"},
        {"object_type": "images", "action": None},
    )
    (item,) = [i for i in get(sandbox, "/api_keys/").json()["items"] if i["name"] == "two"]
    assert item["admin"] is False
    assert [
        (s["object_type"], s["object_id"], s["action"], s["method"]) for s in item["scopes"]
    ] == [("chutes", hello, "read", "read"), ("images", None, None, None)]
    assert all(s["scope_id"] for s in item["scopes"])


# secrets


def test_a_secret_is_created_listed_without_its_value_and_deleted(sandbox: Sandbox) -> None:
    hello = chute_id(sandbox, "hello-world")
    created = post(
        sandbox, "/secrets/", {"purpose": "Hello-World", "key": "HF_TOKEN", "value": HF_VALUE}
    )
    assert created.status_code == 200, created.text
    reply = created.json()
    assert reply["purpose"] == hello and reply["key"] == "HF_TOKEN"
    assert {"secret_id", "created_at"} <= set(reply) and "value" not in reply
    assert HF_VALUE not in created.text
    by_id = post(sandbox, "/secrets/", {"purpose": hello, "key": "OTHER", "value": "x"})
    assert by_id.status_code == 200
    twice = post(sandbox, "/secrets/", {"purpose": "hello-world", "key": "HF_TOKEN", "value": "y"})
    assert twice.status_code == 409
    assert twice.json() == {"detail": "A secret already exists for this purpose with this key."}

    listed = get(sandbox, "/secrets/", purpose="secrets")
    assert listed.json()["total"] == 2
    assert [set(item) for item in listed.json()["items"]] == [
        {"secret_id", "purpose", "key", "created_at"}
    ] * 2
    assert HF_VALUE not in listed.text
    one = get(sandbox, f"/secrets/{reply['secret_id']}", purpose="secrets")
    assert one.json()["key"] == "HF_TOKEN" and HF_VALUE not in one.text
    assert HF_VALUE.encode() not in everything_on_disk(sandbox)

    gone = delete(sandbox, f"/secrets/{reply['secret_id']}", purpose="secrets")
    assert gone.json() == {
        "status": f"Successfully deleted secret {reply['secret_id']}",
        "secret_id": reply["secret_id"],
    }
    assert get(sandbox, "/secrets/", purpose="secrets").json()["total"] == 1


def test_secret_refusals_never_echo_the_value(sandbox: Sandbox) -> None:
    missing = post(sandbox, "/secrets/", {"purpose": "hello-world", "value": HF_VALUE})
    assert missing.status_code == 422 and HF_VALUE not in missing.text
    nowhere = post(sandbox, "/secrets/", {"purpose": "no-such", "key": "K", "value": HF_VALUE})
    assert nowhere.status_code == 404 and HF_VALUE not in nowhere.text
    huge = post(sandbox, "/secrets/", {"purpose": "hello-world", "key": "K", "value": "v" * 70000})
    assert huge.status_code == 422


@pytest.mark.parametrize("scheme", ["purpose", "key"])
def test_secrets_with_a_key_or_the_secrets_purpose(sandbox: Sandbox, scheme: str) -> None:
    post(sandbox, "/secrets/", {"purpose": "hello-world", "key": "HF_TOKEN", "value": HF_VALUE})
    if scheme == "purpose":
        reply = get(sandbox, "/secrets/", purpose="secrets")
    else:
        reply = with_key(sandbox, "GET", "/secrets/", sandbox.users["demo"].api_key)
    assert reply.status_code == 200 and reply.json()["total"] == 1


def test_an_older_database_gains_the_new_tables_and_column(tmp_path: Path) -> None:
    import sqlite3

    from chutes_tui.sandbox.storage import Store

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE api_keys (api_key_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " name TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 1, key_hash TEXT NOT NULL,"
            " created_at TEXT NOT NULL)"
        )
        db.execute("INSERT INTO api_keys VALUES ('k', 'u', 'sandbox', 1, 'h', 'now')")
    store = Store(path)
    try:
        (row,) = store.all("SELECT * FROM api_keys")
        assert row["last_used_at"] is None and row["name"] == "sandbox"
        assert store.all("SELECT * FROM secrets") == []
    finally:
        store.close()


def test_an_invoke_scope_calls_its_chute_and_nothing_else(sandbox: Sandbox) -> None:
    hello = chute_id(sandbox, "hello-world")
    one = {"object_type": "chutes", "object_id": hello}
    invoker = scoped(sandbox, "invoker", {**one, "action": "invoke"})
    reader = scoped(sandbox, "reader", {**one, "action": "read"})
    call = {"Host": "demo-hello-world.localhost"}
    with sandbox.http() as http:
        answered = http.post(
            "/echo", json={"text": "hi"}, headers={**call, "Authorization": invoker}
        )
        assert answered.status_code == 200, answered.text
        refused = http.post("/echo", json={"text": "hi"}, headers={**call, "Authorization": reader})
        assert refused.status_code == 401
        other = {"Host": "demo-llama-mini.localhost", "Authorization": invoker}
        assert http.post("/echo", json={"text": "hi"}, headers=other).status_code == 401
        assert http.get(f"/chutes/{hello}", headers={"Authorization": invoker}).status_code == 401
