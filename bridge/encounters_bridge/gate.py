"""The control API's front door, a pure ASGI middleware that runs before FastAPI reads
anything: it authenticates the caller from the ``Authorization`` header alone and
enforces the request body limit, so a request without a valid key is answered 401
and an oversized one 413 without their bodies being read.

- Public paths (``/health``, the OpenAPI document, the docs, the studio's static
  files and the signed voice links under ``/audio/``, see ``audio.py``) need no key; every
  other request needs ``Authorization: Bearer <key>``: a control-API key (``ae_ak_``)
  or a game server's world key (``ae_wk_``). The record found is put in the request's
  state as ``principal`` for the routes' role checks (``routes.auth``).
- A ``Content-Length`` above the limit is refused at once; a body without one (chunked)
  is counted while it is read and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from .keys import check_api_key, find_world_key
from .store.models import ApiKey, WorldKey
from .store.protocols import KeyStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The default request body limit: 1 MiB.
MAX_BODY_BYTES = 1024 * 1024
#: Paths anyone may read: the health check and the API's own documentation.
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/studio"})
#: The docs', the studio's and the web world's static files (the studio and the web world
#: sign in and send the key with every API call they make; their pages hold no secret),
#: and voiced lines' audio (each URL carries its own signature and expiry)
PUBLIC_PREFIXES = ("/docs/static/", "/studio/", "/play/", "/audio/")


class BodyTooLarge(HTTPException):
    """A body passed the limit while it was being read (FastAPI passes this on to the
    app's error handlers, which answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def authenticate(store: KeyStore, authorization: str | None) -> ApiKey | WorldKey | None:
    """The key record a ``Bearer`` header names, when it is valid and not revoked."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    key = authorization.removeprefix("Bearer ").strip()
    if key.startswith("ae_wk_"):
        return await find_world_key(store, key)
    return await check_api_key(store, key)


async def _answer(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": {"message": message, "errors": []}}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"), *(headers or [])],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Authentication and the body limit in front of ``app`` (see the module)."""

    def __init__(self, app: ASGIApp, store: KeyStore, *, max_body_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.store = store
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        path: str = scope["path"]
        if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            raw = headers.get(b"authorization", b"").decode("latin-1")
            principal = await authenticate(self.store, raw)
            if principal is None:
                await _answer(send, 401, "a valid API key is needed: Authorization: Bearer <key>",
                              [(b"www-authenticate", b"Bearer")])  # fmt: skip
                return
            scope.setdefault("state", {})["principal"] = principal
        limit = self.max_body_bytes
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"the request body is larger than {limit} bytes")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, f"the request body is larger than {limit} bytes")
