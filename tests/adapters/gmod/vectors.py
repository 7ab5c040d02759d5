"""The shared conformance vectors with the addon's protocol module on the wire.

:class:`LuaRunner` is the reference :class:`~tests.support.vectors.Runner` (its
daemon, harness steps, patterns and timeouts) with the codec swapped: every frame the
adapter sends is produced by ``lua_addon/lua/ai_companion/protocol.lua`` (and its JSON
codec) running in LuaJIT, and every frame the daemon sends is decoded and
envelope-checked by the same module before the pattern sees it. The socket is a real
``websockets`` client (GWSockets cannot run outside the game).

Raw steps stay raw, as the spec says they are: ``send_raw`` / ``send_raw_b64`` send the
vector's exact bytes, and ``send_nested`` builds its deep frame iteratively without a
codec (the addon's decoder refuses depth over 32 by design, and an encoder is never
asked for depth 30000 by a game).
"""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed

from tests.support.vectors import Runner, VectorFailure

from .lua import Codec


class LuaRunner(Runner):
    codec: Codec

    def _lua_encode(self, value: Any) -> str:
        # GWSockets writes text frames; the addon's bytes are UTF-8
        return self.codec.encode(value).decode("utf-8")

    async def _send(self, frame: Any) -> None:
        await self._put(self._lua_encode(self._subst(frame)))

    async def _send_sized(self, arg: dict[str, Any]) -> None:
        frame = self._subst(arg["frame"])
        size = arg["bytes"]
        pad = 0
        for _ in range(8):
            data = self.codec.encode({**frame, "pad": "x" * pad})
            if len(data) == size:
                await self._put(data.decode("utf-8"))
                return
            pad = max(0, pad + size - len(data))
        raise AssertionError(f"cannot pad {frame!r} to exactly {size} bytes")

    async def _send_many(self, arg: dict[str, Any]) -> None:
        template = json.dumps(arg["frame"])
        for i in range(arg["count"]):
            seq = arg.get("first", 1) + i
            frame = json.loads(template.replace('"$seq"', str(seq)))
            try:
                await self._socket().send(self._lua_encode(self._subst(frame)))
            except ConnectionClosed:
                return

    async def _frame(self) -> dict[str, Any]:
        data = await self._next()
        if isinstance(data, bytes):
            raise VectorFailure(f"the daemon sent a binary frame on a json link: {data!r}")
        try:
            wire = self.codec.decode(data.encode("utf-8"))
        except ValueError as exc:
            raise VectorFailure(f"the addon could not decode {data!r}: {exc}") from None
        self._observe(wire)
        return wire
