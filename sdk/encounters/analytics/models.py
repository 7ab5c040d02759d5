"""What analytics answer (:class:`EncounterAnalytics`, :class:`PlayerStats`,
:class:`GlobalStats`), what players send (:class:`FeedbackInput`), the event logs
and the limits.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ..models.common import STRICT, Id

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
SESSION_LEVEL = {
    "session.started",
    "session.scoped",
    "encounter.generated",
    "published",
    *FINISH_TYPES,
}

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
    #: The scope the feedback was recorded in (None: unscoped); not serialised, so a
    #: caller can tell its own scope's comments from others' without showing scopes.
    scope: str | None = Field(default=None, exclude=True)


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
