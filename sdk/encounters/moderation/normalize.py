"""Fold chat text to a skeleton that obfuscation cannot hide in.

Folding, in order:

1. compatibility decomposition (NFKD): full-width, circled and mathematical letters
   become plain ones, accented letters split into letter + mark;
2. look-alikes mapped by the Unicode confusables data (UTS #39, as shipped by the
   ``confusable-homoglyphs`` package) *before* case folding, so a Greek capital eta in
   ``SΗIT`` becomes ``h`` and not the ``n`` its lower case looks like; enclosed and
   squared letters (``🅵🆄🅲🅺``) become the letter they enclose. The map is also applied
   before step 1, as NFKD turns some look-alikes into letters of their own script
   (``Ϲ`` -> ``Σ``);
3. case folding;
4. one translation table that drops combining marks, zero-width, filler (Hangul
   fillers such as U+3164) and other format or control characters, maps look-alikes
   left after case folding (Cyrillic, Greek, Cherokee, small capitals) to the Latin
   letter they imitate, and every kind of white space (and ``_``) to a plain space;
5. letters drawn with symbols become the letter (``|<`` -> k, ``|-|`` -> h, ``\\/``
   -> v, ``()`` -> o, and ``<``, ``(``, ``[``, ``{`` between letters -> c: ``fu<k``);
6. characters spelled out one at a time with one separator (``f.u.c.k``, ``f u c k``,
   ``f♥u♥c♥k``, ``s·h·i·t``) are joined into one word (three or more of them); any
   character that is not a letter, digit or leet symbol can be the separator;
7. leetspeak inside words becomes the letters it imitates (``sh1t``, ``@ss``,
   ``a$$``, ``b!tch``, ``4$5``); ``#`` and ``%`` inside a word become ``*`` like other
   masks. Numbers (``100``, ``$5``, ``3.5``), numbers with a unit (``36g``, ``100k``,
   ``2nd``) and trailing ``!`` stay as they are;
8. runs of spaces become one.

Repeated letters (``fuuuuck``) are handled by the matcher, which compares words with
runs collapsed, and so are words split in two (``fu ck``; see :mod:`.lexicon`).

NFKD rather than NFKC: NFKC recomposes accents, and dropping the marks needs them
decomposed; for everything else the two agree. Decomposition is done per character
when an index map is wanted, so the skeleton can be mapped back to the original text
for masking; per-character and whole-string folding agree except for the order of
combining marks, which are dropped anyway.

Limits: look-alikes are taken from scripts people use to imitate Latin (Latin, Greek,
Cyrillic, Cherokee, Armenian, Coptic, Lisu, Canadian syllabics, mathematical and
enclosed forms); scripts such as Arabic, Hebrew, Indic or CJK are left alone, so real
text in them is never turned into Latin letters. Folding real Russian or Greek text
produces Latin gibberish (harmless for matching).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

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

#: A separator between spelled-out letters: anything but a letter, digit or a symbol
#: that stands for a letter (``f♥u♥c♥k``, ``s·h·i·t``, ``f.u.c.k``).
_SEP = r"[^\w@$!€#]"
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
#: A token holding at least one leet character (other tokens need no callback).
_LEET_TOKEN = re.compile(r"(?<![\w@$!|€¢£#%+])\w*[\d@$!|€¢£#%+][\w@$!|€¢£#%+]*")
_NUMBER = re.compile(r"[$€£]?[\d.,:]+[$€£%]?|#\d+")
#: A number with a unit game chat puts after it (``36g`` of gold, ``100k``, ``2nd``,
#: ``60fps``, ``5min``): a quantity, not leetspeak (``36g`` is not ``eg``).
_QUANTITY = re.compile(
    r"[$€£]?\d[\d.,]*(?:g|k|m|b|x|s|d|h|p|gp|hp|xp|mp|sp|dmg|lvl|lv|kg|km|mm|cm|fps|ms|st|nd"
    r"|rd|th|am|pm|min|mins|sec|secs|hr|hrs|gb|mb|kb|tb|hz|ghz|mhz)"
)


#: Scripts whose letters are used to imitate Latin ones (first word of a character's
#: Unicode name). The confusables data also pairs Latin with Arabic, Indic or CJK
#: characters; those are left alone so that real text in them stays as it is.
_IMITATING_SCRIPTS_WORDS = (
    "LATIN GREEK CYRILLIC CHEROKEE COPTIC LISU ARMENIAN CANADIAN WARANG MATHEMATICAL "
    "FULLWIDTH DOUBLE-STRUCK SCRIPT BLACK-LETTER SMALL ROMAN OSAGE DESERET CARIAN LYCIAN "
    "OLD ELBASAN TIFINAGH RUNIC SEGMENTED MIAO KELVIN"
)
_IMITATING_SCRIPTS = frozenset(_IMITATING_SCRIPTS_WORDS.split())
#: Invisible letters used to pad or split words (Hangul fillers): dropped.
_FILLERS = (0x115F, 0x1160, 0x3164, 0xFFA0)
_ENCLOSED_LETTER = re.compile(r"LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$")


@lru_cache(maxsize=1)
def lookalike_table() -> dict[int, str]:
    """Step 2: every character the Unicode confusables data says looks like one ASCII
    letter or digit (from an imitating script), mapped to that letter in lower case,
    plus enclosed and squared Latin letters. A capital that looks like ``l`` is taken
    as ``i`` (Greek and Cherokee capitals imitate ``I``). The acute accent typed as an
    apostrophe (``let´s``) becomes one: NFKD would make it a space, splitting the word."""
    data = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    pairs: dict[str, list[dict[str, str]]] = json.loads(data.read_text(encoding="utf-8"))
    table: dict[int, str] = {}
    for ch, alikes in pairs.items():
        if len(ch) != 1 or ch.isascii() or ch in CONFUSABLES:
            continue
        name = unicodedata.name(ch, "")
        if name.split(" ", 1)[0] not in _IMITATING_SCRIPTS:
            continue
        for alike in alikes:
            to = alike["c"]
            if len(to) == 1 and to.isascii() and to.isalnum():
                to = to.lower()
                table[ord(ch)] = "i" if to == "l" and "CAPITAL" in name else to
                break
    for cp in itertools.chain(range(0x2460, 0x2500), range(0x1F100, 0x1F1E6)):
        m = _ENCLOSED_LETTER.search(unicodedata.name(chr(cp), ""))
        if m:
            table[cp] = m.group(1).lower()
    table[0xB4] = "'"
    return table


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str | None]:
    """The translation table of step 4, built once (about 50 ms) on first use."""
    table: dict[int, str | None] = {}
    # Planes 0-3 hold every script; plane 14 holds the tag and variation characters.
    for cp in itertools.chain(range(0x40000), range(0xE0000, 0xE1000)):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if ch.isspace():
            table[cp] = " "
        elif cat in ("Mn", "Me", "Cf", "Cc", "Cs"):
            table[cp] = None
    # look-alikes that only show after case folding (Cherokee small letters fold to
    # capitals); the hand-made table below wins where both have an entry
    table.update(lookalike_table())
    for src, dst in CONFUSABLES.items():
        table[ord(src)] = dst
    for cp in _FILLERS:
        table[cp] = None
    table[0x2800] = " "  # braille blank: an invisible space
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


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """Steps 1-4 for one character (the per-character form used for index maps).
    Remembered per character: chat draws on few characters."""
    if ch.isascii():
        return ch.lower().translate(fold_table())
    return (
        unicodedata.normalize("NFKD", ch.translate(lookalike_table()))
        .translate(lookalike_table())
        .casefold()
        .translate(fold_table())
    )


def _fold_chars(text: str) -> str:
    """Steps 1-4 of a whole text: one C-level ``translate`` through each character's
    remembered fold (``_FOLDED``), which gives what :func:`_fold_chars_whole` gives
    (see :class:`_FoldedChars`), or that itself when the text holds a character
    whose combining marks are not all dropped."""
    if text.isascii():
        mapping, delete = _ascii_tables()
        return text.encode("ascii").translate(mapping, delete).decode("ascii")
    try:
        return text.translate(_FOLDED)
    except _MarksKept:
        return _fold_chars_whole(text)


def _fold_chars_whole(text: str) -> str:
    """Steps 1-4 of a whole text, each step on the whole text."""
    return (
        unicodedata.normalize("NFKD", text.translate(lookalike_table()))
        .translate(lookalike_table())
        .casefold()
        .translate(fold_table())
    )


class _MarksKept(Exception):
    """A character of the text decomposes into a combining mark that folding keeps."""


#: Characters whose fold ``_FOLDED`` remembers, at most (then it starts again).
_MAX_FOLDED = 65_536


class _FoldedChars(dict[int, str]):
    """Code point -> :func:`_fold_char` of that character, filled on first sight.

    Folding character by character gives what folding the whole text gives: the
    look-alike maps, case folding (Python's ``casefold`` has no context rules) and the
    fold table map one character at a time, and NFKD of a text is the NFKD of each
    character put together, except that canonical ordering may swap combining marks
    (those with a non-zero combining class) of neighbouring characters. Nearly every
    such mark is dropped by the fold table, so its place does not matter; a character
    whose decomposition holds one that is kept (``U+0345`` folds to ``i``, a few
    viramas and musical stems stay) raises :class:`_MarksKept`, and the text is folded
    whole."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        for mark in unicodedata.normalize("NFKD", ch.translate(lookalike_table())):
            if unicodedata.combining(mark) and _kept(mark):
                raise _MarksKept(ch)  # not a LookupError: str.translate passes it on
        folded = _CHAR_FOLDS[cp]
        if len(self) >= _MAX_FOLDED:  # a flood of distinct characters cannot grow it
            self.clear()
        self[cp] = folded
        return folded


class _CharFolds(dict[int, str]):
    """Code point -> :func:`_fold_char` of that character, filled on first sight: one
    ``translate`` folds a text character by character (as index maps need)."""

    def __missing__(self, cp: int) -> str:
        folded = _fold_char(chr(cp))
        if len(self) >= _MAX_FOLDED:
            self.clear()
        self[cp] = folded
        return folded


class _NotOneToOne(dict[int, str]):
    """Code point -> ``""`` when its character folds to exactly one character, else
    ``"x"``: a text translated through it is empty when each character folds to one,
    so the folded text's character i came from the text's character i."""

    def __missing__(self, cp: int) -> str:
        mark = "" if len(_CHAR_FOLDS[cp]) == 1 else "x"
        if len(self) >= _MAX_FOLDED:
            self.clear()
        self[cp] = mark
        return mark


_FOLDED = _FoldedChars()
_CHAR_FOLDS = _CharFolds()
_NOT_ONE = _NotOneToOne()


def _kept(mark: str) -> bool:
    """Whether a character of an NFKD result is left by the steps after NFKD."""
    return bool(mark.translate(lookalike_table()).casefold().translate(fold_table()))


#: Step 5: letters drawn with symbols.
_DRAWN = {
    "|<": "k", "|{": "k", "|-|": "h", "]-[": "h", "}{": "h", "/\\": "a", "\\/\\/": "w",
    "\\/": "v", "|\\|": "n", "|_|": "u", "()": "o", "[]": "o", "|)": "d", "[)": "d",
}  # fmt: skip
_DRAWN_LETTER = re.compile(
    "|".join(re.escape(k) for k in sorted(_DRAWN, key=len, reverse=True))
    + r"|(?<=[^\W\d_]|[!@$])[<(\[{](?=[^\W\d_]|[!@$|])"
)
_DRAWN_HINT = re.compile(r"[|<(\[{}\]/\\]")


def _drawn(match: re.Match[str]) -> str:
    return _DRAWN.get(match.group(0), "c")


def _leet(match: re.Match[str]) -> str:
    """Fold leetspeak in one token (see step 7), leaving numbers alone."""
    token = match.group(0)
    body = token.rstrip("!")
    if _NUMBER.fullmatch(body) or _QUANTITY.fullmatch(body):
        return token  # a number or quantity, also when shouted ("1488!", "100!!", "36g")
    return body.translate(LEET) + token[len(body) :]


def _join_spelled(match: re.Match[str]) -> str:
    return _SEPARATOR.sub("", match.group(0))


#: Plain ASCII: letters, digits, the space, punctuation that no folding step reads as
#: a letter or a mask, and ``!`` and round brackets, which are read as letters only in
#: places :func:`fold_plain` looks at (most game chat is written in these alone).
_PLAIN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.?'\"-;:!()"
#: Plain ASCII as shapes: a letter becomes ``a``, a digit ``1``, ``!`` an ``x``, round
#: brackets stay, the rest of plain ASCII a space, and any other character a ``#``: one
#: ``translate`` says whether a text is plain and gives its shape.
_SHAPE = bytes(
    shape if code in _PLAIN else ord("#")
    for code, shape in enumerate(
        bytes.maketrans(_PLAIN, b"a" * 52 + b"1" * 10 + b" " * (len(_PLAIN) - 65) + b"x()")
    )
)
#: Plain ASCII as words for step 6 (the shapes with ``!`` as a letter and brackets
#: parting words): a letter, digit or ``!`` becomes ``a``, anything else a space.
_WORD_SHAPE = bytes.maketrans(_PLAIN, b"a" * 62 + b" " * (len(_PLAIN) - 65) + b"a  ")


def fold_plain(text: str) -> str | None:
    """:func:`fold` of plain ASCII text (see ``_PLAIN``), or None for any other text.

    In plain text no step but 3, 5, 6, 7 and 8 can change anything: there are no
    look-alikes or characters to drop. Step 5 changes only ``()`` and a ``(`` between
    letters (``fu(k``); step 7 only a word that mixes digits and letters (``sh1t``; a
    number stays as it is) or has a ``!`` anywhere but at its end (``b!tch``; ``gg!``
    stays); step 6 needs two single characters in a row (``a b``, ``1 2``, ``! !``:
    two one-character words parted only by separators). Text with any of these is
    left to :func:`fold_full`. What remains is lower case with runs of spaces made
    one: C-speed string methods, no regex.

    The shapes are looked at as ``str``: ``x in some_bytes`` first tries ``x`` as an
    integer, raising and clearing a ``TypeError`` each time (a formatted message and
    all), which costs several times the search itself."""
    if not text.isascii():
        return None
    raw = text.encode("ascii")
    shape = raw.translate(_SHAPE).decode("ascii")
    if "#" in shape:  # a character outside plain ASCII
        return None
    # step 7 changes a word: a digit next to a letter (sh1t), "!" before a letter or
    # digit (b!tch, !t) or after a digit (5!: not a number)
    if ("1" in shape or "x" in shape) and (
        "a1" in shape or "1a" in shape or "xa" in shape or "x1" in shape or "1x" in shape
    ):
        return None
    # step 5 draws a letter: "()", or "(" between letters or "!" (fu(k)
    if "(" in shape and (
        "()" in shape or "a(a" in shape or "a(x" in shape or "x(a" in shape or "x(x" in shape
    ):
        return None
    words = raw.translate(_WORD_SHAPE).decode("ascii")
    if "  " in words or words[:1] == " " or words[-1:] == " ":  # words parted by one space
        words = " ".join(words.split())
    if " a a " in f" {words} ":  # two single characters in a row: maybe step 6
        return None
    s = text.lower()
    if "  " in s or s[:1] == " " or s[-1:] == " ":
        s = " ".join(s.split())
    return s


def fold(text: str) -> str:
    """The skeleton of ``text`` (see the module docstring), for matching only. Plain
    ASCII chat takes a shorter road to the same skeleton (:func:`fold_plain`)."""
    plain = fold_plain(text)
    return plain if plain is not None else fold_full(text)


def fold_full(text: str) -> str:
    """:func:`fold`, every step of it, whatever the text."""
    s = _fold_chars(text)
    if _DRAWN_HINT.search(s):
        s = _DRAWN_LETTER.sub(_drawn, s)
    # the two hints apart: half the text folded here has one of them, and their
    # alternation costs nearly what the two cost
    if _SPELL_HINT.search(s):
        s = _SPELLED.sub(_join_spelled, s)
    if _LEET_HINT.search(s):
        s = _LEET_TOKEN.sub(_leet, s)
    if "  " in s or s[:1] == " " or s[-1:] == " ":
        s = " ".join(s.split())
    return s


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def _fold_each_char(text: str) -> tuple[str, list[int]]:
    """Steps 1-4 character by character, with the index each result came from. Runs
    of ASCII characters (one character each, unless one is dropped) go at once."""
    chars: list[str] = []
    where: list[int] = []
    at = 0
    for run in itertools.chain(_ASCII_RUN.finditer(text), (None,)):
        start, end = (run.start(), run.end()) if run else (len(text), len(text))
        for i in range(at, start):  # the characters between ASCII runs
            for c in _fold_char(text[i]):
                chars.append(c)
                where.append(i)
        if run:
            folded = _fold_chars(run.group())
            if len(folded) == end - start:
                chars.append(folded)
                where.extend(range(start, end))
            else:
                for i in range(start, end):
                    for c in _fold_char(text[i]):
                        chars.append(c)
                        where.append(i)
        at = end
    return "".join(chars), where


def _fold_chars_with_map(text: str) -> tuple[str, list[int]]:
    """:func:`_fold_each_char`, at C speed for ASCII text where no character is
    dropped (most chat): ASCII folds one character to one, so character i came from i."""
    if text.isascii():
        s = _fold_chars(text)
        if len(s) == len(text):
            return s, list(range(len(s)))
    elif not text.translate(_NOT_ONE):  # each character folds to one (most chat)
        return text.translate(_CHAR_FOLDS), list(range(len(text)))
    return _fold_each_char(text)


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Like :func:`fold`, also returning for each skeleton character the index of the
    original character it came from. Slower: used only to mask matches. Plain ASCII
    text whose skeleton keeps every character (see :func:`fold_plain`) maps character
    i to i at once."""
    plain = fold_plain(text)
    if plain is not None and len(plain) == len(text):
        return plain, list(range(len(text)))
    return fold_with_map_full(text)


def fold_with_map_full(text: str) -> tuple[str, list[int]]:
    """:func:`fold_with_map`, every step of it, whatever the text."""
    s, where = _fold_chars_with_map(text)
    if _DRAWN_HINT.search(s):
        parts: list[str] = []
        moved: list[int] = []
        at = 0
        for m in _DRAWN_LETTER.finditer(s):
            parts.append(s[at : m.start()])
            moved += where[at : m.start()]
            parts.append(_drawn(m))
            moved.append(where[m.start()])
            at = m.end()
        parts.append(s[at:])
        moved += where[at:]
        s, where = "".join(parts), moved
    if _SPELL_HINT.search(s):
        # the separators inside spelled-out words, in order and apart, are cut out
        cuts = [
            (sep.start(), sep.end())
            for m in _SPELLED.finditer(s)
            for sep in _SEPARATOR.finditer(s, m.start(), m.end())
        ]
        if cuts:
            s, where = _cut(s, where, cuts)
    if _LEET_HINT.search(s):
        s = _LEET_TOKEN.sub(_leet, s)  # same length: the map still holds
    if "  " not in s and s[:1] != " " and s[-1:] != " ":  # no spaces to drop
        return s, where
    # the words, joined by one space each: the first of the spaces after a word
    out: list[str] = []
    idx: list[int] = []
    end = 0
    for m in _NOT_SPACES.finditer(s):
        if out:
            out.append(" ")
            idx.append(where[end])
        out.append(m.group())
        end = m.end()
        idx += where[m.start() : end]
    return "".join(out), idx


_NOT_SPACES = re.compile("[^ ]+")


def _cut(s: str, where: list[int], cuts: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """``s`` and its map without the spans ``cuts`` (in order, apart)."""
    parts: list[str] = []
    kept: list[int] = []
    at = 0
    for start, end in cuts:
        parts.append(s[at:start])
        kept += where[at:start]
        at = end
    parts.append(s[at:])
    kept += where[at:]
    return "".join(parts), kept
