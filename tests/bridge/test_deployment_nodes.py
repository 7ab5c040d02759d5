"""Two daemon nodes' deployment services on one PostgreSQL store: what one node does to
a persona or a companion session, the other sees at once (no stale cache decides), and
counters changed on both add up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import pytest

from encounters.models.deployment import CompanionSession
from encounters.moderation import AuditLogger, ContentModerator, TextFilter
from encounters.storage.postgres import PostgresStore
from encounters_bridge.deployment import DeploymentError, DeploymentService
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.support.control import persona_body
from tests.support.services import store_backend

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def node(store: PostgresStore, text_filter: TextFilter) -> AsyncIterator[DeploymentService]:
    """One node's deployment service, as the daemon composes it (no sockets: these
    tests drive the service)."""
    async with store:
        edge = BridgeEdge(await open_bridge_store(store))
        moderator = ContentModerator(text_filter, audit=AuditLogger(store))
        yield DeploymentService(store, moderator, edge)


@pytest.fixture
def postgres_store(tmp_path: Path) -> Iterator[Callable[[], PostgresStore]]:
    """Stores on one fresh PostgreSQL schema (one per node)."""
    with store_backend("postgresql", tmp_path) as factory:
        yield cast(Callable[[], PostgresStore], factory)


async def test_a_session_one_node_ended_is_ended_for_the_other(
    postgres_store: Callable[[], PostgresStore], text_filter: TextFilter
) -> None:
    async with (
        node(postgres_store(), text_filter) as a,
        node(postgres_store(), text_filter) as b,
    ):
        record = await a.submit(persona_body(), "cr_1")
        await a.approve(record.persona.id)
        assert (await b.persona(record.persona.id)).status == "approved"
        session = CompanionSession(id="sess_1", persona_id=record.persona.id, world="gmod",
                                   server_id="srv-1", status="live")  # fmt: skip
        await a.store.save_companion(session)
        assert (await b.companion("sess_1")).status == "live"  # b has read it, live
        # both nodes signal: every action counts
        await a.signal("sess_1", [{"type": "chat", "message": "hello"}])
        await b.signal("sess_1", [{"type": "chat", "message": "hello again"}])
        await b.signal("sess_1", [{"type": "emote", "name": "wave"}])
        # a pause made on one node holds on the other (the brain runs where events come)
        await b.pause("sess_1", True)
        assert (await a.companion("sess_1")).paused
        await a.end("sess_1")
        with pytest.raises(DeploymentError, match="has ended"):
            await b.signal("sess_1", [{"type": "chat", "message": "still there?"}])
        stored = await b.store.get_companion("sess_1")
        assert stored is not None and stored.status == "ended" and stored.actions_sent == 3
