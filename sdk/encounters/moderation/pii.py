"""Personal data in chat: e-mail addresses, phone numbers, payment cards, IP
addresses, postcodes, street addresses, and a child giving age and town.

Patterns run on the original text (``\\d`` and ``\\w`` are Unicode-aware, so full-width
digits count), which gives spans that mask exactly. Each pattern is gated by a cheap
test so clean chat costs almost nothing. Game numbers are not personal data: the phone
pattern needs seven or more digits in phone-like groups, so coordinates (``x 100 y 64
z -200``), amounts (``5000 gold``), times, dates and versions pass.

- phone numbers: national and North American shapes by pattern; numbers written
  with a ``+`` or ``00`` country prefix are found by ``phonenumbers`` (Google's
  libphonenumber metadata), so every country's grouping is known;
- payment cards: 13 to 19 digits that pass the Luhn check (not the tail of a word that
  mixes letters and digits: an id or a hash);
- IP addresses: IPv4 and IPv6, checked by :mod:`ipaddress`;
- postcodes: shapes that are rarely anything else (UK, Canada, Brazil ``01310-100``,
  US ZIP+4, Poland ``00-950`` before a town) anywhere; four- to six-digit codes (US,
  Germany, France, Spain, Italy, Netherlands, India...) only after a word that names
  them (``zip``, ``PLZ``, ``code postal``, ``CEP``) or a US state code;
- street addresses: a house number next to a street word in English, German, Dutch,
  Scandinavian, Spanish, French, Italian, Portuguese and Polish forms;
- a minor's age and place in one message (``I'm 12 and I live in Leeds``).

Per language (``find(text, language)``, the session's BCP 47 tag): in Spanish,
German, French, Brazilian Portuguese and Russian sessions, phone numbers written the
national way (``612 345 678``, ``0151 23456789``, ``06 12 34 56 78``, ``(11)
91234-5678``, ``8 912 345-67-89``) are found by libphonenumber for Spain, Germany,
France, Brazil and Russia; national ids with a check digit (Spanish DNI/NIE
``12345678Z``, Brazilian CPF ``123.456.789-09``) and a child's age and town in the
language (``tengo 12 años y vivo en Sevilla``) are found too. Three groups of digits
that read as a national number are taken for one there, even when they were
coordinates: a player in such a session should write coordinates with their axes.

Limits: an address written without a house number or street word is missed; a
postcode standing alone with no shape of its own (``10115``) is taken for a number;
phone numbers without a country prefix outside the shapes above (or the session
language's national format) are missed.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import ahocorasick
import phonenumbers

from ..i18n.tags import resolve

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,24}\b", re.IGNORECASE)
_EMAIL_SPELLED = re.compile(
    r"\b[\w.+-]+\s*(?:@|\(at\)|\[at\]|\{at\}|\bat\b)\s*[\w-]+\s*"
    r"(?:\.|\(dot\)|\[dot\]|\{dot\}|\bdot\b)\s*(?:com|net|org|edu|gov|io|co|de|uk|fr|es|"
    r"it|nl|ru|br|pt|info|me|us|ca|au)\b",
    re.IGNORECASE,
)
_DOT_HINT = re.compile(r"dot\b|\.(?:com|net|org|de|uk|io)\b", re.IGNORECASE)
_PHONE = re.compile(
    r"(?<![\w.:/-])\+\d{1,3}(?:[\s.-]?\(?\d{1,8}\)?){2,6}(?![\w.:/-])"
    r"|(?<![\w.:/-])(?:\(\d{2,5}\)[\s.-]?)?\d{2,8}(?:[\s.-]\d{2,8}){1,4}(?![\w.:/-])"
    r"|(?<![\w.:/-])\+?\d{7,15}(?![\w.:/-])"
)
_SEVEN_DIGITS = re.compile(r"(?:\d[\s().+-]{0,3}){7}")
_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|lane|drive|dr|boulevard|blvd|terrace|parkway|highway|"
    r"crescent|close|court|gardens|grove|mews|stra(?:ss|ß)e|str|weg|platz|allee|gasse|calle|"
    r"avenida|rue|chemin|rua|travessa"
)
#: A street name is up to two words, none of them a little function word ("3 swords
#: on the road" is not an address).
_NAME_WORD = r"(?!(?:the|on|in|at|to|of|down|up|my|your|a|an|and|or|by|for)\s)[a-zà-ÿ'’.-]+\s+"
_ADDRESS_NUMBER_FIRST = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:" + _NAME_WORD + r"){0,2}(?:" + _STREET_WORDS + r")\b\.?",
    re.IGNORECASE,
)
#: Street words a house number follows at once ("Hauptstraße 5", "Kungsgatan 3"), and
#: those it follows after the street's name ("calle Mayor 5"), as regular expressions.
_NUMBER_NEXT = (r"stra(?:ss|ß)e", "weg", "platz", "allee", "gasse", "straat", "laan", "gracht",
                "plein", "vej", "gade", "gatan", "vägen", "veien", "gata")  # fmt: skip
_NUMBER_AFTER_NAME = ("calle", "avenida", "rue", "rua", "travessa", "chemin", "via", "viale",
                      "piazza", "corso", r"ul\.", "ulica")  # fmt: skip
_ADDRESS_NUMBER_LAST = re.compile(
    r"\b[a-zà-ÿ'’-]*(?:" + "|".join(_NUMBER_NEXT) + r")\s+\d{1,5}[a-z]?\b"
    r"|\b(?:" + "|".join(_NUMBER_AFTER_NAME) + r")\s+(?:[^\W\d][\w'’.-]*\s+){0,3}\d{1,5}\b",
    re.IGNORECASE,
)
#: Words that start the number-last address forms (German, Dutch, Nordic, Romance and
#: Polish streets).
_NUMBER_LAST_WORDS = ("str", "weg", "platz", "allee", "gasse", "calle", "avenida", "rue", "rua",
                      "travessa", "chemin", "straat", "laan", "gracht", "plein", "vej", "gade",
                      "gat", "väg", "veien", "via", "viale", "piazza", "corso", "ul")  # fmt: skip


def _ascii_forms(patterns: tuple[str, ...]) -> list[str]:
    """The street-word patterns as lower-case ASCII text spells them ("strasse"; none
    for "vägen"): what :data:`_NUMBER_LAST_HINT` looks for."""
    forms = [p.replace("(?:ss|ß)", "ss") for p in patterns]
    return [f for f in forms if f.isascii()]


def _any_of_words(words: tuple[str, ...]) -> ahocorasick.Automaton:
    """An automaton whose ``iter(text)`` finds each of ``words`` inside ``text``: one
    C-level pass instead of one ``in`` test per word."""
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    automaton.make_automaton()
    return automaton


#: Finds the ``_NUMBER_LAST_WORDS`` in a text (see :func:`_shared`).
_NUMBER_LAST_FINDER = _any_of_words(_NUMBER_LAST_WORDS)
#: What every match of ``_ADDRESS_NUMBER_LAST`` holds, in lower-case ASCII text: a
#: street word then white space (and a digit, after the words the number ends).
#: Searched in ``text.lower()`` without ``re.IGNORECASE``, several times faster than
#: the address pattern, whose leading ``[a-z...]*`` is tried at every word; only for
#: ASCII text, where lower case is what ignoring case compares (``ſ`` matches ``s``
#: ignoring case) and where ``straße`` and ``vägen`` cannot be.
_NUMBER_LAST_HINT = re.compile(
    r"(?:" + "|".join(_ascii_forms(_NUMBER_NEXT)) + r")\s+\d"
    r"|(?:" + "|".join(_ascii_forms(_NUMBER_AFTER_NAME)) + r")\s"
)
#: Words that may name a postcode (in lower case text), and a state code before a ZIP.
_POSTCODE_WORD = re.compile("zip|post|plz|code|cep|cap|pin")
_STATE_ZIP = re.compile(r"[A-Z]{2},? \d{5}")
_DIGIT = re.compile(r"\d")
#: The ``kind`` values :func:`find` reports.
KINDS = ("email", "phone", "address", "card", "ip", "postcode", "minor", "national_id")

_CARD = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){12,18}(?![\d.,-]|[ -]\d)")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\w+)?(?![\w:])", re.IGNORECASE
)
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b"  # UK
    r"|\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d\b"  # Canada
    r"|\b\d{5}-\d{3}\b"  # Brazil CEP
    r"|\b\d{5}-\d{4}\b"  # US ZIP+4
    r"|\b\d{2}-\d{3}\b(?=\s+[A-ZŁŚŻŹ][a-ząćęłńóśźż]+)"  # Poland, before a town
)
_POSTCODE_NAMED = re.compile(
    r"\b(?:zip|zip ?code|postcode|post code|postal code|plz|postleitzahl|code postal|"
    r"c[oó]digo postal|cep|cap|pin ?code)\b[\s:#is]*(\d{4,6}(?:-\d{3,4})?(?: ?[A-Z]{2}\b)?)"
    r"|\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|"
    r"NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY),? (\d{5})\b",
    re.IGNORECASE,
)
_POSTCODE_HINT = re.compile(r"\d[A-Z]|[A-Z]\d|\d-\d|\d [A-Z]{2}\b")
#: A minor's age (5 to 17) ...
_AGE = re.compile(
    r"\b(?:i'?m|im|i am|iam|am|me)\s+(?:only |just |)(?:[5-9]|1[0-7])\b(?:\s*(?:yo|y/o|yrs?|"
    r"years?(?: old)?))?|\b(?:[5-9]|1[0-7])\s*(?:yo|y/o|years? old)\b|\bage:?\s*(?:[5-9]|1[0-7])\b",
    re.IGNORECASE,
)
#: ... together with where the child lives or goes to school.
_PLACE = re.compile(
    r"\b(?:i\s+live\s+(?:in|at|near|on)|live\s+in|living\s+in|i'?m\s+from|im\s+from|"
    r"i\s+am\s+from|from|my\s+(?:town|city|village|school)\s+is|"
    r"go\s+to(?=\s+[\w'’.-]+\s+(?:school|academy|primary|elementary|high|middle))|"
    r"my\s+school'?s?|i\s+stay\s+in|based\s+in)\s+(?:the\s+)?[A-Za-zÀ-ÿ][\w'’.-]+"
    r"(?:\s+(?:school|academy|primary|elementary|high|middle))?",
    re.IGNORECASE,
)
#: Words after "from" that are not places ("from school", "from the game").
_NOT_PLACES = frozenset(
    ("the", "a", "my", "your", "school", "home", "work", "here", "there", "now", "today",
     "minecraft", "roblox", "fortnite", "discord", "youtube", "twitch", "the game", "game",
     "spawn", "base", "that", "this", "it", "them", "him", "her", "me", "you", "quest",
     "boss", "chest", "shop", "store", "server", "lobby", "dungeon", "raid", "event", "crate",
     "drop", "drops", "mob", "mobs", "trade", "villager", "market", "lol", "level", "wave")
)  # fmt: skip
#: Places named with "the" ("I'm from the UK"); other "the" phrases are game things.
_THE_PLACES = frozenset(("uk", "us", "usa", "states", "netherlands", "philippines", "bronx"))


_VERSION = re.compile(r"\b(?:v|ver|version|patch|build|release)\.?\s*$", re.IGNORECASE)


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits)


def _ends_an_id(text: str, start: int) -> bool:
    """Whether the digits at ``start`` go on a word that already mixes letters and
    digits (a hex id or hash: ``sess_3996480a08060089``): its tail is not a card typed
    in chat, while ``card4111111111111111`` (only letters before it) still is."""
    if start == 0 or not (text[start - 1].isalpha() or text[start - 1] == "_"):
        return False
    i = start - 1
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return any(c.isdigit() for c in text[i:start])


def _is_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return candidate.count(":") >= 3 or "::" in candidate
    return True


def _international_phones(text: str) -> list[tuple[int, int, str]]:
    """Numbers written with a country prefix, found by libphonenumber."""
    found: list[tuple[int, int, str]] = []
    for m in phonenumbers.PhoneNumberMatcher(text, None, leniency=phonenumbers.Leniency.VALID):
        found.append((m.start, m.end, "phone"))
    return found


def _minor_with_place(text: str) -> list[tuple[int, int, str]]:
    """A child's age and where they live, as one span from the first to the last."""
    age = _AGE.search(text)
    if age is None:
        return []
    for place in _PLACE.finditer(text):
        words = place.group(0).lower().split()
        if words[-1] in _NOT_PLACES or ("the" in words and words[-1] not in _THE_PLACES):
            continue
        start, end = min(age.start(), place.start()), max(age.end(), place.end())
        return [(start, end, "minor")]
    return []


