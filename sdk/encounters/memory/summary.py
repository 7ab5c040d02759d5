"""Folding old interactions into a summary when a memory grows past its budget.

:class:`ExtractiveSummarizer` needs nothing: it keeps the most telling lines.
:class:`LLMSummarizer` asks the configured LLM providers (through the router) and falls
back to the extractive summary when none answers, so summarising never fails.
"""

from __future__ import annotations

from typing import Protocol

from ..generation.llm import Message
from ..generation.router import ProviderManager
from ..log import get_logger
from .crypto import words
from .models import Interaction

log = get_logger(__name__)
#: Longest summary kept, in characters.
SUMMARY_CHARS = 1200


class Summarizer(Protocol):
    async def summarize(self, npc_id: str, interactions: list[Interaction]) -> str: ...


class ExtractiveSummarizer:
    """Keeps the lines of the most important interactions (outcome, choices, rare
    words first), oldest to newest, within :data:`SUMMARY_CHARS`, with the tally of
    outcomes. Limits: it can only quote, never paraphrase."""

    async def summarize(self, npc_id: str, interactions: list[Interaction]) -> str:
        return extractive_summary(interactions)


def extractive_summary(interactions: list[Interaction]) -> str:
    tally = {o: sum(1 for i in interactions if i.outcome == o)
             for o in ("positive", "neutral", "negative")}  # fmt: skip
    head = (
        f"Earlier ({len(interactions)} meetings: {tally['positive']} good, "
        f"{tally['negative']} bad, {tally['neutral']} neutral):"
    )
    counts: dict[str, int] = {}
    for i in interactions:
        for w in set(words(i.text())):
            counts[w] = counts.get(w, 0) + 1

    def weight(i: Interaction) -> float:
        rare = sum(1.0 / counts[w] for w in set(words(i.text()))) if counts else 0.0
        return (
            (i.importance or 0.0)
            + (i.outcome != "neutral")
            + 0.2 * len(i.player_choices)
            + (0.1 * rare)
        )

    ranked = sorted(range(len(interactions)), key=lambda k: weight(interactions[k]), reverse=True)
    chosen: list[int] = []
    size = len(head)
    for k in ranked:
        line = _line(interactions[k])
        if line and size + len(line) + 1 <= SUMMARY_CHARS:
            chosen.append(k)
            size += len(line) + 1
    return " ".join([head, *(_line(interactions[k]) for k in sorted(chosen))])


def _line(i: Interaction) -> str:
    text = i.text()
    return f"[{i.outcome}] {text[:300]}" if text else ""


class LLMSummarizer:
    """Summaries written by the LLM providers of ``router``."""

    def __init__(self, router: ProviderManager) -> None:
        self.router = router

    async def summarize(self, npc_id: str, interactions: list[Interaction]) -> str:
        transcript = "\n".join(
            f"- ({i.timestamp:%Y-%m-%d}, {i.outcome}) {i.text()[:400]}" for i in interactions
        )[:12000]
        messages = [
            Message("system", "You keep an NPC's memory of one player in a game. Summarise "
                    "the meetings below in at most 120 words, in the third person: what "
                    "happened, what the player chose, how the NPC feels. Facts only."),
            Message("user", transcript),
        ]  # fmt: skip
        try:
            result = await self.router.chat(messages, [])
        except Exception as exc:  # no provider answered: never lose the memories
            log.warning("memory.summary_fallback", npc_id=npc_id, error=str(exc)[:200])
            return extractive_summary(interactions)
        text = " ".join(result.text.split())[:SUMMARY_CHARS]
        return text or extractive_summary(interactions)
