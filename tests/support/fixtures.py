"""Fixtures every test package shares (loaded by ``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from encounters.moderation import TextFilter

from .control import Game, Threaded, connected, make_keys, run_daemon
from .services import postgres_schema, redis_prefix


@pytest.fixture(scope="session")
def text_filter() -> TextFilter:
    """The word lists, built once (a moderator is built per daemon on top of them)."""
    return TextFilter.default()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A private schema on the test PostgreSQL, dropped afterwards (see
    :func:`.services.postgres_schema`: skipped, or failed under CI, without one)."""
    with postgres_schema() as name:
        yield name


@pytest.fixture
def redis_key_prefix() -> Iterator[str]:
    """A private key prefix on the test Redis, its keys deleted afterwards (see
    :func:`.services.redis_prefix`)."""
    with redis_prefix() as name:
        yield name


@pytest.fixture
def threaded(tmp_path: Path, text_filter: TextFilter) -> Iterator[Threaded]:
    with start_blocking_portal("asyncio") as portal, contextlib.ExitStack() as stack:
        dm = stack.enter_context(
            portal.wrap_async_context_manager(run_daemon(tmp_path / "d.db", text_filter))
        )
        keys = portal.call(make_keys, dm.edge.store)
        game = portal.call(Game.create, dm.ws_url, keys.world, "json")
        stack.enter_context(portal.wrap_async_context_manager(connected(game)))
        yield Threaded(portal, dm, keys, game)
