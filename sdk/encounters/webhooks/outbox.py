"""Webhook registrations and the durable outbox that delivers events to them.

Events are appended to the store's append-only log ``webhook_event`` (the outbox)
before anything is sent, so an event accepted by :meth:`WebhookManager.enqueue`
survives a crash. Each webhook has a cursor in that log (document ``webhook_state``):
its events after the cursor are delivered in log order, one at a time; the cursor moves
past an event only once the receiver answered 2xx (or the event was given up on after
the last attempt), and it is saved right after. A new manager on the same store
resumes from the saved cursor and attempt count. Delivery is at least once: if the
process dies after the receiver answered but before the cursor was saved, that event
is sent again, with the same ``webhook-id``, which receivers use to deduplicate.

One process should run the delivery loop for a store (two would both deliver);
registering, listing and enqueueing are safe from any number of them.
"""

from __future__ import annotations

import builtins
import json
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast

import anyio
import httpx
from pydantic_core import PydanticSerializationError, to_jsonable_python

from .._util.locks import KeyedLocks
from ..errors import ConfigError, FieldError, NotFound, ValidationFailed
from ..events import EngineEvent
from ..log import get_logger
from ..models.common import new_id, utcnow
from ..storage.base import LoggedEvent, Store
from ..validation import validate_model
from .models import (
    ENGINE_EVENT_TYPES,
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    DeliveryRecord,
    DeliveryResult,
    Outcome,
    RetryPolicy,
    StoredSecret,
    Webhook,
    WebhookInput,
    WebhookRecord,
    WebhookState,
)
from .network import DestinationRefused, Resolver, guarded_client, parse_networks, vetted_addresses
from .signing import SecretBox, generate_secret, webhook_headers

log = get_logger(__name__)

#: Store names: the outbox log, the delivery log, the registry log (an audit trail of
#: registrations, rotations, disables and deletions) and the two document kinds.
EVENT_LOG = "webhook_event"
DELIVERY_LOG = "webhook_delivery"
REGISTRY_LOG = "webhook_registry"
WEBHOOK_DOC = "webhook"
STATE_DOC = "webhook_state"

#: A webhook holds at most this many signing secrets (rotation overlap).
MAX_SECRETS = 5
#: An event's JSON body may be at most this big.
MAX_PAYLOAD_BYTES = 256 * 1024
#: Characters of a receiver's answer kept in the delivery log.
RESPONSE_EXCERPT = 200
_READ_LIMIT = 4096
_BATCH = 200
_RECENT = 200
USER_AGENT = "ai-encounters-webhooks/1"


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: str) -> None:
        self.webhook_id = webhook_id
        super().__init__(f"no webhook with id {webhook_id!r}; list webhooks to see valid ids")


