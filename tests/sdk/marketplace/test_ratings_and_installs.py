"""Ratings, reviews and abuse reports (and what they do to a persona's reputation and
the platform's abuse rate); installing with dependencies and integrity checks, into
an engine's library."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from encounters.engine import Engine
from encounters.errors import ConfigError, NotFound, ValidationFailed
from encounters.marketplace import (
    IntegrityFailed,
    MarketConflict,
    MarketForbidden,
    Marketplace,
    SQLiteMarketStore,
    install_into,
    reputation,
)
from encounters.models import utcnow
from encounters.moderation import ContentModerator, TextFilter
from encounters.platform_metrics import platform_metrics
from encounters.settings import load_settings

from .helpers import (
    ADMIN,
    ALICE,
    campaign_submission,
    encounter_submission,
    open_market,
    persona_submission,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def test_one_rating_per_user_and_reviews_are_moderated(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, audit):
        lid = (await market.publish(encounter_submission(), ALICE)).listing_id
        await market.review_version(lid, "1.0.0", approve=True)
        with pytest.raises(MarketForbidden, match="own listings"):
            await market.rate(lid, "key:alice", 5)
        first = await market.rate(lid, "player:minecraft:steve", 2, "Too short")
        await market.rate(lid, "key:bob", 4)
        again = await market.rate(lid, "player:minecraft:steve", 5, "Better on a second try")
        assert again.created_at == first.created_at
        listing = await market.get(lid)
        assert (listing.rating, listing.ratings) == (4.5, 2)
        reviews = await market.reviews(lid)
        assert {(r.user, r.rating, r.text) for r in reviews} == {
            ("player:minecraft:steve", 5, "Better on a second try"),
            ("key:bob", 4, ""),
        }
        with pytest.raises(ValidationFailed, match="text: refused by moderation"):
            await market.rate(lid, "key:carol", 1, "what a fucking waste")
        with pytest.raises(ValidationFailed, match="rating: must be <= 5"):
            await market.rate(lid, "key:carol", 6)
        assert (await market.get(lid)).ratings == 2  # the refused ones left nothing
        review_log = [(e.kind, e.decision) for e in await audit.list_audit() if e.kind == "review"]
        assert review_log == [("review", "allow"), ("review", "allow"), ("review", "block")]


async def test_reports_count_once_and_feed_the_abuse_rate(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, audit):
        since = utcnow() - timedelta(minutes=1)
        lid = (await market.publish(encounter_submission(), ADMIN)).listing_id
        await market.rate(lid, "key:bob", 1, "Not what it says")
        before = await platform_metrics(audit, since, utcnow() + timedelta(minutes=1))
        assert (before.moderation_decisions, before.moderation_blocked) == (2, 0)
        assert before.abuse_rate == 0.0

        await market.report(lid, "key:carol", "the description is misleading")
        with pytest.raises(MarketConflict, match="reported this already"):
            await market.report(lid, "key:carol", "again")
        await market.report(lid, "key:dave", "review is rude", review_user="key:bob")
        with pytest.raises(NotFound, match="no review by 'key:nobody'"):
            await market.report(lid, "key:dave", "x", review_user="key:nobody")
        with pytest.raises(ValidationFailed, match="reason"):
            await market.report(lid, "key:erin", " ")
        assert (await market.get(lid)).reports == 2

        after = await platform_metrics(audit, since, utcnow() + timedelta(minutes=1))
        assert after.abuse_reports == 2
        assert (after.moderation_decisions, after.moderation_blocked) == (4, 2)
        assert after.abuse_rate == 0.5


async def test_persona_reputation_comes_from_ratings_and_reports(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    assert reputation(0, 0, 0) == 50.0
    assert reputation(25, 5, 0) == 75.0  # five 5-star ratings against the prior of five 3s
    assert reputation(25, 5, 2) < reputation(25, 5, 0)
    assert 0 <= reputation(5, 5, 100) < 5 and reputation(500, 100, 0) < 100
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        lid = (await market.publish(persona_submission(), ADMIN)).listing_id
        assert (await market.get(lid)).reputation == 50.0
        for n in range(5):
            await market.rate(lid, f"key:fan{n}", 5)
        assert (await market.get(lid)).reputation == 75.0
        await market.report(lid, "key:grumpy", "it insulted me")
        found = (await market.search({"kind": "persona"})).items[0]
        assert found.reputation == (await market.get(lid)).reputation == reputation(25, 5, 1)
        encounter = (await market.publish(encounter_submission(), ADMIN)).listing_id
        assert (await market.get(encounter)).reputation is None  # only personas have one


async def test_a_campaign_installs_with_its_encounters_into_an_engine(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with open_market(tmp_path / "m.db", text_filter) as (market, _):
        await market.set_policy("open")
        enc = (await market.publish(encounter_submission(), ALICE)).listing_id
        missing = campaign_submission(enc, encounter_id="enc_elsewhere")
        with pytest.raises(
            ValidationFailed,
            match=r"content.steps\[0\].encounter_id: "
            r"'enc_elsewhere' comes from no dependency",
        ):
            await market.publish(missing, ALICE)
        with pytest.raises(ValidationFailed, match="not a published listing"):
            await market.publish(campaign_submission("lst_nope"), ALICE)
        camp = (await market.publish(campaign_submission(enc), ALICE)).listing_id

        items = await market.resolve(camp)
        assert [(i.kind, i.listing_id) for i in items] == [("encounter", enc), ("campaign", camp)]
        assert (await market.get(camp)).downloads == 1
        async with Engine(load_settings(store="memory")) as engine:
            done = await install_into(engine, items)
            assert done == ["encounter:enc_test", "campaign:saga"]
            run = await engine.campaigns.start("saga", "ana")
            assert run.campaign_id == "saga"
            assert (await engine.get_encounter("enc_test")).title == "Bandits at the Bridge"

        with pytest.raises(NotFound, match=r"no version '9\.9\.9'"):
            await market.resolve(camp, "9.9.9")


async def test_content_changed_after_publishing_is_not_installed(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    path = tmp_path / "m.db"
    async with open_market(path, text_filter) as (market, _):
        lid = (await market.publish(encounter_submission(), ADMIN)).listing_id
        await market.store.close()
        with sqlite3.connect(path) as conn:  # someone edits the stored content
            (raw,) = conn.execute("SELECT record FROM market_versions").fetchone()
            record = json.loads(raw)
            record["content"]["title"] = "Free gold here"
            conn.execute("UPDATE market_versions SET record = ?", (json.dumps(record),))
        with pytest.raises(IntegrityFailed, match="it was changed after publishing"):
            await market.resolve(lid)
        assert (await market.get(lid)).downloads == 0


async def test_engine_market_lives_in_the_store_file(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    async with Engine(settings) as engine:
        await engine.market.publish(persona_submission(), ADMIN)
    async with Engine(settings) as engine:
        found = await engine.market.search({"kind": "persona"})
        assert [i.meta.title for i in found.items] == ["Helpful Guide"]
        assert engine.market.store.path == str(settings.database_path)  # type: ignore[attr-defined]


async def test_a_tenants_weight_is_capped_and_follows_the_caps_and_old_files(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """An embedder's tenant weighs as at most ``tenant_rating_cap`` ratings and
    ``tenant_report_cap`` reports, users without one as before; the aggregates are
    recomputed when the caps change and when a file from before tenants is opened
    (its world keys' players, ``player:<world>:<id>``, count as one tenant per world)."""
    path = tmp_path / "m.db"
    async with open_market(path, text_filter) as (market, _):
        lid = (await market.publish(persona_submission(), ADMIN)).listing_id
        await market.rate(lid, "key:fan", 1)
        for n in range(12):
            await market.rate(lid, f"guild/p{n}", 5, tenant="guild")
            await market.report(lid, f"guild/p{n}", "rude", tenant="guild")
        found = await market.get(lid)
        assert (found.ratings, found.rating, found.reports) == (11, 51 / 11, 3)
        assert len(await market.store.list_reviews(lid)) == 13
    store = SQLiteMarketStore(path, tenant_rating_cap=2, tenant_report_cap=1)
    async with store:
        found = await Marketplace(store, ContentModerator(text_filter)).get(lid)
        assert (found.ratings, found.rating, found.reports) == (3, 11 / 3, 1)

    # the file as it was before tenants: schema 1, a world key's players unscoped
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM market_reviews")
        conn.execute("DELETE FROM market_reports")
        conn.execute("ALTER TABLE market_reviews DROP COLUMN tenant")
        conn.execute("ALTER TABLE market_reports DROP COLUMN tenant")
        conn.execute("UPDATE market_schema SET version = 1")
        for n in range(15):
            user = f"player:web:p{n}"
            record = {"listing_id": lid, "user": user, "rating": 5}
            conn.execute(
                "INSERT INTO market_reviews VALUES (?,?,?,?)", (lid, user, 5, json.dumps(record))
            )
        conn.execute("INSERT INTO market_reviews VALUES (?,?,?,?)", (lid, "key:fan", 1, json.dumps(
            {"listing_id": lid, "user": "key:fan", "rating": 1}
        )))  # fmt: skip
        conn.commit()
    async with open_market(path, text_filter) as (market, _):
        found = await market.get(lid)
        assert (found.ratings, found.rating) == (11, 51 / 11)
        legacy = await market.store.get_review(lid, "player:web:p0")
        assert legacy is not None and legacy.tenant == "player:web"


async def test_an_operator_sets_the_tenant_caps_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AE_MARKET__TENANT_RATING_CAP`` and ``__TENANT_REPORT_CAP`` reach the engine's
    marketplace; a value that is no count is refused naming the variable."""
    monkeypatch.setenv("AE_MARKET__TENANT_RATING_CAP", "2")
    monkeypatch.setenv("AE_MARKET__TENANT_REPORT_CAP", "0")
    async with Engine(load_settings(data_dir=tmp_path / "data")) as engine:
        lid = (await engine.market.publish(encounter_submission(), ADMIN)).listing_id
        for n in range(5):
            await engine.market.rate(lid, f"guild/p{n}", 5, tenant="guild")
            await engine.market.report(lid, f"guild/p{n}", "rude", tenant="guild")
        await engine.market.rate(lid, "key:bob", 1)
        listing = await engine.market.get(lid)
        # the guild's five weigh as two ratings of 5, bob's as one; its reports as none
        assert (listing.ratings, listing.reports) == (3, 0)
        assert listing.rating == pytest.approx(11 / 3)
    monkeypatch.setenv("AE_MARKET__TENANT_RATING_CAP", "-1")
    with pytest.raises(ConfigError, match="AE_MARKET__TENANT_RATING_CAP"):
        load_settings(data_dir=tmp_path / "data")
