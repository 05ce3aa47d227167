"""Sharing with two users: after a share bob can get and warm the chute; after unshare, 404."""

from __future__ import annotations

import pytest

from chutes_tui import config
from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import NotFound, ValidationFailed
from chutes_tui.client.signing import Credentials


def client_as(sandbox, user: str, hotkey: bool = False) -> ChutesClient:
    if hotkey:
        return ChutesClient(config.resolve(config_path=sandbox.users[user].config_path, env={}))
    connection = config.Connection(
        base_url=sandbox.url, credentials=Credentials(api_key=sandbox.users[user].api_key)
    )
    return ChutesClient(connection)


@pytest.mark.parametrize("bob_signs_with_hotkey", [False, True])
async def test_share_then_unshare_controls_what_bob_can_reach(sandbox, bob_signs_with_hotkey):
    async with (
        client_as(sandbox, "demo") as demo,
        client_as(sandbox, "bob", hotkey=bob_signs_with_hotkey) as bob,
    ):
        with pytest.raises(NotFound):
            await bob.get_chute("hello-world")
        reply = await demo.share("hello-world", "bob")
        assert reply.status == (
            "Successfully shared chute.name='hello-world' with user.username='bob'"
        )
        chute = await bob.get_chute("hello-world")
        assert chute.user.username == "demo"
        status = await bob.warmup_status("hello-world")
        assert status.chute_id == chute.chute_id
        events = [event.status async for event in bob.warmup("hello-world")]
        assert events[-1] == "hot"
        # bob still does not see it in his own list: the API never lists shared chutes
        assert (await bob.list_chutes()).total == 0
        shares = await demo.list_shares()
        assert any(s.chute_id == chute.chute_id for s in shares)

        await demo.unshare("hello-world", "bob")
        with pytest.raises(NotFound):
            await bob.get_chute("hello-world")
        with pytest.raises(NotFound):
            await bob.warmup_status("hello-world")
        assert not any(s.chute_id == chute.chute_id for s in await demo.list_shares())


async def test_share_refusals_carry_the_servers_reason(sandbox):
    async with client_as(sandbox, "demo") as demo, client_as(sandbox, "alice") as alice:
        with pytest.raises(NotFound, match="Could not find target user to share with"):
            await demo.share("hello-world", "nobody-here")
        with pytest.raises(ValidationFailed, match="Cannot share a chute with yourself"):
            await demo.share("hello-world", "demo")
        with pytest.raises(NotFound, match="Did not find target chute hello-world"):
            await alice.share("hello-world", "bob")
