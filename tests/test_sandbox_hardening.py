"""The sandbox holds up against hostile or careless clients: races, hangs, odd bodies."""

from __future__ import annotations

import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chutes_tui.sandbox import server as sandbox_server
from chutes_tui.sandbox.clock import MAX_SIMULATED, SimClock
from chutes_tui.sandbox.storage import Store
from tests.conftest import body_bytes, deploy_body, running_sandbox
from tests.sandbox_process import sandbox_process

HANG_GUARD = 60.0  # catches a hang; not a timing budget


def set_balance(db_path: Path, username: str, balance: float) -> None:
    db = sqlite3.connect(db_path)
    with db:
        db.execute("UPDATE users SET balance = ? WHERE username = ?", (balance, username))
    db.close()


def balance_of(box, username: str) -> float:
    return box.query("SELECT balance FROM users WHERE username = ?", username)[0]["balance"]


def test_concurrent_deploys_never_overspend_the_balance(tmp_path):
    fee, covered, attempts = 0.6000000000000001, 5, 12
    with running_sandbox(tmp_path, history_limit=0) as box:
        start = covered * fee + 0.1  # the platform refuses a balance equal to the fee
        set_balance(box.db_path, "demo", start)
        headers = {**box.users["demo"].key_headers(), "Content-Type": "application/json"}
        bodies = [body_bytes(deploy_body(name=f"race-{n}")) for n in range(attempts)]
        statuses: list[int] = []
        gate = threading.Barrier(attempts)

        def slow_body(raw: bytes) -> Iterator[bytes]:
            """Half the body, then the rest once every deploy has sent its half: each
            request is then authenticated and waiting for its body at the same time."""
            yield raw[: len(raw) // 2]
            gate.wait()
            time.sleep(0.3)  # lets the server take in every half first; not a timing budget
            yield raw[len(raw) // 2 :]

        def deploy(raw: bytes) -> None:
            sized = {**headers, "Content-Length": str(len(raw))}
            with httpx.Client(base_url=box.url, timeout=HANG_GUARD) as http:
                reply = http.post("/chutes/?accept_fee=true", content=slow_body(raw), headers=sized)
                statuses.append(reply.status_code)

        threads = [threading.Thread(target=deploy, args=(raw,)) for raw in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD)
        assert sorted(statuses) == [200] * covered + [402] * (attempts - covered)
        end = balance_of(box, "demo")
        assert end >= 0
        assert start - end == pytest.approx(covered * fee)
        made = box.query("SELECT COUNT(*) AS n FROM chutes WHERE name LIKE 'race-%'")[0]["n"]
        assert made == covered


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_abandoned_socketio_handshake_does_not_hold_up_shutdown(tmp_path, signal_number):
    pytest.importorskip("socketio")
    with sandbox_process(tmp_path) as server:
        handshake = httpx.get(
            f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=HANG_GUARD
        )
        assert handshake.status_code == 200  # a session the client never polls again
        assert server.process is not None
        server.process.send_signal(signal_number)
        try:
            code = server.process.wait(HANG_GUARD)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
            pytest.fail("the sandbox ignored the signal with a Socket.IO session open")
        assert code in (0, -signal_number, 128 + signal_number, 130), code


def test_a_connection_that_sends_half_a_request_is_closed(box, monkeypatch):
    monkeypatch.setattr(sandbox_server, "HEAD_TIMEOUT", 0.5)  # read when a connection opens
    host, port = box.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=HANG_GUARD) as sock:
        sock.sendall(b"GET /users/name_check?user")
        try:
            received = sock.recv(4096)
        except TimeoutError:
            pytest.fail("the server kept a half-sent request open")
        assert received == b""


def modes(db_path: Path) -> dict[str, int]:
    paths = {
        "dir": db_path.parent,
        "db": db_path,
        "wal": Path(f"{db_path}-wal"),
        "shm": Path(f"{db_path}-shm"),
    }
    return {name: stat.S_IMODE(path.stat().st_mode) for name, path in paths.items()}


PRIVATE = {"dir": 0o700, "db": 0o600, "wal": 0o600, "shm": 0o600}


def test_a_new_database_and_its_directory_are_private(tmp_path):
    db_path = tmp_path / "data" / "sandbox.db"
    store = Store(db_path)
    try:
        assert modes(db_path) == PRIVATE  # while open, with the secret written by the seed
    finally:
        store.close()


def test_an_existing_readable_database_is_made_private_on_open(tmp_path):
    db_path = tmp_path / "data" / "sandbox.db"
    Store(db_path).close()
    keep_open = sqlite3.connect(db_path)  # holds the -wal and -shm files in place
    keep_open.execute("PRAGMA journal_mode=WAL")
    keep_open.execute("CREATE TABLE IF NOT EXISTS t (x)")
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        path.chmod(0o644)
    try:
        store = Store(db_path)
        try:
            assert {k: v for k, v in modes(db_path).items() if k != "dir"} == {
                "db": 0o600,
                "wal": 0o600,
                "shm": 0o600,
            }
        finally:
            store.close()
    finally:
        keep_open.close()


def signed_post(box, user: str, path: str, payload: dict | bytes) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else body_bytes(payload)
    with box.http() as http:
        return http.post(path, content=raw, headers=box.users[user].signed(body=raw))


def signed_put(box, user: str, path: str, payload: dict) -> httpx.Response:
    raw = body_bytes(payload)
    with box.http() as http:
        return http.put(path, content=raw, headers=box.users[user].signed(body=raw))


def nested(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


def with_input_schema(schema: dict | str, name: str) -> dict:
    body = deploy_body(name=name)
    body["cords"][0]["input_schema"] = schema
    return body


def test_deeply_nested_or_infinite_schemas_are_refused_before_anything_is_stored(sandbox):
    before = balance_of(sandbox, "demo")
    deep = signed_post(
        sandbox, "demo", "/chutes/?accept_fee=true", with_input_schema(nested(260), "deep")
    )
    assert deep.status_code == 422, deep.text
    assert "nested more than 32 levels" in deep.json()["detail"]
    raw = body_bytes(with_input_schema({"type": "number", "maximum": 1}, "huge")).replace(
        b'"maximum":1', b'"maximum":1e400'
    )
    huge = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", raw)
    assert huge.status_code == 422, huge.text
    assert "finite" in huge.json()["detail"]
    assert (
        sandbox.query("SELECT COUNT(*) AS n FROM chutes WHERE name IN ('deep', 'huge')")[0]["n"]
        == 0
    )
    assert balance_of(sandbox, "demo") == pytest.approx(before)
    with sandbox.http() as http:
        listing = http.get("/chutes/?template=vllm&include_public=true")
        assert listing.status_code == 200

    ordinary = with_input_schema(nested(6), "ordinary-schema")
    made = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", ordinary)
    assert made.status_code == 200, made.text
    with sandbox.http() as http:
        got = http.get("/chutes/ordinary-schema", headers=sandbox.users["demo"].key_headers())
    assert got.status_code == 200
    assert got.json()["cords"][0]["input_schema"] == nested(6)


def test_put_is_held_to_the_deploy_limits(sandbox):
    readme = "x" * 16385
    deploy = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", deploy_body(readme=readme))
    assert deploy.status_code == 422
    made = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", deploy_body())
    assert made.status_code == 200, made.text
    put = signed_put(sandbox, "demo", "/chutes/test-chute", {"readme": "y" * 1_900_000})
    assert put.status_code == 422, put.text
    put = signed_put(sandbox, "demo", "/chutes/test-chute", {"readme": readme})
    assert put.status_code == 422, put.text
    assert "readme" in put.json()["detail"]
    deep = signed_put(sandbox, "demo", "/chutes/test-chute", {"readme": "ok", "x": nested(40)})
    assert deep.status_code == 422, deep.text
    ok = signed_put(sandbox, "demo", "/chutes/test-chute", {"readme": "z" * 16384})
    assert ok.status_code == 200, ok.text
    assert ok.json()["readme"] == "z" * 16384


@pytest.mark.parametrize("revision", ["main", "0" * 39, "G" * 40, "0" * 41, "x" * 5000])
def test_revision_must_be_a_commit_hash(sandbox, revision):
    body = deploy_body(name="rev-check", revision=revision)
    reply = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", body)
    assert reply.status_code == 422, reply.text
    assert "revision" in reply.json()["detail"]


def test_a_revision_hash_is_accepted(sandbox):
    body = deploy_body(name="rev-ok", revision="0123456789abcdef" * 2 + "01234567")
    reply = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", body)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("offset", ["9" * 4400, "1" * 14])
def test_a_huge_build_log_offset_is_refused_not_a_server_error(box, offset):
    demo = box.users["demo"]
    with box.http() as http:
        images = http.get("/images/", headers=demo.key_headers()).json()["items"]
        building = next(image for image in images if image["status"] == "building")
        reply = http.get(
            f"/images/{building['image_id']}/logs",
            params={"offset": offset},
            headers=demo.signed("images"),
        )
    assert reply.status_code == 422, reply.text


def test_a_chute_name_cannot_claim_another_users_namespace(sandbox):
    image = sandbox.query("SELECT image_id FROM images WHERE public = 1")[0]["image_id"]
    for name in ("demo/hello-world", "DEMO/hello-world", "bob/anything"):
        body = deploy_body(name=name, image=image)
        reply = signed_post(sandbox, "alice", "/chutes/?accept_fee=true", body)
        assert reply.status_code == 422, reply.text
        assert "another user's name" in reply.json()["detail"]
    assert sandbox.query("SELECT COUNT(*) AS n FROM chutes WHERE name LIKE '%/%'")[0]["n"] == 0
    own = signed_post(sandbox, "demo", "/chutes/?accept_fee=true", deploy_body(name="demo/mine"))
    assert own.status_code == 200, own.text  # `/` itself is allowed, as on the platform


def test_owner_slash_name_finds_the_owners_chute_before_a_literal_namesake(sandbox):
    """A namesake from before the rule (or written directly) still cannot shadow demo's chute,
    not even once it is shared with demo."""
    demo, alice = sandbox.users["demo"], sandbox.users["alice"]
    ids = {row["username"]: row["user_id"] for row in sandbox.query("SELECT * FROM users")}
    db = sqlite3.connect(sandbox.db_path)
    with db:
        db.execute(
            "INSERT INTO chutes (chute_id, user_id, name, slug, public, version, image_id, code,"
            " spec, created_at, updated_at) SELECT 'shadow', ?, 'demo/hello-world',"
            " 'alice-demo-hello-world', 0, version, image_id, code, spec,"
            " '2000-01-01T00:00:00.000000Z', updated_at FROM chutes WHERE name = 'hello-world'",
            (ids["alice"],),
        )
    db.close()
    with sandbox.http() as http:
        mine = http.get("/chutes/demo/hello-world", headers=demo.key_headers())
        assert mine.status_code == 200
        assert mine.json()["user"]["username"] == "demo"
        share = {"chute_id_or_name": "shadow", "user_id_or_name": "demo"}
        raw = body_bytes(share)
        shared = http.post("/chutes/share", content=raw, headers=alice.signed(body=raw))
        assert shared.status_code == 200, shared.text
        after = http.get("/chutes/demo/hello-world", headers=demo.key_headers())
        assert after.status_code == 200
        assert after.json()["chute_id"] != "shadow"
        assert after.json()["user"]["username"] == "demo"


def test_the_clock_cannot_be_pushed_past_what_the_simulation_can_count(sandbox):
    """Two advances of 1e308 once took the simulated clock past what its sums can hold: it
    read back as null, and a quick warmup of a chute whose instance was still pending then
    answered 500 (an infinite bounty age)."""
    with pytest.raises(ValueError):
        SimClock(1e-300).advance(MAX_SIMULATED)  # a slow clock's step alone overflows
    demo = sandbox.users["demo"]
    with sandbox.http() as http:
        before = http.get("/_sandbox/clock").json()
        for _ in range(3):
            reply = http.post("/_sandbox/clock", json={"advance": 1e308, "pause": True})
            assert reply.status_code == 422, reply.text
        state = http.get("/_sandbox/clock").json()
        assert state["paused"] is before["paused"] is False  # a refused change changes nothing
        assert state["simulated_seconds"] < MAX_SIMULATED
        moved = http.post("/_sandbox/clock", json={"advance": MAX_SIMULATED / 2})
        assert moved.status_code == 200, moved.text
        assert moved.json()["simulated_seconds"] >= MAX_SIMULATED / 2
        again = http.post("/_sandbox/clock", json={"advance": MAX_SIMULATED / 2 + 1e6})
        assert again.status_code == 422, again.text
        for path in ("/chutes/warmup/hello-world?quick=true", "/users/me", "/chutes/hello-world"):
            reply = http.get(path, headers=demo.key_headers())
            assert reply.status_code == 200, (path, reply.text)
