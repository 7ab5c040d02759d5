"""The fake LLM replies are parsed by the official async clients over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anthropic
import anyio
import ollama
import openai
import pytest

from tests.fakes.http import FakeServer, Reply, fake_server
from tests.fakes.llm import (
    UNSUPPORTED_MAX_TOKENS,
    Script,
    anthropic_error,
    anthropic_message_reply,
    ollama_chat_reply,
    ollama_error,
    ollama_tags_reply,
    openai_chat_reply,
    openai_error,
    openai_reasoning_model,
)

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def run(fn: Callable[[], Awaitable[None]]) -> None:
    anyio.run(fn)


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FakeServer]:
    # One server per module: ``FakeServer.stop()`` costs ~0.5 s (serve_forever's poll).
    with fake_server() as server:
        yield server


@pytest.fixture
def server(_shared_server: FakeServer) -> FakeServer:
    _shared_server.routes.clear()
    _shared_server.requests.clear()
    return _shared_server


def openai_client(server: FakeServer, timeout: float = 5.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.base_url + "/v1", api_key="sk-test", max_retries=0, timeout=timeout
    )


def anthropic_client(server: FakeServer, timeout: float = 5.0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="sk-ant-test", max_retries=0, timeout=timeout
    )


async def openai_create(server: FakeServer, timeout: float = 5.0) -> Any:
    async with openai_client(server, timeout) as client:
        return await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


async def anthropic_create(server: FakeServer, timeout: float = 5.0) -> Any:
    async with anthropic_client(server, timeout) as client:
        return await client.messages.create(
            model="claude-3-5-sonnet-20241022", max_tokens=256, messages=MESSAGES
        )


# --------------------------------------------------------------------------- OpenAI


def test_openai_parses_content_and_usage(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", OPENAI_PATH, lambda _: openai_chat_reply('{"title": "Amb'))
        completion = await openai_create(server)
        choice = completion.choices[0]
        assert choice.message.content == '{"title": "Amb'
        assert choice.message.role == "assistant"
        assert choice.message.tool_calls is None
        assert choice.finish_reason == "stop"
        assert completion.model == "gpt-4o-mini"
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == 100
        assert completion.usage.completion_tokens == 50
        assert completion.usage.total_tokens == 150
        request = server.requests[0]
        assert request.headers["authorization"] == "Bearer sk-test"
        assert request.body["messages"] == MESSAGES

    run(main)


def test_openai_parses_tool_calls(server: FakeServer) -> None:
    async def main() -> None:
        reply = openai_chat_reply(
            tool_calls=[
                {"name": "spawn_npc", "arguments": {"name": "Marta", "hp": 3}},
                {
                    "id": "call_fixed",
                    "type": "function",
                    "function": {"name": "roll", "arguments": '{"d": 20}'},
                },
            ],
            prompt_tokens=7,
            completion_tokens=3,
        )
        server.route("POST", OPENAI_PATH, lambda _: reply)
        completion = await openai_create(server)
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        calls = choice.message.tool_calls
        assert calls is not None and len(calls) == 2
        first, second = calls
        assert first.type == "function" and first.id.startswith("call_")
        assert first.function.name == "spawn_npc"
        assert json.loads(first.function.arguments) == {"name": "Marta", "hp": 3}
        assert second.id == "call_fixed"
        assert second.function.name == "roll"
        assert json.loads(second.function.arguments) == {"d": 20}
        assert completion.usage is not None and completion.usage.total_tokens == 10

    run(main)


def test_openai_rate_limit_carries_retry_after(server: FakeServer) -> None:
    async def main() -> None:
        server.route(
            "POST", OPENAI_PATH, lambda _: openai_error(429, "slow down", retry_after=0.05)
        )
        with pytest.raises(openai.RateLimitError) as caught:
            await openai_create(server)
        err = caught.value
        assert err.status_code == 429
        assert err.response.headers["retry-after"] == "0.05"
        assert err.code == "rate_limit_exceeded"
        assert err.type == "requests"
        assert isinstance(err.body, dict) and err.body["message"] == "slow down"

    run(main)


def test_openai_server_error(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", OPENAI_PATH, lambda _: openai_error(500, "boom"))
        with pytest.raises(openai.InternalServerError) as caught:
            await openai_create(server)
        assert caught.value.status_code == 500
        assert caught.value.type == "server_error"

    run(main)


def test_openai_hung_server_times_out(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", OPENAI_PATH, lambda _: Reply(200, {}, delay=1.0))
        with pytest.raises(openai.APITimeoutError):
            await openai_create(server, timeout=0.3)

    run(main)


def test_openai_script_retries_after_429(server: FakeServer) -> None:
    """With retries on, the client honours ``retry-after`` and gets the queued success."""

    async def main() -> None:
        script = Script(
            [openai_error(429, "slow down", retry_after=0.05), openai_chat_reply('{"a":1}')]
        )
        server.route("POST", OPENAI_PATH, script)
        client = openai.AsyncOpenAI(
            base_url=server.base_url + "/v1", api_key="sk-test", max_retries=1, timeout=5.0
        )
        async with client:
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES
            )
        assert completion.choices[0].message.content == '{"a":1}'
        assert script.calls == 2
        assert all(body["model"] == "gpt-4o-mini" for body in script.bodies)
        assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]

    run(main)


def test_openai_refusal_and_length_stop(server: FakeServer) -> None:
    async def main() -> None:
        script = Script([
            openai_chat_reply(refusal="I can't help with that."),
            openai_chat_reply('{"title": "Amb', finish_reason="length"),
        ])  # fmt: skip
        server.route("POST", OPENAI_PATH, script)
        refused = (await openai_create(server)).choices[0]
        assert refused.message.content is None
        assert refused.message.refusal == "I can't help with that."
        assert refused.finish_reason == "stop"
        cut = (await openai_create(server)).choices[0]
        assert (cut.finish_reason, cut.message.content) == ("length", '{"title": "Amb')

    run(main)


def test_openai_reasoning_model_refuses_max_tokens(server: FakeServer) -> None:
    """What the openai client reports for OpenAI's reasoning models sent max_tokens."""

    async def main() -> None:
        server.route("POST", OPENAI_PATH, openai_reasoning_model(lambda _: openai_chat_reply("ok")))
        async with openai_client(server) as client:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model="o4-mini", messages=MESSAGES, max_tokens=5
                )
            accepted = await client.chat.completions.create(
                model="o4-mini", messages=MESSAGES, max_completion_tokens=5
            )
        err = caught.value
        assert (err.status_code, err.param, err.code) == (
            400,
            "max_tokens",
            "unsupported_parameter",
        )
        assert err.type == "invalid_request_error"
        assert isinstance(err.body, dict) and err.body["message"] == UNSUPPORTED_MAX_TOKENS
        assert accepted.choices[0].message.content == "ok"

    run(main)


