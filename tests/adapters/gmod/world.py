"""A Garry's Mod server and one client in LuaJIT (lupa), with the addon loaded.

- two realms, each its own LuaRuntime with ``stubs.lua`` (hooks, timers, net, ents,
  player, ConVars, a nextbot coroutine tick);
- net messages go from the server realm to the client realm between ticks;
- the GWSockets stand-in (``GWSockets`` in ``stubs.lua``) is backed by :class:`Sockets`:
  a real ``websockets`` client on a real TCP socket per ``createWebSocket``, read by a
  network thread; what arrives is queued and handed to Lua only from the realm's
  ``Think`` hook, on the main thread, like the real module;
- the clock is real time: the daemon's heartbeats and timeouts run as they would.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .lua import ADDON_LUA, LUAJITS, STUBS


@dataclass
class _Socket:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: queue.Queue[tuple[bytes, bytes | None]] = field(default_factory=queue.Queue)
    conn: ClientConnection | None = None
    pending: list[str] = field(default_factory=list)  #: written before connected
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    closed: bool = False


class Sockets:
    """The network side of the GWSockets stand-in (``__ws`` in Lua)."""

    def __init__(self) -> None:
        self.sockets: dict[int, _Socket] = {}
        self.opened = 0  #: connection attempts (``open()`` calls)
        self.sent: list[str] = []  #: every text frame written, in order

    # called from Lua (main thread) -------------------------------------------------------
    def new(self, url: bytes) -> int:
        sid = len(self.sockets) + 1
        self.sockets[sid] = _Socket(url.decode())
        return sid

    def header(self, sid: int, key: bytes, value: bytes) -> None:
        self.sockets[sid].headers[key.decode()] = value.decode()

    def open(self, sid: int) -> None:
        self.opened += 1
        sock = self.sockets[sid]
        sock.thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        sock.thread.start()

    def write(self, sid: int, data: bytes) -> None:
        sock = self.sockets[sid]
        text = data.decode("utf-8")  # GWSockets sends text frames; this must be UTF-8
        with sock.lock:
            if sock.conn is None:
                if not sock.closed:
                    sock.pending.append(text)
                return
            conn = sock.conn
        self.sent.append(text)
        with contextlib.suppress(ConnectionClosed, OSError):  # the thread reports it
            conn.send(text)

    def close(self, sid: int, now: bool) -> None:
        sock = self.sockets[sid]
        with sock.lock:
            sock.closed = True
            conn = sock.conn
        if conn is not None:
            if now:
                _abort(conn)
            else:
                threading.Thread(target=conn.close, daemon=True).start()

    def connected(self, sid: int) -> bool:
        sock = self.sockets[sid]
        return sock.conn is not None and not sock.closed

    def poll(self, sid: int) -> tuple[bytes | None, bytes | None]:
        sock = self.sockets.get(sid)
        if sock is None:
            return None, None
        try:
            return sock.events.get_nowait()
        except queue.Empty:
            return None, None

    # the network thread -------------------------------------------------------------------
    def _run(self, sock: _Socket) -> None:
        try:
            conn = connect(sock.url, additional_headers=sock.headers, open_timeout=3,
                           max_size=None, compression=None, ping_interval=None)  # fmt: skip
        except Exception as exc:  # any failure: GWSockets' onError
            sock.events.put((b"error", f"Connection failed: {exc}".encode()))
            sock.events.put((b"disconnected", None))
            return
        with sock.lock:
            if sock.closed:
                _abort(conn)
                sock.events.put((b"disconnected", None))
                return
            sock.conn = conn
            pending, sock.pending = sock.pending, []
        sock.events.put((b"connected", None))
        with conn:  # leaving it closes the connection (a no-op once it is gone)
            try:
                for text in pending:
                    self.sent.append(text)
                    conn.send(text)
                while True:
                    message = conn.recv()
                    data = message.encode("utf-8") if isinstance(message, str) else message
                    sock.events.put((b"message", data))
            except (ConnectionClosed, OSError):
                pass
        # the close frame's reason (GWSockets master hands it to onDisconnected)
        reason = getattr(conn, "close_reason", None) or ""
        sock.events.put((b"disconnected", reason.encode("utf-8")))

    # test controls ------------------------------------------------------------------------
    def live(self) -> list[_Socket]:
        return [s for s in self.sockets.values() if s.conn is not None and not s.closed]

    def drop_all(self) -> None:
        """A network failure: every open socket is cut without a closing handshake."""
        for sock in self.live():
            assert sock.conn is not None
            _abort(sock.conn)

    def inject(self, text: bytes) -> None:
        """A frame 'from the daemon' on every open socket (garbage tests)."""
        for sid, sock in self.sockets.items():
            if sock.conn is not None and not sock.closed:
                self.sockets[sid].events.put((b"message", text))


def fetch_audio(url: bytes) -> tuple[int, bytes, float | None]:
    """What ``sound.PlayURL`` does with a URL, for the client stub: a real HTTP GET;
    the status, the content type and the length in seconds of the WAV file received
    (None when it is no audio BASS can open)."""
    import urllib.error
    import urllib.request

    from encounters.voice.wav import NotWav, wav_info

    try:
        with urllib.request.urlopen(url.decode(), timeout=5) as response:
            status, body = response.status, response.read()
            kind = response.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", None
    except OSError:
        return 0, b"", None
    try:
        seconds: float | None = wav_info(body).duration
    except NotWav:
        seconds = None
    return status, kind.encode(), seconds


def _abort(conn: ClientConnection) -> None:
    sock = conn.socket
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Realm:
    """One Lua state: the server or the client."""

    def __init__(self, version: str, side: str, world: GmodWorld) -> None:
        self.side = side
        self.lua = LUAJITS[version].LuaRuntime(encoding=None, unpack_returned_tuples=True)
        g = self.lua.globals()
        g[b"SERVER"] = side == "server"
        g[b"CLIENT"] = side == "client"
        g[b"__read_addon_file"] = self._read
        g[b"__net_send"] = lambda name, values, target, ids=None: world.net_send(
            self, name, values, target, ids
        )
        g[b"__fetch_audio"] = fetch_audio
        self.lua.execute(
            b"local __dirs = {}\n"
            b"function include(path)\n"
            b"  local src, resolved = __read_addon_file(path, __dirs[#__dirs] or '')\n"
            b"  local fn = assert(loadstring(src, '@' .. resolved))\n"
            b"  __dirs[#__dirs + 1] = string.match(resolved, '^(.*/)') or ''\n"
            b"  local r = { pcall(fn) }\n"
            b"  __dirs[#__dirs] = nil\n"
            b"  if not r[1] then error(r[2], 0) end\n"
            b"  return unpack(r, 2)\n"
            b"end\n"
            b"function AddCSLuaFile() end\n"
        )
        self.lua.execute(STUBS.read_bytes())
        self.g = g

    def _read(self, path: bytes, current: bytes) -> tuple[bytes, bytes]:
        base = ADDON_LUA.resolve()
        for candidate in (current.decode() + path.decode(), path.decode()):
            target = (ADDON_LUA / candidate).resolve()
            if base in target.parents and target.is_file():
                return target.read_bytes(), candidate.encode()
        raise FileNotFoundError(path.decode())

    def run(self, code: str | bytes) -> Any:
        return self.lua.execute(code.encode() if isinstance(code, str) else code)

    def eval(self, code: str | bytes) -> Any:
        return self.lua.eval(code.encode() if isinstance(code, str) else code)

    def load_entity(self, name: str) -> None:
        """As GMod loads ``lua/entities/NAME/``: a fresh ``ENT``, the realm's file, register."""
        first = "init.lua" if self.side == "server" else "cl_init.lua"
        self.run(
            f'ENT = {{ Folder = "entities/{name}" }}\n'
            f'include("entities/{name}/{first}")\n'
            f'scripted_ents.Register(ENT, "{name}")\n'
            "ENT = nil\n"
        )

    def console(self) -> list[str]:
        log = self.g[b"__console"]
        return [log[i].decode("utf-8", "replace") for i in range(1, len(log) + 1)]


