"""Ollama (local models). Structured output by ``format`` set to the JSON Schema;
health from ``/api/tags`` (is the model pulled?).

Output is capped with ``num_predict`` like the other providers' ``max_tokens``; a reply
that hit it has ``done_reason: length``. ``host`` None means what the ollama client
does by itself: ``OLLAMA_HOST`` (the variable Ollama's own tools read, in any form they
accept: ``0.0.0.0``, ``host:port``, a URL), else ``http://127.0.0.1:11434``. The
client also sends ``OLLAMA_API_KEY`` when set (Ollama's hosted models), so that value
is one of this provider's secrets."""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

import httpx
import ollama

from .llm import (
    ChatResult,
    ClientErrors,
    Completion,
    Message,
    ProviderError,
    StatusReply,
    ToolCall,
    ToolSpec,
    Usage,
)

#: Headers of the last error response in this task (Ollama's client drops them).
_error_headers: ContextVar[httpx.Headers | None] = ContextVar("ollama_error_headers", default=None)


async def _keep_error_headers(response: httpx.Response) -> None:
    if response.status_code >= 400:
        _error_headers.set(response.headers)


def _status(exc: BaseException) -> StatusReply | None:
    if isinstance(exc, ollama.ResponseError):
        return exc.status_code, exc.error, _error_headers.get()
    return None


#: The ollama client's exceptions (it speaks through httpx) as ours.
ERRORS = ClientErrors(
    timeout=(httpx.TimeoutException,),
    connection=(httpx.TransportError, ConnectionError),
    status=_status,
)


class OllamaProvider:
    def __init__(
        self,
        *,
        host: str | None = None,
        model: str = "llama3.1",
        timeout: float = 60.0,
        name: str = "ollama",
        max_tokens: int = 2000,
    ) -> None:
        self.name = name
        self.model = model
        self.max_tokens = max_tokens
        key = os.environ.get("OLLAMA_API_KEY")
        self.secrets: tuple[str, ...] = (key,) if key else ()
        self.client = ollama.AsyncClient(
            host=host, timeout=timeout, event_hooks={"response": [_keep_error_headers]}
        )

    @staticmethod
    def _messages(messages: list[Message]) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in messages]

    async def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, schema_name: str
    ) -> Completion:
        _error_headers.set(None)
        try:
            response = await self.client.chat(
                model=self.model, messages=self._messages(messages), format=schema,
                options={"temperature": 0.7, "num_predict": self.max_tokens},
            )  # fmt: skip
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise ERRORS.translate(self.name, exc) from exc
        return Completion(
            text=response.message.content or "",
            usage=Usage(response.prompt_eval_count or 0, response.eval_count or 0),
            model=response.model or self.model,
            truncated=response.done_reason == "length",
        )

    async def chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        _error_headers.set(None)
        try:
            response = await self.client.chat(
                model=self.model,
                messages=self._messages(messages),
                tools=[
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
                or None,
                options={"num_predict": self.max_tokens},
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise ERRORS.translate(self.name, exc) from exc
        calls = [
            ToolCall(c.function.name, dict(c.function.arguments or {}))
            for c in response.message.tool_calls or []
        ]
        return ChatResult(
            response.message.content or "",
            calls,
            Usage(response.prompt_eval_count or 0, response.eval_count or 0),
            response.model or self.model,
            truncated=response.done_reason == "length",
        )

    async def probe(self) -> None:
        _error_headers.set(None)
        try:
            listing = await self.client.list()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise ERRORS.translate(self.name, exc) from exc
        names = [m.model for m in listing.models if m.model]
        if self.model not in names and f"{self.model}:latest" not in names:
            shown = ", ".join(names[:10]) or "none"
            raise ProviderError(
                self.name,
                f"model {self.model!r} is not pulled (it has: {shown}); run ollama pull "
                f"{self.model}",
                status=404,
            )

    async def aclose(self) -> None:
        client = getattr(self.client, "_client", None)
        if client is not None:
            await client.aclose()
