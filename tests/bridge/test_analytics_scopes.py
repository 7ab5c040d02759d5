"""Player analytics and feedback over the control API are each game server's own, over
real HTTP against the real daemon with two servers' world keys: a server reads the
stats of the sessions it started only, and feedback it records for a player id can
neither replace nor pose as another server's player's feedback; admins read
everything, or one server's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.moderation import TextFilter
from encounters_bridge.keys import create_world_key
from tests.conftest import encounter_dict
from tests.support.control import Keys, bearer, make_keys, run_daemon


async def start(http: httpx.AsyncClient, secret: str, player: str) -> str:
    """Start one session of ``enc_test`` for ``player`` as ``secret``; its id."""
    body = {"player": {"player_id": player}, "encounterId": "enc_test"}
    started = await http.post("/sessions", json=body, headers=bearer(secret))
    assert started.status_code == 201
    return str(started.json()["id"])


async def win(http: httpx.AsyncClient, secret: str, player: str) -> None:
    sid = await start(http, secret, player)
    done = await http.post(f"/sessions/{sid}/objectives/obj_1", json={"completed": True},
                           headers=bearer(secret))  # fmt: skip
    assert done.status_code == 200
    finished = await http.post(f"/sessions/{sid}/complete", headers=bearer(secret))
    assert finished.status_code == 200 and finished.json()["status"] == "completed"


async def stats(
    http: httpx.AsyncClient, secret: str, player: str, server: str | None = None
) -> tuple[int, int]:
    """(sessions played, sessions completed) of ``player`` as ``secret`` reads them."""
    params = {"server": server} if server else {}
    got = await http.get(f"/analytics/player/{player}", params=params, headers=bearer(secret))
    assert got.status_code == 200
    body: dict[str, Any] = got.json()
    return body["sessions_played"], body["sessions_completed"]


async def rate(
    http: httpx.AsyncClient, secret: str, player: str, rating: int, comment: str
) -> httpx.Response:
    body = {"encounterId": "enc_test", "playerId": player, "rating": rating, "comment": comment}
    return await http.post("/analytics/feedback", json=body, headers=bearer(secret))


async def feedback(http: httpx.AsyncClient, secret: str) -> dict[str, Any]:
    got = await http.get("/analytics/encounter/enc_test", headers=bearer(secret))
    assert got.status_code == 200
    summary: dict[str, Any] = got.json()["player_feedback"]
    return summary


async def published(http: httpx.AsyncClient, keys: Keys) -> None:
    made = await http.post("/encounters", json=encounter_dict(), headers=bearer(keys.creator))
    assert made.status_code == 201


@pytest.mark.anyio
async def test_a_server_reads_only_the_player_stats_of_the_sessions_it_started(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            await published(http, keys)
            await win(http, one, "ana")
            for _ in range(2):
                await start(http, two, "ana")

            assert await stats(http, one, "ana") == (1, 1)  # not server two's sessions
            assert await stats(http, two, "ana") == (2, 0)  # nor server one's win
            # a campaign step server two plays for ana is its session too
            saga = {"id": "saga", "name": "The Saga", "steps": [{"encounter_id": "enc_test"}]}
            made = await http.post("/campaigns", json=saga, headers=bearer(keys.creator))
            assert made.status_code == 201
            run = await http.post("/campaigns/saga/start", json={"player": "ana"},
                                  headers=bearer(two))  # fmt: skip
            assert run.status_code == 201
            step = await http.post(f"/campaign-runs/{run.json()['id']}/play", headers=bearer(two))
            assert step.status_code == 201
            assert await stats(http, two, "ana") == (3, 0)
            assert await stats(http, one, "ana") == (1, 1)

            # an admin reads every session of the player id (its own and those made
            # before scopes too), or one server's by naming it
            await start(http, keys.admin, "ana")
            assert await stats(http, keys.admin, "ana") == (5, 1)
            assert await stats(http, keys.admin, "ana", "web:one") == (1, 1)
            assert await stats(http, keys.admin, "ana", "web:two") == (3, 0)
            assert await stats(http, one, "ana") == (1, 1)

            picked = await http.get("/analytics/player/ana?server=web:one", headers=bearer(two))
            assert picked.status_code == 422 and "server" in picked.text
            denied = await http.get("/analytics/player/ana", headers=bearer(keys.creator))
            assert denied.status_code == 403


@pytest.mark.anyio
async def test_another_servers_feedback_neither_replaces_nor_poses_as_a_servers_player(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            await published(http, keys)
            assert (await rate(http, one, "ana", 5, "Loved the bridge")).status_code == 201
            # server two sends ratings for the same player id, again and again
            for _ in range(3):
                assert (await rate(http, two, "ana", 1, "Worst quest ever")).status_code == 201

            # one rating per player per server: two's ana is another rater, once
            everyone = await feedback(http, keys.admin)
            assert everyone["count"] == 2 and everyone["average_rating"] == 3.0
            said = {(c["player_id"], c["comment"]) for c in everyone["latest_comments"]}
            assert said == {("ana", "Loved the bridge"), ("ana", "Worst quest ever")}
            assert not any("scope" in c for c in everyone["latest_comments"])  # not shown

            # server one still sees its ana's own words, and two's comment as nobody's
            seen = await feedback(http, one)
            ours = [c for c in seen["latest_comments"] if c["player_id"] == "ana"]
            assert [c["comment"] for c in ours] == ["Loved the bridge"]
            theirs = await feedback(http, two)
            assert [c["comment"] for c in theirs["latest_comments"] if c["player_id"]] == [
                "Worst quest ever"
            ]

            # a server's player changing their mind replaces their rating, in its scope
            assert (await rate(http, one, "ana", 3, "Fine on a second go")).status_code == 201
            after = await feedback(http, keys.admin)
            assert after["count"] == 2 and after["average_rating"] == 2.0
            assert "Loved the bridge" not in {c["comment"] for c in after["latest_comments"]}

            # only stored encounters; creators have no players
            unknown = {"encounterId": "enc_nope", "playerId": "ana", "rating": 5}
            missing = await http.post("/analytics/feedback", json=unknown, headers=bearer(two))
            assert missing.status_code == 404 and "enc_nope" in missing.text
            refused = await rate(http, keys.creator, "ana", 5, "mine")
            assert refused.status_code == 403
            assert (await feedback(http, keys.admin))["count"] == 2
