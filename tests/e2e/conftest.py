from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium


@pytest.fixture
def anyio_backend() -> str:
    """The daemon runs on asyncio (the websockets library needs it)."""
    return "asyncio"


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian chromium, closed after the test."""
    with chromium() as launched:
        yield launched
