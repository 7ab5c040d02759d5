"""The engine's services that are built on first use, apart from the engine's steps.

Building them eagerly would cost every engine start what few games need: loading the
moderation word lists takes about half a second, NPC memory opens a second SQLite file
and webhooks need the master key (which creates ``memory.key`` in the data folder). So
:class:`LazyServices` holds the recipe and builds each one the first time it is asked
for. Asking whether one is in use never builds it. One exception: on a PostgreSQL store
NPC memory is opened with the engine when a key is known, so a node with another key
than the shared memories' fails at start (:meth:`LazyServices.open_shared_memory`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from .marketplace import Marketplace, SQLiteMarketStore
from .memory import NPCMemoryManager
from .memory.crypto import KEY_FILENAME, MemoryCipher, load_or_create_key
from .memory.manager import MEMORY_FILENAME
from .moderation import AuditLogger, ContentModerator, provider_classifiers
from .moderation.redis_ratelimit import RedisRateLimiter, shared_limiter
from .settings import Settings
from .storage import Store
from .webhooks import RetryPolicy, WebhookManager

if TYPE_CHECKING:
    from .storage.postgres import PostgresStore


class LazyServices:
    """Moderator, NPC memory, webhooks and the master key of one engine, each built on
    first use from the engine's settings and store. Not thread-safe: an engine is used
    from one event loop."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        moderator: ContentModerator | None = None,
        memory: NPCMemoryManager | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._moderator = moderator
        self._owns_moderator = moderator is None  #: built here: closed here
        self._memory = memory
        self._webhooks: WebhookManager | None = None
        self._market: Marketplace | None = None
        self._key: bytes | None = None

    @property
    def moderator(self) -> ContentModerator:
        """The content moderator, its decisions audited in the store; its rate limits
        (a persona's actions per minute) are in Redis when ``AE_REDIS`` is set, so
        several daemon nodes share them."""
        if self._moderator is None:
            self._moderator = ContentModerator(
                settings=self._settings.moderation,
                audit=AuditLogger(self._store),
                classifiers=provider_classifiers(self._settings.moderation, self._settings.llm),
                limiter=shared_limiter(self._settings),
            )
        return self._moderator

    async def close_moderator(self) -> None:
        """Close the moderator's provider classifiers if this built it (one given to
        the engine is its owner's to close)."""
        if self._owns_moderator and self._moderator is not None:
            limiter = self._moderator.limiter
            try:
                await self._moderator.aclose()
            finally:
                if isinstance(limiter, RedisRateLimiter):
                    await limiter.aclose()

    @property
    def memory(self) -> NPCMemoryManager:
        """NPC memory, encrypted: in the PostgreSQL store's database when the store is
        PostgreSQL (every node using it sees the same memories), else in ``memory.db``
        in the data folder (in memory with ``AE_STORE=memory``); the key is
        ``AE_MEMORY_KEY`` or the ``memory.key`` file."""
        if self._memory is None:
            shared = self._postgres()
            if shared is not None:
                from .memory.postgres import PostgresMemory

                cipher = MemoryCipher(self.master_key())
                self._memory = NPCMemoryManager(PostgresMemory(shared, cipher))
            else:
                key = self._settings.memory_key
                folder = None if self._settings.store == "memory" else self._settings.data_dir
                secret = key.get_secret_value() if key else None
                self._memory = NPCMemoryManager.open(folder, secret)
        return self._memory

    def _postgres(self) -> PostgresStore | None:
        """The store when it is PostgreSQL (its module loaded only then)."""
        if not self._store.shared_by_nodes:
            return None
        from .storage.postgres import PostgresStore

        return self._store if isinstance(self._store, PostgresStore) else None

    def _key_known(self) -> bool:
        return (
            self._settings.memory_key is not None
            or (self._settings.data_dir / KEY_FILENAME).exists()
        )

    def memory_in_use(self) -> bool:
        """Has any NPC memory been kept (so a prompt may need it)? Asking does not
        create the memory file or the key file. On a PostgreSQL store: when memory was
        opened here or a key is known (the tables are then read, empty or not)."""
        if self._memory is not None:
            return True
        if self._postgres() is not None:
            return self._key_known()
        return (
            self._settings.store != "memory"
            and (self._settings.data_dir / MEMORY_FILENAME).exists()
        )

    async def open_shared_memory(self) -> None:
        """On a PostgreSQL store with a known key, open NPC memory now (its tables are
        migrated and the key checked), so a node with another key than the one the
        shared memories were written with fails at start, with a message naming
        ``AE_MEMORY_KEY``. Otherwise nothing is opened (and no key file created)."""
        if self._postgres() is not None and self._key_known():
            await self.memory.ready()

    def close_memory(self) -> None:
        """Close NPC memory if it was opened; it reopens on next use."""
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def master_key(self) -> bytes:
        """The key that seals NPC memories and webhook secrets: ``AE_MEMORY_KEY``, or
        the ``memory.key`` file in the data folder (created on first use); with
        ``AE_STORE=memory`` and no key given, a random one for this engine."""
        if self._key is None:
            given = self._settings.memory_key
            if self._settings.store == "memory" and given is None:
                self._key = secrets.token_bytes(32)
            else:
                self._key = load_or_create_key(
                    self._settings.data_dir, given.get_secret_value() if given else None
                )
        return self._key

    @property
    def webhooks(self) -> WebhookManager:
        """The webhook manager, with the retry policy from the settings."""
        if self._webhooks is None:
            retry = self._settings.webhook_retry
            policy = RetryPolicy(
                base=retry.base,
                max_delay=max(retry.max_delay, retry.base),
                max_attempts=retry.max_attempts,
            )
            self._webhooks = WebhookManager(
                self._store,
                key=self.master_key(),
                allow_networks=self._settings.webhook_allow_networks,
                policy=policy,
            )
        return self._webhooks

    @property
    def market(self) -> Marketplace:
        """The marketplace, its tables in the store's SQLite file (``:memory:`` with
        ``AE_STORE=memory``, ``market.db`` in the data folder for other stores)."""
        if self._market is None:
            path = getattr(self._store, "path", None)
            if self._settings.store == "memory" and path is None:
                where: str | Path = ":memory:"
            else:
                where = path if isinstance(path, Path) else self._settings.data_dir / "market.db"
            caps = {k: v for k, v in self._settings.market.model_dump().items() if v is not None}
            store = SQLiteMarketStore(where, **caps)
            self._market = Marketplace(store, self.moderator, self._store)
        return self._market

    async def close_market(self) -> None:
        """Close the marketplace's store if it was opened; it reopens on next use."""
        if self._market is not None:
            await self._market.store.close()
            self._market = None

    @property
    def webhooks_in_use(self) -> WebhookManager | None:
        """The webhook manager if it was built, else None (never builds it)."""
        return self._webhooks

    async def resume_webhooks(self) -> None:
        """Build the webhook manager when webhooks were registered in an earlier run,
        so they get this run's events. Only a store on disk with a known key can hold
        such webhooks; otherwise nothing is built (no key file is created)."""
        if self._settings.store == "memory" or not self._key_known() or self._webhooks is not None:
            return
        if not await self.webhooks.list():
            self._webhooks = None
