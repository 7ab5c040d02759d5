"""Voiced lines: offline generation time per line and the audio cache's hit latency.

- generation: distinct chat lines (6-20 words) spoken by eSpeak NG in-process through
  ``VoiceService.speak`` (router, WAV wrapping, cache write); the baseline is the
  audio's own length (real time), so the real-time factor says how many seconds of
  speech one second of CPU makes;
- cache hit: ``VoiceService.speak`` for a line already made (key hash, metadata, file
  time refresh), against reading the same WAV file from disk (what serving it costs
  anyway).

Medians (p50) and p90 are printed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402

from encounters.models.persona import Voice  # noqa: E402
from encounters.voice import AudioCache, VoiceRouter, VoiceService  # noqa: E402
from encounters.voice.espeak import ESpeakProvider  # noqa: E402

SENTENCE = (
    "the bridge is safe now follow me quickly before the guards come back we need "
    "to find the old mill past the river where the lantern still burns at night"
)
WORDS = SENTENCE.split(" ")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lines(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(6, 20))).capitalize() + f", {i}."
            for i in range(n)]  # fmt: skip


async def run(n: int, hits: int) -> None:
    rng = random.Random(7)
    voice = Voice(id="en")
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        service = VoiceService(VoiceRouter([ESpeakProvider()]), AudioCache(Path(folder)))
        await service.speak("Warm up.", voice)
        made: list[float] = []
        audio: list[float] = []
        for text in lines(n, rng):
            t = time.perf_counter()
            line = await service.speak(text, voice)
            made.append(time.perf_counter() - t)
            audio.append(line.duration)
        cached = await service.speak("Warm up.", voice)
        hit: list[float] = []
        read: list[float] = []
        for _ in range(hits):
            t = time.perf_counter()
            await service.speak("Warm up.", voice)
            hit.append(time.perf_counter() - t)
            t = time.perf_counter()
            cached.path.read_bytes()
            read.append(time.perf_counter() - t)
        await service.aclose()
    ms = [m * 1000 for m in made]
    print(f"Offline speech (eSpeak NG), {n} distinct lines of 6-20 words")
    print(f"  generation per line      : p50 {statistics.median(ms):6.1f} ms  "
          f"p90 {percentile(ms, 0.9):6.1f} ms")  # fmt: skip
    print(f"  baseline: audio per line : p50 {statistics.median(audio) * 1000:6.0f} ms of speech  "
          f"(real-time factor {sum(audio) / sum(made):.0f}x)")  # fmt: skip
    us = [h * 1e6 for h in hit]
    base = [r * 1e6 for r in read]
    print(f"Audio cache, {hits} hits on one line")
    print(f"  cache hit (speak)        : p50 {statistics.median(us):6.1f} us  "
          f"p90 {percentile(us, 0.9):6.1f} us")  # fmt: skip
    print(f"  baseline: read the file  : p50 {statistics.median(base):6.1f} us  "
          f"p90 {percentile(base, 0.9):6.1f} us")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="lines to synthesize")
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    anyio.run(run, 20 if args.quick else args.n, 200 if args.quick else args.hits)


if __name__ == "__main__":
    main()
