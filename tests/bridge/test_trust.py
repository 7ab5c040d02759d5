"""No world can touch another's sessions, and no peer can stall the daemon: each attack
an untrusted adapter can make, over real sockets against an in-process daemon (the
control API on uvicorn plus the WebSocket edge), closed with its code while a healthy
game server beside it keeps getting its actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from encounters import StoreError
from encounters.models import utcnow
from encounters.moderation import TextFilter
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.frames import CloseCode, Frame
from tests.support.control import (
    SERVER,
    Daemon,
    Game,
    approved_persona,
    bearer,
    connected,
    make_keys,
    run_daemon,
    spawn_live,
    until,
)

pytestmark = pytest.mark.anyio


def chat(n: int) -> dict[str, Any]:
    return {"id": f"act-{n:04d}", "type": "chat", "message": f"line {n}"}


def identify(key: str, server_id: str = SERVER, world: str = "web") -> str:
    return json.dumps({"op": "identify", "d": {"protocol": 1, "world": world,
                       "server_id": server_id, "key": key, "capabilities": ["chat"]}})  # fmt: skip


async def next_frame(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        frame: dict[str, Any] = json.loads(await ws.recv())
        return frame


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the daemon closes; its close code."""
    with anyio.fail_after(timeout):
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
    return ws.close_code


async def raw(url: str, *, local: str = "127.0.0.1", **kw: Any) -> ClientConnection:
    """A raw client, from a chosen loopback address (per-address limits)."""
    return await connect(f"{url}?encoding=json", ping_interval=None,
                         local_addr=(local, 0), **kw)  # fmt: skip


async def round_trip(daemon: Daemon, game: Game, n: int) -> None:
    """The healthy server still gets an action dispatched now."""
    await daemon.edge.dispatch("web", SERVER, Frame("dispatch", {"type": "action",
                               "action": chat(n)}, sid="sess_healthy"))  # fmt: skip
    await until(lambda: f"act-{n:04d}" in game.action_ids(), 5)


