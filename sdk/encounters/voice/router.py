"""The speech router: engines in order (say OpenAI, then eSpeak NG offline), under the
text router's rules.

For one line it tries each engine in order: one call under ``timeout``; on 429, 5xx,
connection errors and timeouts a retry after an exponential backoff with jitter (the
server's ``Retry-After`` honoured up to ``max_backoff``), at most ``max_retries``
times; any other error moves on to the next engine. An engine that failed
``cooldown_after`` lines in a row is skipped for ``cooldown_seconds``. The whole line
has ``deadline`` seconds, every engine and retry included, and each engine its fair
share of the time left, so a hanging server leaves time to the offline engine.

Every attempt is recorded as a :class:`~encounters.models.usage.UsageRecord` with
``purpose="speech"``, the characters spoken in ``input_tokens`` and the estimated cost;
API keys are removed from every error text. When no engine speaks the line,
:class:`SpeechFailed` says why: callers send the line without audio.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from ..errors import EncountersError
from ..generation.llm import ProviderError, ProviderTimeout, RetryableError
from ..log import get_logger
from ..models.usage import UsageRecord
from ..moderation.audit import redact
from ..storage.protocols import UsageLog
from .base import Speech, SpeechProvider

log = get_logger(__name__)
REDACTED = "[redacted]"


class SpeechFailed(EncountersError):
    """No engine spoke the line within the deadline."""


@dataclass
class VoicePolicy:
    """Seconds, as for :class:`~encounters.generation.router.RouterPolicy`."""

    timeout: float = 10.0
    deadline: float = 15.0
    max_retries: int = 1
    backoff_base: float = 0.25
    max_backoff: float = 2.0
    cooldown_after: int = 3
    cooldown_seconds: float = 30.0


@dataclass
class _Health:
    failures_in_a_row: int = 0
    resting_until: float = 0.0


class VoiceRouter:
    """Speaks a line with the first engine that manages it (see the module)."""

    def __init__(
        self,
        providers: Sequence[SpeechProvider],
        *,
        policy: VoicePolicy | None = None,
        store: UsageLog | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not providers:
            raise ValueError("a voice router needs at least one speech engine")
        self.providers = list(providers)
        self.policy = policy or VoicePolicy()
        self.store = store
        self.recent: deque[UsageRecord] = deque(maxlen=1000)
        self._health = {p.name: _Health() for p in self.providers}
        self._secrets = sorted({s for p in self.providers for s in p.secrets if s},
                               key=len, reverse=True)  # fmt: skip
        self._clock = clock
        self._rng = rng or random.Random()

    def _safe(self, error: BaseException | str) -> str:
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return str(redact(text))[:500]

    def _mark(self, provider: SpeechProvider, ok: bool) -> None:
        health = self._health[provider.name]
        if ok:
            health.failures_in_a_row = 0
            return
        health.failures_in_a_row += 1
        if health.failures_in_a_row >= self.policy.cooldown_after:
            health.failures_in_a_row = 0
            health.resting_until = self._clock() + self.policy.cooldown_seconds
            log.warning("voice.provider_resting", provider=provider.name,
                        seconds=self.policy.cooldown_seconds)  # fmt: skip

    def available(self) -> list[SpeechProvider]:
        """The engines in order, less those resting after repeated failures."""
        now = self._clock()
        return [p for p in self.providers if self._health[p.name].resting_until <= now]

    async def speak(self, text: str, voice: str, rate: float = 1.0, language: str = "en") -> Speech:
        """The line as audio; :class:`SpeechFailed` when every engine failed."""
        records: list[UsageRecord] = []
        failures: list[str] = []
        until = anyio.current_time() + self.policy.deadline
        candidates = self.available()
        try:
            for i, provider in enumerate(candidates):
                left = until - anyio.current_time()
                if left <= 0:
                    failures.append("the deadline passed")
                    break
                share = anyio.current_time() + left / (len(candidates) - i)
                try:
                    speech = await self._try(provider, text, voice, rate, language, share, records)
                except ProviderError as exc:
                    self._mark(provider, False)
                    failures.append(self._safe(exc))
                    log.warning("voice.provider_failed", provider=provider.name,
                                error=self._safe(exc))  # fmt: skip
                    continue
                self._mark(provider, True)
                return speech
        finally:
            await self._record(records)
        raise SpeechFailed(
            "no speech engine spoke the line: " + ("; ".join(failures) or "every engine is resting")
        )

    async def _try(
        self,
        provider: SpeechProvider,
        text: str,
        voice: str,
        rate: float,
        language: str,
        until: float,
        records: list[UsageRecord],
    ) -> Speech:
        policy = self.policy
        for n in range(policy.max_retries + 1):
            left = until - anyio.current_time()
            if left <= 0:
                raise ProviderTimeout(provider.name, "timed out: no time left before the deadline")
            limit = min(policy.timeout, left)
            started = time.perf_counter()
            try:
                with anyio.fail_after(limit):
                    speech = await provider.synthesize(text, voice, rate, language)
            except TimeoutError:
                error: ProviderError = ProviderTimeout(
                    provider.name, f"timed out after {limit:.1f} s"
                )
            except ProviderError as exc:
                error = exc
            except Exception as exc:  # a reply the client could not parse
                error = ProviderError(provider.name, f"unusable reply: {type(exc).__name__}: {exc}")
            else:
                records.append(self._usage(provider, True, None, len(text), started))
                return dataclasses.replace(speech, provider=provider.name)
            # a failed call may still be billed: the characters were sent
            records.append(self._usage(provider, False, self._safe(error), len(text), started))
            if not isinstance(error, RetryableError) or n == policy.max_retries:
                raise error
            delay = error.retry_after
            if delay is None:
                delay = min(policy.max_backoff, policy.backoff_base * 2.0**n)
                delay *= 0.5 + 0.5 * self._rng.random()
            if delay > policy.max_backoff or delay >= until - anyio.current_time():
                raise error
            await anyio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _usage(
        self, provider: SpeechProvider, ok: bool, error: str | None, chars: int, started: float
    ) -> UsageRecord:
        return UsageRecord(provider=provider.name, model=provider.model, purpose="speech", ok=ok,
                           error=error, input_tokens=chars, cost_usd=provider.cost(chars),
                           latency_ms=(time.perf_counter() - started) * 1000)  # fmt: skip

    async def _record(self, records: list[UsageRecord]) -> None:
        self.recent.extend(records)
        if self.store is not None and records:
            try:
                await self.store.append_usage(records)
            except Exception as exc:  # accounting never breaks a game
                log.warning("voice.usage_not_stored", error=repr(exc))

    async def aclose(self) -> None:
        for provider in self.providers:
            try:
                await provider.aclose()
            except Exception as exc:
                log.warning("voice.close_failed", provider=provider.name, error=repr(exc))
