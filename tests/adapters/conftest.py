from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """The daemon runs on asyncio (the websockets library needs it)."""
    return "asyncio"
