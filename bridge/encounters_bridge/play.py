"""The web world: a small browser game the daemon serves at ``/play/{server}``.

The game is plain ES modules in ``play_static/`` (no build, no CDN): a top-down map on
a canvas, keyboard movement, a chat box. It is a ``web`` world adapter like the GMod
addon or the Minecraft bridge: one browser tab of the server (the **host**) holds the
server's link to the edge (``/ws?encoding=json``, the same protocol and the same link
state machine rules, ``play_static/link.js``), carries out the companions' dispatches
(move, follow, look at, emote, chat) and sends the players' chat and comings and goings
as events. Every tab of the server joins its **room** here (a WebSocket on the control
API), which relays where the players are and the host's view of the companions, and
elects the next host when the host leaves; the new host identifies again and the
server's live companions come back in ``ready`` with their undelivered dispatches.

Credentials: the world key of a web server never reaches a browser. A signed-in caller
(an admin or creator API key, as in the studio; it stays in the tab's session storage
and travels only in the Authorization header) asks ``POST /web-world/{server}/passes``
for two **play passes**: a room pass (joins the room as that player) and a link pass
(``identify`` with it instead of a world key, as that server's key). Each is random,
single-use and expires after :data:`PASS_TTL` seconds; only their SHA-256 is kept, in
this process's memory. A web server needs a world key bound to it
(``ae worlds add NAME --world web --server ID``); revoking the key stops new passes and
closes the link as for any adapter.

Trust: the room treats every tab as untrusted. Player names come from the API key, not
the browser; positions are clamped to the map; chat is one line of at most
:data:`MAX_CHAT` characters, moderated as any chat in a game (the daemon's moderator,
game context, sanitize: profanity and personal data masked, a blocked line shown to
nobody and its writer told why; the offline layers decide at once and every decision
is audited behind); each tab has a message budget.
What a companion says is never taken from a browser: the room hears the moderated
dispatches from the edge itself (``BridgeEdge.observers``) and shows those lines to
every tab, with a voiced line's signed audio link, which each tab plays positioned at
the companion (``play_static/voice.js``) unless its player muted voices. The host tab is
trusted only as far as any adapter is: its events are checked by the edge, and the
positions it reports for companions are shown as reported.

Languages: the page's texts come from gettext catalogs in the player's language
(``play_i18n.py``, served at ``/play/assets/messages.json``).

Several nodes and a reverse proxy: with ``public_url`` set the page links through the
proxy's ``/ws`` (:func:`link_url`), and link passes are kept in Redis too, so any node
redeems one, once. Limits: rooms and room passes live in the process that minted them,
so ``/play/`` and ``/web-world/`` go to one node (docs/deployment.md); a room holds at
most :data:`MAX_TABS` tabs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from encounters.log import get_logger
from encounters.moderation import ModerationResult

from .deployment import DeploymentService
from .frames import Frame
from .headers import content_security_policy, origin_of
from .keys import digest
from .play_i18n import catalog_json, choose_language
from .routes import auth
from .routes.schemas import ERRORS, ErrorResponse
from .store.models import ApiKey, WorldKey
from .store.protocols import WorldKeyStore

log = get_logger(__name__)

STATIC = Path(__file__).with_name("play_static")
#: seconds a play pass may wait before it is used
PASS_TTL = 60.0
#: outstanding passes at most (the oldest expire first beyond it)
MAX_PASSES = 10_000
#: outstanding passes per player (a pair per call): more is answered 429
MAX_PASSES_PER_PLAYER = 20
#: refused room messages (over the budget) after which a tab is closed (4008)
MAX_REFUSED = 200
#: tabs in one room at most
MAX_TABS = 32
#: the map, in world units (x and z of a location; y is height and is ignored)
MAP_WIDTH = 800.0
MAP_HEIGHT = 600.0
MAX_CHAT = 200
MAX_MESSAGE_BYTES = 8192
#: room messages per tab: a budget refilled at RATE per second, at most BURST
RATE = 30.0
BURST = 60.0
#: seconds a new tab has to send its join
JOIN_TIMEOUT = 10.0
SERVER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ASSETS = frozenset(
    {"codec.js", "link.js", "world.js", "voice.js", "game.js", "i18n.js", "play.css"}
)


class PassPlayer(BaseModel):
    id: str
    name: str


class Passes(BaseModel):
    """``POST /web-world/{server}/passes``: who the caller plays as, a room pass and a
    link pass (single-use, valid ``expiresIn`` seconds) and the edge's WebSocket URL."""

    player: PassPlayer
    roomPass: str  # the JSON API spells fields in camelCase
    linkPass: str
    expiresIn: float
    wsUrl: str


