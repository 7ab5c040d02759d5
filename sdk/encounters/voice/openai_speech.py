"""Speech from OpenAI's ``/audio/speech`` endpoint through the official ``openai``
client, or from any server that speaks it (``base_url``: a local OpenAI-compatible
speech server such as openedai-speech or Kokoro-FastAPI).

Audio is asked for as WAV, so its duration is read from the file and every world plays
it. Costs are estimated per character from :data:`PRICES` (US dollars per million
characters; change them with ``AE_VOICE__PRICES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai

from ..generation.llm import ProviderError
from ..generation.openai_provider import ERRORS
from .base import Speech, voice_for
from .wav import WAV_TYPE, NotWav, wav_info

#: OpenAI's built-in voices: a persona's voice id naming one of them is used as is.
VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
                    "shimmer", "verse", "marin", "cedar"})  # fmt: skip
#: Public list prices when this table was written, USD per million characters
#: (gpt-4o-mini-tts is billed by tokens; this is its per-character equivalent).
PRICES: dict[str, float] = {"tts-1": 15.0, "tts-1-hd": 30.0, "gpt-4o-mini-tts": 12.0}
#: The endpoint's longest input.
MAX_INPUT = 4096


class OpenAISpeechProvider:
    """``name`` defaults to ``openai``; ``voice`` is the voice used when a persona's
    voice id names none of the server's voices."""

    def __init__(
        self,
        *,
        api_key: str | None,
        model: str = "gpt-4o-mini-tts",
        voice: str = "alloy",
        base_url: str | None = None,
        timeout: float = 10.0,
        name: str = "openai",
        prices: Mapping[str, float] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.default_voice = voice
        self.prices = {**PRICES, **(prices or {})}
        self.secrets: tuple[str, ...] = (api_key,) if api_key else ()
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed-for-local-servers",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    async def synthesize(self, text: str, voice: str, rate: float, language: str) -> Speech:
        if len(text) > MAX_INPUT:
            raise ProviderError(self.name, f"the line is longer than {MAX_INPUT} characters")
        # a bare name the server may know (custom voices: voice_...) is passed on
        name = voice_for(self.name, voice, None if voice.startswith("voice_") else VOICES)
        chosen: Any = name or self.default_voice
        if chosen.startswith("voice_"):
            chosen = {"id": chosen}
        try:
            response = await self.client.audio.speech.create(
                model=self.model,
                voice=chosen,
                input=text,
                response_format="wav",
                speed=rate,
            )
        except openai.OpenAIError as exc:
            raise ERRORS.translate(self.name, exc) from exc
        audio = response.content
        try:
            info = wav_info(audio)
        except NotWav as exc:
            raise ProviderError(self.name, f"the server's audio is unusable: {exc}") from None
        if info.frames == 0:
            raise ProviderError(self.name, "the server sent a WAV file with no audio")
        return Speech(audio, WAV_TYPE, info.duration, self.model, len(text))

    def cost(self, characters: int) -> float:
        best = max((k for k in self.prices if self.model.startswith(k)), key=len, default="")
        return characters * self.prices.get(best, 0.0) / 1_000_000

    async def aclose(self) -> None:
        await self.client.close()
