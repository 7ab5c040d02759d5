"""Real services tests use when the machine has them: PostgreSQL at 127.0.0.1:5432
(trust auth, database ``test``; a fresh schema per test) and Redis at 127.0.0.1:6379
(a fresh key prefix per test, its keys deleted afterwards).

A test that needs a service it cannot reach is skipped with the reason, so the
embedded default still passes on a laptop without PostgreSQL; under CI (``CI=true``)
the same situation fails the test instead, since CI provides the services.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from encounters.settings import Settings, load_settings
from encounters.storage import MemoryStore, SQLiteStore, Store
from encounters.storage.postgres import PostgresStore

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def missing(service: str, why: str) -> None:
    """Skip the test (or fail it under ``CI=true``) because ``service`` is missing."""
    message = f"{service} is not reachable ({why}); start it to run this test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema in database ``test``, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    try:
        asyncio.run(_admin(f"CREATE SCHEMA {name}"))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        missing("PostgreSQL at 127.0.0.1:5432 (database 'test', trust auth)", str(exc))
    try:
        yield name
    finally:
        asyncio.run(_admin(f"DROP SCHEMA {name} CASCADE"))


@contextmanager
def store_backend(kind: str, folder: Path) -> Iterator[Callable[[], Store]]:
    """A factory of store objects on one database of backend ``kind`` (``sqlite``,
    ``memory`` or ``postgresql``): each call gives a new, closed store on the same
    data, as a restarted process would open it (``memory`` gives one shared store)."""
    if kind == "sqlite":
        yield lambda: SQLiteStore(folder / "encounters.db")
    elif kind == "memory":
        shared = MemoryStore()
        yield lambda: shared
    elif kind == "postgresql":
        with postgres_schema() as schema:
            yield lambda: PostgresStore(POSTGRES_URL, schema=schema)
    else:
        raise ValueError(kind)


@contextmanager
def sql_settings(kind: str, folder: Path) -> Iterator[Settings]:
    """Engine settings of a store several engines can share: ``sqlite`` (a file in
    ``folder``) or ``postgresql`` (a fresh schema, dropped afterwards)."""
    if kind == "sqlite":
        yield load_settings(data_dir=folder)
    elif kind == "postgresql":
        with postgres_schema() as schema:
            yield load_settings(data_dir=folder, store=f"{POSTGRES_URL}?schema={schema}")
    else:
        raise ValueError(kind)


REDIS_URL = "redis://127.0.0.1:6379/0"


async def _redis_clean(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix (``AE_REDIS_PREFIX``) on the Redis at 127.0.0.1:6379, its
    keys deleted afterwards; the test is skipped (failed under ``CI=true``) when Redis
    is not there."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_redis_clean(prefix))  # also: is the server there?
    except (OSError, TimeoutError, ImportError) as exc:
        missing("Redis at 127.0.0.1:6379", str(exc) or type(exc).__name__)
    except Exception as exc:  # redis-py's ConnectionError is no OSError
        missing("Redis at 127.0.0.1:6379", f"{type(exc).__name__}: {exc}")
    try:
        yield prefix
    finally:
        asyncio.run(_redis_clean(prefix))
