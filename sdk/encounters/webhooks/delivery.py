"""The durable outbox and its delivery: events in, signed POSTs out.

Events are appended to the store's append-only log ``webhook_event`` (the outbox)
before anything is sent, so an event accepted by :meth:`WebhookDelivery.enqueue`
survives a crash. Each webhook has a cursor in that log (its state document, kept by
the registry): its events after the cursor are delivered in log order, one at a time;
the cursor moves past an event only once the receiver answered 2xx (or the event was
given up on after the last attempt), and it is saved right after. A new process on the
same store resumes from the saved cursor and attempt count. Delivery is at least once:
if the process dies after the receiver answered but before the cursor was saved, that
event is sent again, with the same ``webhook-id``, which receivers use to deduplicate.

Several processes (daemon nodes) may run the delivery loop on one PostgreSQL store:
each webhook's deliveries are claimed (:class:`~..storage.protocols.WorkClaims`, row
locks with ``SKIP LOCKED``) by one process at a time, for ``claim_ttl`` seconds,
renewed before every send, and given up when that webhook is caught up. So no event is
sent by two healthy processes, and the events of a process killed mid-delivery are
taken over by another once its claim expires (the event it was sending may then reach
the receiver twice, with the same ``webhook-id``). ``claim_ttl`` is longer than a
send can last (``timeout``) by :data:`CLAIM_MARGIN`, so a claim renewed before a send
outlives it; a process that stalled past its claim checks it after the send and, when
it lapsed, writes nothing (its event may be sent again by another process, but that
process's progress is never undone). An embedded (SQLite) store
has one process delivering: its claims are always granted. Enqueueing is safe from any
number of processes.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast

import anyio
import httpx
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ..errors import ConfigError, FieldError, ValidationFailed
from ..events import EngineEvent
from ..log import get_logger
from ..models.common import new_id, utcnow
from ..storage.base import LoggedEvent
from .models import (
    ENGINE_EVENT_TYPES,
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    DeliveryRecord,
    DeliveryResult,
    Outcome,
    RetryPolicy,
    WebhookRecord,
    WebhookState,
)
from .network import DestinationRefused, guarded_client
from .registry import WebhookRegistry, iso
from .signing import webhook_headers

log = get_logger(__name__)

#: Store names: the outbox log and the delivery log.
EVENT_LOG = "webhook_event"
DELIVERY_LOG = "webhook_delivery"

#: An event's JSON body may be at most this big.
MAX_PAYLOAD_BYTES = 256 * 1024
#: Characters of a receiver's answer kept in the delivery log.
RESPONSE_EXCERPT = 200
_READ_LIMIT = 4096
_BATCH = 200
_RECENT = 200
USER_AGENT = "ai-encounters-webhooks/1"
#: The kind of work claims (``WorkClaims``) a webhook's deliveries are claimed as.
CLAIM_KIND = "webhook"
#: Seconds a claim outlives the longest send (``timeout``): time for the delivery
#: log and cursor writes after it.
CLAIM_MARGIN = 5.0


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


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"redirect ({status}) not followed; register the final URL"
    if status == 410:
        return "410 Gone: the receiver asked to stop; the webhook was disabled"
    return f"HTTP {status}"


def _gone_reason() -> str:
    return f"the receiver answered 410 Gone at {iso(utcnow())}"


class WebhookDelivery:
    """Records events in the outbox and delivers them to the registry's webhooks.

    ``timeout`` bounds a whole request, ``connect_timeout`` the connection;
    ``poll_interval`` is how often :meth:`run` looks for events enqueued by other
    processes; ``concurrency`` how many webhooks are sent to at once; ``claim_ttl``
    how long this process's claim on a webhook's deliveries lasts unless renewed
    (default ``timeout + CLAIM_MARGIN``), which is how long the events of a process
    that died mid-delivery wait for another."""

    def __init__(
        self,
        registry: WebhookRegistry,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        poll_interval: float = 1.0,
        concurrency: int = 16,
        claim_ttl: float | None = None,
    ) -> None:
        claim_ttl = timeout + CLAIM_MARGIN if claim_ttl is None else claim_ttl
        for name, value in (
            ("timeout", timeout),
            ("connect_timeout", connect_timeout),
            ("poll_interval", poll_interval),
            ("claim_ttl", claim_ttl),
        ):
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        self.registry = registry
        self.store = registry.store
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.poll_interval = poll_interval
        self._concurrency = max(1, concurrency)
        self.claim_ttl = claim_ttl
        #: this delivery loop's name in work claims (one per process and manager)
        self.owner = new_id("deliverer")
        self._renewed: dict[str, float] = {}  # webhook id -> when its claim was extended
        self._client: httpx.AsyncClient | None = None
        self._wakeup: anyio.Event | None = None
        self._next_due: datetime | None = None
        self._running = False

    # -- the outbox --------------------------------------------------------------------

    async def enqueue(
        self, event_type: str, data: Mapping[str, Any], *, at: datetime | None = None
    ) -> str | None:
        """Record an event for delivery; returns its id (the ``webhook-id`` receivers
        see), or ``None`` when no webhook subscribes to this type (nothing is stored).
        Raises :class:`ValidationFailed` for an unknown type or data that is not JSON
        or too big."""
        if event_type not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            raise ValidationFailed(
                "webhook event",
                [FieldError("type", f"unknown event type {event_type!r}; known types: {known}")],
            )
        try:
            body = to_jsonable_python(dict(data))
        except PydanticSerializationError as exc:
            raise ValidationFailed(
                "webhook event", [FieldError("data", f"must be JSON-serialisable: {exc}")]
            ) from None
        at = at or utcnow()
        event_id = new_id("evt")
        payload = {"id": event_id, "type": event_type, "timestamp": iso(at), "data": body}
        size = len(encode_body({k: v for k, v in payload.items() if k != "id"}))
        if size > MAX_PAYLOAD_BYTES:
            raise ValidationFailed(
                "webhook event",
                [FieldError("data", f"is {size} bytes as JSON; at most {MAX_PAYLOAD_BYTES}")],
            )
        records = await self.registry.records()
        if not any(not r.deleted and r.wants(event_type) for r in records):
            return None
        await self.store.append_events(EVENT_LOG, [(event_type, at, payload)])
        self.wake()
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

    def wake(self) -> None:
        """Let :meth:`run` look for due events now."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def deliver_due(self) -> int:
        """One pass: every enabled webhook gets its due events, in order, until it is
        caught up or waiting for a retry. Returns how many deliveries succeeded."""
        records = await self.registry.records()
        self._next_due = None
        targets = await self._with_work([r for r in records if not r.deleted and not r.disabled])
        if targets:  # the webhooks no other process is delivering to right now
            targets = await self.store.claim_work(CLAIM_KIND, targets, self.owner, self.claim_ttl)
        counts: list[int] = []
        limiter = anyio.CapacityLimiter(self._concurrency)

        async def drain(webhook_id: str, client: httpx.AsyncClient) -> None:
            async with limiter:
                counts.append(await self._drain(webhook_id, client))

        async with self._http() as client, anyio.create_task_group() as tg:
            for webhook_id in targets:
                tg.start_soon(drain, webhook_id, client)
        return sum(counts)

    async def _with_work(self, records: list[WebhookRecord]) -> list[str]:
        """The webhooks that may have an event to send now: none when every one is
        caught up (no event after the lowest cursor) or waiting for a retry, so an
        idle pass claims nothing (several nodes polling write nothing)."""
        now, due, lowest = utcnow(), [], None
        for record in records:
            state = await self.registry.state(record)
            if state.next_attempt_at is not None and state.next_attempt_at > now:
                self._note_due(state.next_attempt_at)
                continue
            due.append(record.id)
            lowest = state.cursor if lowest is None else min(lowest, state.cursor)
        if lowest is None or not await self.store.list_events(EVENT_LOG, after_id=lowest, limit=1):
            return []
        return due

    async def deliveries(self, webhook_id: str, limit: int = 50) -> list[DeliveryRecord]:
        """The webhook's latest delivery attempts (including tests), newest first."""
        await self.registry.require(webhook_id)
        limit = max(1, limit)
        state = await self.registry.stored_state(webhook_id)
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
        it is disabled), once, and record it in the delivery log. Holds the webhook's
        claim meanwhile (waiting for another node's delivery to it to pause), so its
        state write cannot undo that node's progress."""
        async with self.registry.locks.hold(webhook_id), self.claimed(webhook_id):
            record = await self.registry.require(webhook_id)
            now = utcnow()
            event_id = new_id("evt")
            payload = {
                "type": TEST_EVENT_TYPE,
                "timestamp": iso(now),
                "data": {"webhook_id": webhook_id, "message": "a test event from AI Encounters"},
            }
            async with self._http() as client:
                result = await self._send(record, event_id, encode_body(payload), client)
            outcome: Outcome = "delivered" if result.ok else "failed"
            if result.status_code == 410:
                outcome = "disabled"
                await self.registry.set_disabled(record, _gone_reason())
            state = await self.registry.state(record)
            await self._record(record, state, event_id, TEST_EVENT_TYPE, 1, outcome, result)
            await self.registry.save_state(webhook_id, state)
        return DeliveryResult(
            ok=result.ok,
            event_id=event_id,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            response=result.response,
        )

    async def _drain(self, webhook_id: str, client: httpx.AsyncClient) -> int:
        """Deliver one webhook's due events while this process holds its claim (renewed
        before every send, so it outlasts the send); give the claim up when done."""
        delivered = 0
        try:
            while True:
                async with self.registry.locks.hold(webhook_id):
                    if not await self._renew(webhook_id):
                        return delivered
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
        finally:
            self._renewed.pop(webhook_id, None)
            with anyio.move_on_after(5, shield=True):
                try:
                    await self.store.release_work(CLAIM_KIND, webhook_id, self.owner)
                except Exception as exc:  # it expires anyway
                    log.warning("webhook.release_failed", webhook_id=webhook_id, error=repr(exc))

    @asynccontextmanager
    async def claimed(self, webhook_id: str) -> AsyncIterator[None]:
        """Hold the webhook's claim for a change of its delivery state outside the
        delivery loop (a test send, re-enabling): waits until no other process is
        delivering to it (at most ``claim_ttl`` seconds, after which its claim has
        expired) and gives it up afterwards."""
        with anyio.fail_after(self.claim_ttl + 5):
            while not await self.store.claim_work(
                CLAIM_KIND, [webhook_id], self.owner, self.claim_ttl
            ):
                await anyio.sleep(0.1)
        try:
            yield
        finally:
            with anyio.move_on_after(5, shield=True):
                try:
                    await self.store.release_work(CLAIM_KIND, webhook_id, self.owner)
                except Exception as exc:  # it expires anyway
                    log.warning("webhook.release_failed", webhook_id=webhook_id, error=repr(exc))

    async def _renew(self, webhook_id: str) -> bool:
        """Hold this webhook's claim for another ``claim_ttl`` seconds; False when it
        lapsed (this process stalled past it: another may have taken the work)."""
        started = time.monotonic()  # before the call: the claim runs from no earlier
        if not await self.store.extend_work(CLAIM_KIND, webhook_id, self.owner, self.claim_ttl):
            log.warning("webhook.claim_lost", webhook_id=webhook_id)
            return False
        self._renewed[webhook_id] = started
        return True

    async def _still_held(self, webhook_id: str) -> bool:
        """After a send, before its progress is written: the claim has not lapsed. Free
        while the claim surely runs (a send lasts at most ``timeout``); a process that
        stalled past that asks the store, and writes nothing if the claim lapsed (the
        event is then sent again: at least once, never progress undone)."""
        renewed = self._renewed.get(webhook_id)
        if renewed is not None and time.monotonic() - renewed < self.claim_ttl - CLAIM_MARGIN / 2:
            return True
        return await self._renew(webhook_id)

    async def _step(self, webhook_id: str, client: httpx.AsyncClient) -> _Step:
        """Deliver (or try) the next wanted event of one webhook, under its lock."""
        record = await self.registry.find(webhook_id)
        if record is None or record.deleted or record.disabled:
            return _Step()
        state = await self.registry.state(record)
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
                await self.registry.save_state(webhook_id, state)
            return _Step(more=len(rows) == _BATCH)
        if state.event_id != target.id:
            state.event_id, state.attempt = target.id, 0
        attempt = state.attempt + 1
        event_id = str(target.data["id"])
        event_type = str(target.data["type"])
        body = encode_body({k: v for k, v in target.data.items() if k != "id"})
        result = await self._send(record, event_id, body, client)
        if not await self._still_held(webhook_id):
            return _Step()
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
        await self.registry.save_state(webhook_id, state)
        if outcome == "disabled":
            await self.registry.set_disabled(record, _gone_reason())
        elif outcome == "failed":
            log.warning(
                "webhook.gave_up",
                webhook_id=webhook_id,
                event_id=event_id,
                attempts=attempt,
                error=result.error,
            )
        elif outcome == "retrying":
            log.info(
                "webhook.retrying",
                webhook_id=webhook_id,
                event_id=event_id,
                attempt=attempt,
                error=result.error,
            )
        return _Step(delivered=result.ok, more=outcome in ("delivered", "failed"))

    async def _send(
        self, record: WebhookRecord, event_id: str, body: bytes, client: httpx.AsyncClient
    ) -> _Attempt:
        """One signed POST; never raises for network or HTTP problems."""
        keys = self.registry.signing_keys(record, utcnow())
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
                        result.error = _status_error(r.status_code)
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
            log.debug(
                "webhook.delivered",
                webhook_id=record.id,
                event_id=event_id,
                status=result.status_code,
                ms=result.duration_ms,
            )
        return result

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

    def _note_due(self, when: datetime) -> None:
        if self._next_due is None or when < self._next_due:
            self._next_due = when

    def _new_client(self) -> httpx.AsyncClient:
        return guarded_client(
            self.registry.allow_networks,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            resolver=self.registry.resolver,
        )

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        """The running loop's client, or a fresh one for this call."""
        if self._client is not None:
            yield self._client
            return
        async with self._new_client() as client:
            yield client
