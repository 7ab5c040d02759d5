"""Webhook registrations, delivery records, the retry policy and the event types."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..models.common import Timestamp

#: Engine events forwarded by ``WebhookManager.on_engine_event`` (``encounter.generated``
#: and ``objective.progressed`` are not: they are frequent and rarely wanted outside).
ENGINE_EVENT_TYPES: tuple[str, ...] = (
    "session.started",
    "objective.completed",
    "choice.made",
    "npc.interaction",
    "session.completed",
    "session.failed",
    "session.abandoned",
)
#: Persona review and companion deployment events (``WebhookManager.enqueue``).
PLATFORM_EVENT_TYPES: tuple[str, ...] = (
    "persona.submitted",
    "persona.approved",
    "persona.rejected",
    "companion.spawned",
    "companion.ended",
)
#: Every event type a webhook may subscribe to.
EVENT_TYPES: tuple[str, ...] = ENGINE_EVENT_TYPES + PLATFORM_EVENT_TYPES
#: Sent by ``WebhookManager.test`` to any webhook, whatever its filter.
TEST_EVENT_TYPE = "webhook.test"
ALL_EVENTS = "*"

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 500


def check_url(value: str) -> str:
    """A webhook URL: http or https, a host, no user name or password, no fragment.
    Messages never repeat the URL (it may hold a token)."""
    url = value.strip()
    if not url:
        raise ValueError("required")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise ValueError(
            "must not contain a user name or password (requests are authenticated by "
            "their signature)"
        )
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port (1 to 65535)") from None
    if port == 0:
        raise ValueError("has an invalid port (1 to 65535)")
    if "#" in url:
        raise ValueError("must not contain a fragment (#...)")
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise ValueError("is not a valid URL") from None
    return url


def check_event_type(value: str) -> str:
    if value == ALL_EVENTS or value in EVENT_TYPES:
        return value
    raise ValueError(
        f"unknown event type {value!r}; known types: {', '.join(EVENT_TYPES)}, or * for all"
    )


EventFilter = Annotated[str, AfterValidator(check_event_type)]


class WebhookInput(BaseModel):
    """What ``register`` accepts (validated before anything is stored)."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, AfterValidator(check_url)]
    events: list[EventFilter] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)

    @field_validator("events", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("events")
    @classmethod
    def _normalise(cls, value: list[str]) -> list[str]:
        if ALL_EVENTS in value:
            return [ALL_EVENTS]
        return list(dict.fromkeys(value))

    @field_validator("description")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class SecretInfo(BaseModel):
    """A signing secret as shown to operators: never its value."""

    id: str
    created_at: Timestamp
    expires_at: Timestamp | None = None


class Webhook(BaseModel):
    """A registered webhook (what ``list``/``get`` return)."""

    id: str
    url: str
    events: list[str]
    description: str = ""
    created_at: Timestamp
    disabled: bool = False
    disabled_reason: str | None = None
    disabled_at: Timestamp | None = None
    #: Newest first; every unexpired one signs.
    secrets: list[SecretInfo] = []

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class StoredSecret(BaseModel):
    id: str
    created_at: Timestamp
    expires_at: Timestamp | None = None
    #: base64 of AES-GCM nonce + ciphertext (see ``signing.SecretBox``).
    sealed: str

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class WebhookRecord(BaseModel):
    """The stored form of a webhook (document kind ``webhook``): sealed secrets, the
    log position it started after, and a tombstone once deleted (the store has no
    document deletion)."""

    id: str
    url: str
    events: list[str]
    description: str = ""
    created_at: Timestamp
    disabled: bool = False
    disabled_reason: str | None = None
    disabled_at: Timestamp | None = None
    deleted: bool = False
    deleted_at: Timestamp | None = None
    #: Outbox events with ids above this one are for this webhook.
    start_after: int = 0
    secrets: list[StoredSecret] = []

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def public(self) -> Webhook:
        return Webhook(
            id=self.id,
            url=self.url,
            events=list(self.events),
            description=self.description,
            created_at=self.created_at,
            disabled=self.disabled,
            disabled_reason=self.disabled_reason,
            disabled_at=self.disabled_at,
            secrets=[
                SecretInfo(id=s.id, created_at=s.created_at, expires_at=s.expires_at)
                for s in self.secrets
            ],
        )


class WebhookState(BaseModel):
    """Delivery progress of one webhook (document kind ``webhook_state``): the outbox
    cursor (the last event delivered, given up on or not wanted), and the attempts
    made on the event after it."""

    cursor: int = 0
    #: The outbox id ``attempt`` counts for (the first wanted event after the cursor).
    event_id: int | None = None
    attempt: int = 0
    next_attempt_at: Timestamp | None = None
    delivered: int = 0
    failed: int = 0
    last_success_at: Timestamp | None = None
    last_failure_at: Timestamp | None = None
    #: Ids of the latest delivery log rows (so ``deliveries`` need not scan the log).
    recent: list[int] = []


Outcome = Literal["delivered", "retrying", "failed", "disabled"]


class DeliveryRecord(BaseModel):
    """One attempt in a webhook's delivery log.

    ``outcome``: ``delivered`` (2xx), ``retrying`` (failed; the next attempt is at
    ``next_attempt_at``), ``failed`` (the last attempt failed: the event was skipped),
    ``disabled`` (the receiver answered 410 Gone and the webhook was disabled)."""

    id: int = 0
    webhook_id: str
    event_id: str
    event_type: str
    attempt: int
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    at: Timestamp
    next_attempt_at: Timestamp | None = None
    #: The first characters of the receiver's answer (for debugging).
    response: str | None = None


class DeliveryResult(BaseModel):
    """The outcome of one request (``WebhookManager.test``)."""

    ok: bool
    event_id: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    response: str | None = None


class RetryPolicy(BaseModel):
    """When failed deliveries are tried again: exponential backoff with full jitter.

    After the n-th failed attempt the next one waits a random time between 0 and
    ``min(max_delay, base * factor ** (n - 1))`` seconds, but never less than the
    receiver's ``Retry-After`` (itself capped at ``max_delay``). After
    ``max_attempts`` attempts the event is recorded as failed and skipped.

    The default (60 s, x2, capped at 1 h, 8 attempts) spreads the attempts over about
    an hour on average (the caps add up to about two hours)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    factor: float = Field(default=2.0, ge=1, allow_inf_nan=False)
    max_delay: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(default=8, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicy:
        if self.max_delay < self.base:
            raise ValueError("max_delay must be >= base")
        return self

    def cap(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        try:
            raw = self.base * self.factor**exponent
        except OverflowError:
            return self.max_delay
        return min(self.max_delay, raw)

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        wait = (rng or random).uniform(0.0, self.cap(attempt))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait
