"""The studio's marketplace in a real headless Chromium (Debian's ``chromium``, driven
by Playwright) against a real ``ae bridge serve``: a creator publishes (moderation
refuses a rude description, naming the field; the fixed one waits for review), an
admin approves it, searches with a filter, pages through results with "More results",
rates and installs the listing. Then the listing's detail: the creator publishes a
second version and the history shows both; a bundle (zip) is exported and imported
back into a library; reviews and reports (moderation refuses a rude review, naming
it); an admin deprecates a version, unlists the listing with a reason (search no longer
finds it) and relists it; a Character Card PNG becomes a persona listing, exported again
as a card (PNG and JSON), and the tab speaks German once the language is switched."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from encounters.marketplace import read_card
from tests.conftest import encounter_dict
from tests.sdk.marketplace.helpers import meta
from tests.sdk.marketplace.test_cards import V3_CARD, png_with
from tests.support.daemon_process import DaemonProcess


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
    return browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


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
    expect(listings.first).to_contain_text(re.compile(r"\b1 download(?!s)"))  # one: singular

    # the detail: one version so far
    page.get_by_role("button", name="Details for Bandits at the Bridge").click()
    detail = page.get_by_role("region", name="Listing: Bandits at the Bridge")
    rows = detail.get_by_role("table", name="Version history").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("1.0.0")
    expect(rows.first).to_contain_text("published")

    # the creator publishes a second version, exports a bundle and imports it back,
    # and reports the admin's review
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, creator)
    page.get_by_role("button", name="Details for Bandits at the Bridge").click()
    new_version = detail.get_by_role("form", name="Publish a new version")
    new_version.get_by_label("Version", exact=True).fill("1.1.0")
    new_version.get_by_label("Changelog").fill("A second bridge.")
    new_version.get_by_role("button", name="Publish version").click()
    expect(page.get_by_role("status")).to_contain_text("Published version 1.1.0: pending")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("1.1.0")
    expect(rows.first).to_contain_text("pending")
    expect(rows.first.locator("code")).to_have_attribute(
        "title", re.compile("^sha256:[0-9a-f]{64}$")
    )

    detail.get_by_label("Reason for the report").fill("This review is copied spam.")
    detail.get_by_role("button", name=re.compile("^Report the review by ")).click()
    expect(page.get_by_role("status")).to_contain_text("Reported the review by ")

    with httpx.Client(base_url=process.http_url,
                      headers={"Authorization": f"Bearer {creator}"}) as http:  # fmt: skip
        assert http.get("/encounters/enc_patrol_9").status_code == 404
        page.get_by_role("button", name="Details for Night Patrol 9").click()
        patrol = page.get_by_role("region", name="Listing: Night Patrol 9")
        with page.expect_download() as download:
            patrol.get_by_role("button", name="Export bundle (zip)").click()
        bundle = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename.endswith("-1.0.0.zip")
        assert "manifest.json" in zipfile.ZipFile(io.BytesIO(bundle)).namelist()
        page.get_by_label("Import a bundle (zip)").set_input_files(
            files=FilePayload(name="patrol.zip", mimeType="application/zip", buffer=bundle)
        )
        expect(page.get_by_role("status")).to_contain_text("Imported encounter:enc_patrol_9")
        assert http.get("/encounters/enc_patrol_9").status_code == 200

    # the admin approves it, reviews (moderated), reports, deprecates, unlists, relists
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, admin)
    page.get_by_role("button", name="Approve Bandits at the Bridge").click()
    expect(page.get_by_role("status")).to_contain_text("Approved Bandits at the Bridge 1.1.0")
    page.get_by_role("button", name="Details for Bandits at the Bridge").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("published")
    expect(rows.nth(1)).to_contain_text("published")

    review = detail.get_by_role("form", name="Write a review")
    review.get_by_label("Stars").select_option("5")
    review.get_by_role("textbox").fill("What a fucking waste of time")
    review.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("alert")).to_contain_text("refused by moderation")
    review.get_by_role("textbox").fill("A fine fight on a narrow bridge.")
    review.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("status")).to_contain_text("Reviewed Bandits at the Bridge: 5★")
    reviews = detail.get_by_role("list", name="Reviews").get_by_role("listitem")
    expect(reviews).to_have_count(1)
    expect(reviews.first).to_contain_text("A fine fight on a narrow bridge.")

    detail.get_by_label("Reason for the report").fill("Looks like it was copied.")
    detail.get_by_role("button", name="Report this listing").click()
    expect(page.get_by_role("status")).to_contain_text("Reported Bandits at the Bridge")

    detail.get_by_label("Deprecation note").fill("Use 1.1.0")
    detail.get_by_role("button", name="Deprecate 1.0.0").click()
    expect(page.get_by_role("status")).to_contain_text("Deprecated 1.0.0")
    expect(rows.nth(1)).to_contain_text("deprecated: Use 1.1.0")
    expect(rows.nth(0)).not_to_contain_text("deprecated")

    page.get_by_label("World").select_option("minecraft")  # only the bandits are there
    page.get_by_role("button", name="Search", exact=True).click()
    expect(listings).to_have_count(1)
    detail.get_by_label("Reason for unlisting").fill("copied from another server")
    detail.get_by_role("button", name="Unlist").click()
    expect(page.get_by_role("status")).to_contain_text("Unlisted Bandits at the Bridge")
    expect(listings).to_have_count(0)
    expect(detail).to_contain_text("Unlisted: copied from another server")
    detail.get_by_role("button", name="Relist").click()
    expect(page.get_by_role("status")).to_contain_text("Relisted Bandits at the Bridge")
    expect(listings).to_have_count(1)

    # a Character Card PNG read into the publish form becomes a persona listing...
    png = png_with([(b"ccv3", base64.b64encode(json.dumps(V3_CARD).encode()))])
    form.get_by_label("Import a Character Card (JSON or PNG)").set_input_files(
        files=FilePayload(name="marta.png", mimeType="image/png", buffer=png)
    )
    expect(form.get_by_label("Title")).to_have_value("Marta")
    expect(form.get_by_label("Kind")).to_have_value("persona")
    form.get_by_role("button", name="Publish listing").click()
    expect(page.get_by_role("status")).to_contain_text("@1.0.0: published")
    # ...which exports again as a Character Card, PNG and JSON
    page.get_by_label("World").select_option("")
    page.get_by_role("searchbox").fill("Marta")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("button", name="Details for Marta").click()
    marta = page.get_by_role("region", name="Listing: Marta")
    with page.expect_download() as download:
        marta.get_by_role("button", name="Export Character Card (PNG)").click()
    card = read_card(Path(download.value.path()).read_bytes())
    assert card.persona.name == "Marta"
    assert card.memory.first_message.startswith("Fare's two coins")
    with page.expect_download() as download:
        marta.get_by_role("button", name="Export Character Card (JSON)").click()
    assert json.loads(Path(download.value.path()).read_text())["spec"] == "chara_card_v3"

    # the tab and the detail speak the studio's language
    page.get_by_label("Language").select_option("de")
    expect(page.get_by_role("heading", name="Marktplatz")).to_be_visible()
    expect(page.get_by_role("button", name="Suchen", exact=True)).to_be_visible()
    eintrag = page.get_by_role("region", name="Eintrag: Marta")
    expect(eintrag.get_by_role("table", name="Versionsverlauf")).to_be_visible()
    expect(eintrag.get_by_role("button", name="Character Card exportieren (PNG)")).to_be_visible()
