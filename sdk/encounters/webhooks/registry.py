"""The webhook registry: registrations, their sealed signing secrets, and each
webhook's delivery state, kept as documents in the store.

Registering vets the URL (only public addresses unless ``allow_networks``) and
returns the signing secret once; the store only holds it sealed with a subkey of the
engine's master key. Every change is appended to the ``webhook_registry`` log, an
audit trail. Changes of one webhook are serialised by a per-webhook lock that the
delivery (:mod:`.delivery`) shares, so a rotation never races a send.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .._util.locks import KeyedLocks
from ..errors import FieldError, NotFound, ValidationFailed
from ..log import get_logger
from ..models.common import new_id, utcnow
from ..storage.protocols import WebhookStore
from ..validation import validate_model
from .models import StoredSecret, Webhook, WebhookInput, WebhookRecord, WebhookState
from .network import DestinationRefused, Resolver, parse_networks, vetted_addresses
from .signing import SecretBox, generate_secret

log = get_logger(__name__)

#: Store names: the registry log (an audit trail of registrations, rotations, disables
#: and deletions) and the two document kinds.
REGISTRY_LOG = "webhook_registry"
WEBHOOK_DOC = "webhook"
STATE_DOC = "webhook_state"

#: A webhook holds at most this many signing secrets (rotation overlap).
MAX_SECRETS = 5


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


def iso(at: datetime) -> str:
    """A timestamp as receivers see it: UTC, milliseconds, ``Z``."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def host_of(url: str) -> str:
    """What logs show of a URL: its host (paths and queries may hold tokens)."""
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return "?"


class WebhookRegistry:
    """Registered webhooks in ``store``. ``key`` is the engine's 32-byte master key;
    ``allow_networks`` (CIDR strings) lets webhooks reach addresses the SSRF guard
    refuses otherwise; ``resolver`` replaces the system DNS resolver (tests)."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        key: bytes,
        allow_networks: Sequence[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.store = store
        self.allow_networks = parse_networks(allow_networks)
        self.resolver = resolver
        #: One holder per webhook at a time: registry changes and deliveries.
        self.locks: KeyedLocks[str] = KeyedLocks()
        self._box = SecretBox(key)

    async def register(
        self, url: str, events: Sequence[str] | str, description: str = ""
    ) -> tuple[Webhook, str]:
        """Register a webhook; returns it and its signing secret (``whsec_...``), which
        is shown only now. Raises :class:`ValidationFailed` naming the field (``url``,
        ``events[1]``...), also when the URL's host resolves to a forbidden address."""
        spec = validate_model(
            WebhookInput,
            {
                "url": url,
                "events": events if isinstance(events, str) else list(events),
                "description": description,
            },
            "webhook",
        )
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
        log.info("webhook.registered", webhook_id=webhook_id, host=host_of(spec.url))
        return record.public(), secret

    async def records(self) -> builtins.list[WebhookRecord]:
        """Every stored record, deleted ones included, in store order."""
        return await self.store.list_documents(WEBHOOK_DOC, WebhookRecord)

    async def list(self) -> builtins.list[Webhook]:
        """Registered webhooks (enabled and disabled), oldest first."""
        live = sorted(
            (r for r in await self.records() if not r.deleted), key=lambda r: r.created_at
        )
        return [r.public() for r in live]

    async def get(self, webhook_id: str) -> Webhook:
        """The webhook; :class:`WebhookNotFound` if there is none."""
        return (await self.require(webhook_id)).public()

    async def delete(self, webhook_id: str) -> None:
        """Stop delivering to a webhook and forget its secrets (its delivery log is
        kept)."""
        async with self.locks.hold(webhook_id):
            record = await self.require(webhook_id)
            record.deleted, record.deleted_at, record.secrets = True, utcnow(), []
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            await self._audit(webhook_id, "deleted")
        log.info("webhook.deleted", webhook_id=webhook_id)

    async def rotate_secret(self, webhook_id: str) -> str:
        """A new signing secret (returned, shown only now). The previous ones keep
        signing too, so receivers can switch over, until :meth:`expire_secret`."""
        async with self.locks.hold(webhook_id):
            record = await self.require(webhook_id)
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
        async with self.locks.hold(webhook_id):
            record = await self.require(webhook_id)
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
        async with self.locks.hold(webhook_id):
            record = await self.require(webhook_id)
            await self.set_disabled(record, reason[:500])
        return record.public()

    async def enable(self, webhook_id: str) -> Webhook:
        """Resume deliveries (after a 410 or :meth:`disable`), from the event where
        they stopped, with a fresh set of attempts."""
        async with self.locks.hold(webhook_id):
            record = await self.require(webhook_id)
            record.disabled, record.disabled_reason, record.disabled_at = False, None, None
            await self.store.save_document(WEBHOOK_DOC, webhook_id, record)
            state = await self.state(record)
            state.attempt, state.event_id, state.next_attempt_at = 0, None, None
            await self.save_state(webhook_id, state)
            await self._audit(webhook_id, "enabled")
        return record.public()

    # -- for the delivery ----------------------------------------------------------------

    async def require(self, webhook_id: str) -> WebhookRecord:
        """The live record; :class:`WebhookNotFound` for an unknown or deleted one."""
        record = await self.store.get_document(WEBHOOK_DOC, webhook_id, WebhookRecord)
        if record is None or record.deleted:
            raise WebhookNotFound(webhook_id)
        return record

    async def find(self, webhook_id: str) -> WebhookRecord | None:
        """The stored record, deleted or not, or None."""
        return await self.store.get_document(WEBHOOK_DOC, webhook_id, WebhookRecord)

    async def state(self, record: WebhookRecord) -> WebhookState:
        """The webhook's delivery state (a fresh one at its start marker)."""
        state = await self.store.get_document(STATE_DOC, record.id, WebhookState)
        return state or WebhookState(cursor=record.start_after)

    async def stored_state(self, webhook_id: str) -> WebhookState | None:
        return await self.store.get_document(STATE_DOC, webhook_id, WebhookState)

    async def save_state(self, webhook_id: str, state: WebhookState) -> None:
        await self.store.save_document(STATE_DOC, webhook_id, state)

    def signing_keys(self, record: WebhookRecord, now: datetime) -> builtins.list[str]:
        """The webhook's active signing secrets, newest first, unsealed."""
        return [
            self._box.open(s.sealed, self._context(record.id, s.id))
            for s in record.secrets
            if s.active(now)
        ]

    async def set_disabled(self, record: WebhookRecord, reason: str) -> None:
        record.disabled, record.disabled_reason, record.disabled_at = True, reason, utcnow()
        await self.store.save_document(WEBHOOK_DOC, record.id, record)
        await self._audit(record.id, "disabled", reason=reason)
        log.warning("webhook.disabled", webhook_id=record.id, reason=reason)

    # -- helpers -----------------------------------------------------------------------

    async def _vet_url(self, url: str) -> None:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            await vetted_addresses(host, port, self.allow_networks, self.resolver)
        except DestinationRefused as exc:
            problems = "; ".join(exc.problems)
            message = (
                f"its host {host!r} is not allowed: {problems}; webhooks may only reach "
                "public addresses (or allow_networks)"
            )
            raise ValidationFailed("webhook", [FieldError("url", message)]) from None
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

    async def _audit(self, webhook_id: str, action: str, **data: Any) -> None:
        await self.store.append_events(
            REGISTRY_LOG, [(webhook_id, utcnow(), {"action": action, **data})]
        )
