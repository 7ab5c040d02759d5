"""Fold chat text to a skeleton that obfuscation cannot hide in.

Folding, in order:

1. compatibility decomposition (NFKD): full-width, circled and mathematical letters
   become plain ones, accented letters split into letter + mark;
2. case folding;
3. one translation table that drops combining marks, zero-width and other format or
   control characters, maps look-alike letters from other scripts (Cyrillic, Greek,
   a few Latin variants) to the Latin letter they imitate, and every kind of white
   space (and ``_``) to a plain space;
4. characters spelled out one at a time with one separator (``f.u.c.k``, ``f u c k``,
   ``f|u|c|k``, ``d.!.c.k``) are joined into one word (three or more of them);
5. leetspeak inside words becomes the letters it imitates (``sh1t``, ``@ss``,
   ``a$$``, ``b!tch``, ``4$5``); ``#`` and ``%`` inside a word become ``*`` like other
   masks. Numbers (``100``, ``$5``, ``3.5``) and trailing ``!`` stay as they are;
6. runs of spaces become one.

Repeated letters (``fuuuuck``) are handled by the matcher, which compares words with
runs collapsed (see :mod:`.textfilter`).

NFKD rather than the NFKC the brief names: NFKC recomposes accents, and dropping the
marks needs them decomposed; for everything else the two agree. Decomposition is done
per character when an index map is wanted, so the skeleton can be mapped back to the
original text for masking; per-character and whole-string folding agree except for the
order of combining marks, which are dropped anyway.

Limits: the confusable table covers the scripts people use to dodge Latin word lists
(Cyrillic, Greek, small capitals); it is not the full Unicode confusables data, and
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
    # Armenian
    "ս": "u", "ո": "n", "օ": "o", "ց": "g", "հ": "h", "ք": "p", "ա": "w", "ե": "t",
    # symbols that are rarely punctuation
    "©": "c", "®": "r", "∪": "u", "√": "v", "×": "x",
}  # fmt: skip
#: Digits and symbols that stand for letters inside words; masks become ``*``.
LEET = str.maketrans("013456789@$!|€¢£#%+", "oieasgtbgasiiecl**t")

_SEP = r"[ .\-*~,:;/\\^=\"'+|]"
#: Three or more single letter-like characters, each pair parted by the same
#: separator (``f.u.c.k``, ``s  h  i  t``); a change of separator ends the run, so
#: ``a f.u.c.k`` keeps its ``a`` apart.
_L = r"[\w@$!€#]"
_NOT_AFTER = r"(?![\w@$€#])"  # a trailing "!" is punctuation, not a letter
_SPELLED = re.compile(
    r"(?<![\w@$!€#])"
    + _L
    + r"("
    + _SEP
    + r"+)"
    + _L
    + _NOT_AFTER
    + r"(?:\1"
    + _L
    + _NOT_AFTER
    + r")+"
)
_SPELL_HINT = re.compile(r"(?<![\w@$!€#])" + _L + _SEP + r"+" + _L + _NOT_AFTER)
_SEPARATOR = re.compile(_SEP + "+")
_LEET_HINT = re.compile(r"[\d@$!|€¢£#%+]")
#: One search that says whether step 4 or step 5 can change anything.
_ANY_HINT = re.compile(_LEET_HINT.pattern + "|" + _SPELL_HINT.pattern)
#: A token holding at least one leet character (other tokens need no callback).
_LEET_TOKEN = re.compile(r"(?<![\w@$!|€¢£#%+])\w*[\d@$!|€¢£#%+][\w@$!|€¢£#%+]*")
_NUMBER = re.compile(r"[$€£]?[\d.,:]+[$€£%]?|#\d+")


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
    table[ord("_")] = " "
    # Regional indicator symbols (flag letters) stand for A-Z.
    for i in range(26):
        table[0x1F1E6 + i] = chr(ord("a") + i)
    return table


@lru_cache(maxsize=1)
def _ascii_tables() -> tuple[bytes, bytes]:
    """The fold table restricted to ASCII, lower-casing included, as
    ``bytes.translate`` tables (the fast path for ASCII text)."""
    table = fold_table()
    mapping = bytearray(range(256))
    for cp in range(128):
        ch = chr(cp).lower()
        to = table.get(ord(ch), ch)
        if to is not None and len(to) == 1:
            mapping[cp] = ord(to)
    delete = bytes(cp for cp in range(128) if table.get(ord(chr(cp).lower()), "") is None)
    return bytes(mapping), delete


def _fold_chars(text: str) -> str:
    if text.isascii():
        mapping, delete = _ascii_tables()
        return text.encode("ascii").translate(mapping, delete).decode("ascii")
    return unicodedata.normalize("NFKD", text).casefold().translate(fold_table())


def _leet(match: re.Match[str]) -> str:
    """Fold leetspeak in one token (see step 5), leaving numbers alone."""
    token = match.group(0)
    if _NUMBER.fullmatch(token):
        return token
    body = token.rstrip("!")
    return body.translate(LEET) + token[len(body) :]


def _join_spelled(match: re.Match[str]) -> str:
    return _SEPARATOR.sub("", match.group(0))


def fold(text: str) -> str:
    """The skeleton of ``text`` (see the module docstring), for matching only."""
    s = _fold_chars(text)
    if _ANY_HINT.search(s):
        if _SPELL_HINT.search(s):
            s = _SPELLED.sub(_join_spelled, s)
        if _LEET_HINT.search(s):
            s = _LEET_TOKEN.sub(_leet, s)
    if "  " in s or s[:1] == " " or s[-1:] == " ":
        s = " ".join(s.split())
    return s


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
    if _SPELL_HINT.search(s):
        keep = [True] * len(s)
        for m in _SPELLED.finditer(s):
            for sep in _SEPARATOR.finditer(s, m.start(), m.end()):
                for k in range(sep.start(), sep.end()):
                    keep[k] = False
        s = "".join(c for c, k in zip(s, keep, strict=True) if k)
        where = [w for w, k in zip(where, keep, strict=True) if k]
    if _LEET_HINT.search(s):
        s = _LEET_TOKEN.sub(_leet, s)  # same length: the map still holds
    out: list[str] = []
    idx: list[int] = []
    for c, w in zip(s, where, strict=True):
        if c == " " and (not out or out[-1] == " "):
            continue
        out.append(c)
        idx.append(w)
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx
