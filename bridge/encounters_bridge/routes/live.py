"""A companion session live (admin, or the persona's creator): the stream the studio's
live view reads (server-sent events, ``live.py``; the key goes in the Authorization
header of a streaming ``fetch``, never in the URL), the same items for the replay
after the end, and pausing the companion's brain.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from ..deployment import DeploymentService
from ..live import LiveItem, SessionStatus, items, status_of, stream
from .auth import Caller, may_see
from .schemas import ERRORS

STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `entry` (a LiveItem, with `id: <seq>`), "
        "`status` (a SessionStatus) and, once the session has ended, `end`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["sessions"], responses=ERRORS)

    async def check(session_id: str, key: Caller) -> None:
        found = await service.companion(session_id)
        may_see(key, (await service.persona(found.persona_id)).persona.creator_id)

    @api.get("/session/{session_id}/stream", response_class=StreamingResponse,
             responses=STREAM)  # fmt: skip
    async def live(
        session_id: str,
        key: Caller,
        last_event_id: Annotated[int, Header(ge=0)] = 0,
    ) -> StreamingResponse:
        await check(session_id, key)
        return StreamingResponse(
            stream(service, session_id, last_event_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get("/session/{session_id}/items")
    async def replay_items(session_id: str, key: Caller) -> list[LiveItem]:
        """The whole session as the live view shows it (the replay after the end)."""
        await check(session_id, key)
        return items(await service.audit.replay(session_id))

    @api.post("/session/{session_id}/pause")
    async def pause(session_id: str, key: Caller) -> SessionStatus:
        """The companion's brain stops reacting to the game; actions sent by hand
        still go out. Kept in the session: a daemon restart, or another node, keeps
        it paused."""
        await check(session_id, key)
        await service.pause(session_id, True)
        return await status_of(service, session_id)

    @api.post("/session/{session_id}/resume")
    async def resume(session_id: str, key: Caller) -> SessionStatus:
        await check(session_id, key)
        await service.pause(session_id, False)
        return await status_of(service, session_id)

    return api
