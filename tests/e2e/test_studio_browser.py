"""The studio in a real headless Chromium (Debian's ``chromium``, driven by Playwright):
a content creator signs in, builds an encounter on the canvas by dragging nodes, fixes
the validation error the server reports, edits the JSON, preview-plays it to completion,
publishes it; ``ae`` finds it and a game plays it; an admin sees that session on the
dashboard's charts over two time ranges. Edges (order, prerequisite, dialogue answer)
are drawn with the mouse and deleted with the keyboard, and a draft is deleted; a
template opens with its parameters from the keyboard. Screenshots of the editor and the
dashboard go to docs/screenshots/.

The daemon is a real ``ae bridge serve`` on free loopback ports, stopped by pid; the
browser talks only to it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, Request, expect

from tests.support.daemon_process import DaemonProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    process = DaemonProcess(tmp_path / "data")
    admin, creator, _ = anyio.run(process.keys)
    anyio.run(process.start)
    try:
        yield process, admin, creator
    finally:
        process.stop()


@pytest.fixture
def page(browser: Browser) -> Page:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    return context.new_page()


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key (creator or admin)").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_creator_builds_previews_and_publishes_then_admin_sees_it_played(
    daemon: tuple[DaemonProcess, str, str], page: Page
) -> None:
    process, admin, creator = daemon
    elsewhere: list[str] = []  # the studio works offline: everything from the daemon

    def record(request: Request) -> None:
        if not request.url.startswith(process.http_url):
            elsewhere.append(request.url)

    page.on("request", record)
    page.goto(f"{process.http_url}/studio/")

    # a wrong key is refused with a clear message, and nothing is kept
    sign_in_button = page.get_by_role("button", name="Sign in")
    page.get_by_label("API key (creator or admin)").fill("not-a-key")
    sign_in_button.click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    sign_in(page, creator)
    assert creator not in page.url
    expect(page.get_by_text("Signed in (creator)")).to_be_visible()
    expect(page.get_by_role("button", name="Dashboard")).to_have_count(0)

    # build on the canvas by dragging nodes from the palette
    canvas = page.get_by_test_id("canvas")
    page.get_by_test_id("palette-objective").drag_to(canvas, target_position={"x": 300, "y": 250})
    page.get_by_test_id("palette-npc").drag_to(canvas, target_position={"x": 600, "y": 250})
    page.get_by_test_id("palette-line").drag_to(canvas, target_position={"x": 650, "y": 400})
    page.get_by_test_id("palette-reward").drag_to(canvas, target_position={"x": 300, "y": 450})
    # a branching conversation (NPCDialogueTree): a start, and a branch answered from it
    page.get_by_test_id("palette-branch").drag_to(canvas, target_position={"x": 700, "y": 550})
    page.get_by_test_id("palette-branch").drag_to(canvas, target_position={"x": 750, "y": 650})
    # a choice the encounter offers, with its options
    page.get_by_test_id("palette-choice").drag_to(canvas, target_position={"x": 450, "y": 600})
    page.get_by_role("textbox", name="Question").fill("Keep the lantern?")
    page.get_by_role("textbox", name="Option 2").fill("Give it back")
    expect(page.locator(".react-flow__node")).to_have_count(8)  # encounter + the seven
    expect(page.get_by_role("group", name="Edge from tree:0:0 to tree:0:1")).to_contain_text(
        "Tell me more."
    )

    # the server's validator names the empty description; clicking it opens the field
    error = page.get_by_role("button", name="objectives[0].description: must be at least 1")
    expect(error).to_be_visible()
    error.click()
    description = page.get_by_role("textbox", name="Description", exact=True)
    expect(description).to_be_focused()
    description.fill("Find the lost lantern")
    expect(page.get_by_test_id("valid")).to_be_visible()
    expect(page.locator(".react-flow__node", has_text="Find the lost lantern")).to_be_visible()

    # the JSON view shows the same encounter; an edit there (a paste) shows on the canvas
    expect(page.get_by_text("Draft saved")).to_be_visible()  # autosaved
    auth = {"Authorization": f"Bearer {creator}"}
    drafts = httpx.get(f"{process.http_url}/editor/drafts", headers=auth).json()
    assert [d["encounter"]["objectives"][0]["description"] for d in drafts] == [
        "Find the lost lantern"
    ]
    page.get_by_role("tab", name="JSON").click()
    json_view = page.get_by_test_id("json-view")
    expect(json_view).to_contain_text("Find the lost lantern")
    json_view.locator(".view-lines").click()
    page.keyboard.press("Control+A")
    edited = {**drafts[0]["encounter"], "title": "The Lantern Hunt"}
    page.evaluate("text => navigator.clipboard.writeText(text)", json.dumps(edited, indent=2))
    page.keyboard.press("Control+V")
    expect(page.locator(".react-flow__node", has_text="The Lantern Hunt")).to_be_visible()

    # undo puts the old title back, redo the new one
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".react-flow__node", has_text="Untitled encounter")).to_be_visible()
    page.get_by_role("button", name="Redo").click()
    expect(page.locator(".react-flow__node", has_text="The Lantern Hunt")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "studio-editor.png"))

    # preview-play it to completion in the scratch engine
    page.get_by_role("tab", name="Preview").click()
    page.get_by_role("button", name="Start preview").click()
    expect(page.get_by_test_id("preview-status")).to_have_text("active")
    talk = page.get_by_role("group", name="Conversation with New character")
    expect(talk).to_contain_text("Well met, traveller. What brings you here?")
    talk.get_by_role("button", name="Answer: Tell me more.").click()
    expect(talk).to_contain_text("There is more to it.")
    talk.get_by_role("button", name="Answer: Goodbye.").click()
    expect(talk.get_by_role("button", name="Talk to New character again")).to_be_visible()
    expect(page.get_by_label("Preview log")).to_contain_text(
        "New character: Well met, traveller. What brings you here? / you: Tell me more."
    )
    choice = page.get_by_role("group", name="Choice: Keep the lantern?")
    choice.get_by_role("button", name="Choose: Give it back").click()
    log = page.get_by_label("Preview log")
    expect(log).to_contain_text("chose 'Give it back': Keep the lantern?")
    page.get_by_role("button", name="Complete “Find the lost lantern”").click()
    page.get_by_role("button", name="Finish: complete the encounter").click()
    expect(page.get_by_test_id("preview-status")).to_have_text("completed")

    # publish, then find it through the API
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_test_id("publish-status")).to_contain_text("Published enc_")
    published = page.get_by_test_id("publish-status").inner_text()
    encounter_id = re.search(r"enc_\w+", published)
    assert encounter_id is not None
    found = httpx.get(f"{process.http_url}/encounters/{encounter_id.group()}", headers=auth)
    assert found.status_code == 200
    spec = found.json()
    assert spec["title"] == "The Lantern Hunt"
    assert spec["objectives"][0]["description"] == "Find the lost lantern"
    assert spec["npcs"][0]["dialogue"] == ["Hello, traveller."]
    assert spec["schema_version"] == 3
    assert spec["choices"] == [
        {"id": "choice_1", "description": "Keep the lantern?", "options": ["Help", "Give it back"]}
    ]
    assert [
        (n["id"], [r["next"] for r in n["responses"]]) for n in spec["npcs"][0]["dialogue_tree"]
    ] == [
        ("npc_1_1", ["npc_1_2"]),
        ("npc_1_2", []),
    ]

    # `ae` finds it in the daemon's store
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "ae"), "--data-dir", str(process.data),
         "encounters", "list", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [(e["id"], e["title"]) for e in json.loads(listed.stdout)] == [
        (encounter_id.group(), "The Lantern Hunt")
    ]

    # a game plays it for real with `ae test --url`
    spec_file = process.data / "lantern.json"
    spec_file.write_text(json.dumps(spec))
    played = subprocess.run(
        [str(Path(sys.executable).parent / "ae"), "test", "--url", process.http_url, "--json",
         "--player", "alice", str(spec_file)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "AE_KEY": creator},
    )  # fmt: skip
    assert played.returncode == 0, played.stdout + played.stderr

    # the admin's dashboard shows that session (and not the preview's)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key (creator or admin)")).to_be_visible()
    sign_in(page, admin)
    page.get_by_role("button", name="Dashboard").click()
    expect(page.get_by_test_id("kpi-sessions")).to_have_text("1")
    chart = page.get_by_role("img", name=re.compile(r"^Completions per day: .* 1"))
    expect(chart).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile("^Most played encounters: The Lantern Hunt 1"))
    ).to_be_visible()
    funnel = "^Objective funnel: The Lantern Hunt: obj_1 1$"
    expect(page.get_by_role("img", name=re.compile(funnel))).to_be_visible()
    retention = r"^Retention: D1 \d+%, D7 \d+%$"
    expect(page.get_by_role("img", name=re.compile(retention))).to_be_visible()
    moderation = r"^Moderation decisions: all \d+, blocked \d+, sanitized \d+$"
    expect(page.get_by_role("img", name=re.compile(moderation))).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "studio-dashboard.png"), full_page=True)
    # the last 24 hours span today and maybe yesterday: the session is in one of them
    page.get_by_label("Time range").select_option("Last 24 hours")
    one_day = r"^Completions per day: (\S+ 0, \S+ 1|\S+ 1, \S+ 0|\S+ 1)$"
    expect(page.get_by_role("img", name=re.compile(one_day))).to_be_visible()
    expect(page.get_by_test_id("kpi-sessions")).to_have_text("1")
    assert elsewhere == []


def test_start_from_a_template_with_the_keyboard(
    daemon: tuple[DaemonProcess, str, str], page: Page
) -> None:
    process, _, creator = daemon
    page.goto(f"{process.http_url}/studio/")
    sign_in(page, creator)
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name=re.compile("^Ambush Encounter")).click()
    form = page.get_by_role("form", name="Parameters of Ambush Encounter")
    form.get_by_label(re.compile("^enemy_type")).fill("wolves")
    form.get_by_label(re.compile("^enemy_count")).fill("4")
    form.get_by_role("button", name="Open in the editor").click()
    expect(page.locator(".react-flow__node", has_text="Defeat all 4 wolves")).to_be_visible()
    expect(page.get_by_test_id("valid")).to_be_visible()

    # a canvas node is selected from the keyboard: focus it, press Enter, its form opens
    page.locator('.react-flow__node[data-id="objective:0"]').focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("form", name="Objective")).to_be_visible()
    expect(page.get_by_role("textbox", name="Description", exact=True)).to_have_value(
        "Defeat all 4 wolves"
    )

    # a yes/no parameter is a choice between true and false
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name=re.compile("^Siege Defense")).click()
    form = page.get_by_role("form", name="Parameters of Siege Defense")
    form.get_by_label(re.compile("^stronghold")).fill("Fort Ember")
    form.get_by_label(re.compile("^waves")).fill("3")
    form.get_by_label(re.compile("^captain_optional")).select_option("false")
    form.get_by_role("button", name="Open in the editor").click()
    captain = page.locator(".react-flow__node", has_text="Defeat the war captain")
    expect(captain).to_be_visible()
    captain.click()
    expect(page.get_by_role("checkbox", name="Optional")).not_to_be_checked()

    # the palette works from the keyboard: focus an item, press Enter
    before = page.locator(".react-flow__node").count()
    page.get_by_test_id("palette-reward").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".react-flow__node")).to_have_count(before + 1)
    expect(page.get_by_role("form", name="Reward")).to_be_visible()


def handle(page: Page, node: str, kind: str, handle_id: str | None = None) -> Locator:
    """The ``kind`` ("source" or "target") connection handle of a canvas node."""
    found = page.locator(f'.react-flow__node[data-id="{node}"] .react-flow__handle.{kind}')
    return found.and_(page.locator(f'[data-handleid="{handle_id}"]')) if handle_id else found


def draw_edge(page: Page, source: Locator, target: Locator) -> None:
    """Press the mouse on ``source``, move it to ``target`` and let go once the canvas
    shows the target as the end of the new edge, as a person does."""
    start, end = source.bounding_box(), target.bounding_box()
    assert start is not None and end is not None
    x, y = end["x"] + end["width"] / 2, end["y"] + end["height"] / 2
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(x, y, steps=12)
    for nudge in range(50):  # the canvas measures nodes as they change: move until it sees
        if target.evaluate("handle => handle.classList.contains('valid')"):
            break
        page.mouse.move(x + nudge % 2, y)
    page.mouse.up()


def saved_draft(url: str, key: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The autosaved draft, once ``check`` holds for its encounter (autosave waits a
    second after the last change)."""
    seen: list[dict[str, Any]] = []
    for _ in range(300):
        drafts = httpx.get(f"{url}/editor/drafts", headers={"Authorization": f"Bearer {key}"})
        seen = drafts.json()
        if len(seen) == 1 and check(seen[0]["encounter"]):
            return seen[0]
        time.sleep(0.1)
    raise AssertionError(f"the draft never matched: {seen}")


