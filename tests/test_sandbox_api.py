"""Sandbox API behaviour (contract §3-§5, §8, §13): users, images, chutes, sharing, pricing.

Read-only tests share one module-wide sandbox; tests that change data get their own
(`sandbox` fixture). Every client fails the test on any 5xx reply.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from chutes_tui.sandbox.render import SANDBOX_NOTE
from tests.conftest import Sandbox, body_bytes, strict_http

IMAGE_404 = "Image not found, or does not belong to you"
CHUTE_404 = "Chute not found, or does not belong to you"
DEVELOPER = "Developer -- create images and chutes on the platform."
DEMO_IMAGES = {"hello:0.1", "tts:0.2", "broken:0.1", "next:0.3"}
PUBLIC_IMAGES = {
    "vllm:0.10.1",
    "sglang:0.5.1",
    "diffusion:0.35.0",
    "tei:1.8.0",
    "vllm:nightly-2025111700",  # the standard images SDK 0.6.9's templates name
    "sglang:nightly-2025111800",
    "diffusion:0.34.0.po",
}
DEMO_CHUTES = ["hello-world", "echo-stream", "llama-mini"]  # by invocation_count, desc
SCHEMA_KEYS = ("input_schema", "output_schema", "minimal_input_schema")
TAO_USD = 400.0


@pytest.fixture
def api(box: Sandbox) -> Iterator[httpx.Client]:
    with strict_http(box) as http:
        yield http


@pytest.fixture
def mut(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client for the per-test sandbox, for tests that change data."""
    with strict_http(sandbox) as http:
        yield http


def key(box: Sandbox, name: str) -> dict[str, str]:
    return box.users[name].key_headers()


def detail(response: httpx.Response) -> str:
    return response.json()["detail"]


def assert_error(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"detail": text}


def is_aware(stamp: str) -> bool:
    return isinstance(stamp, str) and stamp.endswith("Z") and len(stamp) == 27


def make_public(box: Sandbox, table: str, where: str, *args) -> None:
    """Flip a `public` flag straight in the database the server reads (short transaction)."""
    db = sqlite3.connect(box.db_path, timeout=5)
    try:
        with db:
            db.execute(f"UPDATE {table} SET public = 1 WHERE {where}", args)
    finally:
        db.close()


def share_call(http, box, owner, path, chute, target, signed=False) -> httpx.Response:
    raw = body_bytes({"chute_id_or_name": chute, "user_id_or_name": target})
    user = box.users[owner]
    headers = user.signed(body=raw) if signed else user.key_headers()
    return http.post(path, content=raw, headers=headers)


# users


def test_me_returns_the_full_self_response(api, box):
    demo = box.users["demo"]
    reply = api.get("/users/me", headers=demo.signed("me"))
    assert reply.status_code == 200
    me = reply.json()
    assert {
        "username",
        "user_id",
        "logo_id",
        "logo",
        "created_at",
        "hotkey",
        "coldkey",
        "payment_address",
        "permissions_bitmask",
        "permissions",
        "balance",
        "netuids",
        "quotas",
    } <= set(me)
    assert me["username"] == "demo"
    assert me["user_id"] == demo.creds.user_id
    assert me["hotkey"] == demo.creds.hotkey
    assert me["payment_address"] == demo.creds.payment_address
    assert me["coldkey"].startswith("5") and len(me["coldkey"]) == 48
    assert me["logo_id"] is None and me["logo"] is None
    assert is_aware(me["created_at"])
    assert me["permissions_bitmask"] == 1
    assert me["permissions"] == [DEVELOPER, SANDBOX_NOTE]
    assert isinstance(me["balance"], float)
    assert me["balance"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("name", "bitmask", "permissions", "balance"),
    [
        ("alice", 1, [DEVELOPER, SANDBOX_NOTE], 20.0),
        ("bob", 0, [SANDBOX_NOTE], 10.0),
    ],
)
def test_me_for_other_users(api, box, name, bitmask, permissions, balance):
    me = api.get("/users/me", headers=key(box, name)).json()
    assert me["username"] == name
    assert me["permissions_bitmask"] == bitmask
    assert me["permissions"] == permissions
    assert isinstance(me["balance"], float)
    assert me["balance"] == balance


@pytest.mark.parametrize(
    ("username", "valid", "available"),
    [
        ("demo", True, False),
        ("DEMO", True, False),
        ("chutes", True, False),
        ("bob", True, False),
        ("newcomer", True, True),
        ("new_user-1", True, True),
        ("abc", True, True),
        ("ab", False, False),
        ("a" * 16, False, False),
        ("has space", False, False),
        ("dot.name", False, False),
    ],
)
def test_name_check(api, username, valid, available):
    reply = api.get("/users/name_check", params={"username": username})
    assert reply.status_code == 200
    assert reply.json() == {"valid": valid, "available": available}


def test_name_check_needs_a_username(api):
    reply = api.get("/users/name_check")
    assert reply.status_code == 422
    assert isinstance(detail(reply), list)


