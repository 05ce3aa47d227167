"""ChutesClient against a real sandbox on loopback, with hotkey and API-key credentials.

Read-only tests share one sandbox per module (`box`); tests that change state get a fresh
one each (`sandbox`, from conftest).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from chutes_tui.client import models
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import (
    AuthError,
    ConfigError,
    Conflict,
    ExitCode,
    NotFound,
    PaymentRequired,
    ValidationFailed,
)
from chutes_tui.config import Connection, resolve
from chutes_tui.sandbox.lookup import chute_uid, image_uid
from chutes_tui.sandbox.seed import HELLO_CODE
from tests.conftest import Sandbox, SandboxUser, deploy_body

AUTH = ["hotkey", "api_key"]
NOT_FOUND_CHUTE = "Chute not found, or does not belong to you"
NOT_FOUND_IMAGE = "Image not found, or does not belong to you"


def connection(box: Sandbox, user: str, auth: str) -> Connection:
    person: SandboxUser = box.users[user]
    if auth == "hotkey":
        conn = resolve(config_path=person.config_path, env={})
        assert conn.credentials.hotkey is not None and conn.credentials.api_key is None
        return conn
    conn = resolve(api_url=box.url, api_key=person.api_key, env={})
    assert conn.credentials.api_key == person.api_key
    return conn


@pytest.fixture
async def clients() -> AsyncIterator:
    made: list[ChutesClient] = []

    def make(box: Sandbox, user: str = "demo", auth: str = "api_key", **options) -> ChutesClient:
        client = ChutesClient(connection(box, user, auth), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


def demo_id(name: str) -> str:
    return chute_uid("demo", name)


# users


@pytest.mark.parametrize("auth", AUTH)
async def test_me(sandbox, clients, auth):
    me = await clients(sandbox, "demo", auth).me()
    assert isinstance(me, models.User)
    assert me.username == "demo"
    assert me.user_id == sandbox.users["demo"].creds.user_id
    assert me.hotkey == sandbox.users["demo"].creds.hotkey
    assert me.balance == pytest.approx(50.0)
    assert me.permissions_bitmask & 1


@pytest.mark.parametrize("auth", AUTH)
async def test_me_for_bob_who_is_not_a_developer(clients, box, auth):
    me = await clients(box, "bob", auth).me()
    assert me.username == "bob"
    assert me.permissions_bitmask == 0
    assert me.balance == pytest.approx(10.0)


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize(
    ("username", "valid", "available"),
    [
        ("demo", True, False),
        ("alice", True, False),
        ("nobody_here", True, True),
        ("a!", False, False),
    ],
)
async def test_name_check(clients, box, auth, username, valid, available):
    result = await clients(box, "demo", auth).name_check(username)
    assert isinstance(result, models.NameCheck)
    assert (result.valid, result.available) == (valid, available)


async def test_list_shares_with_api_key(clients, box):
    shares = await clients(box, "demo", "api_key").list_shares()
    assert len(shares) == 1
    share = shares[0]
    assert isinstance(share, models.Share)
    assert share.chute_id == demo_id("echo-stream")
    assert share.shared_by == box.users["demo"].creds.user_id
    assert share.shared_to == box.users["alice"].creds.user_id
    assert await clients(box, "alice", "api_key").list_shares() == []


async def test_list_shares_needs_an_api_key(clients, box):
    # GET /users/me/shares has no purpose, so no hotkey signature can reach it: the client
    # says so itself instead of sending a request the API must refuse.
    with pytest.raises(ConfigError) as caught:
        await clients(box, "demo", "hotkey").list_shares()
    assert caught.value.exit_code == ExitCode.AUTH
    assert "needs an API key" in caught.value.message
    assert "CHUTES_API_KEY" in caught.value.message


# images


@pytest.mark.parametrize("auth", AUTH)
async def test_list_images(clients, box, auth):
    page = await clients(box, "demo", auth).list_images()
    assert isinstance(page, models.Page)
    assert (page.total, page.page, page.limit) == (4, 0, 25)
    assert all(isinstance(image, models.Image) for image in page.items)
    assert {f"{image.name}:{image.tag}" for image in page.items} == {
        "hello:0.1",
        "tts:0.2",
        "broken:0.1",
        "next:0.3",
    }
    statuses = {image.name: image.status for image in page.items}
    assert statuses["hello"] == "built and pushed"
    assert statuses["tts"] == "building"
    assert statuses["broken"].startswith("error:")
    assert statuses["next"] == "pending build"
    assert page.cord_refs is None


@pytest.mark.parametrize("auth", AUTH)
async def test_list_images_paging_and_all_pages(clients, box, auth):
    client = clients(box, "demo", auth)
    first = await client.list_images(page=0, limit=3)
    second = await client.list_images(page=1, limit=3)
    third = await client.list_images(page=2, limit=3)
    assert (first.total, first.limit, len(first.items)) == (4, 3, 3)
    assert (second.page, len(second.items)) == (1, 1)
    assert third.items == []
    ids = [image.image_id for image in first.items + second.items]
    assert len(set(ids)) == 4

    every = await client.all_pages(client.list_images, limit=3)
    assert sorted(image.image_id for image in every) == sorted(ids)
    one_by_one = await client.all_pages(client.list_images, limit=1)
    assert sorted(image.image_id for image in one_by_one) == sorted(ids)
    with_public = await client.all_pages(client.list_images, limit=3, include_public=True)
    assert len(with_public) == 11
    assert {image.name for image in with_public} >= {"vllm", "sglang", "diffusion", "tei"}
    filtered = await client.all_pages(client.list_images, limit=1, name="hel")
    assert [image.name for image in filtered] == ["hello"]


async def test_all_pages_with_raw_pages(clients, box):
    client = clients(box)
    items = await client.all_pages(client.list_images, limit=3, raw=True)
    assert len(items) == 4 and all(isinstance(item, dict) for item in items)
    chutes = await client.all_pages(client.list_chutes, limit=2, raw=True)
    assert len(chutes) == 3 and all(isinstance(item, dict) for item in chutes)


@pytest.mark.parametrize("auth", AUTH)
async def test_get_image(clients, box, auth):
    client = clients(box, "demo", auth)
    hello_id = image_uid("demo", "hello", "0.1")
    for ref in ("hello:0.1", "demo/hello:0.1", hello_id):
        image = await client.get_image(ref)
        assert isinstance(image, models.Image)
        assert image.image_id == hello_id
        assert image.ready
        assert image.user is not None and image.user.username == "demo"
    building = await client.get_image("tts:0.2")
    assert building.status == "building" and not building.ready
    public = await client.get_image("chutes/vllm:0.10.1")
    assert public.public


async def test_list_and_get_image_raw(clients, box):
    client = clients(box)
    page = await client.list_images(limit=2, raw=True)
    assert isinstance(page, dict)
    assert page["total"] == 4 and len(page["items"]) == 2
    assert all(isinstance(item, dict) for item in page["items"])
    image = await client.get_image("hello:0.1", raw=True)
    assert isinstance(image, dict)
    assert image["image_id"] == image_uid("demo", "hello", "0.1")
    assert image["status"] == "built and pushed"


@pytest.mark.parametrize("auth", AUTH)
async def test_delete_image(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    deleted = await client.delete_image("next:0.3")
    assert isinstance(deleted, models.Deleted)
    assert deleted.deleted is True
    assert deleted.image_id == image_uid("demo", "next", "0.3")
    with pytest.raises(NotFound):
        await client.get_image("next:0.3")
    assert (await client.list_images()).total == 3


# chutes


@pytest.mark.parametrize("auth", AUTH)
async def test_list_chutes_fills_cords_from_cord_refs(clients, box, auth):
    page = await clients(box, "demo", auth).list_chutes()
    assert isinstance(page, models.Page)
    assert (page.total, page.page, page.limit) == (3, 0, 25)
    assert all(isinstance(chute, models.Chute) for chute in page.items)
    # most invoked first
    assert [chute.name for chute in page.items] == ["hello-world", "echo-stream", "llama-mini"]
    assert page.cord_refs
    for chute in page.items:
        assert chute.cord_ref_id in page.cord_refs
        assert chute.cords is not None and len(chute.cords) == 1
        assert all(isinstance(cord, models.Cord) for cord in chute.cords)
        assert chute.cords == page.cord_refs[chute.cord_ref_id]
        assert chute.cords[0].function == "echo"
        assert chute.cords[0].public_api_path == "/echo"
    streams = {chute.name: chute.cords[0].stream for chute in page.items}
    assert streams == {"hello-world": False, "echo-stream": True, "llama-mini": False}
    hot = {chute.name: chute.hot for chute in page.items}
    assert hot == {"hello-world": True, "echo-stream": False, "llama-mini": False}


async def test_list_chutes_raw_is_a_dict_with_cords_filled(clients, box):
    page = await clients(box).list_chutes(raw=True)
    assert isinstance(page, dict)
    assert page["total"] == 3
    for item in page["items"]:
        assert isinstance(item, dict)
        assert item["cords"] == page["cord_refs"][item["cord_ref_id"]]
        assert item["cords"][0]["function"] == "echo"


@pytest.mark.parametrize("auth", AUTH)
async def test_list_chutes_paging_filters_and_all_pages(clients, box, auth):
    client = clients(box, "demo", auth)
    first = await client.list_chutes(page=0, limit=2)
    second = await client.list_chutes(page=1, limit=2)
    assert (first.total, len(first.items), len(second.items)) == (3, 2, 1)
    assert second.items[0].cords and second.items[0].cords[0].function == "echo"
    every = await client.all_pages(client.list_chutes, limit=2)
    assert [chute.name for chute in every] == ["hello-world", "echo-stream", "llama-mini"]
    assert all(chute.cords for chute in every)
    assert [c.name for c in await client.all_pages(client.list_chutes, limit=1)] == [
        c.name for c in every
    ]
    named = await client.list_chutes(name="echo")
    assert [chute.name for chute in named.items] == ["echo-stream"]


@pytest.mark.parametrize("auth", AUTH)
async def test_shared_chutes_are_fetched_not_listed(clients, box, auth):
    alice = clients(box, "alice", auth)
    assert (await alice.list_chutes()).total == 0
    chute = await alice.get_chute("echo-stream")
    assert chute.chute_id == demo_id("echo-stream")
    assert chute.user.username == "demo"
    with pytest.raises(NotFound):
        await alice.get_chute("hello-world")


@pytest.mark.parametrize("auth", AUTH)
async def test_get_chute(clients, box, auth):
    client = clients(box, "demo", auth)
    chute = await client.get_chute("hello-world")
    assert isinstance(chute, models.Chute)
    assert chute.chute_id == demo_id("hello-world")
    assert chute.name == "hello-world"
    assert chute.tagline == "Says hello back"
    assert chute.hot is True
    assert len(chute.instances) == 1 and isinstance(chute.instances[0], models.Instance)
    assert chute.instances[0].active and chute.instances[0].verified
    assert isinstance(chute.image, models.Image) and chute.image.name == "hello"
    assert chute.user.username == "demo"
    assert chute.cords and chute.cords[0].function == "echo"
    assert isinstance(chute.node_selector, models.NodeSelectorOut)
    assert chute.node_selector.supported_gpus
    assert chute.current_estimated_price is not None
    by_id = await client.get_chute(chute.chute_id)
    assert by_id.name == "hello-world"
    llama = await client.get_chute("llama-mini")
    assert llama.standard_template == "vllm" and llama.hot is False
    assert llama.node_selector.gpu_count == 2


async def test_get_chute_raw(clients, box):
    chute = await clients(box).get_chute("hello-world", raw=True)
    assert isinstance(chute, dict)
    assert chute["chute_id"] == demo_id("hello-world")
    assert chute["hot"] is True
    assert isinstance(chute["image"], dict)


@pytest.mark.parametrize("auth", AUTH)
async def test_chute_id_and_code(clients, box, auth):
    client = clients(box, "demo", auth)
    assert await client.chute_id("hello-world") == demo_id("hello-world")
    assert await client.chute_id("HELLO-WORLD") == demo_id("hello-world")
    some_uuid = str(uuid.uuid4())
    assert await client.chute_id(some_uuid) == some_uuid  # no lookup needed
    code = await client.code("hello-world")
    assert isinstance(code, str)
    assert code == HELLO_CODE
    assert await client.code(demo_id("hello-world")) == code
    echo = await client.code("echo-stream")
    assert 'name="echo-stream"' in echo


@pytest.mark.parametrize("auth", AUTH)
async def test_update_chute(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    updated = await client.update_chute("hello-world", {"tagline": "Hello, updated"})
    assert isinstance(updated, models.Chute)
    assert updated.chute_id == demo_id("hello-world")
    assert updated.tagline == "Hello, updated"
    assert (await client.get_chute("hello-world")).tagline == "Hello, updated"
    by_id = await client.update_chute(demo_id("hello-world"), {"readme": "# new readme"})
    assert by_id.readme == "# new readme" and by_id.tagline == "Hello, updated"


@pytest.mark.parametrize("auth", AUTH)
async def test_delete_chute_by_name_resolves_the_uuid(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    deleted = await client.delete_chute("llama-mini")
    assert isinstance(deleted, models.Deleted)
    assert deleted.deleted is True
    assert deleted.chute_id == demo_id("llama-mini")
    with pytest.raises(NotFound):
        await client.get_chute("llama-mini")
    by_id = await client.delete_chute(demo_id("echo-stream"))
    assert by_id.chute_id == demo_id("echo-stream")
    assert [chute.name for chute in (await client.list_chutes()).items] == ["hello-world"]
    with pytest.raises(NotFound) as caught:
        await client.delete_chute("llama-mini")
    assert caught.value.message == NOT_FOUND_CHUTE


# deploy


@pytest.mark.parametrize("auth", AUTH)
async def test_deploy_fee_notice_then_accept_then_conflict(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    body = deploy_body()

    with pytest.raises(PaymentRequired) as caught:
        await client.deploy(body)
    notice = caught.value
    assert notice.status == 402
    assert notice.exit_code == ExitCode.PAYMENT
    assert notice.is_fee_notice
    assert notice.fee == pytest.approx(0.6)
    assert notice.message.startswith("DEPLOYMENT FEE NOTICE:\n===\n")
    assert "$0.6" in notice.message and "--accept-fee" in notice.message
    with pytest.raises(NotFound):
        await client.get_chute("test-chute")

    chute = await client.deploy(body, accept_fee=True)
    assert isinstance(chute, models.Chute)
    assert chute.name == "test-chute"
    assert chute.chute_id == demo_id("test-chute")
    assert chute.image.image_id == image_uid("demo", "hello", "0.1")
    assert chute.cords and chute.cords[0].path == "/echo"
    assert await client.code("test-chute") == body["code"]
    assert (await client.me()).balance == pytest.approx(49.4, abs=0.05)

    with pytest.raises(Conflict) as conflict:
        await client.deploy(body, accept_fee=True)
    assert conflict.value.status == 409
    assert conflict.value.exit_code == ExitCode.CONFLICT
    assert conflict.value.message == (
        f"Chute with name=test-chute, version='{chute.version}' and public=False already exists"
    )

    # new code is an update: same id, no fee asked
    updated = await client.deploy(deploy_body(code="print('hello again')\n"))
    assert updated.chute_id == chute.chute_id and updated.version != chute.version


async def test_deploy_refused_when_the_balance_is_below_the_fee(sandbox, clients):
    client = clients(sandbox, "alice", "hotkey")
    big = {"gpu_count": 8, "min_vram_gb_per_gpu": 80}
    with pytest.raises(PaymentRequired) as caught:
        await client.deploy(
            deploy_body(image="chutes/vllm:0.10.1", node_selector=big), accept_fee=True
        )
    error = caught.value
    assert not error.is_fee_notice
    assert error.message.startswith("The deployment fee, based on your node selector, is $")
    assert "but you have a balance of 20.0" in error.message
    assert error.exit_code == ExitCode.PAYMENT
    assert (await client.me()).balance == pytest.approx(20.0)


async def test_balance_refusal_carries_the_fee(sandbox, clients):
    client = clients(sandbox, "alice", "api_key")
    big = {"gpu_count": 8, "min_vram_gb_per_gpu": 80}
    with pytest.raises(PaymentRequired) as caught:
        await client.deploy(
            deploy_body(image="chutes/vllm:0.10.1", node_selector=big), accept_fee=True
        )
    assert caught.value.fee == pytest.approx(28.8)


# share


@pytest.mark.parametrize("auth", AUTH)
async def test_share_and_unshare(sandbox, clients, auth):
    demo = clients(sandbox, "demo", auth)
    bob = clients(sandbox, "bob", auth)
    with pytest.raises(NotFound):
        await bob.get_chute("hello-world")

    shared = await demo.share("hello-world", "bob")
    assert isinstance(shared, models.StatusReply)
    assert shared.status == "Successfully shared chute.name='hello-world' with user.username='bob'"
    assert (await bob.get_chute("hello-world")).chute_id == demo_id("hello-world")
    again = await demo.share("HELLO-WORLD", "BOB")
    assert again.status == shared.status

    keyed = clients(sandbox, "demo", "api_key")
    shares = await keyed.list_shares()
    assert {share.chute_id for share in shares} == {demo_id("hello-world"), demo_id("echo-stream")}

    unshared = await demo.unshare("hello-world", "bob")
    assert unshared.status == (
        "Successfully unshared chute.name='hello-world' with user.username='bob' (if share exists)"
    )
    with pytest.raises(NotFound):
        await bob.get_chute("hello-world")
    assert [share.chute_id for share in await keyed.list_shares()] == [demo_id("echo-stream")]


NO_CHUTE = "Did not find target chute nope, or it does not belong to you"
NO_USER = "Could not find target user to share with"


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize(
    ("method", "chute", "user", "error", "message"),
    [
        ("share", "nope", "bob", NotFound, NO_CHUTE),
        ("share", "hello-world", "nobody", NotFound, NO_USER),
        ("share", "hello-world", "demo", ValidationFailed, "Cannot share a chute with yourself"),
        ("unshare", "nope", "bob", NotFound, NO_CHUTE),
        ("unshare", "hello-world", "nobody", NotFound, NO_USER),
    ],
)
async def test_share_errors(clients, box, auth, method, chute, user, error, message):
    client = clients(box, "demo", auth)
    with pytest.raises(error) as caught:
        await getattr(client, method)(chute, user)
    assert caught.value.message == message


# live


@pytest.mark.parametrize("auth", AUTH)
async def test_warmup_yields_cold_then_exactly_one_hot(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    events = [event async for event in client.warmup("llama-mini")]
    assert all(isinstance(event, models.WarmupEvent) for event in events)
    assert events[0].status == "cold"
    assert events[0].log == "waiting for instances ..."
    assert [event.status for event in events].count("hot") == 1
    assert events[-1].status == "hot"
    assert events[-1].log == "chute is hot, 1 instances available"
    assert set(event.status for event in events) == {"cold", "hot"}
    assert (await client.get_chute("llama-mini")).hot is True


async def test_warmup_of_a_hot_chute_is_hot_at_once(clients, box):
    events = [event async for event in clients(box).warmup("hello-world")]
    assert [event.status for event in events] == ["cold", "hot"]


@pytest.mark.parametrize("auth", AUTH)
async def test_warmup_status(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    hot = await client.warmup_status("hello-world")
    assert isinstance(hot, models.QuickWarmup)
    assert hot.chute_id == demo_id("hello-world")
    assert (hot.status, hot.instance_count, hot.bounty) == ("hot", 1, None)
    assert len(hot.instances) == 1
    assert isinstance(hot.instances[0], models.QuickInstance)
    assert hot.instances[0].active and hot.instances[0].gpu_model_name == "a4000"

    cold = await client.warmup_status("echo-stream")
    assert cold.chute_id == demo_id("echo-stream")
    assert (cold.status, cold.instance_count) == ("cold", 0)
    assert len(cold.instances) == 1 and not cold.instances[0].active
    assert cold.instances[0].gpu_count == 1 and cold.instances[0].gpu_model_name
    assert isinstance(cold.bounty, models.Bounty) and cold.bounty.amount >= 100


@pytest.mark.parametrize("auth", AUTH)
async def test_instance_logs_yields_the_backfilled_lines(sandbox, clients, auth):
    client = clients(sandbox, "demo", auth)
    status = await client.warmup_status("llama-mini")  # starts an instance
    instance_id = status.instances[0].instance_id
    lines = []
    async with aclosing(client.instance_logs(instance_id)) as stream:
        async for line in stream:
            lines.append(line)
            if len(lines) == 3:
                break
    assert lines[0].startswith("provisioned on 2x ")
    assert lines[1:] == ["pulling image for chute llama-mini", "loading hello.py"]


async def test_instance_logs_of_a_shared_chute(sandbox, clients):
    demo = clients(sandbox, "demo")
    instance_id = (await demo.warmup_status("echo-stream")).instances[0].instance_id
    async with aclosing(clients(sandbox, "alice", "hotkey").instance_logs(instance_id)) as stream:
        first = await anext(stream)
    assert first.startswith("provisioned on 1x ")


async def test_pricing_and_supported_gpus(clients, box):
    client = clients(box)
    pricing = await client.pricing()
    assert isinstance(pricing, models.Pricing)
    assert pricing.tao_usd == 400.0
    assert "a4000" in pricing.gpu_price_estimates
    a4000 = pricing.gpu_price_estimates["a4000"]
    assert isinstance(a4000, models.GpuPrice)
    assert a4000.usd.hour == pytest.approx(0.2)
    assert a4000.tao.hour == pytest.approx(0.2 / 400)
    assert a4000.usd.second == pytest.approx(0.2 / 3600)
    gpus = await client.supported_gpus()
    assert isinstance(gpus, dict)
    assert gpus["a4000"] == {"memory": 16, "hourly_rate": 0.2}
    assert gpus["h200"]["memory"] == 140
    assert set(gpus) == set(pricing.gpu_price_estimates)


async def test_public_endpoints_work_with_hotkey_only(clients, box):
    client = clients(box, "demo", "hotkey")
    assert (await client.pricing()).tao_usd == 400.0
    assert "a4000" in await client.supported_gpus()


# errors


def bad_key_connection(box: Sandbox, key: str) -> Connection:
    return resolve(api_url=box.url, api_key=key, env={})


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("cpk_not-a-key", "Missing or invalid authorization header(s)"),
        ("tampered", "Invalid token or user not found"),
    ],
)
async def test_bad_api_key_is_auth_error(box, key, message):
    if key == "tampered":
        real = box.users["demo"].api_key
        key = real[:-1] + ("a" if real[-1] != "a" else "b")
    async with ChutesClient(bad_key_connection(box, key)) as client:
        with pytest.raises(AuthError) as caught:
            await client.me()
    assert caught.value.status == 401
    assert caught.value.message == message
    assert caught.value.exit_code == ExitCode.AUTH == 3


async def test_unknown_hotkey_is_auth_error(box, tmp_path: Path):
    from chutes_tui.client.signing import Hotkey

    stranger = Hotkey.from_seed("11" * 32)
    ini = tmp_path / "stranger.ini"
    ini.write_text(
        f"[api]\nbase_url = {box.url}\n\n[auth]\nusername = stranger\n"
        f"hotkey_seed = {'11' * 32}\nhotkey_ss58address = {stranger.ss58}\n"
    )
    async with ChutesClient(resolve(config_path=ini, env={})) as client:
        with pytest.raises(AuthError) as caught:
            await client.me()
    assert caught.value.message == f"Could not find user with hotkey: {stranger.ss58}"


@pytest.mark.parametrize("auth", AUTH)
async def test_logs_of_someone_elses_instance_is_403(clients, box, auth):
    demo = clients(box, "demo")
    instance_id = (await demo.get_chute("hello-world")).instances[0].instance_id
    bob = clients(box, "bob", auth)
    with pytest.raises(AuthError) as caught:
        async for _ in bob.instance_logs(instance_id):
            pass
    assert caught.value.status == 403
    assert caught.value.message == "You may only view logs for your own (private) chutes."
    assert caught.value.exit_code == ExitCode.AUTH


@pytest.mark.parametrize("auth", AUTH)
async def test_not_found_errors(clients, box, auth):
    client = clients(box, "demo", auth)
    cases = [
        (client.get_chute("no-such-chute"), NOT_FOUND_CHUTE),
        (client.code("no-such-chute"), NOT_FOUND_CHUTE),
        (client.code(str(uuid.uuid4())), NOT_FOUND_CHUTE),
        (client.delete_chute("no-such-chute"), NOT_FOUND_CHUTE),
        (client.delete_chute(str(uuid.uuid4())), NOT_FOUND_CHUTE),
        (client.update_chute("no-such-chute", {"tagline": "x"}), NOT_FOUND_CHUTE),
        (client.warmup_status("no-such-chute"), NOT_FOUND_CHUTE),
        (client.get_image("nope:1.0"), NOT_FOUND_IMAGE),
        (client.delete_image("nope:1.0"), NOT_FOUND_IMAGE),
    ]
    for call, message in cases:
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.status == 404
        assert caught.value.message == message
        assert caught.value.exit_code == ExitCode.NOT_FOUND == 4
    with pytest.raises(NotFound) as caught:
        async for _ in client.instance_logs(str(uuid.uuid4())):
            pass
    assert caught.value.message == "Instance not found."
    with pytest.raises(NotFound):
        async for _ in client.warmup("no-such-chute"):
            pass


async def test_delete_image_in_use_is_conflict(clients, box):
    client = clients(box, "demo", "hotkey")
    with pytest.raises(Conflict) as caught:
        await client.delete_image("hello:0.1")
    assert caught.value.status == 409
    assert caught.value.message == "Image is in use by one or more chutes"
    assert caught.value.exit_code == ExitCode.CONFLICT == 5
    assert (await client.get_image("hello:0.1")).ready


@pytest.mark.parametrize("auth", AUTH)
async def test_bad_requests_are_validation_failed(clients, box, auth):
    client = clients(box, "demo", auth)
    cases = [
        (
            client.deploy(deploy_body(image="demo/nope:9.9"), accept_fee=True),
            400,
            "Chute image not found, or does not belong to you",
        ),
        (
            client.deploy(deploy_body(public=True), accept_fee=True),
            400,
            "Chutes no longer supports public chutes. You can instead deploy the chute as a"
            " private chute and share it with other users.",
        ),
        (
            client.deploy(deploy_body(ref_str="Hello:chute"), accept_fee=True),
            400,
            "Validation failure: Invalid reference string: 'Hello:chute'",
        ),
    ]
    for call, status, message in cases:
        with pytest.raises(ValidationFailed) as caught:
            await call
        assert caught.value.status == status
        assert caught.value.message == message
        assert caught.value.exit_code == ExitCode.USAGE == 2


@pytest.mark.parametrize("auth", AUTH)
async def test_backfill_out_of_range_is_400(clients, box, auth):
    client = clients(box, "demo", auth)
    instance_id = (await client.get_chute("hello-world")).instances[0].instance_id
    with pytest.raises(ValidationFailed) as caught:
        async for _ in client.instance_logs(instance_id, backfill=20000):
            pass
    assert caught.value.status == 400
    assert caught.value.message == "`backfill` must be between 0 and 10000 (lines of logs)"


@pytest.mark.parametrize("auth", AUTH)
async def test_field_validation_is_422(clients, box, auth):
    client = clients(box, "demo", auth)
    with pytest.raises(ValidationFailed) as caught:
        await client.deploy(deploy_body(node_selector={"gpu_count": 9}), accept_fee=True)
    assert caught.value.status == 422
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.message.startswith("node_selector.gpu_count: ")
    assert "less than or equal to 8" in caught.value.message

    with pytest.raises(ValidationFailed) as caught:
        await client.update_chute("hello-world", {"shutdown_after_seconds": 5})
    assert caught.value.status == 422
    assert caught.value.message.startswith("shutdown_after_seconds: ")


@pytest.mark.parametrize("auth", AUTH)
async def test_bob_cannot_deploy(clients, box, auth):
    with pytest.raises(AuthError) as caught:
        await clients(box, "bob", auth).deploy(deploy_body(), accept_fee=True)
    assert caught.value.status == 401
    assert caught.value.message.startswith("You do not have developer permissions")
