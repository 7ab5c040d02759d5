"""``NPCMemoryManager``: what each NPC remembers of each player.

Recording follows the original design (every interaction kept; the relationship moves
by 10 per positive or negative outcome, within -100..100). Retrieval is in the spirit
of Generative Agents: each memory of the pair is scored by recency (exponential decay,
half-life ``half_life_hours``), importance (0..1) and relevance to the query (BM25 over
the blind index), each in 0..1, weighted 1 : 1 : 2 by default (a query is the
strongest signal), and the best ``k`` are returned. When a pair holds more than
``budget`` memories, the oldest half is folded into one summary (by the LLM when a
summarizer using it is given, extractive otherwise), so a memory never grows without
bound.

Where memories are kept is the backend's (:mod:`.backend`): ``memory.db`` in the data
folder, or the PostgreSQL store's database, shared by every node using it. Profiles of
active pairs stay in an LRU cache (``cache_size``) when the backend is this process's
alone; a shared backend's profiles are read through on every use, since another node
may have changed them. Read-modify-writes of a pair hold the pair's lock in this
process and, through :meth:`~.backend.MemoryBackend.locked`, in the backend.

Every method takes an optional keyword ``scope``: memories in one scope are apart from
every other scope's, even for the same NPC and player ids (see :mod:`.backend`), and
:meth:`NPCMemoryManager.context_for_player` sees only its scope's NPCs. The daemon's
control API keeps each game server's memories in a scope of its own; no scope (the
default, what the in-process SDK uses) is one namespace, as memories always were.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .._util.cache import LRUCache
from .._util.locks import KeyedLocks
from ..errors import FieldError, ValidationFailed
from ..models.common import ID_PATTERN, PATTERN_HINTS, utcnow
from ..validation import validate_model
from .backend import MemoryBackend, Row, check_scope
from .crypto import MemoryCipher, load_or_create_key
from .models import (
    RELATIONSHIP_MAX,
    RELATIONSHIP_MIN,
    RELATIONSHIP_STEP,
    Interaction,
    NPCMemory,
    Recollection,
)
from .store import MemoryFile
from .summary import ExtractiveSummarizer, Summarizer

MEMORY_FILENAME = "memory.db"


class NPCMemoryManager:
    def __init__(
        self,
        backend: MemoryBackend,
        *,
        summarizer: Summarizer | None = None,
        budget: int = 200,
        cache_size: int = 1024,
        half_life_hours: float = 24.0,
        weights: tuple[float, float, float] = (1.0, 1.0, 2.0),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if budget < 4:
            raise ValueError("budget must be at least 4 memories")
        self.backend = backend
        self.summarizer: Summarizer = summarizer or ExtractiveSummarizer()
        self.budget = budget
        self.half_life_hours = half_life_hours
        self.weights = weights  # recency, importance, relevance
        self.clock = clock
        self._cache: LRUCache[str, NPCMemory] = LRUCache(cache_size)
        self._locks: KeyedLocks[str] = KeyedLocks()

    @classmethod
    def open(cls, data_dir: Path | None, key: str | None = None, **kwargs: Any) -> NPCMemoryManager:
        """The memory file in ``data_dir`` (None: in memory only), encrypted with
        ``key`` (base64, e.g. ``AE_MEMORY_KEY``) or the key file in ``data_dir``."""
        if data_dir is None:
            master = load_or_create_key(Path("."), key) if key else secrets.token_bytes(32)
            return cls(MemoryFile(None, MemoryCipher(master)), **kwargs)
        cipher = MemoryCipher(load_or_create_key(data_dir, key))
        return cls(MemoryFile(data_dir / MEMORY_FILENAME, cipher), **kwargs)

    async def ready(self) -> None:
        """Open the backend now: create its tables and check the key, so a wrong key
        fails here (:class:`~.crypto.MemoryKeyError`) rather than at the first use."""
        await self.backend.open()

    def close(self) -> None:
        self.backend.close()

    # -- profiles ----------------------------------------------------------------------

    async def _profile(
        self, backend: MemoryBackend, npc_id: str, player_id: str, scope: str | None
    ) -> NPCMemory:
        """The pair's profile: from the cache when the backend is this process's alone,
        else (and on a miss) read from ``backend`` (a :meth:`~MemoryBackend.locked`
        view, in a read-modify-write)."""
        pair = backend.pair(npc_id, player_id, scope)
        profile = None if backend.shared else self._cache.get(pair)
        if profile is None:
            profile = await backend.load_profile(pair) or NPCMemory(
                npc_id=npc_id, player_id=player_id
            )
        self._remember(pair, profile)
        return profile

    def _remember(self, pair: str, profile: NPCMemory) -> None:
        if not self.backend.shared:
            self._cache.set(pair, profile)

    async def _save(
        self, backend: MemoryBackend, pair: str, profile: NPCMemory, scope: str | None
    ) -> NPCMemory:
        profile = validate_model(NPCMemory, profile.model_dump(), "NPC memory")
        await backend.save_profile(pair, profile, scope)
        self._remember(pair, profile)
        return profile

    async def get_memory(
        self, npc_id: str, player_id: str, *, scope: str | None = None
    ) -> NPCMemory:
        """The pair's profile (a new, empty one when they never met)."""
        _check_ids(npc_id, player_id, scope)
        return (await self._profile(self.backend, npc_id, player_id, scope)).model_copy()

    # -- recording -----------------------------------------------------------------------

    async def record_interaction(
        self,
        npc_id: str,
        player_id: str,
        interaction: Interaction | Mapping[str, Any],
        *,
        scope: str | None = None,
    ) -> NPCMemory:
        """Remember one meeting; returns the updated profile."""
        _check_ids(npc_id, player_id, scope)
        given = interaction.model_dump() if isinstance(interaction, Interaction) else interaction
        item = validate_model(Interaction, dict(given), "interaction")
        if item.importance is None:
            item = item.model_copy(update={"importance": estimate_importance(item)})
        pair = self.backend.pair(npc_id, player_id, scope)
        async with self._locks.hold(pair):
            async with self.backend.locked(pair) as tx:
                profile = await self._profile(tx, npc_id, player_id, scope)
                step = {"positive": RELATIONSHIP_STEP, "negative": -RELATIONSHIP_STEP}.get(
                    item.outcome, 0
                )
                relationship = max(
                    RELATIONSHIP_MIN, min(RELATIONSHIP_MAX, profile.relationship + step)
                )
                await tx.add(pair, "interaction", item.timestamp.timestamp(),
                             item.importance or 0.0, item.text(),
                             item.model_dump_json().encode())  # fmt: skip
                profile = await self._save(tx, pair, profile.model_copy(update={
                    "relationship": relationship,
                    "interactions_total": profile.interactions_total + 1,
                    "first_met": profile.first_met or item.timestamp,
                    "last_met": max(profile.last_met or item.timestamp, item.timestamp),
                }), scope)  # fmt: skip
                over = await tx.count(pair) > self.budget
            if over:
                profile = await self._fold(pair, profile, scope)
        return profile.model_copy()

    async def _fold(self, pair: str, profile: NPCMemory, scope: str | None) -> NPCMemory:
        """Fold the oldest half of the pair's memories (earlier summaries included)
        into one summary. The summary is written (outside the backend's lock: it may
        take an LLM call) and then swapped in under the lock; when another node folded
        those memories meanwhile, this fold is dropped (another node's meetings are
        then left for the next fold: a pair may briefly hold a few over its budget)."""
        async with self.backend.locked(pair) as tx:  # rows and payloads of one moment
            rows = await tx.rows(pair)
            if len(rows) <= self.budget:  # another node folded them meanwhile
                return profile
            old = rows[: max(2, len(rows) // 2)]
            payloads = await tx.payloads(pair, [r.id for r in old])
        items = []
        for r in old:
            kind, payload = payloads[r.id]
            if kind == "interaction":
                items.append(Interaction.model_validate_json(payload))
            else:  # an earlier summary: carried on as text
                text = payload.decode()
                chunks = [text[i : i + 500] for i in range(0, len(text), 500)][:50]
                when = datetime.fromtimestamp(r.at, tz=utcnow().tzinfo)
                items.append(Interaction(timestamp=when, dialogue=chunks, importance=r.importance))
        summary = await self.summarizer.summarize(profile.npc_id, items)
        async with self.backend.locked(pair) as tx:
            profile = await self._profile(tx, profile.npc_id, profile.player_id, scope)
            if not await tx.replace(pair, [r.id for r in old], old[-1].at, summary, importance=0.7):
                return profile
            folded = sum(1 for r in old if r.kind == "interaction")
            return await self._save(tx, pair, profile.model_copy(
                update={"summarised": profile.summarised + folded}
            ), scope)  # fmt: skip

    async def add_fact(
        self, npc_id: str, player_id: str, fact: str, *, scope: str | None = None
    ) -> NPCMemory:
        """Something the NPC should always remember (kept in the profile, deduplicated;
        the 50 newest are kept)."""
        _check_ids(npc_id, player_id, scope)
        pair = self.backend.pair(npc_id, player_id, scope)
        async with self._locks.hold(pair), self.backend.locked(pair) as tx:
            profile = await self._profile(tx, npc_id, player_id, scope)
            facts = [f for f in profile.known_facts if f != fact.strip()] + [fact.strip()]
            profile = await self._save(
                tx, pair, profile.model_copy(update={"known_facts": facts[-50:]}), scope
            )
        return profile.model_copy()

    async def set_traits(
        self,
        npc_id: str,
        player_id: str,
        traits: Mapping[str, float],
        *,
        scope: str | None = None,
    ) -> NPCMemory:
        """Personality traits (0..1) the NPC shows this player, merged into the profile."""
        _check_ids(npc_id, player_id, scope)
        pair = self.backend.pair(npc_id, player_id, scope)
        async with self._locks.hold(pair), self.backend.locked(pair) as tx:
            profile = await self._profile(tx, npc_id, player_id, scope)
            merged = {**profile.personality_traits, **dict(traits)}
            profile = await self._save(
                tx, pair, profile.model_copy(update={"personality_traits": merged}), scope
            )
        return profile.model_copy()

    # -- retrieval -------------------------------------------------------------------------

    async def retrieve(
        self,
        npc_id: str,
        player_id: str,
        query: str = "",
        *,
        k: int = 10,
        scope: str | None = None,
    ) -> list[Recollection]:
        """The ``k`` memories of the pair that matter most for ``query``, best first."""
        _check_ids(npc_id, player_id, scope)
        pair = self.backend.pair(npc_id, player_id, scope)
        # one moment of the pair: a fold on another node cannot drop rows in between
        async with self.backend.locked(pair) as tx:
            rows = await tx.rows(pair)
            if not rows or k <= 0:
                return []
            relevance = await tx.relevance(pair, query, limit=len(rows)) if query else {}
            scored = self._rank(rows, relevance, k)
            payloads = await tx.payloads(pair, [r.id for _, r in scored])
        out = []
        for (rec, imp, rel, score), row in scored:
            kind, payload = payloads[row.id]
            interaction = (
                Interaction.model_validate_json(payload) if kind == "interaction" else None
            )
            out.append(Recollection(
                kind=kind, at=datetime.fromtimestamp(row.at, tz=utcnow().tzinfo),
                text=interaction.text() if interaction else payload.decode(),
                interaction=interaction, importance=imp, recency=rec, relevance=rel, score=score,
            ))  # fmt: skip
        return out

    def _rank(
        self, rows: list[Row], relevance: dict[int, float], k: int
    ) -> list[tuple[tuple[float, float, float, float], Row]]:
        """The best ``k`` rows with their scores (see :meth:`_score`), best first."""
        now = self.clock().timestamp()
        decay = math.log(2) / (self.half_life_hours * 3600.0)
        recency = {r.id: math.exp(-decay * max(0.0, now - r.at)) for r in rows}
        return sorted(
            ((self._score(r, recency, relevance), r) for r in rows),
            key=lambda pr: (pr[0][3], pr[1].at),
            reverse=True,
        )[:k]

    def _score(
        self, row: Row, recency: dict[int, float], relevance: dict[int, float]
    ) -> tuple[float, float, float, float]:
        """(recency, importance, relevance, weighted sum), each part in 0..1. Recency
        is scaled by the pair's most recent memory. A memory that matches the query
        at all gets relevance 0.5, up to 1 for the best match (BM25 scaled by the
        best), so a partial match still counts for more than being recent."""
        top_rec = max(recency.values()) or 1.0
        top_rel = max(relevance.values(), default=0.0) or 1.0
        rec = recency[row.id] / top_rec
        rel = 0.5 + 0.5 * relevance[row.id] / top_rel if row.id in relevance else 0.0
        w_rec, w_imp, w_rel = self.weights
        return rec, row.importance, rel, w_rec * rec + w_imp * row.importance + w_rel * rel

    async def recent(
        self, npc_id: str, player_id: str, n: int = 3, *, scope: str | None = None
    ) -> list[Interaction]:
        """The last ``n`` interactions, oldest first."""
        _check_scope(scope)
        pair = self.backend.pair(npc_id, player_id, scope)
        async with self.backend.locked(pair) as tx:  # one moment of the pair
            rows = (await tx.rows(pair, "interaction"))[-n:] if n > 0 else []
            payloads = await tx.payloads(pair, [r.id for r in rows])
        return [Interaction.model_validate_json(payloads[r.id][1]) for r in rows]

    # -- prompts ---------------------------------------------------------------------------

    async def context_prompt(
        self, npc_id: str, player_id: str, query: str = "", *, scope: str | None = None
    ) -> str:
        """The original design's context prompt, plus the memories that matter for
        ``query`` (when given)."""
        profile = await self.get_memory(npc_id, player_id, scope=scope)
        last = await self.recent(npc_id, player_id, 3, scope=scope)
        lines = [
            f"This NPC has met the player {profile.interactions_total} times before.",
            f"Relationship level: {profile.relationship}/100",
            "Previous interactions: " + "; ".join(" ".join(i.dialogue) for i in last),
            "The NPC should remember these facts: " + ", ".join(profile.known_facts),
        ]
        if profile.personality_traits:
            lines.append("Personality: " + ", ".join(
                f"{t} {v:.1f}" for t, v in sorted(profile.personality_traits.items())
            ))  # fmt: skip
        if query:
            found = await self.retrieve(npc_id, player_id, query, k=5, scope=scope)
            if found:
                lines.append("Relevant memories: " + "; ".join(r.text[:200] for r in found))
        return "\n".join(lines)

    async def context_for_player(
        self, player_id: str, *, npcs: int = 3, chars: int = 4000, scope: str | None = None
    ) -> str:
        """Memory context for a generation prompt: the NPCs this player met most
        recently in ``scope`` (at most ``npcs``; no other scope's), within ``chars``
        characters. Empty when none."""
        _check_scope(scope)
        parts = []
        for profile in await self.backend.profiles_of(player_id, npcs, scope):
            body = await self.context_prompt(profile.npc_id, player_id, scope=scope)
            parts.append(f"NPC {profile.npc_id}:\n{body}")
        return "\n\n".join(parts)[:chars]


def estimate_importance(item: Interaction) -> float:
    """0.3 for a plain meeting; more for an outcome, choices and a long exchange."""
    score = 0.3 + (0.3 if item.outcome != "neutral" else 0.0)
    score += min(0.2, 0.1 * len(item.player_choices)) + min(0.2, 0.02 * len(item.dialogue))
    return round(min(1.0, score), 3)


def _check_ids(npc_id: str, player_id: str, scope: str | None = None) -> None:
    errors = [
        FieldError(name, f"{value!r} {PATTERN_HINTS[ID_PATTERN]}")
        for name, value in (("npc_id", npc_id), ("player_id", player_id))
        if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value)
    ]
    errors += _scope_errors(scope)
    if errors:
        raise ValidationFailed("NPC memory", errors)


def _scope_errors(scope: str | None) -> list[FieldError]:
    try:
        check_scope(scope)
    except ValueError as exc:
        return [FieldError("scope", str(exc))]
    return []


def _check_scope(scope: str | None) -> None:
    if errors := _scope_errors(scope):
        raise ValidationFailed("NPC memory", errors)
