"""Platform (deployment) metrics over a time range, and their Prometheus exposition.

``await platform_metrics(store, since, until)`` computes session length, D1 and D7
retention, abuse rate, moderation MTTR, crash rate, user touch and ship cadence from
what the store holds:

- the ``analytics_sessions`` log written by :class:`~encounters.analytics.AnalyticsRecorder`
  (sessions started and finished, encounters generated, content published);
- the moderation audit log (``store.list_audit``);
- persona records (``store.list_personas``) and companion sessions
  (``store.list_companions``) of the deployment flow.

Every formula, its source and its limits are in ``docs/metrics.md``. Times are UTC;
a naive ``since``/``until`` is taken as UTC. The range is half-open: ``since <= t <
until``.
"""

from __future__ import annotations

import math
import re
import statistics
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel

from .analytics import FINISH_TYPES, SESSIONS_LOG
from .errors import FieldError, ValidationFailed
from .models import utcnow
from .storage.protocols import MetricsStore

#: Audit entry kinds that are moderation decisions ("event" and "link" entries are
#: bookkeeping of the bridge and always "allow"). "listing" and "review" are the
#: marketplace's submissions; a "report" is a user's abuse report, logged as a block.
MODERATION_KINDS = frozenset({"message", "action", "persona", "listing", "review", "report"})
#: An abandoned session whose reason matches this counts as a crash.
CRASH_REASON = re.compile(
    r"crash|disconnect|lost connection|connection (?:lost|reset|dropped|closed)", re.IGNORECASE
)
_PAGE = 5000
_WEEK = timedelta(days=7)


class PlatformMetrics(BaseModel):
    """The deployment metrics of the original design over ``[since, until)``. Rates
    are ratios in 0..1 and ``None`` when their denominator is 0."""

    since: datetime
    until: datetime
    computed_at: datetime
    # session length (finished sessions)
    sessions_finished: int = 0
    session_length_median: float | None = None
    session_length_mean: float | None = None
    # retention
    d1_cohort: int = 0
    d1_retained: int = 0
    d1_retention: float | None = None
    d7_cohort: int = 0
    d7_retained: int = 0
    d7_retention: float | None = None
    # moderation
    moderation_decisions: int = 0
    moderation_blocked: int = 0
    moderation_sanitized: int = 0
    abuse_reports: int = 0
    abuse_rate: float | None = None
    personas_approved: int = 0
    personas_rejected: int = 0
    personas_pending: int = 0
    moderation_mttr_seconds: float | None = None
    # crashes
    sessions_crashed: int = 0
    companion_sessions: int = 0
    companions_crashed: int = 0
    crash_rate: float | None = None
    # reach and output
    user_touch: int = 0
    encounters_generated: int = 0
    template_encounters_generated: int = 0
    encounters_published: int = 0
    templates_published: int = 0
    weeks: float = 0.0
    encounters_generated_per_week: float = 0.0
    encounters_published_per_week: float = 0.0
    templates_published_per_week: float = 0.0