def test_shares_listing(api, box):
    demo, alice = box.users["demo"], box.users["alice"]
    echo = api.get("/chutes/echo-stream", headers=key(box, "demo")).json()
    expected = [
        {
            "chute_id": echo["chute_id"],
            "shared_by": demo.creds.user_id,
            "shared_to": alice.creds.user_id,
        }
    ]
    for path in ("/users/me/shares", f"/users/{demo.creds.user_id}/shares"):
        reply = api.get(path, headers=key(box, "demo"))
        assert reply.status_code == 200, reply.text
        rows = reply.json()
        assert [{k: v for k, v in row.items() if k != "shared_at"} for row in rows] == expected
        shared_at = rows[0]["shared_at"]
        assert not shared_at.endswith("Z") and len(shared_at) == 26
    # alice only receives a share; the list holds shares *created* by the caller
    assert api.get("/users/me/shares", headers=key(box, "alice")).json() == []
    assert api.get(f"/users/{alice.creds.user_id}/shares", headers=key(box, "alice")).json() == []


def test_shares_of_another_user_are_forbidden(api, box):
    demo, alice = box.users["demo"], box.users["alice"]
    text = "This action can only be performed by billing admin accounts."
    reply = api.get(f"/users/{demo.creds.user_id}/shares", headers=key(box, "alice"))
    assert_error(reply, 403, text)
    reply = api.get(f"/users/{alice.creds.user_id}/shares", headers=key(box, "demo"))
    assert_error(reply, 403, text)


# images


def image_refs(items: list[dict]) -> list[str]:
    return [f"{item['name']}:{item['tag']}" for item in items]


def test_image_list_default(api, box):
    reply = api.get("/images/", headers=key(box, "demo"))
    assert reply.status_code == 200
    page = reply.json()
    assert set(page) == {"total", "page", "limit", "items", "cord_refs"}
    assert (page["total"], page["page"], page["limit"], page["cord_refs"]) == (4, 0, 25, None)
    assert set(image_refs(page["items"])) == DEMO_IMAGES
    stamps = [item["created_at"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)
    by_ref = {f"{i['name']}:{i['tag']}": i for i in page["items"]}
    assert by_ref["hello:0.1"]["status"] == "built and pushed"
    assert by_ref["tts:0.2"]["status"] == "building"
    assert by_ref["broken:0.1"]["status"].startswith("error: ")
    assert by_ref["next:0.3"]["status"] == "pending build"
    assert by_ref["next:0.3"]["build_started_at"] is None
    for item in page["items"]:
        assert item["public"] is False
        assert item["user"]["username"] == "demo"
        assert set(item["user"]) == {"username", "user_id", "logo_id", "logo", "created_at"}
        assert is_aware(item["created_at"])
        assert item["image_id"] == str(
            uuid.uuid5(uuid.NAMESPACE_OID, f"demo/{item['name']}:{item['tag']}")
        )


def test_image_list_paging(api, box):
    headers = key(box, "demo")
    full = api.get("/images/?include_public=true", headers=headers).json()
    assert full["total"] == 11
    pages = []
    for number in range(4):
        page = api.get(
            "/images/",
            params={"include_public": "true", "page": number, "limit": 3},
            headers=headers,
        ).json()
        assert (page["total"], page["page"], page["limit"]) == (11, number, 3)
        pages.append(page["items"])
    assert [len(items) for items in pages] == [3, 3, 3, 2]
    assert [i["image_id"] for items in pages for i in items] == [
        i["image_id"] for i in full["items"]
    ]
    beyond = api.get("/images/?page=9&limit=3", headers=headers).json()
    assert (beyond["total"], beyond["page"], beyond["limit"], beyond["items"]) == (4, 9, 3, [])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "hel"}, {"hello:0.1"}),
        ({"name": "HELLO"}, {"hello:0.1"}),
        ({"name": "e"}, {"hello:0.1", "next:0.3", "broken:0.1"}),
        ({"tag": "0.1"}, {"hello:0.1", "broken:0.1"}),
        ({"name": "hello", "tag": "0.2"}, set()),
        ({"name": "vllm"}, set()),
        ({"name": "vllm", "include_public": "true"}, {"vllm:0.10.1", "vllm:nightly-2025111700"}),
        (
            {"tag": ".1", "include_public": "true"},
            {"hello:0.1", "broken:0.1", "vllm:0.10.1", "sglang:0.5.1"},
        ),
    ],
)
def test_image_list_filters(api, box, params, expected):
    page = api.get("/images/", params=params, headers=key(box, "demo")).json()
    assert set(image_refs(page["items"])) == expected
    assert page["total"] == len(expected)


@pytest.mark.parametrize("flag", ["True", "true", "1"])
def test_image_list_include_public_forms(api, box, flag):
    mine = api.get(f"/images/?include_public={flag}", headers=key(box, "demo")).json()
    assert set(image_refs(mine["items"])) == DEMO_IMAGES | PUBLIC_IMAGES
    bobs = api.get(f"/images/?include_public={flag}", headers=key(box, "bob")).json()
    assert set(image_refs(bobs["items"])) == PUBLIC_IMAGES
    assert all(i["public"] and i["user"]["username"] == "chutes" for i in bobs["items"])


def test_image_list_is_own_only_by_default(api, box):
    for flag in ("", "?include_public=False", "?include_public=0"):
        page = api.get(f"/images/{flag}", headers=key(box, "bob")).json()
        assert (page["total"], page["items"]) == (0, [])


