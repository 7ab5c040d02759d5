"""Speech for voiced companions: the offline engine makes real audio, OpenAI's speech
wire format is spoken over a loopback server, the router falls back and accounts, and
a line is synthesized once per (text, voice) however often it is asked for."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

from encounters.errors import ConfigError
from encounters.models.persona import Voice
from encounters.settings import load_settings
from encounters.storage import MemoryStore
from encounters.voice import (
    AudioCache,
    Speech,
    SpeechFailed,
    SpeechProvider,
    VoicePolicy,
    VoiceRouter,
    VoiceService,
    line_key,
    voice_for,
)
from encounters.voice.espeak import ESpeakProvider, language_voices
from encounters.voice.openai_speech import OpenAISpeechProvider
from tests.fakes.http import FakeServer, Reply, fake_server
from tests.fakes.llm import Script, openai_error
from tests.fakes.speech import openai_speech_reply, tone_wav

T = TypeVar("T")
KEY = "sk-test-speech-0123456789"
LINE = "Hello traveller, the bridge ahead is safe. Follow me."


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


def _frames(audio: bytes) -> tuple[int, int, int, bytes]:
    """Rate, channels, frame count and samples, read by the standard library."""
    with wave.open(io.BytesIO(audio)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes(), w.readframes(w.getnframes())


def _loudest(pcm: bytes) -> int:
    samples = memoryview(pcm).cast("h")
    return max(abs(s) for s in samples)


def _openai(server: FakeServer, **kwargs: object) -> OpenAISpeechProvider:
    return OpenAISpeechProvider(api_key=KEY, base_url=server.base_url + "/v1", **kwargs)  # type: ignore[arg-type]


# -- the offline engine --------------------------------------------------------------------


def test_the_offline_engine_speaks_a_line_as_a_wav_file() -> None:
    speech = run(lambda: ESpeakProvider().synthesize(LINE, "en", 1.0, "en"))
    assert speech.content_type == "audio/wav" and speech.audio[:4] == b"RIFF"
    rate, channels, frames, pcm = _frames(speech.audio)
    assert (rate, channels) == (22050, 1)
    assert speech.duration == pytest.approx(frames / rate)
    assert 1.5 < speech.duration < 10  # a sentence, not a click nor silence padding
    assert _loudest(pcm) > 1000  # audible, not silence
    assert speech.characters == len(LINE)


def test_the_offline_engine_follows_rate_and_language() -> None:
    async def speak(voice: str, rate: float, language: str) -> Speech:
        return await ESpeakProvider().synthesize(LINE, voice, rate, language)

    normal = run(lambda: speak("en", 1.0, "en"))
    fast = run(lambda: speak("en", 2.0, "en"))
    assert fast.duration < normal.duration * 0.75
    assert normal.model == "espeak-ng:en"
    # an id that is no eSpeak voice falls back to the session's language, and so does
    # another engine's voice; its own voices win over the language
    assert run(lambda: speak("nova", 1.0, "es")).model == "espeak-ng:es"
    assert run(lambda: speak("openai:nova", 1.0, "ru")).model == "espeak-ng:ru"
    assert run(lambda: speak("espeak:de+f3", 1.0, "en")).model == "espeak-ng:de+f3"
    assert run(lambda: speak("nova", 1.0, "pt-BR")).model == "espeak-ng:pt-br"
    assert run(lambda: speak("nova", 1.0, "xx-YY")).model == "espeak-ng:en"
    assert language_voices("pt-BR") == ["pt-br", "pt", "en"]
    assert language_voices("de") == ["de", "en"]


def test_voice_ids_name_a_voice_for_every_engine_or_one() -> None:
    known = frozenset({"nova", "alloy"})
    assert voice_for("openai", "nova", known) == "nova"
    assert voice_for("openai", "en+f3", known) is None  # not its voice: its default
    assert voice_for("openai", "openai:coral", known) == "coral"
    assert voice_for("openai", "espeak:de", known) is None
    assert voice_for("espeak", "de", None) == "de"


# -- OpenAI speech over the wire -------------------------------------------------------------


def test_openai_speech_wire_format() -> None:
    with fake_server() as server:
        script = Script([openai_speech_reply(1.5)])
        server.route("POST", "/v1/audio/speech", script)
        provider = _openai(server, model="gpt-4o-mini-tts")

        async def go() -> object:
            try:
                return await provider.synthesize(LINE, "nova", 1.25, "en")
            finally:
                await provider.aclose()

        speech = run(go)
    assert script.bodies == [{"model": "gpt-4o-mini-tts", "voice": "nova", "input": LINE,
                              "response_format": "wav", "speed": 1.25}]  # fmt: skip
    request = server.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    # the streamed header's unknown sizes: the duration comes from the bytes present
    assert speech.duration == pytest.approx(1.5, abs=0.001)  # type: ignore[attr-defined]
    assert speech.audio[:4] == b"RIFF"  # type: ignore[attr-defined]


def test_openai_speech_uses_its_default_for_voices_it_does_not_have() -> None:
    with fake_server() as server:
        script = Script([openai_speech_reply(0.5)])
        server.route("POST", "/v1/audio/speech", script)
        provider = _openai(server, voice="coral")

        async def go() -> None:
            for voice in ("en+f3", "espeak:de", "voice_1234"):
                await provider.synthesize("hi", voice, 1.0, "en")
            await provider.aclose()

        run(go)
    assert [b["voice"] for b in script.bodies] == ["coral", "coral", {"id": "voice_1234"}]


def test_openai_speech_that_is_not_audio_is_an_error_saying_so() -> None:
    with fake_server() as server:
        page = Reply(200, b"<html>proxy login</html>", {"content-type": "text/html"})
        server.route("POST", "/v1/audio/speech", lambda _: page)
        provider = _openai(server)
        router = VoiceRouter([provider], policy=VoicePolicy(max_retries=0))
        with pytest.raises(SpeechFailed, match="not a WAV file"):
            run(lambda: router.speak("hi", "nova"))
        run(router.aclose)


# -- the router ----------------------------------------------------------------------------------


def test_the_router_falls_back_to_the_offline_engine_and_accounts_for_every_try() -> None:
    with fake_server() as server:
        failing = openai_error(503, f"overloaded, key {KEY} rejected")
        script = Script([failing, failing])
        server.route("POST", "/v1/audio/speech", script)
        store = MemoryStore()
        policy = VoicePolicy(max_retries=1, backoff_base=0.01)
        engines: list[SpeechProvider] = [_openai(server, model="tts-1"), ESpeakProvider()]
        router = VoiceRouter(engines, policy=policy, store=store)

        async def go() -> object:
            try:
                return await router.speak(LINE, "nova", 1.0, "en")
            finally:
                await router.aclose()

        speech = run(go)
    assert script.calls == 2  # one retry on the 503, then the next engine
    assert speech.provider == "espeak"  # type: ignore[attr-defined]
    records = list(router.recent)
    assert [(r.provider, r.ok, r.purpose) for r in records] == [
        ("openai", False, "speech"), ("openai", False, "speech"), ("espeak", True, "speech")
    ]  # fmt: skip
    assert all(r.input_tokens == len(LINE) for r in records)
    assert records[0].cost_usd == pytest.approx(len(LINE) * 15.0 / 1_000_000)
    assert records[2].cost_usd == 0.0
    assert records[0].error is not None and "503" in records[0].error
    assert KEY not in records[0].error  # keys never land in the usage log
    totals = run(store.usage_totals)
    assert {(t.provider, t.calls, t.failures) for t in totals} == {("openai", 2, 2),
                                                                  ("espeak", 1, 0)}  # fmt: skip


def test_a_hanging_speech_server_is_cut_at_the_timeout() -> None:
    with fake_server() as server:
        hung = Reply(200, tone_wav(0.2), {"content-type": "audio/wav"}, delay=3.0)
        server.route("POST", "/v1/audio/speech", lambda _: hung)
        policy = VoicePolicy(timeout=0.3, deadline=5, max_retries=0)
        router = VoiceRouter([_openai(server), ESpeakProvider()], policy=policy)
        speech = run(lambda: router.speak("hi there", "nova"))
        run(router.aclose)
    assert speech.provider == "espeak"
    assert "timed out" in (router.recent[0].error or "")


def test_when_no_engine_speaks_the_error_says_why(tmp_path: Path) -> None:
    with fake_server() as server:
        server.route("POST", "/v1/audio/speech", lambda _: openai_error(401, "bad key"))
        router = VoiceRouter([_openai(server)], policy=VoicePolicy(max_retries=2))
        with pytest.raises(SpeechFailed, match=r"HTTP 401.*bad key"):
            run(lambda: router.speak("hi", "nova"))
        assert len(router.recent) == 1  # a 401 is not retried
        service = VoiceService(router, AudioCache(tmp_path))
        with pytest.raises(SpeechFailed):
            run(lambda: service.speak("hi", Voice(id="nova")))
        assert (service.failures, service.misses) == (1, 0)
        assert list(tmp_path.iterdir()) == []  # nothing cached for a line never spoken
        run(router.aclose)


# -- the cache and the service ------------------------------------------------------------------


def test_a_line_is_synthesized_once_per_text_and_voice(tmp_path: Path) -> None:
    with fake_server() as server:
        script = Script([openai_speech_reply(0.8)])
        server.route("POST", "/v1/audio/speech", script)
        voice = Voice(id="nova", rate=1.0)

        async def go() -> None:
            service = VoiceService(VoiceRouter([_openai(server)]), AudioCache(tmp_path))
            async with anyio.create_task_group() as tg:  # asked at once: made once
                for _ in range(4):
                    tg.start_soon(service.speak, LINE, voice, "en")
            line = await service.speak(LINE, voice)
            assert line.path.read_bytes()[:4] == b"RIFF"
            assert line.duration == pytest.approx(0.8, abs=0.001)
            assert line.key == line_key(LINE, "nova", 1.0, "en", "openai:gpt-4o-mini-tts")
            assert (service.misses, service.hits) == (1, 4)
            await service.speak(LINE, Voice(id="nova", rate=1.5))  # another rate: new audio
            await service.speak("Another line.", voice)
            await service.aclose()
            # a new process on the same folder: still cached
            again = VoiceService(VoiceRouter([_openai(server)]), AudioCache(tmp_path))
            assert (await again.speak(LINE, voice)).key == line.key
            assert again.hits == 1
            await again.aclose()

        run(go)
    assert script.calls == 3
    assert LINE not in " ".join(p.name for p in tmp_path.iterdir())  # names are hashes


def test_a_line_a_fallback_spoke_in_an_outage_is_spoken_again_by_the_preferred_engine(
    tmp_path: Path,
) -> None:
    with fake_server() as server:
        script = Script([openai_error(500, "down"), openai_speech_reply(0.7)])
        server.route("POST", "/v1/audio/speech", script)
        now = [0.0]
        policy = VoicePolicy(max_retries=0, cooldown_after=1, cooldown_seconds=30)
        engines: list[SpeechProvider] = [_openai(server), ESpeakProvider()]
        router = VoiceRouter(engines, policy=policy, clock=lambda: now[0])
        voice = Voice(id="nova")

        async def go() -> None:
            service = VoiceService(router, AudioCache(tmp_path))
            first = await service.speak(LINE, voice)  # OpenAI is down: eSpeak NG speaks
            assert "espeak" in first.provider
            # OpenAI rests after its failure: the offline copy is served meanwhile
            assert (await service.speak(LINE, voice)).key == first.key
            assert script.calls == 1
            now[0] += 31  # rested: OpenAI speaks the line again, and its copy is kept
            better = await service.speak(LINE, voice)
            assert better.provider == "openai" and better.key != first.key
            assert (await service.speak(LINE, voice)).key == better.key
            assert script.calls == 2
            await service.aclose()

        run(go)


def test_the_cache_stays_within_its_size(tmp_path: Path) -> None:
    async def go() -> None:
        cache = AudioCache(tmp_path, max_bytes=150_000)
        service = VoiceService(VoiceRouter([ESpeakProvider()]), cache)
        voice = Voice(id="en")
        first = await service.speak("The first line, which is long enough to be sizeable.", voice)
        for i in range(6):
            await service.speak(f"Line number {i}, which is long enough to be sizeable.", voice)
        sizes = sum(p.stat().st_size for p in tmp_path.glob("*.wav"))
        assert sizes <= 150_000
        assert cache.get(first.key) is None  # the oldest went first
        assert not first.path.exists()

    run(go)


def test_the_cache_never_reads_outside_its_folder(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "audio")
    assert cache.path_for("../secret") is None
    assert cache.get("../../etc/passwd") is None


def test_voice_settings_name_engines_and_bad_ones_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(data_dir=tmp_path, voice={"providers": ["espeak"]})
    service = VoiceService.from_settings(settings)
    assert [p.name for p in service.router.providers] == ["espeak"]
    assert service.cache.folder == tmp_path / "audio"
    throwaway = VoiceService.from_settings(load_settings(data_dir=tmp_path / "m", store="memory"))
    assert throwaway.cache.folder.is_dir() and not (tmp_path / "m").exists()
    run(throwaway.aclose)
    assert not throwaway.cache.folder.exists()  # AE_STORE=memory: nothing left on disk
    bare = load_settings(data_dir=tmp_path, voice={"providers": ["openai"]},
                         llm={"openai_api_key": None, "openai_base_url": None})  # fmt: skip
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        VoiceService.from_settings(bare)
    monkeypatch.setenv("AE_VOICE__PROVIDERS", '["festival"]')
    with pytest.raises(ConfigError, match="AE_VOICE__PROVIDERS: Input should be 'openai', 'piper'"):
        load_settings(data_dir=tmp_path)


# -- ae voice say ---------------------------------------------------------------------------------


def test_ae_voice_say_writes_the_line_and_says_what_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from encounters.cli import app

    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    target = tmp_path / "line.wav"
    result = runner.invoke(app, ["voice", "say", "Guten Tag, Reisender.", "--out", str(target),
                                 "--voice", "nova", "--language", "de", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["engine"] == "espeak" and summary["model"] == "espeak-ng:de"
    with wave.open(str(target)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(summary["seconds"], abs=0.001)
    assert not (tmp_path / "data").exists()  # a preview caches nothing
    bad = runner.invoke(app, ["voice", "say", "hi", "--out", str(target), "--rate", "9"])
    assert bad.exit_code == 1
    assert "invalid voice" in bad.stderr and "rate" in bad.stderr
    folder = runner.invoke(app, ["voice", "say", "hi", "--out", str(tmp_path)])
    assert folder.exit_code == 1 and "is a folder" in folder.stderr
