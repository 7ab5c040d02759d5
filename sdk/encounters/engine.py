"""The engine facade: one object that composes generation, templates, storage and
sessions.

``Engine`` is async (anyio, so it runs under asyncio or trio); ``SyncEngine`` wraps it
for game loops that are not async by running the engine's event loop in a helper
thread. Both expose the same methods.

Every session step is a read-modify-write of the stored session under a per-session
lock, so concurrent steps on one session are applied one after the other and none is
lost. Illegal moves raise typed errors from :mod:`encounters.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from .errors import (
    EncounterNotFound,
    IllegalTransition,
    ObjectivesIncomplete,
    SessionNotActive,
    SessionNotFound,
    UnknownNPC,
    UnknownObjective,
)
from .events import EngineEvent, EventBus, EventType, Listener
from .generation import EncounterGenerator, GenerationRequest, ProceduralGenerator
from .log import configure_logging
from .models import (
    TRANSITIONS,
    Category,
    Choice,
    EncounterSpec,
    NPCInteraction,
    Outcome,
    PlayerContext,
    Session,
    SessionStatus,
    utcnow,
)
from .settings import Settings
from .storage import MemoryStore, SQLiteStore, Store
from .templates import TemplateLibrary
from .validation import validate_model

T = TypeVar("T")
_LOCK_STRIPES = 64
_FINISH_EVENT: dict[SessionStatus, EventType] = {
    SessionStatus.COMPLETED: "session.completed",
    SessionStatus.FAILED: "session.failed",
    SessionStatus.ABANDONED: "session.abandoned",
}


def _player(player: PlayerContext | Mapping[str, Any] | str | None) -> PlayerContext:
    if player is None:
        return PlayerContext(player_id="player")
    if isinstance(player, PlayerContext):
        return player
    if isinstance(player, str):
        return validate_model(PlayerContext, {"player_id": player}, "player")
    return validate_model(PlayerContext, dict(player), "player")


class Engine:
    """The in-process engine.

    Use it as an async context manager, which opens and closes the store::

        async with Engine() as engine:
            spec = await engine.generate(category="combat", player="alice")
            session = await engine.start_session("alice", spec)

    With no arguments it stores in SQLite under the data directory (``AE_DATA_DIR``)
    and generates offline with the procedural generator.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        data_dir: str | Path | None = None,
        store: Store | None = None,
        templates: TemplateLibrary | None = None,
        generator: EncounterGenerator | None = None,
    ) -> None:
        if settings is None:
            settings = Settings(data_dir=Path(data_dir)) if data_dir else Settings()
        elif data_dir is not None:
            settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        self.settings = settings
        configure_logging(settings.log_level, settings.log_format)
        if store is None:
            store = (
                MemoryStore() if settings.store == "memory" else SQLiteStore(settings.database_path)
            )
        self.store = store
        if templates is None:
            templates = TemplateLibrary.builtin()
            for folder in settings.template_dirs:
                templates.load_folder(folder)
        self.templates = templates
        self.generator: EncounterGenerator = generator or ProceduralGenerator()
        self.events = EventBus()
        self._locks = [anyio.Lock() for _ in range(_LOCK_STRIPES)]

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def on(self, listener: Listener) -> Listener:
        """Register an event listener (usable as a decorator)."""
        self.events.subscribe(listener)
        return listener

    async def _emit(self, type_: EventType, session: Session | None, **data: Any) -> None:
        await self.events.emit(
            EngineEvent(
                type=type_,
                data=data,
                session_id=session.id if session else None,
                player_id=session.player_id if session else None,
            )
        )

    # -- generation ------------------------------------------------------------------

    async def generate(
        self,
        *,
        template: str | None = None,
        params: Mapping[str, object] | None = None,
        category: Category | str | None = None,
        difficulty: float | None = None,
        player: PlayerContext | Mapping[str, Any] | str | None = None,
        language: str | None = None,
        seed: int | None = None,
        save: bool = True,
    ) -> EncounterSpec:
        """Make one encounter, from a template (``template`` + ``params``) or by
        ``category`` through the configured generator, and store it unless
        ``save=False``."""
        if template is not None:
            spec = self.templates.render(
                template, dict(params or {}), difficulty=difficulty, language=language
            )
        else:
            if params:
                raise ValueError("params are only used with a template; pass template=ID")
            ctx = _player(player)
            request = validate_model(
                GenerationRequest,
                {
                    "category": category
                    if category is not None
                    else (ctx.preferences[0] if ctx.preferences else "combat"),
                    "difficulty": 0.5 if difficulty is None else difficulty,
                    "player": ctx,
                    "language": language or ctx.language,
                    "seed": seed,
                },
                "generation request",
            )
            spec = await self.generator.generate_encounter(request)
        if save:
            await self.store.save_encounter(spec)
        await self._emit(
            "encounter.generated",
            None,
            encounter_id=spec.id,
            category=spec.category.value,
            generator=spec.generator,
        )
        return spec

    async def save_encounter(self, spec: EncounterSpec | Mapping[str, Any]) -> EncounterSpec:
        """Validate and store an encounter made elsewhere (a file, an editor)."""
        if not isinstance(spec, EncounterSpec):
            spec = validate_model(EncounterSpec, dict(spec), "encounter")
        await self.store.save_encounter(spec)
        return spec

    async def get_encounter(self, encounter_id: str) -> EncounterSpec:
        spec = await self.store.get_encounter(encounter_id)
        if spec is None:
            raise EncounterNotFound(encounter_id)
        return spec

    async def list_encounters(
        self, *, category: Category | str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        return await self.store.list_encounters(
            category=Category(category) if category else None, limit=limit, offset=offset
        )

    # -- sessions --------------------------------------------------------------------

    async def start_session(
        self,
        player: PlayerContext | Mapping[str, Any] | str,
        encounter: EncounterSpec | str,
        *,
        campaign_id: str | None = None,
        language: str | None = None,
        voice_enabled: bool = False,
    ) -> Session:
        """Start playing ``encounter`` (a spec, or the id of a stored one)."""
        ctx = _player(player)
        spec = await self.get_encounter(encounter) if isinstance(encounter, str) else encounter
        session = Session.start(
            ctx.player_id,
            spec,
            campaign_id=campaign_id,
            language=language,
            voice_enabled=voice_enabled,
        )
        await self.store.save_session(session)
        await self._emit(
            "session.started",
            session,
            encounter_id=spec.id,
            difficulty=session.difficulty,
            campaign_id=campaign_id,
        )
        return session

    async def get_session(self, session_id: str) -> Session:
        session = await self.store.get_session(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def list_sessions(
        self,
        *,
        player_id: str | None = None,
        status: SessionStatus | str | None = None,
        campaign_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        return await self.store.list_sessions(
            player_id=player_id,
            status=SessionStatus(status) if status else None,
            campaign_id=campaign_id,
            limit=limit,
            offset=offset,
        )

    def _lock(self, session_id: str) -> anyio.Lock:
        digest = hashlib.blake2s(session_id.encode(), digest_size=4).digest()
        return self._locks[int.from_bytes(digest) % _LOCK_STRIPES]

    async def _step(self, session_id: str, change: Callable[[Session], Awaitable[None]]) -> Session:
        """Load, change and save one session under its lock."""
        async with self._lock(session_id):
            session = await self.get_session(session_id)
            await change(session)
            session.updated_at = utcnow()
            await self.store.save_session(session)
            return session

    async def _play_step(
        self, session_id: str, change: Callable[[Session], Awaitable[None]]
    ) -> Session:
        async def guarded(session: Session) -> None:
            if session.status.finished:
                raise SessionNotActive(session.id, session.status.value)
            await change(session)

        return await self._step(session_id, guarded)

    async def update_objective(
        self,
        session_id: str,
        objective_id: str,
        *,
        progress: int | None = None,
        completed: bool | None = None,
    ) -> Session:
        """Set an objective's progress (clamped to its quantity) and/or mark it done.
        Reaching the quantity completes the objective."""
        if progress is not None and (isinstance(progress, bool) or progress < 0):
            raise ValueError("progress must be a whole number >= 0")
        done_now: list[Session] = []

        async def change(session: Session) -> None:
            objective = session.encounter.objective(objective_id)
            if objective is None:
                raise UnknownObjective(session.id, objective_id, list(session.objectives))
            state = session.objectives[objective_id]
            was_done = state.completed
            if progress is not None:
                state.progress = min(progress, objective.quantity)
            if completed is True or state.progress >= objective.quantity:
                state.completed = True
                state.progress = objective.quantity
            elif completed is False:
                state.completed = False
            state.completed_at = (state.completed_at or utcnow()) if state.completed else None
            if state.completed and not was_done:
                done_now.append(session)

        session = await self._play_step(session_id, change)
        state = session.objectives[objective_id]
        await self._emit(
            "objective.progressed",
            session,
            objective_id=objective_id,
            progress=state.progress,
            completed=state.completed,
        )
        if done_now:
            await self._emit("objective.completed", session, objective_id=objective_id)
        return session

    async def record_choice(
        self,
        session_id: str,
        description: str,
        selected_option: str,
        *,
        available_options: Iterable[str] = (),
        consequences: Iterable[str] = (),
    ) -> Session:
        choice = validate_model(
            Choice,
            {
                "description": description,
                "selected_option": selected_option,
                "available_options": list(available_options),
                "consequences": list(consequences),
            },
            "choice",
        )

        async def change(session: Session) -> None:
            session.choices_made.append(choice)

        session = await self._play_step(session_id, change)
        await self._emit(
            "choice.made",
            session,
            choice_id=choice.id,
            description=choice.description,
            selected_option=choice.selected_option,
        )
        return session

    async def record_npc_interaction(
        self,
        session_id: str,
        npc_id: str,
        *,
        dialogue: Iterable[str] = (),
        player_choices: Iterable[str] = (),
        outcome: Outcome = "neutral",
    ) -> Session:
        interaction = validate_model(
            NPCInteraction,
            {
                "npc_id": npc_id,
                "dialogue": list(dialogue),
                "player_choices": list(player_choices),
                "outcome": outcome,
            },
            "NPC interaction",
        )

        async def change(session: Session) -> None:
            if session.encounter.npc(npc_id) is None:
                raise UnknownNPC(session.id, npc_id, [n.id for n in session.encounter.npcs])
            session.npc_interactions.append(interaction)

        session = await self._play_step(session_id, change)
        await self._emit(
            "npc.interaction",
            session,
            npc_id=npc_id,
            outcome=outcome,
            dialogue=interaction.dialogue,
        )
        return session

    async def _finish(
        self, session_id: str, status: SessionStatus, reason: str | None = None
    ) -> Session:
        async def change(session: Session) -> None:
            if status not in TRANSITIONS[session.status]:
                raise IllegalTransition(session.id, session.status.value, status.value)
            if status is SessionStatus.COMPLETED and (open_ids := session.open_required()):
                raise ObjectivesIncomplete(session.id, open_ids)
            session.status = status
            session.ended_at = utcnow()
            if reason is not None:
                session.failure_reason = reason[:500]

        session = await self._step(session_id, change)
        await self._emit(
            _FINISH_EVENT[status],
            session,
            encounter_id=session.encounter.id,
            duration_seconds=session.duration_seconds,
            reason=reason,
        )
        return session

    async def complete_session(self, session_id: str) -> Session:
        """Finish a session successfully; every required objective must be done."""
        return await self._finish(session_id, SessionStatus.COMPLETED)

    async def fail_session(self, session_id: str, reason: str | None = None) -> Session:
        return await self._finish(session_id, SessionStatus.FAILED, reason)

    async def abandon_session(self, session_id: str, reason: str | None = None) -> Session:
        return await self._finish(session_id, SessionStatus.ABANDONED, reason)


class SyncEngine(AbstractContextManager["SyncEngine"]):
    """A blocking :class:`Engine` for game loops that are not async.

    It runs the engine on an event loop in a helper thread; each call blocks until the
    engine answers. Use it as a context manager, or call :meth:`close` when done::

        with SyncEngine() as engine:
            spec = engine.generate(category="puzzle", player="alice")
    """

    def __init__(self, settings: Settings | None = None, **kwargs: Any) -> None:
        self._portal_cm = start_blocking_portal()
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        try:
            self.engine = Engine(settings, **kwargs)
            self._portal.call(self.engine.open)
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self._closed = False

    @property
    def templates(self) -> TemplateLibrary:
        return self.engine.templates

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("this SyncEngine is closed")

        async def run() -> T:
            return await fn(*args, **kwargs)

        return self._portal.call(run)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self.engine.close)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def on(self, listener: Listener) -> Listener:
        """Register an async event listener; it runs on the engine's loop."""
        return self.engine.on(listener)

    def generate(self, **kwargs: Any) -> EncounterSpec:
        return self._call(self.engine.generate, **kwargs)

    def save_encounter(self, spec: EncounterSpec | Mapping[str, Any]) -> EncounterSpec:
        return self._call(self.engine.save_encounter, spec)

    def get_encounter(self, encounter_id: str) -> EncounterSpec:
        return self._call(self.engine.get_encounter, encounter_id)

    def list_encounters(self, **kwargs: Any) -> list[EncounterSpec]:
        return self._call(self.engine.list_encounters, **kwargs)

    def start_session(
        self,
        player: PlayerContext | Mapping[str, Any] | str,
        encounter: EncounterSpec | str,
        **kwargs: Any,
    ) -> Session:
        return self._call(self.engine.start_session, player, encounter, **kwargs)

    def get_session(self, session_id: str) -> Session:
        return self._call(self.engine.get_session, session_id)

    def list_sessions(self, **kwargs: Any) -> list[Session]:
        return self._call(self.engine.list_sessions, **kwargs)

    def update_objective(self, session_id: str, objective_id: str, **kwargs: Any) -> Session:
        return self._call(self.engine.update_objective, session_id, objective_id, **kwargs)

    def record_choice(
        self, session_id: str, description: str, selected_option: str, **kwargs: Any
    ) -> Session:
        return self._call(
            self.engine.record_choice, session_id, description, selected_option, **kwargs
        )

    def record_npc_interaction(self, session_id: str, npc_id: str, **kwargs: Any) -> Session:
        return self._call(self.engine.record_npc_interaction, session_id, npc_id, **kwargs)

    def complete_session(self, session_id: str) -> Session:
        return self._call(self.engine.complete_session, session_id)

    def fail_session(self, session_id: str, reason: str | None = None) -> Session:
        return self._call(self.engine.fail_session, session_id, reason)

    def abandon_session(self, session_id: str, reason: str | None = None) -> Session:
        return self._call(self.engine.abandon_session, session_id, reason)
