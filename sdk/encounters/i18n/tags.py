"""Language tags: which languages the project writes natively, and how a BCP 47 tag
a game sends maps onto one of them.

Why one place: the procedural generator, the offline companion lines, moderation and
the CLI catalogs each ship text for the same six languages, and each must read
``es-419``, ``pt``, ``DE`` or ``en-GB`` the same way.

Rules (:func:`resolve`):

- The primary subtag picks the language, case-insensitively: ``es-419`` and
  ``es-MX`` are Spanish, ``en-GB`` is English, ``de-AT`` is German.
- Portuguese is written as Brazilian Portuguese, so ``pt``, ``pt-BR`` and ``pt-PT``
  all resolve to ``pt-BR`` (European Portuguese readers will notice the Brazilian
  wording; there is no separate European bank).
- A tag that is not BCP 47 shaped raises :class:`ValueError` with the expected shape.
- A well-formed tag for a language without native text resolves to ``None``; each
  caller documents its fallback (the generator and the companion fall back to
  English and say so in the ``language`` they return).
"""

from __future__ import annotations

import re

#: The languages with native word banks, lines, lexicons and catalogs.
SUPPORTED: tuple[str, ...] = ("en", "es", "de", "fr", "pt-BR", "ru")
#: English names, for prompts and error messages.
NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "de": "German",
    "fr": "French",
    "pt-BR": "Brazilian Portuguese",
    "ru": "Russian",
}
_SHAPE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
_BY_PRIMARY = {tag.split("-", 1)[0]: tag for tag in SUPPORTED}


def canonical(tag: str) -> str:
    """``tag`` in the case BCP 47 recommends (``pt-br`` -> ``pt-BR``, ``ES_419`` ->
    ``es-419``). Raises ``ValueError`` when it is not tag-shaped."""
    text = tag.strip()
    if not _SHAPE.match(text):
        raise ValueError(
            f"language {tag!r} is not a language tag; use a BCP 47 tag such as en, es-419 or pt-BR"
        )
    parts = re.split(r"[-_]", text)
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            out.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())  # script
        else:
            out.append(part.lower())
    return "-".join(out)


def resolve(tag: str) -> str | None:
    """The supported language ``tag`` is written in, or ``None`` when the project has
    no native text for it. Raises ``ValueError`` for a malformed tag."""
    primary = canonical(tag).split("-", 1)[0]
    return _BY_PRIMARY.get(primary)


def resolve_or_english(tag: str) -> str:
    """:func:`resolve`, with English for languages the project does not write."""
    return resolve(tag) or "en"


def name(tag: str) -> str:
    """An English name for ``tag`` (for LLM prompts): a supported language's name, else
    the tag itself."""
    try:
        found = resolve(tag)
    except ValueError:
        return tag
    return NAMES[found] if found else tag
