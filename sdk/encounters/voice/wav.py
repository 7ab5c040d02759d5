"""WAV in and out: the one audio container every part of the product plays (GMod's
``sound.PlayURL``, browsers' ``<audio>``), and whose duration is known from its header.

:func:`wav_bytes` wraps 16-bit PCM samples; :func:`wav_info` reads a RIFF/WAVE file's
format and duration. Streaming servers (OpenAI's speech endpoint among them) may write
``0xFFFFFFFF`` or 0 as the data size, since they do not know it when the header goes
out: the duration is then taken from the bytes actually present.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

WAV_TYPE = "audio/wav"
_PCM = 1
_EXTENSIBLE = 0xFFFE


class NotWav(ValueError):
    """The bytes are not a RIFF/WAVE file this module can read."""


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits: int
    frames: int

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def wav_bytes(pcm: bytes, sample_rate: int, channels: int = 1) -> bytes:
    """A WAV file (16-bit little-endian PCM) holding ``pcm``."""
    block = channels * 2
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE",
        b"fmt ", 16, _PCM, channels, sample_rate, sample_rate * block, block, 16,
        b"data", len(pcm),
    )  # fmt: skip
    return header + pcm


def wav_info(data: bytes) -> WavInfo:
    """Format and length of a WAV file; :class:`NotWav` saying what is wrong."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NotWav("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise NotWav("WAV fmt chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise NotWav("WAV data chunk before its fmt chunk")
            tag, channels, rate, bits = fmt
            if tag not in (_PCM, _EXTENSIBLE) or channels < 1 or bits not in (8, 16, 24, 32):
                raise NotWav(f"WAV format {tag} with {channels} channels, {bits} bits is not PCM")
            present = len(data) - body
            length = present if size in (0, 0xFFFFFFFF) or size > present else size
            return WavInfo(rate, channels, bits, length // (channels * bits // 8))
        pos = body + size + (size & 1)
    raise NotWav("WAV file has no data chunk")
