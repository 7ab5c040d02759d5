"""The marketplace's data: listings, their immutable versions, ratings, abuse reports
and search queries. Imports nothing of the marketplace's services.

A **listing** is one shared thing (an encounter, a template, a campaign or a persona)
with an owner. Its **versions** carry the content: each is published once under a
semantic version (``1.4.0``) with its metadata (title, description, tags...) and a
SHA-256 content hash, and is never rewritten; a newer version supersedes it, the
owner may deprecate it, an admin approves or rejects it under the review policy. The
listing row shows the metadata of its newest approved version; an admin may unlist
the whole listing with a reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ..models.common import LANGUAGE_PATTERN, Id, utcnow

Kind = Literal["encounter", "template", "campaign", "persona"]
KINDS: tuple[Kind, ...] = ("encounter", "template", "campaign", "persona")
World = Literal["gmod", "minecraft", "web", "any"]
#: ``pending``: waiting for an admin (review policy); ``published``: visible;
#: ``rejected``: an admin refused it (the reason is kept).
VersionStatus = Literal["pending", "published", "rejected"]
#: ``review``: every new version waits for an admin; ``open``: a version that passes
#: moderation and validation is published at once.
Policy = Literal["review", "open"]
Sort = Literal["new", "top", "downloads"]

SEMVER = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
SEMVER_HINT = "must be a semantic version MAJOR.MINOR.PATCH such as 1.0.0"
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[\w][\w -]{0,31}$")
]
LanguageTag = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
MAX_CONTENT_BYTES = 1_000_000
STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def parse_semver(value: str) -> tuple[int, int, int]:
    """``"1.4.0"`` -> ``(1, 4, 0)``; ValueError with the hint otherwise."""
    found = SEMVER.match(value)
    if found is None:
        raise ValueError(SEMVER_HINT)
    return int(found[1]), int(found[2]), int(found[3])


class DependencyRef(BaseModel):
    """Another listing this version needs (a campaign's encounters): ``version`` is an
    exact version, or None for the newest published one at install time."""

    model_config = STRICT

    listing: Id
    version: str | None = None

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            parse_semver(value)
        return value


class ListingMeta(BaseModel):
    """What a creator writes about a version; every text field is moderated."""

    model_config = STRICT

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=120)]
    description: Text = ""
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "general"
    difficulty_min: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.1
    difficulty_max: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 1.0
    worlds: Annotated[list[World], Field(min_length=1, max_length=4)] = ["any"]
    languages: Annotated[list[LanguageTag], Field(min_length=1, max_length=20)] = ["en"]
    licence: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = "CC-BY-4.0"
    #: The text card shown in results (the listing's preview); the studio may also
    #: render an encounter's canvas image from the content itself.
    preview: Annotated[str, StringConstraints(strip_whitespace=True, max_length=600)] = ""

    @field_validator("tags", "worlds", "languages")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _range(self) -> ListingMeta:
        if self.difficulty_min > self.difficulty_max:
            raise ValueError("difficulty_min must be <= difficulty_max")
        return self


class Submission(BaseModel):
    """One version to publish: ``listing_id`` None starts a new listing; the owner of an
    existing listing adds a version to it."""

    model_config = STRICT

    kind: Kind
    listing_id: Id | None = None
    version: str = "1.0.0"
    meta: ListingMeta
    content: dict[str, Any]
    dependencies: Annotated[list[DependencyRef], Field(max_length=100)] = []
    changelog: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        parse_semver(value)
        return value


class VersionRecord(BaseModel):
    """One immutable version of a listing."""

    listing_id: str
    version: str
    status: VersionStatus
    meta: ListingMeta
    content: dict[str, Any]
    content_hash: str
    dependencies: list[DependencyRef] = []
    changelog: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    reason: str | None = None  # why it was rejected
    deprecated: str | None = None  # the owner's deprecation note, when deprecated


class Listing(BaseModel):
    """A listing as search and the API show it (the newest published version's
    metadata; before the first approval, the newest submitted version's)."""

    id: str
    kind: Kind
    owner: str
    meta: ListingMeta
    latest_version: str | None = None  # newest published version
    unlisted: str | None = None  # the admin's reason, when unlisted
    downloads: int = 0
    #: Mean of 1..5 (None without ratings), each tenant's ratings (a game server's
    #: players') weighing as at most ``TENANT_RATING_CAP`` ratings at their mean.
    rating: float | None = None
    #: The ratings as they weigh: one per user acting for itself, at most
    #: ``TENANT_RATING_CAP`` per tenant (all stay stored: ``/reviews`` lists them).
    ratings: int = 0
    #: The abuse reports as they weigh: at most ``TENANT_REPORT_CAP`` per tenant.
    reports: int = 0
    reputation: float | None = None  # persona listings: 0..100
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Review(BaseModel):
    listing_id: str
    user: str
    rating: Annotated[int, Field(ge=1, le=5)]
    text: str = ""
    #: Who the rating came through (a game server's owner tag; None: the user itself):
    #: one tenant's ratings weigh at most ``TENANT_RATING_CAP`` in the listing's.
    tenant: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Report(BaseModel):
    id: str
    listing_id: str
    review_user: str | None = None  # a report on a review names its author
    reporter: str
    reason: str
    #: As :attr:`Review.tenant`; one tenant's reports weigh at most ``TENANT_REPORT_CAP``.
    tenant: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SearchQuery(BaseModel):
    """A search: ``text`` is matched (full text) against title, description and tags;
    the other fields filter. ``difficulty`` keeps listings whose range contains it."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=200)] = ""
    kind: Kind | None = None
    category: str | None = None
    world: World | None = None
    language: str | None = None
    difficulty: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    min_rating: Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)] | None = None
    sort: Sort = "new"
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class SearchPage(BaseModel):
    items: list[Listing]
    #: Pass back to get the next page; None on the last page.
    next_cursor: str | None = None


class InstallItem(BaseModel):
    """One piece of content an install brings, checked against its hash."""

    listing_id: str
    kind: Kind
    version: str
    content: dict[str, Any]
    content_hash: str
    licence: str
