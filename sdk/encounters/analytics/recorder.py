"""The recorder: an engine event listener that writes analytics rows in batches and
answers questions from incremental, cached views.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, cast

import anyio
from pydantic import BaseModel

from .._util.cache import LRUCache, TTLCache
from ..events import EngineEvent
from ..log import get_logger
from ..models import utcnow
from ..storage.protocols import AnalyticsStore
from ..validation import validate_model
from .aggregates import (
    _UNKNOWN,
    R,
    _Aggregate,
    _bad,
    _EncounterAggregate,
    _EncounterInfo,
    _GlobalAggregate,
    _PlayerAggregate,
    _View,
)
from .models import (
    _MAX_ENCOUNTERS,
    _MAX_SESSIONS,
    _MAX_VIEWS,
    _TEXT_IN_ROW,
    EVENTS_LOG,
    FINISH_TYPES,
    SESSION_LEVEL,
    SESSIONS_LOG,
    EncounterAnalytics,
    FeedbackInput,
    GlobalStats,
    PlayerStats,
    Row,
    clean_comment,
)

log = get_logger(__name__)


# -- the recorder --------------------------------------------------------------------


class AnalyticsRecorder:
    """Records engine events for analytics and answers analytics questions.

    ::

        recorder = AnalyticsRecorder(engine.store)
        engine.on(recorder.record)
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)  # flushes every flush_interval seconds
            ...
            stats = await recorder.encounter(spec.id)
            tg.cancel_scope.cancel()  # run() flushes what is left as it stops

    ``clock`` gives the current time (feedback timestamps, "active in the last 24 h");
    ``timer`` is the monotonic clock of the result cache.
    """

    def __init__(
        self,
        store: AnalyticsStore,
        *,
        flush_every: int = 500,
        flush_interval: float = 0.5,
        cache_ttl: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        timer: Callable[[], float] = time.monotonic,
        page_size: int = 2000,
        max_buffer: int = 100_000,
    ) -> None:
        if flush_every < 1:
            raise _bad("flush_every", "must be >= 1")
        if not flush_interval > 0:
            raise _bad("flush_interval", "must be > 0")
        if not cache_ttl >= 0:
            raise _bad("cache_ttl", "must be >= 0")
        if page_size < 1 or max_buffer < flush_every:
            raise _bad("page_size" if page_size < 1 else "max_buffer", "is too small")
        self.store = store
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.page_size = page_size
        self.max_buffer = max_buffer
        self._clock = clock
        self._cache: TTLCache[tuple[str, str], BaseModel] = TTLCache(
            cache_ttl, maxsize=_MAX_VIEWS, timer=timer
        )
        self._views: LRUCache[tuple[str, str], _View[Any]] = LRUCache(_MAX_VIEWS)
        self._rows: list[Row] = []
        self._session_rows: list[Row] = []
        self._sessions: LRUCache[str, str] = LRUCache(_MAX_SESSIONS)  # session -> encounter
        self._info: LRUCache[str, _EncounterInfo] = LRUCache(_MAX_ENCOUNTERS)  # encounter -> info
        self._flush_lock = anyio.Lock()
        self._inflight: dict[tuple[str, str], bool] = {}  # reads going: key -> rows changed
        self._runners = 0  # run() tasks going
        self._wake: anyio.Event | None = None  # set: run() flushes at once
        self.rows_written = 0
        self.rows_dropped = 0

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""
        return len(self._rows)

    # -- recording -------------------------------------------------------------------

    async def record(self, event: EngineEvent) -> None:
        """Buffer one engine event (an :class:`~encounters.events.EventBus` listener);
        writes the buffer when ``flush_every`` rows are waiting."""
        kind, data, sid, player = event.type, event.data, event.session_id, event.player_id
        row: dict[str, Any] = {"type": kind}
        if sid is not None:
            row["session"] = sid
        if player is not None:
            row["player"] = player
        encounter = data.get("encounter_id")
        if not isinstance(encounter, str):
            encounter = await self._encounter_of(sid) if sid is not None else None
        elif sid is not None and kind == "session.started":
            self._sessions.set(sid, encounter)
        if kind == "objective.progressed":
            row["objective"] = data.get("objective_id")
            row["completed"] = bool(data.get("completed"))
            row["progress"] = data.get("progress")
        elif kind == "objective.completed":
            row["objective"] = data.get("objective_id")
        elif kind == "choice.made":
            row["option"] = data.get("selected_option")
            description = data.get("description")
            if isinstance(description, str):
                row["description"] = description[:_TEXT_IN_ROW]
        elif kind == "npc.interaction":
            row["npc"] = data.get("npc_id")
            row["outcome"] = data.get("outcome")
        elif kind == "session.started":
            info = await self._encounter_info(sid, encounter)
            row["category"] = info.category
            if info.objectives is not None:
                row["objectives"] = list(info.objectives)
                row["required"] = list(info.required or ())
            row["difficulty"] = data.get("difficulty")
            if data.get("campaign_id") is not None:
                row["campaign"] = data.get("campaign_id")
        elif kind in FINISH_TYPES:
            row["duration"] = data.get("duration_seconds")
            reason = data.get("reason")
            if isinstance(reason, str):
                row["reason"] = reason[:_TEXT_IN_ROW]
            if sid is not None:
                self._sessions.discard(sid)
        elif kind == "encounter.generated":
            row["category"] = data.get("category")
            row["generator"] = data.get("generator")
        self._buffer(encounter, event.timestamp, row)
        if len(self._rows) >= self.flush_every:
            await self._batch_full()

    def _buffer(self, encounter: str | None, at: datetime, row: dict[str, Any]) -> None:
        if at.tzinfo is not UTC:  # the store keeps UTC wall times; naive means UTC
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        self._rows.append((encounter, at, row))
        if row["type"] in SESSION_LEVEL:
            brief = {k: v for k, v in row.items() if k in _SESSION_FIELDS}
            if encounter is not None:
                brief["encounter"] = encounter
            self._session_rows.append((row.get("player"), at, brief))
        overflow = len(self._rows) - self.max_buffer
        if overflow > 0:  # the store keeps failing: drop the oldest rows, loudly
            del self._rows[:overflow]
            self._session_rows = self._session_rows[-self.max_buffer :]
            self.rows_dropped += overflow
            log.warning("analytics.rows_dropped", rows=overflow, total=self.rows_dropped)

    async def _encounter_of(self, session_id: str) -> str | None:
        encounter = self._sessions.get(session_id)
        if encounter is None:  # started before this recorder existed: ask the store once
            try:
                session = await self.store.get_session(session_id)
            except Exception as exc:
                log.warning("analytics.lookup_failed", session_id=session_id, error=repr(exc))
                return None
            if session is None:
                return None
            encounter = session.encounter.id
            self._sessions.set(session_id, encounter)
            if encounter not in self._info:
                self._info.set(encounter, _EncounterInfo.of(session.encounter))
        return encounter

    async def _encounter_info(
        self, session_id: str | None, encounter: str | None
    ) -> _EncounterInfo:
        """The category and objectives of an encounter, read once per encounter: from
        the session's own copy (what is played), else the stored encounter."""
        if encounter is None:
            return _UNKNOWN
        info = self._info.get(encounter)
        if info is not None:
            return info
        info = _UNKNOWN
        try:
            session = await self.store.get_session(session_id) if session_id else None
            spec = session.encounter if session else await self.store.get_encounter(encounter)
            if spec is not None:
                info = _EncounterInfo.of(spec)
        except Exception as exc:
            log.warning("analytics.lookup_failed", encounter_id=encounter, error=repr(exc))
        self._info.set(encounter, info)
        return info

    async def record_feedback(
        self,
        encounter_id: str,
        player_id: str,
        rating: int,
        comment: str | None = None,
        *,
        scope: str | None = None,
    ) -> None:
        """A player's rating (a whole number 1..5) of an encounter, with an optional
        comment (control characters removed, cut to 1000 characters). Bad input raises
        :class:`~encounters.errors.ValidationFailed` naming the field.

        No ``scope`` (the SDK's way): every rating counts. In a ``scope`` (an opaque
        string: the daemon gives each game server its own), the player id is the one
        that scope knows, and the player's latest rating of the encounter replaces
        their earlier one in that scope only; the same id in another scope, or
        unscoped, is another rater."""
        checked = validate_model(
            FeedbackInput,
            {"encounter_id": encounter_id, "player_id": player_id, "rating": rating,
             "comment": comment},
            "feedback",
        )  # fmt: skip
        row: dict[str, Any] = {"type": "feedback", "player": checked.player_id,
                               "rating": checked.rating}  # fmt: skip
        if scope is not None:
            row["scope"] = _check_scope(scope)
        text = clean_comment(checked.comment) if checked.comment is not None else None
        if text is not None:
            row["comment"] = text
        self._buffer(checked.encounter_id, self._clock(), row)
        if len(self._rows) >= self.flush_every:
            await self._batch_full()

    async def record_session_scope(self, session_id: str, player_id: str, scope: str) -> None:
        """Mark the session ``session_id`` of ``player_id`` as played in ``scope`` (an
        opaque string: the daemon marks each session a game server starts with its
        scope), so :meth:`player` in that scope counts it. A session is marked once:
        later marks of it are ignored by the views that read an earlier one. Limits:
        a session started but never marked (the process stopped in between) counts in
        no scope, only in the unscoped view."""
        if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
            raise _bad("session_id", "must be an id of 1..200 characters")
        if not isinstance(player_id, str) or not player_id:
            raise _bad("player_id", "must be a non-empty string")
        row = {"type": "session.scoped", "session": session_id, "scope": _check_scope(scope)}
        self._session_rows.append((player_id, self._clock(), row))
        if len(self._session_rows) > self.max_buffer:
            overflow = len(self._session_rows) - self.max_buffer
            del self._session_rows[:overflow]
            self.rows_dropped += overflow
            log.warning("analytics.rows_dropped", rows=overflow, total=self.rows_dropped)

    async def record_published(
        self, kind: Literal["encounter", "template"], item_id: str, at: datetime | None = None
    ) -> None:
        """Note that an encounter or template was published (saved for players), for the
        ship cadence of :mod:`encounters.platform_metrics`."""
        if kind not in ("encounter", "template"):
            raise _bad("kind", "must be encounter or template")
        if not isinstance(item_id, str) or not item_id or len(item_id) > 200:
            raise _bad("item_id", "must be an id of 1..200 characters")
        key = item_id if kind == "encounter" else None
        self._buffer(key, at or self._clock(), {"type": "published", "item": kind, "id": item_id})
        if len(self._rows) >= self.flush_every:
            await self._batch_full()

    async def flush(self) -> int:
        """Write the buffered rows (one append per log); returns how many were written.
        Rows whose append failed stay buffered for the next flush."""
        async with self._flush_lock:
            rows, self._rows = self._rows, []
            session_rows, self._session_rows = self._session_rows, []
            if rows:
                try:
                    await self.store.append_events(EVENTS_LOG, rows)
                except BaseException:
                    self._rows[:0] = rows
                    self._session_rows[:0] = session_rows
                    raise
                self._written(rows, encounters=True)
            if session_rows:
                try:
                    await self.store.append_events(SESSIONS_LOG, session_rows)
                except BaseException:
                    self._session_rows[:0] = session_rows
                    raise
                self._written(session_rows, encounters=False)
            self.rows_written += len(rows)
            return len(rows)

    def _written(self, rows: list[Row], *, encounters: bool) -> None:
        """Drop the cached results that these rows change (and tell reads going on
        for them not to cache what they are computing)."""
        changed = [("encounter" if encounters else "player", key)
                   for key in {r[0] for r in rows if r[0] is not None}]  # fmt: skip
        for key in changed:
            self._cache.discard(key)
            if key in self._inflight:
                self._inflight[key] = True
        if not encounters:  # a player's scoped views: ("player", "<scope>/<player id>")
            players = {key for _, key in changed}

            def scoped(k: tuple[str, str]) -> bool:
                return k[0] == "player" and "/" in k[1] and k[1].rsplit("/", 1)[1] in players

            self._cache.discard_where(scoped)
            for key in self._inflight:
                if scoped(key):
                    self._inflight[key] = True
        if not encounters:
            self._cache.discard_where(lambda k: k[0] == "global")
            for key in self._inflight:
                if key[0] == "global":
                    self._inflight[key] = True

    async def _batch_full(self) -> None:
        """``flush_every`` rows are waiting. With :meth:`run` going, it writes them in
        the background and the caller (an engine step) goes on at once; else, or when
        four batches are already waiting (back pressure), the caller writes them."""
        if self._runners and self._wake is not None and len(self._rows) < 4 * self.flush_every:
            self._wake.set()
            return
        await self.flush()

    async def run(self) -> None:
        """Flush every ``flush_interval`` seconds, and at once when a batch is full,
        until cancelled; then flush what is left (shielded, so a shutdown does not lose
        the last rows). A failed flush is logged and tried again."""
        self._runners += 1
        try:
            while True:
                if len(self._rows) < self.flush_every:
                    self._wake = wake = anyio.Event()
                    with anyio.move_on_after(self.flush_interval):
                        await wake.wait()
                try:
                    await self.flush()
                except Exception as exc:
                    log.warning("analytics.flush_failed", error=repr(exc), pending=self.pending)
                    await anyio.sleep(self.flush_interval)
        finally:
            self._runners -= 1
            with anyio.CancelScope(shield=True):
                try:
                    await self.flush()
                except Exception as exc:
                    log.warning("analytics.flush_failed", error=repr(exc), pending=self.pending)

    # -- reading ---------------------------------------------------------------------

    async def encounter(self, encounter_id: str) -> EncounterAnalytics:
        """Analytics of one encounter (zeros if it was never played)."""
        if not isinstance(encounter_id, str) or not encounter_id:
            raise _bad("encounter_id", "must be a non-empty string")
        return await self._read(
            ("encounter", encounter_id),
            EVENTS_LOG,
            encounter_id,
            lambda: _EncounterAggregate(encounter_id),
        )

    async def player(self, player_id: str, *, scope: str | None = None) -> PlayerStats:
        """One player's sessions, results, play time and favourite categories: every
        session of the player id (no ``scope``), or only those marked as of ``scope``
        (:meth:`record_session_scope`)."""
        if not isinstance(player_id, str) or not player_id:
            raise _bad("player_id", "must be a non-empty string")
        name = player_id if scope is None else f"{_check_scope(scope)}/{player_id}"
        key = ("player", name)
        return await self._read(
            key, SESSIONS_LOG, player_id, lambda: _PlayerAggregate(player_id, scope)
        )

    async def global_stats(self, since: datetime | None = None) -> GlobalStats:
        """Totals over every session (or those whose rows are at or after ``since``;
        a naive ``since`` is taken as UTC)."""
        if since is not None:
            if not isinstance(since, datetime):
                raise _bad("since", "must be a datetime")
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        key = ("global", since.isoformat() if since else "")
        return await self._read(key, SESSIONS_LOG, None, lambda: _GlobalAggregate(since))

    async def _read(
        self,
        key: tuple[str, str],
        kind: str,
        log_key: str | None,
        make: Callable[[], _Aggregate[R]],
    ) -> R:
        await self.flush()  # read your own writes
        hit = self._cache.get(key)
        if hit is None:
            view = self._views.get(key) or _View(make(), anyio.Lock())
            self._views.set(key, view)
            async with view.lock:
                hit = self._cache.get(key)  # filled while this task waited?
                if hit is None:
                    self._inflight[key] = False
                    try:
                        await self._catch_up(view, kind, log_key)
                        hit = view.aggregate.result(self._clock())
                    finally:
                        changed = self._inflight.pop(key)
                    if not changed:  # else rows were flushed meanwhile: read again next time
                        self._cache.set(key, hit)
        return cast(R, hit.model_copy(deep=True))

    async def _catch_up(self, view: _View[Any], kind: str, log_key: str | None) -> None:
        """Feed the view the rows appended since it last read."""
        while True:
            rows = await self.store.list_events(
                kind, key=log_key, after_id=view.cursor, limit=self.page_size
            )
            for row in rows:
                try:
                    view.aggregate.add(row)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    log.warning("analytics.row_skipped", row_id=row.id, error=repr(exc))
                view.cursor = row.id
            if len(rows) < self.page_size:
                return


_SESSION_FIELDS = frozenset(
    {"type", "session", "category", "duration", "reason", "generator", "item", "id", "scope"}
)


def _check_scope(scope: object) -> str:
    """A scope is a non-empty string (an empty one would read as no scope)."""
    if not isinstance(scope, str) or not scope or len(scope) > 300:
        raise _bad("scope", "must be a string of 1..300 characters, or None")
    return scope
