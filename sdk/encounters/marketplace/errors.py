"""The marketplace's errors; ``status`` is the HTTP status the control API answers."""

from __future__ import annotations

from ..errors import EncountersError


class MarketError(EncountersError):
    """A marketplace request that cannot be done as asked."""

    status = 400


class MarketConflict(MarketError):
    """The request conflicts with what is stored (a version that exists, a second
    report of the same thing)."""

    status = 409


class MarketForbidden(MarketError):
    """The caller may not do this to this listing (not its owner, not an admin)."""

    status = 403


class IntegrityFailed(MarketError):
    """Stored or shipped content does not match its content hash: it was changed
    after it was published. Nothing is installed."""

    status = 409


class BundleError(MarketError):
    """A bundle file is malformed or unsafe (path outside the bundle, member too big,
    hash mismatch)."""

    status = 422


class CardError(MarketError):
    """A Character Card (JSON or PNG) cannot be read."""

    status = 422
