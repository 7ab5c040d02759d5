"""Text to speech for voiced companions: engines behind one interface
(:class:`SpeechProvider`: OpenAI's speech endpoint, eSpeak NG offline), a router with
the text providers' fallback, timeouts and cost accounting (:class:`VoiceRouter`), and
an on-disk cache by content hash (:class:`AudioCache`), composed by
:class:`VoiceService`."""

from .base import Speech, SpeechProvider, voice_for
from .cache import AudioCache, CachedLine, line_key
from .router import SpeechFailed, VoicePolicy, VoiceRouter
from .service import VoiceService, build_speech_providers
from .wav import WAV_TYPE, NotWav, WavInfo, wav_bytes, wav_info

__all__ = [
    "WAV_TYPE",
    "AudioCache",
    "CachedLine",
    "NotWav",
    "Speech",
    "SpeechFailed",
    "SpeechProvider",
    "VoicePolicy",
    "VoiceRouter",
    "VoiceService",
    "WavInfo",
    "build_speech_providers",
    "line_key",
    "voice_for",
    "wav_bytes",
    "wav_info",
]
