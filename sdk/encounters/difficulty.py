"""Dynamic difficulty: how hard a player's next encounter should be, from how their
last ones went.

Two policies sit behind :class:`DifficultyPolicy`:

- :class:`RulesPolicy` is the original design's rules, unchanged: a success rate under
  0.3 makes the next encounter 0.2 easier, over 0.8 makes it 0.2 harder, and finishing
  in under 0.7 of the expected time adds 0.1. Simple and predictable, but it jumps in
  steps and never settles on a success rate.
- :class:`RatingPolicy` rates the player with Glicko-2 (each result is a game against
  the encounter, whose rating is fixed by its difficulty) and picks the difficulty at
  which the player is expected to succeed ``target_success`` of the time. It converges
  on that rate for weak and strong players alike.

:class:`DifficultyManager` keeps one :class:`PlayerHistory` per player in the store
(document kind ``"difficulty"``, key = player id). Every recorded result updates the
player's Glicko-2 rating whichever policy is in use, so a game can switch policies
without losing what was learned.

A history can be kept in a scope (``scope=``, an opaque string; the daemon gives each
game server its own, ``server:<world>:<server id>``), so two games that use the same
player ids learn apart and one cannot read or change the other's record: a scoped
history is the document ``<scope>/<player id>`` (player ids hold no ``/``, so no two
scope and player pairs share a key, and none is an unscoped key). No scope (the
default, and all the SDK uses) is the namespace as before: existing histories are
read as they were. Limits: a scope is a namespace, not access control; whoever calls
the manager picks it.

Limits: a history keeps the last :data:`MAX_RESULTS` results (about 200 bytes each in
the store); older ones only survive in the rating and in ``recorded``. Updates of one
player are serialised per store object in one event loop; two processes writing the
same player's history can still lose a result (the store has no atomic document update).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NamedTuple, Protocol, Self
from weakref import WeakKeyDictionary

from pydantic import BaseModel, Field, model_validator

from ._util.locks import KeyedLocks
from .errors import FieldError, ValidationFailed
from .models import Session, SessionStatus
from .models.common import STRICT, Difficulty, Id, Timestamp, utcnow
from .storage.protocols import DocumentStore
from .validation import validate_model

#: Store document kind of player histories (the key is the player id, or
#: ``<scope>/<player id>`` in a scope: see :func:`history_key`).
KIND = "difficulty"
#: Results a history keeps (oldest are dropped first).
MAX_RESULTS = 200
#: Results the rules look at: the last 20, so a player's form two sessions ago matters
#: and their first week does not.
DEFAULT_WINDOW = 20
MIN_DIFFICULTY = 0.1
MAX_DIFFICULTY = 1.0

# -- Glicko-2 (Glickman, "Example of the Glicko-2 system", 2012) ---------------------------

#: Converts Glicko ratings to the Glicko-2 scale: mu = (r - 1500) / SCALE.
SCALE = 173.7178
DEFAULT_RATING = 1500.0
#: A new player's rating deviation; also the largest RD a rating can have.
DEFAULT_RD = 350.0
DEFAULT_VOLATILITY = 0.06
#: How fast volatility may change. Glickman suggests 0.3-1.2; 0.5 is his example's value
#: and keeps a player's rating from swinging on a lucky or unlucky streak.
TAU = 0.5
#: Convergence tolerance of the volatility iteration (the paper's value).
EPSILON = 1e-6

#: Encounter ratings: difficulty d maps linearly to 1000 + (d - 0.1) / 0.9 * 1200, so
#: 0.1 is 1000, 0.475 is 1500 (a new player's rating) and 1.0 is 2200. The span is
#: about 6.9 on the Glicko-2 scale: at equal skill a player beats 0.1 far more often
#: than 1.0, and every 0.1 of difficulty is ~133 rating points.
ENCOUNTER_RATING_MIN = 1000.0
ENCOUNTER_RATING_MAX = 2200.0
#: Uncertainty of that mapping, used as every encounter's rating deviation.
ENCOUNTER_RD = 50.0


class Glicko2Rating(BaseModel):
    """A Glicko-2 rating on the familiar scale (1500 is average)."""

    model_config = STRICT

    rating: Annotated[float, Field(allow_inf_nan=False)] = DEFAULT_RATING
    rd: Annotated[float, Field(gt=0, le=DEFAULT_RD, allow_inf_nan=False)] = DEFAULT_RD
    volatility: Annotated[float, Field(gt=0, le=1.0, allow_inf_nan=False)] = DEFAULT_VOLATILITY


class Game(NamedTuple):
    """One game of a rating period: the opponent's rating and RD, and the score
    (1 win, 0.5 draw, 0 loss)."""

    rating: float
    rd: float
    score: float


def _logistic(x: float) -> float:
    """1 / (1 + e^-x) without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


