"""The studio's marketplace in a real headless Chromium (Debian's ``chromium``, driven
by Playwright) against a real ``ae bridge serve``: a creator publishes (moderation
refuses a rude description, naming the field; the fixed one waits for review), an
admin approves it, searches with a filter, pages through results with "More results",
rates and installs the listing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import encounter_dict
from tests.sdk.marketplace.helpers import meta
from tests.support.daemon_process import DaemonProcess

CHROMIUM = "/usr/bin/chromium"


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
def page() -> Iterator[Page]:
    assert shutil.which(CHROMIUM), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        finally:
            browser.close()


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key (creator or admin)").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Marketplace").click()
    expect(page.get_by_role("heading", name="Marketplace")).to_be_visible()


def test_publish_review_search_page_rate_and_install_in_the_studio(
    daemon: tuple[DaemonProcess, str, str], page: Page
) -> None:
    process, admin, creator = daemon
    page.goto(f"{process.http_url}/studio/")
    sign_in(page, creator)

    form = page.get_by_role("form", name="Publish a listing")
    form.get_by_label("Title").fill("Bandits at the Bridge")
    form.get_by_role("textbox", name="Description", exact=True).fill(
        "Drive off the fucking bandits"
    )
    form.get_by_label("Tags (comma separated)").fill("bandits, bridge")
    form.get_by_label("any").uncheck()
    form.get_by_label("minecraft").check()
    form.get_by_label("Content (JSON)").fill(json.dumps(encounter_dict()))
    form.get_by_role("button", name="Publish listing").click()
    expect(form.get_by_role("alert")).to_contain_text("meta.description: refused by moderation")
    form.get_by_role("textbox", name="Description", exact=True).fill(
        "Drive the bandits off the old toll bridge."
    )
    form.get_by_role("button", name="Publish listing").click()
    expect(page.get_by_role("status")).to_contain_text("@1.0.0: pending")
    expect(page.get_by_text("No listings found.")).to_be_visible()  # waiting for review

    # eleven more listings, published by an admin straight away, for a second page
    with httpx.Client(base_url=process.http_url,
                      headers={"Authorization": f"Bearer {admin}"}) as http:  # fmt: skip
        for n in range(11):
            body = {"kind": "encounter", "meta": meta(title=f"Night Patrol {n}", worlds=["web"]),
                    "content": encounter_dict(id=f"enc_patrol_{n}")}  # fmt: skip
            assert http.post("/market/listings", json=body).status_code == 201

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, admin)
    page.get_by_role("button", name="Approve Bandits at the Bridge").click()
    expect(page.get_by_role("status")).to_contain_text("Approved Bandits at the Bridge 1.0.0")

    listings = page.get_by_role("list", name="Listings").get_by_role("listitem")
    page.get_by_label("World").select_option("minecraft")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(listings).to_have_count(1)
    expect(listings.first).to_contain_text("Bandits at the Bridge")

    page.get_by_label("World").select_option("")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(listings).to_have_count(10)
    page.get_by_role("button", name="More results").click()
    expect(listings).to_have_count(12)
    expect(page.get_by_role("button", name="More results")).to_have_count(0)
    titles = [t.strip() for t in listings.locator("strong").all_inner_texts()]
    assert len(set(titles)) == 12 and titles[0] == "Bandits at the Bridge"  # newest listed

    bandits = page.get_by_role("listitem", name="Bandits at the Bridge")
    bandits.get_by_label("Rating for Bandits at the Bridge").select_option("4")
    bandits.get_by_role("button", name="Rate Bandits at the Bridge").click()
    expect(page.get_by_role("status")).to_contain_text("Rated Bandits at the Bridge: 4★")
    bandits.get_by_role("button", name="Install Bandits at the Bridge").click()
    expect(page.get_by_role("status")).to_contain_text("Installed encounter:enc_test")

    page.get_by_label("Sort").select_option("top")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(listings.first).to_contain_text("4.0★ (1)")
    expect(listings.first).to_contain_text("1 downloads")
