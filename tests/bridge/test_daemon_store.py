"""Which stores the daemon runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from encounters.errors import ConfigError
from encounters.settings import load_settings
from encounters_bridge.daemon import Daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_daemon_refuses_a_postgresql_store_naming_the_fix(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, store="postgresql://ae:pw@127.0.0.1:5432/ae")
    with pytest.raises(ConfigError) as info:
        async with Daemon.open(settings):
            pass
    message = str(info.value)
    assert "unset AE_STORE" in message and "pw" not in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # nothing was created or started
