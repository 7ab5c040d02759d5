"""The provider router: LLM providers in order, then the offline generator.

For one encounter the router tries each provider in order (primary, fallback, local):

1. one call, under a per-call timeout;
2. on 429, 5xx, overload, connection errors and timeouts, retry with exponential
   backoff and jitter, honouring ``Retry-After`` (seconds or an HTTP date), at most
   ``max_retries`` times and never waiting longer than ``max_backoff``: a longer
   Retry-After rests the provider that long, at most ``max_retry_after`` (logged), and
   moves on to the next provider rather than freezing a game;
3. parse the JSON and validate it as an :class:`EncounterSpec`; if it fails, ask the
   same provider once more with the list of errors (a reply cut at the output limit is
   asked again with that said; a refusal is not asked again);
4. a provider that failed ``cooldown_after`` calls in a row is skipped for
   ``cooldown_seconds``.

A whole generation has ``deadline`` seconds and a chat turn ``chat_deadline``, every
provider, retry, wait and re-ask included: a player is waiting. Each provider may use
its fair share of the time left (the time left divided by the providers still to try,
so a hanging primary leaves time to the fallback); a try never outlives its share.
Limit: with several providers a slow but working primary is cut at its share; raise
the deadline for such a model.

When every provider failed or the deadline passed, the procedural generator answers
(unless turned off), so a game always gets a valid encounter. Every attempt, failed
ones included, is recorded with its tokens and estimated cost (:class:`UsageRecord`,
in the store when one is given, and in :attr:`ProviderManager.recent`); refusals,
truncations and corrected values are recorded in its ``error``. The providers' key
values are removed from every error text, whatever their shape.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .._util.optional import require
from ..errors import ConfigError, FieldError, GenerationError, ValidationFailed
from ..i18n.detect import mismatch
from ..log import get_logger
from ..models import EncounterSpec
from ..models.common import Difficulty, new_id
from ..models.usage import UsageRecord
from ..moderation.audit import redact
from ..settings import LLMSettings
from ..storage.protocols import UsageLog
from ..validation import validate_model
from .base import GenerationRequest
from .llm import (
    ChatResult,
    Completion,
    DeadlinePassed,
    LLMProvider,
    Message,
    ProviderError,
    ProviderTimeout,
    RetryableError,
    ToolSpec,
    Usage,
)
from .pricing import PriceTable
from .procedural import ProceduralGenerator
from .prompt import build_messages, language_reask_messages, reask_messages
from .schema import drop_nulls, encounter_schema

log = get_logger(__name__)
T = TypeVar("T")
SCHEMA_NAME = "encounter"
REDACTED = "[redacted]"
_DIFFICULTY: TypeAdapter[float] = TypeAdapter(Difficulty)


@dataclass
class _Health:
    failures_in_a_row: int = 0
    resting_until: float = 0.0


@dataclass
class Attempt:
    """What one call cost; collected per generation for the usage log."""

    provider: str
    model: str
    ok: bool
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class ProviderHealth:
    """One provider's check: ``status`` is the HTTP status of a failure (None when the
    server never answered), ``error`` says why it is down, ``latency_ms`` how long the
    check took."""

    provider: str
    model: str
    ok: bool
    status: int | None = None
    error: str | None = None
    latency_ms: float = 0.0


@dataclass
class RouterPolicy:
    """Times are seconds. ``timeout`` bounds one try; ``deadline`` one whole generation
    and ``chat_deadline`` one chat turn (every provider, retry, wait and re-ask);
    ``max_retry_after`` is the longest rest a server's Retry-After may impose;
    ``check_timeout`` bounds each provider's health check."""

    timeout: float = 30.0
    max_retries: int = 2
    backoff_base: float = 0.25
    max_backoff: float = 10.0
    cooldown_after: int = 3
    cooldown_seconds: float = 30.0
    max_retry_after: float = 300.0
    deadline: float = 30.0
    chat_deadline: float = 10.0
    check_timeout: float = 5.0
    procedural_fallback: bool = True
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline", "chat_deadline", "check_timeout"):
            _require_seconds(f"RouterPolicy.{name}", getattr(self, name))


