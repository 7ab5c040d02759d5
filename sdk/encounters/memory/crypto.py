"""Encryption at rest for NPC memories.

One 32-byte master key (``AE_MEMORY_KEY``, base64, or a key file created with 0600
permissions on first run) gives two subkeys through HKDF-SHA256: one for AES-GCM
(each row sealed with a fresh 96-bit nonce, and the row's pair and kind as associated
data, so a row moved to another pair fails to open), one for the blind index.

The blind index is how full-text search works without plaintext on disk: every word is
replaced by a keyed hash (HMAC-SHA256, 64 bits, base32) before SQLite's FTS5 sees it,
and queries are hashed the same way. Ranking (BM25) works on the hashes as on words.
Limits: someone with the file learns how often each (hashed) word occurs and which
rows share words, not the words; identifiers of NPCs and players are hashed too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigError, EncountersError

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILENAME = "memory.key"

_WORD = re.compile(r"\w+")
#: Words too common to say anything about relevance.
# fmt: off
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has",
    "have", "he", "her", "him", "his", "i", "if", "in", "into", "is", "it", "its", "me",
    "my", "no", "not", "of", "on", "or", "our", "she", "so", "that", "the", "their",
    "them", "then", "there", "they", "this", "to", "was", "we", "were", "what", "when",
    "which", "who", "will", "with", "you", "your",
})
# fmt: on


class MemoryKeyError(EncountersError):
    """The memory key is missing, malformed, or not the one the file was written with."""


def load_or_create_key(data_dir: Path, given: str | None) -> bytes:
    """The master key: ``given`` (base64 of 32 bytes, from ``AE_MEMORY_KEY``), else the
    key file in ``data_dir``, created with 0600 permissions when absent."""
    if given:
        try:
            key = base64.b64decode(given, validate=True)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigError(
                "AE_MEMORY_KEY must be 32 bytes in base64 (44 characters); make one with "
                '`python -c "import os, base64; print(base64.b64encode(os.urandom(32)).decode())"`'
            )
        return key
    path = data_dir / KEY_FILENAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:  # O_EXCL: two processes starting at once do not write two keys
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64encode(key) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            return key
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise MemoryKeyError(
            f"the memory key file {str(path)!r} is damaged (not 32 bytes in base64); "
            "restore it from a backup: without it the NPC memories cannot be read"
        )
    return key


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(master)


class MemoryCipher:
    """Seals rows and hashes words with keys derived from one master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != KEY_BYTES:
            raise MemoryKeyError("the memory key must be 32 bytes")
        self._aead = AESGCM(_subkey(master, b"ae-memory-data-v1"))
        self._index_key = _subkey(master, b"ae-memory-index-v1")

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """Raises :class:`MemoryKeyError` when the key is wrong or the row was altered."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except (InvalidTag, ValueError):
            raise MemoryKeyError(
                "an NPC memory could not be decrypted: the key is not the one it was "
                "written with (check AE_MEMORY_KEY or the memory.key file), or the row "
                "was altered"
            ) from None

    def blind(self, value: str) -> str:
        """A keyed 64-bit hash of ``value`` as 13 base32 letters and digits."""
        digest = hmac.new(self._index_key, value.encode(), hashlib.sha256).digest()[:8]
        return base64.b32encode(digest).decode().rstrip("=").lower()

    def tokens(self, text: str) -> list[str]:
        """The blind tokens of the words of ``text`` (in order, repeats kept: BM25
        counts them)."""
        return [self.blind(w) for w in words(text)]


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` without stop words, with a light stemming of
    plural and past forms so "swords" finds "sword". Limits: English-centred."""
    out = []
    for w in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if len(w) < 2 or w in _STOP:
            continue
        for suffix in ("ing", "ed", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix) and not w.endswith("ss"):
                w = w[: -len(suffix)]
                break
        out.append(w)
    return out
