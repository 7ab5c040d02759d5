"""The companion runtime: one persona in one session.

``await companion.handle(event)`` runs the script's handlers for the event's type, or
else the brain (the LLM through the provider router when one is given, the offline
rules otherwise or when the LLM fails). Every action is moderated for the persona and
only what moderation allows (masked when sanitized, or as written for a ``send`` that
moderates again) reaches ``send``. Nothing a script
or a provider does makes ``handle`` raise: errors are logged and contained.

Timers run as asyncio tasks (the daemon and most games' Python run on asyncio); they
are cancelled by :meth:`Companion.close`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..log import get_logger
from ..models.actions import Chat
from ..models.common import new_id
from ..models.persona import PersonaCore
from ..moderation.moderator import ActionDecision, ContentModerator
from .brain import ActionDict, LLMBrain
from .offline import OfflineBrain
from .script import CompanionScript, Context, TimerCallback

if TYPE_CHECKING:
    from ..generation.router import ProviderManager
    from ..memory import NPCMemoryManager

log = get_logger(__name__)

#: Receives the allowed (moderated) actions, as dicts, for the game to perform.
Send = Callable[[list[dict[str, Any]]], Awaitable[Any]]
#: Events the LLM answers; others (tick, action_done, ...) go to the offline rules, so
#: an idle world costs no tokens.
LLM_EVENTS = frozenset({"player_chat", "player_join", "player_leave", "companion_damaged"})

#: The decisions of the event being handled (a timer has its own, empty, context).
_collector: contextvars.ContextVar[list[ActionDecision] | None] = contextvars.ContextVar(
    "companion_decisions", default=None
)


class Timer:
    """A running :meth:`Context.every` / :meth:`Context.after` timer."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    @property
    def active(self) -> bool:
        return not self._task.done()

    def cancel(self) -> None:
        self._task.cancel()


