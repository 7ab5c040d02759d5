"""Requests from one node to another over Redis, with a reply: the signal bus.

A node's inbox is the Redis list ``<prefix>:inbox:<node id>``; a caller pushes a JSON
request naming a reply list ``<prefix>:reply:<caller>:<request id>`` and waits on it
(``BLPOP``). The node pops each request, runs it and pushes the answer.

Why lists and not pub/sub: pub/sub delivers at most once and says nothing when a
message is dropped, so a caller could not tell "never received" from "received, then
the node died". With a list a caller whose callee died removes its request
(``LREM``): when that succeeds, the request was never taken and nothing of it was
done, so the caller may safely send it elsewhere (:class:`NotDelivered`); when it
fails, the callee took it and the outcome is unknown (:class:`CalleeDied`), which the
caller reports as such instead of guessing.

Limits: a request waits in the inbox of a live but busy node for as long as that node
takes; a caller gives up after ``wait`` seconds (:class:`CalleeSilent`, outcome
unknown). Replies are kept 60 s for a caller that stopped waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from encounters._util.redis import redis_key
from encounters.log import get_logger
from encounters.settings import Settings

from .node import Node

log = get_logger(__name__)
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: Seconds one blocking pop waits before the caller looks whether the callee lives.
POLL = 0.5
#: Seconds a reply nobody collected is kept.
REPLY_TTL_MS = 60_000


class BusError(Exception):
    """A request to another node did not get its answer."""


class NotDelivered(BusError):
    """The callee died before taking the request: nothing of it was done."""


class CalleeDied(BusError):
    """The callee took the request and died before answering: it may have been done."""


class CalleeSilent(BusError):
    """The callee is alive but did not answer in time: it may still be done."""


class SignalBus:
    """This node's inbox (served by :meth:`serve`) and its calls to other nodes."""

    def __init__(self, redis: Any, settings: Settings, node: Node, handler: Handler) -> None:
        self.redis = redis
        self.settings = settings
        self.node = node
        self.handler = handler
        self._tasks: set[asyncio.Task[None]] = set()

    def inbox(self, node_id: str) -> str:
        return redis_key(self.settings, "inbox", node_id)

    async def call(self, node_id: str, request: dict[str, Any], *, wait: float) -> dict[str, Any]:
        """Send ``request`` to ``node_id`` and return its answer; see the module's
        docstring for the errors."""
        reply = redis_key(self.settings, "reply", self.node.id, secrets.token_hex(8))
        body = json.dumps({**request, "reply": reply}, separators=(",", ":"))
        inbox = self.inbox(node_id)
        await self.redis.rpush(inbox, body)
        await self.redis.pexpire(inbox, REPLY_TTL_MS)
        give_up = time.monotonic() + wait
        while True:
            got = await self.redis.blpop([reply], timeout=POLL)
            if got is not None:
                answer: dict[str, Any] = json.loads(got[1])
                return answer
            dead = not await self.node.alive(node_id)
            if dead or time.monotonic() > give_up:
                if await self.redis.lrem(inbox, 1, body):
                    raise NotDelivered(f"node {node_id} did not take the request")
                got = await self.redis.lpop(reply)  # answered just now?
                if got is not None:
                    answer = json.loads(got)
                    return answer
                if dead:
                    raise CalleeDied(f"node {node_id} died while answering")
                raise CalleeSilent(f"node {node_id} did not answer within {wait:.0f} s")

    async def serve(self) -> None:
        """Take requests from this node's inbox and answer each (concurrently) until
        cancelled."""
        inbox = self.inbox(self.node.id)
        while True:
            try:
                got = await self.redis.blpop([inbox], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: try again in a moment
                log.warning("cluster.inbox_failed", error=repr(exc))
                await asyncio.sleep(POLL)
                continue
            if got is None:
                continue
            task = asyncio.get_running_loop().create_task(self._answer(got[1]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, body: bytes) -> None:
        try:
            request = json.loads(body)
            reply = str(request["reply"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("cluster.bad_request", error=repr(exc))
            return
        try:
            answer = await self.handler(request)
        except Exception as exc:  # a bug: the caller hears of it rather than waiting
            log.exception("cluster.request_failed", op=request.get("op"), error=repr(exc))
            answer = {"error": "failed", "message": f"internal error on node {self.node.id}"}
        await self.redis.rpush(reply, json.dumps(answer, separators=(",", ":")))
        await self.redis.pexpire(reply, REPLY_TTL_MS)

    async def close(self) -> None:
        """Let the answers being written finish (bounded by the caller)."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