def _utc(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationFailed("argument", [FieldError(name, "must be a datetime")])
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def platform_metrics(
    store: MetricsStore,
    since: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
    spawn_timeout: float = 120.0,
    orphan_after: float = 86_400.0,
) -> PlatformMetrics:
    """The platform metrics over ``[since, until)`` (see ``docs/metrics.md``).

    ``spawn_timeout``: seconds after which a companion still ``spawning`` counts as
    crashed; ``orphan_after``: seconds after which a companion not ``ended`` counts as
    crashed. Both are judged at ``min(until, now)``."""
    since, until = _utc(since, "since"), _utc(until, "until")
    if since >= until:
        raise ValidationFailed("argument", [FieldError("until", "must be after since")])
    now = _utc(now, "now") if now is not None else utcnow()
    out = PlatformMetrics(since=since, until=until, computed_at=now)

    # -- the analytics sessions log ---------------------------------------------------
    first_start: dict[str, datetime] = {}
    play_days: dict[str, set[date]] = {}
    touched: set[str] = set()
    durations: list[float] = []
    cursor = 0
    while True:
        rows = await store.list_events(SESSIONS_LOG, after_id=cursor, limit=_PAGE)
        for row in rows:
            cursor = row.id
            d, player, at = row.data, row.key, row.at
            kind = d.get("type")
            inside = since <= at < until
            if kind == "session.started" and player is not None:
                seen = first_start.get(player)
                if seen is None or at < seen:
                    first_start[player] = at
                play_days.setdefault(player, set()).add(at.astimezone(UTC).date())
                if inside:
                    touched.add(player)
            elif not inside:
                continue
            elif kind in FINISH_TYPES:
                if player is not None:
                    touched.add(player)
                duration = d.get("duration")
                if isinstance(duration, int | float) and math.isfinite(duration):
                    durations.append(float(duration))
                out.sessions_finished += 1
                reason = d.get("reason")
                if (
                    FINISH_TYPES[kind] == "abandoned"
                    and isinstance(reason, str)
                    and CRASH_REASON.search(reason)
                ):
                    out.sessions_crashed += 1
            elif kind == "encounter.generated":
                out.encounters_generated += 1
                if d.get("generator") == "template":
                    out.template_encounters_generated += 1
            elif kind == "published":
                if d.get("item") == "encounter":
                    out.encounters_published += 1
                elif d.get("item") == "template":
                    out.templates_published += 1
        if len(rows) < _PAGE:
            break

    if durations:
        out.session_length_median = statistics.median(durations)
        out.session_length_mean = statistics.fmean(durations)
    out.user_touch = len(touched)

    # D1: played on day0+1; D7: played on any of day0+1..day0+7. A player is in the
    # cohort when first seen in the range and the whole window ends by `until`.
    for player, first in first_start.items():
        if not since <= first < until:
            continue
        day0 = first.astimezone(UTC).date()
        days = play_days[player]
        if _day_start(day0 + timedelta(days=2)) <= until:
            out.d1_cohort += 1
            out.d1_retained += (day0 + timedelta(days=1)) in days
        if _day_start(day0 + timedelta(days=8)) <= until:
            out.d7_cohort += 1
            out.d7_retained += any(day0 + timedelta(days=k) in days for k in range(1, 8))
    out.d1_retention = _ratio(out.d1_retained, out.d1_cohort)
    out.d7_retention = _ratio(out.d7_retained, out.d7_cohort)

    # -- moderation: the audit log and persona records --------------------------------
    after = 0
    while True:
        entries = await store.list_audit(after_seq=after, limit=1000)
        for entry in entries:
            if entry.kind in MODERATION_KINDS and since <= entry.at < until:
                out.moderation_decisions += 1
                out.moderation_blocked += entry.decision == "block"
                out.moderation_sanitized += entry.decision == "sanitize"
                out.abuse_reports += entry.kind == "report"
        if len(entries) < 1000 or entries[-1].seq is None:
            break
        after = entries[-1].seq
    out.abuse_rate = _ratio(out.moderation_blocked, out.moderation_decisions)

    waits: list[float] = []
    for record in await store.list_personas():
        if record.status == "approved" and record.approved_at is not None:
            if since <= record.approved_at < until:
                out.personas_approved += 1
                waits.append((record.approved_at - record.submitted_at).total_seconds())
        elif record.status == "rejected":
            out.personas_rejected += since <= record.submitted_at < until
        elif record.status == "pending_moderation" and record.submitted_at < until:
            out.personas_pending += 1
    out.moderation_mttr_seconds = statistics.fmean(waits) if waits else None

    # -- crashes: game sessions and companion sessions --------------------------------
    judged_at = min(until, now)
    for companion in await store.list_companions():
        if not since <= companion.started_at < until:
            continue
        out.companion_sessions += 1
        if companion.status == "ended":
            continue
        age = (judged_at - companion.started_at).total_seconds()
        if (companion.status == "spawning" and age > spawn_timeout) or age > orphan_after:
            out.companions_crashed += 1
    out.crash_rate = _ratio(
        out.sessions_crashed + out.companions_crashed,
        out.sessions_finished + out.companion_sessions,
    )

    # -- ship cadence -------------------------------------------------------------------
    out.weeks = (until - since) / _WEEK
    out.encounters_generated_per_week = out.encounters_generated / out.weeks
    out.encounters_published_per_week = out.encounters_published / out.weeks
    out.templates_published_per_week = out.templates_published / out.weeks
    return out


#: (metric name, field of PlatformMetrics, help text); every metric is a gauge.
PROMETHEUS_METRICS: tuple[tuple[str, str, str], ...] = (
    ("ae_sessions_finished", "sessions_finished", "Sessions finished in the window."),
    ("ae_session_length_median_seconds", "session_length_median",
     "Median length of sessions finished in the window, in seconds."),
    ("ae_session_length_mean_seconds", "session_length_mean",
     "Mean length of sessions finished in the window, in seconds."),
    ("ae_retention_d1_ratio", "d1_retention",
     "Share of players first seen in the window who played again the next UTC day."),
    ("ae_retention_d1_cohort_players", "d1_cohort", "Players in the D1 retention cohort."),
    ("ae_retention_d7_ratio", "d7_retention",
     "Share of players first seen in the window who played again within 7 UTC days."),
    ("ae_retention_d7_cohort_players", "d7_cohort", "Players in the D7 retention cohort."),
    ("ae_window_moderation_decisions", "moderation_decisions",
     "Moderation decisions (message, action, persona) in the window."),
    ("ae_window_moderation_blocked", "moderation_blocked",
     "Moderation decisions in the window that blocked."),
    ("ae_abuse_rate_ratio", "abuse_rate",
     "Blocked moderation decisions and abuse reports / all decisions and reports."),
    ("ae_window_abuse_reports", "abuse_reports", "Abuse reports filed in the window."),
    ("ae_moderation_mttr_seconds", "moderation_mttr_seconds",
     "Mean seconds from persona submission to approval, for approvals in the window."),
    ("ae_personas_pending", "personas_pending", "Personas waiting for an admin's approval."),
    ("ae_crash_rate_ratio", "crash_rate",
     "Crashed sessions and companions / finished sessions and started companions."),
    ("ae_user_touch_players", "user_touch",
     "Distinct players with a session started or finished in the window."),
    ("ae_window_encounters_generated", "encounters_generated_per_week",
     "Encounters generated in the window."),
    ("ae_window_encounters_published", "encounters_published_per_week",
     "Encounters published in the window."),
    ("ae_window_templates_published", "templates_published_per_week",
     "Templates published in the window."),
    ("ae_metrics_window_seconds", "", "Length of the window the metrics cover, in seconds."),
)  # fmt: skip


def _number(value: object) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    raise TypeError(f"not a number: {value!r}")


def prometheus_text(metrics: PlatformMetrics) -> str:
    """The metrics in the Prometheus text exposition format (version 0.0.4): a HELP
    and a TYPE line and one sample per gauge; unknown values (no denominator) are
    ``NaN``. Names follow Prometheus conventions: base units (seconds, ratios), and the
    ``*_per_week`` fields as counts over the window (``ae_window_*``)."""
    lines: list[str] = []
    window = (metrics.until - metrics.since).total_seconds()
    for name, attr, help_text in PROMETHEUS_METRICS:
        value = getattr(metrics, attr) if attr else window
        if attr.endswith("_per_week") and isinstance(value, int | float):
            value = round(value * window / (7 * 86400), 6)  # a count over the window
        escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        lines += [f"# HELP {name} {escaped}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return "\n".join(lines) + "\n"
