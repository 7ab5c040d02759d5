"""Webhook delivery by several processes on one PostgreSQL store (a fresh schema per
test): claims on a webhook's deliveries are exclusive, expire, and are taken over;
three delivery loops running at once send each event exactly once.

Three stores on one schema stand for three daemon nodes here (each with its own
connection pool and claim owner); tests/bridge/test_nodes.py runs real processes."""

from __future__ import annotations

import os
from collections import Counter

import anyio
import pytest

from encounters.storage.postgres import PostgresStore
from encounters.webhooks.delivery import CLAIM_KIND
from tests.sdk.webhooks.test_webhooks import Answer, manager, receiver
from tests.support.services import POSTGRES_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_claims_are_exclusive_expire_and_are_released(pg_schema: str) -> None:
    async with (
        PostgresStore(POSTGRES_URL, schema=pg_schema) as a,
        PostgresStore(POSTGRES_URL, schema=pg_schema) as b,
    ):
        assert await a.claim_work(CLAIM_KIND, ["w1", "w2"], "node-a", 1.0) == ["w1", "w2"]
        # what A holds is left out, never waited for
        assert await b.claim_work(CLAIM_KIND, ["w1", "w2", "w3"], "node-b", 30) == ["w3"]
        assert await a.claim_work(CLAIM_KIND, ["w1"], "node-a", 1.0) == ["w1"]  # renewed
        await a.release_work(CLAIM_KIND, "w2", "node-a")
        assert await b.claim_work(CLAIM_KIND, ["w2"], "node-b", 30) == ["w2"]
        await a.release_work(CLAIM_KIND, "w3", "node-a")  # not A's: nothing changes
        assert await a.claim_work(CLAIM_KIND, ["w3"], "node-a", 30) == []
        assert await b.extend_work(CLAIM_KIND, "w3", "node-b", 30)
        assert not await a.extend_work(CLAIM_KIND, "w3", "node-a", 30)
        # A stops renewing (it died): its claim expires and B takes the work over
        with anyio.fail_after(15):
            while await b.claim_work(CLAIM_KIND, ["w1"], "node-b", 30) != ["w1"]:
                await anyio.sleep(0.1)
        assert await a.claim_work(CLAIM_KIND, ["w1"], "node-a", 30) == []
        assert not await a.extend_work(CLAIM_KIND, "w1", "node-a", 30), "it lapsed"


async def test_three_delivery_loops_send_each_event_once(pg_schema: str) -> None:
    key = os.urandom(32)
    events = 40
    slow = [Answer(delay=0.05) for _ in range(events)]  # sends overlap the others' passes
    with receiver(script=slow) as r:
        async with (
            PostgresStore(POSTGRES_URL, schema=pg_schema) as s1,
            PostgresStore(POSTGRES_URL, schema=pg_schema) as s2,
            PostgresStore(POSTGRES_URL, schema=pg_schema) as s3,
        ):
            nodes = [manager(s, key, poll_interval=0.05) for s in (s1, s2, s3)]
            await nodes[0].register(r.url("/one"), ["session.completed"])
            await nodes[1].register(r.url("/two"), ["session.completed"])
            async with anyio.create_task_group() as tg:
                for node in nodes:
                    tg.start_soon(node.run)
                for n in range(events):  # enqueued on every node, each waking its own loop
                    await nodes[n % 3].enqueue("session.completed", {"n": n})
                with anyio.fail_after(60):
                    while len(r.delivered) < 2 * events:
                        await anyio.sleep(0.05)
                await anyio.sleep(0.5)  # a second send of anything would arrive by now
                tg.cancel_scope.cancel()
    sent = Counter((d.path, d.headers["webhook-id"]) for d in r.delivered)
    assert len(sent) == 2 * events
    assert [k for k, n in sent.items() if n > 1] == [], "an event was delivered twice"
    for path in ("/one", "/two"):  # in order, per webhook
        numbers = [d.json["data"]["n"] for d in r.delivered if d.path == path]
        assert numbers == list(range(events))


async def test_a_node_that_stalled_past_its_claim_does_not_undo_the_others_progress(
    pg_schema: str,
) -> None:
    """Node A's send outlasts its claim (a stall); node B takes the webhook over and
    delivers every event. A's late answer must not move the cursor back, or B's
    events would all be sent again."""
    key = os.urandom(32)
    with receiver(script=[Answer(delay=4.0)]) as r:  # A's first send hangs
        async with (
            PostgresStore(POSTGRES_URL, schema=pg_schema) as s1,
            PostgresStore(POSTGRES_URL, schema=pg_schema) as s2,
        ):
            a = manager(s1, key, claim_ttl=1.0)
            b = manager(s2, key, claim_ttl=30.0)
            await a.register(r.url(), ["session.completed"])
            for n in range(3):
                await a.enqueue("session.completed", {"n": n})
            async with anyio.create_task_group() as tg:
                tg.start_soon(a.deliver_due)
                with anyio.fail_after(30):
                    while not r.requests:  # A claimed the webhook and its send hangs
                        await anyio.sleep(0.02)
                    # B gets the claim once A's lapsed, and sends everything
                    while 2 not in [d.json["data"]["n"] for d in r.delivered]:
                        await b.deliver_due()
                        await anyio.sleep(0.05)
            # A's send has returned by now; whatever either does next sends nothing
            await a.deliver_due()
            await b.deliver_due()
    numbers = Counter(d.json["data"]["n"] for d in r.delivered)
    assert numbers[1] == numbers[2] == 1, f"progress was undone: {numbers}"
    assert 1 <= numbers[0] <= 2  # the stalled send may have reached the receiver too
