"""Every studio page and the web world in the browser's language: real headless Chromium
(Debian's ``chromium``) with a German or a Russian ``locale`` (which sets
``navigator.languages``) against a real ``ae bridge serve``. The creator writes a persona
and looks at the deploy page, the admin reads the moderation queue (a date in the
locale's format, a counted phrase in the language's plural form) and the dashboard, a
live view opens, and two players meet in the web world, each seeing its texts in its
language."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.daemon_process import DaemonProcess

SERVER = "arena"

pytestmark = pytest.mark.timeout(240)


@dataclass(frozen=True)
class Texts:
    """What a user of one language sees (the catalogs' translations, written out here)."""

    locale: str
    key_label: str
    sign_in: str
    personas: str
    deploy: str
    queue: str
    dashboard: str
    who: str
    name: str
    description: str
    violence: str
    passes: str
    submit: str
    submitted: str
    deploy_title: str
    idle: str
    no_server: str
    queue_title: str
    per_minute: str  # the persona's 20 actions a minute, in the plural form for 20
    date: str  # the submission time as the locale writes dates
    approve: str
    approved: str
    dash_title: str
    range_options: list[str]
    sessions: str
    live_title: str
    back: str
    world_title: str
    here_two: str  # two players here, in the plural form for 2
    guest: str
    players: str
    companions: str
    mute: str
    palette: str
    palette_hint: str
    encounter_form: str


GERMAN = Texts(
    locale="de-DE", key_label="API-Schlüssel (Ersteller oder Admin)", sign_in="Anmelden",
    personas="Personas", deploy="Bereitstellen", queue="Warteschlange", dashboard="Übersicht",
    who="Wer sie ist", name="Name", description="Beschreibung", violence="Gewalt",
    passes="Besteht die Persona-Prüfung: Sie würde auf die Freigabe durch einen Admin warten.",
    submit="Zur Freigabe einreichen", submitted="wartet auf die Freigabe durch einen Admin",
    deploy_title="Eine Persona bereitstellen", idle="bereit",
    no_server="Kein web-Server ist verbunden", queue_title="Moderationswarteschlange",
    per_minute="höchstens 20 Aktionen pro Minute", date=r"eingereicht am \d{1,2}\.\d{1,2}\.\d{4}",
    approve="Freigeben", approved="Lampenhüterin: freigegeben", dash_title="Übersicht",
    range_options=["Letzte 24 Stunden", "Letzte 7 Tage", "Letzte 30 Tage", "Letzte 90 Tage"],
    sessions="Sitzungen", live_title="Sitzung s-none", back="Zurück zum Studio",
    world_title="Webwelt", here_two="2 Spieler hier", guest="Gast", players="Spieler",
    companions="Begleiter", mute="Stimmen stummschalten", palette="Zur Begegnung hinzufügen",
    palette_hint="Auf die Zeichenfläche ziehen oder Enter drücken:", encounter_form="Begegnung",
)  # fmt: skip
RUSSIAN = Texts(
    locale="ru-RU", key_label="API-ключ (автора или администратора)", sign_in="Войти",
    personas="Персонажи", deploy="Развёртывание", queue="Очередь", dashboard="Панель",
    who="Кто это", name="Имя", description="Описание", violence="насилие",
    passes="Проходит проверку персонажа: будет ждать одобрения администратора.",
    submit="Отправить на одобрение", submitted="ждёт одобрения администратора",
    deploy_title="Развернуть персонажа", idle="ожидание",
    no_server="Ни один сервер web не подключён", queue_title="Очередь модерации",
    per_minute="не более 20 действий в минуту", date=r"отправлено \d{2}\.\d{2}\.\d{4}",
    approve="Одобрить", approved="Lampenhüterin: одобрен", dash_title="Панель",
    range_options=["Последние 24 часа", "Последние 7 дней", "Последние 30 дней",
                   "Последние 90 дней"],
    sessions="Сессии", live_title="Сессия s-none", back="Назад в студию",
    world_title="Веб-мир", here_two="2 игрока здесь", guest="гость", players="Игроки",
    companions="Спутники", mute="Выключить голоса", palette="Добавить во встречу",
    palette_hint="Перетащите на холст или нажмите Enter:", encounter_form="Встреча",
)  # fmt: skip


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    process = DaemonProcess(tmp_path / "data")
    admin, creator, _ = anyio.run(process.keys, "web", [SERVER])
    anyio.run(process.start)
    try:
        yield process, admin, creator
    finally:
        process.stop()


def signed_in(browser: Browser, url: str, texts: Texts, key: str, path: str = "/studio/") -> Page:
    context = browser.new_context(locale=texts.locale, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url + path)
    page.get_by_label(texts.key_label).fill(key)
    page.get_by_role("button", name=texts.sign_in, exact=True).click()
    return page


@pytest.mark.parametrize("texts", [GERMAN, RUSSIAN], ids=["de", "ru"])
def test_every_studio_page_speaks_the_browsers_language(
    daemon: tuple[DaemonProcess, str, str], browser: Browser, texts: Texts
) -> None:
    process, admin_key, creator_key = daemon
    lang = texts.locale.split("-")[0]

    # -- the creator: the encounter editor's forms, the persona editor, the deploy page --
    creator = signed_in(browser, process.http_url, texts, creator_key)
    expect(creator.locator("html")).to_have_attribute("lang", lang)
    expect(creator.get_by_role("toolbar", name=texts.palette)).to_contain_text(texts.palette_hint)
    expect(creator.get_by_role("form", name=texts.encounter_form)).to_be_visible()
    creator.get_by_role("button", name=texts.personas, exact=True).click()
    expect(creator.get_by_role("heading", name=texts.who)).to_be_visible()
    creator.get_by_label(texts.name, exact=True).fill("Lampenhüterin")
    creator.get_by_label(texts.description, exact=True).fill("A patient guide with a lantern.")
    expect(creator.get_by_role("checkbox", name=texts.violence)).to_be_checked()
    expect(creator.get_by_test_id("screen-verdict")).to_have_text(texts.passes)
    creator.get_by_role("button", name=texts.submit).click()
    expect(creator.get_by_test_id("submit-status")).to_contain_text(texts.submitted)

    creator.get_by_role("button", name=texts.deploy, exact=True).click()
    expect(creator.get_by_role("heading", name=texts.deploy_title)).to_be_visible()
    expect(creator.get_by_test_id("deploy-state")).to_have_text(texts.idle)
    expect(creator.get_by_test_id("deploy-state")).to_have_attribute("data-state", "idle")
    server = creator.get_by_role("combobox", name=re.compile(r"^(Server|Сервер)$"))
    expect(server.locator("option")).to_have_text([texts.no_server])

    # -- the admin: the moderation queue and the dashboard ------------------------------
    admin = signed_in(browser, process.http_url, texts, admin_key)
    admin.get_by_role("button", name=texts.queue, exact=True).click()
    expect(admin.get_by_role("heading", name=texts.queue_title)).to_be_visible()
    item = admin.get_by_role("article")
    expect(item).to_contain_text(texts.per_minute)
    expect(item).to_contain_text(re.compile(texts.date))
    item.get_by_role("button", name=texts.approve, exact=True).click()
    expect(admin.get_by_test_id("queue-decisions")).to_contain_text(texts.approved)

    admin.get_by_role("button", name=texts.dashboard, exact=True).click()
    expect(admin.get_by_role("heading", name=texts.dash_title, exact=True)).to_be_visible()
    expect(admin.locator(".dashboard select option")).to_have_text(texts.range_options)
    expect(admin.locator(".kpis dt").first).to_have_text(texts.sessions)

    # -- a live view (of a session that does not exist: the page's own texts) ----------
    live = signed_in(browser, process.http_url, texts, creator_key, "/studio/session/s-none/live")
    expect(live.get_by_role("heading", name=texts.live_title)).to_be_visible()
    expect(live.get_by_role("link", name=texts.back)).to_be_visible()


def test_the_web_world_speaks_each_players_language(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, admin_key, creator_key = daemon
    pages = {}
    for texts, key in ((GERMAN, creator_key), (RUSSIAN, admin_key)):
        page = browser.new_context(locale=texts.locale).new_page()
        page.goto(f"{process.http_url}/play/{SERVER}")
        expect(page.locator("html")).to_have_attribute("lang", texts.locale.split("-")[0])
        expect(page.get_by_role("heading", level=1)).to_contain_text(texts.world_title)
        page.get_by_label(texts.key_label).fill(key)
        page.get_by_role("button", name=texts.sign_in, exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(SERVER)
        expect(page.get_by_role("button", name=texts.mute)).to_be_visible()
        expect(page.get_by_role("list", name=texts.players)).to_be_attached()
        expect(page.get_by_role("list", name=texts.companions)).to_be_attached()
        pages[texts.locale] = page
    # both players are here: each counts them in its own language's plural form
    expect(pages["de-DE"].get_by_role("status")).to_contain_text(GERMAN.here_two)
    expect(pages["ru-RU"].get_by_role("status")).to_contain_text(RUSSIAN.here_two)
    expect(pages["ru-RU"].get_by_role("status")).to_contain_text(RUSSIAN.guest)
    expect(pages["de-DE"].get_by_role("status")).to_contain_text("hält die Verbindung")
