"""Voiced lines for companions: the cache in front of the speech router.

:meth:`VoiceService.speak` returns the line's audio file, synthesized at most once per
(text, voice, rate, language, engine) and process (concurrent asks for one line wait
for the first). The text must already be moderated: the daemon speaks only what moderation let
through (``DeploymentService.signal``), so a blocked line never becomes audio.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .._util.locks import KeyedLocks
from .._util.optional import require
from ..errors import ConfigError
from ..models.persona import Voice
from ..settings import Settings
from ..storage.protocols import UsageLog
from .base import SpeechProvider
from .cache import AudioCache, CachedLine, line_key
from .router import SpeechFailed, VoicePolicy, VoiceRouter


class VoiceService:
    def __init__(self, router: VoiceRouter, cache: AudioCache, *, temporary: bool = False) -> None:
        self.router = router
        self.cache = cache
        #: the cache folder is removed on close (``AE_STORE=memory``: nothing on disk)
        self.temporary = temporary
        self._locks: KeyedLocks[str] = KeyedLocks()
        #: lines served from the cache / synthesized / that no engine spoke, since start
        self.hits = 0
        self.misses = 0
        self.failures = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, store: UsageLog | None = None) -> VoiceService:
        """Engines in ``AE_VOICE__PROVIDERS`` order; the cache in the data folder
        (``audio/``), or in a temporary folder removed on close with ``AE_STORE=memory``.
        :class:`ConfigError` for an engine that cannot work."""
        voice = settings.voice
        providers = build_speech_providers(settings)
        policy = VoicePolicy(timeout=voice.timeout, deadline=voice.deadline,
                             max_retries=voice.max_retries)  # fmt: skip
        temporary = settings.store == "memory"
        folder = (Path(tempfile.mkdtemp(prefix="ae-audio-")) if temporary
                  else Path(settings.data_dir) / "audio")  # fmt: skip
        cache = AudioCache(folder, max_bytes=voice.cache_max_mb * 1024 * 1024)
        return cls(VoiceRouter(providers, policy=policy, store=store), cache, temporary=temporary)

    def _cached(self, keys: dict[str, str]) -> CachedLine | None:
        """The best cached copy worth serving: engines in order, the first copy found,
        but a lesser engine's copy only while every engine before it is resting (so a
        line a fallback spoke during an outage is spoken again by the preferred engine
        once it works)."""
        working = {p.name for p in self.router.available()}
        for name, key in keys.items():
            line = self.cache.get(key)
            if line is not None:
                return line
            if name in working:
                return None
        return None

    async def speak(self, text: str, voice: Voice, language: str = "en") -> CachedLine:
        """The line's audio (from the cache, or made now). Raises
        :class:`~encounters.voice.router.SpeechFailed` when no engine manages it."""
        keys = {p.name: line_key(text, voice.id, voice.rate, language, f"{p.name}:{p.model}")
                for p in self.router.providers}  # fmt: skip
        line = self._cached(keys)
        if line is not None:
            self.hits += 1
            return line
        async with self._locks.hold(line_key(text, voice.id, voice.rate, language)):
            line = self._cached(keys)  # made while this one waited
            if line is not None:
                self.hits += 1
                return line
            try:
                speech = await self.router.speak(text, voice.id, voice.rate, language)
            except SpeechFailed:
                self.failures += 1
                raise
            self.misses += 1
            return self.cache.put(keys[speech.provider], speech, speech.provider)

    async def aclose(self) -> None:
        await self.router.aclose()
        if self.temporary:
            shutil.rmtree(self.cache.folder, ignore_errors=True)


def build_speech_providers(settings: Settings) -> list[SpeechProvider]:
    """The engines ``settings.voice.providers`` names, in order."""
    voice, llm = settings.voice, settings.llm
    providers: list[SpeechProvider] = []
    for name in voice.providers:
        if name == "openai":
            key = llm.openai_api_key.get_secret_value() if llm.openai_api_key else None
            base_url = voice.openai_base_url or llm.openai_base_url
            if not key and not base_url:
                raise ConfigError(
                    "the openai speech engine needs OPENAI_API_KEY (or AE_VOICE__OPENAI_BASE_URL "
                    "for a local OpenAI-compatible speech server)"
                )
            module = require(f"{__package__}.openai_speech", "llm", "the openai speech engine")
            providers.append(module.OpenAISpeechProvider(
                api_key=key, model=voice.openai_model, voice=voice.openai_voice,
                base_url=base_url, timeout=voice.timeout, prices=voice.prices,
            ))  # fmt: skip
        elif name == "piper":
            if voice.piper_model is None:
                raise ConfigError(
                    "the piper speech engine needs AE_VOICE__PIPER_MODEL: the path of a Piper "
                    "voice model (NAME.onnx, with NAME.onnx.json beside it)"
                )
            from .piper import PiperProvider

            providers.append(PiperProvider(voice.piper_model))
        else:
            from .espeak import ESpeakProvider

            providers.append(ESpeakProvider())
    return providers
