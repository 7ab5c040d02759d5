"""Publishing to the marketplace: moderation of every text field, validation by kind,
the review policy, immutable semantic versions, unlisting and deprecation, with each
decision in the moderation audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from encounters.errors import NotFound, StoreError, ValidationFailed
from encounters.marketplace import (
    MarketConflict,
    MarketForbidden,
    SQLiteMarketStore,
    card_from_json,
)
from encounters.marketplace.store import SCHEMA_VERSION
from encounters.moderation import TextFilter
from tests.sdk.marketplace.test_cards import V2_CARD

from .helpers import ADMIN, ALICE, BOB, encounter_submission, open_market, persona_submission

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def test_review_policy_keeps_versions_pending_until_an_admin_approves(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, audit):
        assert await market.policy() == "review"
        record = await market.publish(encounter_submission(), ALICE)
        assert record.status == "pending"
        assert record.content_hash.startswith("sha256:")
        assert (await market.search({"text": "bandits"})).items == []
        with pytest.raises(NotFound):
            await market.get(record.listing_id, BOB)  # others do not see it yet
        assert (await market.get(record.listing_id, ALICE)).latest_version is None
        assert [p.listing_id for p in await market.pending()] == [record.listing_id]

        approved = await market.review_version(record.listing_id, "1.0.0", approve=True)
        assert approved.status == "published"
        found = await market.search({"text": "bandits"})
        assert [i.id for i in found.items] == [record.listing_id]
        assert found.items[0].latest_version == "1.0.0"
        assert found.items[0].owner == "key:alice"

        rejected = await market.publish(encounter_submission("enc_two", title="Second Bridge"),
                                        ALICE)  # fmt: skip
        with pytest.raises(ValidationFailed, match="reason: required"):
            await market.review_version(rejected.listing_id, "1.0.0", approve=False)
        done = await market.review_version(rejected.listing_id, "1.0.0", approve=False,
                                           reason="duplicate of another listing")  # fmt: skip
        assert (done.status, done.reason) == ("rejected", "duplicate of another listing")
        assert len((await market.search({})).items) == 1

        kinds = [(e.kind, e.decision) for e in await audit.list_audit()]
        assert kinds == [("listing", "allow"), ("listing", "allow"), ("listing", "allow"),
                         ("listing", "block")]  # fmt: skip


async def test_open_policy_and_admins_publish_at_once(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        assert (await market.publish(encounter_submission(), ADMIN)).status == "published"
        await market.set_policy("open")
        other = await market.publish(encounter_submission("enc_b", title="Other Bridge"), ALICE)
        assert other.status == "published"
    # the policy is kept in the file
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        assert await market.policy() == "open"


async def test_moderation_refuses_any_text_field_and_names_it(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, audit):
        bad_meta = encounter_submission(description="Kill the fucking bandits")
        with pytest.raises(ValidationFailed) as caught:
            await market.publish(bad_meta, ALICE)
        assert str(caught.value.errors[0]).startswith("meta.description: refused by moderation")

        bad_content = encounter_submission()
        bad_content["content"]["objectives"][1]["description"] = "Find the fucking toll box"
        with pytest.raises(ValidationFailed) as caught:
            await market.publish(bad_content, ALICE)
        assert str(caught.value.errors[0]).startswith(
            "content.objectives[1].description: refused by moderation"
        )
        bad_tag = encounter_submission(tags=["fucking"])
        with pytest.raises(ValidationFailed, match=r"meta.tags\[0\]: refused by moderation"):
            await market.publish(bad_tag, ALICE)
        hidden = encounter_submission(title="Bandits\u202e at the Bridge")
        with pytest.raises(ValidationFailed, match="invisible format character U\\+202E"):
            await market.publish(hidden, ALICE)

        entries = await audit.list_audit()
        assert [(e.kind, e.decision) for e in entries] == [("listing", "block")] * 3
        assert "meta.description" in (entries[0].reason or "")
        assert (await market.store.list_pending()) == []  # nothing was stored


async def test_content_is_validated_by_its_kind_with_paths(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        broken = encounter_submission()
        broken["content"]["objectives"][0]["quantity"] = 0
        with pytest.raises(
            ValidationFailed, match=r"content.objectives\[0\].quantity: must be >= 1"
        ):
            await market.publish(broken, ALICE)
        with pytest.raises(ValidationFailed, match="version: must be a semantic version"):
            await market.publish(encounter_submission(version="1.0"), ALICE)
        with pytest.raises(ValidationFailed, match="difficulty_min must be <= difficulty_max"):
            await market.publish(encounter_submission(difficulty_min=0.9, difficulty_max=0.2),
                                 ALICE)  # fmt: skip
        persona = persona_submission(name="")
        with pytest.raises(ValidationFailed, match=r"content.persona.name"):
            await market.publish(persona, ALICE)


async def test_versions_are_immutable_semantic_and_the_owners(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        await market.set_policy("open")
        first = await market.publish(encounter_submission(), ALICE)
        lid = first.listing_id
        changed = {**encounter_submission(title="Bandits Return"), "listing_id": lid,
                   "version": "1.0.0"}  # fmt: skip
        with pytest.raises(MarketConflict, match=r"not newer than 1\.0\.0"):
            await market.publish(changed, ALICE)
        with pytest.raises(MarketForbidden, match="belongs to someone else"):
            await market.publish({**changed, "version": "1.1.0"}, BOB)
        second = await market.publish({**changed, "version": "1.10.0"}, ALICE)
        assert second.content_hash == first.content_hash  # same content: the hash is its own
        with pytest.raises(MarketConflict, match=r"not newer than 1\.10\.0"):
            await market.publish({**changed, "version": "1.9.0"}, ALICE)  # semver, not text

        history = await market.versions(lid, BOB)
        assert [v.version for v in history] == ["1.10.0", "1.0.0"]
        assert history[1].meta.title == "Bandits at the Bridge"  # the old one, unchanged
        listing = await market.get(lid)
        assert (listing.latest_version, listing.meta.title) == ("1.10.0", "Bandits Return")

        with pytest.raises(MarketForbidden):
            await market.deprecate(lid, "1.0.0", "use 1.10.0", BOB)
        old = await market.deprecate(lid, "1.0.0", "use 1.10.0: the toll box is fixed", ALICE)
        assert old.deprecated == "use 1.10.0: the toll box is fixed"
        assert (await market.get(lid)).latest_version == "1.10.0"
        # deprecating the newest makes installs fall back to the newest one that is not
        await market.publish({**changed, "version": "2.0.0"}, ALICE)
        assert (await market.get(lid)).latest_version == "2.0.0"
        await market.deprecate(lid, "2.0.0", "broken objective", ALICE)
        assert (await market.get(lid)).latest_version == "1.10.0"
        assert [i.version for i in await market.resolve(lid)] == ["1.10.0"]
        assert [i.version for i in await market.resolve(lid, "2.0.0")] == ["2.0.0"]
        await market.deprecate(lid, "1.10.0", "see 2.0.1", ALICE)  # all deprecated: the newest
        assert (await market.get(lid)).latest_version == "2.0.0"


async def test_unlisting_hides_a_listing_but_not_from_its_owner(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        record = await market.publish(encounter_submission(), ADMIN)
        lid = record.listing_id
        with pytest.raises(ValidationFailed, match="reason"):
            await market.unlist(lid, "  ")
        gone = await market.unlist(lid, "copies another creator's work")
        assert gone.unlisted == "copies another creator's work"
        assert (await market.search({})).items == []
        with pytest.raises(NotFound):
            await market.get(lid, BOB)
        assert (await market.get(lid, ADMIN)).unlisted == "copies another creator's work"
        with pytest.raises(MarketForbidden, match="unlisted"):
            await market.resolve(lid, actor=ADMIN)
        await market.relist(lid)
        assert [i.id for i in (await market.search({})).items] == [lid]


async def test_the_store_migrates_once_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with SQLiteMarketStore(path):
        pass
    async with SQLiteMarketStore(path) as store:  # reopening does not migrate again
        assert await store.get_policy() == "review"
    import sqlite3

    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM market_schema").fetchall() == [(SCHEMA_VERSION,)]
        conn.execute("UPDATE market_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this program knows"):
        await SQLiteMarketStore(path).open()


async def test_personas_are_judged_by_what_their_creator_wrote(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        # the persona's safety settings name the topics it blocks: not a reason to refuse
        package = card_from_json(V2_CARD).model_dump(mode="json")
        assert "self_harm" in package["persona"]["safety"]["blocked_topics"]
        submission = {"kind": "persona", "meta": {"title": "Marta"}, "content": package}
        assert (await market.publish(submission, ALICE)).status == "pending"
        rude = persona_submission(goals=["insult the fucking players"])
        with pytest.raises(ValidationFailed, match=r"content.persona.goals\[0\]: refused"):
            await market.publish(rude, ALICE)
        package["memory"]["scenario"] = "Marta swears: fucking fog again"
        with pytest.raises(ValidationFailed, match=r"content.memory.scenario: refused"):
            await market.publish(submission, ALICE)
