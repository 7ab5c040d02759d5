"""The web world's daemon side (``encounters_bridge/play.py``) with real sockets: play
passes (who may get them, single use, expiry, bound to one web server, never a world
key in a browser), the link passes at the edge, and the room's rules for untrusted
tabs (names from the API key, clamped positions, host-only reports, companion lines
only from the edge's moderated dispatches)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from encounters.moderation import TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.frames import Frame
from encounters_bridge.keys import create_world_key
from encounters_bridge.play import (
    MAP_WIDTH,
    MAX_CHAT,
    MAX_PASSES_PER_PLAYER,
    Player,
    PlayPasses,
    Room,
    link_url,
)
from encounters_bridge.store import open_bridge_store
from tests.support.control import (
    SERVER,
    Daemon,
    approved_persona,
    bearer,
    make_keys,
    run_daemon,
    spawn_live,
)
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def text_filter() -> TextFilter:
    return TextFilter.default()


def room_url(dm: Daemon, server: str = SERVER) -> str:
    return dm.http_url.replace("http://", "ws://") + f"/web-world/{server}/room"


async def passes(http: httpx.AsyncClient, key: str, server: str = SERVER) -> dict[str, Any]:
    r = await http.post(f"/web-world/{server}/passes", headers=bearer(key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def identify(ws_url: str, key: str, server: str = SERVER, world: str = "web") -> int | str:
    """Identify with ``key``: ``"ready"``, or the close code the daemon answered."""
    async with connect(f"{ws_url}?encoding=json") as ws:
        assert json.loads(await ws.recv())["op"] == "hello"
        d = {"world": world, "server_id": server, "key": key, "capabilities": ["chat"]}
        await ws.send(json.dumps({"op": "identify", "d": d}))
        try:
            frame = json.loads(await ws.recv())
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
        return "ready" if frame["op"] == "ready" else frame["op"]


async def recv(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next room message of ``kind`` (others are skipped), within 5 s."""
    with anyio.fail_after(5):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["t"] == kind:
                return message


async def test_passes_need_a_signed_in_caller_and_a_web_key_bound_to_the_server(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        assert (await http.post(f"/web-world/{SERVER}/passes")).status_code == 401
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.world))
        assert r.status_code == 403  # a game server's key is not a player
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.creator))
        assert r.status_code == 404
        assert f"ae worlds add NAME --world web --server {SERVER}" in r.json()["error"]["message"]
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        got = await passes(http, keys.creator)
        assert got["player"]["name"] == "alice"  # from the API key, not from the browser
        assert got["expiresIn"] == 60
        assert got["wsUrl"] == f"{dm.ws_url}?encoding=json"
        secrets = json.dumps(got)
        assert "ae_wk_" not in secrets and keys.creator not in secrets  # no key in the answer
        # the page itself is public and holds no secret
        page = await http.get(f"/play/{SERVER}")
        assert page.status_code == 200 and "ae_" not in page.text
        assert (await http.get("/play/assets/link.js")).status_code == 200
        for name in ("play.py", "..%2fplay.py", "%2e%2e%2f__init__.py"):
            assert (await http.get(f"/play/assets/{name}")).status_code == 404, name


async def test_a_link_pass_identifies_once_and_only_as_its_web_server(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        record, _ = await create_world_key(dm.edge.store, "web", "web", [SERVER, "web-2"])
        got = await passes(http, keys.creator)
        assert await identify(dm.ws_url, got["linkPass"]) == "ready"
        assert await identify(dm.ws_url, got["linkPass"]) == 4004  # single use
        assert await identify(dm.ws_url, (await passes(http, keys.admin))["roomPass"]) == 4004
        other = await passes(http, keys.creator, "web-2")
        assert await identify(dm.ws_url, other["linkPass"], server=SERVER) == 4004
        for_gmod = await passes(http, keys.creator)
        assert await identify(dm.ws_url, for_gmod["linkPass"], world="gmod") == 4004
        # revoking the web server's key stops both new passes and unused ones
        unused = await passes(http, keys.creator)
        r = await http.post(f"/admin/world-keys/{record.id}/revoke", headers=bearer(keys.admin))
        assert r.status_code == 200, r.text
        assert await identify(dm.ws_url, unused["linkPass"]) == 4004
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.creator))
        assert r.status_code == 404


