"""Which of the six written languages a text is in: stop-word profiles, no dependency.

Why: an LLM asked for Spanish sometimes answers in English. The router and the
companion's LLM brain check each reply with :func:`mismatch` and ask once more when it
is clearly in another language. A model download or a network call for this would be
out of place in an offline-first SDK, and the question is narrow (six known languages,
"is this obviously the wrong one?"), so a small heuristic does.

How: Cyrillic letters mean Russian. Otherwise each word that is a common function word
of a language ("the", "und", "que", "você") scores for it, divided among the
languages that share it ("de" counts a third each for es, fr and pt), and letters only
one language uses (ñ, ß, ã, œ) add a point. The best language wins when it has at least
:data:`MIN_SCORE` points and leads the next by :data:`MIN_LEAD`.

Limits: it answers ``None`` (unsure) for short texts (under about four words), for
names and numbers, and for evenly mixed text; callers treat unsure as "fine", so a
short "OK!" is never re-asked. Spanish and Portuguese share many words; short
sentences between those two are often unsure. Only the six languages of
:data:`~encounters.i18n.tags.SUPPORTED` are known: Italian reads as Spanish or
unsure.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .tags import resolve

MIN_SCORE = 2.0
MIN_LEAD = 1.0

_WORDS: dict[str, str] = {
    "en": "the and is are was you your to of in it that this with for be have has not what "
    "here there me my we our will would can could do does i i'm it's don't let's they them "
    "on at from but all just so if an or how where when who about come go see look",
    "es": "el la los las y es son está están de que en un una por para con no se lo me mi "
    "tu te su sus al del pero muy más como qué dónde cuando quién hay aquí ahí eso esto "
    "ya sí vamos ven puedo puedes tengo tienes estoy eres soy nos yo usted ustedes hola",
    "de": "der die das und ist sind war nicht ein eine einen einem einer ich du wir ihr sie "
    "es zu mit auf für von dem den des im am zum zur auch noch schon hier dort was wie "
    "wo wer kann kannst bin bist habe hast hat mir mich dir dich uns euch aber oder nur "
    "sehr komm los hallo",
    "fr": "le la les et est sont était un une des de du au aux ne pas que qui je tu il elle "
    "nous vous ils elles on ce cette ces mon ma mes ton ta tes son sa ses avec pour dans "
    "sur par mais ou où quoi comment ici là très plus suis es sommes êtes ai as avons "
    "allons viens bonjour salut c'est j'ai",
    "pt-BR": "o a os as e é são está estão um uma uns umas de do da dos das no na nos nas em "
    "que não se me meu minha seu sua você vocês eu nós ele ela eles elas com para por ao "
    "aos pelo pela mas muito mais como onde quando quem aqui ali isso isto já sim vamos "
    "venha posso pode tenho tem estou sou olá oi",
    "ru": "",
}
_LETTERS: dict[str, str] = {"es": "ñ¿¡", "de": "ßäöü", "fr": "œèêëîïûù", "pt-BR": "ãõ"}
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def _weights() -> dict[str, dict[str, float]]:
    owners: dict[str, list[str]] = defaultdict(list)
    for lang, words in _WORDS.items():
        for word in set(words.split()):
            owners[word].append(lang)
    return {word: {lang: 1.0 / len(langs) for lang in langs} for word, langs in owners.items()}


_WEIGHTS = _weights()


def scores(text: str) -> dict[str, float]:
    """Each language's score for ``text`` (see the module docstring)."""
    lowered = text.lower()
    out: dict[str, float] = defaultdict(float)
    cyrillic = len(_CYRILLIC.findall(lowered))
    latin = len(re.findall(r"[a-z]", lowered))
    if cyrillic:
        out["ru"] = cyrillic / 4.0 if cyrillic > latin else 0.0
    for token in _TOKEN.findall(lowered):
        for lang, weight in _WEIGHTS.get(token, {}).items():
            out[lang] += weight
    for lang, letters in _LETTERS.items():
        if any(ch in lowered for ch in letters):
            out[lang] += 1.0
    return dict(out)


def detect(text: str) -> str | None:
    """The supported language ``text`` is clearly written in, or ``None`` if unsure."""
    ranked = sorted(scores(text).items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] < MIN_SCORE:
        return None
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < MIN_LEAD:
        return None
    return ranked[0][0]


def mismatch(text: str, expected: str) -> str | None:
    """The language ``text`` is in when that is clearly not ``expected`` (a BCP 47 tag);
    ``None`` when it matches, when unsure, or when ``expected`` is a language this
    module does not know (nothing can be checked then)."""
    want = resolve(expected)
    if want is None:
        return None
    found = detect(text)
    return found if found is not None and found != want else None