async def test_concurrent_signals_after_a_restart_keep_one_link_state(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """After a restart and before the game server resumes, two signals at once for
    two sessions on its link: both are delivered (none reuses the other's numbers),
    and the link keeps counting events after the next restart."""
    db = tmp_path / "bridge.db"
    async with run_daemon(db, text_filter) as d1:
        keys = await make_keys(d1.edge.store)
        game = Game.create(d1.ws_url, keys.world, "json")
        async with httpx.AsyncClient(base_url=d1.http_url) as http, connected(game):
            sessions = []
            for name in ("Ada", "Bo"):
                pid, token = await approved_persona(http, keys, name=name)
                sessions.append(await spawn_live(http, keys, pid, token))
            await until(lambda: len(game.of_type("spawn")) == 2)
        port, state = d1.ws_port, game.client.link
    async with (
        run_daemon(db, text_filter, ws_port=port) as d2,
        httpx.AsyncClient(base_url=d2.http_url) as http,
    ):

        async def signal(sid: str, n: int) -> None:
            body = {"sessionId": sid, "actions": [chat(n), chat(n + 1)]}
            r = await http.post("/signal", headers=bearer(keys.creator), json=body)
            assert [x["decision"] for x in r.json()["results"]] == ["allow", "allow"]

        async with anyio.create_task_group() as tg:
            tg.start_soon(signal, sessions[0], 1)
            tg.start_soon(signal, sessions[1], 3)
        back = Game.create(d2.ws_url, keys.world, "json")
        back.client.link = state  # the same adapter process: it resumes
        state.stopped, state.ready = False, False
        async with connected(back):
            await until(lambda: len(back.action_ids()) == 4)
            assert sorted(back.action_ids()) == [f"act-{n:04d}" for n in (1, 2, 3, 4)]
            conn = d2.edge.connections[state.link_id or ""]
            assert conn.link.link is d2.edge.link_state(state.link_id or "")
            # events are counted and saved by the one owner
            for i in range(3):
                await back.client.send_event({"type": "health", "health": 20 - i},
                                                 sid=sessions[0])  # fmt: skip
            await until(lambda: (d2.edge.link_state(state.link_id or "") or state).in_s >= 7)
    async with run_daemon(db, text_filter, ws_port=port) as d3:
        again = Game.create(d3.ws_url, keys.world, "json")
        again.client.link = state
        state.stopped, state.ready = False, False
        async with connected(again):
            before = (await d3.service.companion(sessions[0])).events
            await again.client.send_event({"type": "health", "health": 9}, sid=sessions[0])
            await until(lambda: d3.service._companions[sessions[0]].events == before + 1)
            # acknowledged (not refused out of order): the ack follows the event's
            # write, after the session's count went up
            await until(lambda: again.client.link.out.unacked == [])


async def test_a_second_key_cannot_claim_another_servers_id(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        victim = Game.create(daemon.ws_url, keys.world, "json")
        async with connected(victim):
            from encounters_bridge.keys import create_world_key

            _, thief_key = await create_world_key(daemon.edge.store, "thief", "web")
            thief = await raw(daemon.ws_url)
            await next_frame(thief)  # hello
            await thief.send(identify(thief_key))
            assert await close_code(thief) == CloseCode.AUTH_FAILED
            # a key made for that server id explicitly is refused at creation
            from encounters_bridge.keys import KeyConflict

            with pytest.raises(KeyConflict, match="already bound"):
                await create_world_key(daemon.edge.store, "thief 2", "web", [SERVER])
            await round_trip(daemon, victim, 1)
            assert victim.closes == []


async def test_an_event_naming_another_servers_session_is_refused(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        from encounters_bridge.keys import create_world_key

        _, other_key = await create_world_key(daemon.edge.store, "other", "web")
        victim = Game.create(daemon.ws_url, keys.world, "json")
        async with httpx.AsyncClient(base_url=daemon.http_url) as http, connected(victim):
            pid, token = await approved_persona(http, keys)
            sid = await spawn_live(http, keys, pid, token)
            await until(lambda: len(victim.of_type("spawn")) == 1)
            await until(lambda: daemon.service._companions[sid].status == "live")
            before = await daemon.service.companion(sid)
            replay_before = len(await daemon.service.audit.replay(sid))

            intruder = await raw(daemon.ws_url)
            await next_frame(intruder)
            await intruder.send(identify(other_key, server_id="elsewhere"))
            assert (await next_frame(intruder))["op"] == "ready"
            failed = {"type": "action_failed", "action_id": "x", "reason": "forged"}
            forged = {"op": "event", "s": 1, "sid": sid, "d": failed}
            await intruder.send(json.dumps(forged))
            answers = [await next_frame(intruder), await next_frame(intruder)]
            refusal = f"no session {sid!r} is live on this server"
            assert {"op": "error", "d": {"code": "unknown_session", "message": refusal}} in answers
            assert {"op": "ack", "d": {"s": 1}} in answers  # consumed: not resent
            after = await daemon.service.companion(sid)
            assert (after.events, after.actions_failed) == (before.events, before.actions_failed)
            assert len(await daemon.service.audit.replay(sid)) == replay_before
            await intruder.close()


async def test_an_event_naming_a_lone_surrogate_session_is_refused(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A ``sid`` escaping half a surrogate pair (``"\\ud800"``, which no UTF-8 store
    holds) names no session: refused (``unknown_session``) and acknowledged like any
    other, and the link goes on."""
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        from encounters_bridge.keys import create_world_key

        _, key = await create_world_key(daemon.edge.store, "odd", "web")
        game = await raw(daemon.ws_url)
        await next_frame(game)
        await game.send(identify(key, server_id="odd"))
        assert (await next_frame(game))["op"] == "ready"
        done = '"d":{"type":"action_done","action_id":"a"}'
        await game.send('{"op":"event","s":1,"sid":"\\ud800",' + done + "}")
        answers = [await next_frame(game), await next_frame(game)]
        assert [a["op"] for a in answers] == ["error", "ack"]
        assert answers[0]["d"]["code"] == "unknown_session"
        await game.send('{"op":"event","s":2,"d":{"type":"player_join"}}')
        assert await next_frame(game) == {"op": "ack", "d": {"s": 2}}
        await game.close()


async def test_a_peer_that_stops_reading_never_blocks_a_signal(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A game server that connects and never reads: dispatches are still accepted at
    once, and the link is dropped when one send has stalled ``send_timeout``."""
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        daemon.edge.send_timeout = 1.0
        keys = await make_keys(daemon.edge.store)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", daemon.ws_port))
        stuck = await connect(f"{daemon.ws_url}?encoding=json", sock=sock, ping_interval=None)
        await next_frame(stuck)
        await stuck.send(identify(keys.world))
        assert (await next_frame(stuck))["op"] == "ready"
        stuck.transport.pause_reading()  # from now on it reads nothing: a zero window
        big = {"type": "action", "action": {"id": "big", "type": "chat", "message": "x" * 60_000}}
        with anyio.fail_after(5):  # durable and answered, never waiting on the peer
            for _ in range(100):
                assert await daemon.edge.dispatch("web", SERVER, Frame("dispatch", big,
                                                  sid="s")) is not None  # fmt: skip
        await until(lambda: not daemon.edge.connections, 10)  # dropped after the stall
        state = daemon.edge.link_state(next(iter(daemon.edge._owners)))
        assert state is not None and len(state.unacked) == 100  # kept for a resume
        stuck.transport.abort()


async def test_a_heartbeat_flood_is_closed_and_the_healthy_link_keeps_its_actions(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        from encounters_bridge.keys import create_world_key

        _, flood_key = await create_world_key(daemon.edge.store, "flood", "web")
        healthy = Game.create(daemon.ws_url, keys.world, "json")
        async with connected(healthy):
            flooder = await raw(daemon.ws_url)
            await next_frame(flooder)
            await flooder.send(identify(flood_key, server_id="flood"))
            await next_frame(flooder)
            beat = json.dumps({"op": "heartbeat", "d": {"ack": 0}})

            async def flood() -> None:
                try:
                    for _ in range(20_000):
                        await flooder.send(beat)
                except ConnectionClosed:
                    pass

            async with anyio.create_task_group() as tg:
                tg.start_soon(flood)
                for n in range(1, 6):
                    await round_trip(daemon, healthy, n)
            assert await close_code(flooder) == CloseCode.RATE_LIMITED
            await round_trip(daemon, healthy, 99)
            assert healthy.closes == []


async def test_unidentified_sockets_are_capped_per_address_and_in_all(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        daemon.edge.max_unidentified, daemon.edge.max_unidentified_per_address = 40, 8
        keys = await make_keys(daemon.edge.store)
        healthy = Game.create(daemon.ws_url, keys.world, "json")
        async with connected(healthy):
            idle: list[ClientConnection] = []
            refused = 0
            for i in range(60):  # 10 from each of 6 addresses
                ws = await raw(daemon.ws_url, local=f"127.0.0.{2 + i % 6}")
                try:
                    assert (await next_frame(ws))["op"] == "hello"
                    idle.append(ws)
                except ConnectionClosed:  # refused at once, before hello
                    assert ws.close_code == CloseCode.RATE_LIMITED
                    refused += 1
            assert (len(idle), refused) == (
                40,
                20,
            )  # per address 8 would allow 48: the total of 40 holds
            async with httpx.AsyncClient(base_url=daemon.http_url) as http:
                assert (await http.get("/health")).status_code == 200
            await round_trip(daemon, healthy, 1)
            for ws in idle:
                ws.transport.abort()
            # once they are gone, a new game server identifies normally
            from encounters_bridge.keys import create_world_key

            _, late_key = await create_world_key(daemon.edge.store, "late", "web")
            await until(lambda: daemon.edge._unidentified_total == 0)
            late = await raw(daemon.ws_url)
            await next_frame(late)
            await late.send(identify(late_key, server_id="late"))
            assert (await next_frame(late))["op"] == "ready"
            await late.close()


async def test_bad_keys_from_one_address_back_off_while_others_still_link(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        codes = []
        for _ in range(12):
            ws = await raw(daemon.ws_url, local="127.0.0.9")
            await next_frame(ws)
            await ws.send(identify("ae_wk_0123456789ab_" + "x" * 32))
            codes.append(await close_code(ws))
        # five failures may come at once; the sixth starts the back-off
        assert codes[:6] == [CloseCode.AUTH_FAILED] * 6
        assert codes[6:] == [CloseCode.RATE_LIMITED] * 6
        good = await raw(daemon.ws_url, local="127.0.0.10")  # another address: unaffected
        await next_frame(good)
        await good.send(identify(keys.world))
        assert (await next_frame(good))["op"] == "ready"
        await good.close()


async def test_revoking_a_world_key_closes_its_live_link_at_once(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        game = Game.create(daemon.ws_url, keys.world, "json")
        key_id = keys.world.split("_")[2]
        async with httpx.AsyncClient(base_url=daemon.http_url) as http, connected(game):
            r = await http.get("/admin/world-keys", headers=bearer(keys.creator))
            assert r.status_code == 403
            listed = (await http.get("/admin/world-keys", headers=bearer(keys.admin))).json()
            assert [k["id"] for k in listed] == [key_id]
            assert "key_hash" not in listed[0] and listed[0]["server_ids"] == [SERVER]
            r = await http.post(f"/admin/world-keys/{key_id}/revoke", headers=bearer(keys.admin))
            assert r.status_code == 200 and r.json()["links_closed"] == 1
            await until(lambda: CloseCode.AUTH_FAILED in game.closes, 2)
            assert game.client.link.stopped  # 4004: it never retries


async def test_a_key_revoked_by_another_process_closes_its_link_within_seconds(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        daemon.edge.revocation_check_interval = 0.2
        keys = await make_keys(daemon.edge.store)
        game = Game.create(daemon.ws_url, keys.world, "json")
        async with connected(game):
            key = await daemon.edge.store.get_world_key(keys.world.split("_")[2])
            assert key is not None
            await daemon.edge.store.save_world_key(key.model_copy(update={"revoked_at": utcnow()}))
            await until(lambda: CloseCode.AUTH_FAILED in game.closes, 3)


async def test_a_revocation_is_still_seen_after_the_store_failed_a_sweep(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A store that fails one revocation sweep (a database restarting) does not end
    the sweeps: a key revoked afterwards by another process still closes its link."""
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        daemon.edge.revocation_check_interval = 0.2
        records = daemon.edge.store
        real = records.revoked_world_key_ids
        asked: list[str] = []

        async def failing_once() -> set[str]:
            asked.append("sweep")
            if len(asked) == 1:
                raise StoreError("read from bridge.db failed: database is restarting")
            return await real()

        records.revoked_world_key_ids = failing_once  # type: ignore[method-assign]
        keys = await make_keys(records)
        game = Game.create(daemon.ws_url, keys.world, "json")
        async with connected(game):
            await until(lambda: len(asked) >= 2, 3)  # failed once, asked again
            key = await records.get_world_key(keys.world.split("_")[2])
            assert key is not None
            await records.save_world_key(key.model_copy(update={"revoked_at": utcnow()}))
            await until(lambda: CloseCode.AUTH_FAILED in game.closes, 3)


async def test_api_keys_are_listed_and_revoked_by_an_admin(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        async with httpx.AsyncClient(base_url=daemon.http_url) as http:
            listed = (await http.get("/admin/api-keys", headers=bearer(keys.admin))).json()
            assert {k["role"] for k in listed} == {"admin", "creator"}
            assert all("key_hash" not in k for k in listed)
            other_id = keys.other.split("_")[2]
            assert (await http.get("/personas", headers=bearer(keys.other))).status_code == 200
            r = await http.post(f"/admin/api-keys/{other_id}/revoke", headers=bearer(keys.admin))
            assert r.status_code == 200 and r.json()["revoked_at"]
            assert (await http.get("/personas", headers=bearer(keys.other))).status_code == 401
            admin_id = keys.admin.split("_")[2]
            r = await http.post(f"/admin/api-keys/{admin_id}/revoke", headers=bearer(keys.admin))
            assert r.status_code == 409


async def test_a_restarted_game_server_gets_the_actions_queued_for_its_old_link(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A game server's process restarts (a GMod map change) and identifies afresh:
    actions accepted while it was away arrive on its new link, in order."""
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        first = Game.create(daemon.ws_url, keys.world, "json")
        async with httpx.AsyncClient(base_url=daemon.http_url) as http:
            async with connected(first):
                pid, token = await approved_persona(http, keys)
                sid = await spawn_live(http, keys, pid, token)
                await until(lambda: len(first.of_type("spawn")) == 1)
            body = {"sessionId": sid, "actions": [chat(1), chat(2), chat(3)]}
            r = await http.post("/signal", headers=bearer(keys.creator), json=body)
            assert [x["decision"] for x in r.json()["results"]] == ["allow"] * 3
            fresh = Game.create(daemon.ws_url, keys.world, "msgpack")  # no link state
            async with connected(fresh):
                await until(lambda: fresh.action_ids() == ["act-0001", "act-0002", "act-0003"])
                ready = fresh.control[0].d
                assert ready["link_id"] != first.client.link.link_id
                assert [s["sid"] for s in ready["sessions"]] == [sid]


async def test_sigterm_with_a_peer_that_never_reads_exits_within_ten_seconds(
    tmp_path: Path,
) -> None:
    from tests.support.daemon_process import DaemonProcess

    daemon = DaemonProcess(tmp_path / "data")
    admin, creator, world_key = await daemon.keys(world="web", servers=[SERVER])
    try:
        await daemon.start()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", daemon.port))
        stuck = await connect(f"{daemon.ws_url}?encoding=json", sock=sock, ping_interval=None)
        await next_frame(stuck)
        await stuck.send(identify(world_key))
        assert (await next_frame(stuck))["op"] == "ready"
        stuck.transport.pause_reading()
        async with httpx.AsyncClient(base_url=daemon.http_url) as http:
            sessions = []
            for i in range(4):
                persona = {"name": f"Talker {i}", "safety": {"allowedActions": ["chat"],
                           "maxActionsPerMinute": 600}}  # fmt: skip
                r = await http.post("/personas/submit", headers=bearer(creator), json=persona)
                pid = r.json()["id"]
                token = (await http.post(f"/personas/{pid}/approve",
                                         headers=bearer(admin))).json()["token"]  # fmt: skip
                body = {"personaId": pid, "deploymentToken": token, "world": "web",
                        "serverId": SERVER}  # fmt: skip
                r = await http.post("/spawn", headers=bearer(creator), json=body)
                sessions.append(r.json()["sessionId"])
            line = "a long line for a peer that never reads " * 12
            with anyio.fail_after(20):  # every signal answered: none waits on the peer
                for sid in sessions:
                    for n in range(5):
                        actions = [{"id": f"{sid}-{n}-{k}", "type": "chat", "message": line}
                                   for k in range(100)]  # fmt: skip
                        body = {"sessionId": sid, "actions": actions}
                        r = await http.post("/signal", headers=bearer(creator), json=body)
                        assert r.status_code == 200, r.text
        code, seconds = await asyncio.to_thread(daemon.terminate, 20.0)
        assert code == 0, daemon.output()[-2000:]
        assert seconds < 10, f"SIGTERM took {seconds:.1f} s"
        stuck.transport.abort()
    finally:
        daemon.stop()


async def test_a_flood_of_sockets_at_the_descriptor_limit_is_refused_and_logged_once(
    tmp_path: Path,
) -> None:
    """With 256 file descriptors, 400 sockets arrive: the daemon drops what it cannot
    hold, logs it once, and its control API and the link already up keep working."""
    import resource

    from tests.support.daemon_process import DaemonProcess

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    daemon = DaemonProcess(tmp_path / "data")
    _, _, world_key = await daemon.keys(world="web", servers=[SERVER])
    socks: list[socket.socket] = []
    try:
        await daemon.start(preexec=low_limit)
        game = AdapterClient(daemon.ws_url, world="web", server_id=SERVER, key=world_key,
                             capabilities=["chat"], max_backoff=0.05)  # fmt: skip
        async with anyio.create_task_group() as tg:
            tg.start_soon(game.run)
            with anyio.fail_after(10):
                await game.ready.wait()
            for _ in range(400):
                s = socket.socket()
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    s.connect(("127.0.0.1", daemon.port))
                socks.append(s)
            await anyio.sleep(1.0)
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{daemon.http_url}/health")).status_code == 200
            connections = game.connections
            await anyio.sleep(1.5)  # three heartbeats: the link stays up
            assert game.connections == connections and game.link.ready
            await game.stop()
            tg.cancel_scope.cancel()
        for s in socks:
            s.close()
        code, _ = await asyncio.to_thread(daemon.terminate, 20.0)
        log = daemon.output()
        assert code == 0, log[-2000:]
        assert log.count("bridge.connection_cap_reached") == 1, log[-2000:]
        assert "Traceback" not in log, log[-3000:]
    finally:
        for s in socks:
            s.close()
        daemon.stop()


async def test_after_a_restart_an_event_for_no_session_reaches_the_servers_companions(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """The daemon restarts; as soon as the game server is back, a player joining (an
    event naming no session) reaches the live companion on that server."""
    from encounters.companion import CompanionHost

    db = tmp_path / "bridge.db"
    async with run_daemon(db, text_filter) as d1:
        keys = await make_keys(d1.edge.store)
        game = Game.create(d1.ws_url, keys.world, "json")
        async with httpx.AsyncClient(base_url=d1.http_url) as http, connected(game):
            pid, token = await approved_persona(http, keys)
            sid = await spawn_live(http, keys, pid, token)
            await until(lambda: d1.service._companions[sid].status == "live")
        port, state = d1.ws_port, game.client.link
    async with run_daemon(db, text_filter, ws_port=port) as d2:
        d2.service.companions = CompanionHost(d2.moderator, seed=1)
        back = Game.create(d2.ws_url, keys.world, "json")
        back.client.link = state  # the same game server process resumes
        state.stopped, state.ready = False, False
        async with connected(back):
            await back.client.send_event({"type": "player_join", "player": {"id": "p2",
                                          "name": "Bo"}})  # fmt: skip

            def chats() -> list[str]:
                return [f.d["action"]["message"] for f in back.of_type("action")
                        if f.d["action"]["type"] == "chat" and f.sid == sid]  # fmt: skip

            await until(lambda: any("Bo" in line for line in chats()), 10)  # greeted
            await d2.service.companions.aclose()


async def test_concurrent_dispatches_after_a_restart_get_distinct_numbers_and_all_are_kept(
    tmp_path: Path,
) -> None:
    """Right after a restart, before the game server is back, four callers dispatch to
    its link at the same moment: the link is loaded once, every dispatch gets its own
    ``s`` and every one is stored for the resume."""
    from encounters.storage import SQLiteStore
    from encounters_bridge.keys import create_world_key
    from encounters_bridge.server import BridgeEdge
    from encounters_bridge.store import open_bridge_store

    db = tmp_path / "bridge.db"
    async with SQLiteStore(db) as store:
        records = await open_bridge_store(store)
        _, key = await create_world_key(records, "game", "web")
        edge = BridgeEdge(records, heartbeat_interval=0.5)
        server = await edge.serve("127.0.0.1", 0)
        game = Game.create(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws", key, "json")
        async with connected(game):
            await edge.dispatch("web", SERVER, Frame("dispatch", {"type": "action",
                                "action": chat(0)}, sid="s1"))  # fmt: skip
            await until(lambda: game.action_ids() == ["act-0000"])
        link_id = game.client.link.link_id or ""
        await edge.close_all()
        server.close()
        await server.wait_closed()
    async with SQLiteStore(db) as store:
        records = await open_bridge_store(store)
        edge = BridgeEdge(records, heartbeat_interval=0.5)  # nothing in memory
        results: list[list[int]] = []

        async def dispatch(n: int) -> None:
            frames = [Frame("dispatch", {"type": "action", "action": chat(n + i)}, sid="s1")
                      for i in range(3)]  # fmt: skip
            results.append(await edge.dispatch_many("web", SERVER, frames))

        async with anyio.create_task_group() as tg:
            for n in (10, 20, 30, 40):
                tg.start_soon(dispatch, n)
        numbers = sorted(s for r in results for s in r)
        assert numbers == list(range(2, 14))  # 12 distinct numbers after the first
        stored = await records.get_link(link_id)
        assert stored is not None  # (1 may still be unacknowledged: it was never acked)
        assert [f["s"] for f in stored.unacked if f["s"] > 1] == list(range(2, 14))


async def test_a_companion_the_game_gave_up_on_ends_its_session(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    """A final ``kicked`` (a ban, an online-mode server): the session ends with the
    game's reason, and later signals are refused."""
    async with run_daemon(tmp_path / "bridge.db", text_filter) as daemon:
        keys = await make_keys(daemon.edge.store)
        game = Game.create(daemon.ws_url, keys.world, "json")
        async with httpx.AsyncClient(base_url=daemon.http_url) as http, connected(game):
            pid, token = await approved_persona(http, keys)
            sid = await spawn_live(http, keys, pid, token)
            await game.client.send_event(
                {"type": "kicked", "reason": "You are banned", "final": True}, sid=sid
            )

            async def ended() -> bool:
                r = await http.get(f"/session/{sid}", headers=bearer(keys.creator))
                return bool(r.json()["status"] == "ended")

            await until(ended)
            r = await http.post("/signal", headers=bearer(keys.creator),
                                json={"sessionId": sid, "actions": [chat(1)]})  # fmt: skip
            assert r.status_code == 409
