"""Encounter, player and global analytics, aggregated from the engine's events.

:class:`AnalyticsRecorder` is an event listener (``engine.on(recorder.record)``). It
turns each :class:`~encounters.events.EngineEvent` into one compact row, buffers the
rows and appends them in batches to two append-only event logs of the store:

- ``analytics``: every event, keyed by encounter id (encounter analytics read it
  through the store's ``(kind, key)`` index);
- ``analytics_sessions``: the session-level events only (session started and finished,
  encounter generated, content published), keyed by player id; player stats, global
  stats and :mod:`encounters.platform_metrics` read this smaller log.

Reads (:meth:`AnalyticsRecorder.encounter`, :meth:`~AnalyticsRecorder.player`,
:meth:`~AnalyticsRecorder.global_stats`) flush the buffer first, so a recorder always
sees its own events. Aggregation is incremental: a view keeps its running totals and
the id of the last row it read, and a later read only reads the rows appended since.
Results are cached for ``cache_ttl`` seconds; flushing rows for a key drops that key's
cached result at once. Rows appended by *another* recorder (another process on the
same file) show after at most ``cache_ttl`` seconds.

Engine events for objective progress, choices and NPC interactions carry no encounter
id: the recorder maps session -> encounter from ``session.started`` and, after a
restart (a session started before this recorder existed), reads the session from the
store once to find it. Every formula is written down in ``docs/metrics.md``.
"""

from __future__ import annotations

import time
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar, cast

import anyio
from pydantic import BaseModel, Field

from ._util.cache import LRUCache
from ._util.cache import TTLCache as TTLCache  # the daemon's control API imports it here
from .errors import FieldError, ValidationFailed
from .events import EngineEvent
from .log import get_logger
from .models import EncounterSpec, utcnow
from .models.common import STRICT, Id
from .storage import LoggedEvent, Store
from .validation import validate_model

log = get_logger(__name__)

#: The event log of every analytics row, keyed by encounter id.
EVENTS_LOG = "analytics"
#: The event log of session-level rows, keyed by player id.
SESSIONS_LOG = "analytics_sessions"

FINISH_TYPES = {
    "session.completed": "completed",
    "session.failed": "failed",
    "session.abandoned": "abandoned",
}
#: Rows of these types also go to :data:`SESSIONS_LOG`.
SESSION_LEVEL = {"session.started", "encounter.generated", "published", *FINISH_TYPES}

MAX_COMMENT = 1000  #: feedback comments are cut to this many characters
LATEST_COMMENTS = 20  #: comments kept in :class:`FeedbackSummary`
TOP_FAILURES = 5
TOP_ENCOUNTERS = 10
TOP_CHOICES = 100  #: distinct options kept in ``choice_distribution``
_TEXT_IN_ROW = 200  #: choice descriptions and failure reasons are cut to this length
_MAX_OPEN = 100_000  #: open sessions one encounter view follows (oldest dropped first)
_MAX_SESSIONS = 100_000  #: session -> encounter ids the recorder remembers
_MAX_ENCOUNTERS = 10_000  #: encounters whose objectives and category it remembers
_MAX_VIEWS = 512  #: incremental views (encounters, players, global) kept in memory

Row = tuple[str | None, datetime, dict[str, Any]]


# -- output models -------------------------------------------------------------------


class ObjectiveStats(BaseModel):
    """One objective of an encounter. ``completion_rate`` is the share of plays in
    which it was completed at least once; ``average_time`` the mean seconds from the
    session's start to that first completion."""

    completions: int = 0
    completion_rate: float = 0.0
    average_time: float | None = None
    left_open: int = 0  #: failed or abandoned sessions that left it open (required only)


class FailurePoint(BaseModel):
    objective_id: str
    count: int  #: failed or abandoned sessions that left this required objective open


class FailureReason(BaseModel):
    reason: str  #: whitespace-collapsed, lower-cased, cut to 200 characters
    count: int


