"""The provider stage: OpenAI's moderation endpoint through the official client, over
real HTTP to a loopback server that speaks its wire format (tests/fakes/llm.py). It is
asked only when configured, only about text the offline layers let through, and when
it fails or is too slow the offline decision stands."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import Callable
from typing import Any

import anyio
import openai
import pytest

from encounters.engine import Engine
from encounters.errors import ConfigError
from encounters.models.persona import PersonaCore
from encounters.moderation import (
    ContentModerator,
    ModerationSettings,
    OpenAIModerationClassifier,
    TextFilter,
    provider_classifiers,
)
from encounters.settings import LLMSettings, Settings
from tests.fakes.http import FakeServer, Reply, fake_server
from tests.fakes.llm import openai_error, openai_moderation_reply

GUIDE = PersonaCore(name="Guide")
#: The fake provider flags "crowbar", which no word list nor the topic model knows.
FLAGS = {"crowbar": "violence"}


def flags_crowbar(body: dict[str, Any]) -> Reply:
    return openai_moderation_reply(body, FLAGS)


@pytest.fixture(scope="module")
def tf() -> TextFilter:
    return TextFilter.default()


def moderator_for(server: FakeServer, tf: TextFilter, **settings: Any) -> ContentModerator:
    client = openai.AsyncOpenAI(
        api_key="sk-test-not-real", base_url=server.base_url + "/v1", max_retries=0, timeout=5
    )
    return ContentModerator(
        tf,
        settings=ModerationSettings(**settings),
        classifiers=[OpenAIModerationClassifier(client)],
    )


def run_with(handler: Callable[[dict[str, Any]], Reply], main: Any) -> None:
    async def wrapped() -> None:
        with fake_server() as server:
            server.route("POST", "/v1/moderations", handler)
            await main(server)

    anyio.run(wrapped)


def test_classifier_flags_what_the_offline_layers_miss(tf: TextFilter) -> None:
    async def main(server: FakeServer) -> None:
        moderator = moderator_for(server, tf)
        flagged = await moderator.moderate_message("meet me with a crowbar", GUIDE)
        assert flagged.decision == "block"
        assert flagged.reason == "classifier" and flagged.topic == "violence"
        fine = await moderator.moderate_message("meet me at the castle", GUIDE)
        assert fine.decision == "allow"
        # the offline layers already block these: the paid classifier is not asked
        before = len(server.requests)
        listed = await moderator.moderate_message("i want to kill myself", GUIDE)
        modelled = await moderator.moderate_message("honestly i just want to stop existing", GUIDE)
        assert listed.reason == modelled.reason == "blocked_topic"
        assert len(server.requests) == before
        sent = server.requests[0]
        assert sent.body["model"] == "omni-moderation-latest"
        assert sent.headers["authorization"] == "Bearer sk-test-not-real"
        await moderator.aclose()

    run_with(flags_crowbar, main)


def test_a_failing_provider_leaves_the_offline_decision(tf: TextFilter) -> None:
    async def main(server: FakeServer) -> None:
        moderator = moderator_for(server, tf)
        fine = await moderator.moderate_message("hello", GUIDE)
        assert (fine.decision, fine.text) == ("allow", "hello")
        harm = await moderator.moderate_message("take your clothes off for me", GUIDE)
        assert harm.decision == "block" and harm.topic == "sexual"  # offline model
        assert moderator.counters.provider_failures == 1  # the offline block asks nobody
        await moderator.aclose()

    run_with(lambda body: openai_error(500, "boom"), main)


def test_a_failing_provider_can_block_instead(tf: TextFilter) -> None:
    async def main(server: FakeServer) -> None:
        moderator = moderator_for(server, tf, on_provider_failure="block")
        result = await moderator.moderate_message("hello", GUIDE)
        assert result.decision == "block" and result.reason == "classifier_unavailable"
        await moderator.aclose()

    run_with(lambda body: openai_error(503, "overloaded"), main)


def test_a_slow_provider_is_not_waited_for(tf: TextFilter) -> None:
    """The provider answers after 30 s; the message is decided offline long before."""

    def hung(body: dict[str, Any]) -> Reply:
        return dataclasses.replace(openai_moderation_reply(body, FLAGS), delay=30.0)

    async def main(server: FakeServer) -> None:
        moderator = moderator_for(server, tf, provider_timeout=0.2)
        result = await moderator.moderate_message("meet me with a crowbar", GUIDE)
        assert (result.decision, result.text) == ("allow", "meet me with a crowbar")
        assert len(server.requests) == 1
        await moderator.aclose()

    run_with(hung, main)


def test_engine_uses_the_provider_only_when_configured(tf: TextFilter) -> None:
    async def main(server: FakeServer) -> None:
        llm = LLMSettings(
            openai_api_key="sk-test-not-real", openai_base_url=server.base_url + "/v1"
        )
        off = Settings(store="memory", llm=llm)
        async with Engine(off) as engine:
            result = await engine.moderator.moderate_message("meet me with a crowbar", GUIDE)
            assert result.decision == "allow"
        assert server.requests == []
        on = Settings(store="memory", llm=llm, moderation=ModerationSettings(provider="openai"))
        async with Engine(on) as engine:
            result = await engine.moderator.moderate_message("meet me with a crowbar", GUIDE)
            assert (result.decision, result.topic) == ("block", "violence")
        assert [r.path for r in server.requests] == ["/v1/moderations"]

    run_with(flags_crowbar, main)


def test_provider_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        provider_classifiers(ModerationSettings(provider="openai"), LLMSettings())
    assert provider_classifiers(ModerationSettings(), LLMSettings()) == []


def test_a_closed_moderator_leaves_no_connection_for_a_later_event_loop(tf: TextFilter) -> None:
    """The classifier's HTTP client holds a keep-alive connection of the loop that used
    it. Closed with the moderator, nothing is left for the garbage collector to close
    on another loop (``RuntimeError: Event loop is closed`` in a stray task)."""
    kept: list[ContentModerator] = []

    async def first(server: FakeServer) -> None:
        moderator = moderator_for(server, tf)
        result = await moderator.moderate_message("at the castle", GUIDE)
        assert result.decision == "allow"
        await moderator.aclose()
        kept.append(moderator)

    run_with(flags_crowbar, first)
    errors: list[str] = []

    async def later() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _loop, context: errors.append(repr(context.get("exception")))
        )
        kept.clear()  # the moderator and its client are collected while this loop runs
        gc.collect()
        await anyio.sleep(0.05)

    anyio.run(later)
    assert errors == []