def test_image_get_by_any_reference(api, box):
    headers = key(box, "demo")
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo/hello:0.1"))
    for ref in (hello_id, "hello:0.1", "demo/hello:0.1", "DEMO/hello:0.1"):
        reply = api.get(f"/images/{ref}", headers=headers)
        assert reply.status_code == 200, (ref, reply.text)
        image = reply.json()
        assert (image["image_id"], image["name"], image["tag"]) == (hello_id, "hello", "0.1")
        assert image["status"] == "built and pushed"
        assert image["patch_version"] == "initial"
        assert image["logo"] is None
    signed = api.get("/images/demo/hello:0.1", headers=box.users["demo"].signed("images"))
    assert signed.json()["image_id"] == hello_id


@pytest.mark.parametrize("ref", ["hello", "demo/hello", "hello:9.9", "nobody/hello:0.1", "x:"])
def test_image_get_unknown_reference(api, box, ref):
    assert_error(api.get(f"/images/{ref}", headers=key(box, "demo")), 404, IMAGE_404)


def test_private_image_is_invisible_to_others(api, box):
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo/hello:0.1"))
    for user in ("alice", "bob"):
        for ref in (hello_id, "demo/hello:0.1", "hello:0.1"):
            assert_error(api.get(f"/images/{ref}", headers=key(box, user)), 404, IMAGE_404)


def test_public_image_is_visible_to_everyone(api, box):
    vllm_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "chutes/vllm:0.10.1"))
    for user in ("demo", "alice", "bob"):
        for ref in (vllm_id, "chutes/vllm:0.10.1"):
            reply = api.get(f"/images/{ref}", headers=key(box, user))
            assert reply.status_code == 200, reply.text
            image = reply.json()
            assert image["image_id"] == vllm_id
            assert image["public"] is True
            assert image["user"]["username"] == "chutes"
        # without an owner the caller's own namespace is searched
        assert_error(api.get("/images/vllm:0.10.1", headers=key(box, user)), 404, IMAGE_404)


def test_image_delete(mut, sandbox):
    demo = sandbox.users["demo"]
    next_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo/next:0.3"))
    vllm_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "chutes/vllm:0.10.1"))

    in_use = mut.delete("/images/hello:0.1", headers=demo.signed("images"))
    assert_error(in_use, 409, "Image is in use by one or more chutes")
    assert sandbox.query("SELECT 1 AS x FROM images WHERE name = 'hello'")

    for user, ref in (("alice", "demo/next:0.3"), ("alice", next_id), ("bob", next_id)):
        assert_error(mut.delete(f"/images/{ref}", headers=key(sandbox, user)), 404, IMAGE_404)
    for ref in ("chutes/vllm:0.10.1", vllm_id):
        assert_error(mut.delete(f"/images/{ref}", headers=key(sandbox, "demo")), 404, IMAGE_404)

    deleted = mut.delete("/images/next:0.3", headers=demo.signed("images"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"image_id": next_id, "deleted": True}
    assert sandbox.query("SELECT * FROM images WHERE image_id = ?", next_id) == []
    assert_error(mut.get(f"/images/{next_id}", headers=key(sandbox, "demo")), 404, IMAGE_404)
    assert_error(mut.delete("/images/next:0.3", headers=key(sandbox, "demo")), 404, IMAGE_404)

    by_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo/broken:0.1"))
    gone = mut.delete(f"/images/{by_id}", headers=key(sandbox, "demo"))
    assert gone.json() == {"image_id": by_id, "deleted": True}
    left = mut.get("/images/", headers=key(sandbox, "demo")).json()
    assert set(image_refs(left["items"])) == {"hello:0.1", "tts:0.2"}


# chutes: listing


def test_chute_list_shape(api, box):
    reply = api.get("/chutes/", headers=box.users["demo"].signed("chutes"))
    assert reply.status_code == 200
    page = reply.json()
    assert set(page) == {"total", "page", "limit", "items", "cord_refs"}
    assert (page["total"], page["page"], page["limit"]) == (3, 0, 25)
    assert [item["name"] for item in page["items"]] == DEMO_CHUTES
    counts = [item["invocation_count"] for item in page["items"]]
    assert counts == sorted(counts, reverse=True) and counts[0] == 1280
    ref_ids = set()
    for item in page["items"]:
        assert item["cords"] is None
        assert str(uuid.UUID(item["cord_ref_id"])) == item["cord_ref_id"]
        ref_ids.add(item["cord_ref_id"])
        cords = page["cord_refs"][item["cord_ref_id"]]
        assert [cord["function"] for cord in cords] == ["echo"]
        for cord in cords:
            assert cord["path"] == "/echo" and cord["public_api_method"] == "POST"
            assert all(cord[name] is None for name in SCHEMA_KEYS)
        assert item["user"]["username"] == "demo"
        assert item["public"] is False
        assert is_aware(item["created_at"]) and is_aware(item["updated_at"])
    assert set(page["cord_refs"]) == ref_ids
    hot = {item["name"]: item["hot"] for item in page["items"]}
    assert hot == {"hello-world": True, "echo-stream": False, "llama-mini": False}


def test_chute_list_include_schemas(api, box):
    page = api.get("/chutes/?include_schemas=true", headers=key(box, "demo")).json()
    for item in page["items"]:
        assert item["cords"] is None
        (cord,) = page["cord_refs"][item["cord_ref_id"]]
        assert cord["input_schema"] == {
            "type": "object",
            "properties": {"text": {"type": "string"}},
        }
        assert cord["output_schema"] == {"type": "string"}
        assert cord["minimal_input_schema"] == {"text": "hi"}


def test_chute_list_never_includes_shared_chutes(api, box):
    alice = key(box, "alice")
    for query in ("", "?include_public=true", "?name=echo"):
        page = api.get(f"/chutes/{query}", headers=alice).json()
        assert (page["total"], page["items"], page["cord_refs"]) == (0, [], {})
    reply = api.get("/chutes/echo-stream", headers=alice)
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "echo-stream"
    assert api.get("/chutes/demo/echo-stream", headers=alice).status_code == 200


def test_chute_list_anonymous_without_public_chutes(api):
    page = api.get("/chutes/?include_public=true").json()
    assert page == {"total": 0, "page": 0, "limit": 25, "items": [], "cord_refs": {}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "hello"}, ["hello-world"]),
        ({"name": "ECHO"}, ["echo-stream"]),
        ({"name": "-"}, DEMO_CHUTES),
        ({"name": "nothing"}, []),
        ({"exclude": "echo"}, ["hello-world", "llama-mini"]),
        ({"exclude": "L"}, ["echo-stream"]),
        ({"name": "l", "exclude": "hello"}, ["llama-mini"]),
        ({"slug": "demo-llama-mini"}, ["llama-mini"]),
        ({"slug": "llama"}, []),
        ({"template": "vllm"}, ["llama-mini"]),
        ({"template": "other"}, ["hello-world", "echo-stream"]),
        ({"template": "tei"}, []),
    ],
)
def test_chute_list_filters(api, box, params, expected):
    page = api.get("/chutes/", params=params, headers=key(box, "demo")).json()
    assert [item["name"] for item in page["items"]] == expected
    assert page["total"] == len(expected)


