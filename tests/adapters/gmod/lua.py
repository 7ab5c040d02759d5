"""LuaJIT runtimes (through lupa) with the addon's modules loaded, and conversions
between Python values and the addon's JSON-shaped Lua tables.

Every runtime is opened with ``encoding=None``: Lua strings are bytes on both sides, so
UTF-8 crosses untouched and a test sees exactly the bytes the addon produced.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from lupa import luajit20, luajit21  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
ADDON = ROOT / "lua_addon"
ADDON_LUA = ADDON / "lua"
STUBS = Path(__file__).resolve().parent / "stubs.lua"

#: the two LuaJIT versions Garry's Mod ships (2.1 on the x86-64 branch, 2.0 on main)
LUAJITS: dict[str, ModuleType] = {"luajit21": luajit21, "luajit20": luajit20}


def read_addon_file(path: bytes | str) -> bytes:
    """``include("ai_companion/x.lua")`` as GMod resolves it: under ``lua/``."""
    name = path.decode() if isinstance(path, bytes) else path
    target = (ADDON_LUA / name).resolve()
    if ADDON_LUA.resolve() not in target.parents:
        raise FileNotFoundError(name)
    return target.read_bytes()


def new_runtime(version: str) -> Any:
    """A LuaJIT runtime with ``include`` (load a file under ``lua_addon/lua``, run it,
    return what it returns; like GMod's, it does not cache) and nothing else of GMod."""
    lua = LUAJITS[version].LuaRuntime(encoding=None, unpack_returned_tuples=True)
    lua.globals()[b"__read_addon_file"] = read_addon_file
    lua.execute(
        b"function include(path)\n"
        b"  local src = __read_addon_file(path)\n"
        b"  local fn = assert(loadstring(src, '@' .. path))\n"
        b"  return fn()\n"
        b"end\n"
        b"function AddCSLuaFile() end\n"
    )
    return lua


class Codec:
    """The addon's protocol module in one runtime, with Python <-> Lua conversions."""

    def __init__(self, lua: Any) -> None:
        self.lua = lua
        self.P = lua.eval(b'include("ai_companion/protocol.lua")')
        self.json = self.P.json
        self.null = self.json.null
        self._kind = self.json.kind_of
        self._is_null = lua.eval(b"function(j, v) return rawequal(v, j.null) end")
        self._decode = lua.eval(
            b"function(P, data, max) local f, err, code = P.decode(data, max)"
            b" return f, err, code end"
        )
        self._encode_frame = lua.eval(
            b"function(P, op, d, s, sid) return P.encode({op = op, d = d, s = s, sid = sid}) end"
        )

    def to_lua(self, value: Any) -> Any:
        if value is None:
            return self.null
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            table = self.lua.table()
            for k, v in value.items():
                table[k.encode("utf-8")] = self.to_lua(v)
            return self.json.object(table)
        if isinstance(value, list):
            table = self.lua.table()
            for i, v in enumerate(value, 1):
                table[i] = self.to_lua(v)
            return self.json.array(table)
        return value  # bool, int, float

    def from_lua(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)  # Lua 5.1 has one number type: whole numbers are ints
        if value is None or isinstance(value, bool | int | float):
            return value
        if self._is_null(self.json, value):
            return None
        if self._kind(value) == b"array":
            return [self.from_lua(value[i]) for i in range(1, len(value) + 1)]
        return {k.decode("utf-8"): self.from_lua(v) for k, v in value.items()}

    def encode(self, value: Any) -> bytes:
        """JSON text made by the addon: frames through ``protocol.encode``, anything
        else (arrays, scalars, objects without ``op``) through its JSON encoder."""
        if (
            isinstance(value, dict)
            and isinstance(value.get("op"), str)
            and "d" in value
            and set(value) <= {"op", "d", "s", "sid"}
        ):
            data: bytes = self._encode_frame(
                self.P,
                value["op"].encode(),
                self.to_lua(value["d"]),
                self.to_lua(value["s"]) if "s" in value else None,
                self.to_lua(value["sid"]) if "sid" in value else None,
            )
            return data
        encoded: bytes = self.json.encode(self.to_lua(value))
        return encoded

    def decode(self, data: bytes, max_bytes: int = 1 << 24) -> dict[str, Any]:
        """A daemon frame decoded and checked by ``protocol.decode``, in wire form
        ``{op, d, s?, sid?}``; ``ValueError`` with the module's message otherwise."""
        frame, err, code = self._decode(self.P, data, max_bytes)
        if frame is None:
            raise ValueError(f"{err.decode()} ({code})")
        wire: dict[str, Any] = {"op": frame.op.decode(), "d": self.from_lua(frame.d)}
        if frame.s is not None:
            wire["s"] = self.from_lua(frame.s)
        if frame.sid is not None:
            wire["sid"] = frame.sid.decode()
        return wire