class TooManySecrets(ValidationFailed):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(
            f"secret rotation of webhook {webhook_id!r}",
            [
                FieldError(
                    "secrets",
                    f"a webhook holds at most {MAX_SECRETS} signing secrets; expire the old "
                    "ones (expire_secret) before rotating again",
                )
            ],
        )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date;
    ``None`` when absent or unreadable, never negative."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The request body of an event: compact, ASCII-only JSON (the same bytes on every
    attempt)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def _iso(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _host(url: str) -> str:
    """What logs show of a URL: its host (paths and queries may hold tokens)."""
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return "?"


@dataclass
class _Attempt:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    retry_after: float | None = None
    response: str | None = None


@dataclass
class _Step:
    delivered: bool = False
    more: bool = False


class WebhookManager:
    """Registers webhooks, records events in the outbox and delivers them.

    ``key`` is the engine's 32-byte master key (``load_or_create_key``): signing
    secrets are sealed with a subkey of it. ``allow_networks`` (CIDR strings) lets
    webhooks reach addresses the SSRF guard refuses otherwise (a local receiver in
    development, a partner on a private link). ``timeout`` bounds a whole request,
    ``connect_timeout`` the connection. ``resolver`` replaces the system DNS resolver
    (tests)."""

    def __init__(
        self,
        store: Store,
        *,
        key: bytes,
        allow_networks: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        poll_interval: float = 1.0,
        concurrency: int = 16,
        resolver: Resolver | None = None,
    ) -> None:
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout),
                            ("poll_interval", poll_interval)):  # fmt: skip
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        self.store = store
        self.policy = policy or RetryPolicy()
        self.allow_networks = parse_networks(allow_networks)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.poll_interval = poll_interval
        self._box = SecretBox(key)
        self._resolver = resolver
        self._concurrency = max(1, concurrency)
        self._locks: KeyedLocks[str] = KeyedLocks()
        self._client: httpx.AsyncClient | None = None
        self._wakeup: anyio.Event | None = None
        self._next_due: datetime | None = None
        self._running = False

    # -- registration ------------------------------------------------------------------

    async def register(
        self, url: str, events: Sequence[str] | str, description: str = ""
    ) -> tuple[Webhook, str]:
        """Register a webhook; returns it and its signing secret (``whsec_...``), which
        is shown only now. Raises :class:`ValidationFailed` naming the field (``url``,
        ``events[1]``...), also when the URL's host resolves to a forbidden address."""
        spec = validate_model(
            WebhookInput,
            {"url": url, "events": events if isinstance(events, str) else list(events),
             "description": description},
            "webhook",
        )  # fmt: skip
        await self._vet_url(spec.url)
        now = utcnow()
        webhook_id = new_id("wh")
        secret = generate_secret()
        stored = self._seal(webhook_id, secret, now)
        marker = await self.store.append_events(
            REGISTRY_LOG, [(webhook_id, now, {"action": "registered"})]
        )
        record = WebhookRecord(
            id=webhook_id,
            url=spec.url,
            events=spec.events,
            description=spec.description,
            created_at=now,
            start_after=marker[0],
            secrets=[stored],
        )
        await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
        log.info("webhook.registered", webhook_id=webhook_id, host=_host(spec.url))
        return record.public(), secret

    async def list(self) -> list[Webhook]:
        """Registered webhooks (enabled and disabled), oldest first."""
        records = await self.store.list_documents(WEBHOOK_DOC, WebhookRecord)
        live = sorted((r for r in records if not r.deleted), key=lambda r: r.created_at)
        return [r.public() for r in live]

    async def get(self, webhook_id: str) -> Webhook:
        """The webhook; :class:`WebhookNotFound` if there is none."""
        return (await self._require(webhook_id)).public()

    async def delete(self, webhook_id: str) -> None:
        """Stop delivering to a webhook and forget its secrets (its delivery log is
        kept)."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            record.deleted, record.deleted_at, record.secrets = True, utcnow(), []
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            await self._audit(webhook_id, "deleted")
        log.info("webhook.deleted", webhook_id=webhook_id)

    async def rotate_secret(self, webhook_id: str) -> str:
        """A new signing secret (returned, shown only now). The previous ones keep
        signing too, so receivers can switch over, until :meth:`expire_secret`."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            now = utcnow()
            record.secrets = [s for s in record.secrets if s.active(now)]
            if len(record.secrets) >= MAX_SECRETS:
                raise TooManySecrets(webhook_id)
            secret = generate_secret()
            record.secrets.insert(0, self._seal(webhook_id, secret, now))
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            await self._audit(webhook_id, "secret_rotated", secret_id=record.secrets[0].id)
        log.info("webhook.secret_rotated", webhook_id=webhook_id)
        return secret

    async def expire_secret(self, webhook_id: str, *, after: float = 0.0) -> int:
        """Stop signing with every secret but the newest, now or ``after`` seconds
        from now; returns how many secrets this affects."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            now = utcnow()
            newest, older = record.secrets[:1], [s for s in record.secrets[1:] if s.active(now)]
            if after <= 0:
                record.secrets = newest
            else:
                when = now + timedelta(seconds=after)
                for s in older:
                    if s.expires_at is None or s.expires_at > when:
                        s.expires_at = when
                record.secrets = newest + older
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            await self._audit(webhook_id, "secrets_expired", count=len(older), after=after)
        return len(older)

    async def disable(self, webhook_id: str, reason: str = "disabled by an operator") -> Webhook:
        """Pause deliveries; events keep accumulating and are sent after
        :meth:`enable`."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            await self._set_disabled(record, reason[:500])
        return record.public()

    async def enable(self, webhook_id: str) -> Webhook:
        """Resume deliveries (after a 410 or :meth:`disable`), from the event where
        they stopped, with a fresh set of attempts."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            record.disabled, record.disabled_reason, record.disabled_at = False, None, None
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            state = await self._state(record)
            state.attempt, state.event_id, state.next_attempt_at = 0, None, None
            await self.store.save_document(STATE_DOC, webhook_id, state)
            await self._audit(webhook_id, "enabled")
        self._wake()
        return record.public()

    async def deliveries(self, webhook_id: str, limit: int = 50) -> builtins.list[DeliveryRecord]:
        """The webhook's latest delivery attempts (including tests), newest first."""
        await self._require(webhook_id)
        limit = max(1, limit)
        state = await self.store.get_document(STATE_DOC, webhook_id, WebhookState)
        after = 0
        if state is not None and len(state.recent) >= limit:
            after = state.recent[-limit] - 1
        rows: deque[LoggedEvent] = deque(maxlen=limit)
        while True:
            page = await self.store.list_events(
                DELIVERY_LOG, key=webhook_id, after_id=after, limit=1000
            )
            rows.extend(page)
            if len(page) < 1000:
                break
            after = page[-1].id
        out = []
        for row in reversed(rows):
            try:
                out.append(DeliveryRecord.model_validate({**row.data, "id": row.id}))
            except ValueError:
                log.warning("webhook.delivery_row_skipped", webhook_id=webhook_id, row=row.id)
        return out

    async def test(self, webhook_id: str) -> DeliveryResult:
        """Send a ``webhook.test`` event now (whatever the webhook's filter, even when
        it is disabled), once, and record it in the delivery log."""
        async with self._locks.hold(webhook_id):
            record = await self._require(webhook_id)
            now = utcnow()
            event_id = new_id("evt")
            payload = {
                "type": TEST_EVENT_TYPE,
                "timestamp": _iso(now),
                "data": {"webhook_id": webhook_id, "message": "a test event from AI Encounters"},
            }
            async with self._http() as client:
                result = await self._send(record, event_id, encode_body(payload), client)
            outcome: Outcome = "delivered" if result.ok else "failed"
            if result.status_code == 410:
                outcome = "disabled"
                await self._set_disabled(record, self._gone_reason())
            state = await self._state(record)
            await self._record(record, state, event_id, TEST_EVENT_TYPE, 1, outcome, result)
            await self.store.save_document(STATE_DOC, webhook_id, state)
        return DeliveryResult(
            ok=result.ok,
            event_id=event_id,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            response=result.response,
        )

    # -- the outbox --------------------------------------------------------------------

    async def enqueue(
        self, event_type: str, data: Mapping[str, Any], *, at: datetime | None = None
    ) -> str | None:
        """Record an event for delivery; returns its id (the ``webhook-id`` receivers
        see), or ``None`` when no webhook subscribes to this type (nothing is stored).
        Raises :class:`ValidationFailed` for an unknown type or data that is not JSON
        or too big."""
        if event_type not in EVENT_TYPES:
            raise ValidationFailed(
                "webhook event",
                [FieldError("type", f"unknown event type {event_type!r}; known types: "
                                    f"{', '.join(EVENT_TYPES)}")],
            )  # fmt: skip
        try:
            body = to_jsonable_python(dict(data))
        except PydanticSerializationError as exc:
            raise ValidationFailed(
                "webhook event", [FieldError("data", f"must be JSON-serialisable: {exc}")]
            ) from None
        at = at or utcnow()
        event_id = new_id("evt")
        payload = {"id": event_id, "type": event_type, "timestamp": _iso(at), "data": body}
        size = len(encode_body({k: v for k, v in payload.items() if k != "id"}))
        if size > MAX_PAYLOAD_BYTES:
            raise ValidationFailed(
                "webhook event",
                [FieldError("data", f"is {size} bytes as JSON; at most {MAX_PAYLOAD_BYTES}")],
            )
        records = await self.store.list_documents(WEBHOOK_DOC, WebhookRecord)
        if not any(not r.deleted and r.wants(event_type) for r in records):
            return None
        await self.store.append_events(EVENT_LOG, [(event_type, at, payload)])
        self._wake()
        return event_id

    async def on_engine_event(self, event: EngineEvent) -> None:
        """An :class:`~encounters.events.EventBus` listener: enqueues the session
        events webhooks can subscribe to (see ``ENGINE_EVENT_TYPES``), with the
        session and player ids added to the event's data."""
        if event.type not in ENGINE_EVENT_TYPES:
            return
        data = {"session_id": event.session_id, "player_id": event.player_id, **event.data}
        await self.enqueue(event.type, data, at=event.timestamp)

    # -- delivery ----------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until cancelled (run it in a task group). Wakes up when an event is
        enqueued in this process, when a retry falls due, and every ``poll_interval``
        seconds (for events enqueued by other processes)."""
        if self._running:
            raise RuntimeError("this WebhookManager is already running")
        self._running = True
        try:
            async with self._new_client() as client:
                self._client = client
                while True:
                    self._wakeup = anyio.Event()
                    try:
                        await self.deliver_due()
                    except Exception as exc:  # the store may be busy or closing: retry
                        log.error("webhook.pass_failed", error=f"{type(exc).__name__}: {exc}")
                    wait = self.poll_interval
                    if self._next_due is not None:
                        until = (self._next_due - utcnow()).total_seconds()
                        wait = max(0.0, min(wait, until))
                    with anyio.move_on_after(wait):
                        await self._wakeup.wait()
        finally:
            self._client = None
            self._running = False

    async def deliver_due(self) -> int:
        """One pass: every enabled webhook gets its due events, in order, until it is
        caught up or waiting for a retry. Returns how many deliveries succeeded."""
        records = await self.store.list_documents(WEBHOOK_DOC, WebhookRecord)
        targets = [r.id for r in records if not r.deleted and not r.disabled]
        self._next_due = None
        counts: list[int] = []
        limiter = anyio.CapacityLimiter(self._concurrency)

        async def drain(webhook_id: str, client: httpx.AsyncClient) -> None:
            async with limiter:
                counts.append(await self._drain(webhook_id, client))

        async with self._http() as client, anyio.create_task_group() as tg:
            for webhook_id in targets:
                tg.start_soon(drain, webhook_id, client)
        return sum(counts)

    async def _drain(self, webhook_id: str, client: httpx.AsyncClient) -> int:
        delivered = 0
        try:
            while True:
                async with self._locks.hold(webhook_id):
                    step = await self._step(webhook_id, client)
                delivered += step.delivered
                if not step.more:
                    return delivered
        except Exception as exc:
            log.error(
                "webhook.drain_failed",
                webhook_id=webhook_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return delivered

    async def _step(self, webhook_id: str, client: httpx.AsyncClient) -> _Step:
        """Deliver (or try) the next wanted event of one webhook, under its lock."""
        record = await self.store.get_document(WEBHOOK_DOC, webhook_id, WebhookRecord)
        if record is None or record.deleted or record.disabled:
            return _Step()
        state = await self._state(record)
        if state.next_attempt_at is not None and state.next_attempt_at > utcnow():
            self._note_due(state.next_attempt_at)
            return _Step()
        rows = await self.store.list_events(EVENT_LOG, after_id=state.cursor, limit=_BATCH)
        start = state.cursor
        target = None
        for row in rows:
            if isinstance(row.data.get("id"), str) and record.wants(str(row.data.get("type"))):
                target = row
                break
            state.cursor = row.id  # not for this webhook (or damaged): step over it
        if target is None:
            if state.cursor != start:
                await self.store.save_document(STATE_DOC, webhook_id, state)
            return _Step(more=len(rows) == _BATCH)
        if state.event_id != target.id:
            state.event_id, state.attempt = target.id, 0
        attempt = state.attempt + 1
        event_id = str(target.data["id"])
        event_type = str(target.data["type"])
        body = encode_body({k: v for k, v in target.data.items() if k != "id"})
        result = await self._send(record, event_id, body, client)
        now = utcnow()
        outcome: Outcome
        if result.ok:
            outcome = "delivered"
            state.cursor, state.event_id, state.attempt = target.id, None, 0
            state.next_attempt_at, state.last_success_at = None, now
            state.delivered += 1
        elif result.status_code == 410:
            outcome = "disabled"
            state.attempt, state.last_failure_at = attempt, now
        elif attempt >= self.policy.max_attempts:
            outcome = "failed"
            state.cursor, state.event_id, state.attempt = target.id, None, 0
            state.next_attempt_at, state.last_failure_at = None, now
            state.failed += 1
        else:
            outcome = "retrying"
            wait = self.policy.delay(attempt, result.retry_after)
            state.attempt, state.last_failure_at = attempt, now
            state.next_attempt_at = now + timedelta(seconds=wait)
            self._note_due(state.next_attempt_at)
        await self._record(record, state, event_id, event_type, attempt, outcome, result)
        await self.store.save_document(STATE_DOC, webhook_id, state)
        if outcome == "disabled":
            await self._set_disabled(record, self._gone_reason())
        elif outcome == "failed":
            log.warning("webhook.gave_up", webhook_id=webhook_id, event_id=event_id,
                        attempts=attempt, error=result.error)  # fmt: skip
        elif outcome == "retrying":
            log.info("webhook.retrying", webhook_id=webhook_id, event_id=event_id,
                     attempt=attempt, error=result.error)  # fmt: skip
        return _Step(delivered=result.ok, more=outcome in ("delivered", "failed"))

    async def _send(
        self, record: WebhookRecord, event_id: str, body: bytes, client: httpx.AsyncClient
    ) -> _Attempt:
        """One signed POST; never raises for network or HTTP problems."""
        now = utcnow()
        keys = [
            self._box.open(s.sealed, self._context(record.id, s.id))
            for s in record.secrets
            if s.active(now)
        ]
        headers = {
            **webhook_headers(keys, event_id, body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "accept-encoding": "identity",
        }
        started = time.monotonic()
        result = _Attempt(ok=False)
        try:
            with anyio.fail_after(self.timeout):
                async with client.stream("POST", record.url, content=body, headers=headers) as r:
                    raw = b""
                    chunks = cast(AsyncGenerator[bytes, None], r.aiter_raw())
                    async with aclosing(chunks):
                        async for chunk in chunks:
                            raw += chunk
                            if len(raw) >= _READ_LIMIT:
                                break
                    result.status_code = r.status_code
                    result.ok = 200 <= r.status_code < 300
                    text = raw[:_READ_LIMIT].decode("utf-8", "replace").strip()
                    result.response = text[:RESPONSE_EXCERPT] or None
                    if not result.ok:
                        result.retry_after = parse_retry_after(r.headers.get("retry-after"))
                        result.error = self._status_error(r.status_code)
        except DestinationRefused as exc:
            result.error = str(exc)
        except TimeoutError:
            result.error = f"timed out after {self.timeout:g} s"
        except httpx.TimeoutException as exc:
            result.error = f"{type(exc).__name__}: timed out ({exc})"
        except (httpx.InvalidURL, httpx.StreamError):  # messages may repeat the URL
            result.error = "the URL cannot be requested (invalid URL)"
        except httpx.HTTPError as exc:
            result.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        result.duration_ms = int((time.monotonic() - started) * 1000)
        if result.ok:
            log.debug("webhook.delivered", webhook_id=record.id, event_id=event_id,
                      status=result.status_code, ms=result.duration_ms)  # fmt: skip
        return result

    @staticmethod
    def _status_error(status: int) -> str:
        if 300 <= status < 400:
            return f"redirect ({status}) not followed; register the final URL"
        if status == 410:
            return "410 Gone: the receiver asked to stop; the webhook was disabled"
        return f"HTTP {status}"

    @staticmethod
    def _gone_reason() -> str:
        return f"the receiver answered 410 Gone at {_iso(utcnow())}"

    # -- helpers -----------------------------------------------------------------------

    async def _vet_url(self, url: str) -> None:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            await vetted_addresses(host, port, self.allow_networks, self._resolver)
        except DestinationRefused as exc:
            problems = "; ".join(exc.problems)
            raise ValidationFailed(
                "webhook",
                [FieldError("url", f"its host {host!r} is not allowed: {problems}; webhooks "
                                   "may only reach public addresses (or allow_networks)")],
            ) from None  # fmt: skip
        except OSError:
            raise ValidationFailed(
                "webhook", [FieldError("url", f"its host {host!r} could not be resolved")]
            ) from None

    def _seal(self, webhook_id: str, secret: str, now: datetime) -> StoredSecret:
        secret_id = new_id("sec")
        sealed = self._box.seal(secret, self._context(webhook_id, secret_id))
        return StoredSecret(id=secret_id, created_at=now, sealed=sealed)

    @staticmethod
    def _context(webhook_id: str, secret_id: str) -> str:
        return f"webhook-secret:{webhook_id}:{secret_id}"

    async def _require(self, webhook_id: str) -> WebhookRecord:
        record = await self.store.get_document(WEBHOOK_DOC, webhook_id, WebhookRecord)
        if record is None or record.deleted:
            raise WebhookNotFound(webhook_id)
        return record

    async def _state(self, record: WebhookRecord) -> WebhookState:
        state = await self.store.get_document(STATE_DOC, record.id, WebhookState)
        return state or WebhookState(cursor=record.start_after)

    async def _record(
        self,
        record: WebhookRecord,
        state: WebhookState,
        event_id: str,
        event_type: str,
        attempt: int,
        outcome: Outcome,
        result: _Attempt,
    ) -> None:
        entry = DeliveryRecord(
            webhook_id=record.id,
            event_id=event_id,
            event_type=event_type,
            attempt=attempt,
            outcome=outcome,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            at=utcnow(),
            next_attempt_at=state.next_attempt_at if outcome == "retrying" else None,
            response=result.response,
        )
        data = entry.model_dump(mode="json", exclude={"id"})
        ids = await self.store.append_events(DELIVERY_LOG, [(record.id, entry.at, data)])
        state.recent = [*state.recent, *ids][-_RECENT:]

    async def _set_disabled(self, record: WebhookRecord, reason: str) -> None:
        record.disabled, record.disabled_reason, record.disabled_at = True, reason, utcnow()
        await self.store.save_document(WEBHOOK_DOC, record.id, record)
        await self._audit(record.id, "disabled", reason=reason)
        log.warning("webhook.disabled", webhook_id=record.id, reason=reason)

    async def _audit(self, webhook_id: str, action: str, **data: Any) -> None:
        await self.store.append_events(
            REGISTRY_LOG, [(webhook_id, utcnow(), {"action": action, **data})]
        )

    def _note_due(self, when: datetime) -> None:
        if self._next_due is None or when < self._next_due:
            self._next_due = when

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _new_client(self) -> httpx.AsyncClient:
        return guarded_client(
            self.allow_networks,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            resolver=self._resolver,
        )

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        """The running loop's client, or a fresh one for this call."""
        if self._client is not None:
            yield self._client
            return
        async with self._new_client() as client:
            yield client