def test_chute_list_paging(api, box):
    headers = key(box, "demo")
    names = []
    for number in range(3):
        page = api.get(f"/chutes/?page={number}&limit=1", headers=headers).json()
        assert (page["total"], page["page"], page["limit"]) == (3, number, 1)
        assert len(page["items"]) == 1
        assert set(page["cord_refs"]) == {page["items"][0]["cord_ref_id"]}
        names.append(page["items"][0]["name"])
    assert names == DEMO_CHUTES
    page = api.get("/chutes/?page=1&limit=2", headers=headers).json()
    assert [item["name"] for item in page["items"]] == ["llama-mini"]
    page = api.get("/chutes/?page=5", headers=headers).json()
    assert (page["total"], page["page"], page["items"], page["cord_refs"]) == (3, 5, [], {})


def test_public_chute_listing_and_visibility(mut, sandbox):
    make_public(sandbox, "chutes", "name = ?", "llama-mini")
    anonymous = mut.get("/chutes/").json()
    assert [item["name"] for item in anonymous["items"]] == ["llama-mini"]
    assert anonymous["total"] == 1
    assert set(anonymous["cord_refs"]) == {anonymous["items"][0]["cord_ref_id"]}
    alice = key(sandbox, "alice")
    assert mut.get("/chutes/", headers=alice).json()["total"] == 0
    listed = mut.get("/chutes/?include_public=True", headers=alice).json()
    assert [item["name"] for item in listed["items"]] == ["llama-mini"]
    demo_all = mut.get("/chutes/?include_public=1", headers=key(sandbox, "demo")).json()
    assert [item["name"] for item in demo_all["items"]] == DEMO_CHUTES

    for headers in ({}, alice, key(sandbox, "bob")):
        reply = mut.get("/chutes/llama-mini", headers=headers)
        assert reply.status_code == 200, reply.text
        chute = reply.json()
        assert chute["public"] is True
        assert chute["max_instances"] is None
        assert chute["scaling_threshold"] is None
        assert chute["shutdown_after_seconds"] is None
    assert_error(mut.get("/chutes/hello-world"), 404, CHUTE_404)

    def share(chute, target, path="/chutes/share"):
        return share_call(mut, sandbox, "demo", path, chute, target)

    public = "Chute is public, no need to share."
    assert_error(share("llama-mini", "bob"), 400, public)
    assert_error(share("llama-mini", "nobody"), 400, public)  # checked before the user
    unshared = share("llama-mini", "bob", "/chutes/unshare")  # unshare does not check
    assert unshared.json() == {"status": unshared_status("llama-mini", "bob")}
    assert len(sandbox.query("SELECT * FROM shares")) == 1


# chutes: one chute


def expected_supported(table: dict, min_vram: int) -> list[str]:
    """§9 with the [F26] rules the sandbox table enables (spread 2.5x, pro_6000, AMD alone)."""
    names = [name for name, gpu in table.items() if gpu["memory"] >= min_vram]
    cheapest = min(table[name]["hourly_rate"] for name in names)
    names = [n for n in names if table[n]["hourly_rate"] <= 2.5 * cheapest or n == "pro_6000"]
    if len(names) > 1:
        names = [name for name in names if name != "mi300x"]
    return names


def test_chute_get_by_id_name_and_owner_name(api, box):
    demo = box.users["demo"]
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::hello-world"))
    for ref in (hello_id, "hello-world", "Hello-World", "HELLO-WORLD", "demo/hello-world"):
        reply = api.get(f"/chutes/{ref}", headers=key(box, "demo"))
        assert reply.status_code == 200, (ref, reply.text)
        assert reply.json()["chute_id"] == hello_id
    signed = api.get("/chutes/demo/hello-world", headers=demo.signed("chutes"))
    assert signed.json()["chute_id"] == hello_id


