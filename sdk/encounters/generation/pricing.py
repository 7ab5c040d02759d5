"""Estimated cost of LLM calls, from a per-model price table.

Prices are US dollars per million tokens, (input, output). They change: override or
extend them with ``LLM_PRICES='{"my-model": [0.5, 1.5]}'``. Models not in the table
(local models, unknown names) cost 0 and are reported as such. The longest table key
that the model name starts with wins, so ``gpt-4o-mini-2024-07-18`` uses ``gpt-4o-mini``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .llm import Usage

#: Public list prices when this table was written (USD per 1M tokens).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4": (1.00, 5.00),
    "claude-opus-4": (15.00, 75.00),
}
#: Characters per token, for estimates before a call (English prose, roughly).
CHARS_PER_TOKEN = 4


class PriceTable:
    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.prices = {**DEFAULT_PRICES, **(overrides or {})}

    def per_million(self, model: str) -> tuple[float, float]:
        best = ""
        for key in self.prices:
            if model.startswith(key) and len(key) > len(best):
                best = key
        return self.prices.get(best, (0.0, 0.0))

    def cost(self, model: str, usage: Usage) -> float:
        inp, out = self.per_million(model)
        return (usage.input_tokens * inp + usage.output_tokens * out) / 1_000_000

    def estimate(self, model: str, prompt_chars: int, expected_output_tokens: int = 900) -> float:
        return self.cost(model, Usage(prompt_chars // CHARS_PER_TOKEN, expected_output_tokens))
