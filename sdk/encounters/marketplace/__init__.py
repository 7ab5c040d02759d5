"""The marketplace: creators publish encounters, templates, campaigns and personas as
versioned listings; others find them (full-text search with filters and stable
pages), rate and review them, report abuse, and install them with their dependencies,
checked against their content hashes. Bundles carry a listing as one zip file;
Character Cards (V2, V3) carry personas in and out.

``Marketplace`` (:mod:`.service`) holds the rules, ``SQLiteMarketStore``
(:mod:`.store`) the data; ``engine.market`` is one over the engine's store file.
"""

from .bundle import Bundle, read_bundle, write_bundle
from .cards import (
    PersonaMemory,
    PersonaPackage,
    card_from_json,
    card_from_png,
    card_to_json,
    card_to_png,
    read_card,
)
from .content import content_hash, validate_content
from .errors import (
    BundleError,
    CardError,
    IntegrityFailed,
    MarketConflict,
    MarketError,
    MarketForbidden,
)
from .library import install_into
from .models import (
    InstallItem,
    Listing,
    ListingMeta,
    Report,
    Review,
    SearchPage,
    SearchQuery,
    Submission,
    VersionRecord,
)
from .service import Actor, Marketplace, reputation
from .store import MarketStore, SQLiteMarketStore

__all__ = [
    "Actor",
    "Bundle",
    "BundleError",
    "CardError",
    "InstallItem",
    "IntegrityFailed",
    "Listing",
    "ListingMeta",
    "MarketConflict",
    "MarketError",
    "MarketForbidden",
    "MarketStore",
    "Marketplace",
    "PersonaMemory",
    "PersonaPackage",
    "Report",
    "Review",
    "SQLiteMarketStore",
    "SearchPage",
    "SearchQuery",
    "Submission",
    "VersionRecord",
    "card_from_json",
    "card_from_png",
    "card_to_json",
    "card_to_png",
    "content_hash",
    "install_into",
    "read_bundle",
    "read_card",
    "reputation",
    "validate_content",
    "write_bundle",
]
