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
