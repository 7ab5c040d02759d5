"""What every LLM provider speaks: messages in, JSON or tool calls out, usage counted.

A provider adapts one official client (openai, anthropic, ollama) to
:class:`LLMProvider`. It does one attempt per call and never retries: retries, timeouts
between attempts, cooldowns and fallbacks belong to the router
(:class:`~encounters.generation.router.ProviderManager`), so there is one retry policy
for every provider. Providers translate their client's errors into the three kinds
below, which is all the router needs to know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """A structured completion: the raw text the model produced (JSON, maybe broken).

    ``truncated`` is true when the model stopped at the output token limit (the JSON is
    then usually cut short); ``refusal`` is the model's refusal when it declined to
    answer (OpenAI's ``refusal`` field or content filter, Anthropic's ``refusal`` stop
    reason), else None.
    """

    text: str
    usage: Usage
    model: str
    truncated: bool = False
    refusal: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ChatResult:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = Usage()
    model: str = ""
    #: As for :class:`Completion`: cut at the output limit, or the model's refusal.
    truncated: bool = False
    refusal: str | None = None


class ProviderError(Exception):
    """A call failed in a way retrying will not fix (bad key, bad request, no model)."""

    retryable = False

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        self.provider = provider
        self.status = status
        #: the text without the provider's name
        self.message = message
        super().__init__(f"{provider}: {message}")


class RetryableError(ProviderError):
    """Rate limited (429), server error (5xx), overloaded, or the connection failed.
    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one."""

    retryable = True

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, message, status=status)
        self.retry_after = retry_after


class ProviderTimeout(RetryableError):
    """No answer within the per-call timeout."""


class DeadlinePassed(ProviderError):
    """The generation's or the chat turn's overall deadline passed: no more tries."""


@runtime_checkable
class LLMProvider(Protocol):
    """One model behind one API. ``name`` identifies it in settings, logs and usage."""

    name: str
    model: str
    #: The configured secret values (API keys) this provider sends. The router removes
    #: them, literally and whatever their shape, from every error it logs, raises or
    #: stores, since servers echo keys in error messages.
    secrets: tuple[str, ...]

    async def complete_json(
        self, messages: list[Message], schema: dict[str, Any], *, schema_name: str
    ) -> Completion:
        """Ask for one JSON document matching ``schema`` (the provider's native
        structured-output mechanism). The text is returned as produced: the router
        parses and validates it."""
        ...

    async def chat(self, messages: list[Message], tools: list[ToolSpec]) -> ChatResult:
        """A chat turn in which the model may call ``tools``."""
        ...

    async def probe(self) -> None:
        """Check that the endpoint answers and has the model; raise a
        :class:`ProviderError` saying why not (status and the server's message, or the
        model missing). The router bounds it with a timeout."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...


def retry_after_seconds(headers: Any, now: datetime | None = None) -> float | None:
    """The ``Retry-After`` (or ``retry-after-ms``) header in seconds, if parseable:
    either a number of seconds or an HTTP date (seconds until then, 0 when past).
    ``now`` is for tests; it defaults to the current time."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except (TypeError, ValueError, AttributeError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None  # neither form: use our own backoff
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for_status(
    provider: str, status: int, message: str, headers: Any = None
) -> ProviderError:
    """An HTTP error as ours: 408, 429 and 5xx (529 "overloaded" included) are worth
    retrying, with the server's ``Retry-After``; any other status is not."""
    text = f"HTTP {status}: {message}"
    if status in (408, 429) or status >= 500:
        return RetryableError(
            provider, text, status=status, retry_after=retry_after_seconds(headers)
        )
    return ProviderError(provider, text, status=status)


#: What an HTTP error response says: status, message, response headers (or None).
StatusReply = tuple[int, str, Any]


@dataclass(frozen=True)
class ClientErrors:
    """How one client library's exceptions map to ours: which exception types are
    timeouts, which are connection failures, and how to read an HTTP error's status,
    message and headers (None for an exception that is not one). A timeout is checked
    before a connection failure, since clients make the first a kind of the second."""

    timeout: tuple[type[BaseException], ...]
    connection: tuple[type[BaseException], ...]
    status: Callable[[BaseException], StatusReply | None]

    def translate(self, provider: str, exc: BaseException) -> ProviderError:
        """The client's exception as one of ours: a timeout and a connection failure
        are worth retrying; an HTTP error as :func:`error_for_status` says; anything
        else is not retried."""
        if isinstance(exc, self.timeout):
            return ProviderTimeout(provider, "timed out")
        if isinstance(exc, self.connection):
            return RetryableError(provider, f"cannot connect: {exc}")
        if (reply := self.status(exc)) is not None:
            return error_for_status(provider, *reply)
        return ProviderError(provider, repr(exc))