class ProviderManager:
    """Routes generation and chat over providers. It is an
    :class:`~encounters.generation.base.EncounterGenerator`, so the engine uses it in
    place of the procedural generator."""

    name = "router"

    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        policy: RouterPolicy | None = None,
        store: UsageLog | None = None,
        procedural: ProceduralGenerator | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.providers = list(providers)
        self.policy = policy or RouterPolicy()
        self.store = store
        self.procedural = procedural or ProceduralGenerator()
        self.prices = PriceTable(self.policy.prices)
        self.recent: deque[UsageRecord] = deque(maxlen=1000)
        self._health = {p.name: _Health() for p in self.providers}
        # longest first, so a key that contains another is removed whole
        self._secrets = sorted(
            {secret for p in self.providers for secret in p.secrets if secret},
            key=len,
            reverse=True,
        )
        self._clock = clock
        self._rng: random.Random = rng or random.Random()

    @classmethod
    def from_settings(cls, llm: LLMSettings, *, store: UsageLog | None = None) -> ProviderManager:
        """Providers in the order the settings give (see :class:`LLMSettings`)."""
        return cls(build_providers(llm), policy=policy_from(llm), store=store)

    # -- bookkeeping -----------------------------------------------------------------

    def _resting(self, provider: LLMProvider) -> bool:
        return self._health[provider.name].resting_until > self._clock()

    def _mark(self, provider: LLMProvider, ok: bool) -> None:
        health = self._health[provider.name]
        if ok:
            health.failures_in_a_row = 0
            return
        health.failures_in_a_row += 1
        if health.failures_in_a_row >= self.policy.cooldown_after:
            health.resting_until = self._clock() + self.policy.cooldown_seconds
            health.failures_in_a_row = 0
            log.warning(
                "llm.provider_resting", provider=provider.name, seconds=self.policy.cooldown_seconds
            )

    def _safe(self, error: BaseException | str) -> str:
        """An error's text fit to log, raise or store: the providers' configured key
        values removed literally (a server may echo a key of any shape, however short),
        then anything else secret-shaped (``sk-...``, bearer tokens)."""
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return str(redact(text))[:500]

    def _rest(self, provider: LLMProvider, asked: float) -> None:
        """Rest ``provider`` as its server's Retry-After asked, at most
        ``max_retry_after`` seconds: a 429 asking for a day must not end a provider."""
        seconds = asked
        if seconds > self.policy.max_retry_after:
            log.warning(
                "llm.retry_after_capped",
                provider=provider.name,
                asked=round(asked, 1),
                resting=self.policy.max_retry_after,
            )
            seconds = self.policy.max_retry_after
        self._health[provider.name].resting_until = self._clock() + seconds
        log.warning(
            "llm.provider_resting",
            provider=provider.name,
            seconds=round(seconds, 1),
            reason="retry-after",
        )

    async def _record(self, attempts: list[Attempt], purpose: str) -> None:
        records = [
            UsageRecord(
                provider=a.provider,
                model=a.model,
                purpose=purpose,
                ok=a.ok,
                error=self._safe(a.error) if a.error else None,
                input_tokens=a.usage.input_tokens,
                output_tokens=a.usage.output_tokens,
                cost_usd=self.prices.cost(a.model, a.usage),
                latency_ms=a.latency_ms,
            )
            for a in attempts
        ]
        self.recent.extend(records)
        if self.store is not None and records:
            try:
                await self.store.append_usage(records)
            except Exception as exc:  # usage accounting must never break a game
                log.warning("llm.usage_not_stored", error=repr(exc))

    def _order(self, only: str | None) -> list[LLMProvider]:
        if only is None:
            return [p for p in self.providers if not self._resting(p)]
        chosen = [p for p in self.providers if p.name == only]
        if not chosen:
            known = ", ".join(p.name for p in self.providers) or "(none configured)"
            raise ConfigError(f"no LLM provider named {only!r}; configured: {known}")
        return chosen

    # -- one call with retries -------------------------------------------------------

    async def _call(
        self,
        provider: LLMProvider,
        call: Callable[[], Awaitable[T]],
        attempts: list[Attempt],
        usage_of: Callable[[T], Usage],
        until: float,
    ) -> T:
        """``call`` with the timeout and retry policy, never past ``until`` (an
        :func:`anyio.current_time` instant); every try is added to ``attempts``.
        Raises the last :class:`ProviderError` (:class:`DeadlinePassed` when time ran
        out)."""
        policy = self.policy
        for n in range(policy.max_retries + 1):
            left = until - anyio.current_time()
            if left <= 0:
                raise DeadlinePassed(provider.name, "timed out: no time left before the deadline")
            limit = min(policy.timeout, left)
            started = time.perf_counter()
            try:
                with anyio.fail_after(limit):
                    result = await call()
            except TimeoutError:
                error: ProviderError = (
                    ProviderTimeout(provider.name, "timed out")
                    if limit >= policy.timeout
                    else DeadlinePassed(
                        provider.name, f"timed out: the deadline left it {limit:.1f} s"
                    )
                )
            except ProviderError as exc:
                error = exc
            except Exception as exc:  # a garbled reply the client could not parse
                error = ProviderError(provider.name, f"unusable reply: {type(exc).__name__}: {exc}")
            else:
                attempts.append(
                    Attempt(
                        provider.name,
                        provider.model,
                        True,
                        usage_of(result),
                        latency_ms=_ms(started),
                    )
                )
                return result
            attempts.append(
                Attempt(
                    provider.name,
                    provider.model,
                    False,
                    error=self._safe(error),
                    latency_ms=_ms(started),
                )
            )
            if not isinstance(error, RetryableError) or n == policy.max_retries:
                raise error
            delay = self._backoff(n, error.retry_after)
            if delay is None:  # asked to wait longer than we would: rest it instead
                self._rest(provider, error.retry_after or 0.0)
                raise error
            if delay >= until - anyio.current_time():
                raise error  # no time for another try before the deadline
            log.info(
                "llm.retry",
                provider=provider.name,
                attempt=n + 1,
                delay=round(delay, 3),
                error=self._safe(error),
            )
            await anyio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, n: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry ``n + 1``; None when the server asks for more
        than ``max_backoff``."""
        if retry_after is not None:
            if retry_after > self.policy.max_backoff:
                return None
            return retry_after * (1 + 0.1 * self._rng.random())
        ceiling: float = min(self.policy.max_backoff, self.policy.backoff_base * 2.0**n)
        return ceiling * (0.5 + 0.5 * self._rng.random())

    # -- encounters ------------------------------------------------------------------

    async def generate_encounter(
        self, request: GenerationRequest, *, provider: str | None = None
    ) -> EncounterSpec:
        """A validated encounter from the first provider that manages one within the
        deadline; from the procedural generator when all fail or time runs out
        (``provider`` forces one provider and disables the fallback)."""
        attempts: list[Attempt] = []
        failures: list[str] = []
        if provider == ProceduralGenerator.name:
            return await self.procedural.generate_encounter(request)
        try:
            candidates = self._order(provider)
            until = anyio.current_time() + self.policy.deadline
            for i, candidate in enumerate(candidates):
                share = self._share(candidates[i:], until, failures)
                if share is None:
                    break
                try:
                    spec = await self._encounter_from(candidate, request, attempts, share)
                except (ProviderError, ValidationFailed) as exc:
                    self._mark(candidate, False)
                    failures.append(self._safe(exc))
                    log.warning(
                        "llm.provider_failed", provider=candidate.name, error=self._safe(exc)
                    )
                    continue
                self._mark(candidate, True)
                return spec
        finally:
            await self._record(attempts, "encounter")
        if self.policy.procedural_fallback and provider is None:
            log.warning("llm.procedural_fallback", failures=failures)
            return await self.procedural.generate_encounter(request)
        raise GenerationError(
            "no LLM provider produced a valid encounter"
            + (": " + "; ".join(failures) if failures else " (none available)")
        )

    def _share(
        self, remaining: list[LLMProvider], until: float, failures: list[str]
    ) -> float | None:
        """When the first of ``remaining`` must be done: its fair share of the time
        left. None (and the skipped providers noted in ``failures``) when none is left."""
        now = anyio.current_time()
        left = until - now
        if left > 0:
            return now + left / len(remaining)
        names = ", ".join(p.name for p in remaining)
        failures.append(f"deadline passed before {names} could be tried")
        log.warning("llm.deadline_passed", skipped=[p.name for p in remaining])
        return None

    async def _encounter_from(
        self,
        provider: LLMProvider,
        request: GenerationRequest,
        attempts: list[Attempt],
        until: float,
    ) -> EncounterSpec:
        messages = build_messages(request)
        schema = encounter_schema()
        last: ValidationFailed | None = None
        for _ in range(2):  # the first answer, and one re-ask with the errors
            completion: Completion = await self._call(
                provider,
                partial(provider.complete_json, messages, schema, schema_name=SCHEMA_NAME),
                attempts,
                _completion_usage,
                until,
            )
            if completion.refusal is not None:
                # asking again would cost tokens for the same answer: next provider
                reason = f"refused: {completion.refusal}"
                attempts[-1].ok = False
                attempts[-1].error = self._safe(reason)
                raise ProviderError(provider.name, reason[:300])
            try:
                spec, corrected = self._parse(completion, request, provider)
            except ValidationFailed as exc:
                last = exc
                errors = [str(e) for e in exc.errors]
                attempts[-1].ok = False
                if completion.truncated:
                    attempts[-1].error = f"truncated at the output token limit: {errors[0]}"
                    errors.insert(0, TRUNCATED_REASK)
                else:
                    attempts[-1].error = f"invalid output: {errors[0]}"
                messages = reask_messages(messages, completion.text, errors)
                continue
            found = mismatch(_player_text(spec), request.language)
            if found is not None:
                # a reply in the wrong language is asked for once more, like invalid JSON
                note = f"written in {found}, not {request.language}"
                last = ValidationFailed(f"encounter from {provider.name}",
                                        [FieldError("language", note)])  # fmt: skip
                attempts[-1].ok = False
                attempts[-1].error = f"wrong language: {note}"
                log.warning("llm.wrong_language", provider=provider.name, note=note)
                messages = language_reask_messages(
                    messages, completion.text, found, request.language
                )
                continue
            if corrected:
                attempts[-1].error = corrected
                log.warning("llm.output_corrected", provider=provider.name, note=corrected)
            return spec
        assert last is not None
        raise last

    def _parse(
        self, completion: Completion, request: GenerationRequest, provider: LLMProvider
    ) -> tuple[EncounterSpec, str | None]:
        """The encounter, and a note when a value the router sets (the difficulty) was
        invalid in the model's reply and replaced by the requested one."""
        what = f"encounter from {provider.name}"
        try:
            data = json.loads(completion.text)
        except ValueError as exc:
            raise ValidationFailed(what, [FieldError("", f"malformed JSON: {exc}")]) from None
        if not isinstance(data, dict):
            raise ValidationFailed(what, [FieldError("", "must be a JSON object")])
        body: dict[str, Any] = drop_nulls(data)
        corrected = _difficulty_note(body.get("difficulty"), request.difficulty)
        body.update(
            id=new_id("enc"),
            category=request.category.value,
            difficulty=request.difficulty,
            language=request.language,
            generator=f"llm:{provider.name}:{completion.model}"[:80],
        )
        body.pop("template_id", None)
        return validate_model(EncounterSpec, body, what), corrected

    def estimate_cost(self, request: GenerationRequest) -> float:
        """Estimated USD cost of one generation with the first provider in order."""
        available = self._order(None)
        if not available:
            return 0.0
        chars = sum(len(m.content) for m in build_messages(request))
        chars += len(json.dumps(encounter_schema()))
        return self.prices.estimate(available[0].model, chars)

    async def check_health(self) -> bool:
        """True when a provider is up, or the procedural fallback is on."""
        if self.policy.procedural_fallback:
            return True
        return any(h.ok for h in await self.check_providers())

    async def check_providers(self, timeout: float | None = None) -> list[ProviderHealth]:
        """Every provider checked at once, each within ``timeout`` seconds (default
        ``check_timeout``), in the order they are tried: a silent server costs the
        timeout, not minutes."""
        limit = self.policy.check_timeout if timeout is None else timeout
        _require_seconds("timeout", limit)
        results: dict[str, ProviderHealth] = {}

        async def check(p: LLMProvider) -> None:
            started = time.perf_counter()
            status: int | None = None
            error: str | None = None
            try:
                with anyio.fail_after(limit):
                    await p.probe()
            except TimeoutError:
                error = f"no answer within {limit:g} s"
            except ProviderError as exc:
                status, error = exc.status, self._safe(exc.message)
            except Exception as exc:  # a garbled reply the client could not parse
                error = self._safe(f"unusable reply: {type(exc).__name__}: {exc}")
            results[p.name] = ProviderHealth(
                p.name, p.model, error is None, status, error, round(_ms(started), 1)
            )

        async with anyio.create_task_group() as tg:
            for p in self.providers:
                tg.start_soon(check, p)
        return [results[p.name] for p in self.providers]

    # -- chat with tools (companions) --------------------------------------------------

    async def chat(
        self, messages: list[Message], tools: list[ToolSpec], *, provider: str | None = None
    ) -> ChatResult:
        """A chat turn with tools from the first provider that answers within
        ``chat_deadline``. A refusal counts as no answer. Raises
        :class:`GenerationError` when none answers (a companion then uses its offline
        brain)."""
        attempts: list[Attempt] = []
        failures: list[str] = []
        try:
            candidates = self._order(provider)
            until = anyio.current_time() + self.policy.chat_deadline
            for i, candidate in enumerate(candidates):
                share = self._share(candidates[i:], until, failures)
                if share is None:
                    break
                try:
                    result: ChatResult = await self._call(
                        candidate,
                        partial(candidate.chat, messages, tools),
                        attempts,
                        _chat_usage,
                        share,
                    )
                except ProviderError as exc:
                    self._mark(candidate, False)
                    failures.append(self._safe(exc))
                    continue
                if result.refusal is not None:
                    reason = self._safe(f"refused: {result.refusal}")
                    attempts[-1].ok = False
                    attempts[-1].error = reason
                    failures.append(f"{candidate.name}: {reason}")
                    continue
                if result.truncated:
                    attempts[-1].error = "truncated at the output token limit"
                self._mark(candidate, True)
                return result
        finally:
            await self._record(attempts, "chat")
        raise GenerationError("no LLM provider answered: " + ("; ".join(failures) or "none"))

    async def aclose(self) -> None:
        """Close every provider's HTTP client (each one, even if another fails), on the
        event loop that used them: a client left open is closed by the garbage
        collector on whatever loop runs then, and fails there ("Event loop is closed")."""
        errors: list[BaseException] = []
        for p in self.providers:
            try:
                await p.aclose()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _require_seconds(name: str, value: object) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")