def test_chute_detail_shape(api, box):
    chute = api.get("/chutes/hello-world", headers=key(box, "demo")).json()
    assert chute["name"] == "hello-world"
    assert chute["slug"] == "demo-hello-world"
    assert chute["tagline"] == "Says hello back"
    assert chute["public"] is False
    assert chute["cord_ref_id"] is None
    assert chute["image"]["name"] == "hello" and chute["image"]["tag"] == "0.1"
    assert chute["user"]["username"] == "demo"
    (cord,) = chute["cords"]
    assert cord["function"] == "echo"
    assert cord["input_schema"] == {"type": "object", "properties": {"text": {"type": "string"}}}
    assert (chute["max_instances"], chute["scaling_threshold"]) == (1, 0.75)
    assert chute["shutdown_after_seconds"] == 300

    assert chute["hot"] is True
    (instance,) = chute["instances"]
    assert set(instance) == {"instance_id", "region", "active", "verified", "last_verified_at"}
    assert instance["active"] is True and instance["verified"] is True
    assert is_aware(instance["last_verified_at"])

    llama = api.get("/chutes/llama-mini", headers=key(box, "demo")).json()
    assert (llama["hot"], llama["instances"], llama["standard_template"]) == (False, [], "vllm")


@pytest.mark.parametrize(
    ("name", "gpu_count", "min_vram"),
    [("hello-world", 1, 16), ("echo-stream", 1, 24), ("llama-mini", 2, 48)],
)
def test_chute_selector_and_price(api, box, name, gpu_count, min_vram):
    table = api.get("/nodes/supported").json()
    tao_usd = api.get("/pricing").json()["tao_usd"]
    chute = api.get(f"/chutes/{name}", headers=key(box, "demo")).json()
    supported = expected_supported(table, min_vram)
    selector = chute["node_selector"]
    assert selector["gpu_count"] == gpu_count
    assert selector["min_vram_gb_per_gpu"] == min_vram
    assert selector["supported_gpus"] == supported == chute["supported_gpus"]
    cheapest = min(table[gpu]["hourly_rate"] for gpu in supported)
    top = max(gpu["hourly_rate"] for gpu in table.values())
    assert selector["compute_multiplier"] == pytest.approx(gpu_count * cheapest / top)
    price = chute["current_estimated_price"]
    hour = gpu_count * cheapest
    assert price["usd"]["hour"] == pytest.approx(hour)
    assert price["usd"]["second"] == pytest.approx(hour / 3600)
    assert price["tao"]["hour"] == pytest.approx(hour / tao_usd)
    assert price["tao"]["second"] == pytest.approx(hour / 3600 / tao_usd)


@pytest.mark.parametrize(
    ("user", "ref"),
    [
        ("bob", "echo-stream"),
        ("bob", "demo/echo-stream"),
        ("bob", "hello-world"),
        ("alice", "hello-world"),
        ("alice", "demo/hello-world"),
        ("alice", "alice/echo-stream"),
        ("demo", "nothing-here"),
        ("demo", "hello"),
        ("demo", "hello-world-x"),
        (None, "hello-world"),
    ],
)
def test_chute_get_invisible(api, box, user, ref):
    headers = key(box, user) if user else {}
    assert_error(api.get(f"/chutes/{ref}", headers=headers), 404, CHUTE_404)


def test_chute_get_private_by_id_for_others(api, box):
    echo_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::echo-stream"))
    assert_error(api.get(f"/chutes/{echo_id}", headers=key(box, "bob")), 404, CHUTE_404)
    assert api.get(f"/chutes/{echo_id}", headers=key(box, "alice")).status_code == 200


def test_chute_code(api, box):
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::hello-world"))
    echo_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::echo-stream"))
    reply = api.get(f"/chutes/code/{hello_id}", headers=box.users["demo"].signed("chutes"))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert 'name="hello-world"' in reply.text
    assert reply.text.startswith("from chutes.chute import Chute")
    shared = api.get(f"/chutes/code/{echo_id}", headers=key(box, "alice"))
    assert shared.status_code == 200 and 'name="echo-stream"' in shared.text
    assert_error(api.get(f"/chutes/code/{hello_id}", headers=key(box, "bob")), 404, CHUTE_404)
    assert_error(api.get(f"/chutes/code/{echo_id}", headers=key(box, "bob")), 404, CHUTE_404)
    missing = f"/chutes/code/{uuid.uuid4()}"
    assert_error(api.get(missing, headers=key(box, "demo")), 404, CHUTE_404)


# chutes: update and delete


def test_chute_metadata_update(mut, sandbox):
    demo = sandbox.users["demo"]
    before = mut.get("/chutes/hello-world", headers=key(sandbox, "demo")).json()
    raw = body_bytes({"readme": "# new readme", "tagline": "   ", "tool_description": "a tool"})
    reply = mut.put("/chutes/hello-world", content=raw, headers=demo.signed(body=raw))
    assert reply.status_code == 200, reply.text
    chute = reply.json()
    assert chute["readme"] == "# new readme"
    assert chute["tagline"] == "Says hello back"
    assert chute["tool_description"] == "a tool"
    assert (chute["chute_id"], chute["slug"]) == (before["chute_id"], before["slug"])
    assert chute["version"] == before["version"]
    assert chute["updated_at"] >= before["updated_at"]

    raw = body_bytes({"tagline": "Fresh tagline", "readme": ""})
    by_id = mut.put(f"/chutes/{before['chute_id']}", content=raw, headers=key(sandbox, "demo"))
    assert by_id.json()["tagline"] == "Fresh tagline"
    again = mut.get("/chutes/hello-world", headers=key(sandbox, "demo")).json()
    assert (again["tagline"], again["readme"]) == ("Fresh tagline", "# new readme")

    raw = body_bytes({"tagline": "hijacked"})
    for user, ref in (("alice", "echo-stream"), ("bob", "hello-world"), ("demo", "nope-chute")):
        assert_error(
            mut.put(f"/chutes/{ref}", content=raw, headers=key(sandbox, user)), 404, CHUTE_404
        )
    echo = mut.get("/chutes/echo-stream", headers=key(sandbox, "demo")).json()
    assert echo["tagline"] == "Streams your words back"


