"""A voiced companion heard in the web world: real headless Chromium (Debian's
``chromium`` with autoplay allowed, as after a player's click) against a real
``ae bridge serve`` whose voice is the offline eSpeak NG engine.

The companion's line arrives in the room with its signed audio link; the page fetches
it from the daemon, plays it panned to the side the companion stands on, shows who is
speaking, and fetches nothing while the player has voices muted (a switch remembered
across the player's tabs).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.test_web_world_browser import (
    PERSONA,
    SERVER,
    chat_log,
    daemon,  # noqa: F401 (the fixture)
    deploy,
    open_world,
    say,
)
from tests.support.browser import chromium
from tests.support.daemon_process import DaemonProcess

VOICED = {**PERSONA, "voice": {"id": "en", "rate": 1.0}}
LONG_LINE = "welcome traveller, the road north is long and the nights up there are cold"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium that plays audio without a click (the page's voice starts by itself)."""
    with chromium("--autoplay-policy=no-user-gesture-required") as launched:
        yield launched


def voice_of_pip(page: Page) -> dict[str, object]:
    found: dict[str, object] = page.locator("#voices audio").evaluate(
        "a => ({src: a.currentSrc, played: a.played.length, ended: a.ended,"
        " pan: a.dataset.pan, label: a.getAttribute('aria-label')})"
    )
    return found


def test_a_voiced_companion_is_heard_where_it_stands_and_not_when_muted(
    daemon: tuple[DaemonProcess, str, str],  # noqa: F811
    browser: Browser,
) -> None:
    process, admin, creator = daemon
    url = process.http_url
    elsewhere: list[str] = []
    page = open_world(browser, url, creator, elsewhere)
    expect(page.get_by_role("status")).to_contain_text("hosting the link: linked")
    fetched: list[str] = []  # the voice lines this page asked the daemon for

    def record(request: Request) -> None:
        if "/audio/" in request.url:
            fetched.append(request.url.split("?")[0])

    page.on("request", record)

    # Pip stands 200 units east of the player (who starts at 400, 300)
    deploy(url, admin, creator, {"x": 600, "y": 64, "z": 300}, persona=VOICED)
    expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 600, 300")

    with page.expect_response(lambda r: "/audio/" in r.url) as heard:
        say(page, f"say {LONG_LINE}")
    response = heard.value
    assert response.url.startswith(f"{url}/audio/") and "sig=" in response.url, response.url
    assert response.status in (200, 206), response.status
    assert response.headers["content-type"] == "audio/wav"
    expect(chat_log(page)).to_contain_text(f"Pip: {LONG_LINE}")
    expect(page.locator("#speaking")).to_have_text("Pip is speaking")
    expect(page.locator("#speaking")).to_have_text("", timeout=20_000)  # the line ended
    voice = voice_of_pip(page)
    assert voice["src"] == response.url and voice["ended"] is True, voice
    assert voice["played"] == 1 and voice["label"] == "Pip's voice", voice
    assert voice["pan"] == "0.50", voice  # heard from the right

    # muted: the line shows in the chat and its audio is never fetched
    mute = page.get_by_role("button", name="Mute voices")
    expect(mute).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    say(page, "say nobody hears this one")
    expect(chat_log(page)).to_contain_text("Pip: nobody hears this one")
    assert len(set(fetched)) == 1, fetched

    # the switch is remembered: another tab of this player's browser opens muted
    other = page.context.new_page()
    other.goto(f"{url}/play/{SERVER}")
    other.get_by_label("API key (creator or admin)").fill(creator)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("status")).to_contain_text("guest")
    expect(other.get_by_role("button", name="Mute voices")).to_have_attribute(
        "aria-pressed", "true"
    )
    other.close()

    # on again: the next line is fetched and heard (the muted one still never was)
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    with page.expect_response(lambda r: "/audio/" in r.url) as again:
        say(page, "say and now you hear me")
    assert again.value.url.split("?")[0] != response.url.split("?")[0]
    expect(chat_log(page)).to_contain_text("Pip: and now you hear me")
    expect(page.locator("#speaking")).to_have_text("", timeout=20_000)
    assert voice_of_pip(page)["played"] == 1
    assert len(set(fetched)) == 2, fetched
    assert elsewhere == [], elsewhere
