"""The events channel's address rule (contract §7)."""

from __future__ import annotations

import pytest

from chutes_tui.client.events import events_url


@pytest.mark.parametrize(
    ("api", "events"),
    [
        ("https://api.chutes.ai", "https://events.chutes.ai"),
        ("https://api.chutes.ai/", "https://events.chutes.ai"),
        ("http://localhost:8000", "http://events.localhost:8000"),
        ("http://127.0.0.1:8765", "http://events.127.0.0.1:8765"),
        ("https://chutes.example.com", "https://events.chutes.example.com"),
    ],
)
def test_events_url_follows_the_platform_rule(api: str, events: str) -> None:
    assert events_url(api) == events


def test_a_channel_that_cannot_connect_leaves_no_open_session(unused_tcp_port: int) -> None:
    """A failed connect is Unreachable, and the client's HTTP session is closed with it (an
    open one would be reported as 'Unclosed client session' when the program ends)."""
    import asyncio
    import gc
    import warnings

    from chutes_tui.client.errors import Unreachable
    from chutes_tui.client.events import chute_events

    async def attempt() -> None:
        channel = chute_events(f"http://127.0.0.1:{unused_tcp_port}", "a-chute", 2.0)
        with pytest.raises(Unreachable):
            await anext(channel)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        asyncio.run(attempt())
        gc.collect()
    assert not [w for w in seen if "Unclosed" in str(w.message)], [str(w.message) for w in seen]
