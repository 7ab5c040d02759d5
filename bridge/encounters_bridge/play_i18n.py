"""The web world's texts in the player's language: gettext catalogs served as JSON.

The page (``play_static/i18n.js``) asks ``GET /play/assets/messages.json?lang=...`` with
the browser's preferred languages (``navigator.languages``, comma separated); without
``lang`` the request's ``Accept-Language`` decides. The first of them the project writes
(:data:`encounters.i18n.tags.SUPPORTED`: ``de-AT`` is German, any ``pt`` Brazilian
Portuguese) picks the catalog; none is English, the messages as written in the page.

Catalogs: ``play_locale/<ll>/LC_MESSAGES/play.po`` is the source, written by hand;
``play.mo`` beside it is compiled from it with Babel (``make catalogs``) and committed,
and read here with the standard library's :mod:`gettext`. A test checks that every
message is translated with its ``{placeholders}`` and that each ``.mo`` is current.

The JSON carries each message's forms by its English msgid and the catalog's
``Plural-Forms`` expression, which the page turns into a function after checking that
it holds nothing but ``n``, numbers and C operators. Limits: what players and companions
say, and errors the daemon sends, are shown as they are.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from pathlib import Path
from typing import Any

from encounters.i18n.messages import FOLDERS
from encounters.i18n.tags import resolve

DOMAIN = "play"
LOCALE_DIR = Path(__file__).with_name("play_locale")
#: what a Plural-Forms expression may hold (the page checks the same)
PLURAL = re.compile(r"^[n0-9\s()?:%<>=!&|+-]+$")
#: at most this many language tags are read from a request
MAX_TAGS = 16


def choose_language(lang: str | None, accept_language: str | None) -> str:
    """The supported language of the first tag in ``lang`` (comma separated), else of
    ``Accept-Language`` in order of its q-values; English when none is supported.
    Malformed tags are skipped."""
    if lang:
        tags = lang.split(",")[:MAX_TAGS]
    else:
        weighted: list[tuple[float, int, str]] = []
        for i, part in enumerate((accept_language or "").split(",")[:MAX_TAGS]):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            match = re.search(r"q\s*=\s*([0-9.]+)", params)
            if match:
                try:
                    q = float(match.group(1))
                except ValueError:
                    q = 0.0
            if tag and tag != "*" and q > 0:
                weighted.append((-q, i, tag))
        tags = [tag for _, _, tag in sorted(weighted)]
    for tag in tags:
        try:
            found = resolve(tag.strip())
        except ValueError:
            continue
        if found:
            return found
    return "en"


@cache
def catalog_json(language: str) -> dict[str, Any]:
    """The page's messages in ``language`` (a supported tag): ``{"language", "plural",
    "messages": {msgid: [form, ...]}}``; English has no messages (the page's own)."""
    folder = FOLDERS.get(language, "en")
    if folder == "en":
        return {"language": "en", "plural": "n != 1", "messages": {}}
    translations = gettext.translation(DOMAIN, str(LOCALE_DIR), languages=[folder])
    assert isinstance(translations, gettext.GNUTranslations)
    header = translations.info().get("plural-forms", "")
    match = re.search(r"plural\s*=\s*([^;]+)", header)
    plural = match.group(1).strip() if match else "n != 1"
    if not PLURAL.match(plural):
        raise ValueError(
            f"{folder}/LC_MESSAGES/{DOMAIN}.po: Plural-Forms {header!r} is not a C expression of n"
        )
    messages: dict[str, list[str]] = {}
    raw: dict[Any, str] = translations._catalog  # type: ignore[attr-defined]
    for key, text in raw.items():
        if key == "":
            continue  # the header
        if isinstance(key, tuple):
            msgid, index = key
            forms = messages.setdefault(msgid, [])
            forms.extend([""] * (index + 1 - len(forms)))
            forms[index] = text
        else:
            messages[key] = [text]
    return {"language": language, "plural": plural, "messages": messages}


__all__ = ["DOMAIN", "LOCALE_DIR", "catalog_json", "choose_language"]