def test_openai_retry_after_as_an_http_date(server: FakeServer) -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"

    async def main() -> None:
        server.route("POST", OPENAI_PATH, lambda _: openai_error(429, "later", retry_after=date))
        with pytest.raises(openai.RateLimitError) as caught:
            await openai_create(server)
        assert caught.value.response.headers["retry-after"] == date

    run(main)


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_parses_text_tool_use_and_usage(server: FakeServer) -> None:
    async def main() -> None:
        reply = anthropic_message_reply(
            text="Spawning.", tool_use=("spawn_npc", {"name": "Marta", "traits": ["gruff"]})
        )
        server.route("POST", ANTHROPIC_PATH, lambda _: reply)
        message = await anthropic_create(server)
        assert message.stop_reason == "tool_use"
        assert message.model == "claude-3-5-sonnet-20241022"
        text, tool = message.content
        assert text.type == "text" and text.text == "Spawning."
        assert tool.type == "tool_use"
        assert tool.id.startswith("toolu_")
        assert tool.name == "spawn_npc"
        assert tool.input == {"name": "Marta", "traits": ["gruff"]}
        assert message.usage.input_tokens == 100
        assert message.usage.output_tokens == 50
        request = server.requests[0]
        # anthropic>=2 sends the API key as a bearer token, not ``x-api-key``.
        assert request.headers["authorization"] == "Bearer sk-ant-test"
        assert request.headers["anthropic-version"]
        assert request.body["max_tokens"] == 256

    run(main)


def test_anthropic_text_only_and_several_tools(server: FakeServer) -> None:
    async def main() -> None:
        script = Script(
            [
                anthropic_message_reply(text='{"title": "Amb', output_tokens=9),
                anthropic_message_reply(tool_use=[("a", {"x": 1}), ("b", {})]),
            ]
        )
        server.route("POST", ANTHROPIC_PATH, script)
        first = await anthropic_create(server)
        assert first.stop_reason == "end_turn"
        assert [b.type for b in first.content] == ["text"]
        assert first.content[0].text == '{"title": "Amb'
        assert first.usage.output_tokens == 9
        second = await anthropic_create(server)
        assert [(b.name, b.input) for b in second.content] == [("a", {"x": 1}), ("b", {})]
        assert script.calls == 2

    run(main)


