"""The loopback OpenAI server, driven by the real ``openai`` SDK over real HTTP."""

from __future__ import annotations

import openai
import pytest

from tracejudge.testing import Fail, OpenAIServer, ScriptedResponder, count_tokens, fake_embedding

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of France?"},
]


def _client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=5)


def test_chat_echo_with_usage_and_recorded_request() -> None:
    with OpenAIServer() as server:
        reply = _client(server).chat.completions.create(model="gpt-test", messages=MESSAGES)
        recorded = server.requests
    assert reply.choices[0].message.content == "Echo: What is the capital of France?"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-test"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_tokens(
        "You are terse. What is the capital of France?"
    )
    assert reply.usage.completion_tokens == 7  # words of the echo
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 7
    assert [r.path for r in recorded] == ["/v1/chat/completions"]
    assert recorded[0].json["messages"] == MESSAGES
    assert recorded[0].headers["authorization"] == "Bearer test"


def test_tool_calls_then_text_with_scripted_responder() -> None:
    responder = ScriptedResponder(
        [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"content": "Sunny.", "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
        ]
    )
    with OpenAIServer(responder) as server:
        client = _client(server)
        first = client.chat.completions.create(model="m", messages=MESSAGES)
        second = client.chat.completions.create(model="m", messages=MESSAGES)
        third = client.chat.completions.create(model="m", messages=MESSAGES)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city": "Paris"}'
    assert call.id.startswith("call_")
    assert second.choices[0].message.content == "Sunny."
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (7, 2)
    assert third.choices[0].message.content == "Sunny."  # the last reply repeats


def test_streaming_text_tool_calls_and_usage_chunk() -> None:
    responder = ScriptedResponder(
        ["Paris is the capital.", {"tool_calls": [{"name": "f", "arguments": {"x": 1}}]}]
    )
    with OpenAIServer(responder) as server:
        client = _client(server)
        stream = client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        tool_chunks = list(
            client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Paris is the capital."
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    args = "".join(
        tc.function.arguments or ""
        for c in tool_chunks
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
    )
    assert args == '{"x": 1}'
    assert tool_chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(c.usage is None for c in tool_chunks)  # no usage unless include_usage


def test_embeddings_float_and_base64_are_deterministic() -> None:
    with OpenAIServer(embedding_dimensions=4) as server:
        client = _client(server)
        via_sdk = client.embeddings.create(model="e", input=["alpha", "beta"])  # SDK asks base64
        raw = client.post(
            "/embeddings",
            body={"model": "e", "input": "alpha", "encoding_format": "float"},
            cast_to=object,
        )
        sent_format = server.requests[0].json.get("encoding_format")
    assert len(via_sdk.data) == 2
    assert via_sdk.data[0].embedding == pytest.approx(fake_embedding("alpha", 4), abs=1e-6)
    assert raw["data"][0]["embedding"] == fake_embedding("alpha", 4)
    assert via_sdk.usage.prompt_tokens == 2
    assert sent_format in (None, "base64", "float")


def test_injected_failures_and_responder_errors() -> None:
    def responder(request: dict) -> str:
        if "boom" in str(request["messages"]):
            raise Fail(429, "slow down")
        if "crash" in str(request["messages"]):
            raise RuntimeError("bug")
        return "ok"

    with OpenAIServer(responder) as server:
        client = _client(server)
        server.fail_next(503, times=2)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="m", messages=MESSAGES)
        assert (
            client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
            == "ok"
        )
        with pytest.raises(openai.RateLimitError, match="slow down"):
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "boom"}]
            )
        with pytest.raises(openai.InternalServerError, match="responder failed"):
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "crash"}]
            )
        with pytest.raises(openai.NotFoundError):
            client.post("/nope", body={}, cast_to=object)
        assert len(server.requests) == 6


def test_latency_triggers_client_timeout() -> None:
    with OpenAIServer(latency_s=0.5) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0, timeout=0.1)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=MESSAGES)


def test_stop_releases_port_and_is_idempotent() -> None:
    server = OpenAIServer().start()
    port = server.port
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    assert port > 0
