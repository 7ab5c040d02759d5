"""The daemon's pages under their Content-Security-Policy (``headers.py``) in real
headless Chromium (Debian's ``chromium``) against a real ``ae bridge serve``.

Text another creator or a player writes is shown as text: a persona named like markup
is listed by its name in the admin's moderation queue and runs nothing. Should a page
ever put such text into HTML by mistake, the policy is the second wall: markup injected
into the studio or the web world (an ``onerror`` handler, a ``javascript:`` link) runs no
script and is reported as a policy violation. Swagger UI still works under its policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.support.control import bearer, persona_body
from tests.support.daemon_process import DaemonProcess

SERVER = "arena"
MARKUP = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
#: every policy violation and every dialog the page opens, kept where the test reads them
WATCH = """
window.violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.violations.push(e.effectiveDirective));
"""

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    process = DaemonProcess(tmp_path / "data")
    admin, creator, _ = anyio.run(process.keys, "web", [SERVER])
    anyio.run(process.start)
    try:
        yield process, admin, creator
    finally:
        process.stop()


def watched(browser: Browser, dialogs: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.add_init_script(WATCH)

    def opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)
    return page


def test_markup_put_into_a_page_runs_no_script(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, _, _ = daemon
    dialogs: list[str] = []
    for path in ("/studio/", f"/play/{SERVER}"):
        page = watched(browser, dialogs)
        page.goto(process.http_url + path)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()  # the page runs
        assert page.evaluate("window.violations") == [], path
        # what a page that wrote untrusted text as HTML would do
        page.evaluate(f"document.body.insertAdjacentHTML('beforeend', {MARKUP!r})")
        page.evaluate("""() => {
            const a = document.createElement('a');
            a.href = 'javascript:window.pwned=3;alert(document.domain)';
            a.textContent = 'open';
            document.body.append(a);
            a.click();
        }""")
        page.wait_for_function("window.violations.length >= 2")
        assert page.evaluate("window.pwned") is None, path
        assert set(page.evaluate("window.violations")) <= {"script-src-attr", "script-src-elem",
                                                           "script-src"}, path  # fmt: skip
    assert dialogs == []


def test_a_persona_named_like_markup_is_listed_by_its_name_and_the_studio_runs(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, admin, creator = daemon
    name = '<img src=x onerror="alert(1)">'
    r = httpx.post(f"{process.http_url}/personas/submit", headers=bearer(creator),
                   json=persona_body(name=name, description=f"{MARKUP} a guide"))  # fmt: skip
    assert r.status_code == 201, r.text
    dialogs: list[str] = []
    page = watched(browser, dialogs)
    page.goto(process.http_url + "/studio/")
    page.get_by_label("API key (creator or admin)").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Queue", exact=True).click()
    item = page.get_by_role("article")
    expect(item).to_contain_text(name)
    expect(item).to_contain_text(MARKUP)
    expect(item.locator("img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    # every page of the studio works under the policy: Monaco's workers and styles, React
    # Flow, the charts; nothing is refused
    page.get_by_role("button", name="Editor", exact=True).click()
    page.get_by_role("tab", name="JSON").click()
    expect(page.get_by_test_id("json-view").locator(".view-lines")).to_contain_text("objectives")
    for tab, heading in (("Templates", "Templates"), ("Marketplace", "Marketplace"),
                         ("Dashboard", "Dashboard")):  # fmt: skip
        page.get_by_role("button", name=tab, exact=True).click()
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    assert page.evaluate("window.violations") == [] and dialogs == []


def test_swagger_ui_works_under_its_policy(
    daemon: tuple[DaemonProcess, str, str], browser: Browser
) -> None:
    process, _, _ = daemon
    dialogs: list[str] = []
    page = watched(browser, dialogs)
    page.goto(process.http_url + "/docs")
    # the inline script (allowed by its hash) started Swagger UI, which read the
    # OpenAPI 3.1 document and drew the API's operations (not "Unable to render")
    expect(page.locator(".opblock-summary-path", has_text="/personas/submit").first).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    assert page.evaluate("window.violations") == [] and dialogs == []