def test_anthropic_rate_limit(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", ANTHROPIC_PATH, lambda _: anthropic_error(429, "slow", retry_after=2))
        with pytest.raises(anthropic.RateLimitError) as caught:
            await anthropic_create(server)
        err = caught.value
        assert err.status_code == 429
        assert err.response.headers["retry-after"] == "2"
        assert err.type == "rate_limit_error"
        assert err.api_message == "slow"
        assert err.request_id is not None and err.request_id.startswith("req_")

    run(main)


@pytest.mark.parametrize(
    ("status", "error_type", "exc"),
    [
        (529, "overloaded_error", anthropic.InternalServerError),
        (500, "api_error", anthropic.InternalServerError),
        (400, "invalid_request_error", anthropic.BadRequestError),
    ],
)
def test_anthropic_status_errors(
    server: FakeServer, status: int, error_type: str, exc: type[Exception]
) -> None:
    async def main() -> None:
        server.route("POST", ANTHROPIC_PATH, lambda _: anthropic_error(status, "nope"))
        with pytest.raises(exc) as caught:
            await anthropic_create(server)
        err = caught.value
        assert isinstance(err, anthropic.APIStatusError)
        assert err.status_code == status
        assert err.type == error_type

    run(main)


def test_anthropic_hung_server_times_out(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", ANTHROPIC_PATH, lambda _: Reply(200, {}, delay=1.0))
        with pytest.raises(anthropic.APITimeoutError):
            await anthropic_create(server, timeout=0.3)

    run(main)


# --------------------------------------------------------------------------- Ollama


def test_ollama_chat_parses_content_tool_calls_and_counts(server: FakeServer) -> None:
    async def main() -> None:
        script = Script(
            [
                ollama_chat_reply("hello", prompt_eval_count=12, eval_count=3),
                ollama_chat_reply(
                    "",
                    tool_calls=[
                        {"function": {"name": "spawn_npc", "arguments": {"name": "Marta"}}},
                        {"name": "roll", "arguments": {"d": 20}},
                    ],
                ),
            ]
        )
        server.route("POST", "/api/chat", script)
        async with ollama.AsyncClient(host=server.base_url) as client:
            first = await client.chat(model="llama3.1", messages=MESSAGES)
            second = await client.chat(model="llama3.1", messages=MESSAGES)
        assert first.message.content == "hello"
        assert first.message.role == "assistant"
        assert first.done is True and first.done_reason == "stop"
        assert first.prompt_eval_count == 12 and first.eval_count == 3
        assert first.model == "llama3.1"
        calls = second.message.tool_calls
        assert calls is not None
        assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
            ("spawn_npc", {"name": "Marta"}),
            ("roll", {"d": 20}),
        ]
        assert script.bodies[0]["stream"] is False
        assert script.bodies[0]["model"] == "llama3.1"

    run(main)


def test_ollama_done_reason_length(server: FakeServer) -> None:
    async def main() -> None:
        server.route("POST", "/api/chat", lambda _: ollama_chat_reply('{"a', done_reason="length"))
        async with ollama.AsyncClient(host=server.base_url) as client:
            reply = await client.chat(
                model="llama3.1", messages=MESSAGES, options={"num_predict": 2}
            )
        assert (reply.done_reason, reply.message.content) == ("length", '{"a')
        assert server.requests[0].body["options"] == {"num_predict": 2}

    run(main)


def test_ollama_list_parses_tags(server: FakeServer) -> None:
    async def main() -> None:
        server.route("GET", "/api/tags", lambda _: ollama_tags_reply(["llama3.1", "qwen2:7b"]))
        async with ollama.AsyncClient(host=server.base_url) as client:
            listed = await client.list()
        assert [m.model for m in listed.models] == ["llama3.1:latest", "qwen2:7b"]
        first = listed.models[0]
        assert first.details is not None and first.details.family == "llama"
        assert first.size is not None and first.modified_at is not None

    run(main)


def test_ollama_error_raises_response_error(server: FakeServer) -> None:
    async def main() -> None:
        message = 'model "nope" not found, try pulling it first'
        server.route("POST", "/api/chat", lambda _: ollama_error(404, message))
        async with ollama.AsyncClient(host=server.base_url) as client:
            with pytest.raises(ollama.ResponseError) as caught:
                await client.chat(model="nope", messages=MESSAGES)
        assert caught.value.status_code == 404
        assert caught.value.error == message

    run(main)


# --------------------------------------------------------------------------- Script


def test_script_repeats_last_then_default() -> None:
    a, b, fallback = Reply(200, {"n": 1}), Reply(200, {"n": 2}), Reply(503, {"n": 0})
    script = Script([a, b])
    assert [script({"i": i}) for i in range(4)] == [a, b, b, b]
    assert script.bodies == [{"i": i} for i in range(4)]
    assert script.calls == 4

    with_default = Script([a], default=fallback)
    assert [with_default({}) for _ in range(3)] == [a, fallback, fallback]
    with_default.push(b)
    assert with_default({}) is b and with_default.remaining == 0

    assert Script()({}).status == 500
