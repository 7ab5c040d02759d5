"""The live view's stream of one companion session, as server-sent events.

Everything shown comes from the session's audit log (the one record of what happened,
shared by every daemon node on PostgreSQL): game events (``spawned``, players' chat,
``action_done``...), each action the companion tried with its moderation decision
(allow, sanitize with the masked text, block with the reason; a ``rate_limited`` block
is a rate-limit hit), and the round trip of each action (from its decision to the
game's ``action_done`` or ``action_failed``). The same items make the replay after the
session ends.

The stream reads new audit entries every ``POLL`` seconds (one indexed query per open
view) and sends them as ``entry`` events with ``id: <seq>``, so a client that
reconnects with ``Last-Event-ID`` misses nothing; a ``status`` event carries the
session's counters when they change, and an ``end`` event closes the stream once the
session has ended and everything is sent. Events that name no session (a player
joining the server) are not in a session's log, so not in its stream. A stream ends
when the daemon stops.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from encounters.models.audit import AuditEntry, Decision

from .deployment import DeploymentService

POLL = 0.25
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE = 15.0
ItemKind = Literal["event", "player", "action", "rate_limit", "other"]
PLAYER_EVENTS = ("player_chat", "player_join", "player_leave")


class LiveItem(BaseModel):
    """One line of the live view: ``kind`` is ``player`` (a player's event), ``event``
    (the game about the companion), ``action`` (the companion's action and its
    decision), ``rate_limit`` (an action refused by the rate limit) or ``other``.
    ``text`` says it in words; ``masked`` is the text as delivered after
    sanitizing; ``latency_ms``: for ``action_done`` and ``action_failed``, the
    time since the action was decided."""

    seq: int
    at: datetime
    kind: ItemKind
    type: str
    decision: Decision
    reason: str | None = None
    text: str
    masked: str | None = None
    action_id: str | None = None
    latency_ms: float | None = None


class SessionStatus(BaseModel):
    status: str
    paused: bool
    actions_sent: int
    actions_blocked: int
    actions_done: int
    actions_failed: int
    events: int


def _words(data: dict[str, Any]) -> str:
    kind = str(data.get("type", "?"))
    if kind == "chat":
        return f"says “{data.get('message', '')}”"
    if kind == "emote":
        return f"emote {data.get('name') or data.get('emote') or ''}".strip()
    target = data.get("target") or data.get("player") or data.get("position")
    return f"{kind} {json.dumps(target)}" if target is not None else kind


class Itemizer:
    """Turns audit entries into :class:`LiveItem` in order, remembering when each action
    was decided to give its round trip."""

    def __init__(self) -> None:
        self._decided: dict[str, datetime] = {}

    def item(self, entry: AuditEntry) -> LiveItem:
        data = entry.input if isinstance(entry.input, dict) else {}
        kind = str(data.get("type") or entry.kind)
        base = {"seq": entry.seq or 0, "at": entry.at, "type": kind, "decision": entry.decision,
                "reason": entry.reason}  # fmt: skip
        if entry.kind == "action":
            action_id = str(data.get("id")) if data.get("id") else None
            if action_id:
                self._decided[action_id] = entry.at
            out = entry.output if isinstance(entry.output, dict) else {}
            said = out.get("message") or out.get("text")  # chat, title
            masked = said if entry.decision == "sanitize" else None
            item_kind: ItemKind = "rate_limit" if entry.reason == "rate_limited" else "action"
            return LiveItem(**base, kind=item_kind, text=_words(data), action_id=action_id,
                            masked=masked if isinstance(masked, str) else None)  # fmt: skip
        if entry.kind == "event":
            if kind in PLAYER_EVENTS:
                player = data.get("player")
                player = player if isinstance(player, dict) else {}
                who = player.get("name") or player.get("id") or "a player"
                said = f": “{data['message']}”" if isinstance(data.get("message"), str) else ""
                return LiveItem(**base, kind="player", text=f"{who} {kind[7:]}{said}")
            action_id = str(data.get("action_id")) if data.get("action_id") else None
            latency = None
            if action_id and action_id in self._decided:
                latency = (entry.at - self._decided.pop(action_id)).total_seconds() * 1000
            if kind == "spawn":  # the daemon's spawn dispatch, audited with the session
                where = f"{data.get('world', '?')} server {data.get('server_id', '?')}"
                return LiveItem(**base, kind="event", text=f"spawn sent to {where}")
            detail = data.get("reason") or data.get("detail") or data.get("entity")
            text = f"{kind}{f': {detail}' if detail else ''}"
            ms = round(latency, 1) if latency is not None else None
            return LiveItem(**base, kind="event", text=text, action_id=action_id, latency_ms=ms)
        return LiveItem(**base, kind="other", text=f"{entry.kind}: {entry.reason or kind}")


def items(entries: list[AuditEntry]) -> list[LiveItem]:
    """A whole session's items (the replay)."""
    itemizer = Itemizer()
    return [itemizer.item(e) for e in entries]


def _sse(event: str, data: str, id_: int | None = None) -> bytes:
    head = f"id: {id_}\n" if id_ is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


async def status_of(service: DeploymentService, session_id: str) -> SessionStatus:
    s = await service.companion(session_id)
    return SessionStatus(status=s.status, paused=s.paused,
                         actions_sent=s.actions_sent, actions_blocked=s.actions_blocked,
                         actions_done=s.actions_done, actions_failed=s.actions_failed,
                         events=s.events)  # fmt: skip


async def stream(
    service: DeploymentService, session_id: str, after: int = 0
) -> AsyncIterator[bytes]:
    """The session's server-sent events from audit entry ``after`` on (see the module);
    the caller has checked the session exists and may be seen."""
    itemizer = Itemizer()
    if after:  # a reconnect: the round trips of actions decided before ``after``
        for entry in await service.audit.replay(session_id):
            if entry.seq is not None and entry.seq <= after:
                itemizer.item(entry)
    last_status: SessionStatus | None = None
    quiet = 0.0
    yield b": live\n\n"
    while not service.closing:
        status = await status_of(service, session_id)
        entries = await service.audit.replay(session_id, after_seq=after, limit=500)
        for entry in entries:
            after = entry.seq or after
            yield _sse("entry", itemizer.item(entry).model_dump_json(), after)
        if status != last_status:
            last_status = status
            yield _sse("status", status.model_dump_json())
        if status.status == "ended" and len(entries) < 500:
            yield _sse("end", json.dumps({"session_id": session_id}))
            return
        if entries:
            quiet = 0.0
        else:
            quiet += POLL
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield b": keepalive\n\n"
        await anyio.sleep(POLL)


__all__ = ["Itemizer", "LiveItem", "SessionStatus", "items", "status_of", "stream"]
