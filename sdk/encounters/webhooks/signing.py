"""Webhook signatures (the Standard Webhooks scheme) and signing secrets at rest.

Each request carries ``webhook-id`` (the event's id: the same on every retry),
``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the bytes of the
secret (the base64 after ``whsec_``). While a secret is being rotated, every active
secret signs and the signatures are separated by spaces; a receiver accepts the request
if any of them matches one of its secrets.

Secrets must be recoverable to sign, so they cannot be hashed like API keys: they are
sealed with AES-GCM under a subkey of the engine's master key (HKDF-SHA256, the same
scheme as NPC memories, with its own purpose label), each with a fresh nonce and the
webhook and secret ids as associated data. A secret is shown once, when it is created.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigError, EncountersError

SECRET_PREFIX = "whsec_"
#: Bytes of key material in a generated secret (the spec asks for 24 to 64).
SECRET_BYTES = 32
#: How far a receiver should let ``webhook-timestamp`` drift from its clock.
DEFAULT_TOLERANCE = 300
KEY_BYTES = 32
NONCE_BYTES = 12
_PURPOSE = b"ae-webhook-secret-v1"


class WebhookSecretError(EncountersError):
    """A stored signing secret cannot be opened (wrong master key, or the row was
    altered), or a secret is malformed."""


class SignatureError(EncountersError):
    """A webhook request's signature headers are missing, stale or do not match."""


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret (its base64 part, decoded)."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < 24:
        raise WebhookSecretError("a webhook secret must be whsec_ and the base64 of 24+ bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def webhook_headers(
    secrets_: Sequence[str], msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature_header(secrets_, msg_id, ts, body),
    }


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a received request the way the ``standardwebhooks`` library does (for
    receivers written in Python that do not want the dependency). Raises
    :class:`SignatureError`."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and ts and sigs):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        stamp = int(ts)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        raise SignatureError("webhook-timestamp is too far from the current time")
    expected = sign(secret, msg_id, stamp, body).split(",", 1)[1].encode()
    for candidate in sigs.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return
    raise SignatureError("no matching signature")


class SecretBox:
    """Seals signing secrets with AES-GCM under a subkey of the master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise ConfigError("the webhook master key must be 32 bytes (the AE memory key)")
        key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_PURPOSE)
        self._aead = AESGCM(key.derive(master))

    def seal(self, secret: str, context: str) -> str:
        """base64 of nonce + ciphertext; ``context`` (webhook and secret ids) is bound
        as associated data, so a sealed secret moved to another webhook fails to open."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, secret.encode(), context.encode())
        return base64.b64encode(sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        try:
            raw = base64.b64decode(sealed, validate=True)
            return self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()
            ).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise WebhookSecretError(
                "a webhook signing secret could not be decrypted: the master key is not "
                "the one it was sealed with (check AE_MEMORY_KEY or the memory.key file), "
                "or the stored webhook was altered; rotate the secret to replace it"
            ) from None
