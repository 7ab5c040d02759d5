"""Analytics from engine events (encounter, player and global views, batching, the
result cache, feedback, restarts) and the platform metrics with their Prometheus
exposition."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

import encounters.storage as storage
from encounters import EncounterSpec, Engine, Settings, ValidationFailed
from encounters.analytics import (
    EVENTS_LOG,
    SESSIONS_LOG,
    AnalyticsRecorder,
    FailurePoint,
    FailureReason,
    TTLCache,
    clean_comment,
)
from encounters.events import EngineEvent, EventType
from encounters.models.audit import AuditEntry
from encounters.models.deployment import CompanionSession, PersonaRecord
from encounters.models.persona import PersonaCore
from encounters.platform_metrics import PROMETHEUS_METRICS, platform_metrics, prometheus_text
from encounters.storage import LoggedEvent, MemoryStore
from tests.conftest import encounter_dict

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # day 0 of the crafted histories


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingStore(MemoryStore):
    """A memory store that counts event-log calls and rows (no patching)."""

    def __init__(self) -> None:
        super().__init__()
        self.appends = 0
        self.appended_rows = 0
        self.reads = 0

    async def append_events(
        self, kind: str, events: list[tuple[str | None, datetime, dict[str, Any]]]
    ) -> list[int]:
        self.appends += 1
        self.appended_rows += len(events)
        return await super().append_events(kind, events)

    async def list_events(
        self, kind: str, *, key: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[LoggedEvent]:
        self.reads += 1
        return await super().list_events(kind, key=key, after_id=after_id, limit=limit)

    def rows(self, kind: str = EVENTS_LOG) -> int:
        return sum(1 for e in self._events if e.kind == kind)


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(
    type_: EventType,
    at: datetime,
    session: str | None = None,
    player: str | None = None,
    **data: Any,
) -> EngineEvent:
    return EngineEvent(type=type_, data=data, session_id=session, player_id=player, timestamp=at)


async def play_bridge(engine: Engine) -> dict[str, Any]:
    """Five plays of the bridge encounter (obj_1 required, obj_2 optional):

    - alice: obj_1, obj_2, chooses "spare", talks to Marta, completes;
    - bob: obj_2, chooses "execute", fails ("Fell in  battle");
    - carol: chooses "spare", abandons ("Connection lost");
    - dave: obj_1, completes;
    - erin: starts and is still playing.
    """
    spec = await engine.save_encounter(encounter_dict())
    ids: dict[str, Any] = {"spec": spec}
    a = await engine.start_session("alice", spec.id)
    await engine.update_objective(a.id, "obj_1", progress=1)
    await engine.update_objective(a.id, "obj_1", completed=True)
    await engine.update_objective(a.id, "obj_2", completed=True)
    await engine.record_choice(
        a.id, "Spare the leader?", "spare", available_options=["spare", "execute"]
    )
    await engine.record_npc_interaction(a.id, "npc_1", outcome="positive")
    ids["alice"] = await engine.complete_session(a.id)
    b = await engine.start_session("bob", spec.id)
    await engine.update_objective(b.id, "obj_2", completed=True)
    await engine.record_choice(b.id, "Spare the leader?", "execute")
    ids["bob"] = await engine.fail_session(b.id, "Fell in  battle")
    c = await engine.start_session("carol", spec.id)
    await engine.record_choice(c.id, "Spare the leader?", "spare")
    ids["carol"] = await engine.abandon_session(c.id, "Connection lost")
    d = await engine.start_session("dave", spec.id)
    await engine.update_objective(d.id, "obj_1", completed=True)
    ids["dave"] = await engine.complete_session(d.id)
    ids["erin"] = await engine.start_session("erin", spec.id)
    return ids


async def test_encounter_analytics_from_played_sessions() -> None:
    async with Engine(Settings(store="memory")) as engine:
        recorder = AnalyticsRecorder(engine.store)
        engine.analytics = recorder
        played = await play_bridge(engine)
        spec_id = played["spec"].id
        await recorder.record_feedback(spec_id, "alice", 5, "Great fight")
        await recorder.record_feedback(spec_id, "bob", 2)
        await recorder.record_feedback(spec_id, "carol", 4, "ok\x00\x1b")

        stats = await recorder.encounter(spec_id)
        assert (stats.total_plays, stats.completions, stats.failures, stats.abandons) == (
            5,
            2,
            1,
            1,
        )
        assert stats.in_progress == 1
        assert stats.success_rate == 0.5  # 2 completed of 4 finished
        durations = [played[p].duration_seconds for p in ("alice", "dave")]
        assert stats.average_completion_time == pytest.approx(sum(durations) / 2)
        obj_1, obj_2 = stats.objective_stats["obj_1"], stats.objective_stats["obj_2"]
        assert (obj_1.completions, obj_1.completion_rate, obj_1.left_open) == (2, 0.4, 2)
        assert (obj_2.completions, obj_2.completion_rate, obj_2.left_open) == (2, 0.4, 0)
        assert obj_1.average_time is not None and 0 <= obj_1.average_time <= max(durations)
        assert stats.choice_distribution == {"spare": 2, "execute": 1}
        assert stats.choices == {"Spare the leader?": {"spare": 2, "execute": 1}}
        # the optional obj_2 is never a failure point; obj_1 was open in both losses
        assert stats.common_failure_points == [FailurePoint(objective_id="obj_1", count=2)]
        assert stats.failure_reasons == [
            FailureReason(reason="connection lost", count=1),
            FailureReason(reason="fell in battle", count=1),
        ]
        fb = stats.player_feedback
        assert fb.count == 3 and fb.average_rating == pytest.approx(11 / 3)
        assert fb.histogram == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
        assert [(c.player_id, c.comment) for c in fb.latest_comments] == [
            ("carol", "ok"),
            ("alice", "Great fight"),
        ]
        never = await recorder.encounter("enc_never_played")
        assert never.total_plays == 0 and never.success_rate is None


@pytest.fixture
async def store(new_store: Callable[[], storage.Store]) -> AsyncIterator[storage.Store]:
    """An open store of each backend."""
    async with new_store() as opened:
        yield opened


async def test_objective_times_reopened_objectives_and_choices_by_option_text(
    store: storage.Store,
) -> None:
    recorder = AnalyticsRecorder(store)
    enc = "enc_crafted"
    await store.save_encounter(EncounterSpec.model_validate(encounter_dict(id=enc)))
    feed = [
        event("session.started", T0, "s1", "p1", encounter_id=enc),
        event("objective.completed", T0 + timedelta(seconds=30), "s1", "p1", objective_id="obj_1"),
        event(
            "choice.made",
            T0 + timedelta(seconds=31),
            "s1",
            "p1",
            choice_id="choice_aaa",
            description="Door?",
            selected_option="left",
        ),
        event(
            "session.completed",
            T0 + timedelta(seconds=40),
            "s1",
            "p1",
            encounter_id=enc,
            duration_seconds=40.0,
        ),
        event("session.started", T0 + timedelta(seconds=100), "s2", "p2", encounter_id=enc),
        event(
            "objective.progressed",
            T0 + timedelta(seconds=190),
            "s2",
            "p2",
            objective_id="obj_1",
            progress=3,
            completed=True,
        ),
        event("objective.completed", T0 + timedelta(seconds=190), "s2", "p2", objective_id="obj_1"),
        event(
            "choice.made",
            T0 + timedelta(seconds=191),
            "s2",
            "p2",
            choice_id="choice_bbb",
            description="Door?",
            selected_option="left",
        ),
        # re-opened: obj_1 is open again when the session fails
        event(
            "objective.progressed",
            T0 + timedelta(seconds=200),
            "s2",
            "p2",
            objective_id="obj_1",
            progress=1,
            completed=False,
        ),
        event(
            "session.failed",
            T0 + timedelta(seconds=260),
            "s2",
            "p2",
            encounter_id=enc,
            duration_seconds=160.0,
            reason="trap",
        ),
    ]
    for e in feed:
        await recorder.record(e)
    stats = await recorder.encounter(enc)
    obj = stats.objective_stats["obj_1"]
    assert obj.completions == 2 and obj.completion_rate == 1.0
    assert obj.average_time == 60.0  # (30 + 90) / 2, from each session's start
    assert obj.left_open == 1
    assert stats.common_failure_points == [FailurePoint(objective_id="obj_1", count=1)]
    # two different random choice ids, one option text
    assert stats.choice_distribution == {"left": 2}
    assert stats.average_completion_time == 40.0 and stats.success_rate == 0.5


async def test_player_and_global_stats() -> None:
    now = datetime.now(UTC)
    async with Engine(Settings(store="memory")) as engine:
        recorder = AnalyticsRecorder(engine.store, clock=lambda: now + timedelta(days=3))
        engine.analytics = recorder
        played = await play_bridge(engine)  # combat
        puzzle = await engine.generate(category="puzzle", player="alice", seed=1)
        for _ in range(2):
            s = await engine.start_session("alice", puzzle)
            await engine.fail_session(s.id)
        alice = await recorder.player("alice")
        assert (alice.sessions_played, alice.sessions_completed, alice.sessions_failed) == (3, 1, 2)
        assert alice.sessions_abandoned == 0
        assert alice.success_rate == pytest.approx(1 / 3)
        assert alice.favourite_categories == ["puzzle", "combat"]
        assert alice.categories == {"puzzle": 2, "combat": 1}
        assert alice.total_play_time >= played["alice"].duration_seconds
        assert alice.average_play_time == pytest.approx(alice.total_play_time / 3)
        assert alice.last_played is not None and alice.first_played is not None
        assert alice.first_played <= alice.last_played
        nobody = await recorder.player("nobody")
        assert nobody.sessions_played == 0 and nobody.success_rate is None

        stats = await recorder.global_stats()
        assert stats.total_sessions == 7 and stats.total_players == 5
        assert stats.encounters_generated == 1 and stats.encounters_played == 2
        assert stats.sessions_by_status == {
            "active": 1,
            "completed": 2,
            "failed": 3,
            "abandoned": 1,
        }
        assert stats.sessions_by_category == {"combat": 5, "puzzle": 2}
        assert stats.success_rate == pytest.approx(2 / 6)
        assert [(t.encounter_id, t.plays) for t in stats.top_encounters] == [
            (played["spec"].id, 5),
            (puzzle.id, 2),
        ]
        # the clock is 3 days ahead: everyone played within 7 days, nobody within 24 h
        assert (stats.active_players_24h, stats.active_players_7d) == (0, 5)
        later = await recorder.global_stats(since=now + timedelta(days=1))
        assert later.total_sessions == 0 and later.total_players == 0


async def test_scoped_player_stats_count_only_the_sessions_marked_as_of_their_scope() -> None:
    async with Engine(Settings(store="memory")) as engine:
        recorder = engine.analytics
        spec = await engine.save_encounter(encounter_dict())
        ours = await engine.start_session("ana", spec.id)
        await recorder.record_session_scope(ours.id, "ana", "server:web:one")
        await engine.update_objective(ours.id, "obj_1", completed=True)
        await engine.complete_session(ours.id)
        theirs = await engine.start_session("ana", spec.id)
        await recorder.player("ana", scope="server:web:one")  # a view reads before the mark
        await recorder.record_session_scope(theirs.id, "ana", "server:web:two")
        unmarked = await engine.start_session("ana", spec.id)
        await engine.fail_session(unmarked.id)

        one = await recorder.player("ana", scope="server:web:one")
        assert (one.sessions_played, one.sessions_completed, one.sessions_failed) == (1, 1, 0)
        two = await recorder.player("ana", scope="server:web:two")
        assert (two.sessions_played, two.sessions_completed) == (1, 0)
        everyone = await recorder.player("ana")  # no scope: every session, as before
        assert (everyone.sessions_played, everyone.sessions_failed) == (3, 1)
        # a finish after a read shows at once in that scope's view (its cache is dropped)
        await engine.update_objective(theirs.id, "obj_1", completed=True)
        await engine.complete_session(theirs.id)
        assert (await recorder.player("ana", scope="server:web:two")).sessions_completed == 1
        with pytest.raises(ValidationFailed, match="scope"):
            await recorder.player("ana", scope="")


async def test_scoped_feedback_counts_once_per_player_and_scope() -> None:
    recorder = AnalyticsRecorder(MemoryStore())
    await recorder.record_feedback("enc_1", "ana", 5, "Loved it", scope="server:web:one")
    for stars in (1, 2):  # the same id in another scope is another rater, once
        await recorder.record_feedback("enc_1", "ana", stars, "Meh", scope="server:web:two")
    await recorder.record_feedback("enc_1", "ana", 4)  # unscoped: counted every time
    await recorder.record_feedback("enc_1", "ana", 4)
    fb = (await recorder.encounter("enc_1")).player_feedback
    assert fb.count == 4 and fb.histogram == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    assert [(c.scope, c.comment) for c in fb.latest_comments] == [
        ("server:web:two", "Meh"),
        ("server:web:one", "Loved it"),
    ]
    assert "scope" not in fb.latest_comments[0].model_dump()  # never shown
    await recorder.record_feedback("enc_1", "ana", 3, scope="server:web:one")  # changed mind
    fb = (await recorder.encounter("enc_1")).player_feedback
    assert fb.histogram == {1: 0, 2: 1, 3: 1, 4: 2, 5: 0}
    assert [c.comment for c in fb.latest_comments] == ["Meh"]


async def test_rows_are_written_in_batches_and_reads_flush_first() -> None:
    store = CountingStore()
    async with Engine(Settings(store="memory"), store=store) as engine:
        recorder = AnalyticsRecorder(store, flush_every=5)
        engine.analytics = recorder
        spec = EncounterSpec.model_validate(encounter_dict())
        await store.save_encounter(spec)  # stored directly: no "published" row
        s = await engine.start_session("alice", spec.id)  # 1 row
        for progress in (1, 2):
            await engine.update_objective(s.id, "obj_1", progress=progress)  # 2 rows
        await engine.record_choice(s.id, "Left or right?", "left")  # 4 rows
        assert store.rows() == 0 and store.appends == 0 and recorder.pending == 4
        await engine.record_npc_interaction(s.id, "npc_1")  # 5: a batch
        assert store.rows() == 5
        assert store.rows(SESSIONS_LOG) == 1  # the session start, for player stats
        await engine.record_choice(s.id, "Up or down?", "up")
        assert store.rows() == 5 and recorder.pending == 1
        assert await recorder.flush() == 1
        assert store.rows() == 6 and await recorder.flush() == 0
        await engine.fail_session(s.id)
        assert store.rows() == 6
        stats = await recorder.encounter(spec.id)  # flushes first: reads its own writes
        assert store.rows() == 7 and stats.failures == 1


async def test_results_are_cached_for_the_ttl_and_dropped_when_their_rows_change() -> None:
    store = CountingStore()
    timer = FakeTimer()
    async with Engine(Settings(store="memory"), store=store) as engine:
        recorder = AnalyticsRecorder(store, cache_ttl=5.0, timer=timer)
        engine.analytics = recorder
        spec = await engine.save_encounter(encounter_dict())
        other = await engine.save_encounter(encounter_dict(id="enc_other"))
        s = await engine.start_session("alice", spec.id)
        first = await recorder.encounter(spec.id)
        reads = store.reads
        assert await recorder.encounter(spec.id) == first and store.reads == reads  # cached
        assert await recorder.player("alice") is not None
        reads = store.reads
        await recorder.player("alice")
        assert store.reads == reads

        # rows for another encounter keep this one's result; its own rows drop it
        await engine.start_session("bob", other.id)
        await recorder.encounter(spec.id)
        assert store.reads == reads
        await engine.update_objective(s.id, "obj_1", completed=True)
        await engine.complete_session(s.id)
        after = await recorder.encounter(spec.id)
        assert store.reads > reads and after.completions == 1

        # rows written by someone else (another process) show once the TTL is over
        elsewhere = AnalyticsRecorder(store)
        await elsewhere.record_feedback(spec.id, "carol", 3)
        await elsewhere.flush()
        assert (await recorder.encounter(spec.id)).player_feedback.count == 0
        timer.now += 5.0
        assert (await recorder.encounter(spec.id)).player_feedback.count == 1
        # a result is a copy: changing it does not change the cache
        got = await recorder.encounter(spec.id)
        got.total_plays = 99
        assert (await recorder.encounter(spec.id)).total_plays == 1


def test_ttl_cache() -> None:
    timer = FakeTimer()
    cache: TTLCache[str, int] = TTLCache(2.0, maxsize=2, timer=timer)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.set("c", 3)  # evicts b
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    timer.now += 2.0
    assert cache.get("a") is None and len(cache) == 1
    cache.set("x", 1)
    cache.discard("x")
    assert cache.get("x") is None
    cache.set("g1", 1)
    cache.discard_where(lambda k: k.startswith("g"))
    assert cache.get("g1") is None
    off: TTLCache[str, int] = TTLCache(0)
    off.set("a", 1)
    assert off.get("a") is None
    with pytest.raises(ValueError):
        TTLCache(-1)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("enc_1", "alice", 0), "rating"),
        (("enc_1", "alice", 6), "rating"),
        (("enc_1", "alice", math.nan), "rating"),
        (("enc_1", "alice", 4.0), "rating"),
        (("enc_1", "alice", "5"), "rating"),
        (("enc_1", "alice", True), "rating"),
        (("enc_1", "alice", None), "rating"),
        (("enc_1", "alice", [5]), "rating"),
        (("enc_1", "alice", 3, 42), "comment"),
        (("", "alice", 3), "encounter_id"),
        (("enc_1", "bad id!", 3), "player_id"),
    ],
)
async def test_bad_feedback_is_refused_naming_the_field(args: tuple[Any, ...], path: str) -> None:
    store = CountingStore()
    recorder = AnalyticsRecorder(store)
    with pytest.raises(ValidationFailed) as info:
        await recorder.record_feedback(*args)
    assert [e.path for e in info.value.errors] == [path]
    assert recorder.pending == 0


async def test_feedback_comments_are_cleaned_and_capped() -> None:
    assert clean_comment("a\x00b\x1b[31mc\u202e d\r\n e\t") == "ab[31mc d\n e"
    assert clean_comment("\x00\x01  ") is None
    assert clean_comment("x" * 5000) == "x" * 1000
    store = MemoryStore()
    recorder = AnalyticsRecorder(store)
    await recorder.record_feedback("enc_1", "alice", 5, "é" * 1200 + "\x07")
    await recorder.record_feedback("enc_1", "bob", 1, "  \x00 ")
    stats = await recorder.encounter("enc_1")
    assert [len(c.comment) for c in stats.player_feedback.latest_comments] == [1000]
    assert stats.player_feedback.count == 2


async def test_a_restart_keeps_the_analytics(tmp_path: Path) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        recorder = AnalyticsRecorder(engine.store)
        engine.analytics = recorder
        played = await play_bridge(engine)
        await recorder.record_feedback(played["spec"].id, "alice", 5, "Great")
        erin = played["erin"]
        await engine.update_objective(erin.id, "obj_2", completed=True)
        before = await recorder.encounter(played["spec"].id)
        before_alice = await recorder.player("alice")
    async with Engine(data_dir=tmp_path) as engine:
        recorder = AnalyticsRecorder(engine.store)
        engine.analytics = recorder
        again = await recorder.encounter(played["spec"].id)
        assert again.model_dump(exclude={"computed_at"}) == before.model_dump(
            exclude={"computed_at"}
        )
        assert (await recorder.player("alice")).model_dump(
            exclude={"computed_at"}
        ) == before_alice.model_dump(exclude={"computed_at"})
        assert again.objective_stats["obj_2"].completions == 3  # alice, bob, erin
        # erin's session started before this recorder existed: its encounter is found
        await engine.update_objective(erin.id, "obj_1", completed=True)
        await engine.complete_session(erin.id)
        done = await recorder.encounter(played["spec"].id)
        assert (done.completions, done.in_progress, done.total_plays) == (3, 0, 5)
        assert done.objective_stats["obj_1"].completions == 3
        assert done.player_feedback.count == 1
        assert (await recorder.player("erin")).sessions_completed == 1


async def test_run_flushes_in_the_background_and_when_cancelled() -> None:
    enc = "enc_bg"

    def started(i: int) -> EngineEvent:
        return event("session.started", T0, f"s{i}", "p", encounter_id=enc)

    store = CountingStore()
    ticking = AnalyticsRecorder(store, flush_every=100, flush_interval=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticking.run)
        await ticking.record(started(0))
        with anyio.fail_after(5):
            while store.rows() < 1:  # written by the interval, with no flush() call
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()

    store = CountingStore()
    recorder = AnalyticsRecorder(store, flush_every=3, flush_interval=3600)
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        await anyio.sleep(0.01)  # run() is waiting
        for i in range(3):
            await recorder.record(started(i))
        # a full batch: the event that filled it did not wait for the write...
        assert recorder.pending == 3 and store.rows() == 0
        with anyio.fail_after(5):
            while store.rows() < 3:  # ...run() writes it at once, not in an hour
                await anyio.sleep(0.001)
        await recorder.record(started(9))
        tg.cancel_scope.cancel()
    assert store.rows() == 4 and recorder.pending == 0  # the last row, flushed on the way out


async def test_platform_metrics_on_a_crafted_history() -> None:
    store = MemoryStore()
    recorder = AnalyticsRecorder(store)
    day = timedelta(days=1)
    since, until = T0, T0 + 20 * day
    n = 0

    async def play(
        player: str, at: datetime, seconds: float, end: str = "session.completed", why: str = ""
    ) -> None:
        nonlocal n
        n += 1
        sid = f"s{n}"
        await recorder.record(event("session.started", at, sid, player, encounter_id="enc_a"))
        await recorder.record(event(end, at + timedelta(seconds=seconds), sid, player,  # type: ignore[arg-type]
                                    encounter_id="enc_a", duration_seconds=seconds,
                                    reason=why or None))  # fmt: skip

    h = timedelta(hours=1)
    await play("p0", T0 - 3 * day, 999)  # first seen before the range: in no cohort
    await play("p0", T0 + 1 * day + 9 * h, 60)
    await play("p1", T0 + 10 * h, 120)  # day 0; back on day 1: D1 and D7
    await play("p1", T0 + 1 * day + 9 * h, 180)
    await play("p2", T0 + 23 * h, 240)  # day 0; back on day 5: D7 only
    await play("p2", T0 + 5 * day + 1 * h, 300, "session.abandoned", "client crashed")
    await play("p3", T0 + 2 * day + 1 * h, 30)  # day 2; back on day 10: neither
    await play("p3", T0 + 10 * day + 1 * h, 30, "session.failed", "lost")
    await play("p4", T0 + 3 * day, 90)  # day 3, never again
    await play("p5", T0 + 15 * day, 45)  # day 15: D1 cohort only (day 23 > until)
    await play("p5", T0 + 16 * day, 45)
    await play("p6", T0 + 19 * day, 15)  # day 19: its D1 window ends after `until`
    for i, generator in enumerate(["procedural", "template", "template", "openai"]):
        await recorder.record(event("encounter.generated", T0 + i * day, encounter_id=f"e{i}",
                                    category="combat", generator=generator))  # fmt: skip
    await recorder.record(event("encounter.generated", T0 - day, encounter_id="old",
                                category="combat", generator="template"))  # fmt: skip
    await recorder.record_published("template", "tpl_a", at=T0 + day)
    await recorder.record_published("template", "tpl_b", at=T0 + 2 * day)
    await recorder.record_published("encounter", "enc_pub", at=T0 + 3 * day)
    await recorder.flush()

    def audit(kind: str, decision: str, at: datetime) -> AuditEntry:
        return AuditEntry.model_validate({"kind": kind, "decision": decision, "at": at})

    await store.append_audit([
        audit("message", "allow", T0 + h), audit("message", "allow", T0 + 2 * h),
        audit("message", "allow", T0 + 3 * h), audit("message", "block", T0 + 4 * h),
        audit("action", "sanitize", T0 + 5 * h), audit("persona", "block", T0 + 6 * h),
        audit("event", "allow", T0 + 7 * h), audit("event", "allow", T0 + 8 * h),
        audit("message", "block", T0 - h),  # before the range
    ])  # fmt: skip

    def persona(status: str, submitted: datetime, approved: datetime | None) -> PersonaRecord:
        return PersonaRecord.model_validate(
            {"persona": PersonaCore(name="Guide"), "status": status, "submitted_at": submitted,
             "approved_at": approved}
        )  # fmt: skip

    for record in (
        persona("approved", T0 + day, T0 + day + 2 * h),  # 7200 s
        persona("approved", T0 + 2 * day, T0 + 2 * day + h),  # 3600 s
        persona("approved", T0 - 2 * day, T0 - day),  # approved before the range
        persona("rejected", T0 + day, None),
        persona("pending_moderation", T0 + 4 * day, None),
    ):
        await store.save_persona(record)

    def companion(cid: str, status: str, started: datetime) -> CompanionSession:
        return CompanionSession.model_validate(
            {"id": cid, "persona_id": "persona_1", "world": "gmod", "server_id": "srv",
             "status": status, "started_at": started}
        )  # fmt: skip

    for c in (
        companion("c1", "ended", T0 + day),
        companion("c2", "spawning", until - h),  # never confirmed: crashed
        companion("c3", "live", T0 + 2 * day),  # not ended 18 days on: crashed
        companion("c4", "live", until - 10 * timedelta(minutes=1)),  # young: fine
        companion("c5", "live", T0 - day),  # before the range
    ):
        await store.save_companion(c)

    m = await platform_metrics(store, since, until, now=until + day)
    # D1 cohort: p1..p5 (first seen in range, day0 + 2 <= until); retained: p1, p5
    assert (m.d1_cohort, m.d1_retained, m.d1_retention) == (5, 2, 0.4)
    # D7 cohort: p1..p4 (day0 + 8 <= until); retained: p1 (day 1), p2 (day 5)
    assert (m.d7_cohort, m.d7_retained, m.d7_retention) == (4, 2, 0.5)
    in_range = [60, 120, 180, 240, 300, 30, 30, 90, 45, 45, 15]
    assert m.sessions_finished == len(in_range)
    assert m.session_length_median == 60
    assert m.session_length_mean == pytest.approx(sum(in_range) / len(in_range))
    assert m.user_touch == 7
    assert (m.moderation_decisions, m.moderation_blocked, m.moderation_sanitized) == (6, 2, 1)
    assert m.abuse_rate == pytest.approx(2 / 6)
    assert m.moderation_mttr_seconds == 5400
    assert (m.personas_approved, m.personas_rejected, m.personas_pending) == (2, 1, 1)
    assert (m.sessions_crashed, m.companion_sessions, m.companions_crashed) == (1, 4, 2)
    assert m.crash_rate == pytest.approx(3 / (11 + 4))
    assert (m.encounters_generated, m.template_encounters_generated) == (4, 2)
    assert (m.templates_published, m.encounters_published) == (2, 1)
    assert m.weeks == pytest.approx(20 / 7)
    assert m.encounters_generated_per_week == pytest.approx(4 / (20 / 7))
    assert m.templates_published_per_week == pytest.approx(2 / (20 / 7))

    with pytest.raises(ValidationFailed) as info:
        await platform_metrics(store, until, since)
    assert [e.path for e in info.value.errors] == ["until"]
    empty = await platform_metrics(MemoryStore(), since, until)
    assert empty.d1_retention is None and empty.abuse_rate is None and empty.crash_rate is None


_SAMPLE = re.compile(r"^(ae_[a-z0-9_]+) (NaN|[+-]Inf|-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)$")


async def test_prometheus_text_parses(store: storage.Store) -> None:
    recorder = AnalyticsRecorder(store)
    await recorder.record(event("session.started", T0, "s1", "p1", encounter_id="enc_a"))
    await recorder.record(event("session.completed", T0 + timedelta(seconds=90), "s1", "p1",
                                encounter_id="enc_a", duration_seconds=90.0))  # fmt: skip
    await recorder.flush()
    m = await platform_metrics(store, T0, T0 + timedelta(days=7))
    text = prometheus_text(m)
    assert text.endswith("\n")
    lines = text.splitlines()
    samples: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, line
        name = match.group(1)
        assert lines[i - 2].startswith(f"# HELP {name} ") and len(lines[i - 2]) > len(name) + 8
        assert lines[i - 1] == f"# TYPE {name} gauge"
        samples[name] = match.group(2)
    assert len(samples) == len(PROMETHEUS_METRICS) == len(lines) // 3
    assert samples["ae_session_length_median_seconds"] == "90.0"
    assert samples["ae_user_touch_players"] == "1"
    assert samples["ae_abuse_rate_ratio"] == "NaN"
    assert samples["ae_metrics_window_seconds"] == str(7 * 86400.0)
