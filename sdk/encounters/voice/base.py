"""What every speech engine speaks: text and a voice in, audio out.

A provider adapts one engine (OpenAI's speech endpoint, eSpeak NG in-process) to
:class:`SpeechProvider`. It does one attempt per call and never retries: timeouts,
retries, cooldowns and the fallback to the next engine belong to
:class:`~encounters.voice.router.VoiceRouter`, as for text. Providers raise the text
providers' error kinds (:mod:`encounters.generation.llm`), so the policy is one.

Voices: a persona's ``voice.id`` is one name for every engine. ``"nova"`` is used by an
engine that has a voice of that name; ``"openai:nova"`` or ``"espeak:en+f3"`` is meant
for one engine only. An engine that does not know the name uses its own default (for
eSpeak NG: the session's language).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Speech:
    """One line of audio: the file's bytes, its MIME type and its length in seconds.
    ``characters`` is what the engine was billed for (the text's length)."""

    audio: bytes
    content_type: str
    duration: float
    model: str
    characters: int = 0
    #: The engine that spoke it (set by the router).
    provider: str = ""


@runtime_checkable
class SpeechProvider(Protocol):
    """One speech engine. ``name`` identifies it in settings, logs, usage and voice ids."""

    name: str
    model: str
    #: Secret values (API keys) the router removes from every error text.
    secrets: tuple[str, ...]

    async def synthesize(self, text: str, voice: str, rate: float, language: str) -> Speech:
        """``text`` spoken by ``voice`` (a persona's voice id; see the module) at
        ``rate`` (1.0 is normal speed) in ``language`` (BCP 47). Returns WAV audio."""
        ...

    def cost(self, characters: int) -> float:
        """US dollars for speaking ``characters`` characters (0.0 for local engines)."""
        ...

    async def aclose(self) -> None: ...


def voice_for(provider: str, voice_id: str, known: frozenset[str] | None) -> str | None:
    """The voice ``provider`` should use for a persona's ``voice_id``, or None for the
    provider's default. ``"NAME:VOICE"`` names a voice for the provider NAME only;
    a bare name is used when ``known`` (the provider's voices; None: any) has it."""
    engine, sep, name = voice_id.partition(":")
    if sep:
        return name or None if engine == provider else None
    if known is None or voice_id in known:
        return voice_id
    return None
