"""Which asyncio event loop the daemon runs on: uvloop (libuv, in C) or the standard
library's.

The daemon's hot path is CPU-bound in one event loop (see ``benchmarks/bench_bridge.py``
and ``docs/architecture.md``): every action wakes tasks, writes to a socket and reads
the adapter's acknowledgement. uvloop does that scheduling and socket work in C, which
the relay benchmark measures as less CPU per action. It comes with the ``speed`` extra
(``pip install 'ai-encounters[bridge,speed]'``; not on Windows) and is used when the
operator asks for it (``event_loop`` in the bridge config, ``AE_BRIDGE_EVENT_LOOP`` or
``--event-loop``):

- ``asyncio`` (the default): the standard library's loop;
- ``uvloop``: uvloop, and a clear error at start when it is not installed;
- ``auto``: uvloop when it can be imported, else asyncio's loop.

Why uvloop is not the default: at the process's file-descriptor limit (a flood of
sockets) libuv accepts each pending connection and closes it at once, where asyncio
stops accepting for a second and leaves them queued; so on uvloop a flood also drops
the control API's requests and new links that asyncio serves once sockets free up
(``tests/bridge/test_trust.py``, the descriptor-limit flood). Choose it where the
process's descriptor limit is far above the links it holds.

Limits: the choice is made once, when the daemon starts; every part of the daemon
(websockets, uvicorn, aiosqlite, anyio) runs unchanged on either loop.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

from encounters.errors import ConfigError

EventLoop = Literal["auto", "uvloop", "asyncio"]
EVENT_LOOPS: tuple[EventLoop, ...] = ("auto", "uvloop", "asyncio")


def uvloop_installed() -> bool:
    """Whether uvloop can be imported here."""
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: EventLoop) -> Literal["uvloop", "asyncio"]:
    """The loop ``choice`` runs on here; raises :class:`ConfigError` for ``uvloop``
    when it is not installed (the daemon must not start on another loop silently)."""
    if choice == "asyncio":
        return "asyncio"
    if uvloop_installed():
        return "uvloop"
    if choice == "uvloop":
        raise ConfigError(
            "event_loop is 'uvloop' but uvloop is not installed: "
            "pip install 'ai-encounters[speed]' (not on Windows), or use 'auto' or 'asyncio'"
        )
    return "asyncio"


def backend_options(choice: EventLoop) -> dict[str, Any]:
    """``anyio.run``'s ``backend_options`` for ``choice`` (see :func:`resolve`)."""
    return {"use_uvloop": True} if resolve(choice) == "uvloop" else {}


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop running the calling task."""
    import asyncio

    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


__all__ = [
    "EVENT_LOOPS",
    "EventLoop",
    "backend_options",
    "resolve",
    "running_loop_name",
    "uvloop_installed",
]
