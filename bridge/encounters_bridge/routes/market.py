"""The marketplace (``/market``): publish listings and versions (creator or admin key),
search and read them (any key), rate, review and report them (creators with their key,
players through their game server's key), install them into the caller's library or
as a bundle, and Character Cards for persona listings. Admins set the publishing
policy, approve or reject pending versions and unlist listings.

Who is who: a creator or admin key acts as its tenancy tag (``key:<id>``); a game
server acts for one of its players, named in the body (``player``), as
``server:<world>:<server id>/<player id>`` (its owner tag, the scope of its NPC
memory, then the player), so each player has one rating per listing and one server
naming a player id cannot replace another server's player's rating. A server is the
rating's tenant: all its players' ratings weigh as at most ``TENANT_RATING_CAP``
ratings and their reports as ``TENANT_REPORT_CAP`` (the marketplace store's), so a
server inventing players moves a listing's rating and reputation only that far.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from encounters.campaigns.limits import CAMPAIGN_KIND
from encounters.campaigns.model import CampaignSpec
from encounters.engine import Engine
from encounters.errors import FieldError, ValidationFailed
from encounters.marketplace import (
    Actor,
    InstallItem,
    Listing,
    Marketplace,
    PersonaPackage,
    Review,
    SearchPage,
    SearchQuery,
    Submission,
    VersionRecord,
    card_to_json,
    card_to_png,
    read_bundle,
    read_card,
    write_bundle,
)
from encounters.marketplace.cards import CardVersion
from encounters.marketplace.content import content_hash, content_id
from encounters.marketplace.errors import MarketForbidden
from encounters.marketplace.models import Kind, Policy, Sort, World
from encounters.models.common import Id
from encounters.moderation.published import screen

from ..deployment import DeploymentService
from ..store.models import ApiKey, WorldKey
from ..tenancy import Resource, Tenancy, is_admin, tags
from .auth import Admin, Anyone, Caller
from .schemas import ERRORS, body_of

PERSONA_KEPT = ("id", "creator_id", "reputation", "deployment_history", "created_at")


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Policy


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class RatingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=2000)
    #: The player a game server rates for (required with a world key).
    player: Id | None = None


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    #: Report this user's review instead of the listing.
    review_user: str | None = Field(default=None, max_length=200)
    player: Id | None = None


class Published(BaseModel):
    listing_id: str
    version: str
    status: str
    content_hash: str


class Installed(BaseModel):
    #: What was added to the caller's library: ``encounter:<id>``, ``persona:<id>``...
    installed: list[str]
    items: list[InstallItem]


def actor_of(who: ApiKey | WorldKey) -> Actor:
    return Actor(tags(who)[0], admin=is_admin(who))


def user_of(who: ApiKey | WorldKey, player: str | None) -> tuple[str, str | None]:
    """(the rater or reporter, its tenant): a key's tag and no tenant, or a game
    server's player scoped by the server's owner tag (as NPC memory is), and that tag.
    A player named with a creator or admin key is 422, not silently ignored."""
    if isinstance(who, ApiKey):
        if player is not None:
            raise ValidationFailed(
                "request",
                [FieldError("player", "only a game server's key rates for a player; leave it out")],
            )
        return tags(who)[0], None
    if not player:
        raise ValidationFailed(
            "request",
            [FieldError("player", "required with a game server's key: the player it acts for")],
        )
    server = tags(who)[0]
    return f"{server}/{player}", server


def _published(record: VersionRecord) -> Published:
    return Published(
        listing_id=record.listing_id,
        version=record.version,
        status=record.status,
        content_hash=record.content_hash,
    )


async def _body(request: Request) -> bytes:
    return await request.body()  # the gate has bounded its size already


def router(engine: Engine, tenancy: Tenancy, service: DeploymentService) -> APIRouter:
    api = APIRouter(prefix="/market", tags=["marketplace"], responses=ERRORS)
    submission_body = body_of(Submission)

    def market() -> Marketplace:
        return engine.market

    @api.get("/policy")
    async def get_policy(_: Admin) -> PolicyBody:
        return PolicyBody(policy=await market().policy())

    @api.put("/policy")
    async def set_policy(body: PolicyBody, _: Admin) -> PolicyBody:
        await market().set_policy(body.policy)
        return body

    @api.post("/listings", status_code=201, openapi_extra=submission_body)
    async def publish(body: dict[str, Any], key: Caller) -> Published:
        if body.get("listing_id") is not None:
            raise ValidationFailed(
                "submission",
                [
                    FieldError(
                        "listing_id",
                        "leave it out here; add a version with POST /market/listings/{id}/versions",
                    )
                ],
            )
        return _published(await market().publish(body, actor_of(key)))

    @api.post("/listings/{listing_id}/versions", status_code=201, openapi_extra=submission_body)
    async def publish_version(listing_id: str, body: dict[str, Any], key: Caller) -> Published:
        return _published(await market().publish({**body, "listing_id": listing_id}, actor_of(key)))

    @api.get("/search")
    async def search(
        who: Anyone,
        text: Annotated[str, Query(max_length=200)] = "",
        kind: Kind | None = None,
        category: Annotated[str | None, Query(max_length=32)] = None,
        world: World | None = None,
        language: Annotated[str | None, Query(max_length=35)] = None,
        difficulty: Annotated[float | None, Query(ge=0, le=1)] = None,
        min_rating: Annotated[float | None, Query(ge=0, le=5)] = None,
        sort: Sort = "new",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> SearchPage:
        query = SearchQuery(
            text=text,
            kind=kind,
            category=category,
            world=world,
            language=language,
            difficulty=difficulty,
            min_rating=min_rating,
            sort=sort,
            limit=limit,
        )
        return await market().search(query, cursor)

    @api.get("/listings/{listing_id}")
    async def listing(listing_id: str, who: Anyone) -> Listing:
        return await market().get(listing_id, actor_of(who))

    @api.get("/listings/{listing_id}/versions")
    async def versions(listing_id: str, who: Anyone) -> list[VersionRecord]:
        return await market().versions(listing_id, actor_of(who))

    @api.get("/pending")
    async def pending(_: Admin) -> list[VersionRecord]:
        return await market().pending()

    @api.post("/listings/{listing_id}/versions/{version}/approve")
    async def approve(listing_id: str, version: str, _: Admin) -> Published:
        return _published(await market().review_version(listing_id, version, approve=True))

    @api.post("/listings/{listing_id}/versions/{version}/reject")
    async def reject(listing_id: str, version: str, body: ReasonBody, _: Admin) -> Published:
        record = await market().review_version(
            listing_id, version, approve=False, reason=body.reason
        )
        return _published(record)

    @api.post("/listings/{listing_id}/versions/{version}/deprecate")
    async def deprecate(
        listing_id: str, version: str, body: NoteBody, key: Caller
    ) -> VersionRecord:
        return await market().deprecate(listing_id, version, body.note, actor_of(key))

    @api.post("/listings/{listing_id}/unlist")
    async def unlist(listing_id: str, body: ReasonBody, _: Admin) -> Listing:
        return await market().unlist(listing_id, body.reason)

    @api.post("/listings/{listing_id}/relist")
    async def relist(listing_id: str, _: Admin) -> Listing:
        return await market().relist(listing_id)

    @api.post("/listings/{listing_id}/ratings", status_code=201)
    async def rate(listing_id: str, body: RatingBody, who: Anyone) -> Review:
        user, tenant = user_of(who, body.player)
        return await market().rate(listing_id, user, body.rating, body.text, tenant=tenant)

    @api.get("/listings/{listing_id}/reviews")
    async def reviews(listing_id: str, who: Anyone) -> list[Review]:
        return await market().reviews(listing_id, actor_of(who))

    @api.post("/listings/{listing_id}/reports", status_code=201)
    async def report(listing_id: str, body: ReportBody, who: Anyone) -> dict[str, str]:
        user, tenant = user_of(who, body.player)
        found = await market().report(
            listing_id, user, body.reason, body.review_user, tenant=tenant
        )
        return {"id": found.id}

    async def stored_content(kind: Kind, item_id: str) -> dict[str, Any] | None:
        """What the library holds under ``item_id`` now, canonical, or None."""
        found: BaseModel | None
        if kind == "encounter":
            found = await engine.store.get_encounter(item_id)
        elif kind == "template":
            found = engine.templates.get(item_id) if item_id in engine.templates else None
        else:
            found = await engine.store.get_document(CAMPAIGN_KIND, item_id, CampaignSpec)
        return found.model_dump(mode="json") if found is not None else None

    async def install_items(items: list[InstallItem], who: ApiKey | WorldKey) -> list[str]:
        """Into the caller's library, under tenancy. Content keeps its id: one already
        there with the same content is left as it is when the caller may read it (game
        servers read all content); an id another owner holds otherwise is 409.

        Every encounter, template and campaign is moderated first, as ``POST
        /encounters`` moderates it: a bundle is a file anyone can write (its hashes
        prove only that it is whole), so nothing of it is stored when any text fails
        (422 naming the item's field). Personas are moderated by their submission."""
        for item in items:
            if item.kind != "persona":
                try:
                    screen(engine.moderator, item.content, item.kind)
                except ValidationFailed as exc:
                    what = f"{item.kind} of {item.listing_id}@{item.version}"
                    raise ValidationFailed(what, exc.errors) from None
        done: list[str] = []
        for item in items:
            if item.kind == "persona":
                if not isinstance(who, ApiKey):
                    raise MarketForbidden(
                        "a game server cannot install personas; a creator "
                        "installs them and submits them for approval"
                    )
                package = PersonaPackage.model_validate(item.content)
                data = package.persona.model_dump(mode="json", exclude=set(PERSONA_KEPT))
                record = await service.submit(data, creator_id=who.id)
                done.append(f"persona:{record.persona.id}")
                continue
            resource: Resource = item.kind
            item_id = content_id(item.kind, item.content)
            stored = await stored_content(item.kind, item_id)
            same = stored is not None and content_hash(stored) == item.content_hash
            if same and (isinstance(who, WorldKey) or await tenancy.mine(resource, item_id, who)):
                done.append(f"{item.kind}:{item_id}")  # already there, and readable
                continue
            exists = stored is not None
            await tenancy.may_publish(resource, item_id, who, exists=exists)
            if item.kind == "encounter":
                await engine.save_encounter(item.content)
            elif item.kind == "template":
                await engine.publish_template(item.content)
            else:
                await engine.campaigns.save_campaign(item.content)
            await tenancy.record(resource, item_id, who)
            done.append(f"{item.kind}:{item_id}")
        return done

    @api.post("/listings/{listing_id}/install")
    async def install(
        listing_id: str, who: Anyone, version: Annotated[str | None, Query(max_length=20)] = None
    ) -> Installed:
        items = await market().resolve(listing_id, version, actor_of(who))
        return Installed(installed=await install_items(items, who), items=items)

    @api.get(
        "/listings/{listing_id}/bundle",
        response_class=Response,
        responses={200: {"content": {"application/zip": {}}}},
    )
    async def bundle(
        listing_id: str, who: Anyone, version: Annotated[str | None, Query(max_length=20)] = None
    ) -> Response:
        found = await market().get(listing_id, actor_of(who))
        items = await market().resolve(listing_id, version, actor_of(who))
        own = items[-1]
        record = await market().store.get_version(listing_id, own.version)
        meta = record.meta if record is not None else found.meta
        data = write_bundle(listing_id, found.kind, own.version, meta, items)
        name = f"{listing_id}-{own.version}.zip"
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.post(
        "/bundles/install",
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "a bundle (zip) as written by GET .../bundle",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def install_bundle(request: Request, who: Anyone) -> Installed:
        found = read_bundle(await _body(request))
        return Installed(installed=await install_items(found.items, who), items=found.items)

    @api.get(
        "/listings/{listing_id}/card",
        response_class=Response,
        responses={200: {"content": {"application/json": {}, "image/png": {}}}},
    )
    async def card(
        listing_id: str,
        who: Anyone,
        spec: CardVersion = "v3",
        format: Literal["json", "png"] = "json",
        version: Annotated[str | None, Query(max_length=20)] = None,
    ) -> Response:
        found = await market().get(listing_id, actor_of(who))
        if found.kind != "persona":
            raise HTTPException(
                422,
                f"listing {listing_id!r} holds a {found.kind}; only "
                "persona listings export as Character Cards",
            )
        items = await market().resolve(listing_id, version, actor_of(who))
        package = PersonaPackage.model_validate(items[-1].content)
        if format == "png":
            return Response(card_to_png(package, spec), media_type="image/png")
        return Response(
            json.dumps(card_to_json(package, spec), ensure_ascii=False),
            media_type="application/json",
        )

    @api.post(
        "/cards/read",
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "a Character Card: PNG, or JSON text",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def read_card_route(request: Request, _: Caller) -> PersonaPackage:
        return read_card(await _body(request))

    return api