def test_chute_update_rejects_bad_fields(api, box):
    headers = key(box, "demo")
    for body in ({"max_instances": 0}, {"scaling_threshold": 2}, {"shutdown_after_seconds": 5}):
        reply = api.put("/chutes/hello-world", content=body_bytes(body), headers=headers)
        assert reply.status_code == 422, reply.text
        assert isinstance(detail(reply), list)
        assert detail(reply)[0]["loc"][0] == "body"


def test_chute_delete(mut, sandbox):
    demo = sandbox.users["demo"]
    echo_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::echo-stream"))
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::hello-world"))

    for ref in ("echo-stream", "demo/echo-stream"):
        by_name = mut.delete(f"/chutes/{ref}", headers=demo.signed("chutes"))
        assert_error(by_name, 400, "Must use chute UUID to delete.")
    for user in ("alice", "bob"):
        assert_error(mut.delete(f"/chutes/{echo_id}", headers=key(sandbox, user)), 404, CHUTE_404)
    assert_error(
        mut.delete(f"/chutes/{uuid.uuid4()}", headers=key(sandbox, "demo")), 404, CHUTE_404
    )
    assert sandbox.query("SELECT * FROM shares WHERE chute_id = ?", echo_id)

    deleted = mut.delete(f"/chutes/{echo_id}", headers=demo.signed("chutes"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"chute_id": echo_id, "deleted": True}
    assert sandbox.query("SELECT * FROM chutes WHERE chute_id = ?", echo_id) == []
    assert sandbox.query("SELECT * FROM shares WHERE chute_id = ?", echo_id) == []
    assert mut.get("/users/me/shares", headers=key(sandbox, "demo")).json() == []
    assert_error(mut.get("/chutes/echo-stream", headers=key(sandbox, "alice")), 404, CHUTE_404)
    assert_error(mut.delete(f"/chutes/{echo_id}", headers=key(sandbox, "demo")), 404, CHUTE_404)

    assert sandbox.query("SELECT * FROM instances WHERE chute_id = ?", hello_id)
    gone = mut.delete(f"/chutes/{hello_id}", headers=key(sandbox, "demo"))
    assert gone.json() == {"chute_id": hello_id, "deleted": True}
    assert sandbox.query("SELECT * FROM instances WHERE chute_id = ?", hello_id) == []
    names = [
        item["name"] for item in mut.get("/chutes/", headers=key(sandbox, "demo")).json()["items"]
    ]
    assert names == ["llama-mini"]
    # the image is no longer in use and can now go
    freed = mut.delete("/images/hello:0.1", headers=key(sandbox, "demo"))
    assert freed.json()["deleted"] is True


# sharing


def shared_status(name: str, username: str) -> str:
    return f"Successfully shared chute.name='{name}' with user.username='{username}'"


def unshared_status(name: str, username: str) -> str:
    return (
        f"Successfully unshared chute.name='{name}' with user.username='{username}'"
        " (if share exists)"
    )


def test_share_and_unshare_round_trip(mut, sandbox):
    bob = sandbox.users["bob"]
    hello_id = str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::hello-world"))
    assert_error(mut.get("/chutes/hello-world", headers=key(sandbox, "bob")), 404, CHUTE_404)

    first = share_call(mut, sandbox, "demo", "/chutes/share", "hello-world", "bob", signed=True)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": shared_status("hello-world", "bob")}
    again = share_call(mut, sandbox, "demo", "/chutes/share", "HELLO-WORLD", "BOB")
    assert again.status_code == 200
    assert again.json() == {"status": shared_status("hello-world", "bob")}
    by_ids = share_call(mut, sandbox, "demo", "/chutes/share", hello_id, bob.creds.user_id)
    assert by_ids.json() == {"status": shared_status("hello-world", "bob")}
    rows = sandbox.query("SELECT * FROM shares WHERE chute_id = ?", hello_id)
    assert [row["shared_to"] for row in rows] == [bob.creds.user_id]

    listed = mut.get("/users/me/shares", headers=key(sandbox, "demo")).json()
    assert {row["chute_id"] for row in listed} == {
        hello_id,
        str(uuid.uuid5(uuid.NAMESPACE_OID, "demo::chute::echo-stream")),
    }
    assert all(not row["shared_at"].endswith("Z") for row in listed)

    seen = mut.get("/chutes/hello-world", headers=bob.signed("chutes"))
    assert seen.status_code == 200 and seen.json()["chute_id"] == hello_id
    assert mut.get(f"/chutes/{hello_id}", headers=key(sandbox, "bob")).status_code == 200
    assert mut.get("/chutes/demo/hello-world", headers=key(sandbox, "bob")).status_code == 200
    assert mut.get("/chutes/", headers=key(sandbox, "bob")).json()["total"] == 0
    quick = mut.get("/chutes/warmup/hello-world?quick=true", headers=bob.signed("chutes"))
    assert quick.status_code == 200, quick.text
    status = quick.json()
    assert set(status) == {"chute_id", "status", "instance_count", "bounty", "instances"}
    assert (status["chute_id"], status["status"], status["instance_count"]) == (hello_id, "hot", 1)
    assert status["bounty"] is None
    (instance,) = status["instances"]
    assert set(instance) == {"instance_id", "active", "gpu_count", "gpu_model_name"}
    assert (instance["active"], instance["gpu_count"]) == (True, 1)

    removed = share_call(mut, sandbox, "demo", "/chutes/unshare", "hello-world", "bob", signed=True)
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"status": unshared_status("hello-world", "bob")}
    assert sandbox.query("SELECT * FROM shares WHERE chute_id = ?", hello_id) == []
    assert_error(mut.get("/chutes/hello-world", headers=key(sandbox, "bob")), 404, CHUTE_404)
    quick = mut.get("/chutes/warmup/hello-world?quick=true", headers=key(sandbox, "bob"))
    assert_error(quick, 404, CHUTE_404)

    twice = share_call(mut, sandbox, "demo", "/chutes/unshare", "hello-world", "bob")
    assert twice.json() == {"status": unshared_status("hello-world", "bob")}


