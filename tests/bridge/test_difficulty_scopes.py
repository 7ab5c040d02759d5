"""A player's difficulty history over the control API is each game server's own, over
real HTTP against the real daemon: the sessions one server finishes for a player do
not count in another server's history of that player, a server reads only its own
history, and an adaptive encounter's prompt (seen by a loopback OpenAI stand-in)
carries only the caller's own record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.moderation import TextFilter
from encounters_bridge.keys import create_world_key
from tests.conftest import encounter_dict
from tests.support.control import bearer, make_keys, run_daemon
from tests.support.prompts import two_servers_and_an_llm

#: What an adaptive prompt says of a player who won their one recorded encounter.
ONE_WIN = "won 1 of their last 1 encounters"


async def play(
    http: httpx.AsyncClient, secret: str, player: str, finisher: str | None = None
) -> str:
    """Start (as ``secret``), win and complete (as ``finisher``, default the same) one
    session of ``enc_test`` for ``player``; its id."""
    body = {"player": {"player_id": player}, "encounterId": "enc_test"}
    started = await http.post("/sessions", json=body, headers=bearer(secret))
    assert started.status_code == 201
    sid = str(started.json()["id"])
    done = await http.post(f"/sessions/{sid}/objectives/obj_1", json={"completed": True},
                           headers=bearer(secret))  # fmt: skip
    assert done.status_code == 200
    finished = await http.post(f"/sessions/{sid}/complete", headers=bearer(finisher or secret))
    assert finished.status_code == 200 and finished.json()["status"] == "completed"
    return sid


async def history(
    http: httpx.AsyncClient, secret: str, player: str, server: str | None = None
) -> dict[str, Any]:
    params = {"server": server} if server else {}
    got = await http.get(f"/difficulty/{player}", params=params, headers=bearer(secret))
    assert got.status_code == 200
    view: dict[str, Any] = got.json()
    return view


def sessions_of(view: dict[str, Any]) -> list[str]:
    return [r["session_id"] for r in view["history"]["results"]]


@pytest.mark.anyio
async def test_another_servers_sessions_neither_change_nor_read_a_servers_history(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
        _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
        async with httpx.AsyncClient(base_url=dm.http_url) as http:
            published = await http.post("/encounters", json=encounter_dict(),
                                        headers=bearer(keys.creator))  # fmt: skip
            assert published.status_code == 201

            ours = await play(http, one, "ana")
            mine = await history(http, one, "ana")
            assert sessions_of(mine) == [ours] and mine["history"]["recorded"] == 1
            # server two starts with nothing of server one's record of ana
            fresh = await history(http, two, "ana")
            assert fresh["history"]["recorded"] == 0 and fresh["difficulty"] == 0.5

            # server two's sessions for ana count in its history only
            theirs = [await play(http, two, "ana") for _ in range(3)]
            assert sessions_of(await history(http, two, "ana")) == theirs
            after = await history(http, one, "ana")
            assert sessions_of(after) == [ours] and after["history"]["recorded"] == 1
            assert after["difficulty"] == mine["difficulty"]
            assert after["history"]["rating"] == mine["history"]["rating"]

            # a creator's test run is nobody's record
            await play(http, keys.creator, "ana")
            assert sessions_of(await history(http, one, "ana")) == [ours]

            # an admin reads the unscoped history, or a server's by naming it
            assert (await history(http, keys.admin, "ana"))["history"]["recorded"] == 0
            assert sessions_of(await history(http, keys.admin, "ana", "web:one")) == [ours]
            # a server's session counts in its history whoever completes it
            helped = await play(http, one, "ana", finisher=keys.admin)
            assert sessions_of(await history(http, one, "ana")) == [ours, helped]
            assert (await history(http, keys.admin, "ana"))["history"]["recorded"] == 0
            picked = await http.get("/difficulty/ana?server=web:one", headers=bearer(two))
            assert picked.status_code == 422
            denied = await http.get("/difficulty/ana", headers=bearer(keys.creator))
            assert denied.status_code == 403


@pytest.mark.anyio
async def test_adaptive_generation_carries_only_the_callers_own_record(
    tmp_path: Path, text_filter: TextFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with two_servers_and_an_llm(tmp_path, text_filter, monkeypatch) as t:
        published = await t.http.post("/encounters", json=encounter_dict(),
                                      headers=bearer(t.keys.creator))  # fmt: skip
        assert published.status_code == 201
        await play(t.http, t.one, "ana")
        adaptive = {"category": "combat", "player": "ana", "adaptive": True}
        assert ONE_WIN in await t.prompt_for(t.one, adaptive)  # its own record
        assert "no recorded encounters yet" in await t.prompt_for(t.two, adaptive)
        for other in (t.keys.creator, t.keys.other, t.keys.admin):
            assert ONE_WIN not in await t.prompt_for(other, adaptive)
