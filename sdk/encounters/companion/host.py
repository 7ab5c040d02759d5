"""Companions for many sessions at once: what the daemon runs (``ae bridge serve
--script FILE``). Each session gets its own :class:`Companion`, created on its first
event; events of one session are handled in order, in the background, so a slow LLM
never holds up the game link that delivered them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
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
#: Sessions ended lately whose ids the host keeps: an event handed over just before its
#: session ended (still waiting for the session's turn, or submitted as it ended) is
#: dropped instead of making a new companion for an ended session. Only that moment
#: needs them: the deployment does not hand over events of a session it knows ended.
ENDED_KEPT = 4096


class CompanionHost:
    def __init__(
        self,
        moderator: ContentModerator,
        *,
        router: ProviderManager | None = None,
        memory: NPCMemoryManager | None = None,
        script: CompanionScript | None = None,
        seed: int | None = None,
        send_as_written: bool = False,
    ) -> None:
        self.moderator = moderator
        #: see :attr:`Companion.send_as_written`
        self.send_as_written = send_as_written
        self.router = router
        self.memory = memory
        self.script = script
        self.seed = seed
        self.companions: dict[str, Companion] = {}
        self._locks: KeyedLocks[str] = KeyedLocks()  # a session's events, one at a time
        self._ended: OrderedDict[str, None] = OrderedDict()  #: see ENDED_KEPT
        self._tasks: set[asyncio.Task[Any]] = set()

    def companion(
        self,
        session_id: str,
        persona: PersonaCore,
        send: Send,
        world: str | None = None,
        language: str = "en",
        memory_scope: str | None = None,
    ) -> Companion:
        """The session's companion, created on first use (in a ``world`` kind: its
        coordinate bounds apply to the companion's actions; speaking ``language``;
        remembering players in the NPC memory scope ``memory_scope``)."""
        companion = self.companions.get(session_id)
        if companion is None:
            companion = Companion(
                persona, session_id=session_id, send=send, moderator=self.moderator,
                router=self.router, memory=self.memory, script=self.script, seed=self.seed,
                world=world, language=language, send_as_written=self.send_as_written,
                memory_scope=memory_scope,
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
        memory_scope: str | None = None,
    ) -> list[ActionDecision]:
        """Handle one event now, after the session's earlier events (none once the
        session has ended)."""
        async with self._locks.hold(session_id):
            if session_id in self._ended:
                return []
            companion = self.companion(session_id, persona, send, world, language, memory_scope)
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
        memory_scope: str | None = None,
    ) -> asyncio.Task[list[ActionDecision]]:
        """Handle one event in the background (in order per session)."""
        task = asyncio.get_running_loop().create_task(
            self.handle(session_id, persona, dict(event), send, world, language, memory_scope)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until every submitted event is handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def end(self, session_id: str) -> None:
        """The session ended: close its companion (its timers stop); events of the
        session still waiting are dropped."""
        self._ended[session_id] = None
        self._ended.move_to_end(session_id)
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)
        companion = self.companions.pop(session_id, None)
        if companion is not None:
            await companion.close()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session_id in list(self.companions):
            await self.end(session_id)


__all__ = ["CompanionHost"]
