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

The package: :mod:`.models` (answers, feedback input, limits), :mod:`.aggregates`
(incremental views) and :mod:`.recorder`.
"""

from .._util.cache import TTLCache
from .models import (
    EVENTS_LOG,
    FINISH_TYPES,
    LATEST_COMMENTS,
    MAX_COMMENT,
    SESSION_LEVEL,
    SESSIONS_LOG,
    TOP_CHOICES,
    TOP_ENCOUNTERS,
    TOP_FAILURES,
    EncounterAnalytics,
    EncounterPlays,
    FailurePoint,
    FailureReason,
    FeedbackComment,
    FeedbackInput,
    FeedbackSummary,
    GlobalStats,
    ObjectiveStats,
    PlayerStats,
    clean_comment,
)
from .recorder import AnalyticsRecorder

__all__ = [
    "EVENTS_LOG",
    "FINISH_TYPES",
    "LATEST_COMMENTS",
    "MAX_COMMENT",
    "SESSIONS_LOG",
    "SESSION_LEVEL",
    "TOP_CHOICES",
    "TOP_ENCOUNTERS",
    "TOP_FAILURES",
    "AnalyticsRecorder",
    "EncounterAnalytics",
    "EncounterPlays",
    "FailurePoint",
    "FailureReason",
    "FeedbackComment",
    "FeedbackInput",
    "FeedbackSummary",
    "GlobalStats",
    "ObjectiveStats",
    "PlayerStats",
    "TTLCache",
    "clean_comment",
]
