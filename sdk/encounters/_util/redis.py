"""The one way the SDK and the daemon reach Redis (``AE_REDIS``), for several nodes.

Every key and channel name goes through :func:`redis_key`, so deployments (and test
runs) that share one Redis server never see each other's data: the prefix is
``AE_REDIS_PREFIX`` (default ``ae``). Limits: one client per process is expected; the
client is the ``redis.asyncio`` one (the ``redis`` extra), with a connect timeout so a
missing server is an error in seconds, not a hang.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .optional import require

if TYPE_CHECKING:
    from ..settings import Settings

CONNECT_TIMEOUT = 5.0


def redis_client(settings: Settings) -> Any:
    """A ``redis.asyncio.Redis`` client for ``settings.redis`` (bytes replies).

    :class:`ConfigError` when ``AE_REDIS`` is unset, :class:`MissingExtra` when the
    ``redis`` extra is not installed. The client connects lazily; call ``ping()`` to
    find out at start-up that the server is there."""
    if not settings.redis:
        raise ConfigError("AE_REDIS is not set: give a Redis URL such as redis://127.0.0.1:6379/0")
    aioredis = require("redis.asyncio", "redis", "Several daemon nodes (AE_REDIS)")
    return aioredis.Redis.from_url(
        settings.redis,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
    )


def redis_key(settings: Settings, *parts: str) -> str:
    """``<prefix>:<part>:<part>...``: the name of a key or channel of this deployment."""
    return ":".join((settings.redis_prefix, *parts))
