"""The daemon's records in memory, beside a :class:`~encounters.storage.MemoryStore`
(tests and throwaway runs). Like that store it keeps JSON text, so reads are fresh
copies, and no method yields to the event loop between its changes."""

from __future__ import annotations

from encounters.storage import MemoryStore

from . import key_queries
from .models import ApiKey, DeployToken, LinkRecord, WorldKey
from .protocols import BridgeStore, LinkBatch


class MemoryBridgeStore(BridgeStore):
    """The records of the daemon using ``store``."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._world_keys: dict[str, str] = {}
        self._api_keys: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._links: dict[str, str] = {}

    async def save_world_key(self, key: WorldKey) -> None:
        self._world_keys[key.id] = key.model_dump_json()

    async def get_world_key(self, key_id: str) -> WorldKey | None:
        raw = self._world_keys.get(key_id)
        return WorldKey.model_validate_json(raw) if raw else None

    async def list_world_keys(self) -> list[WorldKey]:
        found = [WorldKey.model_validate_json(r) for r in self._world_keys.values()]
        return sorted(found, key=lambda k: k.created_at)

    async def revoked_world_key_ids(self) -> set[str]:
        return {k.id for k in await self.list_world_keys() if k.revoked_at is not None}

    async def world_keys_holding(self, world: str, server_id: str) -> list[WorldKey]:
        return key_queries.holding(await self.list_world_keys(), world, server_id)

    async def save_api_key(self, key: ApiKey) -> None:
        self._api_keys[key.id] = key.model_dump_json()

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        raw = self._api_keys.get(key_id)
        return ApiKey.model_validate_json(raw) if raw else None

    async def list_api_keys(self) -> list[ApiKey]:
        found = [ApiKey.model_validate_json(r) for r in self._api_keys.values()]
        return sorted(found, key=lambda k: k.created_at)

    async def save_deploy_token(self, token: DeployToken) -> None:
        self._tokens[token.token_hash] = token.model_dump_json()

    async def get_deploy_token(self, token_hash: str) -> DeployToken | None:
        raw = self._tokens.get(token_hash)
        return DeployToken.model_validate_json(raw) if raw else None

    async def use_deploy_token(self, token_hash: str) -> bool:
        return self._tokens.pop(token_hash, None) is not None

    async def write_links(self, batch: LinkBatch) -> list[int]:
        for change in batch.links:
            old = self._links.get(change.record.id)
            kept = [] if old is None or change.replace else [
                f for f in LinkRecord.model_validate_json(old).unacked
                if (f.get("s") or 0) > change.acked
            ]  # fmt: skip
            record = change.record.model_copy(update={"unacked": kept + change.appended})
            self._links[record.id] = record.model_dump_json()
        # the memory store's write_batch does not yield either: all of it or nothing
        return await self.store.write_batch(batch.records)

    async def get_link(self, link_id: str) -> LinkRecord | None:
        raw = self._links.get(link_id)
        return LinkRecord.model_validate_json(raw) if raw else None

    async def find_link(self, world: str, server_id: str) -> LinkRecord | None:
        found = [LinkRecord.model_validate_json(r) for r in self._links.values()]
        found = [r for r in found if r.world == world and r.server_id == server_id]
        return max(found, key=lambda r: r.updated_at, default=None)
