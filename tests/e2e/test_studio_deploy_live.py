"""The creator's and the operator's whole flow in the studio, in a real headless
Chromium (Debian's ``chromium``, driven by Playwright) against a real ``ae bridge
serve`` and a scripted GMod-like game server linked over the real WebSocket protocol
(:class:`~encounters_bridge.adapter.AdapterClient`, answering like the Lua addon).

A creator writes a persona in the editor (moderation feedback as they type, the avatar
and emote pickers, safety settings, JSON export and import) and deploys it; an admin
approves it in the moderation queue; the deploy walks queued -> spawning -> live as the
game spawns it; the live view shows a player's chat and each action with its decision
(a profane line masked, a disallowed action blocked, a rate-limit hit) and its round
trip; pausing and ending work; after the end the replay plays from the audit log.
The persona editor's screenshot goes to docs/screenshots/ (the deploy page's and the
live view's come from ``test_studio_to_web_world``, the same pages in the web world).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from playwright.sync_api import Browser, Page, Request, expect

from encounters_bridge.adapter import AdapterClient
from encounters_bridge.frames import Frame
from tests.support.daemon_process import DaemonProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERVER = "gm-test"
#: What the GMod addon announces (lua_addon/lua/ai_companion/connection.lua).
GMOD_CAPABILITIES = ["chat", "move_to", "follow", "look_at", "emote", "use_entity", "stop"]


@dataclass
class ScriptedGmod:
    """A GMod server's adapter, scripted: it holds each spawn until the test lets it
    through (so the deploy's ``spawning`` step can be seen), then answers ``spawned``
    like the addon, and ``action_done`` for every action."""

    client: AdapterClient
    portal: BlockingPortal
    let_spawn: threading.Event = field(default_factory=threading.Event)
    spawned: list[str] = field(default_factory=list)

    async def on_dispatch(self, frame: Frame) -> None:
        if frame.d.get("type") == "spawn":
            await anyio.to_thread.run_sync(self.let_spawn.wait)
            assert frame.sid is not None
            self.spawned.append(frame.sid)
            await self.client.send_event({"type": "spawned", "entity": "42"}, sid=frame.sid)
        elif frame.d.get("type") == "action":
            action_id = frame.d["action"]["id"]
            await self.client.send_event({"type": "action_done", "action_id": action_id},
                                         sid=frame.sid)  # fmt: skip

    def player_chat(self, sid: str, name: str, message: str) -> None:
        event = {"type": "player_chat", "player": {"id": "76561198000000001", "name": name},
                 "message": message}  # fmt: skip
        self.portal.call(self.client.send_event, event, sid)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str, ScriptedGmod]]:
    process = DaemonProcess(tmp_path / "data")
    admin, creator, world_key = anyio.run(process.keys, "gmod", [SERVER])
    anyio.run(process.start)
    try:
        with start_blocking_portal() as portal:
            client = AdapterClient(process.ws_url, world="gmod", server_id=SERVER, key=world_key,
                                   capabilities=GMOD_CAPABILITIES, max_backoff=0.2)  # fmt: skip
            game = ScriptedGmod(client, portal)
            client.on_dispatch = game.on_dispatch
            running = portal.start_task_soon(client.run)

            async def ready() -> None:
                with anyio.fail_after(20):
                    await client.ready.wait()

            portal.call(ready)
            try:
                yield process, admin, creator, game
            finally:
                game.let_spawn.set()
                portal.call(client.stop)
                running.cancel()
    finally:
        process.stop()


def signed_in(browser: Browser, url: str, key: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{url}/studio/")
    page.get_by_label("API key (creator or admin)").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def test_creator_deploys_admin_approves_and_the_live_view_shows_each_decision(
    stack: tuple[DaemonProcess, str, str, ScriptedGmod], browser: Browser, tmp_path: Path
) -> None:
    process, admin_key, creator_key, game = stack
    creator = signed_in(browser, process.http_url, creator_key)
    elsewhere: list[str] = []

    def record(request: Request) -> None:
        if not request.url.startswith(process.http_url):
            elsewhere.append(request.url)

    creator.on("request", record)
    expect(creator.get_by_role("button", name="Queue")).to_have_count(0)  # admins only

    # -- the persona editor: moderation feedback as the creator types -------------------
    creator.get_by_role("button", name="Personas").click()
    form = creator.get_by_role("form", name="Persona fields")
    verdict = creator.get_by_test_id("screen-verdict")
    findings = creator.get_by_test_id("screen-findings")
    form.get_by_label("Name").fill("Lantern Keeper")
    description = form.get_by_label("Description")
    description.fill("A grumpy guide who says shit when lost.")
    expect(verdict).to_have_text("Would be rejected by moderation:")
    expect(findings).to_contain_text("description: profanity (“shit”) — would be refused")
    expect(description).to_have_attribute("aria-invalid", "true")
    expect(creator.get_by_role("button", name="Submit for approval")).to_be_disabled()
    form.get_by_role("button", name="Add goal").click()
    form.get_by_label("Goal 1", exact=True).fill("rally votes for the election")
    expect(findings).to_contain_text("goals[0]: politics")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    creator.screenshot(path=str(SCREENSHOTS / "persona-editor.png"))
    form.get_by_label("Goal 1", exact=True).fill("light the way home")
    description.fill("A patient guide who carries a lantern.")
    expect(verdict).to_have_text(
        "Passes the persona screen: it would wait for an admin's approval."
    )
    expect(description).to_have_attribute("aria-invalid", "false")

    # the avatar and emote pickers offer what each world's adapter knows
    form.get_by_label("World").select_option("gmod")
    form.get_by_role("radio", name="models/player/alyx.mdl").check()
    emotes = form.get_by_role("group", name="Emotes in gmod")
    emotes.get_by_role("checkbox", name="bow").check()
    # safety: no look_at, two actions a minute
    form.get_by_role("checkbox", name="look_at").uncheck()
    form.get_by_label("Actions per minute").fill("0")
    expect(findings).to_contain_text("max_actions_per_minute")  # the server's range check
    form.get_by_label("Actions per minute").fill("2")
    expect(verdict).to_have_text(re.compile("^Passes"))

    # export as JSON, and import it back (edited) from a file
    with creator.expect_download() as download:
        creator.get_by_role("button", name="Export JSON").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["name"] == "Lantern Keeper"
    assert exported["embodiment"] == {"avatar": "models/player/alyx.mdl", "emotes": ["wave", "bow"]}
    assert exported["safety"]["max_actions_per_minute"] == 2
    assert "look_at" not in exported["safety"]["allowed_actions"]
    edited = tmp_path / "keeper.persona.json"
    edited.write_text(json.dumps({**exported, "description": "A patient guide with a lantern."}))
    creator.get_by_label("Import persona JSON").set_input_files(str(edited))
    expect(description).to_have_value("A patient guide with a lantern.")
    expect(form.get_by_label("Actions per minute")).to_have_value("2")

    creator.get_by_role("button", name="Submit for approval").click()
    expect(creator.get_by_test_id("submit-status")).to_contain_text(
        "waiting for an admin's approval"
    )

    # -- deploy: the status walks from the daemon's state ---------------------------------
    creator.get_by_role("button", name="Deploy", exact=True).click()
    page = creator.locator(".deploy-page")
    state = creator.get_by_test_id("deploy-state")
    expect(state).to_have_text("idle")
    page.get_by_label("World", exact=True).select_option("gmod")
    expect(page.get_by_label("Server", exact=True)).to_have_value(SERVER)
    expect(page.get_by_label("Server", exact=True).locator("option")).to_have_text(
        [f"{SERVER} (online)"]
    )
    expect(page.get_by_label("Persona", exact=True)).to_contain_text(
        "Lantern Keeper (pending moderation)"
    )
    page.get_by_role("button", name="Deploy").click()
    expect(state).to_have_text("queued")
    expect(creator.get_by_test_id("deploy-step")).to_have_text(
        "moderation pending: waiting for an admin's approval"
    )

    # -- the admin approves it in the queue, with a note ----------------------------------
    admin = signed_in(browser, process.http_url, admin_key)
    admin.get_by_role("button", name="Queue").click()
    item = admin.get_by_role("article", name="Persona Lantern Keeper")
    expect(item).to_contain_text("Nothing: every text field passed the screen.")
    expect(item).to_contain_text("at most 2 actions a minute")
    expect(item).to_contain_text("Goals: light the way home")
    expect(item).to_contain_text(f"Waiting deploy: gmod / {SERVER}")
    item.get_by_label("Note for the creator").fill("Welcome aboard")
    item.get_by_role("button", name="Approve").click()
    expect(admin.get_by_test_id("queue-decisions")).to_contain_text(
        f"Lantern Keeper: approved — deploy to gmod/{SERVER}: spawning"
    )
    expect(admin.get_by_test_id("queue-empty")).to_be_visible()

    # spawning until the game says the companion is there, then live
    expect(state).to_have_text("spawning")
    expect(creator.get_by_test_id("deploy-step")).to_contain_text("spawn sent")
    game.let_spawn.set()
    expect(state).to_have_text("live")
    expect(page).to_contain_text("Admin's note: Welcome aboard")
    (sid,) = game.spawned

    # -- the live view ---------------------------------------------------------------------
    creator.get_by_role("link", name="Open the live view").click()
    expect(creator).to_have_url(f"{process.http_url}/studio/session/{sid}/live")
    assert creator_key not in creator.url
    expect(creator.get_by_test_id("live-status")).to_have_text("live")
    live = creator.get_by_role("list", name="Live events")
    expect(live).to_contain_text(f"spawn sent to gmod server {SERVER}")
    expect(live).to_contain_text("spawned: 42")

    game.player_chat(sid, "bob", "hello lantern keeper")
    expect(live.get_by_test_id("live-item").filter(has_text="bob chat")).to_contain_text(
        "bob chat: “hello lantern keeper”"
    )
    actions = creator.get_by_role("form", name="Send an action")

    def send(kind: str, value: str) -> None:
        actions.get_by_label("Action").select_option(kind)
        actions.get_by_role("textbox").fill(value)
        actions.get_by_role("button", name="Send").click()

    send("look_at", "bob")
    blocked = live.get_by_test_id("live-item").filter(has_text="look_at")
    expect(blocked).to_contain_text("blocked: action_not_allowed")
    send("chat", "what the fuck")
    sanitized = live.get_by_test_id("live-item").filter(has_text="delivered as")
    expect(sanitized).to_contain_text("sanitize")
    expect(sanitized).to_contain_text("delivered as “what the ****”")
    send("emote", "bow")
    expect(live.get_by_test_id("live-item").filter(has_text="ms round trip")).to_have_count(2)
    send("chat", "one more line")  # the third allowed action in a minute: over the limit
    limited = live.get_by_test_id("live-item").filter(has_text="rate limit")
    expect(limited).to_contain_text("blocked: rate_limited")
    creator.get_by_role("button", name="Pause").click()
    expect(creator.get_by_test_id("live-status")).to_have_text("live (paused)")

    # -- the end, and the replay from the audit log ------------------------------------------
    creator.get_by_role("button", name="End session").click()
    expect(creator.get_by_test_id("live-status")).to_have_text("ended (paused)")
    replay = creator.get_by_role("list", name="Replay steps")
    steps = creator.get_by_test_id("replay-step")
    expect(steps).to_have_text(re.compile(r"^Step (\d+) of \1$"))
    total = int(steps.inner_text().split()[-1])
    creator.get_by_role("button", name="Previous").click()
    expect(steps).to_have_text(f"Step {total - 1} of {total}")
    expect(replay.get_by_test_id("live-item")).to_have_count(total - 1)
    creator.get_by_role("button", name="Next").click()
    expect(replay.get_by_test_id("live-item")).to_have_count(total)
    creator.get_by_role("button", name="Play from the start").click()
    expect(steps).to_have_text(f"Step {total} of {total}", timeout=30_000)
    expect(replay).to_contain_text("bob chat: “hello lantern keeper”")
    expect(replay).to_contain_text("delivered as “what the ****”")
    expect(replay).to_contain_text("blocked: rate_limited")

    # the studio's tabs lead back from the live view; the deploy shows as ended
    creator.get_by_role("button", name="Deploy", exact=True).click()
    expect(creator).to_have_url(f"{process.http_url}/studio/")
    expect(creator.get_by_role("region", name="Your deploys")).to_contain_text("ended")
    assert elsewhere == []


def test_a_live_view_of_someone_elses_session_says_so(
    stack: tuple[DaemonProcess, str, str, ScriptedGmod], browser: Browser
) -> None:
    process, _, creator_key, _ = stack
    page = signed_in(browser, process.http_url, creator_key)
    page.goto(f"{process.http_url}/studio/session/sess_nobody/live")
    expect(page.get_by_role("alert")).to_contain_text("no companion session with id 'sess_nobody'")


def test_a_deploy_stops_at_a_rejection_or_an_offline_server_with_the_reason(
    stack: tuple[DaemonProcess, str, str, ScriptedGmod], browser: Browser
) -> None:
    process, admin_key, creator_key, game = stack
    auth = {"Authorization": f"Bearer {creator_key}"}
    for name in ("Vague Guide", "Second Guide"):
        r = httpx.post(f"{process.http_url}/personas/submit", headers=auth,
                       json={"name": name, "description": "A guide."})  # fmt: skip
        assert r.status_code == 201, r.text
    creator = signed_in(browser, process.http_url, creator_key)
    creator.get_by_role("button", name="Deploy", exact=True).click()
    page = creator.locator(".deploy-page")
    state = creator.get_by_test_id("deploy-state")
    page.get_by_label("Persona", exact=True).select_option(label="Vague Guide (pending moderation)")
    page.get_by_label("World", exact=True).select_option("gmod")
    expect(page.get_by_label("Server", exact=True)).to_have_value(SERVER)
    page.get_by_role("button", name="Deploy").click()
    expect(state).to_have_text("queued")

    # the admin turns it down with a note: the creator sees the note as the reason
    admin = signed_in(browser, process.http_url, admin_key)
    admin.get_by_role("button", name="Queue").click()
    item = admin.get_by_role("article", name="Persona Vague Guide")
    item.get_by_label("Note for the creator").fill("Say more about who it is")
    item.get_by_role("button", name="Reject").click()
    expect(admin.get_by_test_id("queue-decisions")).to_contain_text("Vague Guide: rejected")
    expect(state).to_have_text("failed")
    expect(creator.get_by_test_id("deploy-reason")).to_have_text(
        "rejected by moderation: Say more about who it is"
    )
    expect(page.get_by_label("Persona", exact=True).locator("option[disabled]")).to_have_text(
        "Vague Guide (rejected)"
    )

    # the game server goes away: the page says so, and a deploy is refused with why
    game.portal.call(game.client.stop)
    server = page.get_by_label("Server", exact=True)
    expect(server.locator("option")).to_have_text([f"{SERVER} (offline)"])
    expect(page).to_contain_text(f"Server offline: {SERVER} is not linked now.")
    page.get_by_label("Persona", exact=True).select_option(
        label="Second Guide (pending moderation)"
    )
    page.get_by_role("button", name="Deploy").click()
    expect(state).to_have_text("failed")
    expect(creator.get_by_test_id("deploy-reason")).to_contain_text(
        f"server offline: no gmod server '{SERVER}' is linked to this daemon now"
    )
