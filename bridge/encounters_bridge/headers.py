"""Security headers on every HTTP answer of the control API (one middleware, here).

The daemon serves pages to browsers (the studio at ``/studio``, the web world at
``/play/{server}``, Swagger UI at ``/docs``) beside a JSON API, and everything those
pages show may come from an untrusted writer (another creator's persona, a player's
chat line, a listing's text). The pages render such text as text; these headers are the
second wall, for the day one does not:

- ``Content-Security-Policy`` (:func:`content_security_policy`): scripts only from the
  daemon's own files (no inline script, no ``eval``), nothing loaded from another site,
  no ``<object>``, no ``<base>``, forms post only here, and no framing
  (``frame-ancestors 'none'``: nobody can overlay the approve or deploy buttons).
  Styles may be inline: Monaco (the studio's JSON view) writes ``<style>`` elements at
  run time. A page that needs one more source (the web world's link to the edge's
  port, the voice links' address, Swagger UI's one inline script by its hash) sends
  its own policy built by the same function; an answer that has one keeps it.
- ``X-Content-Type-Options: nosniff``: an uploaded or echoed text is never run as a
  script or styled as CSS because a browser guessed its type.
- ``X-Frame-Options: DENY``: ``frame-ancestors`` for browsers that predate it.
- ``Referrer-Policy: no-referrer``: no page address (a session id, a signed voice
  link) leaves in a ``Referer`` header.

Limits: the headers are set on HTTP answers only (a WebSocket handshake has no page);
behind a reverse proxy the proxy may add its own, which browsers combine (the
strictest wins).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: on every answer
FIXED = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)


def content_security_policy(
    *,
    connect: Iterable[str] = (),
    media: Iterable[str] = (),
    scripts: Iterable[str] = (),
) -> str:
    """The pages' policy; ``connect``, ``media`` and ``scripts`` add sources (origins
    such as ``ws://host:3002``, or ``'sha256-…'`` hashes of inline scripts) to
    ``connect-src``, ``media-src`` and ``script-src``."""

    def sources(*names: str) -> str:
        return " ".join(dict.fromkeys(names))  # in order, once each

    return "; ".join((
        "default-src 'self'",
        "script-src " + sources("'self'", *scripts),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src " + sources("'self'", *connect),
        "media-src " + sources("'self'", "blob:", *media),
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))  # fmt: skip


POLICY = content_security_policy()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL (a CSP source names no path)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


class SecurityHeaders:
    """ASGI middleware: :data:`FIXED` and, unless the answer carries its own,
    :data:`POLICY` on every HTTP answer, refusals and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in FIXED:
                    headers[name] = value
                headers.setdefault("content-security-policy", POLICY)
            await send(message)

        await self.app(scope, receive, sending)


__all__ = ["FIXED", "POLICY", "SecurityHeaders", "content_security_policy", "origin_of"]