async def test_passes_expire(tmp_path: Path) -> None:
    now = [100.0]
    async with SQLiteStore(tmp_path / "s.db") as sdk_store:
        store = await open_bridge_store(sdk_store)
        key, _ = await create_world_key(store, "web", "web", ["w"])
        play = PlayPasses(store, clock=lambda: now[0])
        passes = play.mint(key, "w", Player("p1", "Ava"))
        assert passes is not None  # None only past MAX_PASSES_PER_PLAYER
        room, link = passes
        now[0] += 61
        assert play.redeem_room(room, "w") is None
        assert await play.redeem_link(link, "web", "w") is None
        passes = play.mint(key, "w", Player("p1", "Ava"))
        assert passes is not None
        room, link = passes
        now[0] += 59
        assert play.redeem_room(room, "w") == Player("p1", "Ava")
        assert await play.redeem_link(link, "web", "w") == key


async def test_the_room_trusts_no_tab(tmp_path: Path, text_filter: TextFilter) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        # no pass, a used pass, or silence: closed with a reason
        async with connect(room_url(dm)) as ws:
            await ws.send(json.dumps({"t": "join", "token": "ae_pr_forged"}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004
        a_pass, b_pass = await passes(http, keys.creator), await passes(http, keys.admin)
        async with connect(room_url(dm)) as a, connect(room_url(dm)) as b:
            await a.send(json.dumps({"t": "join", "token": a_pass["roomPass"], "name": "root"}))
            welcome_a = await recv(a, "welcome")
            assert welcome_a["host"] is True and welcome_a["player"]["name"] == "alice"
            await b.send(json.dumps({"t": "join", "token": b_pass["roomPass"]}))
            welcome_b = await recv(b, "welcome")
            assert welcome_b["host"] is False and welcome_b["player"]["name"] == "ops"
            assert (await recv(a, "join"))["player"]["name"] == "ops"
            # positions are clamped to the map; chat is one bounded line
            await b.send(json.dumps({"t": "move", "x": 1e12, "y": -5}))
            moved = await recv(a, "player")
            assert (moved["x"], moved["y"]) == (MAP_WIDTH, 0)
            await b.send(json.dumps({"t": "chat", "text": "x" * 500 + "\n\nhi"}))
            line = await recv(a, "chat")
            assert line["text"] == "x" * MAX_CHAT and line["from"]["name"] == "ops"
            # only the host reports companions, and only ones the edge spawned; nobody
            # can make a companion speak
            await b.send(json.dumps({"t": "companions", "list": [{"sid": "s", "x": 1, "y": 1}]}))
            await b.send(json.dumps({"t": "say", "sid": "s", "text": "forged"}))
            ghost = [{"sid": "ghost", "x": 1, "y": 1}]
            await a.send(json.dumps({"t": "companions", "list": ghost}))
            reported = await recv(b, "companions")
            assert reported["list"] == []
            # chat is moderated before any other tab sees it: masked, or refused to
            # its writer alone
            await b.send(
                json.dumps({"t": "chat", "text": "this shit is dark, mail me at ava@example.com"})
            )
            masked = await recv(a, "chat")
            assert "shit" not in masked["text"] and "ava@example.com" not in masked["text"]
            assert masked["text"].startswith("this ") and masked["from"]["name"] == "ops"
            await b.send(json.dumps({"t": "chat", "text": "all the jews should be gassed"}))
            refused = await recv(b, "refused")
            assert refused["reason"] == "blocked_topic"
            await b.send(json.dumps({"t": "chat", "text": "marker"}))
            with anyio.fail_after(5):
                following = json.loads(await a.recv())  # nothing came before it
            assert (following["t"], following["text"]) == ("chat", "marker"), following
            # the host leaves: the other tab is the host now
            await a.close()
            assert (await recv(b, "leave"))["player"]["name"] == "alice"
            await recv(b, "host")
        async with connect(room_url(dm)) as c:
            await c.send(json.dumps({"t": "join", "token": a_pass["roomPass"]}))  # used
            with pytest.raises(ConnectionClosed):
                await c.recv()


async def test_companion_lines_reach_every_tab_from_the_edge_moderated(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        host_pass, guest_pass = await passes(http, keys.creator), await passes(http, keys.admin)
        spawned: list[Frame] = []

        async def on_dispatch(frame: Frame) -> None:
            if frame.d.get("type") == "spawn":
                spawned.append(frame)
                await game.send_event({"type": "spawned", "entity": "web-1"}, frame.sid)

        # the host tab's link, as a browser holds it (here the Python adapter, same protocol)
        game = AdapterClient(dm.ws_url, world="web", server_id=SERVER, key=host_pass["linkPass"],
                             capabilities=["chat", "emote"], on_dispatch=on_dispatch)  # fmt: skip
        async with anyio.create_task_group() as tg, connect(room_url(dm)) as guest:
            tg.start_soon(game.run)
            with anyio.fail_after(5):
                await game.ready.wait()
            await guest.send(json.dumps({"t": "join", "token": guest_pass["roomPass"]}))
            await recv(guest, "welcome")
            pid, token = await approved_persona(http, keys, safety={
                "allowedActions": ["chat", "emote"], "moderation": "sanitize"})  # fmt: skip
            sid = await spawn_live(http, keys, pid, token)
            r = await http.post("/signal", headers=bearer(keys.creator), json={
                "sessionId": sid, "actions": [
                    {"type": "chat", "message": "this shit tunnel is dark"},
                    {"type": "emote", "name": "wave"}]})  # fmt: skip
            assert r.status_code == 200, r.text
            said = await recv(guest, "say")
            assert said["sid"] == sid and said["name"] == "Helpful Guide"
            assert said["text"] == "this **** tunnel is dark"
            assert (await recv(guest, "emote"))["name"] == "wave"
            r = await http.post(f"/session/{sid}/end", headers=bearer(keys.creator))
            assert r.status_code == 200, r.text
            assert (await recv(guest, "gone"))["sid"] == sid
            await game.stop()
            tg.cancel_scope.cancel()


async def test_a_player_cannot_hoard_passes_and_a_flooding_tab_is_closed(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        held = [await passes(http, keys.creator) for _ in range(MAX_PASSES_PER_PLAYER // 2)]
        r = await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.creator))
        assert r.status_code == 429 and "unused passes" in r.json()["error"]["message"]
        assert (
            await http.post(f"/web-world/{SERVER}/passes", headers=bearer(keys.admin))
        ).is_success
        async with connect(room_url(dm)) as tab:
            await tab.send(json.dumps({"t": "join", "token": held[0]["roomPass"]}))
            await recv(tab, "welcome")
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(5000):
                    await tab.send(json.dumps({"t": "chat", "text": "spam"}))
                    await anyio.sleep(0)
                with anyio.fail_after(5):
                    while True:
                        await tab.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def test_json_nested_past_the_parsers_limit_is_refused_like_any_malformed_message(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    # json.loads raises RecursionError, not ValueError, for it: a first message like
    # this (no pass needed) was an unhandled error in the log and a close without a code
    deep = "[" * 4000 + "]" * 4000  # 8000 characters: within the message limit
    async with (
        run_daemon(tmp_path / "d.db", text_filter) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        keys = await make_keys(dm.edge.store)
        await create_world_key(dm.edge.store, "web", "web", [SERVER])
        for first in (deep, "[" * 100_000 + "]" * 100_000):  # and far past the limit
            async with connect(room_url(dm), max_size=None) as ws:
                await ws.send(first)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                    4003, "send {t: 'join', token} first",
                )  # fmt: skip
        pass_ = await passes(http, keys.creator)
        async with connect(room_url(dm)) as tab:
            await tab.send(json.dumps({"t": "join", "token": pass_["roomPass"]}))
            await recv(tab, "welcome")
            await tab.send(deep)  # ignored: the tab stays in the room
            await tab.send(json.dumps({"t": "chat", "text": "still here"}))
            assert (await recv(tab, "chat"))["text"] == "still here"


def test_a_voiced_line_reaches_the_room_with_its_audio_link_and_nothing_else() -> None:
    room = Room(SERVER)
    link = "http://127.0.0.1:3001/audio/abc.wav?exp=1&sig=x"
    shown = room.heard([
        Frame("dispatch", {"type": "spawn", "persona": {"name": "Pip"}}, sid="s1"),
        Frame("dispatch", {"type": "action", "action": {
            "type": "chat", "message": "hello", "audio": {
                "url": link, "duration": 1.25, "content_type": "audio/wav", "secret": "no"}}},
            sid="s1"),
        Frame("dispatch", {"type": "action", "action": {
            "type": "chat", "message": "odd", "audio": {"url": "javascript:alert(1)"}}}, sid="s1"),
        Frame("dispatch", {"type": "action", "action": {"type": "chat", "message": "plain"}},
              sid="s1"),
    ])  # fmt: skip
    assert shown == [
        {"t": "say", "sid": "s1", "name": "Pip", "text": "hello",
         "audio": {"url": link, "duration": 1.25, "content_type": "audio/wav"}},
        {"t": "say", "sid": "s1", "name": "Pip", "text": "odd"},
        {"t": "say", "sid": "s1", "name": "Pip", "text": "plain"},
    ]  # fmt: skip


def test_behind_a_proxy_the_page_links_through_the_public_address() -> None:
    """With ``public_url`` (the daemon behind a reverse proxy), the page opens its link
    on the proxy's ``/ws`` of the same origin: ``wss`` under HTTPS, which a browser
    requires of an HTTPS page; else the edge's own port on the page's host."""
    assert link_url("https://games.example.com", "10.0.0.5", 3002) == (
        "wss://games.example.com/ws?encoding=json"
    )
    assert link_url("http://lan-box:8080/ae/", "lan-box", 3002) == (
        "ws://lan-box:8080/ae/ws?encoding=json"
    )
    assert link_url(None, "127.0.0.1", 3002) == "ws://127.0.0.1:3002/ws?encoding=json"
    # a page asked for at http://[::1]:3001/ (the request's hostname has no brackets)
    assert link_url(None, "::1", 3002) == "ws://[::1]:3002/ws?encoding=json"


async def test_on_several_nodes_a_link_pass_is_redeemed_once_on_any_node(
    tmp_path: Path, redis_key_prefix: str
) -> None:
    """Node A mints the passes (its room serves the page); the page's link may reach
    node B through the load balancer: B redeems the link pass through Redis, and
    nobody can use it again, on either node."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with SQLiteStore(tmp_path / "s.db") as sdk_store:
            store = await open_bridge_store(sdk_store)
            key, _ = await create_world_key(store, "web", "web", ["w"])
            a = PlayPasses(store, redis=client, redis_prefix=redis_key_prefix)
            b = PlayPasses(store, redis=client, redis_prefix=redis_key_prefix)
            minted = a.mint(key, "w", Player("p1", "Ava"))
            assert minted is not None
            room, link = minted
            await a.share(link)
            assert await b.redeem_link(link, "web", "w-2") is None  # another server
            minted = a.mint(key, "w", Player("p1", "Ava"))
            assert minted is not None
            await a.share(minted[1])
            assert await b.redeem_link(minted[1], "web", "w") == key
            assert await a.redeem_link(minted[1], "web", "w") is None  # used on B
            assert await b.redeem_link(minted[1], "web", "w") is None
            assert a.redeem_room(minted[0], "w") == Player("p1", "Ava")  # rooms stay on A
            assert b.redeem_room(room, "w") is None
    finally:
        await client.aclose()