class FeedbackComment(BaseModel):
    player_id: str | None
    rating: int
    comment: str
    at: datetime


class FeedbackSummary(BaseModel):
    count: int = 0
    average_rating: float | None = None
    histogram: dict[int, int] = Field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    latest_comments: list[FeedbackComment] = []  #: newest first, at most 20


class EncounterAnalytics(BaseModel):
    """The original design's ``EncounterAnalytics`` record, times in seconds.

    ``choice_distribution`` is keyed by the selected option's text (choice ids are
    random per session, so they never repeat across plays); ``choices`` breaks it down
    per choice description."""

    encounter_id: str
    total_plays: int = 0
    completions: int = 0
    failures: int = 0
    abandons: int = 0
    in_progress: int = 0
    average_completion_time: float | None = None
    success_rate: float | None = None
    objective_stats: dict[str, ObjectiveStats] = {}
    choice_distribution: dict[str, int] = {}
    choices: dict[str, dict[str, int]] = {}
    common_failure_points: list[FailurePoint] = []
    failure_reasons: list[FailureReason] = []
    player_feedback: FeedbackSummary = Field(default_factory=FeedbackSummary)
    computed_at: datetime


class PlayerStats(BaseModel):
    player_id: str
    sessions_played: int = 0
    sessions_completed: int = 0
    sessions_failed: int = 0
    sessions_abandoned: int = 0
    success_rate: float | None = None
    total_play_time: float = 0.0  #: seconds, over finished sessions
    average_play_time: float | None = None
    favourite_categories: list[str] = []  #: most played first, at most 3
    categories: dict[str, int] = {}
    first_played: datetime | None = None
    last_played: datetime | None = None
    computed_at: datetime


class EncounterPlays(BaseModel):
    encounter_id: str
    plays: int


class GlobalStats(BaseModel):
    since: datetime | None = None
    total_sessions: int = 0
    total_players: int = 0
    encounters_played: int = 0
    encounters_generated: int = 0
    sessions_by_status: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(("active", "completed", "failed", "abandoned"), 0)
    )
    sessions_by_category: dict[str, int] = {}
    active_players_24h: int = 0
    active_players_7d: int = 0
    average_session_length: float | None = None
    success_rate: float | None = None
    top_encounters: list[EncounterPlays] = []
    computed_at: datetime


# -- input ---------------------------------------------------------------------------


class FeedbackInput(BaseModel):
    """A player's rating of an encounter (1..5 stars) and an optional comment."""

    model_config = STRICT

    encounter_id: Id
    player_id: Id
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: str | None = None


_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_comment(text: str) -> str | None:
    """Remove control characters (keeping newlines and tabs), bidi overrides and lone
    surrogates; strip; cut to :data:`MAX_COMMENT` characters. ``None`` if nothing is
    left."""
    text = text[: MAX_COMMENT * 4]
    kept = "".join(
        ch
        for ch in text
        if ch in "\n\t" or (ch not in _BIDI and unicodedata.category(ch) not in ("Cc", "Cs"))
    )
    kept = kept.strip()[:MAX_COMMENT].strip()
    return kept or None


# -- aggregation ---------------------------------------------------------------------

R = TypeVar("R", bound=BaseModel)


def _mean(total: float, n: int) -> float | None:
    return total / n if n else None


