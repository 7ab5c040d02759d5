"""The web world in real headless Chromium (Debian's ``chromium``, driven by Playwright)
against a real ``ae bridge serve --script`` on free loopback ports, stopped by pid.

Two players open ``/play/arena`` in two pages and see each other move; a companion
deployed the usual way (submitted by a creator, approved by an admin, spawned on the web
server) appears in both, answers chat through the daemon's moderation (a profane line
arrives masked), follows a player and emotes; when the tab holding the server's link
closes, the other takes the link over and the companion keeps answering. A screenshot of
the web world goes to docs/screenshots/web-world.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.support.daemon_process import DaemonProcess, free_port

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVER = "arena"
PERSONA = {
    "name": "Pip",
    "description": "A cheerful guide who walks with players.",
    "traits": {"tone": "playful", "ethics": "helper", "risk": "low"},
    "goals": ["guide"],
    "safety": {
        "allowedActions": ["chat", "move_to", "follow", "look_at", "emote", "stop"],
        "moderation": "sanitize",
        "maxActionsPerMinute": 60,
    },
    "embodiment": {"emotes": ["wave", "cheer"]},
}

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    process = DaemonProcess(tmp_path / "data")
    admin, creator, _ = anyio.run(process.keys, "web", [SERVER])
    script = tmp_path / "web_companion.py"
    script.write_text("from encounters_bridge.play_demo import web_world_script as script\n")
    anyio.run(process.start, "--script", str(script))
    try:
        yield process, admin, creator
    finally:
        process.stop()


def open_world(browser: Browser, url: str, key: str, elsewhere: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1200, "height": 720}).new_page()

    def record(request: Request) -> None:
        if not request.url.startswith(url):
            elsewhere.append(request.url)

    page.on("request", record)
    page.goto(f"{url}/play/{SERVER}")
    page.get_by_label("API key (creator or admin)").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text(f"in {SERVER}")
    return page


def players(page: Page) -> str:
    return page.get_by_role("list", name="Players").inner_text()


def companions(page: Page) -> str:
    return page.get_by_role("list", name="Companions").inner_text()


def chat_log(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("list", name="Chat log")


def say(page: Page, text: str) -> None:
    page.get_by_label("Chat", exact=True).fill(text)
    page.get_by_label("Chat", exact=True).press("Enter")


def walk(page: Page, key: str, seconds: float) -> tuple[int, int]:
    """Hold an arrow key on the map; returns where the player ended up."""
    page.get_by_label("The map: arrow keys or WASD move you").focus()
    page.keyboard.down(key)
    page.wait_for_timeout(seconds * 1000)
    page.keyboard.up(key)
    page.wait_for_timeout(200)  # the last position report leaves within 0.1 s
    found = re.search(r"\(you\) at (\d+), (\d+)", players(page))
    assert found, players(page)
    return int(found[1]), int(found[2])


def position(text: str, name: str) -> tuple[int, int] | None:
    found = re.search(rf"{name}(?: \(you\))? at (\d+), (\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


def wait_for(check, what: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_players_and_a_companion_in_the_web_world(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, admin, creator = daemon
    url = process.http_url
    elsewhere: list[str] = []  # the game loads nothing from anywhere but the daemon

    # a wrong key is refused with a clear message
    stranger = browser.new_context().new_page()
    stranger.goto(f"{url}/play/{SERVER}")
    stranger.get_by_label("API key (creator or admin)").fill("ae_ak_000000000000_" + "A" * 32)
    stranger.get_by_role("button", name="Sign in").click()
    expect(stranger.get_by_role("alert")).to_contain_text("not accepted")
    stranger.context.close()

    # two players: the first tab holds the server's link, the second is a guest
    maker = open_world(browser, url, creator, elsewhere)
    expect(maker.get_by_role("status")).to_contain_text("hosting the link: linked")
    ops = open_world(browser, url, admin, elsewhere)
    expect(ops.get_by_role("status")).to_contain_text("guest")
    expect(maker.get_by_role("list", name="Players")).to_contain_text("ops at 400, 300")
    expect(ops.get_by_role("list", name="Players")).to_contain_text("maker at 400, 300")

    # each sees the other move
    x, y = walk(maker, "ArrowRight", 0.6)
    assert x > 450 and y == 300
    expect(ops.get_by_role("list", name="Players")).to_contain_text(f"maker at {x}, {y}")
    x2, y2 = walk(ops, "ArrowDown", 0.5)
    assert y2 > 340 and x2 == 400
    expect(maker.get_by_role("list", name="Players")).to_contain_text(f"ops at {x2}, {y2}")

    # a companion is deployed the usual way: submitted, approved, spawned on the web server
    sid = deploy(url, admin, creator, {"x": 200, "y": 64, "z": 150})
    for page in (maker, ops):
        expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 200, 150")

    # it answers chat in both pages; its profane line arrives masked
    say(ops, "say hello everyone")
    for page in (maker, ops):
        expect(chat_log(page)).to_contain_text("Pip: hello everyone")
    say(ops, "say this shit tunnel is dark")
    for page in (maker, ops):
        expect(chat_log(page)).to_contain_text("Pip: this **** tunnel is dark")
        lines = chat_log(page).get_by_role("listitem").all_inner_texts()
        assert not [line for line in lines if line.startswith("Pip:") and "shit" in line], lines

    # it follows the player who asked, across the map
    say(ops, "follow me")
    expect(chat_log(ops)).to_contain_text("Pip: Right behind you!")
    x3, y3 = walk(ops, "ArrowLeft", 1.0)

    def near_ops() -> bool:
        pip = position(companions(maker), "Pip")
        return pip is not None and abs(pip[0] - x3) + abs(pip[1] - y3) <= 45

    wait_for(near_ops, f"Pip to reach ops at {x3}, {y3} (maker's view: {companions(maker)})")

    # it emotes when asked (every page sees it)
    say(maker, "wave")
    for page in (maker, ops):
        expect(page.get_by_role("list", name="Companions")).to_contain_text("*wave*")
    ops.screenshot(path=str(SCREENSHOTS / "web-world.png"))

    # it stops, walks to a point, and turns to look at the player who asks
    say(ops, "stop")
    say(ops, "go to 600 500")
    for page in (maker, ops):
        expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 600, 500")
    say(ops, "look at me")  # ops is far to the west, a little north
    for page in (maker, ops):
        expect(page.get_by_role("list", name="Companions")).to_contain_text(
            "Pip at 600, 500 facing west"
        )

    # the host tab leaves: the other takes the link over and the companion stays
    maker.context.close()
    expect(ops.get_by_role("status")).to_contain_text("hosting the link: linked")
    expect(ops.get_by_role("list", name="Players")).not_to_contain_text("maker")
    say(ops, "say still here")
    expect(chat_log(ops)).to_contain_text("Pip: still here")
    expect(ops.get_by_role("list", name="Companions")).to_contain_text("Pip at")

    # the creator ends the session: the companion leaves the world
    ended = httpx.post(f"{url}/session/{sid}/end", headers={"Authorization": f"Bearer {creator}"})
    assert ended.status_code == 200, ended.text
    expect(ops.get_by_role("list", name="Companions")).to_have_text("")
    assert elsewhere == [], elsewhere


def deploy(
    url: str,
    admin: str,
    creator: str,
    location: dict[str, float],
    persona: dict[str, Any] = PERSONA,
) -> str:
    """Submit (creator), approve (admin), spawn on the web server; the session id once
    live (the host tab reports the companion spawned)."""
    creator_h = {"Authorization": f"Bearer {creator}"}
    with httpx.Client(base_url=url, timeout=10) as http:
        submitted = http.post("/personas/submit", headers=creator_h, json=persona)
        assert submitted.status_code == 201, submitted.text
        pid = submitted.json()["id"]
        approved = http.post(f"/personas/{pid}/approve",
                             headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
        assert approved.status_code == 200, approved.text
        spawned = http.post("/spawn", headers=creator_h, json={
            "personaId": pid, "deploymentToken": approved.json()["token"], "world": "web",
            "serverId": SERVER, "spawnLocation": location,
        })  # fmt: skip
        assert spawned.status_code == 201, spawned.text
        sid: str = spawned.json()["sessionId"]
        wait_for(lambda: http.get(f"/session/{sid}", headers=creator_h).json()["status"] == "live",
                 "the session to go live")  # fmt: skip
    return sid


def test_the_web_world_comes_back_after_a_daemon_restart(
    daemon: tuple[DaemonProcess, str, str], browser: Browser, tmp_path: Path
) -> None:
    process, admin, creator = daemon
    page = open_world(browser, process.http_url, creator, [])
    expect(page.get_by_role("status")).to_contain_text("hosting the link: linked")
    deploy(process.http_url, admin, creator, {"x": 300, "y": 64, "z": 100})
    expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 300, 100")
    code, _ = process.terminate()
    assert code == 0, process.output()[-3000:]
    expect(page.get_by_role("status")).to_contain_text("joining again")
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        pool.submit(
            anyio.run, process.start, "--script", str(tmp_path / "web_companion.py")
        ).result()
    # the page joins again by itself; the live companion comes back in the link's ready
    expect(page.get_by_role("status")).to_contain_text("hosting the link: linked", timeout=20_000)
    expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 300, 100")
    say(page, "say back again")
    expect(chat_log(page)).to_contain_text("Pip: back again")


def test_ae_demo_web_leaves_a_companion_in_the_web_world(tmp_path: Path, browser: Browser) -> None:
    """What a newcomer does: ``ae demo --web``, open the printed URL, sign in with the
    printed key, talk to Pip."""
    http_port, ws_port = free_port(), free_port()
    out = tmp_path / "demo.out"
    env = {**os.environ, "AE_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1",
           "AE_BRIDGE_PORT": str(ws_port), "AE_BRIDGE_HTTP_PORT": str(http_port),
           "COLUMNS": "200"}  # fmt: skip
    with out.open("wb") as sink:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "ae"), "demo", "--web"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        printed = wait_for(
            lambda: re.search(r"open (http://\S+/play/demo)\s.*?key.*?: (ae_ak_\S+)",
                              out.read_text(errors="replace"), flags=re.DOTALL),
            "the demo to print its URL and key", timeout=90,
        )  # fmt: skip
        url, key = printed[1], printed[2]
        assert url == f"http://127.0.0.1:{http_port}/play/demo"
        page = browser.new_context().new_page()
        page.goto(url)
        page.get_by_label("API key (creator or admin)").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("status")).to_contain_text("hosting the link: linked")
        expect(page.get_by_role("list", name="Companions")).to_contain_text("Pip at 400, 300")
        say(page, "say welcome to the web world")
        expect(chat_log(page)).to_contain_text("Pip: welcome to the web world")
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0, out.read_text(errors="replace")[-3000:]
    assert "web world stopped" in out.read_text(errors="replace")
