"""`POST /chutes/`: the deploy checks in the platform's order, the fee flow, updates."""

from __future__ import annotations

import pytest

from tests.conftest import body_bytes, deploy_body

FEE_NOTICE_START = "DEPLOYMENT FEE NOTICE:\n===\nThere is a deployment fee of"


def post(sandbox, user: str, body: dict, accept_fee: bool = True):
    raw = body_bytes(body)
    headers = sandbox.users[user].signed(body=raw)
    with sandbox.http() as http:
        return http.post(
            f"/chutes/?accept_fee={str(accept_fee).lower()}", content=raw, headers=headers
        )


def chute_count(sandbox, name: str) -> int:
    return len(sandbox.query("SELECT chute_id FROM chutes WHERE name = ?", name))


def test_new_chute_needs_the_fee_accepted_and_nothing_is_written_before(sandbox):
    reply = post(sandbox, "demo", deploy_body(), accept_fee=False)
    assert reply.status_code == 402
    detail = reply.json()["detail"]
    assert detail.startswith(FEE_NOTICE_START)
    assert "which for this configuration is: $0.6\n To acknowledge this fee" in detail
    assert detail.endswith("re-run the deployment command with `--accept-fee`")
    assert chute_count(sandbox, "test-chute") == 0


def test_deploy_creates_the_chute_bills_the_fee_and_starts_an_instance(sandbox):
    before = sandbox.query("SELECT balance FROM users WHERE username = 'demo'")[0]["balance"]
    reply = post(sandbox, "demo", deploy_body())
    assert reply.status_code == 200, reply.text
    chute = reply.json()
    assert chute["name"] == "test-chute"
    assert chute["slug"] == "demo-test-chute"
    assert chute["node_selector"]["supported_gpus"] == chute["supported_gpus"]
    assert chute["current_estimated_price"]["usd"]["hour"] == pytest.approx(0.2)
    assert chute["image"]["name"] == "hello"
    assert len(chute["instances"]) == 1 and not chute["hot"]
    after = sandbox.query("SELECT balance FROM users WHERE username = 'demo'")[0]["balance"]
    assert before - after == pytest.approx(0.6)


def test_chute_id_and_version_are_deterministic(sandbox):
    import uuid

    chute = post(sandbox, "demo", deploy_body()).json()
    assert chute["chute_id"] == str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::test-chute"))
    image_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo/hello:0.1"))
    expected = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{image_id}:print('hello')\n"))
    assert chute["version"] == expected


def test_identical_redeploy_is_409_and_an_update_is_free_and_keeps_ids(sandbox):
    first = post(sandbox, "demo", deploy_body()).json()
    again = post(sandbox, "demo", deploy_body())
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"Chute with name=test-chute, version='{first['version']}' and public=False already exists"
    )
    balance = sandbox.query("SELECT balance FROM users WHERE username = 'demo'")[0]["balance"]
    update = post(sandbox, "demo", deploy_body(code="print('v2')\n"), accept_fee=False)
    assert update.status_code == 200, update.text
    updated = update.json()
    assert updated["chute_id"] == first["chute_id"] and updated["slug"] == first["slug"]
    assert updated["version"] != first["version"]
    assert sandbox.query("SELECT balance FROM users WHERE username = 'demo'")[0][
        "balance"
    ] == pytest.approx(balance)
    assert chute_count(sandbox, "test-chute") == 1


@pytest.mark.parametrize(
    ("user", "changes", "status", "detail"),
    [
        (
            "bob",
            {},
            401,
            "You do not have developer permissions, to enable developer permissions, deposit"
            " $250.0 USD worth of tao (currently ~0.625 tao) to your developer deposit address: ",
        ),
        (
            "demo",
            {"public": True},
            400,
            "Chutes no longer supports public chutes. You can instead deploy the chute as a"
            " private chute and share it with other users.",
        ),
        ("demo", {"image": "nobody/nothing:1.0"}, 400, "Chute image not found, or does not belong"),
        ("alice", {}, 400, "Chute image not found, or does not belong to you"),
        (
            "demo",
            {"node_selector": {"gpu_count": 1, "include": ["5090"]}},
            403,
            "You are not allowed to require 5090s",
        ),
        (
            "demo",
            {"node_selector": {"gpu_count": 1, "include": ["b200"]}},
            403,
            "You are not allowed to limit deployments to b200/mi300x at this time.",
        ),
        (
            "demo",
            {"standard_template": "vllm"},
            400,
            "Missing required revision parameter for vllm template.",
        ),
        ("demo", {"name": "Bad Name!"}, 400, "Validation failure: Invalid chute name: Bad Name!"),
        (
            "demo",
            {"ref_str": "Hello:chute"},
            400,
            "Validation failure: Invalid reference string: 'Hello:chute'",
        ),
        ("demo", {"filename": "Hello.py"}, 400, "Validation failure: Invalid filename"),
        ("demo", {"code": "def broken(:\n"}, 400, "Validation failure: Invalid code"),
        (
            "demo",
            {"cords": []},
            400,
            "A chute must define at least one cord() or job() function!",
        ),
        (
            "demo",
            {"jobs": [{"ports": [], "timeout": 60, "name": "train", "upload": False}]},
            400,
            "A chute can have jobs or cords not both.",
        ),
    ],
)
def test_rejections_in_server_order(sandbox, user, changes, status, detail):
    reply = post(sandbox, user, deploy_body(**changes))
    assert reply.status_code == status, reply.text
    assert reply.json()["detail"].startswith(detail)
    assert chute_count(sandbox, deploy_body(**changes)["name"]) == 0


