"""Dynamic difficulty: the original rules, Glicko-2, the rating policy's convergence on
a simulated population, persistence, concurrency and bad input."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from encounters import EncounterSpec, Session, SessionStatus, ValidationFailed
from encounters.difficulty import (
    ENCOUNTER_RD,
    KIND,
    MAX_RESULTS,
    SCALE,
    DifficultyManager,
    Game,
    Glicko2Rating,
    PerformanceRecord,
    PlayerHistory,
    RatingPolicy,
    RulesPolicy,
    difficulty_to_rating,
    glicko2_update,
    history_key,
    prompt_line,
    rating_to_difficulty,
    record_from_session,
    win_probability,
)
from encounters.models import ObjectiveProgress
from encounters.storage import MemoryStore, Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # SQLiteStore runs on aiosqlite


def rec(
    success: bool,
    *,
    seconds: float = 600.0,
    expected: float | None = 600.0,
    difficulty: float = 0.5,
    i: int = 0,
    session_id: str | None = None,
) -> PerformanceRecord:
    return PerformanceRecord(
        encounter_id=f"enc_{i}",
        session_id=session_id,
        success=success,
        completion_seconds=seconds,
        expected_seconds=expected,
        objectives_completed=1 if success else 0,
        objectives_total=1,
        difficulty=difficulty,
        at=T0 + timedelta(minutes=i),
    )


def history_of(*records: PerformanceRecord) -> PlayerHistory:
    h = PlayerHistory(player_id="alice")
    for r in records:
        h = h.with_result(r)
    return h


def outcomes(wins: int, losses: int, **kw: Any) -> list[PerformanceRecord]:
    return [rec(True, i=i, **kw) for i in range(wins)] + [
        rec(False, i=wins + i, **kw) for i in range(losses)
    ]


def field_paths(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [e.path for e in exc.value.errors]


# -- the original rules --------------------------------------------------------------------

RULES = RulesPolicy()


def test_rules_no_history_keeps_the_base() -> None:
    empty = PlayerHistory(player_id="alice")
    assert RULES.adjust(empty, 0.5) == 0.5
    assert RULES.adjust(empty, 0.05) == 0.1  # clamped
    assert RULES.adjust(empty, 1.0) == 1.0


def test_rules_low_success_makes_it_easier_by_0_2() -> None:
    assert RULES.adjust(history_of(*outcomes(1, 9)), 0.5) == 0.3


def test_rules_high_success_makes_it_harder_by_0_2() -> None:
    assert RULES.adjust(history_of(*outcomes(9, 1)), 0.5) == 0.7


def test_rules_middling_success_and_exact_thresholds_change_nothing() -> None:
    assert RULES.adjust(history_of(*outcomes(5, 5)), 0.5) == 0.5
    assert RULES.adjust(history_of(*outcomes(3, 7)), 0.5) == 0.5  # 0.3 is not < 0.3
    assert RULES.adjust(history_of(*outcomes(8, 2)), 0.5) == 0.5  # 0.8 is not > 0.8


def test_rules_fast_completion_adds_0_1() -> None:
    fast = outcomes(5, 5, seconds=300.0, expected=600.0)  # successes took half the time
    assert RULES.adjust(history_of(*fast), 0.5) == 0.6
    # 0.7 of the expected time is not fast enough
    assert RULES.adjust(history_of(*outcomes(5, 5, seconds=420.0)), 0.5) == 0.5


def test_rules_combine() -> None:
    assert RULES.adjust(history_of(*outcomes(9, 1, seconds=100.0)), 0.5) == 0.8
    # a low success rate but quick wins: -0.2 + 0.1
    assert RULES.adjust(history_of(*outcomes(2, 8, seconds=100.0)), 0.5) == 0.4


def test_rules_clamp_at_both_ends() -> None:
    assert RULES.adjust(history_of(*outcomes(0, 10)), 0.2) == 0.1
    assert RULES.adjust(history_of(*outcomes(10, 0, seconds=60.0)), 0.9) == 1.0


def test_rules_speed_ignores_defeats_and_untimed_results() -> None:
    quick_defeats = [rec(False, seconds=10.0, i=i) for i in range(5)]
    slow_wins = [rec(True, seconds=900.0, i=5 + i) for i in range(5)]
    assert RULES.adjust(history_of(*quick_defeats, *slow_wins), 0.5) == 0.5
    untimed = outcomes(5, 5, seconds=10.0, expected=None)
    assert RULES.adjust(history_of(*untimed), 0.5) == 0.5


def test_rules_look_at_the_last_20_results_only() -> None:
    old_wins = outcomes(30, 0)
    recent_losses = [rec(False, i=100 + i) for i in range(20)]
    h = history_of(*old_wins, *recent_losses)
    assert h.success_rate() == 0.6 and h.success_rate(20) == 0.0
    assert RULES.adjust(h, 0.5) == 0.3
    assert RulesPolicy(window=50).adjust(h, 0.5) == 0.5


# -- history model -------------------------------------------------------------------------


def test_history_keeps_the_last_200_and_counts_all() -> None:
    h = history_of(*[rec(i % 2 == 0, i=i) for i in range(MAX_RESULTS + 25)])
    assert len(h.results) == MAX_RESULTS and h.recorded == MAX_RESULTS + 25
    assert h.results[0].encounter_id == "enc_25"  # oldest first, the first 25 dropped
    assert h.results[-1].encounter_id == f"enc_{MAX_RESULTS + 24}"


def test_history_helpers() -> None:
    empty = PlayerHistory(player_id="alice")
    assert empty.success_rate() is None
    assert empty.average_completion_ratio() is None
    assert empty.objective_rate() is None
    h = history_of(rec(True, seconds=300.0), rec(True, seconds=900.0, expected=1200.0), rec(False))
    assert h.success_rate() == pytest.approx(2 / 3)
    assert h.average_completion_ratio() == pytest.approx(1200.0 / 1800.0)
    assert h.objective_rate() == pytest.approx(2 / 3)
    assert h.success_rate(1) == 0.0
    with pytest.raises(ValueError):
        h.recent(0)


def test_with_result_is_pure() -> None:
    h = PlayerHistory(player_id="alice")
    h2 = h.with_result(rec(True))
    assert h.results == [] and h.recorded == 0 and h.rating == Glicko2Rating()
    assert len(h2.results) == 1 and h2.rating.rating > 1500 and h2.rating.rd < 350


# -- Glicko-2 ------------------------------------------------------------------------------


def test_glicko2_reproduces_glickmans_worked_example() -> None:
    player = Glicko2Rating(rating=1500.0, rd=200.0, volatility=0.06)
    games = [Game(1400.0, 30.0, 1.0), Game(1550.0, 100.0, 0.0), Game(1700.0, 300.0, 0.0)]
    new = glicko2_update(player, games, tau=0.5)
    # the paper rounds mu' to -0.2069 before converting, hence 1464.06 vs 1464.0507
    assert new.rating == pytest.approx(1464.06, abs=0.02)
    assert new.rd == pytest.approx(151.52, abs=0.01)
    assert new.volatility == pytest.approx(0.05999, abs=1e-5)


def test_glicko2_without_games_only_widens_rd_up_to_350() -> None:
    player = Glicko2Rating(rating=1700.0, rd=200.0, volatility=0.06)
    idle = glicko2_update(player, [])
    assert idle.rating == 1700.0
    assert idle.rd == pytest.approx(math.hypot(200.0 / SCALE, 0.06) * SCALE)
    assert glicko2_update(Glicko2Rating(), []).rd == 350.0


def test_glicko2_extreme_gap_does_not_overflow() -> None:
    new = glicko2_update(Glicko2Rating(rating=-200000.0), [Game(200000.0, 30.0, 1.0)])
    assert math.isfinite(new.rating) and math.isfinite(new.rd)


def test_mapping_is_linear_1000_to_2200() -> None:
    assert difficulty_to_rating(0.1) == pytest.approx(1000.0)
    assert difficulty_to_rating(1.0) == pytest.approx(2200.0)
    assert difficulty_to_rating(0.475) == pytest.approx(1500.0)
    for d in (0.1, 0.33, 0.8, 1.0):
        assert rating_to_difficulty(difficulty_to_rating(d)) == pytest.approx(d)


# -- the rating policy ---------------------------------------------------------------------


def test_rating_policy_keeps_the_base_until_the_first_result() -> None:
    empty = PlayerHistory(player_id="alice")
    assert RatingPolicy().adjust(empty, 0.6) == 0.6
    assert RatingPolicy().adjust(empty, 0.0) == 0.1


def test_rating_policy_picks_the_difficulty_with_the_target_expectation() -> None:
    for target in (0.5, 0.75, 0.9):
        policy = RatingPolicy(target)
        for rating in (
            Glicko2Rating(rating=1600.0, rd=60.0),
            Glicko2Rating(rating=1700.0, rd=300.0),
        ):
            d = policy.difficulty_for(rating)
            assert 0.1 < d < 1.0
            e = win_probability(rating, difficulty_to_rating(d), ENCOUNTER_RD)
            assert e == pytest.approx(target, abs=0.002)  # d is rounded to 0.001
    # out of reach: clamped
    assert RatingPolicy().difficulty_for(Glicko2Rating(rating=3500.0, rd=50.0)) == 1.0
    assert RatingPolicy().difficulty_for(Glicko2Rating(rating=200.0, rd=50.0)) == 0.1
    # an uncertain rating is treated more gently than a firm one at the same value
    firm = RatingPolicy().difficulty_for(Glicko2Rating(rating=1600.0, rd=50.0))
    loose = RatingPolicy().difficulty_for(Glicko2Rating(rating=1600.0, rd=300.0))
    assert loose < firm


def simulate(
    target: float, *, seed: int, slope: float = 1.0, players: int = 60, games: int = 150
) -> tuple[float, list[tuple[float, float]]]:
    """Players of hidden skill (Glicko ratings 1250-2150, weak to strong) each play
    ``games`` encounters at the policy's difficulty; success ~ Bernoulli(logistic(
    slope * (skill - encounter rating) / SCALE)). ``slope`` != 1 is a world whose
    difficulties are steeper or flatter than the mapping assumes. Returns the success
    rate over the last third of all games, and (skill, mean of the last 10
    difficulties) per player."""
    rng = random.Random(seed)
    policy = RatingPolicy(target)
    late: list[bool] = []
    finals: list[tuple[float, float]] = []
    for p in range(players):
        skill = 1250.0 + 900.0 * p / (players - 1)
        h = PlayerHistory(player_id=f"p{p}")
        played: list[float] = []
        for g in range(games):
            d = policy.adjust(h, 0.5)
            chance = 1.0 / (1.0 + math.exp(-slope * (skill - difficulty_to_rating(d)) / SCALE))
            success = rng.random() < chance
            record = PerformanceRecord(
                encounter_id="enc_sim", success=success, completion_seconds=60.0, difficulty=d
            )
            h = h.with_result(record)
            played.append(d)
            if g >= games * 2 // 3:
                late.append(success)
        finals.append((skill, statistics.mean(played[-10:])))
    return sum(late) / len(late), finals


@pytest.mark.parametrize(("target", "seed"), [(0.75, 1), (0.75, 7), (0.5, 3)])
def test_rating_policy_converges_on_the_target_success_rate(target: float, seed: int) -> None:
    rate, finals = simulate(target, seed=seed)
    assert rate == pytest.approx(target, abs=0.05)
    skills = [s for s, _ in finals]
    levels = [d for _, d in finals]
    assert statistics.correlation(skills, levels) > 0.9
    third = len(finals) // 3
    weak, middle, strong = (statistics.mean(levels[i * third : (i + 1) * third]) for i in range(3))
    assert weak < middle < strong
    assert strong - weak > 0.3


@pytest.mark.parametrize("slope", [0.5, 2.0])
def test_rating_policy_still_converges_when_the_mapping_is_off(slope: float) -> None:
    rate, finals = simulate(0.75, seed=11, slope=slope)
    assert rate == pytest.approx(0.75, abs=0.05)
    assert statistics.correlation([s for s, _ in finals], [d for _, d in finals]) > 0.9


def test_rating_policy_is_deterministic() -> None:
    assert simulate(0.75, seed=5, players=5) == simulate(0.75, seed=5, players=5)


# -- sessions and prompt -------------------------------------------------------------------


def finished_session(spec: EncounterSpec, status: SessionStatus, minutes: float) -> Session:
    session = Session.start("alice", spec)
    session.created_at = T0
    session.objectives["obj_1"] = ObjectiveProgress(progress=3, completed=True, completed_at=T0)
    session.status = status
    session.ended_at = T0 + timedelta(minutes=minutes)
    session.updated_at = session.ended_at
    return session


def test_record_from_a_completed_session(spec: EncounterSpec) -> None:
    session = finished_session(spec, SessionStatus.COMPLETED, 5)
    r = record_from_session(session)
    assert r.success and r.session_id == session.id and r.encounter_id == spec.id
    assert r.completion_seconds == 300.0
    assert r.expected_seconds == spec.estimated_duration * 60.0
    assert (r.objectives_completed, r.objectives_total) == (1, 2)  # the optional one is open
    assert r.difficulty == session.difficulty and r.at == session.ended_at
    assert record_from_session(session, expected_seconds=120.0).expected_seconds == 120.0


def test_record_from_failed_abandoned_and_active_sessions(spec: EncounterSpec) -> None:
    for status in (SessionStatus.FAILED, SessionStatus.ABANDONED):
        assert not record_from_session(finished_session(spec, status, 2)).success
    with pytest.raises(ValidationFailed) as exc:
        record_from_session(Session.start("alice", spec))
    assert field_paths(exc) == ["status"]
    with pytest.raises(ValidationFailed) as exc:
        record_from_session(finished_session(spec, SessionStatus.FAILED, 1), expected_seconds=0)
    assert field_paths(exc) == ["expected_seconds"]


def test_prompt_line() -> None:
    base = "Generate an encounter with difficulty 0.70 (0.1=very easy, 1.0=very hard)."
    assert prompt_line(0.7) == base
    empty = PlayerHistory(player_id="alice")
    assert prompt_line(0.7, empty) == f"{base} The player has no recorded encounters yet."
    h = history_of(*outcomes(30, 0), *outcomes(5, 15))
    assert prompt_line(0.7, h) == (
        f"{base} The player won 5 of their last 20 encounters (25%; 50 played in all)."
    )
    manager = DifficultyManager(MemoryStore())
    assert manager.prompt_line(0.7, h) == prompt_line(0.7, h)


# -- the manager ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_manager_records_and_adjusts_with_the_rules_by_default() -> None:
    manager = DifficultyManager(MemoryStore())
    assert isinstance(manager.policy, RulesPolicy)
    assert await manager.calculate_difficulty("newcomer") == 0.5
    assert (await manager.history("newcomer")).results == []
    for r in outcomes(9, 1):
        h = await manager.record_performance("alice", r)
    assert h.recorded == 10 and h.rating.rating > 1500
    assert await manager.calculate_difficulty("alice", 0.5) == 0.7
    assert await manager.calculate_difficulty("alice", 0) == 0.2
    assert (await manager.history("alice")) == h
    # records may come as plain dicts (from JSON), validated like any input
    h = await manager.record_performance(
        "alice",
        {"encounter_id": "enc_x", "success": False, "completion_seconds": 10, "difficulty": 0.4},
    )
    assert h.recorded == 11 and h.results[-1].encounter_id == "enc_x"


@pytest.mark.anyio
async def test_manager_with_the_rating_policy(spec: EncounterSpec) -> None:
    manager = DifficultyManager(MemoryStore(), RatingPolicy(target_success=0.75))
    assert await manager.calculate_difficulty("alice", 0.4) == 0.4
    h = await manager.record_session(finished_session(spec, SessionStatus.COMPLETED, 5))
    assert h.recorded == 1
    expected = RatingPolicy(0.75).difficulty_for(h.rating)
    assert await manager.calculate_difficulty("alice", 0.4) == expected


@pytest.mark.anyio
async def test_the_same_session_is_recorded_once(spec: EncounterSpec) -> None:
    manager = DifficultyManager(MemoryStore())
    session = finished_session(spec, SessionStatus.COMPLETED, 5)
    first = await manager.record_session(session)
    again = await manager.record_session(session)
    assert first == again and again.recorded == 1


@pytest.mark.anyio
async def test_histories_survive_a_new_manager_on_a_sql_store(
    new_sql_store: Callable[[], Store],
) -> None:
    async with new_sql_store() as store:
        manager = DifficultyManager(store, RatingPolicy())
        for r in outcomes(4, 2, seconds=123.5):
            h = await manager.record_performance("alice", r)
        await manager.record_performance("bob", rec(False))
        before = await manager.calculate_difficulty("alice")
    async with new_sql_store() as store:
        manager = DifficultyManager(store, RatingPolicy())
        again = await manager.history("alice")
        assert again == h and again.results[0].completion_seconds == 123.5
        assert await manager.calculate_difficulty("alice") == before
        stored = await store.list_documents(KIND, PlayerHistory)
        assert [d.player_id for d in stored] == ["alice", "bob"]


@pytest.mark.anyio
async def test_scoped_histories_are_apart_and_unscoped_ones_read_as_before(
    new_sql_store: Callable[[], Store], spec: EncounterSpec
) -> None:
    async with new_sql_store() as store:
        manager = DifficultyManager(store)
        # a history as the code before scopes stored it: the key is the player id
        old = PlayerHistory(player_id="alice").with_result(rec(True, i=1))
        await store.save_document(KIND, "alice", old)
        assert await manager.history("alice") == old
        for r in outcomes(0, 3):  # three defeats on one game server
            await manager.record_performance("alice", r, scope="server:web:two")
        session = finished_session(spec, SessionStatus.COMPLETED, 5)
        one = await manager.record_session(session, scope="server:web:one")
        assert one.recorded == 1 and one.results[0].session_id == session.id
        assert await manager.history("alice", scope="server:web:one") == one
        assert (await manager.history("alice", scope="server:web:two")).recorded == 3
        assert await manager.history("alice") == old  # the unscoped one is untouched
        assert await manager.calculate_difficulty("alice", scope="server:web:two") == 0.3
        assert await manager.calculate_difficulty("alice", scope="server:web:one") > 0.5
        assert await manager.calculate_difficulty("alice", scope="server:web:new") == 0.5
        assert history_key("alice", "server:web:one") == "server:web:one/alice"
        with pytest.raises(ValidationFailed, match="scope"):
            await manager.history("alice", scope="")


class SlowStore(MemoryStore):
    """Yields to other tasks inside every document read and write, as a real store
    does, so an unlocked read-modify-write would lose results."""

    async def get_document(self, kind: str, key: str, model: Any) -> Any:
        await anyio.sleep(0)
        doc = await super().get_document(kind, key, model)
        await anyio.sleep(0)
        return doc

    async def save_document(self, kind: str, key: str, doc: BaseModel) -> None:
        await anyio.sleep(0)
        await super().save_document(kind, key, doc)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_concurrent_records_lose_nothing(anyio_backend: str) -> None:
    store = SlowStore()
    managers = [DifficultyManager(store), DifficultyManager(store)]  # sharing one store
    async with anyio.create_task_group() as tg:
        for i in range(40):
            for player in ("alice", "bob"):
                tg.start_soon(managers[i % 2].record_performance, player, rec(i % 3 == 0, i=i))
    for player in ("alice", "bob"):
        h = await managers[0].history(player)
        assert h.recorded == 40
        assert sorted(r.encounter_id for r in h.results) == sorted(f"enc_{i}" for i in range(40))


@pytest.mark.anyio
async def test_concurrent_records_lose_nothing_on_a_sql_store(
    new_sql_store: Callable[[], Store],
) -> None:
    async with new_sql_store() as store:
        manager = DifficultyManager(store)
        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(manager.record_performance, "alice", rec(True, i=i))
        assert (await manager.history("alice")).recorded == 30


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("base", [-0.1, 1.5, math.nan, math.inf, "0.5", True, None])
async def test_bad_base_names_the_field(base: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        await DifficultyManager(MemoryStore()).calculate_difficulty("alice", base)
    assert field_paths(exc) == ["base"]


@pytest.mark.anyio
@pytest.mark.parametrize("player_id", ["", "bad id!", "x" * 65, 42])
async def test_bad_player_ids_name_the_field(player_id: Any) -> None:
    manager = DifficultyManager(MemoryStore())
    for call in (
        manager.calculate_difficulty(player_id),
        manager.history(player_id),
        manager.record_performance(player_id, rec(True)),
    ):
        with pytest.raises(ValidationFailed) as exc:
            await call
        assert field_paths(exc) == ["player_id"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"completion_seconds": -1.0}, "completion_seconds"),
        ({"completion_seconds": math.nan}, "completion_seconds"),
        ({"expected_seconds": 0.0}, "expected_seconds"),
        ({"difficulty": 1.5}, "difficulty"),
        ({"difficulty": 0.05}, "difficulty"),
        ({"success": "yes"}, "success"),
        ({"objectives_total": -1}, "objectives_total"),
        ({"encounter_id": "no spaces"}, "encounter_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_records_name_the_field(change: dict[str, Any], path: str) -> None:
    data = rec(True).model_dump() | change
    manager = DifficultyManager(MemoryStore())
    with pytest.raises(ValidationFailed) as exc:
        await manager.record_performance("alice", data)
    assert field_paths(exc) == [path]
    assert (await manager.history("alice")).recorded == 0


@pytest.mark.anyio
async def test_a_changed_record_is_checked_again() -> None:
    r = rec(True)
    r.completion_seconds = -5.0  # models do not validate assignments
    with pytest.raises(ValidationFailed) as exc:
        await DifficultyManager(MemoryStore()).record_performance("alice", r)
    assert field_paths(exc) == ["completion_seconds"]


def test_more_objectives_completed_than_exist_is_refused() -> None:
    data = rec(True).model_dump() | {"objectives_completed": 3, "objectives_total": 2}
    with pytest.raises(ValueError, match="objectives_completed: must be <= objectives_total"):
        PerformanceRecord.model_validate(data)


def test_bad_policy_settings_and_prompt_difficulty_name_the_field() -> None:
    for target in (0.0, 1.0, math.nan):
        with pytest.raises(ValidationFailed) as exc:
            RatingPolicy(target)
        assert field_paths(exc) == ["target_success"]
    with pytest.raises(ValidationFailed) as exc:
        RulesPolicy(window=0)
    assert field_paths(exc) == ["window"]
    for d in (0.05, 1.2, math.nan):
        with pytest.raises(ValidationFailed) as exc:
            prompt_line(d)
        assert field_paths(exc) == ["difficulty"]


@pytest.mark.anyio
async def test_any_policy_fits_and_a_broken_one_is_reported() -> None:
    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def adjust(self, history: PlayerHistory, base: float) -> float:
            return self.value

    assert await DifficultyManager(MemoryStore(), Fixed(7.0)).calculate_difficulty("a") == 1.0
    with pytest.raises(ValueError, match=r"Fixed\.adjust returned nan"):
        await DifficultyManager(MemoryStore(), Fixed(math.nan)).calculate_difficulty("a")