#: Added to the errors of a re-ask when the reply was cut at the output limit.
TRUNCATED_REASK = (
    "the reply was cut off at the output token limit: write a shorter JSON object, "
    "complete this time"
)


def _difficulty_note(value: Any, requested: float) -> str | None:
    """What to record when the model's difficulty is not a valid one (7.0, "hard"):
    the router uses the requested difficulty anyway, but the correction is noted."""
    if value is None:
        return None
    try:
        _DIFFICULTY.validate_python(value, strict=True)
    except PydanticValidationError:
        shown = json.dumps(value)[:40] if not isinstance(value, str) else repr(value[:40])
        return (
            f"corrected: the model's difficulty {shown} is outside the schema "
            f"(0.1 to 1.0); the requested {requested:g} was used"
        )
    return None


def _player_text(spec: EncounterSpec) -> str:
    """Everything a player reads in an encounter, for the language check."""
    parts = [spec.title, spec.description, *(o.description for o in spec.objectives)]
    parts += [line for npc in spec.npcs for line in npc.dialogue]
    return "\n".join(parts)


def _completion_usage(c: Completion) -> Usage:
    return c.usage


def _chat_usage(c: ChatResult) -> Usage:
    return c.usage


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def policy_from(llm: LLMSettings) -> RouterPolicy:
    return RouterPolicy(
        timeout=llm.llm_timeout,
        max_retries=llm.llm_max_retries,
        max_backoff=llm.llm_max_backoff,
        cooldown_after=llm.llm_cooldown_after,
        cooldown_seconds=llm.llm_cooldown_seconds,
        max_retry_after=llm.llm_max_retry_after,
        deadline=llm.llm_deadline,
        chat_deadline=llm.llm_chat_deadline,
        check_timeout=llm.llm_check_timeout,
        procedural_fallback=llm.llm_procedural_fallback,
        prices=dict(llm.llm_prices),
    )


