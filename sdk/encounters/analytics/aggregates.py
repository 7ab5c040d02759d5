"""Incremental aggregations: running totals per encounter, per player and in total,
each fed the rows appended since it last read.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import anyio
from pydantic import BaseModel

from ..errors import FieldError, ValidationFailed
from ..models import EncounterSpec
from ..storage import LoggedEvent
from .models import (
    _MAX_OPEN,
    _TEXT_IN_ROW,
    FINISH_TYPES,
    LATEST_COMMENTS,
    TOP_CHOICES,
    TOP_ENCOUNTERS,
    TOP_FAILURES,
    EncounterAnalytics,
    EncounterPlays,
    FailurePoint,
    FailureReason,
    FeedbackComment,
    FeedbackSummary,
    GlobalStats,
    ObjectiveStats,
    PlayerStats,
)

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
        self.rated: dict[tuple[str, str], int] = {}  # (scope, player) -> their rating

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
            self._feedback(row)

    def _feedback(self, row: LoggedEvent) -> None:
        """Unscoped feedback (the SDK's) counts every time it is given; scoped feedback
        (a game server's) counts once per player and scope, the latest replacing the
        earlier rating and comment. Limits: the view remembers the last
        ``_MAX_OPEN`` raters per encounter; a rater older than those who rates again
        counts twice."""
        d = row.data
        rating = d.get("rating")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            return
        player = d.get("player")
        player = player if isinstance(player, str) else None
        scope = d.get("scope")
        scope = scope if isinstance(scope, str) else None
        if scope is not None and player is not None:
            earlier = self.rated.pop((scope, player), None)
            if earlier is not None:
                self.ratings[earlier] -= 1
                kept = [c for c in self.comments if (c.scope, c.player_id) != (scope, player)]
                if len(kept) < len(self.comments):
                    self.comments = deque(kept, maxlen=LATEST_COMMENTS)
            self.rated[(scope, player)] = rating
            if len(self.rated) > _MAX_OPEN:
                del self.rated[next(iter(self.rated))]
        self.ratings[rating] += 1
        comment = d.get("comment")
        if isinstance(comment, str) and comment:
            self.comments.append(
                FeedbackComment(player_id=player, rating=rating, comment=comment, at=row.at,
                                scope=scope)
            )  # fmt: skip

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
    """A player's sessions: all of them (``scope`` None), or only those marked (a
    ``session.scoped`` row) as of ``scope``. A session's rows read before its mark
    wait for it; those of a session never marked (not a game server's) are dropped
    when more than ``_MAX_OPEN`` wait."""

    def __init__(self, player_id: str, scope: str | None = None) -> None:
        self.player_id = player_id
        self.scope = scope
        self.marked: dict[str, bool] = {}  # session -> whether it is of ``scope``
        self.waiting: dict[str, list[LoggedEvent]] = {}  # session -> its rows, unmarked
        self.played = 0
        self.status: Counter[str] = Counter()
        self.play_time = 0.0
        self.timed = 0
        self.categories: Counter[str] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, row: LoggedEvent) -> None:
        if self.scope is None:
            self._count(row)
            return
        d = row.data
        sid = d.get("session")
        if not isinstance(sid, str):
            return
        if d.get("type") == "session.scoped":
            mine = self.marked[sid] = d.get("scope") == self.scope
            if len(self.marked) > _MAX_OPEN:
                del self.marked[next(iter(self.marked))]
            for earlier in self.waiting.pop(sid, ()):
                if mine:
                    self._count(earlier)
            return
        known = self.marked.get(sid)
        if known is None:
            self.waiting.setdefault(sid, []).append(row)
            if len(self.waiting) > _MAX_OPEN:
                del self.waiting[next(iter(self.waiting))]
        elif known:
            self._count(row)

    def _count(self, row: LoggedEvent) -> None:
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
