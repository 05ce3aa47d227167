"""The official `chutes keys …` and `chutes secrets …` (SDK 0.6.9), unchanged, against a sandbox."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Sandbox, chutes_command, running_sandbox
from tests.test_official_cli import Cli

pytestmark = pytest.mark.sdk

KEY_RE = re.compile(r"cpk_[0-9a-f]{32}\.[0-9a-f]{32}\.[A-Za-z0-9]{32}")
VALUE = "hf_OfficialCliValue0123456789abcdef"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("cli-keys"), speed=1.0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def cli(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHUTES_", "PYTEST_"))
    }
    env.update(
        CHUTES_CONFIG_PATH=str(box.users["demo"].config_path),
        COLUMNS="250",
        NO_COLOR="1",
        PYTHONIOENCODING="utf-8",
    )
    return Cli(chutes_command(), tmp_path_factory.mktemp("work"), env)


def created_reply(stdout: str) -> dict:
    """The JSON `keys create` prints before its usage hint."""
    return json.loads(stdout[: stdout.index("To use the key")])


def hello_id(box: Sandbox) -> str:
    return box.query("SELECT chute_id FROM chutes WHERE name = 'hello-world'")[0]["chute_id"]


def test_keys_create_list_use_and_delete(box: Sandbox, cli: Cli) -> None:
    admin = cli("keys", "create", "--name", "ci", "--admin")
    assert "API key created successfully" in admin.output, admin.output
    reply = created_reply(admin.stdout)
    secret = reply["secret_key"]
    assert KEY_RE.fullmatch(secret) and reply["admin"] is True
    assert f"Authorization: Basic {secret}" in admin.stdout

    scoped = cli(
        "keys", "create", "--name", "reader", "--chute-ids", hello_id(box), "--action", "read"
    )
    scoped_reply = created_reply(scoped.stdout)
    assert scoped_reply["admin"] is False
    assert [(s["object_type"], s["object_id"], s["action"]) for s in scoped_reply["scopes"]] == [
        ("chutes", hello_id(box), "read")
    ]
    every_chute = cli("keys", "create", "--name", "all-chutes", "--chutes", "--action", "read")
    assert created_reply(every_chute.stdout)["scopes"][0]["object_type"] == "chutes"

    listed = cli("keys", "list")
    assert "Found 4 matching api_keys" in listed.output, listed.output
    for name in ("sandbox", "ci", "reader", "all-chutes"):
        assert name in listed.stdout
    assert '"object_type": "chutes"' in listed.stdout
    assert secret not in listed.output and not KEY_RE.search(listed.output)

    shown = cli("keys", "get", reply["api_key_id"])
    assert f"api_key {reply['api_key_id']}" in shown.output and secret not in shown.output

    # the new key opens the sandbox to anyone holding it; the scoped one only its chute
    with box.http() as http:
        assert http.get("/users/me", headers={"Authorization": secret}).status_code == 200
        reader = {"Authorization": f"Basic {scoped_reply['secret_key']}"}
        assert http.get(f"/chutes/{hello_id(box)}", headers=reader).status_code == 200
        assert http.delete(f"/chutes/{hello_id(box)}", headers=reader).status_code == 401

    deleted = cli("keys", "delete", reply["api_key_id"])
    assert f"Successfully deleted api_key {reply['api_key_id']}" in deleted.output, deleted.output
    with box.http() as http:
        assert http.get("/users/me", headers={"Authorization": secret}).status_code == 401
    assert reply["name"] not in [row["name"] for row in box.query("SELECT name FROM api_keys")]


def test_keys_create_refusals_are_logged(cli: Cli) -> None:
    cli("keys", "create", "--name", "dup", "--admin")
    again = cli("keys", "create", "--name", "dup", "--admin")
    assert "Failed to create API key" in again.output
    assert "An API key already exists with this name" in again.output


def test_secrets_create_list_and_delete(box: Sandbox, cli: Cli) -> None:
    created = cli(
        "secrets", "create", "--purpose", "hello-world", "--key", "HF_TOKEN", "--value", VALUE
    )
    match = re.search(
        r"Successfully created secret_id=(\S+) for purpose='hello-world'", created.output
    )
    assert match, created.output
    secret_id = match.group(1)

    listed = cli("secrets", "list")
    assert "Found 1 matching secrets" in listed.output, listed.output
    assert secret_id in listed.stdout and "HF_TOKEN" in listed.stdout
    assert hello_id(box) in listed.stdout  # the purpose is the chute's id
    assert VALUE not in listed.output

    shown = cli("secrets", "get", secret_id)
    assert f"secret {secret_id}" in shown.output and VALUE not in shown.output

    twice = cli(
        "secrets", "create", "--purpose", "hello-world", "--key", "HF_TOKEN", "--value", "other"
    )
    assert "A secret already exists for this purpose with this key." in twice.output

    deleted = cli("secrets", "delete", secret_id)
    assert f"Successfully deleted secret {secret_id}" in deleted.output, deleted.output
    assert "Found 0 matching secrets" in cli("secrets", "list").output
    assert VALUE.encode() not in Path(box.db_path).read_bytes()
