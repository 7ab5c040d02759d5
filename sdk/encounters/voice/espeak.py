"""Offline speech with eSpeak NG, in-process through ``ctypes``.

The library and its voice data come in the ``espeakng-loader`` wheel (``pip install
'ai-encounters[voice]'``): nothing is downloaded, no system package is needed, and
every language eSpeak NG knows is there (en, es, de, fr, pt-br, ru and about a hundred
more). The voice is robotic but intelligible, and fast: a line takes milliseconds.

Limits: eSpeak NG keeps one global state per process, so lines are synthesized one at
a time (a lock), each in a worker thread so the event loop never waits on it. The
engine varies its output slightly from run to run (the same line is not the same bytes
twice), which the cache makes moot. Input is
plain text: SSML and phoneme markup are not interpreted (a player cannot make the
engine do anything but read the line).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, ClassVar

import anyio

from .._util.optional import require
from ..generation.llm import ProviderError
from .base import Speech
from .wav import WAV_TYPE, wav_bytes

#: eSpeak NG's constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
#: Words per minute at rate 1.0, and the engine's bounds.
NORMAL_WPM = 175
MIN_WPM, MAX_WPM = 80, 450
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    """The process's one eSpeak NG instance (loaded on first use)."""

    lock = threading.Lock()
    lib: Any = None
    sample_rate = 0
    chunks: ClassVar[list[bytes]] = []
    callback: Any = None

    @classmethod
    def load(cls) -> None:
        with cls.lock:
            if cls.lib is None:
                cls._load()

    @classmethod
    def _load(cls) -> None:
        loader = require("espeakng_loader", "voice", "the offline speech engine (eSpeak NG)")
        lib = ctypes.CDLL(loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]  # fmt: skip
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]  # fmt: skip
        data = loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise ProviderError("espeak", f"eSpeak NG did not start (data folder {data!r})")

        def collect(samples: Any, count: int, _events: Any) -> int:
            if count > 0:
                cls.chunks.append(ctypes.string_at(samples, count * 2))
            return 0

        cls.callback = _CALLBACK(collect)  # kept: the library holds the pointer
        lib.espeak_SetSynthCallback(cls.callback)
        cls.lib, cls.sample_rate = lib, rate

    @classmethod
    def speak(cls, text: str, voices: list[str], wpm: int) -> tuple[bytes, str]:
        """PCM samples of ``text`` in the first of ``voices`` the engine has, and
        which voice that was."""
        cls.load()
        with cls.lock:
            found = (v for v in voices if cls.lib.espeak_SetVoiceByName(v.encode()) == _EE_OK)
            chosen = next(found, None)
            if chosen is None:
                raise ProviderError("espeak", f"no eSpeak NG voice among {', '.join(voices)}")
            cls.lib.espeak_SetParameter(_RATE, wpm, 0)
            cls.chunks = []
            encoded = text.encode("utf-8")
            status = cls.lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0,
                                          _CHARS_UTF8, None, None)  # fmt: skip
            cls.lib.espeak_Synchronize()
            pcm, cls.chunks = b"".join(cls.chunks), []
        if status != _EE_OK:
            raise ProviderError("espeak", f"eSpeak NG could not speak the line (error {status})")
        return pcm, chosen


def language_voices(language: str) -> list[str]:
    """eSpeak NG voice names for a BCP 47 tag, most specific first: ``pt-BR`` ->
    ``pt-br``, ``pt``; English last as the voice every install has."""
    tag = language.strip().lower().replace("_", "-")
    parts = tag.split("-")
    names = ["-".join(parts[:2]), parts[0]] if len(parts) > 1 else [parts[0]]
    return list(dict.fromkeys([n for n in names if n] + ["en"]))


class ESpeakProvider:
    """eSpeak NG as a :class:`~encounters.voice.base.SpeechProvider`. A persona's
    voice id is used when it names an eSpeak NG voice (``en-us``, ``de+f3``,
    ``espeak:fr``); otherwise the session's language picks one."""

    name = "espeak"
    model = "espeak-ng"
    secrets: tuple[str, ...] = ()

    def __init__(self) -> None:
        _Engine.load()  # a missing package or broken data is a clear error at start

    async def synthesize(self, text: str, voice: str, rate: float, language: str) -> Speech:
        engine, sep, name = voice.partition(":")
        own = name if sep and engine == self.name else (None if sep else voice)
        voices = ([own] if own else []) + language_voices(language)
        wpm = max(MIN_WPM, min(MAX_WPM, round(NORMAL_WPM * rate)))
        pcm, chosen = await anyio.to_thread.run_sync(_Engine.speak, text, voices, wpm)
        if not pcm:
            raise ProviderError(self.name, "eSpeak NG produced no audio for the line")
        duration = len(pcm) / 2 / _Engine.sample_rate
        return Speech(wav_bytes(pcm, _Engine.sample_rate), WAV_TYPE, duration,
                      f"{self.model}:{chosen}", len(text))  # fmt: skip

    def cost(self, characters: int) -> float:
        return 0.0

    async def aclose(self) -> None:
        return None
