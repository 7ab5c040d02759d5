"""Analytics recorded by several processes on one PostgreSQL store (a fresh schema):
each flushes only the rows of the events it saw, so nothing is counted twice, and
every process's reports read all of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from encounters.analytics import AnalyticsRecorder
from encounters.storage.postgres import PostgresStore
from tests.sdk.analytics.test_analytics import event
from tests.support.services import POSTGRES_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_three_nodes_count_each_session_once(pg_schema: str) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    stores = [PostgresStore(POSTGRES_URL, schema=pg_schema) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        nodes = [AnalyticsRecorder(store, cache_ttl=0) for store in stores]
        for n in range(12):  # each session played on one node, the nodes taking turns
            node, sid = nodes[n % 3], f"s{n}"
            await node.record(event("session.started", at, sid, f"p{n % 4}",
                                    encounter_id="enc_1", difficulty=0.5))  # fmt: skip
            if n % 2:
                finish = event("session.completed", at, sid, f"p{n % 4}", duration_seconds=30)
            else:
                finish = event("session.failed", at, sid, f"p{n % 4}", duration_seconds=30)
            await node.record(finish)
        for node in nodes:
            await node.flush()
        for node in nodes:  # every node reports every node's sessions, once
            stats = await node.global_stats()
            assert stats.total_sessions == 12 and stats.total_players == 4
            assert stats.sessions_by_status["completed"] == 6
            assert stats.sessions_by_status["failed"] == 6
            assert (await node.encounter("enc_1")).total_plays == 12
    finally:
        for store in stores:
            await store.close()
