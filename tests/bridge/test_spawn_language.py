"""A companion spawned with a language in the daemon: the session keeps it, and the
companion's offline brain answers a real game link in that language (a Spanish
session gets Spanish lines; the English session next to it stays English)."""

from __future__ import annotations

from pathlib import Path

import anyio

from encounters.companion import CompanionHost
from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.keys import create_world_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.support.control import SERVER, Game, connected, until

PERSONA = {
    "id": "persona_marta", "name": "Marta", "traits": {"tone": "serious"},
    "safety": {"allowedActions": ["chat", "follow", "stop"], "maxActionsPerMinute": 600},
    "embodiment": {"emotes": ["wave"]},
}  # fmt: skip


def test_a_spanish_session_speaks_spanish_over_the_bridge(tmp_path: Path) -> None:
    async def main() -> None:
        store = SQLiteStore(tmp_path / "ae.db")
        await store.open()
        try:
            edge = BridgeEdge(await open_bridge_store(store), heartbeat_interval=0.5)
            moderator = ContentModerator(TextFilter.default())
            service = DeploymentService(store, moderator, edge)
            service.companions = host = CompanionHost(moderator, seed=1)
            _, key = await create_world_key(edge.store, "web world", "web")
            ws = await edge.serve("127.0.0.1", 0)
            url = f"ws://127.0.0.1:{ws.sockets[0].getsockname()[1]}/ws"
            game = Game.create(url, key, "json", capabilities=["chat", "follow", "stop"])
            try:
                async with connected(game):
                    persona = PersonaCore.model_validate(PERSONA).model_dump()
                    sids = []
                    for language in ("es", "en"):
                        record = await service.submit(persona, "creator_1")
                        token, _ = await service.approve(record.persona.id)
                        session = await service.spawn(
                            record.persona.id, token, "web", SERVER, language=language
                        )
                        sids.append(session.id)
                    spanish, english = sids
                    await until(lambda: all(service._companions[s].status == "live" for s in sids))
                    stored = await store.get_companion(spanish)
                    assert stored is not None and stored.language == "es"

                    def chats(sid: str) -> list[str]:
                        return [f.d["action"]["message"] for f in game.of_type("action")
                                if f.d["action"]["type"] == "chat" and f.sid == sid]  # fmt: skip

                    ana = {"id": "7", "name": "Ana"}
                    for sid in sids:
                        await game.client.send_event(
                            {"type": "player_chat", "player": ana, "message": "sígueme"}, sid=sid
                        )
                    await until(lambda: bool(chats(spanish)) and bool(chats(english)))
                    assert chats(spanish) == ["Entendido. Te sigo."]
                    # English requests are understood everywhere; "sígueme" is not English
                    assert chats(english) != ["Entendido. Te sigo."]
                    await host.idle()
            finally:
                await edge.close_all()
                ws.close()
                await ws.wait_closed()
        finally:
            await store.close()

    anyio.run(main)
