"""The studio's and the web world's gettext catalogs: every message translated in the five
languages beside English, with its {placeholders} kept and as many plural forms as the
language's Plural-Forms says; every message the code asks for exists; the web world's
committed ``.mo`` files are compiled from their ``.po``; the daemon serves the page the
catalog of the player's language (``?lang=`` first, else ``Accept-Language``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from encounters.i18n.messages import FOLDERS
from encounters.moderation import TextFilter
from encounters_bridge.play_i18n import LOCALE_DIR, catalog_json, choose_language
from tests.support.control import run_daemon

ROOT = Path(__file__).resolve().parents[3]
STUDIO = ROOT / "web" / "src"
STUDIO_LOCALE = STUDIO / "i18n" / "locale"
PLAY = ROOT / "bridge" / "encounters_bridge" / "play_static"
LANGUAGES = [tag for tag in FOLDERS if tag != "en"]
FIELD = re.compile(r"\{\w+\}")
#: a message's key: its msgctxt (the studio's key) and its English msgid (the singular)
Key = tuple[str | None, str]

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fields(text: str) -> list[str]:
    """A text's placeholders but {count}, which a plural form may leave out ("one day")."""
    return sorted(f for f in FIELD.findall(text) if f != "{count}")


def read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def problems(template: dict[Key, Message], cat: Catalog) -> list[str]:
    """What is wrong with ``cat`` against the template's messages (by key)."""
    found: dict[Key, Message] = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in cat if m.id
    }
    wrong = [f"{key}: not in the template" for key in found.keys() - template.keys()]
    for key, source in template.items():
        message = found.get(key)
        if message is None:
            wrong.append(f"{key}: missing")
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        want = cat.num_plurals if message.pluralizable else 1
        if (
            message.fuzzy
            or len(forms) != want
            or not all(isinstance(s, str) and s.strip() for s in forms)
        ):
            wrong.append(f"{key}: needs {want} translated form(s), has {forms!r}")
            continue
        english = str(source.id[-1] if isinstance(source.id, (tuple, list)) else source.id)
        wrong += [
            f"{key}: {s!r} changes the placeholders"
            for s in forms
            if fields(str(s)) != fields(english)
        ]
    return wrong


def studio_template() -> dict[Key, Message]:
    return {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]): m
        for m in read(STUDIO_LOCALE / "messages.pot")
        if m.id
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_studio_catalog_translates_every_message(language: str) -> None:
    cat = read(STUDIO_LOCALE / f"{language}.po", FOLDERS[language])
    assert problems(studio_template(), cat) == []


def test_every_message_the_studio_asks_for_is_in_the_template() -> None:
    keys = {context for context, _ in studio_template()}
    asked: set[str] = set()
    for path in [*STUDIO.rglob("*.tsx"), *STUDIO.rglob("*.ts")]:
        asked |= set(re.findall(r"\btn?\(\s*\"([\w.]+)\"", path.read_text(encoding="utf-8")))
    assert len(asked) > 200
    assert asked - keys == set()


def play_messages() -> set[str]:
    """The msgids the web world asks for: t('...') and tn('...', ...) in its modules, and
    the elements of its page marked data-i18n / data-i18n-label, and its title."""
    asked: set[str] = set()
    for path in PLAY.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        asked |= set(re.findall(r"\btn?\(\s*'([^']+)'", source))
        asked |= set(re.findall(r"\btn?\(\s*\"([^\"]+)\"", source))
    page = (PLAY / "index.html").read_text(encoding="utf-8")
    asked |= {" ".join(m.split()) for m in re.findall(r"data-i18n>([^<]+)<", page)}
    asked |= set(re.findall(r'aria-label="([^"]+)" data-i18n-label', page))
    asked |= set(re.findall(r"<title>([^<]+)</title>", page))
    game = (PLAY / "game.js").read_text(encoding="utf-8")
    directions = re.search(r"DIRECTIONS = \[([^\]]+)\]", game)
    assert directions is not None
    asked |= set(re.findall(r"'([\w-]+)'", directions.group(1)))  # t(compass(...))
    return asked


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_web_world_catalog_translates_every_message_and_its_mo_is_current(
    language: str,
) -> None:
    po = LOCALE_DIR / FOLDERS[language] / "LC_MESSAGES" / "play.po"
    cat = read(po, FOLDERS[language])
    template: dict[Key, Message] = {(None, m): Message(m) for m in play_messages()}
    for message in cat:  # the plural ones: their English plural comes from the .po
        if message.id and isinstance(message.id, tuple):
            template[(None, message.id[0])] = Message(message.id)
    assert problems(template, cat) == []
    fresh = io.BytesIO()
    write_mo(fresh, cat)
    assert po.with_suffix(".mo").read_bytes() == fresh.getvalue(), "run make catalogs"


@pytest.mark.parametrize(
    ("lang", "accept", "language"),
    [
        ("de-DE,de,en", None, "de"),
        ("ja,pt-PT", "de", "pt-BR"),
        ("xx-@@,es-419", None, "es"),
        (None, "fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        (None, "en;q=0.2, ru;q=0.7", "ru"),
        (None, "ja, *;q=0.5", "en"),
        (None, None, "en"),
    ],
)
def test_the_players_language(lang: str | None, accept: str | None, language: str) -> None:
    assert choose_language(lang, accept) == language


def test_the_catalog_json_has_the_plural_rule_and_every_form() -> None:
    ru = catalog_json("ru")
    assert ru["messages"]["{count} player here"] == [
        "{count} игрок здесь", "{count} игрока здесь", "{count} игроков здесь",
    ]  # fmt: skip
    assert ru["messages"]["Sign in"] == ["Войти"]
    assert "n % 10 == 1" in ru["plural"]
    assert catalog_json("en")["messages"] == {}


async def test_the_daemon_serves_the_page_its_catalog_by_language(tmp_path: Path) -> None:
    async with (
        run_daemon(tmp_path / "d.db", TextFilter.default()) as dm,
        httpx.AsyncClient(base_url=dm.http_url) as http,
    ):
        r = await http.get("/play/assets/messages.json", params={"lang": "de-AT,en"})
        assert r.status_code == 200 and r.headers["content-language"] == "de"
        assert r.json()["messages"]["Mute voices"] == ["Stimmen stummschalten"]
        r = await http.get(
            "/play/assets/messages.json", headers={"Accept-Language": "pt-BR,pt;q=0.9"}
        )
        assert r.json()["language"] == "pt-BR"
        assert r.json()["messages"]["Send"] == ["Enviar"]
        r = await http.get("/play/assets/messages.json", headers={"Accept-Language": "ja"})
        assert r.json() == {"language": "en", "plural": "n != 1", "messages": {}}
        assert (await http.get("/play/assets/i18n.js")).status_code == 200
