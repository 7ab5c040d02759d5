""":class:`WebhookManager`: the one object an engine or the daemon holds for webhooks.

It composes the registry (:mod:`.registry`: registrations, secrets, per-webhook
state) and the outbox with its delivery (:mod:`.delivery`), and offers their methods
in one place. They share the store and the per-webhook locks.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..events import EngineEvent
from ..storage.protocols import WebhookStore
from .delivery import WebhookDelivery
from .models import DeliveryRecord, DeliveryResult, RetryPolicy, Webhook
from .network import IPNetwork, Resolver
from .registry import WebhookRegistry


class WebhookManager:
    """Registers webhooks, records events in the outbox and delivers them.

    ``key`` is the engine's 32-byte master key (``load_or_create_key``): signing
    secrets are sealed with a subkey of it. ``allow_networks`` (CIDR strings) lets
    webhooks reach addresses the SSRF guard refuses otherwise (a local receiver in
    development, a partner on a private link). ``timeout`` bounds a whole request,
    ``connect_timeout`` the connection. ``resolver`` replaces the system DNS resolver
    (tests). ``claim_ttl``: see :class:`WebhookDelivery` (several processes on one
    PostgreSQL store each deliver a webhook's events in turn, never both at once)."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        key: bytes,
        allow_networks: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        poll_interval: float = 1.0,
        concurrency: int = 16,
        resolver: Resolver | None = None,
        claim_ttl: float | None = None,
    ) -> None:
        self.store = store
        self.registry = WebhookRegistry(
            store, key=key, allow_networks=allow_networks, resolver=resolver
        )
        self.delivery = WebhookDelivery(
            self.registry,
            policy=policy,
            timeout=timeout,
            connect_timeout=connect_timeout,
            poll_interval=poll_interval,
            concurrency=concurrency,
            claim_ttl=claim_ttl,
        )

    @property
    def policy(self) -> RetryPolicy:
        return self.delivery.policy

    @property
    def allow_networks(self) -> tuple[IPNetwork, ...]:
        return self.registry.allow_networks

    # -- registration (see WebhookRegistry) ----------------------------------------------

    async def register(
        self, url: str, events: Sequence[str] | str, description: str = ""
    ) -> tuple[Webhook, str]:
        """See :meth:`WebhookRegistry.register`: the webhook and its secret, shown once."""
        return await self.registry.register(url, events, description)

    async def list(self) -> builtins.list[Webhook]:
        """Registered webhooks (enabled and disabled), oldest first."""
        return await self.registry.list()

    async def get(self, webhook_id: str) -> Webhook:
        """The webhook; :class:`WebhookNotFound` if there is none."""
        return await self.registry.get(webhook_id)

    async def delete(self, webhook_id: str) -> None:
        """See :meth:`WebhookRegistry.delete`."""
        await self.registry.delete(webhook_id)

    async def rotate_secret(self, webhook_id: str) -> str:
        """See :meth:`WebhookRegistry.rotate_secret`."""
        return await self.registry.rotate_secret(webhook_id)

    async def expire_secret(self, webhook_id: str, *, after: float = 0.0) -> int:
        """See :meth:`WebhookRegistry.expire_secret`."""
        return await self.registry.expire_secret(webhook_id, after=after)

    async def disable(self, webhook_id: str, reason: str = "disabled by an operator") -> Webhook:
        """See :meth:`WebhookRegistry.disable`."""
        return await self.registry.disable(webhook_id, reason)

    async def enable(self, webhook_id: str) -> Webhook:
        """See :meth:`WebhookRegistry.enable`; deliveries resume at once. (Under the
        webhook's claim: no other process is delivering to it while its state is
        reset.)"""
        async with self.delivery.claimed(webhook_id):
            webhook = await self.registry.enable(webhook_id)
        self.delivery.wake()
        return webhook

    # -- the outbox and delivery (see WebhookDelivery) ---------------------------------

    async def enqueue(
        self, event_type: str, data: Mapping[str, Any], *, at: datetime | None = None
    ) -> str | None:
        """See :meth:`WebhookDelivery.enqueue`."""
        return await self.delivery.enqueue(event_type, data, at=at)

    async def on_engine_event(self, event: EngineEvent) -> None:
        """See :meth:`WebhookDelivery.on_engine_event`."""
        await self.delivery.on_engine_event(event)

    async def run(self) -> None:
        """See :meth:`WebhookDelivery.run`."""
        await self.delivery.run()

    async def deliver_due(self) -> int:
        """See :meth:`WebhookDelivery.deliver_due`."""
        return await self.delivery.deliver_due()

    async def deliveries(self, webhook_id: str, limit: int = 50) -> builtins.list[DeliveryRecord]:
        """See :meth:`WebhookDelivery.deliveries`."""
        return await self.delivery.deliveries(webhook_id, limit)

    async def test(self, webhook_id: str) -> DeliveryResult:
        """See :meth:`WebhookDelivery.test`."""
        return await self.delivery.test(webhook_id)
