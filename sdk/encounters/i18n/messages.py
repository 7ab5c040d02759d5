"""The CLI's messages in the user's language, through gettext catalogs.

Which language: ``AE_LANG`` (a BCP 47 tag or a POSIX locale such as ``es_ES.UTF-8``),
else ``LC_ALL``, ``LC_MESSAGES`` or ``LANG``, the usual POSIX order; a language without
a catalog (or ``C``/``POSIX``) is English. The six languages of
:data:`~encounters.i18n.tags.SUPPORTED` have catalogs.

Catalogs: ``locale/<ll>/LC_MESSAGES/ae.po`` is the source, written by hand;
``ae.mo`` next to it is compiled from it with Babel (``make catalogs``) and committed,
so an installed wheel or a source checkout speaks every language with no build step
and no Babel at run time (gettext is in the standard library). A test compiles every
``.po`` again and fails when a committed ``.mo`` is out of date, and checks that every
message is translated with its ``{placeholders}`` kept.

Limits: the words Click prints itself ("Usage:", "Options", "Missing argument") stay
English; help texts are read once, when the CLI module is imported.
"""

from __future__ import annotations

import gettext
import os
from functools import cache
from importlib import resources

from .tags import resolve

DOMAIN = "ae"
#: gettext's folder names for the supported languages.
FOLDERS = {"en": "en", "es": "es", "de": "de", "fr": "fr", "pt-BR": "pt_BR", "ru": "ru"}


def user_language(environ: dict[str, str] | None = None) -> str:
    """The supported language the user asked for (see the module docstring)."""
    env = os.environ if environ is None else environ
    for name in ("AE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "").strip()
        if not value:
            continue
        tag = value.split(".", 1)[0].split("@", 1)[0]
        if tag in ("C", "POSIX"):
            return "en"
        try:
            return resolve(tag) or "en"
        except ValueError:
            return "en"
    return "en"


def locale_dir() -> str:
    return str(resources.files(__package__).joinpath("locale"))


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of a supported language (English: the messages as written)."""
    folder = FOLDERS.get(language)
    if folder is None or folder == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, locale_dir(), languages=[folder], fallback=True)


def _(message: str) -> str:
    """``message`` in the user's language."""
    return catalog(user_language()).gettext(message)
