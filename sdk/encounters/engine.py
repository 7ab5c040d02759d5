"""The engine facade: one object that composes generation, templates, storage and
sessions.

``Engine`` is async (anyio, so it runs under asyncio or trio); ``SyncEngine`` wraps it
for game loops that are not async by running the engine's event loop in a helper
thread. Both expose the same methods.

Every session step is one atomic read-modify-write in the store, so concurrent steps on
one session are applied one after the other and none is lost, also across several
engines or processes on the same SQLite file. The changed session is validated before
it is written, so a bad value never reaches the store. Illegal moves raise typed errors
from :mod:`encounters.errors`; bad input raises :class:`ValidationFailed` naming the
field.
"""

from __future__ import annotations

import contextlib
import inspect
import secrets
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from queue import Queue
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from .analytics import AnalyticsRecorder
from .campaigns import CampaignError, CampaignManager, CampaignRun
from .difficulty import DifficultyManager, RatingPolicy, RulesPolicy, prompt_line
from .errors import (
    ConfigError,
    EncounterNotFound,
    EncountersError,
    FieldError,
    IllegalTransition,
    ObjectivesIncomplete,
    SessionNotActive,
    SessionNotFound,
    UnknownNPC,
    UnknownObjective,
    ValidationFailed,
)
from .events import EngineEvent, EventBus, EventType, Listener
from .generation import EncounterGenerator, GenerationRequest, ProceduralGenerator
from .generation.router import ProviderManager
from .log import get_logger
from .memory import Interaction, NPCMemoryManager
from .memory.crypto import KEY_FILENAME, load_or_create_key
from .memory.manager import MEMORY_FILENAME
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
from .models.audit import AuditEntry
from .models.persona import PersonaCore, Safety
from .models.usage import UsageTotals
from .moderation import (
    ActionDecision,
    AuditLogger,
    ContentModerator,
    ModerationResult,
    provider_classifiers,
)
from .settings import Settings, load_settings
from .storage import MemoryStore, SQLiteStore, Store
from .templates import TemplateLibrary
from .templates.library import template_from_data
from .templates.model import EncounterTemplate
from .validation import validate_model
from .webhooks import RetryPolicy, WebhookManager

T = TypeVar("T")
log = get_logger(__name__)
PlayerLike = PlayerContext | Mapping[str, Any] | str

_FINISH_EVENT: dict[SessionStatus, EventType] = {
    SessionStatus.COMPLETED: "session.completed",
    SessionStatus.FAILED: "session.failed",
    SessionStatus.ABANDONED: "session.abandoned",
}


def _bad(path: str, message: str, what: str = "argument") -> ValidationFailed:
    return ValidationFailed(what, [FieldError(path, message)])


def _player(player: PlayerLike | None) -> PlayerContext:
    if player is None:
        return PlayerContext(player_id="player")
    if isinstance(player, PlayerContext):
        return player
    if isinstance(player, str):
        return validate_model(PlayerContext, {"player_id": player}, "player")
    return validate_model(PlayerContext, dict(player), "player")


def _enum(kind: type[Any], value: object, name: str) -> Any:
    if value is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise _bad(name, f"must be one of {choices}") from None


def _revalidated(session: Session) -> Session:
    """Check a changed session against every model rule before it is written."""
    return validate_model(Session, session.model_dump(), f"session {session.id}")


