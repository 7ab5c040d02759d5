"""Frames and their two encodings (see ``bridge/PROTOCOL.md``).

No sockets here: bytes or text in, :class:`Frame` out, and back. Limits: a frame over
``max_bytes`` is refused before it is parsed; JSON or MessagePack nested deeper than
``MAX_DEPTH`` is refused (a decoder must not recurse without bound on input from the
network); anything that is not an object with a string ``op`` is a decode error. Text
from the wire holds no NUL and no lone surrogate: both read as U+FFFD. JSON may escape
half a surrogate pair with no other half (``"\\ud800"``), which Python's decoder gives
back as it is, and both JSON and MessagePack may carry U+0000; no UTF-8 text holds the
one and PostgreSQL's text holds neither, so a key, a server id, a link id or an event's
``sid`` naming one failed deep in the daemon (an internal error, or an event the store
refused for good and the adapter sent again forever).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

import msgpack
import orjson

Encoding = Literal["json", "msgpack"]
PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_DEPTH = 32
#: Largest sequence number: exact in every adapter language (JSON numbers, Lua, JS).
MAX_SEQUENCE = 2**53 - 1
#: A JSON escape of NUL or of a surrogate (either half): only JSON text holding one
#: needs the walk that replaces them (MessagePack: only data holding a zero byte).
_ODD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_ODD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    UNKNOWN_ERROR = 4000
    DECODE_ERROR = 4002
    NOT_IDENTIFIED = 4003
    AUTH_FAILED = 4004
    ALREADY_IDENTIFIED = 4005
    INVALID_SEQUENCE = 4007
    RATE_LIMITED = 4008
    SESSION_INVALID = 4009
    UNSUPPORTED_PROTOCOL = 4011
    FRAME_TOO_LARGE = 4012
    HEARTBEAT_TIMEOUT = 4013
    REPLACED = 4014

    @property
    def retry(self) -> Literal["resume", "identify", "stop"]:
        """What an adapter should do after this close."""
        if self in (
            CloseCode.NORMAL,
            CloseCode.AUTH_FAILED,
            CloseCode.UNSUPPORTED_PROTOCOL,
            CloseCode.REPLACED,
        ):
            return "stop"
        if self in (
            CloseCode.NOT_IDENTIFIED,
            CloseCode.SESSION_INVALID,
            CloseCode.INVALID_SEQUENCE,
        ):
            return "identify"
        return "resume"


class DecodeError(ValueError):
    """The data is not a frame; ``code`` is the close code it deserves."""

    def __init__(self, message: str, code: CloseCode = CloseCode.DECODE_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    op: str
    d: dict[str, Any] = field(default_factory=dict)
    s: int | None = None
    sid: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "d": self.d}
        if self.s is not None:
            out["s"] = self.s
        if self.sid is not None:
            out["sid"] = self.sid
        return out


def depth_ok(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` nests at most ``MAX_DEPTH`` containers below it (a frame: the
    envelope is level 0, ``d`` level 1). What the daemon checks of every frame it reads,
    and an adapter of every event it is given (``AdapterLink.event``). Recursive, but
    never deeper than ``MAX_DEPTH`` + 1 calls; a value that holds itself is too deep."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(depth_ok(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(depth_ok(v, depth + 1) for v in value)
    return True


def _odd_text(value: Any, depth: int = 0) -> bool:
    """Whether a string in ``value`` (keys included) holds a NUL or a lone surrogate:
    a walk that builds nothing, so a frame that merely might (a MessagePack zero byte
    is most often a number's) is not rebuilt. Not past ``MAX_DEPTH`` (such a frame is
    refused anyway)."""
    if isinstance(value, str):  # (an ASCII string holds no surrogate)
        return "\x00" in value or (not value.isascii() and _ODD_CHARACTER.search(value) is not None)
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        for k, v in value.items():
            if _odd_text(k, depth + 1) or _odd_text(v, depth + 1):
                return True
    elif isinstance(value, list):
        for v in value:
            if _odd_text(v, depth + 1):
                return True
    return False


def _whole(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate in its strings (keys included)
    replaced by U+FFFD. A pair escaped in JSON is one character once decoded, so any
    surrogate left is a lone one. Called only on data that holds one
    (:func:`_odd_text`); it is walked once more by ``frame_from`` for its depth."""
    if isinstance(value, str):
        return _ODD_CHARACTER.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_whole(k): _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def json_text(value: Any, *, stored: bool = False) -> str:
    """``value`` as compact JSON text (non-ASCII characters as themselves), by orjson
    (a C codec, ten times the standard library's speed on a frame). What orjson
    refuses (integers beyond 64 bits, keys that are not strings, lone surrogates) is
    written by the standard library as before: for the wire compact, ``stored``
    (the outbox) with escapes, so a lone surrogate is still stored. Limit: NaN and
    infinities, which JSON cannot spell, come out as ``null`` (the standard library
    wrote ``NaN``, which no adapter's JSON parser reads); moderation lets no such
    coordinate through."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        if stored:
            return json.dumps(value)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode(frame: Frame, encoding: Encoding) -> str | bytes:
    """Text for JSON links, bytes for MessagePack links."""
    wire = frame.to_wire()
    if encoding == "json":
        return json_text(wire)
    packed: bytes = msgpack.packb(wire, use_bin_type=True)
    return packed


def decode(data: str | bytes, encoding: Encoding, max_bytes: int = MAX_FRAME_BYTES) -> Frame:
    """One frame from the wire, or :class:`DecodeError`."""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise DecodeError(
            f"frame of {size} bytes is over the {max_bytes} limit", CloseCode.FRAME_TOO_LARGE
        )
    try:
        if encoding == "json":
            if isinstance(data, bytes):
                raise DecodeError("this link speaks JSON in text frames; got a binary frame")
            raw = json.loads(data)
            if _ODD_ESCAPE.search(data) is not None and _odd_text(raw):
                raw = _whole(raw)
        else:
            if isinstance(data, str):
                raise DecodeError("this link speaks MessagePack in binary frames; got text")
            raw = msgpack.unpackb(
                data, raw=False, strict_map_key=True, max_array_len=10_000, max_map_len=10_000
            )
            if b"\x00" in data and _odd_text(raw):
                raw = _whole(raw)
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("frame is nested too deeply") from None
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        UnicodeDecodeError,
    ) as exc:
        raise DecodeError(f"not valid {encoding}: {exc}") from None
    return frame_from(raw)


def frame_from(raw: Any) -> Frame:
    """Check the envelope of a decoded value."""
    if not isinstance(raw, dict):
        raise DecodeError("a frame must be an object")
    if not depth_ok(raw):
        raise DecodeError(f"frame is nested deeper than {MAX_DEPTH}")
    op = raw.get("op")
    if not isinstance(op, str) or not op:
        raise DecodeError("a frame needs a string 'op'")
    d = raw.get("d", {})
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise DecodeError("'d' must be an object")
    s = raw.get("s")
    if s is not None and (
        not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= MAX_SEQUENCE
    ):
        raise DecodeError(f"'s' must be a whole number from 1 to {MAX_SEQUENCE}")
    sid = raw.get("sid")
    if sid is not None and (not isinstance(sid, str) or not 0 < len(sid) <= 64):
        raise DecodeError("'sid' must be a string of 1 to 64 characters")
    return Frame(op, d, s, sid)
