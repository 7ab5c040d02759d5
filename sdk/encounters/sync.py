"""The blocking engine: :class:`SyncEngine`, the same surface as :class:`Engine` for
game loops that are not async.

It runs one :class:`Engine` on an event loop in a helper (daemon) thread and blocks on
each call. Every public method and attribute of :class:`Engine` is here with the same
parameters (a test keeps the two surfaces equal); the engine's async services
(``store``, ``campaigns``, ``analytics``, ``memory``, ``webhooks``, ``market``, ``difficulty``,
``moderator``, ``events``, ``generator``) are :class:`Blocking` views whose coroutine
methods block too.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import wraps
from queue import Queue
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from .analytics import AnalyticsRecorder
from .campaigns import CampaignManager, CampaignRun
from .difficulty import DifficultyManager
from .engine import Engine, PlayerLike
from .events import EventBus, Listener
from .generation import EncounterGenerator
from .marketplace import Marketplace
from .memory import NPCMemoryManager
from .models import Category, EncounterSpec, Outcome, Session, SessionStatus
from .models.audit import AuditEntry
from .models.persona import PersonaCore, Safety
from .models.usage import UsageTotals
from .moderation import ActionDecision, ContentModerator, ModerationResult
from .settings import Settings
from .storage import Store
from .templates import TemplateLibrary
from .templates.model import EncounterTemplate
from .webhooks import WebhookManager

T = TypeVar("T")
S = TypeVar("S")


class Blocking(Generic[S]):
    """A blocking view of one of the engine's async services.

    Its coroutine methods run on the engine's loop thread and return their result
    (``engine.campaigns.status(run_id)``); every other attribute is the service's own
    (``engine.campaigns.current_encounter(run)``). Limits: async iterators and async
    context managers are returned as they are, and a coroutine that never ends (such
    as ``webhooks.run()``) blocks the caller for good. :attr:`service` is the async
    object itself, for code that runs on the engine's loop.
    """

    def __init__(self, service: S, call: Callable[[Callable[[], Awaitable[Any]]], Any]) -> None:
        self._service = service
        self._run = call

    @property
    def service(self) -> S:
        return self._service

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._service, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @wraps(value)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._run(lambda: value(*args, **kwargs))

        return blocking

    def __repr__(self) -> str:
        return f"Blocking({self._service!r})"


def _loop_thread(ready: Queue[BlockingPortal | BaseException]) -> None:
    async def main() -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    try:
        anyio.run(main)
    except BaseException as exc:  # pragma: no cover - reported to the constructor
        ready.put(exc)


def _shutdown(portal: BlockingPortal, engine: Engine, thread: threading.Thread) -> None:
    """Close the store and stop the loop thread; safe to call more than once."""
    if not thread.is_alive():
        return
    try:
        portal.call(engine.close)
    finally:
        portal.call(portal.stop)
        thread.join(timeout=10)


class SyncEngine:
    """A blocking :class:`Engine` for game loops that are not async.

    It runs the engine on an event loop in a helper (daemon) thread; each call blocks
    until the engine answers. Use it as a context manager or call :meth:`close`. If a
    game forgets to, the engine is closed when the object is garbage-collected or the
    interpreter exits; the process never hangs on it::

        with SyncEngine() as engine:
            spec = engine.generate(category="puzzle", player="alice")

    The constructor opens the store (there is no ``open``). Listeners registered with
    :meth:`on` run on the helper thread. :attr:`engine` is the async engine inside.
    """

    def __init__(self, settings: Settings | None = None, **kwargs: Any) -> None:
        ready: Queue[BlockingPortal | BaseException] = Queue()
        thread = threading.Thread(
            target=_loop_thread, args=(ready,), name="encounters-engine", daemon=True
        )
        thread.start()
        got = ready.get()
        if isinstance(got, BaseException):
            raise got
        self._portal = got
        try:
            self.engine = Engine(settings, **kwargs)
            try:
                self._portal.call(self.engine.open)
            except BaseException:
                # its clients are closed on their own loop; the open error is the one to tell
                with contextlib.suppress(Exception):
                    self._portal.call(self.engine.close)
                raise
        except BaseException:
            self._portal.call(self._portal.stop)
            thread.join(timeout=10)
            raise
        self._finalizer = weakref.finalize(self, _shutdown, self._portal, self.engine, thread)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and stop the helper thread. Calling it twice is harmless."""
        self._finalizer()

    def _run(self, fn: Callable[[], Awaitable[T]]) -> T:
        if not self._finalizer.alive:
            raise RuntimeError("this SyncEngine is closed")

        async def run() -> T:
            return await fn()

        return self._portal.call(run)

    def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._run(lambda: fn(*args, **kwargs))

    def _blocking(self, service: S) -> Blocking[S]:
        return Blocking(service, self._run)

    # -- what the engine is made of -----------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def templates(self) -> TemplateLibrary:
        return self.engine.templates

    @property
    def store(self) -> Blocking[Store]:
        """See :attr:`Engine.store`."""
        return self._blocking(self.engine.store)

    @property
    def generator(self) -> Blocking[EncounterGenerator]:
        """See :attr:`Engine.generator`."""
        return self._blocking(self.engine.generator)

    @property
    def events(self) -> Blocking[EventBus]:
        """See :attr:`Engine.events`."""
        return self._blocking(self.engine.events)

    @property
    def moderator(self) -> Blocking[ContentModerator]:
        """See :attr:`Engine.moderator`; :meth:`moderate_message` and
        :meth:`moderate_action` are typed shortcuts."""
        return self._blocking(self.engine.moderator)

    @property
    def memory(self) -> Blocking[NPCMemoryManager]:
        """See :attr:`Engine.memory`: ``engine.memory.get_memory(npc_id, player_id)``."""
        return self._blocking(self.engine.memory)

    @property
    def analytics(self) -> Blocking[AnalyticsRecorder]:
        """See :attr:`Engine.analytics`: ``engine.analytics.encounter(encounter_id)``."""
        return self._blocking(self.engine.analytics)

    @property
    def webhooks(self) -> Blocking[WebhookManager]:
        """See :attr:`Engine.webhooks`: ``engine.webhooks.register(url, events)``;
        deliveries need ``engine.webhooks.deliver_due()`` now and then."""
        return self._blocking(self.engine.webhooks)

    @property
    def market(self) -> Blocking[Marketplace]:
        """See :attr:`Engine.market`: ``engine.market.search({"text": "bandits"})``."""
        return self._blocking(self.engine.market)

    @property
    def campaigns(self) -> Blocking[CampaignManager]:
        """See :attr:`Engine.campaigns`: ``engine.campaigns.save_campaign({...})``."""
        return self._blocking(self.engine.campaigns)

    @property
    def difficulty(self) -> Blocking[DifficultyManager]:
        """See :attr:`Engine.difficulty`: ``engine.difficulty.history(player_id)``."""
        return self._blocking(self.engine.difficulty)

    def on(self, listener: Listener) -> Listener:
        """Register an event listener, sync or async; it runs on the helper thread."""
        if not callable(listener) or inspect.isclass(listener):
            raise TypeError("a listener must be a function taking one EngineEvent")
        return self.engine.on(listener)

    # -- content ---------------------------------------------------------------------

    def generate(
        self,
        *,
        template: str | None = None,
        params: Mapping[str, object] | None = None,
        category: Category | str | None = None,
        difficulty: float | None = None,
        player: PlayerLike | None = None,
        language: str | None = None,
        seed: int | None = None,
        provider: str | None = None,
        save: bool = True,
        adaptive: bool = False,
        use_memory: bool = True,
        memory_scope: str | None = None,
        use_history: bool = True,
        history_scope: str | None = None,
    ) -> EncounterSpec:
        """See :meth:`Engine.generate`."""
        return self._call(
            self.engine.generate,
            template=template,
            params=params,
            category=category,
            difficulty=difficulty,
            player=player,
            language=language,
            seed=seed,
            provider=provider,
            save=save,
            adaptive=adaptive,
            use_memory=use_memory,
            memory_scope=memory_scope,
            use_history=use_history,
            history_scope=history_scope,
        )

    def translate_encounter(self, spec: EncounterSpec, language: str) -> EncounterSpec:
        """See :meth:`Engine.translate_encounter`."""
        return self._call(self.engine.translate_encounter, spec, language)

    def translate_template(self, template: EncounterTemplate, language: str) -> EncounterTemplate:
        """See :meth:`Engine.translate_template`."""
        return self._call(self.engine.translate_template, template, language)

    def save_encounter(self, spec: EncounterSpec | Mapping[str, Any]) -> EncounterSpec:
        """See :meth:`Engine.save_encounter`."""
        return self._call(self.engine.save_encounter, spec)

    def get_encounter(self, encounter_id: str) -> EncounterSpec:
        """See :meth:`Engine.get_encounter`."""
        return self._call(self.engine.get_encounter, encounter_id)

    def list_encounters(
        self, *, category: Category | str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        """See :meth:`Engine.list_encounters`."""
        return self._call(
            self.engine.list_encounters, category=category, limit=limit, offset=offset
        )

    def publish_template(self, data: EncounterTemplate | Mapping[str, Any]) -> EncounterTemplate:
        """See :meth:`Engine.publish_template`."""
        return self._call(self.engine.publish_template, data)

    # -- sessions --------------------------------------------------------------------

    def start_session(
        self,
        player: PlayerLike,
        encounter: EncounterSpec | str,
        *,
        campaign_id: str | None = None,
        language: str | None = None,
        voice_enabled: bool = False,
    ) -> Session:
        """See :meth:`Engine.start_session`."""
        return self._call(
            self.engine.start_session,
            player,
            encounter,
            campaign_id=campaign_id,
            language=language,
            voice_enabled=voice_enabled,
        )

    def get_session(self, session_id: str) -> Session:
        """See :meth:`Engine.get_session`."""
        return self._call(self.engine.get_session, session_id)

    def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | str | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        """See :meth:`Engine.list_sessions`."""
        return self._call(
            self.engine.list_sessions,
            player_id=player_id,
            status=status,
            campaign_id=campaign_id,
            limit=limit,
            offset=offset,
        )

    def update_objective(
        self,
        session_id: str,
        objective_id: str,
        *,
        progress: int | None = None,
        completed: bool | None = None,
    ) -> Session:
        """See :meth:`Engine.update_objective`."""
        return self._call(
            self.engine.update_objective,
            session_id,
            objective_id,
            progress=progress,
            completed=completed,
        )

    def record_choice(
        self,
        session_id: str,
        description: str,
        selected_option: str,
        *,
        available_options: Iterable[str] = (),
        consequences: Iterable[str] = (),
        choice_id: str | None = None,
    ) -> Session:
        """See :meth:`Engine.record_choice`."""
        return self._call(
            self.engine.record_choice,
            session_id,
            description,
            selected_option,
            available_options=available_options,
            consequences=consequences,
            choice_id=choice_id,
        )

    def record_npc_interaction(
        self,
        session_id: str,
        npc_id: str,
        *,
        dialogue: Iterable[str] = (),
        player_choices: Iterable[str] = (),
        outcome: Outcome = "neutral",
    ) -> Session:
        """See :meth:`Engine.record_npc_interaction`."""
        return self._call(
            self.engine.record_npc_interaction,
            session_id,
            npc_id,
            dialogue=dialogue,
            player_choices=player_choices,
            outcome=outcome,
        )

    def complete_session(
        self, session_id: str, *, record_history: bool = True, history_scope: str | None = None
    ) -> Session:
        """See :meth:`Engine.complete_session`."""
        return self._call(self.engine.complete_session, session_id,
                          record_history=record_history, history_scope=history_scope)  # fmt: skip

    def fail_session(
        self,
        session_id: str,
        reason: str | None = None,
        *,
        record_history: bool = True,
        history_scope: str | None = None,
    ) -> Session:
        """See :meth:`Engine.fail_session`."""
        return self._call(self.engine.fail_session, session_id, reason,
                          record_history=record_history, history_scope=history_scope)  # fmt: skip

    def abandon_session(
        self,
        session_id: str,
        reason: str | None = None,
        *,
        record_history: bool = True,
        history_scope: str | None = None,
    ) -> Session:
        """See :meth:`Engine.abandon_session`."""
        return self._call(self.engine.abandon_session, session_id, reason,
                          record_history=record_history, history_scope=history_scope)  # fmt: skip

    # -- campaigns -------------------------------------------------------------------

    def start_campaign(self, campaign_id: str, player: PlayerLike) -> CampaignRun:
        """See :meth:`Engine.start_campaign`."""
        return self._call(self.engine.start_campaign, campaign_id, player)

    def play_campaign_step(self, run_id: str, player: PlayerLike | None = None) -> Session:
        """See :meth:`Engine.play_campaign_step`."""
        return self._call(self.engine.play_campaign_step, run_id, player)

    # -- platform --------------------------------------------------------------------

    def notify(self, event_type: str, data: Mapping[str, Any]) -> None:
        """See :meth:`Engine.notify`."""
        self._call(self.engine.notify, event_type, data)

    def moderate_message(
        self,
        text: object,
        persona: PersonaCore | Safety | None = None,
        *,
        session_id: str | None = None,
    ) -> ModerationResult:
        """See :meth:`ContentModerator.moderate_message` (audited in the store)."""
        return self._call(
            self.engine.moderator.moderate_message, text, persona, session_id=session_id
        )

    def moderate_action(
        self,
        action: Mapping[str, Any],
        persona: PersonaCore,
        *,
        capabilities: Iterable[str] | None = None,
        session_id: str | None = None,
    ) -> ActionDecision:
        """See :meth:`ContentModerator.moderate_action` (audited in the store)."""
        return self._call(
            self.engine.moderator.moderate_action,
            action,
            persona,
            capabilities=capabilities,
            session_id=session_id,
        )

    def replay(self, session_id: str) -> list[AuditEntry]:
        """See :meth:`Engine.replay`."""
        return self._call(self.engine.replay, session_id)

    def usage_totals(self) -> list[UsageTotals]:
        """See :meth:`Engine.usage_totals`."""
        return self._call(self.engine.usage_totals)
