"""The provider-backed classifier: OpenAI's moderation endpoint through the official
client, over real HTTP to a loopback server that speaks its wire format."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import anyio
import openai

from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, OpenAIModerationClassifier

from .fakes.http import FakeServer, Reply, fake_server

CATEGORY_NAMES = [
    "sexual", "sexual/minors", "harassment", "harassment/threatening", "hate",
    "hate/threatening", "illicit", "illicit/violent", "self-harm", "self-harm/intent",
    "self-harm/instructions", "violence", "violence/graphic",
]  # fmt: skip


def moderation_reply(body: dict[str, Any]) -> Reply:
    """Flags 'violence' when the input mentions 'crowbar' (which no word list knows)."""
    text = body.get("input", "")
    flagged = "crowbar" in str(text)
    categories = {name: (flagged and name == "violence") for name in CATEGORY_NAMES}
    scores = {name: (0.97 if categories[name] else 0.001) for name in CATEGORY_NAMES}
    return Reply(body={
        "id": "modr-1",
        "model": body.get("model", "omni-moderation-latest"),
        "results": [{
            "flagged": flagged,
            "categories": categories,
            "category_scores": scores,
            "category_applied_input_types": {name: ["text"] for name in CATEGORY_NAMES},
        }],
    })  # fmt: skip


def moderator_for(server: FakeServer) -> ContentModerator:
    client = openai.AsyncOpenAI(
        api_key="sk-test-not-real", base_url=server.base_url + "/v1", max_retries=0, timeout=5
    )
    return ContentModerator(classifiers=[OpenAIModerationClassifier(client)])


def test_classifier_flags_what_the_word_lists_miss() -> None:
    persona = PersonaCore(name="Guide")

    async def main() -> None:
        with fake_server() as server:
            server.route("POST", "/v1/moderations", moderation_reply)
            moderator = moderator_for(server)
            flagged = await moderator.moderate_message("meet me with a crowbar", persona)
            assert flagged.decision == "block"
            assert flagged.reason == "classifier" and flagged.topic == "violence"
            fine = await moderator.moderate_message("meet me at the castle", persona)
            assert fine.decision == "allow"
            # the word lists already block this one: the paid classifier is not asked
            before = len(server.requests)
            listed = await moderator.moderate_message("i want to kill myself", persona)
            assert listed.reason == "blocked_topic" and len(server.requests) == before
            sent = server.requests[0]
            assert sent.body["model"] == "omni-moderation-latest"
            assert sent.headers["authorization"] == "Bearer sk-test-not-real"
            await moderator.aclose()

    anyio.run(main)


def test_a_failing_classifier_blocks_rather_than_lets_unchecked_text_out() -> None:
    async def main() -> None:
        with fake_server() as server:
            server.route("POST", "/v1/moderations", lambda body: Reply(500, {"error": "boom"}))
            moderator = moderator_for(server)
            result = await moderator.moderate_message("hello", PersonaCore(name="G"))
            await moderator.aclose()
            assert result.decision == "block" and result.reason == "classifier_unavailable"

    anyio.run(main)


def test_a_closed_moderator_leaves_no_connection_for_a_later_event_loop() -> None:
    """The classifier's HTTP client holds a keep-alive connection of the loop that used
    it. Closed with the moderator, nothing is left for the garbage collector to close
    on another loop (``RuntimeError: Event loop is closed`` in a stray task)."""
    kept: list[ContentModerator] = []

    async def first() -> None:
        with fake_server() as server:
            server.route("POST", "/v1/moderations", moderation_reply)
            moderator = moderator_for(server)
            result = await moderator.moderate_message("at the castle", PersonaCore(name="G"))
            assert result.decision == "allow"
            await moderator.aclose()
            kept.append(moderator)

    anyio.run(first)
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