def build_providers(llm: LLMSettings) -> list[LLMProvider]:
    """Providers in order: primary, fallback, then Ollama when local is enabled. With
    neither primary nor fallback named, every provider that has a key is used (OpenAI,
    then Anthropic). A provider named without what it needs is a :class:`ConfigError`;
    one whose client library is not installed is a :class:`MissingExtra` naming
    ``[llm]``."""
    names: list[str] = [n for n in (llm.llm_primary_provider, llm.llm_fallback_provider) if n]
    if not names:
        names += ["openai"] if llm.openai_api_key or llm.openai_base_url else []
        names += ["anthropic"] if llm.anthropic_api_key else []
    if llm.llm_local_enabled:
        names.append("ollama")
    names = list(dict.fromkeys(names))
    # every name is checked before any client is built: none is left unclosed
    if "openai" in names and not (llm.openai_api_key or llm.openai_base_url):
        raise ConfigError(
            "the openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server such as LM Studio or llama.cpp)"
        )
    anthropic_key = llm.anthropic_api_key.get_secret_value() if llm.anthropic_api_key else None
    if "anthropic" in names and not anthropic_key:
        raise ConfigError("the anthropic provider needs ANTHROPIC_API_KEY")
    providers: list[LLMProvider] = []
    for name in names:
        # a provider's module imports its client: only the named ones are imported
        module = require(f"{__package__}.{name}_provider", "llm", f"the {name} provider")
        if name == "openai":
            key = llm.openai_api_key.get_secret_value() if llm.openai_api_key else None
            provider = module.OpenAIProvider(
                api_key=key,
                model=llm.openai_model,
                base_url=llm.openai_base_url,
                timeout=llm.llm_timeout,
            )
        elif name == "anthropic":
            provider = module.AnthropicProvider(
                api_key=anthropic_key,
                model=llm.anthropic_model,
                base_url=llm.anthropic_base_url,
                timeout=llm.llm_timeout,
            )
        else:  # no LLM_LOCAL_URL: the ollama client reads OLLAMA_HOST by itself
            provider = module.OllamaProvider(
                host=llm.llm_local_url, model=llm.ollama_model, timeout=llm.llm_timeout
            )
        providers.append(provider)
    return providers