def test_share_errors(api, box):
    """None of these change anything, so the module sandbox serves."""

    def share(owner, chute, target, path="/chutes/share"):
        return share_call(api, box, owner, path, chute, target)

    not_owned = "Did not find target chute {}, or it does not belong to you"
    no_user = "Could not find target user to share with"
    for path in ("/chutes/share", "/chutes/unshare"):
        assert_error(share("demo", "hello-world", "nobody", path), 404, no_user)
        assert_error(share("demo", "hello-world", "b_b", path), 404, no_user)
        assert_error(
            share("demo", "no-such-chute", "bob", path), 404, not_owned.format("no-such-chute")
        )
        assert_error(share("demo", "hello%", "bob", path), 404, not_owned.format("hello%"))
        # shared with alice, but not hers to share
        assert_error(
            share("alice", "echo-stream", "bob", path), 404, not_owned.format("echo-stream")
        )
        assert_error(
            share("bob", "hello-world", "alice", path), 404, not_owned.format("hello-world")
        )
    # the chute check comes before the user check
    assert_error(share("demo", "no-such-chute", "nobody"), 404, not_owned.format("no-such-chute"))

    assert_error(share("demo", "hello-world", "demo"), 400, "Cannot share a chute with yourself")
    assert_error(share("demo", "hello-world", "DEMO"), 400, "Cannot share a chute with yourself")
    # unshare does not check self
    self_unshare = share("demo", "hello-world", "demo", "/chutes/unshare")
    assert self_unshare.json() == {"status": unshared_status("hello-world", "demo")}
    assert len(box.query("SELECT * FROM shares")) == 1


# bad input


def test_malformed_json_body_is_422(api, box):
    for raw in (b"{", b"not json", b"", b'{"chute_id_or_name": "hello-world",}', b"\xff\xfe"):
        reply = api.post("/chutes/share", content=raw, headers=key(box, "demo"))
        assert reply.status_code == 422, (raw, reply.text)
        errors = detail(reply)
        assert isinstance(errors, list) and errors
        assert errors[0]["type"] == "json_invalid"
        assert errors[0]["loc"][0] == "body"


@pytest.mark.parametrize(
    "payload",
    [
        {"chute_id_or_name": 5, "user_id_or_name": "bob"},
        {"chute_id_or_name": "hello-world", "user_id_or_name": None},
        {"chute_id_or_name": ["hello-world"], "user_id_or_name": "bob"},
        {"chute_id_or_name": "hello-world"},
        {},
        [],
        "hello-world",
    ],
)
def test_wrong_body_types_are_422(api, box, payload):
    raw = body_bytes(payload)
    for path in ("/chutes/share", "/chutes/unshare"):
        reply = api.post(path, content=raw, headers=box.users["demo"].signed(body=raw))
        assert reply.status_code == 422, reply.text
        errors = detail(reply)
        assert isinstance(errors, list) and errors
        assert all({"type", "loc", "msg"} <= set(error) for error in errors)
        assert all(error["loc"][0] == "body" for error in errors)


def test_wrong_update_types_are_422(api, box):
    raw = body_bytes({"tagline": 5, "max_instances": "many"})
    reply = api.put("/chutes/hello-world", content=raw, headers=key(box, "demo"))
    assert reply.status_code == 422
    assert {tuple(error["loc"]) for error in detail(reply)} == {
        ("body", "tagline"),
        ("body", "max_instances"),
    }


