"""Debian's chromium for the browser tests (``apt-get install chromium``; .ci/run
installs it): they never download a Playwright browser build."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium(*args: str) -> Iterator[Browser]:
    """Headless chromium started with ``args``, closed on the way out."""
    assert shutil.which(CHROMIUM), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(args))
        try:
            yield launched
        finally:
            launched.close()
