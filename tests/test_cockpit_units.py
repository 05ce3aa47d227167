"""The cockpit's pure parts: where a chute answers, how replies are cut into chunks, what a
cord answers, a body from a schema, and the runway in words."""

from __future__ import annotations

import json

import pytest

from chutes_tui.client.errors import ValidationFailed
from chutes_tui.client.invoke import ChunkSplitter, invoke_target, stream_error, template_for
from chutes_tui.core.cord_input import check_json, form_body, simple_fields, skeleton
from chutes_tui.core.spend import runway_hours, runway_text
from chutes_tui.sandbox.invocations import match_cord, plan_reply


@pytest.mark.parametrize(
    ("api", "url", "send_to", "host"),
    [
        ("https://api.chutes.ai", "https://demo-x.chutes.ai", "https://demo-x.chutes.ai", None),
        (
            "http://127.0.0.1:8765",
            "http://demo-x.localhost:8765",
            "http://127.0.0.1:8765",
            "demo-x.localhost:8765",
        ),
        ("http://[::1]:9", "http://demo-x.localhost:9", "http://[::1]:9", "demo-x.localhost:9"),
        ("https://chutes.example.org", "https://demo-x.chutes.example.org", None, None),
    ],
)
def test_a_chute_answers_at_its_slug_under_the_platforms_domain(
    api: str, url: str, send_to: str | None, host: str | None
) -> None:
    target = invoke_target("demo-x", api, template_for(api, env={}))
    assert (target.url, target.send_to, target.host) == (url, send_to or url, host)
    assert target.request_url("/echo") == f"{send_to or url}/echo"


def test_the_invoke_url_is_the_users_to_set() -> None:
    env = {"CHUTES_TUI_INVOKE_URL": "https://{slug}.gpu.example/"}
    assert template_for("https://api.chutes.ai", env=env) == "https://{slug}.gpu.example"
    with pytest.raises(ValidationFailed, match=r"\{slug\}"):
        template_for("https://api.chutes.ai", env={"CHUTES_TUI_INVOKE_URL": "https://x.io"})


def test_replies_are_cut_into_events_and_reads() -> None:
    events = ChunkSplitter(events=True)
    assert events.feed('data: {"a":1}\n\ndata: {"b"') == ['{"a":1}']
    assert events.feed(":2}\n\n: keep-alive\n\n") == ['{"b":2}']
    assert events.feed('{"error": "Unhandled exception during response stream: x"}') == []
    (last,) = events.finish()
    assert stream_error(last) == "Unhandled exception during response stream: x"
    assert ChunkSplitter(events=False).feed("raw text") == ["raw text"]


LLM = {
    "name": "org/model",
    "spec": {
        "standard_template": "vllm",
        "cords": [
            {"public_api_path": "/v1/chat/completions", "stream": False, "function": "chat"},
            {"public_api_path": "/v1/chat/completions", "stream": True, "function": "chat_s"},
        ],
    },
}


def test_an_llm_template_answers_in_openais_shapes() -> None:
    body = {"messages": [{"role": "user", "content": "hi there"}], "stream": True}
    cord = match_cord(LLM["spec"], "POST", "/v1/chat/completions", stream=True)
    assert cord is not None and cord["function"] == "chat_s"
    reply = plan_reply(LLM, cord, body, True, "/v1/chat/completions")
    texts = [text for _, text in reply.chunks]
    assert texts[-1] == "data: [DONE]\n\n"
    first = json.loads(texts[0].removeprefix("data: "))
    assert first["object"] == "chat.completion.chunk" and first["model"] == "org/model"
    plain_cord = match_cord(LLM["spec"], "POST", "/v1/chat/completions", stream=False)
    assert plain_cord is not None
    plain = plan_reply(LLM, plain_cord, {**body, "stream": False}, False, "/v1/chat/completions")
    assert plain.body["choices"][0]["message"]["content"] == "echo: hi there"
    assert match_cord(LLM["spec"], "GET", "/v1/chat/completions", stream=False) is None


SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "what to say"},
        "times": {"type": "integer", "default": 2},
        "loud": {"type": "boolean"},
    },
    "required": ["text"],
}


def test_a_simple_schema_is_a_form_and_the_rest_a_checked_json_text() -> None:
    fields = simple_fields(SCHEMA)
    assert fields is not None and [field.name for field in fields] == ["text", "times", "loud"]
    assert form_body(fields, {"text": "hi", "times": "3", "loud": True}) == (
        {"text": "hi", "times": 3, "loud": True},
        None,
    )
    assert form_body(fields, {"text": "", "times": "", "loud": False})[1] == "text is required"
    assert form_body(fields, {"text": "x", "times": "two"})[1] == "times must be a whole number"
    nested = {"type": "object", "properties": {"item": {"$ref": "#/$defs/Item"}}}
    assert simple_fields(nested) is None
    assert json.loads(skeleton("/echo", SCHEMA)) == {"text": "", "times": 2, "loud": False}
    assert "messages" in json.loads(skeleton("/v1/chat/completions", None))
    assert check_json('{"times": 1}', SCHEMA) == (None, "missing: text")
    assert check_json("[1]", SCHEMA) == (None, "the body must be a JSON object")
    assert check_json('{"text": ', SCHEMA)[1].startswith("line 1, column 10")
    assert check_json('{"text": "ok"}', SCHEMA) == ({"text": "ok"}, None)


@pytest.mark.parametrize(
    ("balance", "burn", "words"),
    [
        (50.0, 0.65, "3 d 4 h"),
        (1.0, 0.2, "5 h 0 min"),
        (0.1, 0.2, "30 min"),
        (0.0, 0.2, "used up"),
        (50.0, 0.0, "no burn"),
        (None, None, "unknown"),
    ],
)
def test_the_runway_in_words(balance: float | None, burn: float | None, words: str) -> None:
    assert runway_text(runway_hours(balance, burn), burn) == words