class Companion:
    def __init__(
        self,
        persona: PersonaCore,
        *,
        session_id: str,
        send: Send,
        moderator: ContentModerator,
        router: ProviderManager | None = None,
        memory: NPCMemoryManager | None = None,
        script: CompanionScript | None = None,
        capabilities: Sequence[str] | None = None,
        provider: str | None = None,
        offline: OfflineBrain | None = None,
        seed: int | None = 0,
        world: str | None = None,
        language: str = "en",
        send_as_written: bool = False,
        memory_scope: str | None = None,
    ) -> None:
        self.persona = persona
        #: the NPC memory scope this companion remembers players in (None: the unscoped
        #: namespace); the daemon gives each game server's companions that server's
        self.memory_scope = memory_scope
        #: when ``send`` moderates again and audits (the daemon's edge): the actions this
        #: companion's check allows go out as written, not masked, so that moderation
        #: makes (and records) the sanitize decision the live view and replay show
        self.send_as_written = send_as_written
        #: the session's language (BCP 47): the brains speak it
        self.language = language
        #: the world kind (gmod, minecraft, web): its coordinate bounds apply to actions
        self.world = world
        self.session_id = session_id
        self.send = send
        #: moderation for the session's language (its national personal-data forms)
        self.moderator = moderator.for_language(language)
        self.router = router
        self.memory = memory
        self.script = script
        self.capabilities = list(capabilities) if capabilities is not None else None
        self.llm = (
            LLMBrain(router, provider=provider, language=language) if router is not None else None
        )
        self.offline = offline or OfflineBrain(seed=seed, language=language)
        #: the session's state, shared by every handler and timer
        self.state: dict[str, Any] = {}
        self.closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Companion:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- events --------------------------------------------------------------------------

    async def handle(self, event: Mapping[str, Any]) -> list[ActionDecision]:
        """Handle one world event; returns the moderation decisions of the actions it
        led to (allowed and blocked). Never raises for a script or LLM error."""
        decisions: list[ActionDecision] = []
        if self.closed or not isinstance(event, Mapping):
            return decisions
        token = _collector.set(decisions)
        try:
            kind = event.get("type")
            handlers = self.script.handlers_for(kind) if self.script is not None else []
            if handlers:
                for handler in handlers:
                    try:
                        await handler(Context(self, event), dict(event))
                    except Exception as exc:
                        log.exception(
                            "companion.script_failed",
                            session_id=self.session_id,
                            event_type=str(kind),
                            handler=getattr(handler, "__name__", repr(handler)),
                            error=repr(exc),
                        )
            else:
                await self._brain(event)
            if kind == "player_chat":
                await self._remember(event, decisions)
        finally:
            _collector.reset(token)
        return decisions

    async def respond(self, event: Mapping[str, Any]) -> list[ActionDecision]:
        """The brain's answer to ``event`` (what :meth:`handle` does without a script)."""
        return await self._brain(event)

    async def _brain(self, event: Mapping[str, Any]) -> list[ActionDecision]:
        actions: list[ActionDict] = []
        if self.llm is not None and event.get("type") in LLM_EVENTS:
            try:
                context = await self._memory_context(event)
                actions = await self.llm.decide(event, self.persona, memory_context=context)
            except Exception as exc:
                log.warning(
                    "companion.llm_failed_offline_fallback",
                    session_id=self.session_id,
                    error=repr(exc)[:500],
                )
                actions = self._offline(event)
        else:
            actions = self._offline(event)
        return await self.act(actions) if actions else []

    def _offline(self, event: Mapping[str, Any]) -> list[ActionDict]:
        try:
            return self.offline.decide_now(event, self.persona)
        except Exception as exc:  # a rule bug must not end the session either
            log.exception("companion.offline_failed", session_id=self.session_id, error=repr(exc))
            return []

    # -- actions -------------------------------------------------------------------------

    async def act(self, actions: Sequence[Mapping[str, Any]]) -> list[ActionDecision]:
        """Moderate ``actions`` for the persona and send those allowed."""
        if self.closed:
            return []
        batch = [{**a, "id": a.get("id") or new_id("act")} if isinstance(a, Mapping) else a
                 for a in actions]  # fmt: skip
        decisions = await self.moderator.moderate_actions(
            batch,
            self.persona,
            capabilities=self.capabilities,
            session_id=self.session_id,
            world=self.world,
        )
        allowed = [d.action.model_dump(exclude_none=True)
                   for d in decisions if d.allowed and d.action is not None]  # fmt: skip
        if self.send_as_written:
            written = {a["id"]: a for a in batch if isinstance(a, Mapping)}
            allowed = [dict(written.get(a["id"], a)) for a in allowed]
        for d in decisions:
            if not d.allowed:
                log.info(
                    "companion.action_blocked",
                    session_id=self.session_id,
                    reason=d.reason,
                    errors=list(d.errors),
                )
        if allowed:
            try:
                await self.send(allowed)
            except Exception as exc:
                log.exception("companion.send_failed", session_id=self.session_id, error=repr(exc))
        collected = _collector.get()
        if collected is not None:
            collected.extend(decisions)
        return decisions

    # -- thinking and memory -------------------------------------------------------------

    async def think(self, prompt: str, *, player_id: str | None = None) -> str:
        """Text from the LLM in character (offline: an in-character line)."""
        if self.llm is not None:
            try:
                context = await self._memory_for(player_id, prompt)
                text = await self.llm.think(prompt, self.persona, memory_context=context)
                if text:
                    return text
            except Exception as exc:
                log.warning(
                    "companion.think_failed_offline_fallback",
                    session_id=self.session_id,
                    error=repr(exc)[:500],
                )
        return self.offline.line(self.persona)

    async def _memory_context(self, event: Mapping[str, Any]) -> str:
        player = event.get("player")
        pid = player.get("id") if isinstance(player, Mapping) else None
        return await self._memory_for(
            str(pid) if pid is not None else None, str(event.get("message") or "")
        )

    async def _memory_for(self, player_id: str | None, query: str) -> str:
        if self.memory is None or not player_id:
            return ""
        try:
            return await self.memory.context_prompt(
                self.persona.id, player_id, query[:500], scope=self.memory_scope
            )
        except Exception as exc:
            log.warning("companion.memory_unavailable", session_id=self.session_id,
                        error=repr(exc)[:300])  # fmt: skip
            return ""

    async def _remember(self, event: Mapping[str, Any], decisions: list[ActionDecision]) -> None:
        if self.memory is None:
            return
        player = event.get("player")
        if not isinstance(player, Mapping) or player.get("id") is None:
            return
        name = str(player.get("name") or player["id"])[:64]
        dialogue = [f"{name}: {event.get('message') or ''}"[:500]]
        dialogue += [f"{self.persona.name}: {d.action.message}"[:500] for d in decisions
                     if d.allowed and isinstance(d.action, Chat)]  # fmt: skip
        try:
            await self.memory.record_interaction(
                self.persona.id,
                str(player["id"]),
                {"dialogue": dialogue[:50]},
                scope=self.memory_scope,
            )
        except Exception as exc:
            log.warning("companion.memory_record_failed", session_id=self.session_id,
                        error=repr(exc)[:300])  # fmt: skip

    # -- timers --------------------------------------------------------------------------

    def start_timer(self, seconds: float, callback: TimerCallback, *, repeat: bool) -> Timer:
        if not seconds > 0:
            raise ValueError("a timer needs a positive number of seconds")
        if self.closed:
            raise RuntimeError("this companion is closed")
        task = asyncio.get_running_loop().create_task(
            self._timer(float(seconds), callback, repeat), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Timer(task)

    async def _timer(self, seconds: float, callback: TimerCallback, repeat: bool) -> None:
        while not self.closed:
            await asyncio.sleep(seconds)
            if self.closed:
                return
            try:
                result = callback(Context(self)) if _takes_context(callback) else callback()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("companion.timer_failed", session_id=self.session_id,
                              callback=getattr(callback, "__name__", repr(callback)),
                              error=repr(exc))  # fmt: skip
            if not repeat:
                return

    async def close(self) -> None:
        """End the companion: timers are cancelled; later events are ignored."""
        self.closed = True
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _takes_context(callback: TimerCallback) -> bool:
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return bool(positional) or any(p.kind == p.VAR_POSITIONAL for p in params)


__all__ = ["LLM_EVENTS", "Companion", "Send", "Timer"]