def test_invalid_cord_path(sandbox):
    cord = {**deploy_body()["cords"][0], "path": "/Bad-Path"}
    reply = post(sandbox, "demo", deploy_body(cords=[cord]))
    assert reply.status_code == 400
    assert reply.json()["detail"] == "Validation failure: Invalid cord path: /Bad-Path"


@pytest.mark.parametrize(
    ("selector", "needle"),
    [
        ({"gpu_count": 9}, "gpu_count"),
        ({"gpu_count": 1, "min_vram_gb_per_gpu": 8}, "min_vram_gb_per_gpu"),
        ({"gpu_count": 1, "max_hourly_price_per_gpu": 10}, "max_hourly_price_per_gpu"),
        ({"gpu_count": 1, "include": ["h100", "tpu9000"]}, "Invalid GPU identifiers `include`"),
        ({"gpu_count": 1, "exclude": ["nope"]}, "Invalid GPU identifiers `exclude`"),
    ],
)
def test_selector_validation_is_422(sandbox, selector, needle):
    reply = post(sandbox, "demo", deploy_body(node_selector=selector))
    assert reply.status_code == 422
    details = reply.json()["detail"]
    assert isinstance(details, list)
    assert needle in str(details)
    assert details[0]["loc"][:2] == ["body", "node_selector"]


def test_no_supported_gpus_is_400(sandbox):
    selector = {"gpu_count": 1, "min_vram_gb_per_gpu": 140, "max_hourly_price_per_gpu": 0.1}
    reply = post(sandbox, "demo", deploy_body(node_selector=selector))
    assert reply.status_code == 400
    assert reply.json()["detail"] == "No supported GPUs based on node selector!"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "x" * 150_001}, "code"),
        ({"max_instances": 0}, "max_instances"),
        ({"shutdown_after_seconds": 10}, "shutdown_after_seconds"),
        ({"public": "maybe"}, "public"),
        ({"name": "ab"}, "name"),
    ],
)
def test_field_validation_is_422(sandbox, changes, field):
    reply = post(sandbox, "demo", deploy_body(**changes))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", field]


def test_malformed_json_and_missing_fields_are_422(sandbox):
    demo = sandbox.users["demo"]
    with sandbox.http() as http:
        raw = b'{"name": "x",'
        reply = http.post("/chutes/", content=raw, headers=demo.signed(body=raw))
        assert reply.status_code == 422
        assert reply.json()["detail"][0]["type"] == "json_invalid"
        raw = body_bytes({"name": "only-a-name"})
        reply = http.post("/chutes/", content=raw, headers=demo.signed(body=raw))
        assert reply.status_code == 422
        missing = {tuple(item["loc"]) for item in reply.json()["detail"]}
        assert ("body", "image") in missing and ("body", "code") in missing


def test_unknown_fields_are_ignored(sandbox):
    reply = post(sandbox, "demo", deploy_body(surprise="field", use_rolling_update=True))
    assert reply.status_code == 200, reply.text


def test_signature_must_cover_the_exact_body(sandbox):
    demo = sandbox.users["demo"]
    raw = body_bytes(deploy_body())
    with sandbox.http() as http:
        reply = http.post(
            "/chutes/?accept_fee=true", content=raw + b" ", headers=demo.signed(body=raw)
        )
    assert reply.status_code == 401
    assert reply.json()["detail"].startswith("Invalid request signature for hotkey")
    assert chute_count(sandbox, "test-chute") == 0


def test_low_balance_is_402_with_the_platform_text(sandbox):
    with sandbox.http() as http:
        assert http.get("/users/me", headers=sandbox.users["demo"].key_headers()).status_code == 200
    import sqlite3

    db = sqlite3.connect(sandbox.db_path)
    with db:
        db.execute("UPDATE users SET balance = 0.5 WHERE username = 'demo'")
    db.close()
    reply = post(sandbox, "demo", deploy_body())
    assert reply.status_code == 402
    payment = sandbox.users["demo"].creds.payment_address
    assert reply.json()["detail"] == (
        "The deployment fee, based on your node selector, is $0.6000000000000001, but you have a"
        f" balance of 0.5.\nPlease top up your account with tao @ {payment} or via fiat."
    )


def test_history_limit_is_429(tmp_path):
    from tests.conftest import start_sandbox

    box = start_sandbox(tmp_path, history_limit=2)
    try:
        assert post(box, "demo", deploy_body(name="one")).status_code == 200
        assert post(box, "demo", deploy_body(name="two")).status_code == 200
        reply = post(box, "demo", deploy_body(name="three"))
        assert reply.status_code == 429
        assert reply.json()["detail"] == "You many only update/create 2 chutehistorys per 24 hours."
    finally:
        box.running.stop()


def test_quadratic_fee_option(tmp_path):
    from tests.conftest import start_sandbox

    box = start_sandbox(tmp_path, fee_formula="quadratic")
    try:
        selector = {"gpu_count": 2, "min_vram_gb_per_gpu": 80}
        reply = post(box, "demo", deploy_body(node_selector=selector), accept_fee=False)
        assert reply.status_code == 402
        # 2 GPUs, cheapest >= 80 GB in the 2026 table is $1.20: 3 x 2 x 2 x 1.20.
        assert "is: $14.4\n" in reply.json()["detail"]
    finally:
        box.running.stop()
