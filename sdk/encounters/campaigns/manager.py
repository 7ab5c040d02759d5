"""The campaign manager: saves campaigns and starts, advances and reads runs in the
store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .._util.locks import KeyedLocks
from ..errors import SessionNotFound
from ..models import PlayerContext, Session, SessionStatus
from ..models.common import utcnow
from ..storage.protocols import CampaignStore
from ..validation import validate_model
from .limits import (
    ACTIVE_KIND,
    CAMPAIGN_KIND,
    MAX_ATTRIBUTE_KEY,
    MAX_ATTRIBUTE_TEXT,
    MAX_ATTRIBUTES,
    MAX_SESSION_IDS,
    RUN_KIND,
    CampaignError,
    CampaignNotFound,
    CampaignRunNotFound,
)
from .model import (
    CampaignRun,
    CampaignSpec,
    RunStatus,
    _ActiveRun,
)
from .parse import parse_campaign
from .state import (
    apply_step,
    session_state,
)
from .values import (
    Scalar,
    Value,
)

# -- the manager -------------------------------------------------------------------------


def _next_step(spec: CampaignSpec, run: CampaignRun) -> tuple[int, str] | None:
    """The first step neither completed nor skipped, in campaign order; steps met on
    the way whose prerequisites were not all completed are added to ``run.skipped``
    (earlier steps are all resolved by then, so such a prerequisite was skipped)."""
    done = set(run.completed)
    for i, step in enumerate(spec.steps):
        if step.encounter_id in done or step.encounter_id in run.skipped:
            continue
        if all(p in done for p in step.prerequisites):
            return i, step.encounter_id
        run.skipped.append(step.encounter_id)
    return None


def _move_on(spec: CampaignSpec, run: CampaignRun) -> None:
    """Point ``run`` at its next step, or complete it when none is left."""
    found = _next_step(spec, run)
    if found is None:
        run.status = RunStatus.COMPLETED
        run.current_index = len(spec.steps)
        run.current_encounter = None
        run.completed_at = utcnow()
    else:
        run.current_index, run.current_encounter = found


def _attribute(value: Value) -> Scalar | None:
    """A state value as a PlayerContext attribute: text cut to 80 characters, a list
    as its items joined with ", " (then cut), an empty list left out."""
    if isinstance(value, list):
        if not value:
            return None
        value = ", ".join(json.dumps(v) if isinstance(v, bool) else str(v) for v in value)
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_TEXT]
    return value


class CampaignManager:
    """Campaigns and their runs, kept as documents in a :class:`Store` (kinds
    ``campaign``, ``campaign_run`` and ``campaign_active``).

    Sessions are played through the engine as usual; after each finished session the
    game calls :meth:`advance`. The store's copy of the session is what counts, so a
    caller holding an older copy (taken before ``complete_session``) cannot mislead
    the run::

        manager = CampaignManager(engine.store)
        run = await manager.start("camp_north", "alice")
        session = await engine.start_session(
            manager.player_context(run, player), run.current_encounter,
            campaign_id=run.campaign_id,
        )
        ...  # play, complete_session
        run = await manager.advance(run.id, session)
    """

    def __init__(self, store: CampaignStore) -> None:
        self.store = store
        self._locks: KeyedLocks[str] = KeyedLocks()

    # -- campaigns ---------------------------------------------------------------------

    async def save_campaign(self, spec: CampaignSpec | Mapping[str, Any]) -> CampaignSpec:
        """Validate and store a campaign (replacing one with the same id). Encounter
        ids are not looked up: encounters may be generated or saved later."""
        checked = parse_campaign(spec)
        await self.store.save_document(CAMPAIGN_KIND, checked.id, checked)
        return checked

    async def get_campaign(self, campaign_id: str) -> CampaignSpec:
        """A stored campaign; :class:`CampaignNotFound` if there is none."""
        spec = await self.store.get_document(CAMPAIGN_KIND, campaign_id, CampaignSpec)
        if spec is None:
            raise CampaignNotFound(campaign_id)
        return spec

    async def list_campaigns(self) -> list[CampaignSpec]:
        """Stored campaigns in id order."""
        return await self.store.list_documents(CAMPAIGN_KIND, CampaignSpec)

    # -- runs --------------------------------------------------------------------------

    async def start(self, campaign_id: str, player_id: str) -> CampaignRun:
        """Start ``player_id`` on the campaign's first step. A player has at most one
        active run per campaign: a second start raises :class:`CampaignError` naming
        the active run (advance it, or abandon it first)."""
        key = f"{player_id}/{campaign_id}"
        async with self._locks.hold(f"start:{key}"):
            active = await self._active_run(key)
            if active is not None:
                raise CampaignError(
                    f"player {player_id!r} already has an active run {active.id!r} of "
                    f"campaign {campaign_id!r} (at {active.current_encounter!r}); continue it "
                    f"with advance, or call abandon({active.id!r}) before starting again"
                )
            spec = await self.get_campaign(campaign_id)
            run = validate_model(
                CampaignRun,
                {
                    "campaign_id": spec.id,
                    "player_id": player_id,
                    "current_encounter": spec.steps[0].encounter_id,
                    "state": dict(spec.initial_state),
                },
                "campaign run",
            )
            # index first: a crash in between leaves an index to a missing run (ignored),
            # never an active run the index does not know
            await self.store.save_document(ACTIVE_KIND, key, _ActiveRun(run_id=run.id))
            await self.store.save_document(RUN_KIND, run.id, run)
            return run

    async def _active_run(self, key: str) -> CampaignRun | None:
        index = await self.store.get_document(ACTIVE_KIND, key, _ActiveRun)
        if index is None:
            return None
        run = await self.store.get_document(RUN_KIND, index.run_id, CampaignRun)
        return run if run is not None and run.status is RunStatus.ACTIVE else None

    async def status(self, run_id: str) -> CampaignRun:
        """A stored run; :class:`CampaignRunNotFound` if there is none."""
        run = await self.store.get_document(RUN_KIND, run_id, CampaignRun)
        if run is None:
            raise CampaignRunNotFound(run_id)
        return run

    async def list_runs(
        self,
        *,
        player_id: str | None = None,
        campaign_id: str | None = None,
        status: RunStatus | str | None = None,
    ) -> list[CampaignRun]:
        """Stored runs in id order, optionally filtered (reads every run: for tools
        and small stores, not a game's hot path)."""
        return [
            r
            for r in await self.store.list_documents(RUN_KIND, CampaignRun)
            if (player_id is None or r.player_id == player_id)
            and (campaign_id is None or r.campaign_id == campaign_id)
            and (status is None or r.status == status)
        ]

    async def advance(self, run_id: str, session: Session | str) -> CampaignRun:
        """Apply a finished session (or its id) to the run and return the run.

        The session, as stored, must belong to the run's player, be finished, be for
        the current step's encounter, not belong to another campaign, and not have
        started before the run; otherwise :class:`CampaignError` says which and what to
        do. A session already applied returns the run unchanged (safe to retry).

        Completed: ``carry_forward`` and the transformations update the state, the
        step is completed and the run moves to the next step whose prerequisites are
        all completed, or completes. Failed or abandoned: with ``on_failure: "retry"``
        the step stays current (play it again); with ``"skip"`` the step and the steps
        requiring it are skipped. If a transformation cannot apply, nothing changes:
        fix the campaign with :meth:`save_campaign` and advance with the same session.
        If the campaign was edited so that no step is left for the run, the run is
        completed and returned without applying the session.
        """
        session_id = session.id if isinstance(session, Session) else session
        async with self._locks.hold(run_id):
            run = await self.status(run_id)
            if session_id in run.session_ids:
                return run
            if run.status is not RunStatus.ACTIVE:
                raise CampaignError(
                    f"campaign run {run.id!r} is {run.status.value}; it takes no more "
                    "sessions (start a new run to play the campaign again)"
                )
            played = await self.store.get_session(session_id)
            if played is None:
                raise SessionNotFound(session_id)
            spec = await self.get_campaign(run.campaign_id)
            updated = run.model_copy(deep=True)
            found = _next_step(spec, updated)
            if found is None:  # the campaign was edited: no step left for this run
                _move_on(spec, updated)
                return await self._save(updated)
            index, encounter_id = found
            self._check_fits(run, played, index, encounter_id)
            step = spec.steps[index]
            if played.status is SessionStatus.COMPLETED:
                updated.state = apply_step(
                    step,
                    session_state(played),
                    run.state,
                    where=f"campaign {spec.id!r} steps[{index}]",
                )
                updated.completed.append(encounter_id)
            elif step.on_failure == "skip":
                updated.skipped.append(encounter_id)
            updated.session_ids = [*run.session_ids, played.id][-MAX_SESSION_IDS:]
            _move_on(spec, updated)
            return await self._save(updated)

    def _check_fits(self, run: CampaignRun, played: Session, index: int, encounter_id: str) -> None:
        sid = played.id
        if played.player_id != run.player_id:
            raise CampaignError(
                f"session {sid!r} was played by {played.player_id!r}, but campaign run "
                f"{run.id!r} is {run.player_id!r}'s; advance that player's own run"
            )
        if not played.status.finished:
            raise CampaignError(
                f"session {sid!r} is still active; complete, fail or abandon it before "
                f"advancing campaign run {run.id!r}"
            )
        if played.campaign_id is not None and played.campaign_id != run.campaign_id:
            raise CampaignError(
                f"session {sid!r} was started for campaign {played.campaign_id!r}, not "
                f"{run.campaign_id!r}; start sessions with campaign_id={run.campaign_id!r}"
            )
        if played.created_at < run.started_at:
            raise CampaignError(
                f"session {sid!r} started before campaign run {run.id!r} did; play the "
                f"encounter again within the run"
            )
        got = played.encounter.id
        if got != encounter_id:
            done = " (already completed in this run)" if got in run.completed else ""
            raise CampaignError(
                f"session {sid!r} is for encounter {got!r}{done}, but campaign run "
                f"{run.id!r} is at steps[{index}], encounter {encounter_id!r}; start a "
                f"session for {encounter_id!r}"
            )

    async def _save(self, run: CampaignRun) -> CampaignRun:
        run.updated_at = utcnow()
        checked = validate_model(CampaignRun, run.model_dump(), f"campaign run {run.id}")
        await self.store.save_document(RUN_KIND, checked.id, checked)
        return checked

    async def abandon(self, run_id: str) -> CampaignRun:
        """Stop an active run (the player may start the campaign again). Abandoning an
        abandoned run returns it unchanged; a completed run raises
        :class:`CampaignError`."""
        async with self._locks.hold(run_id):
            run = await self.status(run_id)
            if run.status is RunStatus.ABANDONED:
                return run
            if run.status is RunStatus.COMPLETED:
                raise CampaignError(
                    f"campaign run {run.id!r} is completed; only an active run can be abandoned"
                )
            run.status = RunStatus.ABANDONED
            return await self._save(run)

    # -- helpers for the next session --------------------------------------------------

    def current_encounter(self, run: CampaignRun) -> str | None:
        """The encounter to play next; None once the run is completed or abandoned."""
        return run.current_encounter if run.status is RunStatus.ACTIVE else None

    def player_context(
        self, run: CampaignRun, base: PlayerContext, *, keys: Iterable[str] | None = None
    ) -> PlayerContext:
        """``base`` with the run's state added to its ``attributes``, so the next
        generation or session sees it. Rules, within PlayerContext's limits:

        - ``base`` attributes win over state keys of the same name (the game's own
          value is the current truth);
        - state keys longer than 40 characters are left out (copy such a value to a
          short key with a ``copy`` transformation);
        - text is cut to 80 characters; a list becomes its items joined with ", " (then
          cut); an empty list is left out;
        - at most 32 attributes: state keys are added in ``keys`` order (default: the
          state's own order, oldest key first) until the limit is reached.
        """
        attributes: dict[str, Scalar] = dict(base.attributes)
        for key in run.state if keys is None else keys:
            if len(attributes) >= MAX_ATTRIBUTES:
                break
            if key in attributes or key not in run.state or len(key) > MAX_ATTRIBUTE_KEY:
                continue
            value = _attribute(run.state[key])
            if value is not None:
                attributes[key] = value
        return validate_model(
            PlayerContext,
            {**base.model_dump(), "attributes": attributes},
            "player context",
        )