def test_edges_are_drawn_with_the_mouse_and_deleted_with_the_keyboard_and_drafts_deleted(
    daemon: tuple[DaemonProcess, str, str], page: Page
) -> None:
    process, _, creator = daemon
    page.goto(f"{process.http_url}/studio/")
    sign_in(page, creator)
    canvas = page.get_by_test_id("canvas")
    description = page.get_by_role("textbox", name="Description", exact=True)
    page.get_by_test_id("palette-objective").drag_to(canvas, target_position={"x": 120, "y": 150})
    description.fill("Light the beacon")
    page.get_by_test_id("palette-objective").drag_to(canvas, target_position={"x": 120, "y": 600})
    description.fill("Open the gate")
    page.get_by_test_id("palette-npc").drag_to(canvas, target_position={"x": 600, "y": 90})
    page.get_by_test_id("palette-branch").drag_to(canvas, target_position={"x": 600, "y": 230})
    page.get_by_test_id("palette-branch").drag_to(canvas, target_position={"x": 640, "y": 520})
    expect(page.get_by_test_id("valid")).to_be_visible()
    note = page.get_by_test_id("canvas-note")

    # a prerequisite: from the first objective's "unlocks" handle to the second
    draw_edge(page, handle(page, "objective:0", "source", "unlocks"),
              handle(page, "objective:1", "target"))  # fmt: skip
    prerequisite = page.get_by_role("group", name="Prerequisite: obj_1 unlocks obj_2")
    expect(prerequisite).to_be_visible()
    expect(note).to_have_text("“Open the gate” now needs “Light the beacon” first")
    expect(page.get_by_role("checkbox", name="Light the beacon")).to_be_checked()
    draft = saved_draft(process.http_url, creator,
                        lambda e: e["objectives"][1].get("requires") == ["obj_1"])  # fmt: skip
    assert draft["encounter"]["objectives"][0].get("requires", []) == []

    # the engine keeps to it: in the preview the gate stays locked until the beacon is lit
    page.get_by_role("tab", name="Preview").click()
    page.get_by_role("button", name="Start preview").click()
    expect(page.get_by_text("locked: needs obj_1 first")).to_be_visible()
    expect(page.get_by_role("button", name="Complete “Open the gate”")).to_have_count(0)
    page.get_by_role("button", name="Complete “Light the beacon”").click()
    expect(page.get_by_role("button", name="Complete “Open the gate”")).to_be_visible()

    # an order edge: from the encounter to the second objective makes it the first;
    # the nodes stay where they were put
    beacon = page.locator(".react-flow__node", has_text="Light the beacon")
    where = beacon.evaluate("node => node.style.transform")  # its place on the canvas
    draw_edge(page, handle(page, "encounter", "source"), handle(page, "objective:1", "target"))
    expect(page.locator('.react-flow__node[data-id="objective:0"]')).to_have_text(
        "1. Open the gate"
    )
    expect(note).to_have_text("“Open the gate” comes first")
    assert beacon.evaluate("node => node.style.transform") == where
    # undo and redo put the order back and forth, the nodes staying with their objectives
    page.get_by_role("button", name="Undo").click()
    expect(page.locator('.react-flow__node[data-id="objective:0"]')).to_have_text(
        "1. Light the beacon"
    )
    assert beacon.evaluate("node => node.style.transform") == where
    page.get_by_role("button", name="Redo").click()
    expect(page.locator('.react-flow__node[data-id="objective:0"]')).to_have_text(
        "1. Open the gate"
    )
    assert beacon.evaluate("node => node.style.transform") == where
    saved_draft(process.http_url, creator,
                lambda e: [o["id"] for o in e["objectives"]] == ["obj_2", "obj_1"])  # fmt: skip

    # a dialogue answer: from the second branch back to the first
    draw_edge(page, handle(page, "tree:0:1", "source"), handle(page, "tree:0:0", "target"))
    back = page.get_by_role("group", name="Edge from tree:0:1 to tree:0:0")
    expect(back).to_contain_text("Go on.")
    draft = saved_draft(
        process.http_url, creator,
        lambda e: e["npcs"][0]["dialogue_tree"][1]["responses"]
        == [{"text": "Go on.", "next": "npc_1_1"}],
    )  # fmt: skip

    # an edge that means nothing is refused and says which ones do
    draw_edge(page, handle(page, "npc:0", "source"), handle(page, "objective:0", "target"))
    expect(note).to_contain_text("Edges join objectives")

    # delete edges with the keyboard: focus, Enter selects, Delete removes
    prerequisite.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Delete")
    expect(prerequisite).to_have_count(0)
    expect(note).to_have_text("“Open the gate” no longer needs obj_1")
    back.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Delete")
    expect(back).to_have_count(0)
    draft = saved_draft(
        process.http_url, creator,
        lambda e: e["objectives"][0].get("requires") == []
        and e["npcs"][0]["dialogue_tree"][1]["responses"] == [],
    )  # fmt: skip
    encounter_id = draft["id"]

    # and undo brings the last one back
    page.keyboard.press("Control+z")
    expect(back).to_be_visible()

    # delete the draft: a cancelled confirmation keeps it, an accepted one deletes it
    answers, messages = ["dismiss", "accept"], []

    def answer(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss() if answers.pop(0) == "dismiss" else dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("button", name="Delete draft").click()
    expect(page.get_by_text(f"Draft {encounter_id} kept")).to_be_visible()
    saved_draft(process.http_url, creator, lambda e: e["id"] == encounter_id)
    page.get_by_role("button", name="Delete draft").click()
    expect(page.get_by_text(f"Draft {encounter_id} deleted")).to_be_visible()
    question = "Delete the draft “Untitled encounter”? This cannot be undone."
    assert messages == [question, question]
    auth = {"Authorization": f"Bearer {creator}"}
    assert httpx.get(f"{process.http_url}/editor/drafts", headers=auth).json() == []
    expect(page.get_by_role("button", name="Delete draft")).to_be_disabled()