class GmodWorld:
    """A dedicated server with one client, the addon installed. ``data_dir`` is the
    server's ``garrysmod/data`` (it outlives a map change: a new world on the same folder
    is the next map); ``gwsockets_release`` is the GWSockets behaviour: ``"1.3.0"`` passes
    ``""`` to ``onDisconnected``, ``"master"`` the close reason."""

    def __init__(
        self,
        version: str,
        convars: dict[str, str],
        *,
        gwsockets: bool = True,
        data_dir: Path | None = None,
        gwsockets_release: str = "1.3.0",
    ) -> None:
        self.sockets = Sockets()
        self.server = Realm(version, "server", self)
        self.client = Realm(version, "client", self)
        self.net_queue: list[tuple[bytes, list[bytes]]] = []
        #: every net message the server sent: (name, UserIDs of the recipients, or None
        #: for a broadcast)
        self.net_log: list[tuple[str, list[int] | None]] = []
        #: the UserID of the player at the client (None: the client gets every message)
        self.client_player: int | None = None
        self.start = time.monotonic()
        presets = self.server.lua.table()
        for k, v in convars.items():
            presets[k.encode()] = v.encode()
        self.server.g[b"__preset_convars"] = presets
        self.server.g[b"__gwsockets_installed"] = gwsockets
        self.server.g[b"__gwsockets_release"] = gwsockets_release.encode()
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gmod-data-")
            data_dir = Path(self._tmp.name)
        self.data_dir = data_dir
        self.server.g[b"__data_dir"] = str(data_dir).encode()
        self.server.g[b"__is_dir"] = lambda path: Path(path.decode()).is_dir()
        self.server.g[b"__make_dir"] = lambda path: Path(path.decode()).mkdir(
            parents=True, exist_ok=True
        )
        ws = self.server.lua.table()
        for name in ("new", "header", "open", "write", "close", "connected", "poll"):
            ws[name.encode()] = getattr(self.sockets, name)
        self.server.g[b"__ws"] = ws
        self._set_time()
        # the load order of a dedicated server: autorun/server, entities, then the map
        for path in sorted((ADDON_LUA / "autorun" / "server").glob("*.lua")):
            self.server.run(f'include("autorun/server/{path.name}")')
        for path in sorted((ADDON_LUA / "autorun" / "client").glob("*.lua")):
            self.client.run(f'include("autorun/client/{path.name}")')
        for folder in sorted((ADDON_LUA / "entities").iterdir()):
            self.server.load_entity(folder.name)
            self.client.load_entity(folder.name)
        self.server.run('hook.Run("Initialize") hook.Run("InitPostEntity")')

    def _set_time(self) -> None:
        t = time.monotonic() - self.start + 1.0
        for realm in (self.server, self.client):
            realm.g[b"__set_time"](t, 0.015)

    def net_send(
        self, realm: Realm, name: bytes, values: Any, target: bytes = b"all", ids: Any = None
    ) -> None:
        assert realm.side == "server", "the client sends nothing in these tests"
        items = [values[i] for i in range(1, len(values) + 1)]
        recipients = None if ids is None else [int(ids[i]) for i in range(1, len(ids) + 1)]
        self.net_log.append((name.decode(), recipients))
        if recipients is None or self.client_player is None or self.client_player in recipients:
            self.net_queue.append((name, items))

    def tick(self) -> None:
        self._set_time()
        self.server.g[b"__tick"]()
        queued, self.net_queue = self.net_queue, []
        for name, items in queued:
            table = self.client.lua.table(*items)
            if not self.client.g[b"__net_deliver"](name, table):
                raise AssertionError(f"the client has no receiver for net message {name!r}")
        self.client.g[b"__tick"]()
        errors = self.server.g[b"__lua_errors"]
        if len(errors):
            raise AssertionError(f"Lua error in the server realm: {errors[1].decode()}")

    def run_until(self, check: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.tick()
            if check():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
            time.sleep(0.01)

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.tick()
            time.sleep(0.01)

    def chat_lines(self) -> list[str]:
        """What the client's chat box shows, one line per chat.AddText, colours dropped."""
        log = self.client.g[b"__chat_log"]
        lines = []
        for i in range(1, len(log) + 1):
            entry = log[i]
            parts = [entry[j] for j in range(1, entry[b"n"] + 1)]
            lines.append(b"".join(p for p in parts if isinstance(p, bytes)).decode("utf-8"))
        return lines

    def change_map(self) -> None:
        """The end of this map: GMod runs ``ShutDown``, then the Lua state is gone (its
        sockets with it). A new :class:`GmodWorld` on the same ``data_dir`` is the next map."""
        self.server.run('hook.Run("ShutDown")')
        self.close()

    def close(self) -> None:
        for sid in list(self.sockets.sockets):
            self.sockets.close(sid, True)