def test_oversized_body_is_413(api, box):
    raw = b'{"chute_id_or_name": "' + b"x" * (2 * 1024 * 1024) + b'", "user_id_or_name": "bob"}'
    reply = api.post("/chutes/share", content=raw, headers=key(box, "demo"))
    assert reply.status_code == 413
    signed = api.post("/chutes/share", content=raw, headers=box.users["demo"].signed(body=raw))
    assert signed.status_code == 413
    just_under = b"{" + b" " * (2 * 1024 * 1024 - 2) + b"}"
    assert len(just_under) == 2 * 1024 * 1024
    reply = api.post("/chutes/share", content=just_under, headers=key(box, "demo"))
    assert reply.status_code == 422


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/chutes/", "page=abc"),
        ("/chutes/", "limit=abc"),
        ("/chutes/", "page=1.5"),
        ("/chutes/", "include_public=maybe"),
        ("/chutes/", "include_schemas=2"),
        ("/images/", "page=abc"),
        ("/images/", "limit=ten"),
        ("/images/", "include_public=perhaps"),
        ("/chutes/warmup/hello-world", "quick=sometimes"),
    ],
)
def test_bad_query_values_are_422(api, box, path, query):
    reply = api.get(f"{path}?{query}", headers=key(box, "demo"))
    assert reply.status_code == 422, reply.text
    errors = detail(reply)
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["query", query.split("=")[0]]


def test_bad_input_never_changes_data(api, box):
    assert box.query("SELECT COUNT(*) AS n FROM shares") == [{"n": 1}]
    assert len(box.query("SELECT * FROM chutes")) == 3
    assert len(box.query("SELECT * FROM images")) == 11


@pytest.mark.parametrize(
    ("path", "query"),
    [("/chutes/", "page=10000000000000000000"), ("/images/", "limit=10000000000000000000")],
)
def test_huge_paging_values_are_not_a_server_error(box, path, query):
    with box.http() as http:
        reply = http.get(f"{path}?{query}", headers=key(box, "demo"))
    assert reply.status_code in (200, 422)
    if reply.status_code == 200:
        assert reply.json()["items"] == []


def test_lone_surrogate_in_body_is_not_a_server_error(box):
    raw = b'{"chute_id_or_name": "\\ud800", "user_id_or_name": "bob"}'
    with box.http() as http:
        reply = http.post("/chutes/share", content=raw, headers=key(box, "demo"))
    assert reply.status_code in (404, 422)


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/chutes/share", b'{"chute_id_or_name": NaN, "user_id_or_name": "bob"}'),
        ("PUT", "/chutes/hello-world", b'{"scaling_threshold": NaN}'),
        ("PUT", "/chutes/hello-world", b'{"shutdown_after_seconds": Infinity}'),
    ],
)
def test_non_finite_numbers_in_body_are_422(box, method, path, raw):
    with box.http() as http:
        reply = http.request(method, path, content=raw, headers=key(box, "demo"))
    assert reply.status_code == 422
    assert isinstance(detail(reply), list)


def test_deeply_nested_json_is_422(box):
    raw = b"[" * 100_000 + b"]" * 100_000
    with box.http() as http:
        reply = http.post("/chutes/share", content=raw, headers=key(box, "demo"))
    assert reply.status_code == 422


def test_oversized_chunked_body_is_413(box):
    def chunks():
        for _ in range(3):
            yield b"x" * (1024 * 1024)

    with box.http() as http:
        reply = http.post("/chutes/share", content=chunks(), headers=key(box, "demo"))
    assert reply.status_code == 413


def test_loopback_requests_are_not_held_by_nagle(api):
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert api.get("/nodes/supported").status_code == 200
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[2] < 0.02


# pricing and the GPU table


def test_pricing(api, box):
    table = api.get("/nodes/supported").json()
    reply = api.get("/pricing")
    assert reply.status_code == 200
    pricing = reply.json()
    assert set(pricing) == {"tao_usd", "compute_unit_estimate", "gpu_price_estimates"}
    assert pricing["tao_usd"] == TAO_USD
    unit = pricing["compute_unit_estimate"]
    assert {"usd", "tao", "description"} <= set(unit)
    top = max(gpu["hourly_rate"] for gpu in table.values())
    assert unit["usd"] == pytest.approx(top)
    assert unit["tao"] == pytest.approx(top / TAO_USD)
    assert isinstance(unit["description"], str) and unit["description"]
    estimates = pricing["gpu_price_estimates"]
    assert set(estimates) == set(table)
    for name, price in estimates.items():
        rate = table[name]["hourly_rate"]
        assert set(price) == {"usd", "tao"}
        assert set(price["usd"]) == set(price["tao"]) == {"hour", "second"}
        assert price["usd"]["hour"] == pytest.approx(rate)
        assert price["usd"]["second"] == pytest.approx(rate / 3600)
        assert price["tao"]["hour"] == pytest.approx(rate / TAO_USD)
        assert price["tao"]["second"] == pytest.approx(rate / 3600 / TAO_USD)
    # no auth needed, and credentials do not change it
    assert api.get("/pricing", headers=key(box, "bob")).json() == pricing


def test_supported_gpus_table(api):
    reply = api.get("/nodes/supported")
    assert reply.status_code == 200
    table = reply.json()
    assert len(table) == 27
    assert {"3090", "a4000", "h100", "h200", "mi300x", "b200", "b300", "pro_6000"} <= set(table)
    for name, gpu in table.items():
        assert {"memory", "hourly_rate"} <= set(gpu), name
        assert isinstance(gpu["memory"], int) and gpu["memory"] >= 16
        assert isinstance(gpu["hourly_rate"], float) and gpu["hourly_rate"] > 0
    assert table["h200"]["memory"] == 140
    assert table["b300"]["memory"] == 288
    assert table["a4000"]["memory"] == 16
