"""Anthropic's Messages API. Structured output by forced tool use: the model must call
one tool whose input schema is the encounter schema; the tool input is the JSON.
The client is built with ``max_retries=0``: the router retries.

The stop reason tells truncation (``max_tokens``, ``model_context_window_exceeded``)
and refusal (``refusal``) apart from an ordinary answer."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from .llm import (
    ChatResult,
    ClientErrors,
    Completion,
    Message,
    StatusReply,
    ToolCall,
    ToolSpec,
    Usage,
)


def _status(exc: BaseException) -> StatusReply | None:
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code, exc.message, exc.response.headers
    return None


#: The anthropic client's exceptions as ours.
ERRORS = ClientErrors(
    timeout=(anthropic.APITimeoutError,), connection=(anthropic.APIConnectionError,), status=_status
)


class AnthropicProvider:
    def __init__(
        self,
        *,
        api_key: str | None,
        model: str = "claude-3-5-sonnet-20241022",
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "anthropic",
        max_tokens: int = 2000,
    ) -> None:
        self.name = name
        self.model = model
        self.max_tokens = max_tokens
        self.secrets: tuple[str, ...] = (api_key,) if api_key else ()
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    @staticmethod
    def _split(messages: list[Message]) -> tuple[str, list[Any]]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        rest = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        return system, rest

    async def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, schema_name: str
    ) -> Completion:
        system, rest = self._split(messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": rest,
            "tools": [{
                "name": schema_name,
                "description": "Return the result by calling this tool exactly once.",
                "input_schema": schema,
            }],
            "tool_choice": {"type": "tool", "name": schema_name},
        }  # fmt: skip
        if system:
            params["system"] = system
        try:
            response = await self.client.messages.create(**params)
        except anthropic.AnthropicError as exc:
            raise ERRORS.translate(self.name, exc) from exc
        text = ""
        for block in response.content:
            if block.type == "tool_use" and block.name == schema_name:
                text = json.dumps(block.input)
                break
        else:  # no tool call (e.g. it ran out of tokens): the text is all there is
            text = "".join(b.text for b in response.content if b.type == "text")
        return Completion(
            text=text,
            usage=_usage(response.usage),
            model=response.model,
            truncated=response.stop_reason in _TRUNCATED,
            refusal=_refusal(response),
        )

    async def chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        system, rest = self._split(messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": rest,
        }
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        try:
            response = await self.client.messages.create(**params)
        except anthropic.AnthropicError as exc:
            raise ERRORS.translate(self.name, exc) from exc
        texts = [b.text for b in response.content if b.type == "text"]
        calls = [
            ToolCall(b.name, dict(b.input) if isinstance(b.input, dict) else {}, b.id)
            for b in response.content
            if b.type == "tool_use"
        ]
        return ChatResult(
            " ".join(texts),
            calls,
            _usage(response.usage),
            response.model,
            truncated=response.stop_reason in _TRUNCATED,
            refusal=_refusal(response),
        )

    async def probe(self) -> None:
        try:
            await self.client.models.retrieve(self.model)
        except anthropic.AnthropicError as exc:
            raise ERRORS.translate(self.name, exc) from exc

    async def aclose(self) -> None:
        await self.client.close()


#: Stop reasons meaning the answer was cut short.
_TRUNCATED = frozenset({"max_tokens", "model_context_window_exceeded"})


def _refusal(response: Any) -> str | None:
    """The refusal (the text the model gave, if any) when it stopped to refuse."""
    if response.stop_reason != "refusal":
        return None
    text = " ".join(b.text for b in response.content if b.type == "text").strip()
    return text or "the model refused (stop reason refusal)"


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(int(usage.input_tokens or 0), int(usage.output_tokens or 0))
