"""The marketplace service: publish, review, find, rate, report and install.

:class:`Marketplace` holds the rules; a :class:`~.store.MarketStore` keeps the data,
the content moderator judges every text field, and each decision is written to the
moderation audit log (kinds ``listing``, ``review`` and ``report``), where platform
metrics count it (an abuse report counts as a ``block``: a user judged the content
abusive). Who the caller is comes as an :class:`Actor`: an owner tag (the control
API's tenancy tags, e.g. ``key:<id>``) and whether it is an admin.

Rules:

- a submission passes moderation (every text field of the metadata and the content)
  and the validator of its kind; it is ``published`` at once under the ``open``
  policy, ``pending`` an admin's approval under ``review`` (the default); admins'
  own submissions are published at once;
- versions are semantic and immutable: a new one must be greater than every earlier
  one of the listing; only the owner (or an admin) adds versions;
- admins unlist a listing with a reason (it leaves search and cannot be installed;
  its owner still sees it; audited as a ``listing`` block) and list it again; owners
  deprecate a version with a note (still installable by its exact version; the
  listing shows and installs the newest version not deprecated, while there is one);
- one rating (1-5, with an optional moderated review) per user per listing, replaced
  by the user's next; owners cannot rate their own listings;
- one abuse report per reporter per listing or review;
- a rating or report may name a ``tenant``, whom it came through (the bridge names the
  game server whose key rated for its player): one tenant's ratings weigh in a
  listing's aggregates as at most ``TENANT_RATING_CAP`` ratings at their mean, its
  reports as at most ``TENANT_REPORT_CAP`` (see :mod:`.store`), so a tenant inventing
  players cannot push a listing's rating or reputation past that; every one is still
  stored, listed and audited. Without a tenant each user weighs 1 (an embedder that
  vouches for its users sees no change);
- a persona listing's reputation (0-100) comes from its ratings and reports (see
  :func:`reputation`);
- installing resolves dependencies (a campaign's encounters), checks every piece of
  content against its hash and counts a download.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FieldError, NotFound, ValidationFailed
from ..models.audit import Decision
from ..models.common import new_id, utcnow
from ..moderation import AuditLogger, ContentModerator
from ..moderation.published import published_text_errors
from ..storage.protocols import AuditLog
from ..validation import unsafe_character, unsafe_text_errors, validate_model
from .content import campaign_encounters, content_hash, content_id, validate_content, verify
from .errors import MarketConflict, MarketError, MarketForbidden
from .models import (
    InstallItem,
    Listing,
    Policy,
    Report,
    Review,
    SearchPage,
    SearchQuery,
    Submission,
    VersionRecord,
    parse_semver,
)
from .store import MarketStore

#: Reputation: a prior of this many ratings of 3 stars pulls few ratings to the middle.
PRIOR_RATINGS = 5
PRIOR_MEAN = 3.0
#: Each report weighs as much as this many ratings against the listing.
REPORT_WEIGHT = 3
MAX_DEPENDENCY_DEPTH = 4


@dataclass(frozen=True)
class Actor:
    """Who asks: an owner tag and whether it is an admin."""

    tag: str
    admin: bool = False


def reputation(rating_sum: float, ratings: int, reports: int) -> float:
    """0-100 from ratings (1-5) and abuse reports: the mean rating with a prior of
    ``PRIOR_RATINGS`` ratings of 3 (no ratings: 50), mapped from 1..5 to 0..100, then
    scaled down by reports, each weighing as ``REPORT_WEIGHT`` ratings."""
    mean = (rating_sum + PRIOR_MEAN * PRIOR_RATINGS) / (ratings + PRIOR_RATINGS)
    base = (mean - 1.0) / 4.0 * 100.0
    weight = ratings + PRIOR_RATINGS
    return round(base * weight / (weight + REPORT_WEIGHT * reports), 1)


def creator_text(kind: str, raw: dict[str, Any], content: dict[str, Any]) -> Any:
    """The content's text a creator wrote, for moderation: all of it for encounters,
    templates and campaigns (as submitted, so paths match the file); for a persona its
    name, description and goals, its memory, tags and the card's own fields (not its
    safety settings, whose topic names would read as the topics themselves)."""
    if kind != "persona":
        return raw.get("content")
    persona = content["persona"]
    return {
        "persona": {k: persona[k] for k in ("name", "description", "goals")},
        "memory": content["memory"],
        "tags": content["tags"],
        "card": content["card"],
    }


def _printable(what: str, path: str, text: str) -> None:
    problem = unsafe_character(text)
    if problem is not None:
        raise ValidationFailed(what, [FieldError(path, problem)])


class Marketplace:
    """See the module. ``audit``: where decisions are logged (None: not logged)."""

    def __init__(
        self, store: MarketStore, moderator: ContentModerator, audit: AuditLog | None = None
    ) -> None:
        self.store = store
        self.moderator = moderator
        self.audit = AuditLogger(audit) if audit is not None else None

    async def _log(
        self,
        kind: str,
        decision: Decision,
        *,
        input: Any,
        reason: str | None,
        categories: list[str] | None = None,
    ) -> None:
        self.moderator.counters.count(kind, decision)
        if self.audit is not None:
            await self.audit.record(
                kind, decision, input=input, reason=reason, categories=categories or []
            )

    async def _screen(self, kind: str, data: Any, subject: str) -> None:
        """Moderate every text field of ``data``; a refusal is audited and raised."""
        unsafe, blocked = published_text_errors(self.moderator, data)
        if unsafe:
            raise ValidationFailed(kind, unsafe)
        decision: Decision = "block" if blocked else "allow"
        reason = "; ".join(str(e) for e in blocked)[:200] if blocked else None
        await self._log(kind, decision, input={"subject": subject}, reason=reason)
        if blocked:
            raise ValidationFailed(kind, blocked)

    # -- policy -----------------------------------------------------------------------

    async def policy(self) -> Policy:
        return await self.store.get_policy()

    async def set_policy(self, policy: Policy) -> None:
        await self.store.set_policy(policy)

    # -- publishing -------------------------------------------------------------------

    async def publish(
        self, submission: Submission | Mapping[str, Any], actor: Actor
    ) -> VersionRecord:
        """Check and store one version (see the module for the rules)."""
        raw = submission.model_dump() if isinstance(submission, Submission) else dict(submission)
        sub = validate_model(Submission, raw, "submission")
        listing_id = sub.listing_id or new_id("lst")
        subject = f"{sub.kind} {listing_id}@{sub.version}"
        unsafe = unsafe_text_errors(raw)
        if unsafe:
            raise ValidationFailed("listing", unsafe)
        content = validate_content(sub.kind, sub.content)
        await self._screen(
            "listing",
            {"meta": raw.get("meta"), "content": creator_text(sub.kind, raw, content),
             "changelog": raw.get("changelog", "")},
            subject,
        )  # fmt: skip
        existing = await self.store.get_listing(listing_id) if sub.listing_id else None
        if sub.listing_id and existing is None:
            raise NotFound(f"no listing {listing_id!r}; leave listing_id out to start a new one")
        if existing is not None:
            if existing.owner != actor.tag and not actor.admin:
                raise MarketForbidden(
                    f"listing {listing_id!r} belongs to someone else; "
                    "publish yours as a new listing"
                )
            if existing.kind != sub.kind:
                raise MarketConflict(
                    f"listing {listing_id!r} holds a {existing.kind}, not a {sub.kind}"
                )
            versions = await self.store.list_versions(listing_id)
            if versions and parse_semver(sub.version) <= parse_semver(versions[0].version):
                raise MarketConflict(
                    f"version {sub.version} of {listing_id!r} is not newer than "
                    f"{versions[0].version}; published versions never change, so publish "
                    "a higher version"
                )
        await self._check_dependencies(sub, content)
        status = "published" if actor.admin or await self.policy() == "open" else "pending"
        now = utcnow()
        record = VersionRecord(
            listing_id=listing_id,
            version=sub.version,
            status=status,
            meta=sub.meta,
            content=content,
            content_hash=content_hash(content),
            dependencies=sub.dependencies,
            changelog=sub.changelog,
            created_at=now,
        )
        listing = Listing(
            id=listing_id,
            kind=sub.kind,
            owner=actor.tag,
            meta=sub.meta,
            created_at=now,
            updated_at=now,
        )
        if not await self.store.add_version(listing, record):
            raise MarketConflict(
                f"version {sub.version} of {listing_id!r} exists and never "
                "changes; publish a higher version"
            )
        return record

    async def _check_dependencies(self, sub: Submission, content: dict[str, Any]) -> None:
        """Every dependency is a published listing (and the version named exists); a
        campaign's every encounter comes from one of its encounter dependencies."""
        provided: set[str] = set()
        for i, dep in enumerate(sub.dependencies):
            where = f"dependencies[{i}]"
            listing = await self.store.get_listing(dep.listing)
            if listing is None or listing.latest_version is None or listing.unlisted:
                raise ValidationFailed(
                    "submission", [FieldError(where, f"{dep.listing!r} is not a published listing")]
                )
            version = await self.store.get_version(
                dep.listing, dep.version or listing.latest_version
            )
            if version is None or version.status != "published":
                raise ValidationFailed(
                    "submission",
                    [FieldError(where, f"{dep.listing!r} has no published version {dep.version}")],
                )
            provided.add(content_id(listing.kind, version.content))
        if sub.kind == "campaign":
            missing = [
                (i, e) for i, e in enumerate(campaign_encounters(content)) if e not in provided
            ]
            if missing:
                raise ValidationFailed(
                    "submission",
                    [
                        FieldError(
                            f"content.steps[{i}].encounter_id",
                            f"{e!r} comes from no dependency; publish the encounter and list its "
                            "listing in dependencies",
                        )
                        for i, e in missing
                    ],
                )

    async def pending(self, limit: int = 100) -> list[VersionRecord]:
        return await self.store.list_pending(limit)

    async def review_version(
        self, listing_id: str, version: str, *, approve: bool, reason: str | None = None
    ) -> VersionRecord:
        """An admin approves or rejects a pending version (rejecting needs a reason)."""
        record = await self._version(listing_id, version)
        if record.status != "pending":
            raise MarketConflict(f"{listing_id}@{version} is {record.status}, not pending")
        if not approve and not reason:
            raise ValidationFailed("review", [FieldError("reason", "required to reject")])
        if reason:
            _printable("review", "reason", reason)
        status = "published" if approve else "rejected"
        await self.store.set_version_status(listing_id, version, status, reason)
        await self._log(
            "listing",
            "allow" if approve else "block",
            input={"subject": f"{listing_id}@{version}"},
            reason=reason or "approved by an admin",
        )
        return await self._version(listing_id, version)

    async def unlist(self, listing_id: str, reason: str) -> Listing:
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("unlist", [FieldError("reason", "required: say why")])
        _printable("unlist", "reason", reason)
        await self.get(listing_id, Actor("", admin=True))
        await self.store.set_unlisted(listing_id, reason[:500])
        await self._log("listing", "block", input={"subject": f"unlist {listing_id}"},
                        reason=reason[:200])  # fmt: skip
        return await self.get(listing_id, Actor("", admin=True))

    async def relist(self, listing_id: str) -> Listing:
        await self.get(listing_id, Actor("", admin=True))
        await self.store.set_unlisted(listing_id, None)
        await self._log("listing", "allow", input={"subject": f"relist {listing_id}"},
                        reason="listed again by an admin")  # fmt: skip
        return await self.get(listing_id, Actor("", admin=True))

    async def deprecate(
        self, listing_id: str, version: str, note: str, actor: Actor
    ) -> VersionRecord:
        listing = await self.get(listing_id, actor)
        if listing.owner != actor.tag and not actor.admin:
            raise MarketForbidden("only the listing's owner may deprecate its versions")
        note = note.strip() or "deprecated by its owner"
        _printable("deprecation", "note", note)
        await self._screen("listing", {"note": note}, f"deprecate {listing_id}@{version}")
        await self._version(listing_id, version)
        await self.store.deprecate(listing_id, version, note[:500])
        return await self._version(listing_id, version)

    # -- reading ----------------------------------------------------------------------

    def _may_see_hidden(self, listing: Listing, actor: Actor | None) -> bool:
        return actor is not None and (actor.admin or actor.tag == listing.owner)

    async def get(self, listing_id: str, actor: Actor | None = None) -> Listing:
        """A listing; unlisted and never-published ones only for the owner and admins
        (others get :class:`NotFound`)."""
        listing = await self.store.get_listing(listing_id)
        if listing is None or (
            (listing.unlisted or listing.latest_version is None)
            and not self._may_see_hidden(listing, actor)
        ):
            raise NotFound(f"no listing {listing_id!r}")
        if listing.kind == "persona":
            rating_sum = (listing.rating or 0.0) * listing.ratings
            listing.reputation = reputation(rating_sum, listing.ratings, listing.reports)
        return listing

    async def versions(self, listing_id: str, actor: Actor | None = None) -> list[VersionRecord]:
        """The version history, newest first; others than the owner and admins see only
        published versions."""
        listing = await self.get(listing_id, actor)
        found = await self.store.list_versions(listing_id)
        if self._may_see_hidden(listing, actor):
            return found
        return [v for v in found if v.status == "published"]

    async def _version(self, listing_id: str, version: str) -> VersionRecord:
        record = await self.store.get_version(listing_id, version)
        if record is None:
            raise NotFound(f"no version {version!r} of listing {listing_id!r}")
        return record

    async def search(
        self, query: SearchQuery | Mapping[str, Any], cursor: str | None = None
    ) -> SearchPage:
        checked = (
            query
            if isinstance(query, SearchQuery)
            else validate_model(SearchQuery, dict(query), "search")
        )
        page = await self.store.search(checked, cursor)
        for item in page.items:
            if item.kind == "persona":
                item.reputation = reputation(
                    (item.rating or 0) * item.ratings, item.ratings, item.reports
                )
        return page

    # -- ratings and reports ----------------------------------------------------------

    async def rate(
        self, listing_id: str, user: str, rating: int, text: str = "", *, tenant: str | None = None
    ) -> Review:
        """The user's one rating of a listing (replacing an earlier one); the review
        text is moderated. ``tenant``: whom it came through (see the module)."""
        listing = await self.get(listing_id)
        if user == listing.owner:
            raise MarketForbidden("owners cannot rate their own listings")
        data = {"rating": rating, "text": text}
        checked = validate_model(
            Review, {"listing_id": listing_id, "user": user, "tenant": tenant, **data}, "review"
        )
        if checked.text:
            await self._screen("review", {"text": checked.text}, f"review of {listing_id}")
        earlier = await self.store.get_review(listing_id, user)
        if earlier is not None:
            checked.created_at = earlier.created_at
        await self.store.put_review(checked)
        return checked

    async def reviews(
        self, listing_id: str, actor: Actor | None = None, limit: int = 100
    ) -> list[Review]:
        """A listing's reviews; of an unlisted listing only for its owner and admins."""
        await self.get(listing_id, actor)
        return await self.store.list_reviews(listing_id, limit)

    async def report(
        self,
        listing_id: str,
        reporter: str,
        reason: str,
        review_user: str | None = None,
        *,
        tenant: str | None = None,
    ) -> Report:
        """An abuse report on a listing (or on one of its reviews): stored once per
        reporter and target, logged in the audit log as a ``report`` block (every
        one, however little its tenant's reports weigh). ``tenant``: see the module."""
        await self.get(listing_id)
        reason = reason.strip()
        if not reason:
            raise ValidationFailed("report", [FieldError("reason", "required: say what is wrong")])
        _printable("report", "reason", reason)
        if review_user is not None and await self.store.get_review(listing_id, review_user) is None:
            raise NotFound(f"no review by {review_user!r} on listing {listing_id!r}")
        target = f"{listing_id}/{review_user or ''}/{reporter}"
        report_id = "rep_" + hashlib.sha256(target.encode()).hexdigest()[:16]
        if any(r.id == report_id for r in await self.store.list_reports(listing_id)):
            raise MarketConflict("you have reported this already")
        report = Report(
            id=report_id,
            listing_id=listing_id,
            review_user=review_user,
            reporter=reporter,
            reason=reason[:500],
            tenant=tenant,
        )
        await self.store.add_report(report)
        subject = f"review by {review_user} on {listing_id}" if review_user else listing_id
        await self._log(
            "report",
            "block",
            input={"subject": subject},
            reason=reason[:200],
            categories=["abuse_report"],
        )
        return report

    # -- installing -------------------------------------------------------------------

    async def resolve(
        self, listing_id: str, version: str | None = None, actor: Actor | None = None
    ) -> list[InstallItem]:
        """The content an install brings, dependencies first, each checked against its
        hash; counts a download of ``listing_id``. ``version`` None: the newest
        published one. Unlisted listings and unpublished versions are not installed."""
        items: list[InstallItem] = []
        seen: set[tuple[str, str]] = set()
        await self._collect(listing_id, version, actor, items, seen, depth=0)
        await self.store.count_download(listing_id)
        return items

    async def _collect(
        self,
        listing_id: str,
        version: str | None,
        actor: Actor | None,
        items: list[InstallItem],
        seen: set[tuple[str, str]],
        depth: int,
    ) -> None:
        if depth > MAX_DEPENDENCY_DEPTH:
            raise MarketError(
                f"{listing_id!r}: dependencies nest deeper than {MAX_DEPENDENCY_DEPTH}"
            )
        listing = await self.get(listing_id, actor)
        if listing.unlisted:
            raise MarketForbidden(f"listing {listing_id!r} is unlisted ({listing.unlisted})")
        wanted = version or listing.latest_version
        if wanted is None:
            raise MarketConflict(f"listing {listing_id!r} has no published version yet")
        record = await self._version(listing_id, wanted)
        if record.status != "published":
            raise MarketConflict(f"{listing_id}@{wanted} is {record.status}, not published")
        if (listing_id, wanted) in seen:
            return
        seen.add((listing_id, wanted))
        for dep in record.dependencies:
            await self._collect(dep.listing, dep.version, actor, items, seen, depth + 1)
        verify(listing.kind, record.content, record.content_hash, f"{listing_id}@{wanted}")
        items.append(
            InstallItem(
                listing_id=listing_id,
                kind=listing.kind,
                version=wanted,
                content=record.content,
                content_hash=record.content_hash,
                licence=record.meta.licence,
            )
        )
