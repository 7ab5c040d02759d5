"""An accepted action is never lost: a real daemon process is killed with SIGKILL ten
times while four creators stream actions to four sessions on one game server's link.

Every action the daemon answered ``allow`` must reach the game exactly once, in the
order it was sent; an action answered otherwise must never arrive; an action whose
call was cut off by the kill may arrive (it may have been stored), but only once and
in its place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from encounters.client import ControlError, EncountersClient
from encounters_bridge.adapter import AdapterClient
from encounters_bridge.frames import Frame
from tests.support.daemon_process import DaemonProcess

pytestmark = pytest.mark.anyio
SERVER = "crash-srv"
ROUNDS = 10
SESSIONS = 4


@dataclass
class Stream:
    """One creator streaming numbered chat actions to one session."""

    session_id: str
    next_n: int = 0
    accepted: list[str] = field(default_factory=list)  #: answered allow
    refused: list[str] = field(default_factory=list)  #: answered anything else
    cut_off: list[str] = field(default_factory=list)  #: the call never answered

    def action(self) -> dict[str, Any]:
        self.next_n += 1
        return {"id": f"{self.session_id}-{self.next_n:05d}", "type": "chat",
                "message": f"line {self.next_n}"}  # fmt: skip

    async def run(self, client: EncountersClient, stop: anyio.Event) -> None:
        """Signal two actions at a time until ``stop`` (the kill) or an error."""
        while not stop.is_set():
            batch = [self.action(), self.action()]
            ids = [a["id"] for a in batch]
            try:
                answer = await client.signal(self.session_id, batch)
            except (ControlError, httpx.HTTPError, OSError):
                self.cut_off += ids
                return
            for result in answer["results"]:
                if result["decision"] == "allow":
                    self.accepted.append(result["action_id"])
                else:
                    self.refused.append(result["action_id"])


async def test_sigkill_ten_times_while_four_signallers_stream_loses_nothing(
    tmp_path: Path,
) -> None:
    daemon = DaemonProcess(tmp_path / "data")
    admin, creator, world_key = await daemon.keys(servers=[SERVER])
    delivered: dict[str, list[str]] = {}

    async def on_dispatch(frame: Frame) -> None:
        if frame.d.get("type") == "action" and frame.sid:
            delivered.setdefault(frame.sid, []).append(frame.d["action"]["id"])

    game = AdapterClient(daemon.ws_url, world="minecraft", server_id=SERVER, key=world_key,
                         capabilities=["chat"], on_dispatch=on_dispatch,
                         max_backoff=0.05)  # fmt: skip
    rng = random.Random(14)
    streams: list[Stream] = []
    try:
        await daemon.start()
        async with anyio.create_task_group() as tg:
            tg.start_soon(game.run)
            with anyio.fail_after(20):
                await game.ready.wait()
            async with (
                EncountersClient(daemon.http_url, creator) as me,
                EncountersClient(daemon.http_url, admin) as ops,
            ):
                for i in range(SESSIONS):
                    safety = {"allowedActions": ["chat"], "maxActionsPerMinute": 600}
                    persona = {"name": f"Streamer {i}", "safety": safety}
                    pid = (await me.submit_persona(persona))["id"]
                    token = (await ops.approve_persona(pid))["token"]
                    sid = (await me.spawn(pid, token, "minecraft", SERVER))["sessionId"]
                    streams.append(Stream(sid))

            for round_ in range(ROUNDS):
                if round_:
                    await daemon.start()
                stop = anyio.Event()
                async with (
                    EncountersClient(daemon.http_url, creator) as me,
                    anyio.create_task_group() as signallers,
                ):
                    for stream in streams:
                        signallers.start_soon(stream.run, me, stop)
                    await anyio.sleep(rng.uniform(0.3, 0.8))
                    daemon.kill()  # mid-stream: calls are in flight
                    stop.set()

            await daemon.start()  # the last start: everything accepted must arrive
            wanted = {s.session_id: set(s.accepted) for s in streams}
            with anyio.fail_after(30):
                while any(not wanted[sid] <= set(delivered.get(sid, [])) for sid in wanted):
                    await anyio.sleep(0.05)
            await anyio.sleep(0.5)  # anything that would arrive twice has time to
            await game.stop()
            tg.cancel_scope.cancel()
        code, _ = daemon.terminate()
        assert code == 0, daemon.output()[-3000:]
    finally:
        daemon.stop()

    accepted = sum(len(s.accepted) for s in streams)
    assert accepted > ROUNDS * SESSIONS * 2, "the streams hardly ran: nothing was tested"
    for stream in streams:
        got = delivered.get(stream.session_id, [])
        assert len(got) == len(set(got)), f"duplicated: {stream.session_id}"
        assert got == sorted(got), f"out of order: {stream.session_id}"
        assert set(stream.accepted) <= set(got), f"lost: {set(stream.accepted) - set(got)}"
        assert not set(stream.refused) & set(got), "a refused action reached the game"
        assert set(got) <= set(stream.accepted) | set(stream.cut_off), "an unknown action"
