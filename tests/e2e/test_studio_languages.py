"""The studio follows the browser's language: real headless Chromium (Debian's
``chromium``) with a ``locale`` (which sets ``navigator.languages``) against a real
``ae bridge serve`` serving the built studio. German and Spanish browsers get the
navigation and the editor's chrome in their language; the header's picker switches
language and the choice outlives a reload; an unsupported language falls back to
English."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_studio_browser import daemon as daemon  # the fixture
from tests.support.daemon_process import DaemonProcess

pytestmark = pytest.mark.timeout(180)


def studio(browser: Browser, url: str, locale: str) -> Page:
    page = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{url}/studio/")
    return page


def sign_in(page: Page, label: str, button: str, key: str) -> None:
    page.get_by_label(label).fill(key)
    page.get_by_role("button", name=button, exact=True).click()


def test_a_german_browser_gets_the_studio_in_german(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, admin, _ = daemon
    page = studio(browser, process.http_url, "de-DE")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    sign_in(page, "API-Schlüssel (Ersteller oder Admin)", "Anmelden", admin)
    nav = page.get_by_role("navigation", name="Studio")
    for label in ("Editor", "Vorlagen", "Marktplatz", "Personas", "Bereitstellen",
                  "Warteschlange", "Übersicht"):  # fmt: skip
        expect(nav.get_by_role("button", name=label, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    expect(page.get_by_text("Angemeldet (Admin)")).to_be_visible()
    toolbar = page.get_by_role("toolbar", name="Editor")
    for label in ("Rückgängig", "Wiederholen", "Neu", "Veröffentlichen"):
        expect(toolbar.get_by_role("button", name=label)).to_be_visible()
    expect(page.get_by_role("tab", name="Eigenschaften")).to_be_visible()
    expect(page.get_by_role("heading", name="Prüfung")).to_be_visible()
    expect(nav).not_to_contain_text("Templates")

    # the picker switches to French, and a reload keeps the choice over the browser's
    page.get_by_label("Sprache").select_option("fr")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.reload()
    expect(page.get_by_role("navigation", name="Studio")).to_contain_text("Modèles")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_a_spanish_browser_gets_spanish_and_an_unknown_language_gets_english(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, _, creator = daemon
    page = studio(browser, process.http_url, "es-MX")
    sign_in(page, "Clave de API (creador o administrador)", "Iniciar sesión", creator)
    nav = page.get_by_role("navigation", name="Estudio")
    for label in ("Plantillas", "Mercado", "Personajes", "Desplegar"):
        expect(nav.get_by_role("button", name=label, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    expect(page.get_by_text("Sesión iniciada (creador)")).to_be_visible()
    expect(page.get_by_role("heading", name="Validación")).to_be_visible()

    other = studio(browser, process.http_url, "ja-JP")
    expect(other.locator("html")).to_have_attribute("lang", "en")
    sign_in(other, "API key (creator or admin)", "Sign in", creator)
    expect(other.get_by_role("navigation", name="Studio")).to_contain_text("Templates")
    expect(other.get_by_role("button", name="Sign out")).to_be_visible()
