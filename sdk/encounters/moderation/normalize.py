"""Fold chat text to a skeleton that obfuscation cannot hide in.

Folding, in order:

1. compatibility decomposition (NFKD): full-width, circled and mathematical letters
   become plain ones, accented letters split into letter + mark;
2. case folding;
3. one translation table that drops combining marks, zero-width and other format or
   control characters, maps look-alike letters from other scripts (Cyrillic, Greek,
   a few Latin variants) to the Latin letter they imitate and every kind of white
   space to a plain space;
4. leetspeak inside words becomes the letters it imitates (``sh1t``, ``@ss``,
   ``a$$``, ``b!tch``), while numbers (``100``, ``$5``) and trailing exclamation
   marks stay as they are;
5. three or more letters spelled out one at a time with separators (``f.u.c.k``,
   ``f u c k``) are joined into one word;
6. a character repeated three or more times is cut to two (``fuuuuck`` -> ``fuuck``;
   word lists add the doubled spellings), and runs of spaces become one.

NFKD rather than the NFKC the brief names: NFKC recomposes accents, and dropping the
marks needs them decomposed; for everything else the two agree. Decomposition is done
per character when an index map is wanted, so the skeleton can be mapped back to the
original text for masking; per-character and whole-string folding agree except for the
order of combining marks, which are dropped anyway.

Limits: the confusable table covers the scripts people use to dodge Latin word lists
(Cyrillic, Greek, Cherokee-free); it is not the full Unicode confusables data, and
folding real Russian or Greek text produces Latin gibberish (harmless for matching).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

#: Look-alikes of Latin letters in other scripts (after case folding).
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
    "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p",
    "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "у": "y", "ц": "u", "ѵ": "v", "ԝ": "w",
    "х": "x", "ү": "y", "з": "3", "ь": "b", "ы": "bi", "п": "n", "л": "n", "и": "u",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i",
    "κ": "k", "μ": "u", "ν": "v", "ο": "o", "π": "n", "ρ": "p", "σ": "o", "ς": "c",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Latin variants NFKD leaves alone
    "ø": "o", "đ": "d", "ł": "l", "ı": "i", "ƒ": "f", "ŧ": "t", "ħ": "h", "ɑ": "a",
    "ɡ": "g", "ɩ": "i", "ʋ": "u", "ɛ": "e", "ɔ": "c", "æ": "ae", "œ": "oe", "þ": "th",
    "ð": "d", "ŋ": "n", "ſ": "s", "ꞵ": "b", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c",
    "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k",
    "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ǫ": "q", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # symbols that are rarely punctuation
    "©": "c", "®": "r", "∪": "u", "√": "v", "×": "x",
}  # fmt: skip
#: Digits and symbols that stand for letters inside words.
LEET = str.maketrans("0134579@$!|€¢£", "oieastgasiiecl")

_LEET_HINT = re.compile(r"[\d@$!|€¢£]")
_LEET_TOKEN = re.compile(r"[\w@$!|€¢£]+")
_SEPARATORS = r"[ .\-*~,:;/\\^=#'\"+]+"
#: Three or more single letters with separators between them: ``f.u.c.k``.
_SPELLED = re.compile(r"\b[a-z](?:" + _SEPARATORS + r"[a-z]\b){2,}")
_SEPARATOR = re.compile(_SEPARATORS)
_STRETCHED = re.compile(r"(.)\1\1+")


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str | None]:
    """The translation table of step 3, built once (about 50 ms) on first use."""
    table: dict[int, str | None] = {}
    # Planes 0-3 hold every script; plane 14 holds the tag and variation characters.
    for cp in itertools.chain(range(0x40000), range(0xE0000, 0xE1000)):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if ch.isspace():
            table[cp] = " "
        elif cat in ("Mn", "Me", "Cf", "Cc", "Cs"):
            table[cp] = None
    for src, dst in CONFUSABLES.items():
        table[ord(src)] = dst
    # Regional indicator symbols (flag letters) stand for A-Z.
    for i in range(26):
        table[0x1F1E6 + i] = chr(ord("a") + i)
    return table


@lru_cache(maxsize=1)
def _ascii_tables() -> tuple[bytes, bytes]:
    """The fold table restricted to ASCII, as ``bytes.translate`` tables (fast path)."""
    table = fold_table()
    mapping = bytearray(range(256))
    for cp in range(128):
        to = table.get(cp, chr(cp))
        if to is not None and len(to) == 1:
            mapping[cp] = ord(to)
    delete = bytes(cp for cp in range(128) if cp in table and table[cp] is None)
    return bytes(mapping), delete


def _fold_chars(text: str) -> str:
    if text.isascii():
        mapping, delete = _ascii_tables()
        return text.lower().encode("ascii").translate(mapping, delete).decode("ascii")
    return unicodedata.normalize("NFKD", text).casefold().translate(fold_table())


def _leet(match: re.Match[str]) -> str:
    """Fold leetspeak in a token that has letters (``sh1t``, ``@ss``, ``a$$``), leaving
    numbers (``100``, ``$5``) and trailing exclamation marks (``ass!``) alone."""
    token = match.group(0)
    if not any(c.isalpha() for c in token):
        return token
    body = token.rstrip("!")
    return body.translate(LEET) + token[len(body) :]


def _join_spelled(match: re.Match[str]) -> str:
    return _SEPARATOR.sub("", match.group(0))


def fold(text: str) -> str:
    """The skeleton of ``text`` (see the module docstring), for matching only."""
    s = _fold_chars(text)
    if _LEET_HINT.search(s):
        s = _LEET_TOKEN.sub(_leet, s)
    if _SPELLED.search(s):
        s = _SPELLED.sub(_join_spelled, s)
    if _STRETCHED.search(s):
        s = _STRETCHED.sub(r"\1\1", s)
    return " ".join(s.split())


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Like :func:`fold`, also returning for each skeleton character the index of the
    original character it came from. Slower: used only to mask matches."""
    table = fold_table()
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        piece = ch.lower() if ch.isascii() else unicodedata.normalize("NFKD", ch).casefold()
        for c in piece.translate(table):
            chars.append(c)
            where.append(i)
    s = "".join(chars)
    if _LEET_HINT.search(s):
        s = _LEET_TOKEN.sub(_leet, s)  # same length: the map still holds
    keep = [True] * len(s)
    for m in _SPELLED.finditer(s):
        for sep in _SEPARATOR.finditer(s, m.start(), m.end()):
            for k in range(sep.start(), sep.end()):
                keep[k] = False
    joined = "".join(c for c, k in zip(s, keep, strict=True) if k)
    positions = [k for k in range(len(s)) if keep[k]]
    for m in _STRETCHED.finditer(joined):  # keep two of a run of three or more
        for k in range(m.start() + 2, m.end()):
            keep[positions[k]] = False
    previous_space = True  # drops leading spaces and runs of spaces
    for k, c in enumerate(s):
        if keep[k]:
            if c == " " and previous_space:
                keep[k] = False
            previous_space = c == " "
    out = [c for c, k in zip(s, keep, strict=True) if k]
    idx = [w for w, k in zip(where, keep, strict=True) if k]
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx
