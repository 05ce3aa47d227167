from tests.conftest import body_bytes, deploy_body


def test_fixture_serves_signed_and_keyed_requests(sandbox):
    demo = sandbox.users["demo"]
    with sandbox.http() as http:
        assert http.get("/users/me", headers=demo.signed("me")).json()["username"] == "demo"
        assert http.get("/users/me", headers=demo.key_headers()).status_code == 200
        raw = body_bytes(deploy_body())
        reply = http.post("/chutes/?accept_fee=true", content=raw, headers=demo.signed(body=raw))
        assert reply.status_code == 200, reply.text
