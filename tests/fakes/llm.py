"""Replies in the real wire formats of the OpenAI, Anthropic and Ollama HTTP APIs.

Mount them on a :class:`~tests.fakes.http.FakeServer` so the official async clients
(``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``, ``ollama.AsyncClient``) parse them
over real sockets::

    with fake_server() as server:
        script = Script([openai_error(429, "slow down", retry_after=0.05), openai_chat_reply("hi")])
        server.route("POST", "/v1/chat/completions", script)
        client = openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key="k", max_retries=0)

Paths the clients call (relative to the base URL each client is given):

* OpenAI: ``POST /v1/chat/completions`` (and ``POST /v1/moderations``, see
  :func:`openai_moderation_reply`) with ``base_url=server.base_url + "/v1"``.
* Anthropic: ``POST /v1/messages`` with ``base_url=server.base_url`` (the SDK adds ``/v1``).
* Ollama: ``POST /api/chat`` and ``GET /api/tags`` with ``host=server.base_url``.

A truncated-JSON reply is a reply whose content is cut short with the API's own signal
(``openai_chat_reply('{"title": "Amb', finish_reason="length")``, Anthropic's
``stop_reason="max_tokens"``, Ollama's ``done_reason="length"``); a hung server is
``Reply(delay=seconds, ...)`` or ``dataclasses.replace(openai_chat_reply("late"), delay=5.0)``.
``openai_reasoning_model(handler)`` answers like OpenAI's reasoning models, which refuse
``max_tokens``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .http import Handler, Reply

__all__ = [
    "Script",
    "anthropic_error",
    "anthropic_message_reply",
    "ollama_chat_reply",
    "ollama_error",
    "ollama_tags_reply",
    "openai_chat_reply",
    "openai_error",
    "openai_moderation_reply",
    "openai_reasoning_model",
]


def _hex(n: int) -> str:
    return uuid.uuid4().hex[:n]


def _retry_headers(retry_after: float | str | None) -> dict[str, str]:
    """``retry-after`` as (possibly fractional) seconds, or a string as given (an HTTP
    date such as ``Wed, 21 Oct 2026 07:28:00 GMT``, the header's other form)."""
    if retry_after is None:
        return {}
    if isinstance(retry_after, str):
        return {"retry-after": retry_after}
    return {"retry-after": f"{retry_after:g}"}


# --------------------------------------------------------------------------- OpenAI


def _openai_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """Accept either the full OpenAI shape or a short ``{"name", "arguments"}`` dict."""
    fn: Mapping[str, Any] = call.get("function", call)
    arguments = fn.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call.get("id") or f"call_{_hex(24)}",
        "type": "function",
        "function": {"name": fn["name"], "arguments": arguments},
    }


def openai_chat_reply(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4o-mini",
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    finish_reason: str | None = None,
    refusal: str | None = None,
) -> Reply:
    """A ``POST /v1/chat/completions`` (non-streaming) success body.

    ``tool_calls`` items are either OpenAI-shaped (``{"id", "type", "function": {"name",
    "arguments"}}``) or short (``{"name": ..., "arguments": {...}}``); ``arguments`` given as
    a dict is JSON-encoded, as the API always sends a string. ``finish_reason`` defaults to
    ``"tool_calls"`` when there are tool calls, else ``"stop"``. ``refusal`` is the text of
    a model that declined (the API then sends ``content: null`` and ``finish_reason:
    "stop"``).
    """
    calls = [_openai_tool_call(c) for c in tool_calls] if tool_calls else None
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if refusal is not None else content,
        "refusal": refusal,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = calls
    body = {
        "id": f"chatcmpl-{_hex(29)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_{_hex(10)}",
    }
    return Reply(200, body, {"x-request-id": f"req_{_hex(32)}"})


_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error(
    status: int,
    message: str,
    *,
    retry_after: float | str | None = None,
    error_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> Reply:
    """An OpenAI error: ``{"error": {"message", "type", "param", "code"}}``.

    ``type``/``code`` follow the status (429 → ``requests``/``rate_limit_exceeded``, 5xx →
    ``server_error``) unless given; ``param`` names the request field at fault.
    """
    default_type, default_code = _OPENAI_ERRORS.get(
        status, ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    )
    body = {
        "error": {
            "message": message,
            "type": error_type or default_type,
            "param": param,
            "code": code or default_code,
        }
    }
    headers = {"x-request-id": f"req_{_hex(32)}", **_retry_headers(retry_after)}
    return Reply(status, body, headers)


#: OpenAI's answer when a reasoning model (o-series, gpt-5) is sent ``max_tokens``.
UNSUPPORTED_MAX_TOKENS = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)


def openai_reasoning_model(handler: Handler) -> Handler:
    """``POST /v1/chat/completions`` as OpenAI serves a reasoning model: a request with
    ``max_tokens`` is refused (400, ``param: max_tokens``, ``code:
    unsupported_parameter``) and nothing is generated; others go to ``handler``."""

    def serve(body: dict[str, Any]) -> Reply:
        if "max_tokens" in body:
            return openai_error(
                400, UNSUPPORTED_MAX_TOKENS, param="max_tokens", code="unsupported_parameter"
            )
        return handler(body)

    return serve


#: Categories of OpenAI's ``omni-moderation`` models, in the order it reports them.
OPENAI_MODERATION_CATEGORIES = (
    "sexual", "sexual/minors", "harassment", "harassment/threatening", "hate",
    "hate/threatening", "illicit", "illicit/violent", "self-harm", "self-harm/intent",
    "self-harm/instructions", "violence", "violence/graphic",
)  # fmt: skip


