"""Sandbox authentication (contract §2): hotkey signatures, API keys, JWT, anonymous.

Every request goes through a client that fails the test on any 5xx reply. One sandbox
serves the whole module: nothing here changes stored data.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from substrateinterface import Keypair

from tests.conftest import Sandbox, SandboxUser, body_bytes, strict_http

NO_USER = "Can't find a user with that api key in our db :("
BAD_HEADER = "Missing or invalid authorization header(s)"
BAD_KEY = "Invalid token or user not found"
BAD_JWT = "Invalid token."
BAD_NONCE = "Invalid nonce!"
NO_PURPOSE = "Either payload_str or purpose must be provided"
CHUTE_404 = "Chute not found, or does not belong to you"


@pytest.fixture
def api(box: Sandbox) -> Iterator[httpx.Client]:
    with strict_http(box) as http:
        yield http


@pytest.fixture
def demo(box: Sandbox) -> SandboxUser:
    return box.users["demo"]


@pytest.fixture
def bob(box: Sandbox) -> SandboxUser:
    return box.users["bob"]


def new_keypair() -> Keypair:
    """A hotkey no sandbox user has."""
    return Keypair.create_from_seed(seed_hex=secrets.token_hex(32))


def sign_as(pair: Keypair, tail: str, nonce: int | None = None) -> dict[str, str]:
    """SDK-style hotkey headers for any keypair; `tail` is the purpose or body hash."""
    nonce_text = str(int(time.time()) if nonce is None else nonce)
    message = f"{pair.ss58_address}:{nonce_text}:{tail}"
    return {
        "X-Chutes-Hotkey": pair.ss58_address,
        "X-Chutes-Nonce": nonce_text,
        "X-Chutes-Signature": pair.sign(message.encode()).hex(),
    }


def detail(response: httpx.Response) -> str:
    return response.json()["detail"]


def assert_401(response: httpx.Response, text: str) -> None:
    assert response.status_code == 401, response.text
    assert detail(response) == text


# hotkey signatures: the two message forms


def test_purpose_form_signatures_authenticate(api, demo):
    me = api.get("/users/me", headers=demo.signed("me"))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "demo"
    assert me.json()["user_id"] == demo.creds.user_id

    images = api.get("/images/", headers=demo.signed("images"))
    assert images.status_code == 200, images.text
    assert images.json()["total"] == 4

    chutes = api.get("/chutes/", headers=demo.signed("chutes"))
    assert chutes.status_code == 200, chutes.text
    assert {item["name"] for item in chutes.json()["items"]} == {
        "hello-world",
        "echo-stream",
        "llama-mini",
    }


def test_purpose_is_chosen_by_the_route_not_the_client(api, demo):
    """GET /images/ expects purpose `images`; a signature over `chutes` does not verify."""
    headers = demo.signed("chutes")
    reply = api.get("/images/", headers=headers)
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    assert_401(
        reply, f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:images"
    )


def test_body_hash_form_signature_authenticates(api, demo):
    raw = body_bytes({"chute_id_or_name": "hello-world", "user_id_or_name": "bob"})
    reply = api.post("/chutes/unshare", content=raw, headers=demo.signed(body=raw))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "status": "Successfully unshared chute.name='hello-world'"
        " with user.username='bob' (if share exists)"
    }


def test_body_hash_must_cover_the_exact_bytes_sent(api, demo):
    signed_body = body_bytes({"chute_id_or_name": "hello-world", "user_id_or_name": "bob"})
    sent_body = body_bytes({"chute_id_or_name": "hello-world", "user_id_or_name": "alice"})
    headers = demo.signed(body=signed_body)
    reply = api.post("/chutes/unshare", content=sent_body, headers=headers)
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    digest = hashlib.sha256(sent_body).hexdigest()
    assert_401(
        reply, f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:{digest}"
    )


def test_body_route_rejects_a_purpose_signature(api, demo):
    """A route without a purpose verifies POST requests against the body hash only."""
    raw = body_bytes({"chute_id_or_name": "hello-world", "user_id_or_name": "bob"})
    headers = {**demo.signed("chutes"), "Content-Type": "application/json"}
    reply = api.post("/chutes/unshare", content=raw, headers=headers)
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    digest = hashlib.sha256(raw).hexdigest()
    assert_401(
        reply, f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:{digest}"
    )


# nonces


def test_nonces_are_not_stored_so_replays_inside_the_window_succeed(api, demo):
    headers = demo.signed("me")
    assert api.get("/users/me", headers=headers).status_code == 200
    assert api.get("/users/me", headers=headers).status_code == 200
    old = demo.signed("me", nonce=int(time.time()) - 590)
    assert api.get("/users/me", headers=old).status_code == 200
    ahead = demo.signed("me", nonce=int(time.time()) + 590)
    assert api.get("/users/me", headers=ahead).status_code == 200


@pytest.mark.parametrize("offset", [-600, -700, 700, 86400])
def test_nonce_outside_the_window_is_refused(api, demo, offset):
    headers = demo.signed("me", nonce=int(time.time()) + offset)
    assert_401(api.get("/users/me", headers=headers), BAD_NONCE)


@pytest.mark.parametrize("nonce", ["abc", "17e8", "-100", "1.5", "+1768419806"])
def test_non_digit_nonce_is_refused(api, demo, nonce):
    headers = {**demo.signed("me"), "X-Chutes-Nonce": nonce}
    assert_401(api.get("/users/me", headers=headers), BAD_NONCE)


def test_nonce_check_comes_before_the_signature_check(api, demo):
    headers = {**demo.signed("me", nonce=1), "X-Chutes-Signature": "0xnothex"}
    assert_401(api.get("/users/me", headers=headers), BAD_NONCE)


def test_superscript_digit_nonce_is_refused_not_a_crash(box, demo):
    headers = {key: value.encode() for key, value in demo.signed("me").items()}
    headers["X-Chutes-Nonce"] = b"\xb9\xb2"
    with box.http() as http:
        reply = http.get("/users/me", headers=headers)
    assert reply.status_code == 401
    assert detail(reply) == BAD_NONCE


def test_overlong_digit_nonce_is_refused_not_a_crash(box, demo):
    headers = {**demo.signed("me"), "X-Chutes-Nonce": "9" * 5000}
    with box.http() as http:
        reply = http.get("/users/me", headers=headers)
    assert reply.status_code == 401
    assert detail(reply) == BAD_NONCE


# signatures


@pytest.mark.parametrize("mangle", ["0x-prefix", "non-hex", "odd-length", "uppercase-x"])
def test_signature_that_is_not_plain_hex_is_refused(api, demo, mangle):
    headers = demo.signed("me")
    good = headers["X-Chutes-Signature"]
    bad = {
        "0x-prefix": "0x" + good,
        "non-hex": "zz" + good[2:],
        "odd-length": good[:-1],
        "uppercase-x": "0X" + good,
    }[mangle]
    reply = api.get("/users/me", headers={**headers, "X-Chutes-Signature": bad})
    assert reply.status_code == 401, reply.text
    assert detail(reply).startswith(f"Invalid signature: {bad}, with error: ")


def test_uppercase_hex_signature_still_verifies(api, demo):
    """bytes.fromhex is case-insensitive, as on the platform."""
    headers = demo.signed("me")
    headers["X-Chutes-Signature"] = headers["X-Chutes-Signature"].upper()
    assert api.get("/users/me", headers=headers).status_code == 200


def test_signature_over_a_different_purpose_is_refused(api, demo):
    headers = demo.signed("images")
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    reply = api.get("/users/me", headers=headers)
    assert_401(
        reply, f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:me"
    )


def test_signature_by_another_key_is_refused(api, demo, bob):
    """Bob's valid signature presented under demo's hotkey."""
    bobs = bob.signed("me")
    headers = {**demo.signed("me", nonce=int(bobs["X-Chutes-Nonce"]))}
    headers["X-Chutes-Signature"] = bobs["X-Chutes-Signature"]
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    assert_401(
        api.get("/users/me", headers=headers),
        f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:me",
    )


def test_bad_signature_on_an_optional_route_is_not_anonymous(api, demo):
    headers = demo.signed("images")
    hotkey, nonce = demo.creds.hotkey, headers["X-Chutes-Nonce"]
    assert_401(
        api.get("/chutes/", headers=headers),
        f"Invalid request signature for hotkey {hotkey}. Message: {hotkey}:{nonce}:chutes",
    )


# unknown hotkeys


def test_unknown_hotkey_on_required_routes(api):
    pair = new_keypair()
    expected = f"Could not find user with hotkey: {pair.ss58_address}"
    assert_401(api.get("/users/me", headers=sign_as(pair, "me")), expected)
    assert_401(api.get("/images/", headers=sign_as(pair, "images")), expected)
    raw = body_bytes({"chute_id_or_name": "hello-world", "user_id_or_name": "bob"})
    headers = {
        **sign_as(pair, hashlib.sha256(raw).hexdigest()),
        "Content-Type": "application/json",
    }
    assert_401(api.post("/chutes/share", content=raw, headers=headers), expected)


def test_unknown_hotkey_on_optional_routes_is_anonymous(api):
    pair = new_keypair()
    for query in ("", "?include_public=true"):
        reply = api.get(f"/chutes/{query}", headers=sign_as(pair, "chutes"))
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"total": 0, "page": 0, "limit": 25, "items": [], "cord_refs": {}}
    hidden = api.get("/chutes/hello-world", headers=sign_as(pair, "chutes"))
    assert hidden.status_code == 404
    assert detail(hidden) == CHUTE_404


def test_unknown_hotkey_signature_must_still_verify(api):
    pair = new_keypair()
    headers = sign_as(pair, "images")
    nonce = headers["X-Chutes-Nonce"]
    assert_401(
        api.get("/chutes/", headers=headers),
        f"Invalid request signature for hotkey {pair.ss58_address}."
        f" Message: {pair.ss58_address}:{nonce}:chutes",
    )


def test_get_route_without_purpose_cannot_use_a_hotkey(api, demo):
    assert_401(api.get("/users/me/shares", headers=demo.signed(None)), NO_PURPOSE)
    own = f"/users/{demo.creds.user_id}/shares"
    assert_401(api.get(own, headers=demo.signed("me")), NO_PURPOSE)
    assert api.get("/users/me/shares", headers=demo.key_headers()).status_code == 200


# API keys, JWT, nothing


@pytest.mark.parametrize("scheme", ["", "Bearer ", "bearer ", "Basic ", "Token "])
def test_api_key_works_with_any_scheme_word(api, demo, scheme):
    headers = {"Authorization": f"{scheme}{demo.api_key}"}
    me = api.get("/users/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "demo"
    assert api.get("/chutes/", headers=headers).json()["total"] == 3


@pytest.mark.parametrize(
    "mangle",
    ["truncated", "extended", "uppercase", "no-prefix", "short", "word", "dots", "basic-jwt-like"],
)
def test_malformed_api_key(api, demo, mangle):
    key = demo.api_key
    value = {
        "truncated": key[:-1],
        "extended": key + "a",
        "uppercase": "cpk_" + key[4:].upper(),
        "no-prefix": "xyz_" + key[4:],
        "short": "cpk_abc",
        "word": "garbage",
        "dots": "cpk_" + key[4:].replace(".", "-"),
        "basic-jwt-like": "Basic abc.def",
    }[mangle]
    assert_401(api.get("/users/me", headers={"Authorization": value}), BAD_HEADER)


def test_well_formed_unknown_api_key(api, demo):
    uid_hex = uuid.UUID(demo.creds.user_id).hex
    unknown_id = f"cpk_{uuid.uuid4().hex}.{uid_hex}.{'A' * 32}"
    wrong_secret = demo.api_key[:-4] + ("zzzz" if not demo.api_key.endswith("zzzz") else "yyyy")
    for key in (unknown_id, wrong_secret):
        assert len(key) == 102
        assert_401(api.get("/users/me", headers={"Authorization": f"Bearer {key}"}), BAD_KEY)
        assert_401(api.get("/images/", headers={"Authorization": key}), BAD_KEY)


@pytest.mark.parametrize("header", ["Bearer abc.def", "bearer abc.def.ghi", "BEARER x"])
def test_bearer_non_api_key_is_a_jwt_and_refused(api, header):
    assert_401(api.get("/users/me", headers={"Authorization": header}), BAD_JWT)
    assert_401(api.get("/chutes/", headers={"Authorization": header}), BAD_JWT)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/me"),
        ("GET", "/users/me/shares"),
        ("GET", "/images/"),
        ("GET", "/images/demo/hello:0.1"),
        ("DELETE", "/images/demo/next:0.3"),
        ("GET", "/chutes/code/00000000-0000-0000-0000-000000000000"),
        ("GET", "/chutes/warmup/hello-world"),
        ("DELETE", "/chutes/00000000-0000-0000-0000-000000000000"),
        ("POST", "/chutes/share"),
        ("POST", "/chutes/unshare"),
        ("PUT", "/chutes/hello-world"),
    ],
)
def test_no_credentials_on_required_routes(api, method, path):
    content = b"{}" if method in ("POST", "PUT") else None
    assert_401(api.request(method, path, content=content), NO_USER)


def test_no_credentials_on_optional_routes_is_anonymous(api):
    reply = api.get("/chutes/")
    assert reply.status_code == 200
    assert reply.json()["total"] == 0
    hidden = api.get("/chutes/hello-world")
    assert hidden.status_code == 404
    assert detail(hidden) == CHUTE_404


# scheme precedence


def test_hotkey_headers_win_over_a_bad_authorization_header(api, demo, bob):
    for authorization in ("Bearer abc.def", "garbage", f"Bearer {bob.api_key}"):
        headers = {**demo.signed("me"), "Authorization": authorization}
        reply = api.get("/users/me", headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.json()["username"] == "demo"


def test_hotkey_failure_is_not_rescued_by_a_good_api_key(api, demo):
    headers = {**demo.signed("images"), "Authorization": f"Bearer {demo.api_key}"}
    reply = api.get("/users/me", headers=headers)
    assert reply.status_code == 401
    assert detail(reply).startswith("Invalid request signature for hotkey ")


@pytest.mark.parametrize("dropped", ["X-Chutes-Nonce", "X-Chutes-Signature", "X-Chutes-Hotkey"])
def test_incomplete_hotkey_headers_fall_through_to_authorization(api, demo, bob, dropped):
    headers = demo.signed("me")
    del headers[dropped]
    with_key = api.get("/users/me", headers={**headers, "Authorization": bob.api_key})
    assert with_key.status_code == 200, with_key.text
    assert with_key.json()["username"] == "bob"
    assert_401(api.get("/users/me", headers=headers), NO_USER)
    anonymous = api.get("/chutes/", headers=demo.signed("chutes") | {dropped: ""})
    assert anonymous.status_code == 200
    assert anonymous.json()["total"] == 0