def _reason_key(reason: object) -> str | None:
    if not isinstance(reason, str):
        return None
    text = " ".join(reason.split()).lower()[:_TEXT_IN_ROW]
    return text or None


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    """Most common first; ties in name order, so results are repeatable."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


class _Aggregate(Generic[R]):
    def add(self, row: LoggedEvent) -> None:
        raise NotImplementedError

    def result(self, now: datetime) -> R:
        raise NotImplementedError


@dataclass
class _Open:
    """A session an encounter view has seen start and not yet finish."""

    started: datetime
    required: tuple[str, ...] | None
    done: set[str] = field(default_factory=set)
    first_done: set[str] = field(default_factory=set)


class _EncounterAggregate(_Aggregate[EncounterAnalytics]):
    def __init__(self, encounter_id: str) -> None:
        self.encounter_id = encounter_id
        self.plays = 0
        self.status: Counter[str] = Counter()
        self.completion_time = 0.0
        self.completion_n = 0
        self.open: dict[str, _Open] = {}
        self.objectives: dict[str, None] = {}  # known objective ids, first seen first
        self.obj_done: Counter[str] = Counter()
        self.obj_time: defaultdict[str, float] = defaultdict(float)
        self.left_open: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.options: Counter[str] = Counter()
        self.by_description: dict[str, Counter[str]] = {}
        self.ratings: Counter[int] = Counter()
        self.comments: deque[FeedbackComment] = deque(maxlen=LATEST_COMMENTS)

    def add(self, row: LoggedEvent) -> None:
        d = row.data
        kind = d.get("type")
        sid = d.get("session")
        if kind == "session.started" and isinstance(sid, str):
            self.plays += 1
            for o in d.get("objectives") or ():
                self.objectives.setdefault(str(o), None)
            req = d.get("required")
            self.open[sid] = _Open(row.at, tuple(req) if isinstance(req, list) else None)
            if len(self.open) > _MAX_OPEN:
                del self.open[next(iter(self.open))]
        elif kind in ("objective.progressed", "objective.completed"):
            state = self.open.get(sid) if isinstance(sid, str) else None
            obj = d.get("objective")
            if state is None or not isinstance(obj, str):
                return
            self.objectives.setdefault(obj, None)
            if kind == "objective.progressed" and not d.get("completed"):
                state.done.discard(obj)
                return
            state.done.add(obj)
            if obj not in state.first_done:
                state.first_done.add(obj)
                self.obj_done[obj] += 1
                self.obj_time[obj] += (row.at - state.started).total_seconds()
        elif kind == "choice.made":
            option = d.get("option")
            if isinstance(option, str):
                self.options[option] += 1
                desc = str(d.get("description") or "")
                self.by_description.setdefault(desc, Counter())[option] += 1
        elif kind in FINISH_TYPES:
            status = FINISH_TYPES[kind]
            self.status[status] += 1
            state = self.open.pop(sid, None) if isinstance(sid, str) else None
            if status == "completed":
                duration = d.get("duration")
                if isinstance(duration, int | float):
                    self.completion_time += float(duration)
                    self.completion_n += 1
                return
            if state is not None and state.required is not None:
                for obj in state.required:
                    if obj not in state.done:
                        self.left_open[obj] += 1
            reason = _reason_key(d.get("reason"))
            if reason is not None:
                self.reasons[reason] += 1
        elif kind == "feedback":
            rating = d.get("rating")
            if isinstance(rating, int) and 1 <= rating <= 5:
                self.ratings[rating] += 1
                comment = d.get("comment")
                if isinstance(comment, str) and comment:
                    player = d.get("player")
                    self.comments.append(FeedbackComment(
                        player_id=player if isinstance(player, str) else None,
                        rating=rating, comment=comment, at=row.at,
                    ))  # fmt: skip

    def result(self, now: datetime) -> EncounterAnalytics:
        finished = sum(self.status.values())
        n_ratings = sum(self.ratings.values())
        plays = self.plays
        objectives = [*self.objectives, *(o for o in self.left_open if o not in self.objectives)]
        return EncounterAnalytics(
            encounter_id=self.encounter_id,
            total_plays=plays,
            completions=self.status["completed"],
            failures=self.status["failed"],
            abandons=self.status["abandoned"],
            in_progress=len(self.open),
            average_completion_time=_mean(self.completion_time, self.completion_n),
            success_rate=self.status["completed"] / finished if finished else None,
            objective_stats={
                obj: ObjectiveStats(
                    completions=self.obj_done[obj],
                    completion_rate=self.obj_done[obj] / plays if plays else 0.0,
                    average_time=_mean(self.obj_time[obj], self.obj_done[obj]),
                    left_open=self.left_open[obj],
                )
                for obj in objectives
            },
            choice_distribution=dict(_top(self.options, TOP_CHOICES)),
            choices={
                desc: dict(_top(counts, TOP_CHOICES))
                for desc, counts in list(self.by_description.items())[:TOP_CHOICES]
            },
            common_failure_points=[
                FailurePoint(objective_id=o, count=c) for o, c in _top(self.left_open, TOP_FAILURES)
            ],
            failure_reasons=[
                FailureReason(reason=r, count=c) for r, c in _top(self.reasons, TOP_FAILURES)
            ],
            player_feedback=FeedbackSummary(
                count=n_ratings,
                average_rating=_mean(sum(r * c for r, c in self.ratings.items()), n_ratings),
                histogram={r: self.ratings[r] for r in range(1, 6)},
                latest_comments=list(reversed(self.comments)),
            ),
            computed_at=now,
        )


class _PlayerAggregate(_Aggregate[PlayerStats]):
    def __init__(self, player_id: str) -> None:
        self.player_id = player_id
        self.played = 0
        self.status: Counter[str] = Counter()
        self.play_time = 0.0
        self.timed = 0
        self.categories: Counter[str] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, row: LoggedEvent) -> None:
        d = row.data
        kind = d.get("type")
        if kind == "session.started":
            self.played += 1
            category = d.get("category")
            if isinstance(category, str):
                self.categories[category] += 1
        elif kind in FINISH_TYPES:
            self.status[FINISH_TYPES[kind]] += 1
            duration = d.get("duration")
            if isinstance(duration, int | float):
                self.play_time += float(duration)
                self.timed += 1
        else:
            return
        self.first = row.at if self.first is None else min(self.first, row.at)
        self.last = row.at if self.last is None else max(self.last, row.at)

    def result(self, now: datetime) -> PlayerStats:
        finished = sum(self.status.values())
        return PlayerStats(
            player_id=self.player_id,
            sessions_played=self.played,
            sessions_completed=self.status["completed"],
            sessions_failed=self.status["failed"],
            sessions_abandoned=self.status["abandoned"],
            success_rate=self.status["completed"] / finished if finished else None,
            total_play_time=self.play_time,
            average_play_time=_mean(self.play_time, self.timed),
            favourite_categories=[c for c, _ in _top(self.categories, 3)],
            categories=dict(_top(self.categories, 100)),
            first_played=self.first,
            last_played=self.last,
            computed_at=now,
        )


class _GlobalAggregate(_Aggregate[GlobalStats]):
    def __init__(self, since: datetime | None) -> None:
        self.since = since
        self.started = 0
        self.generated = 0
        self.status: Counter[str] = Counter()
        self.categories: Counter[str] = Counter()
        self.plays: Counter[str] = Counter()
        self.last_seen: dict[str, datetime] = {}
        self.duration = 0.0
        self.timed = 0

    def add(self, row: LoggedEvent) -> None:
        if self.since is not None and row.at < self.since:
            return
        d = row.data
        kind = d.get("type")
        if kind == "encounter.generated":
            self.generated += 1
            return
        if kind == "session.started":
            self.started += 1
            category = d.get("category")
            self.categories[category if isinstance(category, str) else "unknown"] += 1
            encounter = d.get("encounter")
            if isinstance(encounter, str):
                self.plays[encounter] += 1
        elif kind in FINISH_TYPES:
            self.status[FINISH_TYPES[kind]] += 1
            duration = d.get("duration")
            if isinstance(duration, int | float):
                self.duration += float(duration)
                self.timed += 1
        else:
            return
        if row.key is not None:
            seen = self.last_seen.get(row.key)
            if seen is None or row.at > seen:
                self.last_seen[row.key] = row.at

    def result(self, now: datetime) -> GlobalStats:
        finished = sum(self.status.values())
        day, week = now - timedelta(days=1), now - timedelta(days=7)
        return GlobalStats(
            since=self.since,
            total_sessions=self.started,
            total_players=len(self.last_seen),
            encounters_played=len(self.plays),
            encounters_generated=self.generated,
            sessions_by_status={
                "active": max(0, self.started - finished),
                "completed": self.status["completed"],
                "failed": self.status["failed"],
                "abandoned": self.status["abandoned"],
            },
            sessions_by_category=dict(_top(self.categories, 100)),
            active_players_24h=sum(1 for t in self.last_seen.values() if t >= day),
            active_players_7d=sum(1 for t in self.last_seen.values() if t >= week),
            average_session_length=_mean(self.duration, self.timed),
            success_rate=self.status["completed"] / finished if finished else None,
            top_encounters=[
                EncounterPlays(encounter_id=e, plays=n) for e, n in _top(self.plays, TOP_ENCOUNTERS)
            ],
            computed_at=now,
        )


@dataclass
class _View(Generic[R]):
    """An incremental aggregation: its running totals and the last row id it read."""

    aggregate: _Aggregate[R]
    lock: anyio.Lock  # one reader catches it up at a time
    cursor: int = 0


@dataclass(frozen=True)
class _EncounterInfo:
    """What a ``session.started`` row carries about the encounter."""

    category: str | None
    objectives: tuple[str, ...] | None
    required: tuple[str, ...] | None

    @classmethod
    def of(cls, spec: EncounterSpec) -> _EncounterInfo:
        return cls(
            spec.category.value,
            tuple(o.id for o in spec.objectives),
            tuple(o.id for o in spec.objectives if not o.optional),
        )


_UNKNOWN = _EncounterInfo(None, None, None)


def _bad(path: str, message: str) -> ValidationFailed:
    return ValidationFailed("argument", [FieldError(path, message)])


def _remember(cache: dict[str, Any], key: str, value: Any, limit: int) -> None:
    cache[key] = value
    if len(cache) > limit:
        del cache[next(iter(cache))]  # the oldest entry


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
        store: Store,
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
        self._sessions: dict[str, str] = {}  # session id -> encounter id
        self._info: dict[str, _EncounterInfo] = {}  # encounter id -> objectives, category
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
            _remember(self._sessions, sid, encounter, _MAX_SESSIONS)
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
                self._sessions.pop(sid, None)
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
            _remember(self._sessions, session_id, encounter, _MAX_SESSIONS)
            if encounter not in self._info:
                _remember(self._info, encounter, _EncounterInfo.of(session.encounter),
                          _MAX_ENCOUNTERS)  # fmt: skip
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
        _remember(self._info, encounter, info, _MAX_ENCOUNTERS)
        return info

    async def record_feedback(
        self, encounter_id: str, player_id: str, rating: int, comment: str | None = None
    ) -> None:
        """A player's rating (a whole number 1..5) of an encounter, with an optional
        comment (control characters removed, cut to 1000 characters). Bad input raises
        :class:`~encounters.errors.ValidationFailed` naming the field."""
        checked = validate_model(
            FeedbackInput,
            {"encounter_id": encounter_id, "player_id": player_id, "rating": rating,
             "comment": comment},
            "feedback",
        )  # fmt: skip
        row: dict[str, Any] = {"type": "feedback", "player": checked.player_id,
                               "rating": checked.rating}  # fmt: skip
        text = clean_comment(checked.comment) if checked.comment is not None else None
        if text is not None:
            row["comment"] = text
        self._buffer(checked.encounter_id, self._clock(), row)
        if len(self._rows) >= self.flush_every:
            await self._batch_full()

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

    async def player(self, player_id: str) -> PlayerStats:
        """One player's sessions, results, play time and favourite categories."""
        if not isinstance(player_id, str) or not player_id:
            raise _bad("player_id", "must be a non-empty string")
        return await self._read(
            ("player", player_id), SESSIONS_LOG, player_id, lambda: _PlayerAggregate(player_id)
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
    {"type", "session", "category", "duration", "reason", "generator", "item", "id"}
)
