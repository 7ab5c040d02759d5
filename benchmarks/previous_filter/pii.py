"""Personal data in chat: e-mail addresses, phone numbers and street addresses.

Patterns run on the original text (``\\d`` and ``\\w`` are Unicode-aware, so full-width
digits count), which gives spans that mask exactly. Each pattern is gated by a cheap
test so clean chat costs almost nothing. Game numbers are not personal data: the phone
pattern needs seven or more digits in phone-like groups, so coordinates (``x 100 y 64
z -200``), amounts (``5000 gold``), times, dates and versions pass.

Limits: addresses are recognised by a house number next to a street word (English,
German, Spanish, French, Portuguese); an address written without either is missed.
"""

from __future__ import annotations

import re

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
    r"crescent|stra(?:ss|ß)e|str|weg|platz|allee|gasse|calle|avenida|rue|chemin|rua|travessa"
)
#: A street name is up to two words, none of them a little function word ("3 swords
#: on the road" is not an address).
_NAME_WORD = r"(?!(?:the|on|in|at|to|of|down|up|my|your|a|an|and|or|by|for)\s)[a-zà-ÿ'’.-]+\s+"
_ADDRESS_NUMBER_FIRST = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:" + _NAME_WORD + r"){0,2}(?:" + _STREET_WORDS + r")\b\.?",
    re.IGNORECASE,
)
_ADDRESS_NUMBER_LAST = re.compile(
    r"\b[a-zà-ÿ'’-]*(?:stra(?:ss|ß)e|weg|platz|allee|gasse)\s+\d{1,5}[a-z]?\b"
    r"|\b(?:calle|avenida|rue|rua|travessa|chemin)\s+(?:[a-zà-ÿ'’.-]+\s+){0,3}\d{1,5}\b",
    re.IGNORECASE,
)
#: Words that start the number-last address forms (German and Romance streets).
_NUMBER_LAST_WORDS = ("str", "weg", "platz", "allee", "gasse", "calle", "avenida", "rue", "rua",
                      "travessa", "chemin")  # fmt: skip
_DIGIT = re.compile(r"\d")
#: The ``kind`` values :func:`find` reports.
KINDS = ("email", "phone", "address")


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


def find(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` for every e-mail, phone number and street address."""
    found: list[tuple[int, int, str]] = []
    if "@" in text:
        found += [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    low = text.lower()
    if "at" in low and ("dot" in low or "." in low) and _DOT_HINT.search(text):
        for m in _EMAIL_SPELLED.finditer(text):
            if not any(s <= m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), "email"))
    if _DIGIT.search(text):
        if _SEVEN_DIGITS.search(text):
            found += [
                (m.start(), m.end(), "phone")
                for m in _PHONE.finditer(text)
                if _phone_like(m.group(0))
            ]
        found += [(m.start(), m.end(), "address") for m in _ADDRESS_NUMBER_FIRST.finditer(text)]
        if any(w in low for w in _NUMBER_LAST_WORDS):
            found += [(m.start(), m.end(), "address") for m in _ADDRESS_NUMBER_LAST.finditer(text)]
    return found
