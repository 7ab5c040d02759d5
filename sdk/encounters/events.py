"""Engine events: what happened in play, for listeners such as analytics, difficulty,
NPC memory, campaigns and webhooks.

Listeners are callables taking one :class:`EngineEvent`, plain or async, registered on
:class:`EventBus`. They run in order, after the step is stored. A listener that raises
is logged and skipped: one broken listener never breaks a game's session.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .log import get_logger
from .models import utcnow

log = get_logger(__name__)

EventType = Literal[
    "encounter.generated",
    "session.started",
    "objective.progressed",
    "objective.completed",
    "choice.made",
    "npc.interaction",
    "session.completed",
    "session.failed",
    "session.abandoned",
]


@dataclass(frozen=True)
class EngineEvent:
    type: EventType
    data: dict[str, Any]
    session_id: str | None = None
    player_id: str | None = None
    timestamp: datetime = field(default_factory=utcnow)


Listener = Callable[[EngineEvent], Awaitable[None] | None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "event.listener_failed",
                    event_type=event.type,
                    listener=getattr(listener, "__qualname__", repr(listener)),
                )
