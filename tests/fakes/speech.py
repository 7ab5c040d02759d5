"""OpenAI's ``POST /v1/audio/speech`` as a loopback route: real WAV bytes back.

The endpoint answers with the audio file itself (``content-type: audio/wav`` for
``response_format: "wav"``): 24 kHz, mono, 16-bit PCM. A server that streams the file
does not know its length when the header goes out and writes ``0xFFFFFFFF`` as the
sizes (``unknown_length``). The audio is a tone made with the standard library's
``wave`` module, so the client side's reader is checked against another writer.
"""

from __future__ import annotations

import io
import math
import struct
import wave

from .http import Reply

SPEECH_RATE = 24_000


def tone_wav(seconds: float, *, rate: int = SPEECH_RATE, unknown_length: bool = False) -> bytes:
    """A 220 Hz tone as a WAV file (mono, 16-bit)."""
    frames = int(seconds * rate)
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
                   for i in range(frames))  # fmt: skip
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    data = bytearray(out.getvalue())
    if unknown_length:
        data[4:8] = b"\xff\xff\xff\xff"  # RIFF size
        data[40:44] = b"\xff\xff\xff\xff"  # data size
    return bytes(data)


def openai_speech_reply(seconds: float = 1.5, *, unknown_length: bool = True) -> Reply:
    """The endpoint's answer to a ``response_format: "wav"`` request."""
    return Reply(200, tone_wav(seconds, unknown_length=unknown_length),
                 {"content-type": "audio/wav", "x-request-id": "req_speech"})  # fmt: skip
