"""Regressions from review: garbled replies fall back, echoed keys are not kept,
Retry-After longer than we wait rests the provider."""

from __future__ import annotations

import anyio

from encounters.generation import GenerationRequest
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import ProviderManager, RouterPolicy
from encounters.models import PlayerContext
from encounters.storage import MemoryStore
from tests.fakes.http import Reply, fake_server
from tests.fakes.llm import openai_error

KEY = "sk-test-" + "k" * 32
REQUEST = GenerationRequest(category="combat", player=PlayerContext(player_id="p"))


def manager(url: str, store: MemoryStore, **policy: object) -> ProviderManager:
    provider = OpenAIProvider(api_key=KEY, base_url=url + "/v1", timeout=2)
    return ProviderManager([provider], policy=RouterPolicy(backoff_base=0.01, **policy),  # type: ignore[arg-type]
                           store=store)  # fmt: skip


def test_a_garbled_200_reply_falls_back_and_is_recorded() -> None:
    async def main() -> None:
        store = MemoryStore()
        with fake_server() as server:
            html = Reply(200, "<html>proxy error</html>", {"content-type": "text/html"})
            server.route("POST", "/v1/chat/completions", lambda _: html)
            m = manager(server.base_url, store, max_retries=0)
            spec = await m.generate_encounter(REQUEST)
            await m.aclose()
        assert spec.generator == "procedural"
        (totals,) = await store.usage_totals()
        assert totals.failures == 1

    anyio.run(main)


def test_an_echoed_key_is_not_stored_or_logged() -> None:
    async def main() -> None:
        store = MemoryStore()
        with fake_server() as server:
            echo = openai_error(401, f"invalid api key {KEY}")
            server.route("POST", "/v1/chat/completions", lambda _: echo)
            m = manager(server.base_url, store, max_retries=0)
            await m.generate_encounter(REQUEST)
            await m.aclose()
        assert all(KEY not in (r.error or "") for r in m.recent)
        assert any("[redacted]" in (r.error or "") for r in m.recent)

    anyio.run(main)


def test_a_long_retry_after_rests_the_provider() -> None:
    async def main() -> None:
        store = MemoryStore()
        with fake_server() as server:
            slow = openai_error(429, "slow down", retry_after=120)
            server.route("POST", "/v1/chat/completions", lambda _: slow)
            m = manager(server.base_url, store, max_backoff=1)
            await m.generate_encounter(REQUEST)
            calls = len(server.requests)
            await m.generate_encounter(REQUEST)  # resting: not asked again
            await m.aclose()
            assert len(server.requests) == calls == 1

    anyio.run(main)