def _g(phi: float) -> float:
    return 1.0 / math.sqrt(1.0 + 3.0 * phi * phi / (math.pi * math.pi))


def _new_volatility(delta: float, phi: float, v: float, sigma: float, tau: float) -> float:
    """Step 5 of the paper: solve f(x) = 0 with the Illinois algorithm."""
    a = math.log(sigma * sigma)
    d2, p2 = delta * delta, phi * phi

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (d2 - p2 - v - ex) / (2.0 * (p2 + v + ex) ** 2) - (x - a) / (tau * tau)

    big_a = a
    if d2 > p2 + v:
        big_b = math.log(d2 - p2 - v)
    else:
        k = 1
        while f(a - k * tau) < 0:
            k += 1
        big_b = a - k * tau
    f_a, f_b = f(big_a), f(big_b)
    for _ in range(200):  # converges in well under 20 steps; the cap guards odd input
        if abs(big_b - big_a) <= EPSILON:
            break
        big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(big_c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a /= 2.0
        big_b, f_b = big_c, f_c
    return math.exp(big_a / 2.0)


def glicko2_update(
    player: Glicko2Rating, games: Sequence[Game], *, tau: float = TAU
) -> Glicko2Rating:
    """The player's rating after one rating period with ``games``; pure. With no
    games only the RD grows (by the volatility). RD is capped at :data:`DEFAULT_RD`."""
    mu = (player.rating - DEFAULT_RATING) / SCALE
    phi = player.rd / SCALE
    sigma = player.volatility
    v_inv = 0.0
    delta_sum = 0.0
    for game in games:
        mu_j = (game.rating - DEFAULT_RATING) / SCALE
        g = _g(game.rd / SCALE)
        e = _logistic(g * (mu - mu_j))
        v_inv += g * g * e * (1.0 - e)
        delta_sum += g * (game.score - e)
    if v_inv <= 0.0:  # no games, or opponents so far off that a result says nothing
        rd = math.sqrt(phi * phi + sigma * sigma) * SCALE
        return Glicko2Rating(rating=player.rating, rd=min(rd, DEFAULT_RD), volatility=sigma)
    v = 1.0 / v_inv
    new_sigma = _new_volatility(v * delta_sum, phi, v, sigma, tau)
    phi_star = math.sqrt(phi * phi + new_sigma * new_sigma)
    new_phi = 1.0 / math.sqrt(1.0 / (phi_star * phi_star) + v_inv)
    new_mu = mu + new_phi * new_phi * delta_sum
    return Glicko2Rating(
        rating=new_mu * SCALE + DEFAULT_RATING,
        rd=min(new_phi * SCALE, DEFAULT_RD),
        volatility=min(new_sigma, 1.0),
    )


def win_probability(player: Glicko2Rating, opponent_rating: float, opponent_rd: float) -> float:
    """Expected score of ``player`` against an opponent, counting both ratings'
    uncertainty (g of the combined deviation, as Glickman predicts a game): an
    uncertain rating predicts results closer to a coin toss."""
    phi = math.hypot(player.rd, opponent_rd) / SCALE
    return _logistic(_g(phi) * (player.rating - opponent_rating) / SCALE)


def difficulty_to_rating(difficulty: float) -> float:
    """The encounter rating of a difficulty (see :data:`ENCOUNTER_RATING_MIN`)."""
    span = ENCOUNTER_RATING_MAX - ENCOUNTER_RATING_MIN
    d_span = MAX_DIFFICULTY - MIN_DIFFICULTY
    return ENCOUNTER_RATING_MIN + (difficulty - MIN_DIFFICULTY) / d_span * span


def rating_to_difficulty(rating: float) -> float:
    """The inverse of :func:`difficulty_to_rating`, not clamped."""
    span = ENCOUNTER_RATING_MAX - ENCOUNTER_RATING_MIN
    d_span = MAX_DIFFICULTY - MIN_DIFFICULTY
    return MIN_DIFFICULTY + (rating - ENCOUNTER_RATING_MIN) / span * d_span


def clamp_difficulty(value: float) -> float:
    """``value`` within 0.1-1.0, rounded to 3 decimals (0.5 + 0.2 + 0.1 is 0.8, not
    0.7999999999999999)."""
    return round(min(MAX_DIFFICULTY, max(MIN_DIFFICULTY, value)), 3)


# -- models --------------------------------------------------------------------------------


class PerformanceRecord(BaseModel):
    """How one encounter went for a player. ``expected_seconds`` is how long it should
    take (the encounter's estimate by default); without it the speed rule does not
    apply. ``session_id``, when given, makes recording the same session twice a no-op."""

    model_config = STRICT

    encounter_id: Id
    session_id: Id | None = None
    success: bool
    completion_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    expected_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    objectives_completed: Annotated[int, Field(ge=0)] = 0
    objectives_total: Annotated[int, Field(ge=0)] = 0
    difficulty: Difficulty
    at: Timestamp = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _completed_within_total(self) -> Self:
        if self.objectives_completed > self.objectives_total:
            raise ValueError(
                f"objectives_completed: must be <= objectives_total ({self.objectives_total})"
            )
        return self


class PlayerHistory(BaseModel):
    """A player's recent results, oldest first (in the order they were recorded), and
    their Glicko-2 rating. ``recorded`` counts every result ever recorded, including
    those dropped beyond :data:`MAX_RESULTS`.

    There are no per-difficulty encounter ratings: encounters are rated by the fixed
    mapping :func:`difficulty_to_rating`. :class:`RatingPolicy` still reaches its
    target when the mapping is off, because the rating moves until the player's real
    success rate at the chosen difficulty matches the prediction."""

    model_config = STRICT

    player_id: Id
    results: Annotated[list[PerformanceRecord], Field(max_length=MAX_RESULTS)] = []
    recorded: Annotated[int, Field(ge=0)] = 0
    rating: Glicko2Rating = Field(default_factory=Glicko2Rating)

    @model_validator(mode="after")
    def _recorded_covers_results(self) -> Self:
        if self.recorded < len(self.results):
            raise ValueError(f"recorded: must be >= the number of results ({len(self.results)})")
        return self

    def recent(self, last: int | None = None) -> list[PerformanceRecord]:
        """The last ``last`` results (all kept results when None), oldest first."""
        if last is None:
            return list(self.results)
        if last < 1:
            raise ValueError("last must be >= 1")
        return self.results[-last:]

    def success_rate(self, last: int | None = None) -> float | None:
        """Share of successes among the last ``last`` results; None without results."""
        recent = self.recent(last)
        return sum(r.success for r in recent) / len(recent) if recent else None

    def average_completion_ratio(self, last: int | None = None) -> float | None:
        """Total time over total expected time of the *successful* results that have an
        expected time (a quick defeat is not a sign of skill); below 1 means faster
        than expected. None when no result qualifies."""
        timed = [r for r in self.recent(last) if r.success and r.expected_seconds is not None]
        expected = sum(r.expected_seconds or 0.0 for r in timed)
        return sum(r.completion_seconds for r in timed) / expected if timed else None

    def objective_rate(self, last: int | None = None) -> float | None:
        """Share of objectives completed (optional ones included); None when the
        results hold no objectives."""
        recent = self.recent(last)
        total = sum(r.objectives_total for r in recent)
        return sum(r.objectives_completed for r in recent) / total if total else None

    def with_result(self, record: PerformanceRecord, *, tau: float = TAU) -> PlayerHistory:
        """A new history with ``record`` appended (the oldest dropped beyond
        :data:`MAX_RESULTS`) and the rating updated by one Glicko-2 period holding one
        game against the encounter (win = success); pure."""
        game = Game(difficulty_to_rating(record.difficulty), ENCOUNTER_RD, float(record.success))
        return self.model_copy(
            update={
                "results": [*self.results[-(MAX_RESULTS - 1) :], record],
                "recorded": self.recorded + 1,
                "rating": glicko2_update(self.rating, [game], tau=tau),
            }
        )


# -- policies ------------------------------------------------------------------------------


class DifficultyPolicy(Protocol):
    def adjust(self, history: PlayerHistory, base: float) -> float:
        """The difficulty (0.1-1.0) for the player's next encounter, given the game's
        ``base`` difficulty (0-1). Pure: must not change ``history``."""
        ...


class RulesPolicy:
    """The original design's rules, over the last ``window`` results: success rate
    < 0.3 gives -0.2, > 0.8 gives +0.2; an average completion time under 0.7 of the
    expected time (successful results only, see
    :meth:`PlayerHistory.average_completion_ratio`) adds 0.1. The result is clamped to
    0.1-1.0. Without results the base is returned (clamped). Like the original, the
    rules act from the first result on: one early defeat makes the next one easier."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValidationFailed("RulesPolicy", [FieldError("window", "must be >= 1")])
        self.window = window

    def adjust(self, history: PlayerHistory, base: float) -> float:
        rate = history.success_rate(self.window)
        if rate is None:
            return clamp_difficulty(base)
        adjustment = 0.0
        if rate < 0.3:
            adjustment = -0.2
        elif rate > 0.8:
            adjustment = 0.2
        ratio = history.average_completion_ratio(self.window)
        if ratio is not None and ratio < 0.7:
            adjustment += 0.1
        return clamp_difficulty(base + adjustment)


class RatingPolicy:
    """The difficulty at which the player's Glicko-2 expected score
    (:func:`win_probability` against the encounter rating) equals ``target_success``,
    clamped to 0.1-1.0. The expected score falls as difficulty rises, so the solution
    is exact, not searched. Before the first result the base is returned (clamped); a
    new player's wide RD then pulls the pick toward easier (target above 0.5) until
    the rating firms up. The base is otherwise ignored."""

    def __init__(self, target_success: float = 0.75) -> None:
        if not 0.0 < target_success < 1.0:  # also refuses NaN
            raise ValidationFailed(
                "RatingPolicy", [FieldError("target_success", "must be > 0 and < 1")]
            )
        self.target_success = float(target_success)

    def difficulty_for(self, rating: Glicko2Rating) -> float:
        """The difficulty for a player with ``rating``; pure."""
        g = _g(math.hypot(rating.rd, ENCOUNTER_RD) / SCALE)
        logit = math.log(self.target_success / (1.0 - self.target_success))
        encounter_rating = rating.rating - SCALE * logit / g
        return clamp_difficulty(rating_to_difficulty(encounter_rating))

    def adjust(self, history: PlayerHistory, base: float) -> float:
        if not history.results:
            return clamp_difficulty(base)
        return self.difficulty_for(history.rating)


# -- sessions and prompts ------------------------------------------------------------------


def record_from_session(
    session: Session, expected_seconds: float | None = None
) -> PerformanceRecord:
    """A record of a finished session: success when it was completed (failed and
    abandoned both count as failures), its duration from start to end, and how many
    of its objectives (optional ones included) were done. ``expected_seconds``
    defaults to the encounter's ``estimated_duration``."""
    if not session.status.finished:
        raise ValidationFailed(
            "session",
            [
                FieldError(
                    "status",
                    f"is {session.status.value}; record a session once it is completed, "
                    "failed or abandoned",
                )
            ],
        )
    ended = session.ended_at or session.updated_at
    expected = (
        expected_seconds
        if expected_seconds is not None
        else session.encounter.estimated_duration * 60.0
    )
    data = {
        "encounter_id": session.encounter.id,
        "session_id": session.id,
        "success": session.status is SessionStatus.COMPLETED,
        "completion_seconds": max(0.0, (ended - session.created_at).total_seconds()),
        "expected_seconds": expected,
        "objectives_completed": sum(p.completed for p in session.objectives.values()),
        "objectives_total": len(session.objectives),
        "difficulty": session.difficulty,
        "at": ended,
    }
    return validate_model(PerformanceRecord, data, "performance record")


def prompt_line(
    difficulty: float, history: PlayerHistory | None = None, *, window: int = DEFAULT_WINDOW
) -> str:
    """The original design's prompt sentence, plus the player's recent record when
    ``history`` is given. Holds only numbers, so it is safe to put in a prompt."""
    if isinstance(difficulty, bool) or not isinstance(difficulty, int | float):
        raise _bad("difficulty", "must be a number between 0.1 and 1.0")
    if not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:  # also refuses NaN
        raise _bad("difficulty", "must be between 0.1 and 1.0")
    line = f"Generate an encounter with difficulty {difficulty:.2f} (0.1=very easy, 1.0=very hard)."
    if history is None:
        return line
    recent = history.recent(window)
    if not recent:
        return f"{line} The player has no recorded encounters yet."
    won = sum(r.success for r in recent)
    return (
        f"{line} The player won {won} of their last {len(recent)} encounters "
        f"({won / len(recent):.0%}; {history.recorded} played in all)."
    )


def _bad(path: str, message: str) -> ValidationFailed:
    return ValidationFailed("argument", [FieldError(path, message)])


def _empty_history(player_id: object) -> PlayerHistory:
    """A new history; validates the id (the error names ``player_id``)."""
    return validate_model(PlayerHistory, {"player_id": player_id}, "argument")


def history_key(player_id: str, scope: str | None = None) -> str:
    """The store key of a (validated) player's history: the player id, or
    ``<scope>/<player id>`` in a scope. Player ids hold no ``/``
    (:data:`~encounters.models.common.ID_PATTERN`), so the last ``/`` splits a scoped
    key unambiguously and an unscoped key never equals a scoped one. An empty scope is
    refused (it would read as no scope)."""
    if scope is None:
        return player_id
    if not isinstance(scope, str) or not scope:
        raise _bad("scope", "must be a non-empty string or None")
    return f"{scope}/{player_id}"


# -- manager -------------------------------------------------------------------------------


#: Per store, the locks of histories being recorded right now, shared by every manager
#: on that store object. A history's lock lives only while someone holds or waits for
#: it, so memory follows concurrent writers, not players.
_LOCKS: WeakKeyDictionary[DocumentStore, KeyedLocks[str]] = WeakKeyDictionary()


class DifficultyManager:
    """Difficulty per player, with histories kept in ``store``, each in its scope (see
    the module; ``scope=None``: the unscoped namespace). Safe for concurrent use by the
    tasks of one event loop, also across managers sharing a store object; not
    thread-safe."""

    def __init__(self, store: DocumentStore, policy: DifficultyPolicy | None = None) -> None:
        self.store = store
        self.policy: DifficultyPolicy = policy if policy is not None else RulesPolicy()

    async def history(self, player_id: str, *, scope: str | None = None) -> PlayerHistory:
        """The player's history in ``scope``; an empty one for a player never recorded
        there."""
        empty = _empty_history(player_id)
        key = history_key(empty.player_id, scope)
        stored = await self.store.get_document(KIND, key, PlayerHistory)
        return stored if stored is not None else empty

    async def calculate_difficulty(
        self, player_id: str, base: float = 0.5, *, scope: str | None = None
    ) -> float:
        """The difficulty (0.1-1.0) for the player's next encounter, from their history
        in ``scope``. ``base`` (0-1) is what the game would pick without adjustment."""
        _check_base(base)
        return self.difficulty_for(await self.history(player_id, scope=scope), base)

    def difficulty_for(self, history: PlayerHistory, base: float = 0.5) -> float:
        """The policy's difficulty (0.1-1.0) for a player with ``history`` (an empty
        history: ``base``, clamped); no store access."""
        _check_base(base)
        value = self.policy.adjust(history, float(base))
        if not math.isfinite(value):
            raise ValueError(f"{type(self.policy).__name__}.adjust returned {value!r}")
        return clamp_difficulty(value)

    async def record_performance(
        self,
        player_id: str,
        record: PerformanceRecord | Mapping[str, Any],
        *,
        scope: str | None = None,
    ) -> PlayerHistory:
        """Add a result to the player's history in ``scope``, update their rating,
        store and return the history. A record whose ``session_id`` is already in the
        history is not added twice (the stored history is returned)."""
        data = record.model_dump() if isinstance(record, PerformanceRecord) else record
        checked = validate_model(PerformanceRecord, data, "performance record")
        player = _empty_history(player_id).player_id
        key = history_key(player, scope)
        async with _LOCKS.setdefault(self.store, KeyedLocks()).hold(key):
            history = await self.history(player, scope=scope)
            if checked.session_id is not None and any(
                r.session_id == checked.session_id for r in history.results
            ):
                return history
            updated = history.with_result(checked)
            await self.store.save_document(KIND, key, updated)
        return updated

    async def record_session(
        self,
        session: Session,
        expected_seconds: float | None = None,
        *,
        scope: str | None = None,
    ) -> PlayerHistory:
        """:func:`record_from_session`, recorded for the session's player in
        ``scope``."""
        return await self.record_performance(
            session.player_id, record_from_session(session, expected_seconds), scope=scope
        )

    def prompt_line(self, difficulty: float, history: PlayerHistory | None = None) -> str:
        """See :func:`prompt_line`."""
        return prompt_line(difficulty, history)


def _check_base(base: object) -> None:
    if isinstance(base, bool) or not isinstance(base, int | float):
        raise _bad("base", "must be a number between 0 and 1")
    if not 0.0 <= base <= 1.0:  # also refuses NaN
        raise _bad("base", "must be between 0 and 1")


__all__ = [
    "DEFAULT_WINDOW",
    "ENCOUNTER_RD",
    "KIND",
    "MAX_DIFFICULTY",
    "MAX_RESULTS",
    "MIN_DIFFICULTY",
    "SCALE",
    "TAU",
    "DifficultyManager",
    "DifficultyPolicy",
    "Game",
    "Glicko2Rating",
    "PerformanceRecord",
    "PlayerHistory",
    "RatingPolicy",
    "RulesPolicy",
    "clamp_difficulty",
    "difficulty_to_rating",
    "glicko2_update",
    "history_key",
    "prompt_line",
    "rating_to_difficulty",
    "record_from_session",
    "win_probability",
]
