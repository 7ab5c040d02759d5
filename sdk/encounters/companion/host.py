"""Companions for many sessions at once: what the daemon runs (``ae bridge serve
--script FILE``). Each session gets its own :class:`Companion`, created on its first
event; events of one session are handled in order, in the background, so a slow LLM
never holds up the game link that delivered them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._util.locks import KeyedLocks
from ..log import get_logger
from ..models.persona import PersonaCore
from ..moderation.moderator import ActionDecision, ContentModerator
from .companion import Companion, Send
from .script import CompanionScript

if TYPE_CHECKING:
    from ..generation.router import ProviderManager
    from ..memory import NPCMemoryManager

log = get_logger(__name__)


class CompanionHost:
    def __init__(
        self,
        moderator: ContentModerator,
        *,
        router: ProviderManager | None = None,
        memory: NPCMemoryManager | None = None,
        script: CompanionScript | None = None,
        seed: int | None = None,
    ) -> None:
        self.moderator = moderator
        self.router = router
        self.memory = memory
        self.script = script
        self.seed = seed
        self.companions: dict[str, Companion] = {}
        self._locks: KeyedLocks[str] = KeyedLocks()  # a session's events, one at a time
        self._tasks: set[asyncio.Task[Any]] = set()

    def companion(
        self,
        session_id: str,
        persona: PersonaCore,
        send: Send,
        world: str | None = None,
        language: str = "en",
    ) -> Companion:
        """The session's companion, created on first use (in a ``world`` kind: its
        coordinate bounds apply to the companion's actions; speaking ``language``)."""
        companion = self.companions.get(session_id)
        if companion is None:
            companion = Companion(
                persona, session_id=session_id, send=send, moderator=self.moderator,
                router=self.router, memory=self.memory, script=self.script, seed=self.seed,
                world=world, language=language,
            )  # fmt: skip
            self.companions[session_id] = companion
        return companion

    async def handle(
        self,
        session_id: str,
        persona: PersonaCore,
        event: Mapping[str, Any],
        send: Send,
        world: str | None = None,
        language: str = "en",
    ) -> list[ActionDecision]:
        """Handle one event now, after the session's earlier events."""
        async with self._locks.hold(session_id):
            companion = self.companion(session_id, persona, send, world, language)
            try:
                return await companion.handle(event)
            except Exception as exc:  # handle() contains its errors; this is a last guard
                log.exception("companion.host_failed", session_id=session_id, error=repr(exc))
                return []

    def submit(
        self,
        session_id: str,
        persona: PersonaCore,
        event: Mapping[str, Any],
        send: Send,
        world: str | None = None,
        language: str = "en",
    ) -> asyncio.Task[list[ActionDecision]]:
        """Handle one event in the background (in order per session)."""
        task = asyncio.get_running_loop().create_task(
            self.handle(session_id, persona, dict(event), send, world, language)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until every submitted event is handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def end(self, session_id: str) -> None:
        """The session ended: close its companion (its timers stop)."""
        companion = self.companions.pop(session_id, None)
        if companion is not None:
            await companion.close()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session_id in list(self.companions):
            await self.end(session_id)


__all__ = ["CompanionHost"]