class Engine:
    """The in-process engine.

    Use it as an async context manager, which opens and closes the store::

        async with Engine() as engine:
            spec = await engine.generate(category="combat", player="alice")
            session = await engine.start_session("alice", spec)

    With no arguments it stores in SQLite under the data directory (``AE_DATA_DIR``)
    and generates offline with the procedural generator. Logging is configured by the
    game (see :func:`encounters.log.configure_logging`), not by the engine.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        data_dir: str | Path | None = None,
        store: Store | None = None,
        templates: TemplateLibrary | None = None,
        generator: EncounterGenerator | None = None,
        moderator: ContentModerator | None = None,
        memory: NPCMemoryManager | None = None,
    ) -> None:
        if settings is None:
            settings = load_settings(data_dir=data_dir)
        elif data_dir is not None:
            settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        self.settings = settings
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
        if generator is None:
            generator = (
                ProviderManager.from_settings(settings.llm, store=self.store)
                if settings.llm.configured
                else ProceduralGenerator()
            )
        self.generator: EncounterGenerator = generator
        self.events = EventBus()
        self._moderator: ContentModerator | None = moderator
        self._owns_moderator = moderator is None  #: built here: closed here
        self._memory: NPCMemoryManager | None = memory
        self.campaigns = CampaignManager(self.store)
        self._analytics = AnalyticsRecorder(self.store)
        self._unsubscribe_analytics = self.events.subscribe(self._analytics.record)
        self._webhooks: WebhookManager | None = None
        self._key: bytes | None = None
        self.events.subscribe(self._to_webhooks)
        self.difficulty = DifficultyManager(
            self.store,
            RatingPolicy(settings.target_success)
            if settings.difficulty_policy == "rating"
            else RulesPolicy(),
        )

    @property
    def moderator(self) -> ContentModerator:
        """The content moderator, with its decisions audited in this engine's store.
        Built on first use (loading the word lists takes about half a second)."""
        if self._moderator is None:
            self._moderator = ContentModerator(
                settings=self.settings.moderation,
                audit=AuditLogger(self.store),
                classifiers=provider_classifiers(self.settings.moderation, self.settings.llm),
            )
        return self._moderator

    @property
    def memory(self) -> NPCMemoryManager:
        """What NPCs remember of players (:mod:`encounters.memory`), encrypted in
        ``memory.db`` in the data folder (in memory with ``AE_STORE=memory``). Opened
        on first use; the key is ``AE_MEMORY_KEY`` or the ``memory.key`` file."""
        if self._memory is None:
            key = self.settings.memory_key
            folder = None if self.settings.store == "memory" else self.settings.data_dir
            self._memory = NPCMemoryManager.open(folder, key.get_secret_value() if key else None)
        return self._memory

    @property
    def analytics(self) -> AnalyticsRecorder:
        """How encounters play (:mod:`encounters.analytics`): fed by this engine's
        events, written in batches (``run()`` flushes on a timer; closing flushes the
        rest). Assign your own recorder (other batch size, clock) to replace it."""
        return self._analytics

    @analytics.setter
    def analytics(self, recorder: AnalyticsRecorder) -> None:
        self._unsubscribe_analytics()
        self._analytics = recorder
        self._unsubscribe_analytics = self.events.subscribe(recorder.record)

    def _master_key(self) -> bytes:
        """The key that seals NPC memories and webhook secrets: ``AE_MEMORY_KEY``, or
        the ``memory.key`` file in the data folder (created on first use); with
        ``AE_STORE=memory``, a random one for this engine."""
        if self._key is None:
            given = self.settings.memory_key
            if self.settings.store == "memory" and given is None:
                self._key = secrets.token_bytes(32)
            else:
                self._key = load_or_create_key(
                    self.settings.data_dir, given.get_secret_value() if given else None
                )
        return self._key

    @property
    def webhooks(self) -> WebhookManager:
        """Signed HTTP callbacks for this engine's events (:mod:`encounters.webhooks`):
        ``await engine.webhooks.register(url, ["session.completed"])``. Deliveries are
        made by ``engine.webhooks.run()`` (the daemon runs it; an embedding game runs
        it in its task group or calls ``deliver_due()``)."""
        if self._webhooks is None:
            retry = self.settings.webhook_retry
            policy = RetryPolicy(
                base=retry.base,
                max_delay=max(retry.max_delay, retry.base),
                max_attempts=retry.max_attempts,
            )
            self._webhooks = WebhookManager(
                self.store,
                key=self._master_key(),
                allow_networks=self.settings.webhook_allow_networks,
                policy=policy,
            )
        return self._webhooks

    async def _to_webhooks(self, event: EngineEvent) -> None:
        if self._webhooks is not None:
            await self._webhooks.on_engine_event(event)

    async def notify(self, event_type: str, data: Mapping[str, Any]) -> None:
        """A platform event (``persona.approved``, ``companion.spawned``...) for the
        webhooks subscribed to it; nothing when none is registered. Never raises: a
        webhook problem must not fail the step that caused the event."""
        if self._webhooks is None:
            return
        try:
            await self._webhooks.enqueue(event_type, dict(data))
        except EncountersError as exc:
            log.warning("webhook.not_queued", event_type=event_type, reason=str(exc)[:200])

    def _memory_in_use(self) -> bool:
        """Has any NPC memory been kept (so a prompt may need it)? Asking does not
        create the memory file."""
        return self._memory is not None or (
            self.settings.store != "memory" and (self.settings.data_dir / MEMORY_FILENAME).exists()
        )

    async def usage_totals(self) -> list[UsageTotals]:
        """LLM calls, failures, tokens and estimated cost per provider and model."""
        return await self.store.usage_totals()

    async def replay(self, session_id: str) -> list[AuditEntry]:
        """Every moderation decision recorded for a session, oldest first."""
        return await AuditLogger(self.store).replay(session_id)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store (create or migrate it) and add the templates published to it
        (:meth:`publish_template`). ``async with`` does this for you."""
        await self.store.open()
        key_known = (
            self.settings.memory_key is not None or (self.settings.data_dir / KEY_FILENAME).exists()
        )
        # webhooks registered in an earlier run get this run's events too
        if (
            self.settings.store != "memory"
            and key_known
            and self._webhooks is None
            and not await self.webhooks.list()
        ):
            self._webhooks = None
        for template in await self.store.list_documents("template", EncounterTemplate):
            try:
                self.templates.add(template)
            except EncountersError as exc:  # a stored one that no longer checks out
                log.warning("template.skipped", template_id=template.id, reason=str(exc)[:200])

    async def publish_template(
        self, data: EncounterTemplate | Mapping[str, Any]
    ) -> EncounterTemplate:
        """Check a template, add it to the library and keep it in the store, so every
        engine (and daemon) opening this store has it. Replaces one with the same id."""
        raw = data.model_dump() if isinstance(data, EncounterTemplate) else data
        template = template_from_data(raw, "template")
        self.templates.add(template)
        await self.store.save_document("template", template.id, template)
        await self.analytics.record_published("template", template.id)
        return template

    async def close(self) -> None:
        """Close the providers' HTTP clients (on this event loop: left to the garbage
        collector, they would be closed on whatever loop runs then), NPC memory, and
        the store after the analytics are flushed. Each step runs even if one fails."""
        try:
            if isinstance(self.generator, ProviderManager):
                await self.generator.aclose()
        finally:
            try:
                if self._owns_moderator and self._moderator is not None:
                    await self._moderator.aclose()  # its provider classifier's client
            finally:
                try:
                    if self._memory is not None:
                        self._memory.close()
                        self._memory = None
                    await self.analytics.flush()
                finally:
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
        """Register an event listener, sync or async (usable as a decorator)."""
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
        player: PlayerLike | None = None,
        language: str | None = None,
        seed: int | None = None,
        provider: str | None = None,
        save: bool = True,
        adaptive: bool = False,
    ) -> EncounterSpec:
        """Make one encounter and store it unless ``save=False``.

        ``adaptive=True`` (needs ``player``) lets the player's history set the
        difficulty (:attr:`difficulty`; ``difficulty`` is then the base it adjusts),
        and an LLM prompt carries the player's recent record.

        Either from a template (``template`` + ``params``; ``difficulty`` and
        ``language`` override the template's), or by ``category`` through the
        configured generator (``player`` and ``seed`` shape it; default category: the
        player's first preference, else combat). ``provider`` picks one LLM provider by
        name (``openai``, ``anthropic``, ``ollama``, or ``procedural``), with no fallback.
        """
        record: str | None = None
        if adaptive:
            if player is None:
                raise _bad("player", "adaptive difficulty needs the player")
            player_id = _player(player).player_id
            difficulty = await self.difficulty.calculate_difficulty(
                player_id, 0.5 if difficulty is None else difficulty
            )
            history = await self.difficulty.history(player_id)
            record = prompt_line(difficulty, history)[len(prompt_line(difficulty)) :].strip()
        if template is not None:
            if category is not None or seed is not None or provider is not None:
                raise _bad(
                    "category"
                    if category is not None
                    else "seed"
                    if seed is not None
                    else "provider",
                    "only applies when generating by category, not from a template",
                )
            spec = self.templates.render(
                template, dict(params or {}), difficulty=difficulty, language=language
            )
        else:
            if params:
                raise _bad("params", "only applies with a template; pass template=ID")
            ctx = _player(player)
            request = validate_model(
                GenerationRequest,
                {
                    "category": category
                    if category is not None
                    else (ctx.preferences[0] if ctx.preferences else Category.COMBAT),
                    "difficulty": 0.5 if difficulty is None else difficulty,
                    "player": ctx,
                    "language": language or ctx.language,
                    "seed": seed,
                    "player_record": record or None,
                    "memory_context": (
                        await self.memory.context_for_player(ctx.player_id)
                        if self._memory_in_use()
                        else None
                    )
                    or None,
                },
                "generation request",
            )
            if provider is None:
                spec = await self.generator.generate_encounter(request)
            elif isinstance(self.generator, ProviderManager):
                spec = await self.generator.generate_encounter(request, provider=provider)
            elif provider == ProceduralGenerator.name:
                spec = await self.generator.generate_encounter(request)
            else:
                raise ConfigError(
                    f"no LLM provider {provider!r} is configured; set LLM_PRIMARY_PROVIDER and "
                    "its key (see the README's 'LLM providers' section)"
                )
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
        data = spec.model_dump() if isinstance(spec, EncounterSpec) else dict(spec)
        checked = validate_model(EncounterSpec, data, "encounter")
        await self.store.save_encounter(checked)
        await self.analytics.record_published("encounter", checked.id)
        return checked

    async def get_encounter(self, encounter_id: str) -> EncounterSpec:
        """A stored encounter; :class:`EncounterNotFound` if there is none."""
        spec = await self.store.get_encounter(encounter_id)
        if spec is None:
            raise EncounterNotFound(encounter_id)
        return spec

    async def list_encounters(
        self, *, category: Category | str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EncounterSpec]:
        """Stored encounters, newest first."""
        return await self.store.list_encounters(
            category=_enum(Category, category, "category"), limit=limit, offset=offset
        )

    # -- sessions --------------------------------------------------------------------

    async def start_session(
        self,
        player: PlayerLike,
        encounter: EncounterSpec | str,
        *,
        campaign_id: str | None = None,
        language: str | None = None,
        voice_enabled: bool = False,
    ) -> Session:
        """Start playing ``encounter`` (a spec, or the id of a stored one). The session
        keeps its own copy of the encounter."""
        ctx = _player(player)
        if isinstance(encounter, str):
            spec = await self.get_encounter(encounter)
        else:
            spec = validate_model(EncounterSpec, encounter.model_dump(), "encounter")
        fresh = Session.start(ctx.player_id, spec).model_dump()
        fresh.update(
            campaign_id=campaign_id, language=language or spec.language, voice_enabled=voice_enabled
        )
        session = validate_model(Session, fresh, "session")
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
        """A stored session; :class:`SessionNotFound` if there is none."""
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
        """Stored sessions, newest first, optionally filtered."""
        return await self.store.list_sessions(
            player_id=player_id,
            status=_enum(SessionStatus, status, "status"),
            campaign_id=campaign_id,
            limit=limit,
            offset=offset,
        )

    async def _step(
        self, session_id: str, change: Callable[[Session], None], *, play: bool = True
    ) -> Session:
        """Apply ``change`` to the stored session atomically; a play step needs an
        active session. The result is validated before it is written."""

        def guarded(session: Session) -> None:
            if play and session.status.finished:
                raise SessionNotActive(session.id, session.status.value)
            change(session)
            session.updated_at = utcnow()
            _revalidated(session)

        return await self.store.update_session(session_id, guarded)

    async def update_objective(
        self,
        session_id: str,
        objective_id: str,
        *,
        progress: int | None = None,
        completed: bool | None = None,
    ) -> Session:
        """Set an objective's progress and/or completion.

        ``progress`` is clamped to the objective's quantity; reaching it completes the
        objective and going below it re-opens it. ``completed=True`` sets progress to
        the quantity; ``completed=False`` re-opens it. Contradicting arguments (e.g.
        ``completed=False`` with the full quantity) raise :class:`ValidationFailed`.
        """
        if progress is not None and (type(progress) is not int or progress < 0):
            raise _bad("progress", "must be a whole number >= 0")
        if completed is not None and type(completed) is not bool:
            raise _bad("completed", "must be true or false")
        newly_done = False

        def change(session: Session) -> None:
            nonlocal newly_done
            objective = session.encounter.objective(objective_id)
            if objective is None:
                raise UnknownObjective(session.id, objective_id, list(session.objectives))
            state = session.objectives[objective_id]
            was_done = state.completed
            value = state.progress if progress is None else min(progress, objective.quantity)
            if completed is True:
                if progress is not None and value < objective.quantity:
                    raise _bad(
                        "progress", f"contradicts completed=True (quantity {objective.quantity})"
                    )
                value = objective.quantity
            elif completed is False:
                if progress is not None and value >= objective.quantity:
                    raise _bad(
                        "progress", f"contradicts completed=False (quantity {objective.quantity})"
                    )
                value = min(value, objective.quantity - 1)
            state.progress = value
            state.completed = value == objective.quantity
            state.completed_at = (state.completed_at or utcnow()) if state.completed else None
            newly_done = state.completed and not was_done

        session = await self._step(session_id, change)
        state = session.objectives[objective_id]
        await self._emit(
            "objective.progressed",
            session,
            objective_id=objective_id,
            progress=state.progress,
            completed=state.completed,
        )
        if newly_done:
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
        choice_id: str | None = None,
    ) -> Session:
        """Record a decision the player made; when ``available_options`` is given the
        selected option must be one of them. ``choice_id`` names the decision (a
        campaign can then carry ``choices.<choice_id>`` forward); default: a new id."""
        choice = validate_model(
            Choice,
            {
                **({"id": choice_id} if choice_id is not None else {}),
                "description": description,
                "selected_option": selected_option,
                "available_options": list(available_options),
                "consequences": list(consequences),
            },
            "choice",
        )
        session = await self._step(session_id, lambda s: s.choices_made.append(choice))
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
        """Record that the player dealt with one of the encounter's NPCs; the NPC
        remembers it (:attr:`memory`), and later prompts for this player carry it."""
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

        def change(session: Session) -> None:
            if session.encounter.npc(npc_id) is None:
                raise UnknownNPC(session.id, npc_id, [n.id for n in session.encounter.npcs])
            session.npc_interactions.append(interaction)

        session = await self._step(session_id, change)
        await self.memory.record_interaction(npc_id, session.player_id, Interaction(
            timestamp=interaction.timestamp, encounter_id=session.encounter.id,
            dialogue=interaction.dialogue, player_choices=interaction.player_choices,
            outcome=interaction.outcome,
        ))  # fmt: skip
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
        def change(session: Session) -> None:
            if status not in TRANSITIONS[session.status]:
                raise IllegalTransition(session.id, session.status.value, status.value)
            if status is SessionStatus.COMPLETED and (open_ids := session.open_required()):
                raise ObjectivesIncomplete(session.id, open_ids)
            session.status = status
            session.ended_at = utcnow()
            if reason is not None:
                session.failure_reason = reason[:500]

        session = await self._step(session_id, change, play=False)
        await self.difficulty.record_session(session)  # the player's history
        if session.campaign_id is not None:
            await self._advance_campaigns(session)
        await self._emit(
            _FINISH_EVENT[status],
            session,
            encounter_id=session.encounter.id,
            duration_seconds=session.duration_seconds,
            reason=reason,
        )
        return session

    async def _advance_campaigns(self, session: Session) -> None:
        """A finished campaign session moves the player's active run of it on. A
        session that does not fit the run (another step) is logged, not raised: the
        session itself is finished either way."""
        runs = await self.campaigns.list_runs(
            player_id=session.player_id, campaign_id=session.campaign_id, status="active"
        )
        for run in runs:
            try:
                await self.campaigns.advance(run.id, session)
            except EncountersError as exc:
                log.warning("campaign.not_advanced", run_id=run.id, session_id=session.id,
                            reason=str(exc)[:200])  # fmt: skip

    # -- campaigns -------------------------------------------------------------------

    async def start_campaign(self, campaign_id: str, player: PlayerLike) -> CampaignRun:
        """Start a stored campaign for a player (see :attr:`campaigns`)."""
        return await self.campaigns.start(campaign_id, _player(player).player_id)

    async def play_campaign_step(self, run_id: str, player: PlayerLike | None = None) -> Session:
        """Start the session of a run's current step: its encounter, with the state
        carried so far in the player's ``attributes``. Finishing the session advances
        the run."""
        run = await self.campaigns.status(run_id)
        encounter_id = self.campaigns.current_encounter(run)
        if encounter_id is None:
            raise CampaignError(f"campaign run {run_id!r} is {run.status}: no step to play")
        ctx = _player(player if player is not None else run.player_id)
        if ctx.player_id != run.player_id:
            raise _bad("player", f"run {run_id!r} belongs to player {run.player_id!r}")
        ctx = self.campaigns.player_context(run, ctx)
        return await self.start_session(ctx, encounter_id, campaign_id=run.campaign_id)

    async def complete_session(self, session_id: str) -> Session:
        """Finish a session successfully; every required objective must be done."""
        return await self._finish(session_id, SessionStatus.COMPLETED)

    async def fail_session(self, session_id: str, reason: str | None = None) -> Session:
        """Finish a session as failed (the player lost), with an optional reason."""
        return await self._finish(session_id, SessionStatus.FAILED, reason)

    async def abandon_session(self, session_id: str, reason: str | None = None) -> Session:
        """Finish a session as abandoned (the player left)."""
        return await self._finish(session_id, SessionStatus.ABANDONED, reason)


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

    Listeners registered with :meth:`on` run on the helper thread.
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

    @property
    def templates(self) -> TemplateLibrary:
        return self.engine.templates

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        if not self._finalizer.alive:
            raise RuntimeError("this SyncEngine is closed")

        async def run() -> T:
            return await fn(*args, **kwargs)

        return self._portal.call(run)

    def on(self, listener: Listener) -> Listener:
        """Register an event listener, sync or async; it runs on the helper thread."""
        if not callable(listener) or inspect.isclass(listener):
            raise TypeError("a listener must be a function taking one EngineEvent")
        return self.engine.on(listener)

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
        )

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
    ) -> Session:
        """See :meth:`Engine.record_choice`."""
        return self._call(
            self.engine.record_choice,
            session_id,
            description,
            selected_option,
            available_options=available_options,
            consequences=consequences,
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

    def complete_session(self, session_id: str) -> Session:
        """See :meth:`Engine.complete_session`."""
        return self._call(self.engine.complete_session, session_id)

    def fail_session(self, session_id: str, reason: str | None = None) -> Session:
        """See :meth:`Engine.fail_session`."""
        return self._call(self.engine.fail_session, session_id, reason)

    def abandon_session(self, session_id: str, reason: str | None = None) -> Session:
        """See :meth:`Engine.abandon_session`."""
        return self._call(self.engine.abandon_session, session_id, reason)

    @property
    def moderator(self) -> ContentModerator:
        """See :attr:`Engine.moderator`; call its async methods through
        :meth:`moderate_message` and :meth:`moderate_action` here."""
        return self.engine.moderator

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
