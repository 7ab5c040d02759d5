"""OpenAI, and every server that speaks its chat-completions API (LM Studio, vLLM,
llama.cpp's server): set ``base_url``.

Structured output uses ``response_format`` with a strict JSON Schema; tools use
function calling. The client is built with ``max_retries=0``: the router retries.

The output cap is sent as ``max_tokens``, which OpenAI's non-reasoning models and
compatible servers accept. A server that refuses it (OpenAI's reasoning models answer
400 ``unsupported_parameter`` and name ``max_completion_tokens``) is asked again at once
with the other name, which this provider then keeps using. The choice follows what the
server says, not its URL; the cost is one refused request per provider instance.
"""

from __future__ import annotations

import json
from typing import Any

import openai

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


def _status(exc: BaseException) -> StatusReply | None:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code, exc.message, exc.response.headers
    return None


#: The openai client's exceptions as ours.
ERRORS = ClientErrors(
    timeout=(openai.APITimeoutError,), connection=(openai.APIConnectionError,), status=_status
)


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
        self.secrets: tuple[str, ...] = (api_key,) if api_key else ()
        #: The output cap's parameter name, switched when the server refuses it.
        self.limit_param = "max_tokens"
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
        }
        response = await self._create(params)
        choice = response.choices[0] if response.choices else None
        return Completion(
            text=(choice.message.content or "") if choice else "",
            usage=_usage(response.usage),
            model=response.model or self.model,
            truncated=choice is not None and choice.finish_reason == "length",
            refusal=_refusal(choice),
        )

    async def chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(messages),
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
        response = await self._create(params)
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
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
            truncated=choice is not None and choice.finish_reason == "length",
            refusal=_refusal(choice),
        )

    async def _create(self, params: dict[str, Any]) -> Any:
        """One chat completion with the output cap under the name the server takes
        (a refused name is swapped for the other and the request sent once more)."""
        for swapped in (False, True):
            try:
                return await self.client.chat.completions.create(
                    **{**params, self.limit_param: self.max_tokens}
                )
            except openai.BadRequestError as exc:
                other = _other_limit_param(exc, self.limit_param)
                if other is None or swapped:
                    raise ERRORS.translate(self.name, exc) from exc
                self.limit_param = other
            except openai.OpenAIError as exc:
                raise ERRORS.translate(self.name, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def probe(self) -> None:
        try:
            await self.client.models.retrieve(self.model)
            return
        except openai.NotFoundError:
            pass  # compatible servers (llama.cpp, vLLM) may only have the list
        except openai.OpenAIError as exc:
            raise ERRORS.translate(self.name, exc) from exc
        try:
            page = await self.client.models.list()
        except openai.OpenAIError as exc:
            raise ERRORS.translate(self.name, exc) from exc
        names = [m.id for m in page.data]
        if self.model not in names:
            raise ProviderError(self.name, _missing(self.model, names), status=404)

    async def aclose(self) -> None:
        await self.client.close()


def _refusal(choice: Any) -> str | None:
    """The model's refusal text, or the content filter's verdict, or None."""
    if choice is None:
        return None
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        return str(refusal)
    if choice.finish_reason == "content_filter":
        return "stopped by the content filter"
    return None


def _other_limit_param(exc: openai.BadRequestError, sent: str) -> str | None:
    """The other output-cap name when the server refused the one ``sent`` as unknown or
    unsupported, else None (a 400 about its value, say too large, is not a refusal).

    OpenAI names the parameter in ``param`` with code ``unsupported_parameter``; other
    servers only say it in the message ("Unrecognized request argument supplied",
    "Extra inputs are not permitted"), so the message counts too."""
    other = "max_completion_tokens" if sent == "max_tokens" else "max_tokens"
    message = exc.message or ""
    lowered = message.lower()
    about = exc.param == sent or sent in message
    refused = (
        exc.code == "unsupported_parameter"
        or other in message
        or any(word in lowered for word in _REFUSED_WORDS)
    )
    return other if about and refused else None


_REFUSED_WORDS = ("unsupported", "not supported", "unrecognized", "unknown", "not permitted")


def _missing(model: str, names: list[str]) -> str:
    shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
    return f"model {model!r} is not on the server (it has: {shown or 'none'})"


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))
