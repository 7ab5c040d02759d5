"""Reputation stuffing by game servers, on a real daemon over real HTTP: a world key
rates and reports for players it names, so one server could invent players by the
hundred. Each game server is one tenant: its players' ratings weigh in a listing's
as at most ``TENANT_RATING_CAP`` ratings at their mean, its reports as at most
``TENANT_REPORT_CAP``; every one is still stored and audited. A player is scoped by
its server (``server:<world>:<server id>/<player>``), so two servers naming the same
player id rate and report as two players."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from encounters.marketplace import reputation
from encounters.marketplace.store import TENANT_RATING_CAP, TENANT_REPORT_CAP
from encounters.moderation import TextFilter
from encounters_bridge.keys import create_world_key
from tests.sdk.marketplace.helpers import persona_submission
from tests.support.control import Daemon, bearer, make_keys, run_daemon

pytestmark = pytest.mark.anyio

INVENTED = 200


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


async def two_servers(dm: Daemon) -> tuple[dict[str, str], dict[str, str]]:
    """Two game servers of one world, each its own key."""
    _, one = await create_world_key(dm.edge.store, "server one", "web", ["s1"])
    _, two = await create_world_key(dm.edge.store, "server two", "web", ["s2"])
    return bearer(one), bearer(two)


async def persona_listing(http: httpx.AsyncClient, creator: dict[str, str]) -> str:
    r = await http.post("/market/listings", json=persona_submission(), headers=creator)
    assert r.status_code == 201 and r.json()["status"] == "published", r.text
    listing_id: str = r.json()["listing_id"]
    return listing_id


async def shown(http: httpx.AsyncClient, lid: str, who: dict[str, str]) -> dict[str, object]:
    r = await http.get(f"/market/listings/{lid}", headers=who)
    assert r.status_code == 200, r.text
    found: dict[str, object] = r.json()
    return found


async def rate(
    http: httpx.AsyncClient, lid: str, who: dict[str, str], rating: int, player: str | None = None
) -> None:
    body: dict[str, object] = {"rating": rating}
    if player is not None:
        body["player"] = player
    r = await http.post(f"/market/listings/{lid}/ratings", json=body, headers=who)
    assert r.status_code == 201, r.text


async def report(
    http: httpx.AsyncClient, lid: str, who: dict[str, str], player: str | None = None
) -> httpx.Response:
    body: dict[str, object] = {"reason": "it insulted me"}
    if player is not None:
        body["player"] = player
    return await http.post(f"/market/listings/{lid}/reports", json=body, headers=who)


async def test_a_server_inventing_players_moves_a_rating_only_as_far_as_its_cap(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        alice, bob, admin = bearer(keys.creator), bearer(keys.other), bearer(keys.admin)
        one, two = await two_servers(dm)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            r = await http.put("/market/policy", json={"policy": "open"}, headers=admin)
            assert r.status_code == 200
            lid = await persona_listing(http, alice)
            await rate(http, lid, bob, 2)
            await rate(http, lid, admin, 2)
            # one server stuffs: 200 invented players, all 5 stars
            for n in range(INVENTED):
                await rate(http, lid, one, 5, f"fan{n}")
            listing = await shown(http, lid, bob)
            weight = 2 + TENANT_RATING_CAP
            total: float = 2 * 2 + TENANT_RATING_CAP * 5
            assert listing["ratings"] == weight
            assert listing["rating"] == pytest.approx(total / weight)
            assert listing["reputation"] == reputation(total, weight, 0)
            assert listing["reputation"] < 80  # not the ~99 of 200 counted ratings
            # every rating is stored all the same
            stored = await dm.engine.market.store.list_reviews(lid, 1000)  # type: ignore[union-attr]
            assert len(stored) == INVENTED + 2

            # a second server's players count separately, up to its own cap
            for n in range(3):
                await rate(http, lid, two, 1, f"player{n}")
            listing = await shown(http, lid, bob)
            weight, total = weight + 3, total + 3
            assert (listing["ratings"], listing["reputation"]) == (
                weight,
                reputation(total, weight, 0),
            )

            # a creator's and an admin's rating still weigh one each; replacing a
            # rating (a creator's, a stuffed player's) keeps the aggregates right
            await rate(http, lid, bob, 4)
            await rate(http, lid, one, 1, "fan0")
            listing = await shown(http, lid, bob)
            server_one_mean = ((INVENTED - 1) * 5 + 1) / INVENTED
            total = 4 + 2 + TENANT_RATING_CAP * server_one_mean + 3
            assert listing["ratings"] == weight
            assert listing["rating"] == pytest.approx(total / weight)
            assert listing["reputation"] == reputation(total, weight, 0)

            # search sorts and filters by the same capped rating
            r = await http.get("/market/search", params={"kind": "persona"}, headers=bob)
            (item,) = r.json()["items"]
            assert item["rating"] == pytest.approx(total / weight)
            assert item["reputation"] == listing["reputation"]


async def test_a_server_inventing_reporters_lowers_reputation_only_as_far_as_its_cap(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        alice, bob, admin = bearer(keys.creator), bearer(keys.other), bearer(keys.admin)
        one, two = await two_servers(dm)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            await http.put("/market/policy", json={"policy": "open"}, headers=admin)
            lid = await persona_listing(http, alice)
            for who in (bob, admin):
                await rate(http, lid, who, 5)
            assert (await report(http, lid, bob)).status_code == 201
            for n in range(INVENTED):
                assert (await report(http, lid, one, f"troll{n}")).status_code == 201
            listing = await shown(http, lid, alice)
            assert listing["reports"] == 1 + TENANT_REPORT_CAP
            assert listing["reputation"] == reputation(10, 2, 1 + TENANT_REPORT_CAP)
            assert listing["reputation"] > 10  # not the ~1 of 201 counted reports

            # a second server's reports count separately, up to its own cap
            for n in range(5):
                assert (await report(http, lid, two, f"critic{n}")).status_code == 201
            listing = await shown(http, lid, alice)
            reports = 1 + 2 * TENANT_REPORT_CAP
            assert (listing["reports"], listing["reputation"]) == (
                reports,
                reputation(10, 2, reports),
            )
            # every report is stored and reached the audit log (the abuse rate)
            stored = await dm.engine.market.store.list_reports(lid)  # type: ignore[union-attr]
            assert len(stored) == 1 + INVENTED + 5
            text = (await http.get("/metrics", headers=admin)).text
            assert f"ae_window_abuse_reports {1 + INVENTED + 5}" in text


async def test_two_servers_naming_the_same_player_rate_and_report_as_two_players(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        alice, admin = bearer(keys.creator), bearer(keys.admin)
        one, two = await two_servers(dm)
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            await http.put("/market/policy", json={"policy": "open"}, headers=admin)
            lid = await persona_listing(http, alice)
            await rate(http, lid, one, 5, "steve")
            await rate(http, lid, two, 1, "steve")  # another server's steve
            r = await http.get(f"/market/listings/{lid}/reviews", headers=alice)
            assert {(v["user"], v["rating"]) for v in r.json()} == {
                ("server:web:s1/steve", 5),
                ("server:web:s2/steve", 1),
            }
            listing = await shown(http, lid, alice)
            assert (listing["ratings"], listing["rating"]) == (2, 3.0)
            # server two's steve reporting does not stop server one's from reporting
            assert (await report(http, lid, two, "steve")).status_code == 201
            assert (await report(http, lid, one, "steve")).status_code == 201
            assert (await report(http, lid, one, "steve")).status_code == 409  # once each
            assert (await shown(http, lid, alice))["reports"] == 2
            # a player named with a creator's key is refused, not silently dropped
            r = await http.post(f"/market/listings/{lid}/ratings", headers=admin,
                                json={"rating": 4, "player": "steve"})  # fmt: skip
            assert r.status_code == 422 and "player" in r.text
