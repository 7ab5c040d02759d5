"""The SDK's own overhead per LLM generation, over the (fake) server's latency.

A loopback server speaks OpenAI's chat-completions wire format and answers with a
fixed valid encounter. In one run, alternating:

- baseline: the official ``openai`` client alone calls it (HTTP, JSON, client parsing);
- ours: ``ProviderManager.generate_encounter`` through ``OpenAIProvider`` (prompt,
  schema, retry/timeout wrapper, JSON parse, EncounterSpec validation, usage record).

The overhead is the difference per pair; medians (p50) and p90 are printed. Target
(issue 3): p50 <= 2 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import openai  # noqa: E402
from tests.conftest import encounter_dict  # noqa: E402
from tests.fakes.http import fake_server  # noqa: E402
from tests.fakes.llm import openai_chat_reply  # noqa: E402

from encounters.generation import GenerationRequest  # noqa: E402
from encounters.generation.openai_provider import OpenAIProvider  # noqa: E402
from encounters.generation.router import ProviderManager, RouterPolicy  # noqa: E402
from encounters.models import PlayerContext  # noqa: E402
from encounters.storage import MemoryStore  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int) -> None:
    body = {k: v for k, v in encounter_dict().items() if k != "id"}
    reply = openai_chat_reply(json.dumps(body))
    with fake_server() as server:
        server.route("POST", "/v1/chat/completions", lambda _: reply)
        base_url = server.base_url + "/v1"
        client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
        provider = OpenAIProvider(api_key="sk-bench", base_url=base_url)
        manager = ProviderManager([provider], policy=RouterPolicy(timeout=10), store=MemoryStore())
        request = GenerationRequest(
            category="combat", difficulty=0.6, player=PlayerContext(player_id="p", level=10)
        )
        messages = [{"role": "user", "content": "x" * 600}]
        for _ in range(20):  # warm up both paths
            await client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
            await manager.generate_encounter(request)
        bare: list[float] = []
        ours: list[float] = []
        for _ in range(n):
            t = time.perf_counter()
            await client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            await manager.generate_encounter(request)
            ours.append(time.perf_counter() - t)
        await client.close()
        await manager.aclose()
    overhead = [(o - b) * 1000 for o, b in zip(ours, bare, strict=True)]
    print(f"LLM generation overhead, {n} pairs (loopback OpenAI wire format)")
    print(
        f"  baseline openai client alone : p50 {statistics.median(bare) * 1000:6.2f} ms  "
        f"p90 {percentile(bare, 0.9) * 1000:6.2f} ms"
    )
    print(
        f"  ProviderManager generation   : p50 {statistics.median(ours) * 1000:6.2f} ms  "
        f"p90 {percentile(ours, 0.9) * 1000:6.2f} ms"
    )
    p50 = statistics.median(overhead)
    p90 = percentile(overhead, 0.9)
    print(
        f"  SDK overhead per generation  : p50 {p50:6.2f} ms  p90 {p90:6.2f} ms"
        f"  (target p50 <= 2 ms: {'met' if p50 <= 2 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    anyio.run(run, 30 if args.quick else args.n)


if __name__ == "__main__":
    main()