_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4}")


def _phone_like(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15 or _DATE.fullmatch(candidate):
        return False
    # A phone number has a leading + or 0, or a bracketed area code; otherwise it is
    # grouped like a North American number (3-3-4), or in four or more groups. A lone
    # long number ("1000000 gold") is an amount, and three short numbers are
    # coordinates ("1433 215 703").
    groups = [len(g) for g in re.findall(r"\d+", candidate)]
    if candidate.startswith(("+", "(", "0")):
        return True
    return groups == [3, 3, 4] or (len(groups) >= 4 and max(groups) >= 3)


def find(text: str, language: str | None = None) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` for every piece of personal data (kinds in ``KINDS``),
    with the national forms of ``language`` (a BCP 47 tag; see the module docstring).

    Text that :func:`may_hold` clears (most chat) is answered at once, and so is a
    word no shared form fits in when no national forms are asked for (an id: see
    ``_WORD``). A message is looked at several times (to decide, to mask, to redact its
    audit entry): the last few texts' findings are remembered.

    Of the shared forms (``language`` None or without national forms), only a card
    can lie in one ``_WORD`` that is not all digits: a phone number needs a ``+``,
    separators, or a word of digits alone (``(?<![\\w.:/-])``... ``(?![\\w.:/-])``),
    libphonenumber without a region only reads numbers written with ``+``, and a card
    needs thirteen digits in a row. National forms (a Spanish phone ``x_612345678``, a
    CPF) can, so they are looked for as before."""
    if not may_hold(text):
        return []
    local = _local(language)
    if (
        local is None
        and _WORD.fullmatch(text)
        and not text.isdigit()
        and _CARD_RUN.search(text) is None
    ):
        return []  # an id with seven to twelve digits in a row: no shared form fits
    return list(_find_recent(text, local))


#: One word of lower-case ASCII letters, ASCII digits and ``_`` (a generated id such
#: as ``act_3f9a0c2b7d1e4f5a``), and the runs of digits that matter in one.
_WORD = re.compile(r"[a-z0-9_]+")
_SEVEN_RUN = re.compile(r"[0-9]{7}")
_CARD_RUN = re.compile(r"[0-9]{13}")


def may_hold(text: str) -> bool:
    """False when no pattern of :func:`find` can match ``text``, in any language: every
    pattern needs a digit (phones, cards, IPv4, postcodes, addresses, ages, national
    ids), ``@`` or a spelled-out dot (``_DOT_HINT``: e-mail), or, for IPv6, two ``:``.
    A few C-level string tests, so clean chat skips every gate of :func:`_shared`.
    (``dot`` is found whatever its case by ``lower``: no other character matches
    ``d``, ``o`` or ``t`` ignoring case.)

    Nor can any pattern match in one word of lower-case ASCII letters, digits and
    ``_`` (``_WORD``: an id, which the audit log redacts like any text) without seven
    digits in a row: the e-mail, address, place, named-postcode and IPv6 forms need
    white space or punctuation, the postcode shapes (``_POSTCODE_HINT``) an upper-case
    letter, ``-`` or a space, and every phone, card and national id seven digits with
    at most separators between them, none of which such a word has."""
    if "@" in text or text.count(":") >= 2:
        return True
    if _DIGIT.search(text):
        return _WORD.fullmatch(text) is None or _SEVEN_RUN.search(text) is not None
    return ("." in text or "dot" in text.lower()) and _DOT_HINT.search(text) is not None


def _local(language: str | None) -> str | None:
    """The language with national patterns that ``language`` resolves to, if any."""
    found = resolve(language) if language else None
    return found if found in _LOCAL else None


@lru_cache(maxsize=64)
def _find_recent(text: str, language: str | None) -> tuple[tuple[int, int, str], ...]:
    return tuple(find_uncached(text, language))


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_DNI = re.compile(r"(?<![\w-])([XYZ]?)(\d{7,8})[\s-]?([A-Z])(?![\w-])", re.IGNORECASE)
_CPF = re.compile(r"(?<![\d.-])(\d{3})\.?(\d{3})\.?(\d{3})-?(\d{2})(?![\d.-])")


def _dni_ok(prefix: str, number: str, letter: str) -> bool:
    """A Spanish DNI (8 digits) or NIE (X, Y or Z and 7 digits) with its check letter."""
    if prefix:
        if len(number) != 7:
            return False
        number = str("XYZ".index(prefix.upper())) + number
    elif len(number) != 8:
        return False
    return _DNI_LETTERS[int(number) % 23] == letter.upper()


def _cpf_ok(digits: str) -> bool:
    """A Brazilian CPF: 11 digits, not all alike, with its two check digits."""
    if len(set(digits)) == 1:
        return False
    for n in (9, 10):
        total = sum(int(d) * (n + 1 - i) for i, d in enumerate(digits[:n]))
        if (total * 10) % 11 % 10 != int(digits[n]):
            return False
    return True


class _Local:
    """One language's national patterns: the phone region, national ids, and a
    child's age with a place."""

    def __init__(self, region: str, age: str, place: str) -> None:
        self.region = region
        self.age = re.compile(age, re.IGNORECASE)
        self.place = re.compile(place, re.IGNORECASE)

    def ids(self, text: str) -> list[tuple[int, int, str]]:
        return []

    def find(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        if _SEVEN_DIGITS.search(text):
            for m in phonenumbers.PhoneNumberMatcher(
                text, self.region, leniency=phonenumbers.Leniency.VALID
            ):
                found.append((m.start, m.end, "phone"))
        if _DIGIT.search(text):
            found += self.ids(text)
            age = self.age.search(text)
            place = self.place.search(text) if age else None
            if age and place:
                found.append((min(age.start(), place.start()), max(age.end(), place.end()),
                              "minor"))  # fmt: skip
        return found


class _Spanish(_Local):
    def ids(self, text: str) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), "national_id") for m in _DNI.finditer(text)
                if _dni_ok(m.group(1), m.group(2), m.group(3))]  # fmt: skip


class _Brazilian(_Local):
    def ids(self, text: str) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), "national_id") for m in _CPF.finditer(text)
                if _cpf_ok("".join(m.groups()))]  # fmt: skip


_AGE_N = r"(?:[5-9]|1[0-7])"
_LOCAL: dict[str, _Local] = {
    "es": _Spanish(
        "ES",
        rf"\btengo\s+(?:solo\s+)?{_AGE_N}\s+años\b",
        r"\b(?:vivo\s+en|soy\s+de|mi\s+(?:pueblo|ciudad|colegio|cole)\s+es)\s+[^\W\d_][\w'-]+",
    ),
    "de": _Local(
        "DE",
        rf"\bich\s+bin\s+(?:erst\s+)?{_AGE_N}(?:\s+jahre(?:\s+alt)?)?\b",
        r"\b(?:ich\s+wohne\s+in|ich\s+komme\s+aus|meine\s+schule\s+ist)\s+[^\W\d_][\w'-]+",
    ),
    "fr": _Local(
        "FR",
        rf"\bj'?\s?ai\s+(?:seulement\s+)?{_AGE_N}\s+ans\b",
        r"\b(?:j'?\s?habite\s+(?:à|a|en)|je\s+suis\s+de|je\s+vis\s+(?:à|a))\s+[^\W\d_][\w'-]+",
    ),
    "pt-BR": _Brazilian(
        "BR",
        rf"\btenho\s+(?:só\s+)?{_AGE_N}\s+anos\b",
        r"\b(?:moro\s+em|sou\s+de|vivo\s+em)\s+[^\W\d_][\w'-]+",
    ),
    "ru": _Local(
        "RU",
        rf"(?<!\w)мне\s+(?:всего\s+)?{_AGE_N}(?:\s+(?:лет|год|года))?(?!\w)",
        r"(?<!\w)(?:я\s+живу\s+в|я\s+из)\s+[^\W\d_][\w'-]+",
    ),
}


def find_uncached(text: str, language: str | None = None) -> list[tuple[int, int, str]]:
    """:func:`find`, looking every time."""
    local = _local(language)
    found = _LOCAL[local].find(text) if local is not None else []
    # the national finding names the data best (a CPF, not "a phone number")
    found += [f for f in _shared(text)
              if not any(s < f[1] and f[0] < e for s, e, _ in found)]  # fmt: skip
    return found


#: ASCII text as shapes for the gates of :class:`_Gates`: a digit ``1``, a capital ``A``,
#: ``-`` stays, white space (as ``\\s`` has it) a space, everything else ``.``.
_GATE_SHAPE = bytes(
    ord("1") if 48 <= c <= 57
    else ord("A") if 65 <= c <= 90
    else c if c == ord("-")
    else ord(" ") if chr(c) in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"
    else ord(".")
    for c in range(256)
)  # fmt: skip
#: ASCII letters, digits and ``_`` (``\\w``) in lower case, everything else a space.
_WORD_BYTES = bytes(
    c + 32 if 65 <= c <= 90 else c if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32
    for c in range(256)
)
#: ASCII digits kept, everything else a space (the digit runs of a text).
_DIGIT_RUNS = bytes(c if 48 <= c <= 57 else 32 for c in range(256))
#: ASCII digits as ``1``, anything else ``.``, once ``_SEVEN_SEPARATORS`` are dropped:
#: seven digits that ``_SEVEN_DIGITS`` could match become ``1111111``.
_SEVEN_SHAPE = bytes(ord("1") if 48 <= c <= 57 else ord(".") for c in range(256))
_SEVEN_SEPARATORS = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f().+-"
#: The numbers a child's age is written with in ``_AGE``.
_MINOR_AGES = frozenset(str(n).encode() for n in range(5, 18))
#: Every form of ``_PLACE`` holds one of these (in lower case): ``live``/``living``,
#: ``from``, ``my``, ``go``, ``stay``, ``based``.
_PLACE_WORDS = ("liv", "from", "my", "go", "stay", "based")
#: Every word of ``_STREET_WORDS`` as ASCII text can spell it (lower case).
_STREET_SET = frozenset(
    w.encode() for w in _STREET_WORDS.replace("(?:ss|ß)", "ss").split("|") if w.isascii()
)


class _Gates:
    """Cheap necessary conditions of the costlier patterns, for ASCII text (where
    ``\\d`` is ``[0-9]`` and ignoring case is ASCII's): a pattern whose gate is shut
    cannot match, so skipping it changes nothing (``_shared(text, gated=False)`` runs
    every pattern; the tests compare the two). Built from a few ``bytes.translate``."""

    __slots__ = (
        "age",
        "five_digits",
        "four_digits",
        "number_after_space",
        "postcode",
        "seven",
        "street",
    )

    def __init__(self, text: str, low: str) -> None:
        raw = text.encode("ascii")
        #: ``_SEVEN_DIGITS`` may match: seven digits parted only by its separators
        self.seven = "1111111" in raw.translate(_SEVEN_SHAPE, _SEVEN_SEPARATORS).decode("ascii")
        # looked at as str: ``x in some_bytes`` raises and clears a TypeError each time
        # (it first tries ``x`` as an integer)
        shape = raw.translate(_GATE_SHAPE).decode("ascii")
        #: ``_STATE_ZIP`` may match: five digits in a row
        self.five_digits = "11111" in shape
        #: ``_POSTCODE_NAMED`` may match: both its forms hold four digits in a row
        self.four_digits = "1111" in shape
        #: ``_POSTCODE_HINT`` may match
        self.postcode = ("1A" in shape or "A1" in shape or "1-1" in shape
                         or "1 AA" in shape)  # fmt: skip
        #: ``_minor_with_place`` may find something: ``_AGE`` may match (a whole
        #: number from 5 to 17) and so may ``_PLACE`` (one of its words is there)
        self.age = not _MINOR_AGES.isdisjoint(raw.translate(_DIGIT_RUNS).split()) and (
            # each of _PLACE_WORDS, written out: a generator costs more than the tests
            "liv" in low or "from" in low or "my" in low or "go" in low or "stay" in low
            or "based" in low
        )  # fmt: skip
        #: ``_ADDRESS_NUMBER_FIRST`` may match: a street word is a whole word (after
        #: white space, before a character that is not a letter, digit or ``_``)
        self.street = not _STREET_SET.isdisjoint(raw.translate(_WORD_BYTES).split())
        #: ``_ADDRESS_NUMBER_LAST`` may match: both its forms end in white space and
        #: digits
        self.number_after_space = " 1" in shape


def _shared(text: str, gated: bool = True) -> list[tuple[int, int, str]]:
    """The forms every language shares (see the module docstring). ``gated=False``
    runs every pattern the text's digits allow, without :class:`_Gates`.

    A new form here that can lie inside one ``_WORD`` (a national id of seven to
    twelve digits, an IBAN) breaks the shortcuts of :func:`may_hold` and :func:`find`:
    change them, and give the shortcut property tests an example of it."""
    found: list[tuple[int, int, str]] = []
    if "@" in text:
        found += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    low = text.lower()
    if "at" in low and ("dot" in low or "." in low) and _DOT_HINT.search(text):
        for m in _EMAIL_SPELLED.finditer(text):
            if not any(s <= m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), "email"))
    if _DIGIT.search(text):
        gates = _Gates(text, low) if gated and text.isascii() else None
        if (gates is None or gates.seven) and _SEVEN_DIGITS.search(text):
            found += [
                (m.start(), m.end(), "phone")
                for m in _PHONE.finditer(text)
                if _phone_like(m.group(0))
            ]
            if "+" in text or "00" in text:
                found += [f for f in _international_phones(text)
                          if not any(s <= f[0] < e for s, e, _ in found)]  # fmt: skip
            found += [(m.start(), m.end(), "card") for m in _CARD.finditer(text)
                      if _is_card(m.group(0)) and not _ends_an_id(text, m.start())]  # fmt: skip
        if text.count(".") >= 3:
            found += [
                (m.start(), m.end(), "ip")
                for m in _IPV4.finditer(text)
                if _is_ip(m.group(0)) and not _VERSION.search(text, 0, m.start())
            ]
        if (gates is None or gates.postcode) and _POSTCODE_HINT.search(text):
            found += [(m.start(), m.end(), "postcode") for m in _POSTCODE.finditer(text)]
        if (gates is None or gates.four_digits) and (
            _POSTCODE_WORD.search(low)
            or ((gates is None or gates.five_digits) and _STATE_ZIP.search(text))
        ):
            for m in _POSTCODE_NAMED.finditer(text):
                group = 1 if m.group(1) else 2
                found.append((m.start(group), m.end(group), "postcode"))
        if gates is None or gates.age:
            found += _minor_with_place(text)
        if gates is None or gates.street:
            found += [(m.start(), m.end(), "address")
                      for m in _ADDRESS_NUMBER_FIRST.finditer(text)]  # fmt: skip
        if (
            (gates is None or gates.number_after_space)
            # one of _NUMBER_LAST_WORDS is in the text
            and next(_NUMBER_LAST_FINDER.iter(low), None) is not None
            and (gates is None or _NUMBER_LAST_HINT.search(low))
        ):
            found += [(m.start(), m.end(), "address") for m in _ADDRESS_NUMBER_LAST.finditer(text)]
    if text.count(":") >= 2:
        found += [(m.start(), m.end(), "ip") for m in _IPV6.finditer(text) if _is_ip(m.group(0))]
    return found
