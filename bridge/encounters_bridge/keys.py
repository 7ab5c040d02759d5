"""World keys: the credential a game server presents in ``identify``.

A key looks like ``ae_wk_<id>_<secret>``. Only the SHA-256 of the whole key is stored
(the secret has 192 bits of entropy, so a fast hash is enough and no salt is needed);
the id part finds the record without scanning. Keys are compared in constant time.
Control-API keys use the same scheme with ``ae_ak_``; resume tokens start ``ae_rt_``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .store.models import ApiKey, World, WorldKey
from .store.protocols import ApiKeyStore, WorldKeyStore

_KEY = re.compile(r"^ae_wk_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$")
_API_KEY = re.compile(r"^ae_ak_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key(kind: str = "wk") -> tuple[str, str]:
    """``(key id, full key)``; ``kind`` is ``wk`` (world key) or ``ak`` (API key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"ae_{kind}_{key_id}_{secrets.token_urlsafe(24)}"


def new_resume_token() -> str:
    return f"ae_rt_{secrets.token_urlsafe(24)}"


def same(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


class KeyConflict(ValueError):
    """A server id named for a new key already belongs to another key."""


#: A new key naming up to this many server ids asks the store about each; more, and
#: it reads every key once (a key for a whole fleet of servers).
_ASKED_ONE_BY_ONE = 16


async def create_world_key(
    store: WorldKeyStore, name: str, world: World, servers: list[str] | None = None
) -> tuple[WorldKey, str]:
    """Store a new key; returns the record and the key (shown once, never stored).
    ``servers``: the game server ids it may identify as; without them it is bound to
    the server id of its first ``identify``. A server id that an active key of the same
    world already has raises :class:`KeyConflict`."""
    wanted = list(dict.fromkeys(servers or []))
    if wanted:
        if len(wanted) <= _ASKED_ONE_BY_ONE:
            holders = [await store.world_keys_holding(world, s) for s in wanted]
            taken = {s: keys[0].id for s, keys in zip(wanted, holders, strict=True) if keys}
        else:
            taken = {
                s: k.id
                for k in await store.list_world_keys()
                if k.world == world and k.revoked_at is None
                for s in k.server_ids
            }
        clashes = [f"{s!r} (key {taken[s]})" for s in wanted if s in taken]
        if clashes:
            raise KeyConflict(
                f"server ids already bound to another key: {', '.join(clashes[:5])}; "
                "revoke that key first or choose other server ids"
            )
    key_id, key = new_key()
    record = WorldKey(id=key_id, name=name, world=world, key_hash=digest(key), server_ids=wanted)
    await store.save_world_key(record)
    return record, key


async def check_world_key(store: WorldKeyStore, key: str, world: str) -> WorldKey | None:
    """The key's record when the key is valid, not revoked and for ``world``."""
    match = _KEY.match(key)
    if match is None:
        return None
    record = await store.get_world_key(match.group(1))
    if record is None or record.revoked_at is not None or record.world != world:
        return None
    return record if same(key, record.key_hash) else None


async def find_world_key(store: WorldKeyStore, key: str) -> WorldKey | None:
    """The key's record when the key is valid and not revoked, whatever its world."""
    match = _KEY.match(key)
    if match is None:
        return None
    record = await store.get_world_key(match.group(1))
    if record is None or record.revoked_at is not None:
        return None
    return record if same(key, record.key_hash) else None


async def create_api_key(store: ApiKeyStore, name: str, role: str) -> tuple[ApiKey, str]:
    """Store a new control-API key (``admin`` or ``creator``); returns it once."""
    key_id, key = new_key("ak")
    record = ApiKey(id=key_id, name=name, role=role, key_hash=digest(key))
    await store.save_api_key(record)
    return record, key


async def check_api_key(store: ApiKeyStore, key: str) -> ApiKey | None:
    """The key's record when valid and not revoked."""
    match = _API_KEY.match(key)
    if match is None:
        return None
    record = await store.get_api_key(match.group(1))
    if record is None or record.revoked_at is not None:
        return None
    return record if same(key, record.key_hash) else None
