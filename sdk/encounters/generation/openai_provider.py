"""OpenAI, and every server that speaks its chat-completions API (LM Studio, vLLM,
llama.cpp's server): set ``base_url``.

Structured output uses ``response_format`` with a strict JSON Schema; tools use
function calling. The client is built with ``max_retries=0``: the router retries.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from .llm import (
    ChatResult,
    Completion,
    Message,
    ProviderError,
    ProviderTimeout,
    RetryableError,
    ToolCall,
    ToolSpec,
    Usage,
    error_for_status,
)


def translate_error(name: str, exc: Exception) -> ProviderError:
    """The client's exception as one of ours (retryable or not)."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout(name, "timed out")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableError(name, f"cannot connect: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return error_for_status(name, exc.status_code, exc.message, exc.response.headers)
    return ProviderError(name, repr(exc))


class OpenAIProvider:
    """``name`` defaults to ``openai``; use another (``lmstudio``) for a local server."""

    def __init__(
        self,
        *,
        api_key: str | None,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        timeout: float = 30.0,
        name: str = "openai",
        max_tokens: int = 2000,
    ) -> None:
        self.name = name
        self.model = model
        self.max_tokens = max_tokens
        # OpenAI's own API takes max_completion_tokens (its reasoning models refuse
        # max_tokens); compatible servers know max_tokens.
        self._limit = "max_completion_tokens" if base_url is None else "max_tokens"
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed-for-local-servers",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    def _messages(self, messages: list[Message]) -> list[Any]:
        return [{"role": m.role, "content": m.content} for m in messages]

    async def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, schema_name: str
    ) -> Completion:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(messages),
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            },
            self._limit: self.max_tokens,
        }
        try:
            response = await self.client.chat.completions.create(**params)
        except openai.OpenAIError as exc:
            raise translate_error(self.name, exc) from exc
        return Completion(
            text=response.choices[0].message.content or "" if response.choices else "",
            usage=_usage(response.usage),
            model=response.model or self.model,
        )

    async def chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(messages),
            self._limit: self.max_tokens,
        }
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
        try:
            response = await self.client.chat.completions.create(**params)
        except openai.OpenAIError as exc:
            raise translate_error(self.name, exc) from exc
        message = response.choices[0].message if response.choices else None
        calls: list[ToolCall] = []
        for call in (message.tool_calls or []) if message else []:
            function = getattr(call, "function", None)
            if function is None:
                continue
            try:
                arguments = json.loads(function.arguments or "{}")
            except ValueError:
                arguments = {"_unparsed": function.arguments}
            calls.append(
                ToolCall(
                    function.name,
                    arguments if isinstance(arguments, dict) else {"_value": arguments},
                    call.id,
                )
            )
        return ChatResult(
            text=(message.content or "") if message else "",
            tool_calls=calls,
            usage=_usage(response.usage),
            model=response.model or self.model,
        )

    async def check_health(self) -> bool:
        try:
            await self.client.models.retrieve(self.model)
            return True
        except openai.OpenAIError:
            pass
        # Compatible servers (llama.cpp, vLLM) may only have the list.
        try:
            page = await self.client.models.list()
        except openai.OpenAIError:
            return False
        return any(m.id == self.model for m in page.data)

    async def aclose(self) -> None:
        await self.client.close()


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))
