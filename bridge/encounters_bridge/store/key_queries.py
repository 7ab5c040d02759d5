"""The two questions the daemon asks of its world keys while it serves, as queries
both SQL stores run: which keys are revoked, and which active keys of a world hold a
game server id. Listing every key instead cost the event loop about 0.1 s per 10,000
keys (rows built and validated one by one), every revocation sweep and every web
world pass.

Limits: revoked keys are kept, so the revoked ids grow with every revocation ever
made (a few hundred ids cost well under a millisecond). A key's server ids are a JSON
list in one text column: the SQL finds the keys whose list contains the id's JSON
spelling (a ``LIKE`` scan the database runs, not the event loop) and :func:`holding`
keeps those that really hold it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from .models import WorldKey
from .schema import world_keys


def revoked_ids() -> Any:
    """The ids of the revoked keys."""
    return select(world_keys.c.id).where(world_keys.c.revoked_at.is_not(None))


def holding_candidates(world: str, server_id: str) -> Any:
    """Rows of the active keys of ``world`` whose server id list may hold
    ``server_id`` (filter them with :func:`holding`)."""
    spelled = json.dumps(server_id)  # as save_world_key writes each id of the list
    escaped = spelled.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return (
        select(world_keys)
        .where(
            world_keys.c.world == world,
            world_keys.c.revoked_at.is_(None),
            world_keys.c.server_ids.like(f"%{escaped}%", escape="\\"),
        )
        .order_by(world_keys.c.created_at, world_keys.c.id)
    )


def holding(keys: Iterable[WorldKey], world: str, server_id: str) -> list[WorldKey]:
    """The active keys of ``world`` among ``keys`` that hold ``server_id``."""
    return [
        k for k in keys if k.world == world and k.revoked_at is None and server_id in k.server_ids
    ]