@dataclass(frozen=True)
class Player:
    id: str
    name: str


@dataclass
class _Pass:
    kind: str  # "room" or "link"
    server_id: str
    key_id: str
    player: Player
    expires: float


@dataclass
class PlayPasses:
    """Single-use, short-lived passes into one web server's room and link (see the
    module). ``clock`` is monotonic seconds (tests may pass their own)."""

    store: WorldKeyStore
    ttl: float = PASS_TTL
    clock: Any = time.monotonic
    #: several daemon nodes (a ``redis.asyncio`` client): link passes live in Redis
    #: too, so whichever node the page's link reaches redeems one, once (its room
    #: stays on the node that minted it)
    redis: Any = None
    redis_prefix: str = "ae"
    _passes: dict[str, _Pass] = field(default_factory=dict)  # by digest

    async def key_for(self, server_id: str) -> WorldKey | None:
        """The active web world key bound to ``server_id``, if any."""
        keys = await self.store.world_keys_holding("web", server_id)
        return keys[0] if keys else None

    def mint(self, key: WorldKey, server_id: str, player: Player) -> tuple[str, str] | None:
        """A room pass and a link pass for ``player`` on ``server_id``; None when the
        player holds :data:`MAX_PASSES_PER_PLAYER` unused ones already."""
        now = self.clock()
        self._passes = {h: p for h, p in self._passes.items() if p.expires > now}
        held = sum(1 for p in self._passes.values() if p.player.id == player.id)
        if held + 2 > MAX_PASSES_PER_PLAYER:
            return None
        while len(self._passes) >= MAX_PASSES - 1:
            self._passes.pop(next(iter(self._passes)))
        tokens = []
        for kind in ("room", "link"):
            token = f"ae_p{kind[0]}_{secrets.token_urlsafe(24)}"
            self._passes[digest(token)] = _Pass(kind, server_id, key.id, player, now + self.ttl)
            tokens.append(token)
        return tokens[0], tokens[1]

    def _shared(self, token_digest: str) -> str:
        return f"{self.redis_prefix}:pass:{token_digest}"

    async def share(self, link_pass: str) -> None:
        """With several nodes, keep ``link_pass`` (just minted) in Redis until it
        expires; Redis is then the one place it is redeemed."""
        found = self._passes.get(digest(link_pass))
        if self.redis is None or found is None:
            return
        data = json.dumps({"server_id": found.server_id, "key_id": found.key_id})
        await self.redis.set(self._shared(digest(link_pass)), data, px=int(self.ttl * 1000))

    def _take(self, token: str, kind: str, server_id: str) -> _Pass | None:
        if not isinstance(token, str) or not token.startswith(f"ae_p{kind[0]}_"):
            return None
        found = self._passes.pop(digest(token), None)  # single use, whatever follows
        if found is None or found.kind != kind or found.server_id != server_id:
            return None
        return found if found.expires > self.clock() else None

    def redeem_room(self, token: str, server_id: str) -> Player | None:
        found = self._take(token, "room", server_id)
        return found.player if found else None

    async def redeem_link(self, token: str, world: str, server_id: str) -> WorldKey | None:
        """For ``BridgeEdge.redeem_pass``: the world key a link pass stands for, when
        the pass is good for this web server and the key is still active."""
        if world != "web":
            return None
        found = self._take(token, "link", server_id)
        key_id = found.key_id if found is not None else None
        if self.redis is not None and token.startswith("ae_pl_"):
            # Redis decides, on every node: GETDEL hands a pass out once
            raw = await self.redis.getdel(self._shared(digest(token)))
            shared = json.loads(raw) if raw else {}
            key_id = shared.get("key_id") if shared.get("server_id") == server_id else None
        if key_id is None:
            return None
        key = await self.store.get_world_key(key_id)
        if key is None or key.revoked_at is not None or server_id not in key.server_ids:
            return None
        return key


# -- the room -----------------------------------------------------------------------------


class TabFlooding(Exception):
    """A tab sent far more than its budget: it is closed."""


