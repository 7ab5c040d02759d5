"""The engine facade: one object that composes generation, templates, storage and
sessions.

``Engine`` is async (anyio, so it runs under asyncio or trio); :class:`SyncEngine`
(:mod:`encounters.sync`) is its blocking twin with the same methods. The rules of a
session (objective progress, the status machine) are methods of
:class:`~encounters.models.Session`; the services built on first use (moderator, NPC
memory, webhooks) live in :mod:`encounters.services`.

Every session step is one atomic read-modify-write in the store, so concurrent steps on
one session are applied one after the other and none is lost, also across several
engines or processes on the same SQLite file. The changed session is validated before
it is written, so a bad value never reaches the store. Illegal moves raise typed errors
from :mod:`encounters.errors`; bad input raises :class:`ValidationFailed` naming the
field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .analytics import AnalyticsRecorder
from .campaigns import CampaignError, CampaignManager, CampaignRun
from .difficulty import DifficultyManager, PlayerHistory, RatingPolicy, RulesPolicy, prompt_line
from .errors import (
    ConfigError,
    EncounterNotFound,
    EncountersError,
    FieldError,
    SessionNotActive,
    SessionNotFound,
    ValidationFailed,
)
from .events import EngineEvent, EventBus, EventType, Listener
from .generation import EncounterGenerator, GenerationRequest, ProceduralGenerator
from .generation.router import ProviderManager
from .i18n.translate import Translator
from .log import get_logger
from .marketplace import Marketplace
from .memory import Interaction, NPCMemoryManager
from .models import (
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
from .models.usage import UsageTotals
from .moderation import AuditLogger, ContentModerator
from .services import LazyServices
from .settings import Settings, load_settings
from .storage import Store
from .storage.factory import store_from_settings
from .templates import TemplateLibrary
from .templates.library import template_from_data
from .templates.model import EncounterTemplate
from .validation import validate_model
from .webhooks import WebhookManager

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
            store = store_from_settings(settings)
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
        self._translator: Translator | None = None
        self.events = EventBus()
        self._services = LazyServices(settings, store, moderator=moderator, memory=memory)
        self.campaigns = CampaignManager(self.store)
        self._analytics = AnalyticsRecorder(self.store)
        self._unsubscribe_analytics = self.events.subscribe(self._analytics.record)
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
        return self._services.moderator

    @property
    def memory(self) -> NPCMemoryManager:
        """What NPCs remember of players (:mod:`encounters.memory`), encrypted: in the
        PostgreSQL store's database on a PostgreSQL store (shared by every node; opened
        with the store when a key is known, so a wrong key fails :meth:`open`), else in
        ``memory.db`` in the data folder (in memory with ``AE_STORE=memory``), opened on
        first use. The key is ``AE_MEMORY_KEY`` or the ``memory.key`` file."""
        return self._services.memory

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

    @property
    def webhooks(self) -> WebhookManager:
        """Signed HTTP callbacks for this engine's events (:mod:`encounters.webhooks`):
        ``await engine.webhooks.register(url, ["session.completed"])``. Deliveries are
        made by ``engine.webhooks.run()`` (the daemon runs it; an embedding game runs
        it in its task group or calls ``deliver_due()``)."""
        return self._services.webhooks

    @property
    def market(self) -> Marketplace:
        """The marketplace (:mod:`encounters.marketplace`): publish, search, rate and
        install listings; its tables live in this engine's store file. Opened on first
        use."""
        return self._services.market

    async def _to_webhooks(self, event: EngineEvent) -> None:
        if (webhooks := self._services.webhooks_in_use) is not None:
            await webhooks.on_engine_event(event)

    async def notify(self, event_type: str, data: Mapping[str, Any]) -> None:
        """A platform event (``persona.approved``, ``companion.spawned``...) for the
        webhooks subscribed to it; nothing when none is registered. Never raises: a
        webhook problem must not fail the step that caused the event."""
        if (webhooks := self._services.webhooks_in_use) is None:
            return
        try:
            await webhooks.enqueue(event_type, dict(data))
        except EncountersError as exc:
            log.warning("webhook.not_queued", event_type=event_type, reason=str(exc)[:200])

    async def usage_totals(self) -> list[UsageTotals]:
        """LLM calls, failures, tokens and estimated cost per provider and model."""
        return await self.store.usage_totals()

    async def replay(self, session_id: str) -> list[AuditEntry]:
        """Every moderation decision recorded for a session, oldest first."""
        return await AuditLogger(self.store).replay(session_id)

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store (create or migrate it), NPC memory on a PostgreSQL store
        (see :attr:`memory`), and add the templates published to it
        (:meth:`publish_template`). ``async with`` does this for you."""
        await self.store.open()
        try:  # a wrong AE_MEMORY_KEY on a PostgreSQL store fails here
            await self._services.open_shared_memory()
        except BaseException:
            await self.store.close()
            raise
        await self._services.resume_webhooks()
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
        """Close the providers' and the moderator's HTTP clients (on this event loop:
        left to the garbage collector, they would be closed on whatever loop runs
        then), NPC memory, and
        the store after the analytics are flushed. Each step runs even if one fails."""
        try:
            if isinstance(self.generator, ProviderManager):
                await self.generator.aclose()
        finally:
            try:
                await self._services.close_moderator()  # its provider classifier's client
            finally:
                try:
                    self._services.close_memory()
                    await self._services.close_market()
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

    def _translator_or_fail(self) -> Translator:
        """The translator over the LLM router (see :mod:`encounters.i18n.translate`).
        Raises :class:`ConfigError` when no LLM provider is configured: there is no
        offline translation."""
        if not isinstance(self.generator, ProviderManager):
            raise ConfigError(
                "translation needs an LLM provider: set LLM_PRIMARY_PROVIDER and its key "
                "(see the README's 'LLM providers' section)"
            )
        if self._translator is None or self._translator.router is not self.generator:
            self._translator = Translator(self.generator)
        return self._translator

    async def translate_encounter(self, spec: EncounterSpec, language: str) -> EncounterSpec:
        """``spec`` with its player-facing texts in ``language`` (BCP 47); ids, targets,
        names and placeholders kept. Not stored."""
        return await self._translator_or_fail().encounter(spec, language)

    async def translate_template(
        self, template: EncounterTemplate, language: str
    ) -> EncounterTemplate:
        """``template`` with its texts in ``language``; its id, parameters and every
        ``{{placeholder}}`` kept. Not published."""
        return await self._translator_or_fail().template(template, language)

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
        use_memory: bool = True,
        memory_scope: str | None = None,
        use_history: bool = True,
        history_scope: str | None = None,
    ) -> EncounterSpec:
        """Make one encounter and store it unless ``save=False``.

        ``adaptive=True`` (needs ``player``) lets the player's history set the
        difficulty (:attr:`difficulty`; ``difficulty`` is then the base it adjusts),
        and an LLM prompt carries the player's recent record: the history of
        ``history_scope`` (None: the unscoped one, where the SDK keeps them; see
        :mod:`encounters.difficulty`). ``use_history=False`` uses no history (the
        policy's pick for a new player, no record in the prompt; the daemon does so
        for callers that are not game servers).

        Either from a template (``template`` + ``params``; ``difficulty`` and
        ``language`` override the template's), or by ``category`` through the
        configured generator (``player`` and ``seed`` shape it; default category: the
        player's first preference, else combat). ``provider`` picks one LLM provider by
        name (``openai``, ``anthropic``, ``ollama``, or ``procedural``), with no fallback.

        A generated prompt carries what NPCs remember of the player (when NPC memory is
        in use): those of ``memory_scope`` only (None: the unscoped memories, where the
        SDK keeps them; see :mod:`encounters.memory.manager`); ``use_memory=False``
        leaves memory out (the daemon does so for callers that are not game servers).
        """
        record: str | None = None
        if adaptive:
            if player is None:
                raise _bad("player", "adaptive difficulty needs the player")
            player_id = _player(player).player_id
            base = 0.5 if difficulty is None else difficulty
            if use_history:
                history = await self.difficulty.history(player_id, scope=history_scope)
                difficulty = self.difficulty.difficulty_for(history, base)
                record = prompt_line(difficulty, history)[len(prompt_line(difficulty)) :].strip()
            else:
                difficulty = self.difficulty.difficulty_for(PlayerHistory(player_id=player_id),
                                                            base)  # fmt: skip
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
                        await self.memory.context_for_player(ctx.player_id, scope=memory_scope)
                        if use_memory and self._services.memory_in_use()
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
        newly_done = False

        def change(session: Session) -> None:
            nonlocal newly_done
            newly_done = session.set_objective(
                objective_id, progress=progress, completed=completed, now=utcnow()
            )

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
            session.check_npc(npc_id)
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
        self,
        session_id: str,
        status: SessionStatus,
        reason: str | None,
        record_history: bool,
        history_scope: str | None,
    ) -> Session:
        session = await self._step(
            session_id, lambda s: s.finish(status, reason, now=utcnow()), play=False
        )
        if record_history:  # the player's history
            await self.difficulty.record_session(session, scope=history_scope)
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
        """Start a stored campaign for a player (see :attr:`campaigns`). Every step's
        encounter must be in the store, so the run cannot stop at a missing one later;
        :class:`CampaignError` names the missing ids."""
        player_id = _player(player).player_id
        spec = await self.campaigns.get_campaign(campaign_id)
        missing = [
            step.encounter_id
            for step in spec.steps
            if await self.store.get_encounter(step.encounter_id) is None
        ]
        if missing:
            raise CampaignError(
                f"campaign {campaign_id!r} names encounters that are not in the store: "
                f"{', '.join(missing)}; save them first (Engine.save_encounter, or "
                "ae encounters import FILE)"
            )
        return await self.campaigns.start(campaign_id, player_id)

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

    async def complete_session(
        self, session_id: str, *, record_history: bool = True, history_scope: str | None = None
    ) -> Session:
        """Finish a session successfully; every required objective must be done.

        The result goes into the player's difficulty history of ``history_scope``
        (None: the unscoped one; see :mod:`encounters.difficulty`), or nowhere with
        ``record_history=False`` (the daemon's choice for a session no game server
        started). The same holds for :meth:`fail_session` and :meth:`abandon_session`."""
        return await self._finish(session_id, SessionStatus.COMPLETED, None,
                                  record_history, history_scope)  # fmt: skip

    async def fail_session(
        self,
        session_id: str,
        reason: str | None = None,
        *,
        record_history: bool = True,
        history_scope: str | None = None,
    ) -> Session:
        """Finish a session as failed (the player lost), with an optional reason."""
        return await self._finish(session_id, SessionStatus.FAILED, reason,
                                  record_history, history_scope)  # fmt: skip

    async def abandon_session(
        self,
        session_id: str,
        reason: str | None = None,
        *,
        record_history: bool = True,
        history_scope: str | None = None,
    ) -> Session:
        """Finish a session as abandoned (the player left)."""
        return await self._finish(session_id, SessionStatus.ABANDONED, reason,
                                  record_history, history_scope)  # fmt: skip
