"""Offline neural speech with Piper, from a voice model file the user has.

Piper (the ``piper-tts`` package, ``pip install 'ai-encounters[piper]'``) runs a voice
model (``NAME.onnx`` with its ``NAME.onnx.json`` beside it) on the CPU through ONNX
Runtime; it sounds far more natural than eSpeak NG. Nothing is downloaded: the engine
speaks with the model file ``AE_VOICE__PIPER_MODEL`` points at, and says so clearly
when that file or its config is missing.

A Piper model speaks one language (its config's ``language``): a line in another
language is refused with a :class:`~encounters.generation.llm.ProviderError`, so the
router moves on to the next engine (put ``espeak`` after ``piper`` to speak every
language). A persona's ``voice.id`` picks a speaker of a multi-speaker model by name
(``piper:NAME`` or a bare name the model has); otherwise the model's default speaker.
``voice.rate`` scales the phoneme length (2.0 speaks twice as fast).

Limits: one model per daemon; lines are synthesized one at a time (a lock), each in a
worker thread so the event loop never waits on it; loading a medium model takes a few
seconds and about 100 MB of memory, once, at start.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio

from .._util.optional import require
from ..errors import ConfigError
from ..generation.llm import ProviderError
from .base import Speech, voice_for
from .wav import WAV_TYPE, wav_bytes


def _config_path(model: Path) -> Path:
    return model.with_name(model.name + ".json")


def model_language(config: dict[str, Any]) -> str:
    """The language a Piper voice config speaks, as a primary subtag (``en``, ``de``):
    its ``language.family`` (or ``language.code``), else its eSpeak voice."""
    language = config.get("language") or {}
    tag = str(language.get("family") or language.get("code") or config["espeak"]["voice"])
    return tag.replace("_", "-").split("-")[0].lower()


class PiperProvider:
    """Piper as a :class:`~encounters.voice.base.SpeechProvider` (see the module)."""

    name = "piper"
    secrets: tuple[str, ...] = ()

    def __init__(self, model: Path | str) -> None:
        path = Path(model).expanduser()
        config_path = _config_path(path)
        if not path.is_file():
            raise ConfigError(
                f"AE_VOICE__PIPER_MODEL: no Piper voice model at {path}: point it at a voice "
                f"file you have (NAME.onnx, with NAME.onnx.json beside it)"
            )
        if not config_path.is_file():
            raise ConfigError(
                f"AE_VOICE__PIPER_MODEL: the voice model {path.name} has no config beside it: "
                f"put its {config_path.name} in {path.parent}"
            )
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            self.language = model_language(config)
            speaker_ids = config.get("speaker_id_map") or {}
            self.speakers: dict[str, int] = {str(k): int(v) for k, v in speaker_ids.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{config_path}: not a Piper voice config ({exc})") from None
        piper = require("piper", "piper", "the Piper speech engine")
        try:
            self._voice = piper.PiperVoice.load(str(path), config_path=str(config_path))
        except Exception as exc:  # a corrupt or foreign .onnx file
            raise ConfigError(f"{path}: Piper could not load the voice model ({exc})") from None
        self._synthesis_config = piper.SynthesisConfig
        self.sample_rate: int = self._voice.config.sample_rate
        self.model = f"piper:{path.stem}"
        self._lock = threading.Lock()

    def _speak(self, text: str, speaker: int | None, length_scale: float) -> bytes:
        syn = self._synthesis_config(speaker_id=speaker, length_scale=length_scale)
        with self._lock:
            return b"".join(chunk.audio_int16_bytes for chunk in self._voice.synthesize(text, syn))

    async def synthesize(self, text: str, voice: str, rate: float, language: str) -> Speech:
        wanted = language.replace("_", "-").split("-")[0].lower()
        if wanted != self.language:
            raise ProviderError(
                self.name, f"the Piper voice {self.model} speaks {self.language}, not {language}"
            )
        name = voice_for(self.name, voice, frozenset(self.speakers))
        speaker = self.speakers.get(name) if name else None
        length_scale = self._voice.config.length_scale / max(rate, 0.01)
        pcm = await anyio.to_thread.run_sync(self._speak, text, speaker, length_scale)
        if not pcm:
            raise ProviderError(self.name, "Piper produced no audio for the line")
        duration = len(pcm) / 2 / self.sample_rate
        return Speech(wav_bytes(pcm, self.sample_rate), WAV_TYPE, duration, self.model, len(text))

    def cost(self, characters: int) -> float:
        return 0.0

    async def aclose(self) -> None:
        return None