@dataclass
class _Tab:
    ws: WebSocket
    player: Player
    x: float = MAP_WIDTH / 2
    y: float = MAP_HEIGHT / 2
    tokens: float = BURST
    refused: int = 0  # messages over the budget in a row
    at: float = field(default_factory=time.monotonic)

    def allowed(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.at) * RATE)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class Room:
    """The tabs of one web server (see the module)."""

    server_id: str
    tabs: dict[str, _Tab] = field(default_factory=dict)  # by tab id
    host: str | None = None
    #: companions as the host reported them, by session id
    companions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: names of the companions the edge dispatched a spawn for, by session id
    names: dict[str, str] = field(default_factory=dict)
    #: decides on a player's chat line before any other tab sees it
    moderate: Callable[[str], Awaitable[ModerationResult]] | None = None

    async def send(self, tab: _Tab, message: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # a tab that went away is removed by its reader
            await tab.ws.send_text(json.dumps(message))

    async def broadcast(self, message: dict[str, Any], *, skip: str | None = None) -> None:
        for tab_id, tab in list(self.tabs.items()):
            if tab_id != skip:
                await self.send(tab, message)

    def roster(self) -> list[dict[str, Any]]:
        return [_player(tab_id, t) for tab_id, t in self.tabs.items()]

    async def join(self, tab_id: str, tab: _Tab) -> None:
        self.tabs[tab_id] = tab
        if self.host is None:
            self.host = tab_id
        await self.send(tab, {
            "t": "welcome", "you": tab_id, "player": _player(tab_id, tab),
            "host": self.host == tab_id, "players": self.roster(),
            "companions": list(self.companions.values()),
            "map": {"width": MAP_WIDTH, "height": MAP_HEIGHT},
        })  # fmt: skip
        await self.broadcast({"t": "join", "player": _player(tab_id, tab)}, skip=tab_id)

    async def leave(self, tab_id: str) -> None:
        tab = self.tabs.pop(tab_id, None)
        if tab is None:
            return
        await self.broadcast({"t": "leave", "id": tab_id, "player": _player(tab_id, tab)})
        if self.host == tab_id:
            self.host = next(iter(self.tabs), None)
            if self.host is not None:
                await self.send(self.tabs[self.host], {"t": "host"})

    async def handle(self, tab_id: str, message: Any) -> None:
        """One message from a tab: anything malformed is ignored."""
        tab = self.tabs[tab_id]
        if not tab.allowed():
            tab.refused += 1
            if tab.refused > MAX_REFUSED:
                raise TabFlooding(tab_id)
            return
        tab.refused = 0
        if not isinstance(message, dict):
            return
        kind = message.get("t")
        if kind == "move":
            x, y = _coord(message.get("x"), MAP_WIDTH), _coord(message.get("y"), MAP_HEIGHT)
            if x is None or y is None:
                return
            tab.x, tab.y = x, y
            await self.broadcast({"t": "player", **_player(tab_id, tab)}, skip=tab_id)
        elif kind == "chat":
            text = message.get("text")
            if not isinstance(text, str):
                return
            line = " ".join(text.split())[:MAX_CHAT]
            if not line:
                return
            if self.moderate is not None:
                decided = await self.moderate(line)
                if decided.text is None:  # blocked: only its writer hears of it
                    await self.send(tab, {"t": "refused", "reason": decided.reason})
                    return
                line = decided.text
            await self.broadcast({"t": "chat", "from": _player(tab_id, tab), "text": line})
        elif kind == "companions" and tab_id == self.host:
            self.companions = _companions(message.get("list"), self.names)
            await self.broadcast(
                {"t": "companions", "list": list(self.companions.values())}, skip=tab_id
            )

    def heard(self, frames: list[Frame]) -> list[dict[str, Any]]:
        """What the room shows of dispatches the edge stored for this server."""
        shown: list[dict[str, Any]] = []
        for frame in frames:
            kind, sid = frame.d.get("type"), frame.sid
            if sid is None:
                continue
            if kind == "spawn":
                persona = frame.d.get("persona") or {}
                self.names[sid] = str(persona.get("name", "companion"))[:64]
            elif kind == "despawn":
                self.names.pop(sid, None)
                self.companions.pop(sid, None)
                shown.append({"t": "gone", "sid": sid})
            elif kind == "action":
                action = frame.d.get("action") or {}
                if action.get("type") == "chat" and isinstance(action.get("message"), str):
                    say = {"t": "say", "sid": sid, "name": self.names.get(sid, ""),
                           "text": action["message"]}  # fmt: skip
                    audio = _audio(action.get("audio"))
                    if audio is not None:
                        say["audio"] = audio
                    shown.append(say)
                elif action.get("type") == "emote" and isinstance(action.get("name"), str):
                    shown.append({"t": "emote", "sid": sid, "name": action["name"]})
        return shown


def _audio(raw: Any) -> dict[str, Any] | None:
    """A voiced line's ``audio`` as every tab plays it: the signed link, its length and
    type (the daemon made it; anything else in the object stays out of the room)."""
    if not isinstance(raw, dict):
        return None
    url, duration = raw.get("url"), _number(raw.get("duration"))
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    kind = raw.get("content_type")
    content_type = kind if isinstance(kind, str) else "audio/wav"
    return {"url": url, "duration": duration or 0.0, "content_type": content_type}


def _player(tab_id: str, tab: _Tab) -> dict[str, Any]:
    return {"id": tab_id, "name": tab.player.name, "x": tab.x, "y": tab.y}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _coord(value: Any, limit: float) -> float | None:
    number = _number(value)
    return None if number is None else min(max(number, 0.0), limit)


def _companions(raw: Any, names: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The host's companion list, bounded: known session ids only, clamped positions."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(raw, list):
        return out
    for item in raw[:MAX_TABS]:
        if not isinstance(item, dict) or item.get("sid") not in names:
            continue
        x, y = _coord(item.get("x"), MAP_WIDTH), _coord(item.get("y"), MAP_HEIGHT)
        if x is None or y is None:
            continue
        sid = str(item["sid"])
        turn = _number(item.get("facing"))
        facing = turn % (2 * math.pi) if turn is not None else 0.0
        out[sid] = {"sid": sid, "name": names[sid], "x": x, "y": y, "facing": facing}
    return out


@dataclass
class Rooms:
    """Every web server's room, and the edge's dispatches shown in them."""

    service: DeploymentService
    rooms: dict[str, Room] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def room(self, server_id: str) -> Room:
        room = self.rooms.get(server_id)
        if room is None:
            room = self.rooms[server_id] = Room(server_id, moderate=self._moderate_chat)
            for live in await self.service.sessions_for("web", server_id):
                persona = live.get("persona") or {}
                room.names[str(live["sid"])] = str(persona.get("name", "companion"))[:64]
        return room

    async def _moderate_chat(self, line: str) -> ModerationResult:
        """The offline layers decide at once (a tab's lines are not held up by the store
        or a moderation provider); the decision's audit entry is written behind."""
        moderator = self.service.moderator
        decided = moderator.check_message(line, max_length=MAX_CHAT)
        self._behind(moderator.record_message(line, decided))
        return decided

    def _behind(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def observe(self, world: str, server_id: str, frames: list[Frame]) -> None:
        room = self.rooms.get(server_id)
        if world != "web" or room is None:
            return
        shown = room.heard(frames)
        if shown:

            async def tell() -> None:
                for message in shown:
                    await room.broadcast(message)

            self._behind(tell())

    async def serve(self, ws: WebSocket, server_id: str, passes: PlayPasses) -> None:
        await ws.accept()
        try:  # before any pass is shown: bounded like every later message
            with _deadline(JOIN_TIMEOUT):
                text = await ws.receive_text()
            first = json.loads(text) if len(text) <= MAX_MESSAGE_BYTES else None
        except (TimeoutError, ValueError, RecursionError, WebSocketDisconnect, KeyError):
            first = None
        if not isinstance(first, dict):
            await _close(ws, 4003, "send {t: 'join', token} first")
            return
        token = first.get("token")
        player = passes.redeem_room(token, server_id) if isinstance(token, str) else None
        if player is None:
            log.info("play.room_refused", server_id=server_id)
            await _close(ws, 4004, "bad, used or expired room pass: ask for a new one")
            return
        room = await self.room(server_id)
        if len(room.tabs) >= MAX_TABS:
            await _close(ws, 4008, f"the room is full ({MAX_TABS} tabs)")
            return
        tab_id = f"{player.id}.{secrets.token_hex(2)}"
        await room.join(tab_id, _Tab(ws, player))
        try:
            while True:
                data = await ws.receive_text()
                if len(data) > MAX_MESSAGE_BYTES:
                    continue
                try:
                    message = json.loads(data)
                except (ValueError, RecursionError):  # 8 KiB of brackets nests past the limit
                    continue
                await room.handle(tab_id, message)
        except TabFlooding:
            log.warning("play.tab_flooding", server_id=server_id, player=player.id)
            await _close(ws, 4008, "too many messages")
        except (WebSocketDisconnect, KeyError, RuntimeError):
            pass
        finally:
            await room.leave(tab_id)
            if not room.tabs:
                self.rooms.pop(server_id, None)  # built again from the live sessions


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    with anyio.fail_after(seconds):
        yield


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code, reason)


# -- the routes ----------------------------------------------------------------------------


def link_url(public_url: str | None, host: str | None, port: int | None) -> str:
    """Where the page opens its link: behind a reverse proxy (``public_url`` set, e.g.
    ``https://games.example.com``) the proxy's ``/ws`` on the same origin (``wss``
    under HTTPS, so the browser allows it); else the edge's own port on the host the
    page came from (an IPv6 address in brackets, as a URL writes it)."""
    if public_url:
        scheme, rest = public_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/ws?encoding=json"
    host = host or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{port}/ws?encoding=json"


def mount_play(app: FastAPI, service: DeploymentService) -> PlayPasses:
    """The web world's page, its files, its passes and its rooms (see the module); the
    edge redeems link passes and tells the rooms what it dispatched."""
    cluster = service.edge.cluster
    passes = PlayPasses(service.records, redis=cluster.redis if cluster else None,
                        redis_prefix=cluster.prefix if cluster else "ae")  # fmt: skip
    rooms = Rooms(service)
    service.edge.redeem_pass = passes.redeem_link
    service.edge.observers.append(rooms.observe)
    router = APIRouter(tags=["web world"], responses={
        **ERRORS, 429: {"model": ErrorResponse, "description": "Too many unused passes"},
    })  # fmt: skip

    @router.post("/web-world/{server_id}/passes")
    async def new_passes(
        server_id: str, request: Request, caller: Annotated[ApiKey, Depends(auth.caller)]
    ) -> Passes:
        """Passes into web server ``server_id``'s room and link for the caller (an admin
        or creator key): single-use, valid for ``expiresIn`` seconds."""
        if not SERVER_ID.match(server_id):
            raise HTTPException(422, "server id: 1-64 letters, digits or _ . : -")
        key = await passes.key_for(server_id)
        if key is None:
            raise HTTPException(
                404,
                f"no web world key is bound to server {server_id!r}: run "
                f"`ae worlds add NAME --world web --server {server_id}`",
            )
        player = Player(id=caller.id, name=caller.name[:32] or caller.id)
        minted = passes.mint(key, server_id, player)
        if minted is None:
            raise HTTPException(
                429, f"{MAX_PASSES_PER_PLAYER} unused passes are waiting already: use them, "
                f"or wait {passes.ttl:.0f} s for them to expire",
            )  # fmt: skip
        room_pass, link_pass = minted
        await passes.share(link_pass)
        log.info("play.passes", server_id=server_id, player=player.id)
        return Passes(
            player=PassPlayer(id=player.id, name=player.name),
            roomPass=room_pass, linkPass=link_pass, expiresIn=passes.ttl,
            wsUrl=link_url(service.public_url, request.url.hostname, service.edge.port),
        )  # fmt: skip

    @router.websocket("/web-world/{server_id}/room")
    async def room(ws: WebSocket, server_id: str) -> None:
        if not SERVER_ID.match(server_id):
            await ws.close(4004, "bad server id")
            return
        await rooms.serve(ws, server_id, passes)

    @router.get("/play/{server_id}", include_in_schema=False)
    async def page(server_id: str, request: Request) -> Response:
        if not SERVER_ID.match(server_id):
            raise HTTPException(404, "no such web server")
        # the page links to the edge's port and plays voices from their public address:
        # the policy (headers.py) allows those two origins and nothing else beyond its own
        link = link_url(service.public_url, request.url.hostname, service.edge.port)
        voices = service.audio_links.base_url if service.audio_links else None
        policy = content_security_policy(connect=[origin_of(link)],
                                         media=[origin_of(voices)] if voices else [])  # fmt: skip
        return FileResponse(STATIC / "index.html", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": policy,
        })  # fmt: skip

    @router.get("/play/assets/messages.json", include_in_schema=False)
    async def messages(request: Request, lang: str | None = None) -> Response:
        # the page's texts in the first of the player's languages the project writes
        language = choose_language(lang, request.headers.get("accept-language"))
        return Response(
            json.dumps(catalog_json(language), ensure_ascii=False),
            media_type="application/json",
            headers={
                "Cache-Control": "no-cache",
                "Content-Language": language,
                "Vary": "Accept-Language",
            },
        )

    @router.get("/play/assets/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, f"no web world file {name!r}")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    return passes


__all__ = ["PASS_TTL", "PlayPasses", "Player", "Room", "Rooms", "mount_play"]
