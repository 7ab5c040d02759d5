"""The whole product in one browser flow, in real headless Chromium (Debian's
``chromium``, driven by Playwright) against a real ``ae bridge serve`` on free loopback
ports, stopped by pid.

A player opens the web world ``/play/{server}`` (that tab holds the web server's link);
in the studio a creator writes a persona in the editor and deploys it to that server; an
admin approves it in the moderation queue; the deploy walks queued -> spawning -> live;
the web world shows the companion, the player chats with it and it answers (a profane
line arrives masked); the studio's live view shows each player event and each action
with its decision; ending the session from the live view shows the replay and takes the
companion out of the world. Screenshots of the deploy page and the live
view go to docs/screenshots/ (the web world's, with two players, is taken by
``test_web_world_browser``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect

from tests.support.daemon_process import DaemonProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVER = "meadow"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    """The daemon with the web world's companion script (commands to actions, ``say``
    lines repeated as they are so moderation decides what arrives)."""
    process = DaemonProcess(tmp_path / "data")
    admin, creator, _ = anyio.run(process.keys, "web", [SERVER])
    script = tmp_path / "web_companion.py"
    script.write_text("from encounters_bridge.play_demo import web_world_script as script\n")
    anyio.run(process.start, "--script", str(script))
    try:
        yield process, admin, creator
    finally:
        process.stop()


def new_page(browser: Browser, url: str, elsewhere: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

    def record(request: Request) -> None:
        if not request.url.startswith(url):
            elsewhere.append(request.url)

    page.on("request", record)
    return page


def studio(browser: Browser, url: str, key: str, elsewhere: list[str]) -> Page:
    page = new_page(browser, url, elsewhere)
    page.goto(f"{url}/studio/")
    page.get_by_label("API key (creator or admin)").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def say(world: Page, text: str) -> None:
    world.get_by_label("Chat", exact=True).fill(text)
    world.get_by_label("Chat", exact=True).press("Enter")


def item(items: Locator, text: str) -> Locator:
    return items.get_by_test_id("live-item").filter(has_text=text)


def test_a_persona_written_in_the_studio_lives_in_the_web_world(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, admin_key, creator_key = daemon
    url = process.http_url
    elsewhere: list[str] = []  # nothing loads from anywhere but the daemon
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # -- the player's tab: the web world, holding the server's link -----------------------
    world = new_page(browser, url, elsewhere)
    world.set_viewport_size({"width": 1200, "height": 720})
    world.goto(f"{url}/play/{SERVER}")
    world.get_by_label("API key (creator or admin)").fill(creator_key)
    world.get_by_role("button", name="Sign in").click()
    expect(world.get_by_role("status")).to_contain_text("hosting the link: linked")
    companions = world.get_by_role("list", name="Companions")
    chat = world.get_by_role("list", name="Chat log")
    expect(companions).to_have_text("")

    # -- the creator writes the persona in the editor ------------------------------------
    creator = studio(browser, url, creator_key, elsewhere)
    creator.get_by_role("button", name="Personas").click()
    form = creator.get_by_role("form", name="Persona fields")
    verdict = creator.get_by_test_id("screen-verdict")
    form.get_by_label("Name").fill("Wren")
    form.get_by_label("Description").fill("A cheerful guide who walks with players.")
    form.get_by_role("button", name="Add goal").click()
    form.get_by_label("Goal 1", exact=True).fill("show newcomers around")
    form.get_by_label("World").select_option("web")
    form.get_by_role("group", name="Emotes in web").get_by_role("checkbox", name="dance").check()
    form.get_by_role("checkbox", name="look_at").uncheck()  # safety: it may not look at anyone
    expect(verdict).to_have_text(re.compile("^Passes"))
    creator.get_by_role("button", name="Submit for approval").click()
    expect(creator.get_by_test_id("submit-status")).to_contain_text(
        "waiting for an admin's approval"
    )

    # -- deploy to the web world's server ---------------------------------------------------
    creator.get_by_role("button", name="Deploy", exact=True).click()
    deploy = creator.locator(".deploy-page")
    state = creator.get_by_test_id("deploy-state")
    expect(state).to_have_text("idle")
    deploy.get_by_label("World", exact=True).select_option("web")
    expect(deploy.get_by_label("Server", exact=True).locator("option")).to_have_text(
        [f"{SERVER} (online)"]
    )
    expect(deploy.get_by_label("Persona", exact=True)).to_contain_text("Wren (pending moderation)")
    deploy.get_by_role("button", name="Deploy").click()
    expect(state).to_have_text("queued")
    expect(creator.get_by_test_id("deploy-step")).to_have_text(
        "moderation pending: waiting for an admin's approval"
    )

    # -- the admin approves it in the queue ---------------------------------------------------
    admin = studio(browser, url, admin_key, elsewhere)
    admin.get_by_role("button", name="Queue").click()
    queued = admin.get_by_role("article", name="Persona Wren")
    expect(queued).to_contain_text(f"Waiting deploy: web / {SERVER}")
    queued.get_by_label("Note for the creator").fill("Have fun out there")
    queued.get_by_role("button", name="Approve").click()
    expect(admin.get_by_test_id("queue-decisions")).to_contain_text(
        f"Wren: approved — deploy to web/{SERVER}"
    )
    expect(admin.get_by_test_id("queue-empty")).to_be_visible()

    # the web world tab spawns it: the deploy goes live, the companion is in the world
    expect(state).to_have_text("live")
    expect(deploy).to_contain_text("Admin's note: Have fun out there")
    expect(deploy.get_by_label("Persona", exact=True)).to_contain_text("Wren (approved)")
    creator.screenshot(path=str(SCREENSHOTS / "deploy.png"), full_page=True)
    expect(companions).to_contain_text("Wren at 400, 300")  # where players join

    # -- the player talks to it in the web world ------------------------------------------------
    say(world, "say hello maker")
    expect(chat).to_contain_text("Wren: hello maker")
    # the room moderates the player's own line before any tab (or the companion) sees it
    say(world, "say this shit path is muddy")
    expect(chat).to_contain_text("Wren: this **** path is muddy")
    lines = chat.get_by_role("listitem").all_inner_texts()
    assert not [line for line in lines if "shit" in line], lines
    say(world, "go to 450 300")
    expect(companions).to_contain_text("Wren at 450, 300")
    say(world, "dance")
    expect(companions).to_contain_text("*dance*")

    # -- the live view shows each step with its decision ---------------------------------------
    creator.get_by_role("link", name="Open the live view").click()
    expect(creator).to_have_url(re.compile(rf"^{re.escape(url)}/studio/session/sess_\w+/live$"))
    expect(creator.get_by_test_id("live-status")).to_have_text("live")
    live = creator.get_by_role("list", name="Live events")
    expect(live).to_contain_text(f"spawn sent to web server {SERVER}")
    expect(item(live, "maker chat")).to_contain_text(["maker chat: “say hello maker”"])
    expect(item(live, "says “hello maker”")).to_contain_text("allow")
    expect(item(live, "move_to").filter(has_text="allow")).not_to_have_count(0)
    expect(item(live, "dance").filter(has_text="allow")).not_to_have_count(0)

    # a line the player says now arrives in the live view as it happens
    say(world, "say still with you")
    expect(chat).to_contain_text("Wren: still with you")
    expect(live).to_contain_text("maker chat: “say still with you”")

    # an action sent from the live view that the persona's safety settings forbid
    actions = creator.get_by_role("form", name="Send an action")
    actions.get_by_label("Action").select_option("look_at")
    actions.get_by_role("textbox").fill("maker")
    actions.get_by_role("button", name="Send").click()
    expect(item(live, "look_at")).to_contain_text("blocked: action_not_allowed")
    # a profane line sent from the live view: the edge masks it, and says so
    actions.get_by_label("Action").select_option("chat")
    actions.get_by_role("textbox").fill("this shit path is muddy")
    actions.get_by_role("button", name="Send").click()
    masked = item(live, "delivered as")
    expect(masked).to_contain_text("sanitize")
    expect(masked).to_contain_text("delivered as “this **** path is muddy”")
    expect(chat).to_contain_text("Wren: this **** path is muddy")
    creator.screenshot(path=str(SCREENSHOTS / "live-view.png"), full_page=True)

    # -- ending the session from the live view: the replay, and the companion leaves ------------
    creator.get_by_role("button", name="End session").click()
    expect(creator.get_by_test_id("live-status")).to_have_text(re.compile("^ended"))
    expect(companions).to_have_text("")
    replay = creator.get_by_role("list", name="Replay steps")
    steps = creator.get_by_test_id("replay-step")
    expect(steps).to_have_text(re.compile(r"^Step (\d+) of \1$"))
    expect(replay).to_contain_text("maker chat: “say hello maker”")
    expect(replay).to_contain_text("delivered as “this **** path is muddy”")
    creator.get_by_role("button", name="Deploy", exact=True).click()
    expect(creator.get_by_role("region", name="Your deploys")).to_contain_text("ended")
    assert elsewhere == [], elsewhere