def openai_moderation_reply(body: Mapping[str, Any], flags: Mapping[str, str]) -> Reply:
    """A ``POST /v1/moderations`` reply: one result per input, a category flagged when
    the input contains one of ``flags``' words (``{"crowbar": "violence"}``)."""
    given = body.get("input", "")
    inputs = given if isinstance(given, list) else [given]
    results = []
    for text in inputs:
        hit = {category for word, category in flags.items() if word in str(text).lower()}
        categories = {name: name in hit for name in OPENAI_MODERATION_CATEGORIES}
        results.append({
            "flagged": bool(hit),
            "categories": categories,
            "category_scores": {n: 0.97 if v else 0.001 for n, v in categories.items()},
            "category_applied_input_types": {n: ["text"] for n in OPENAI_MODERATION_CATEGORIES},
        })  # fmt: skip
    return Reply(
        200,
        {"id": f"modr-{_hex(24)}", "model": body.get("model", "omni-moderation-latest"),
         "results": results},
        {"x-request-id": f"req_{_hex(32)}"},
    )  # fmt: skip


# --------------------------------------------------------------------------- Anthropic


def anthropic_message_reply(
    *,
    text: str | None = None,
    tool_use: tuple[str, dict[str, Any]] | list[tuple[str, dict[str, Any]]] | None = None,
    model: str = "claude-3-5-sonnet-20241022",
    input_tokens: int = 100,
    output_tokens: int = 50,
    stop_reason: str | None = None,
) -> Reply:
    """A ``POST /v1/messages`` (non-streaming) success body.

    Content is a text block (if ``text`` is given) followed by one ``tool_use`` block per
    ``(name, input)`` pair. ``stop_reason`` defaults to ``"tool_use"`` when there are tool
    uses, else ``"end_turn"``.
    """
    uses = [tool_use] if isinstance(tool_use, tuple) else list(tool_use or [])
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    for name, tool_input in uses:
        content.append(
            {"type": "tool_use", "id": f"toolu_{_hex(24)}", "name": name, "input": tool_input}
        )
    body = {
        "id": f"msg_{_hex(24)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }
    return Reply(200, body, {"request-id": f"req_{_hex(24)}"})


_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error(
    status: int,
    message: str,
    *,
    retry_after: float | str | None = None,
    error_type: str | None = None,
) -> Reply:
    """An Anthropic error: ``{"type": "error", "error": {"type", "message"}, "request_id"}``.

    ``error.type`` follows the status (429 ``rate_limit_error``, 500 ``api_error``, 529
    ``overloaded_error``, other 4xx ``invalid_request_error``, other 5xx ``api_error``).
    """
    default = _ANTHROPIC_ERRORS.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    request_id = f"req_{_hex(24)}"
    body = {
        "type": "error",
        "error": {"type": error_type or default, "message": message},
        "request_id": request_id,
    }
    return Reply(status, body, {"request-id": request_id, **_retry_headers(retry_after)})


# --------------------------------------------------------------------------- Ollama


def _ollama_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ollama_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``{"function": {"name", "arguments"}}`` or short ``{"name", "arguments"}``."""
    fn: Mapping[str, Any] = call.get("function", call)
    arguments = fn.get("arguments", {})
    if isinstance(arguments, str):  # Ollama sends an object, never a JSON string
        arguments = json.loads(arguments)
    return {"function": {"name": fn["name"], "arguments": arguments}}


def ollama_chat_reply(
    content: str,
    *,
    model: str = "llama3.1",
    prompt_eval_count: int = 100,
    eval_count: int = 50,
    tool_calls: list[dict[str, Any]] | None = None,
    done_reason: str = "stop",
) -> Reply:
    """A ``POST /api/chat`` body for ``"stream": false`` (durations in nanoseconds).
    ``done_reason`` is ``"length"`` when the reply hit ``num_predict``."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [_ollama_tool_call(c) for c in tool_calls]
    body = {
        "model": model,
        "created_at": _ollama_now(),
        "message": message,
        "done_reason": done_reason,
        "done": True,
        "total_duration": 1_500_000_000,
        "load_duration": 20_000_000,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": 300_000_000,
        "eval_count": eval_count,
        "eval_duration": 1_100_000_000,
    }
    return Reply(200, body)


def ollama_tags_reply(models: list[str]) -> Reply:
    """A ``GET /api/tags`` body listing local models (``name`` and ``model`` both set)."""
    entries = []
    for name in models:
        full = name if ":" in name else f"{name}:latest"
        entries.append(
            {
                "name": full,
                "model": full,
                "modified_at": "2024-08-01T12:00:00.000000000Z",
                "size": 4_920_753_328,
                "digest": uuid.uuid5(uuid.NAMESPACE_URL, full).hex * 2,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "8.0B",
                    "quantization_level": "Q4_K_M",
                },
            }
        )
    return Reply(200, {"models": entries})


def ollama_error(status: int, message: str) -> Reply:
    """An Ollama error: ``{"error": message}`` (e.g. 404 ``model "x" not found, try pulling it
    first``)."""
    return Reply(status, {"error": message})


# --------------------------------------------------------------------------- Script


class Script:
    """A route handler that answers with queued replies, in order.

    When the queue is exhausted it answers with ``default`` if given, else repeats the last
    reply. Every parsed JSON request body is kept in :attr:`bodies` (thread-safe: the fake
    server answers each connection on its own thread).
    """

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None) -> None:
        self._queue: list[Reply] = list(replies)
        self._last: Reply | None = None
        self.default = default
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def calls(self) -> int:
        return len(self.bodies)

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.bodies.append(body)
            if self._queue:
                self._last = self._queue.pop(0)
                return self._last
            if self.default is not None:
                return self.default
            if self._last is not None:
                return self._last
        return Reply(500, {"error": {"message": "Script: no reply queued and no default"}})
