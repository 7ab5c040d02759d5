"""Spoken lines on disk, by content hash: a line is synthesized once per (text, voice,
rate, language, engine), then served from the file.

Layout: ``DIR/<key>.wav`` (the audio) and ``DIR/<key>.json`` (its MIME type, duration
and engine), where ``key`` is the SHA-256 of those inputs, so a key names its content
and reveals nothing of the text. Files are written to a temporary name and renamed, so
a reader never sees half a file and a crash leaves no torn entry.

Size is bounded by ``max_bytes``: past it the least recently used lines (by file time,
refreshed on every hit) are deleted. The bound is kept per process: several daemons
sharing a folder each prune what they see, so the folder may briefly exceed it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._util.cache import LRUCache
from ..log import get_logger
from .base import Speech

log = get_logger(__name__)
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def line_key(text: str, voice: str, rate: float, language: str, engine: str = "") -> str:
    """The cache key of a line: SHA-256 over the inputs that change the audio, the
    engine (``name:model``) included."""
    material = json.dumps([text, voice, round(rate, 3), language.lower(), engine],
                          ensure_ascii=False)  # fmt: skip
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedLine:
    key: str
    path: Path
    content_type: str
    duration: float
    size: int
    provider: str


class AudioCache:
    """The folder of spoken lines (see the module)."""

    def __init__(self, folder: Path, *, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self._meta: LRUCache[str, CachedLine] = LRUCache(4096)
        self._total = sum(p.stat().st_size for p in folder.glob("*.wav"))

    def path_for(self, key: str) -> Path | None:
        """The audio file of ``key`` (checked to be a key: never a path outside)."""
        return self.folder / f"{key}.wav" if KEY_PATTERN.match(key) else None

    def get(self, key: str) -> CachedLine | None:
        """The cached line, or None; a hit counts as a use for the size bound."""
        path = self.path_for(key)
        if path is None:
            return None
        line = self._meta.get(key)
        try:
            if line is None:
                meta = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
                line = CachedLine(key, path, str(meta["content_type"]), float(meta["duration"]),
                                  path.stat().st_size, str(meta.get("provider", "")))  # fmt: skip
                self._meta.set(key, line)
            os.utime(path)
        except (OSError, ValueError, KeyError, TypeError):
            self._meta.discard(key)  # pruned, or never finished: synthesize again
            return None
        return line

    def put(self, key: str, speech: Speech, provider: str) -> CachedLine:
        path = self.path_for(key)
        if path is None:
            raise ValueError(f"not a line key: {key!r}")
        meta = {"content_type": speech.content_type, "duration": speech.duration,
                "provider": provider, "model": speech.model}  # fmt: skip
        self._write(path, speech.audio)
        self._write(self.folder / f"{key}.json", json.dumps(meta).encode())
        line = CachedLine(key, path, speech.content_type, speech.duration, len(speech.audio),
                          provider)  # fmt: skip
        self._meta.set(key, line)
        self._total += len(speech.audio)
        if self._total > self.max_bytes:
            self.prune()
        return line

    def _write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def prune(self) -> int:
        """Delete the least recently used lines until the folder is within
        ``max_bytes``; returns how many were deleted."""
        files = []
        for p in self.folder.glob("*.wav"):
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, p))
        files.sort()
        total = sum(size for _, size, _ in files)
        deleted = 0
        for _, size, path in files:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            self._meta.discard(path.stem)
            total -= size
            deleted += 1
        self._total = total
        if deleted:
            log.info("voice.cache_pruned", deleted=deleted, bytes=total)
        return deleted
