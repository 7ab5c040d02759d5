"""Webhooks: signed HTTP callbacks for engine, persona and companion events.

Register a receiver with :meth:`WebhookManager.register`, feed events with
:meth:`WebhookManager.enqueue` (or subscribe :meth:`WebhookManager.on_engine_event` to
the engine's :class:`~encounters.events.EventBus`) and run
:meth:`WebhookManager.run` in a task group. Events go through a durable outbox in the
store, are signed per the Standard Webhooks spec, retried with backoff, and only ever
sent to public addresses unless allowed. See ``docs/webhooks.md``.

The package: :mod:`.models`, :mod:`.registry` (registrations and secrets),
:mod:`.delivery` (the outbox and its delivery), :mod:`.manager` (both in one object),
:mod:`.network` (the SSRF guard) and :mod:`.signing`.
"""

from .delivery import WebhookDelivery, parse_retry_after
from .manager import WebhookManager
from .models import (
    ENGINE_EVENT_TYPES,
    EVENT_TYPES,
    PLATFORM_EVENT_TYPES,
    TEST_EVENT_TYPE,
    DeliveryRecord,
    DeliveryResult,
    RetryPolicy,
    SecretInfo,
    Webhook,
)
from .network import (
    DestinationRefused,
    GuardedBackend,
    GuardedTransport,
    address_problem,
    guarded_client,
    parse_networks,
    vetted_addresses,
)
from .registry import WebhookNotFound, WebhookRegistry
from .signing import (
    SignatureError,
    WebhookSecretError,
    generate_secret,
    sign,
    verify,
    webhook_headers,
)

__all__ = [
    "ENGINE_EVENT_TYPES",
    "EVENT_TYPES",
    "PLATFORM_EVENT_TYPES",
    "TEST_EVENT_TYPE",
    "DeliveryRecord",
    "DeliveryResult",
    "DestinationRefused",
    "GuardedBackend",
    "GuardedTransport",
    "RetryPolicy",
    "SecretInfo",
    "SignatureError",
    "Webhook",
    "WebhookDelivery",
    "WebhookManager",
    "WebhookNotFound",
    "WebhookRegistry",
    "WebhookSecretError",
    "address_problem",
    "generate_secret",
    "guarded_client",
    "parse_networks",
    "parse_retry_after",
    "sign",
    "verify",
    "vetted_addresses",
    "webhook_headers",
]
