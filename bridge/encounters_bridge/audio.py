"""Short-lived signed links to spoken lines: what a game client fetches to play a
companion's voice (GMod's ``sound.PlayURL``, the web world's audio element).

A link is ``BASE/audio/<key>.wav?exp=<unix time>&sig=<HMAC-SHA256(key, exp)>``. Game
clients cannot send an API key with a sound request, so the signature is the
authorisation: it proves the daemon made the link, and ``exp`` bounds how long it
works (``ttl``, ten minutes by default). The key is the line's content hash: it says
nothing of the text.

Limits: the signing secret is made per process, so a restarted daemon's earlier links
stop working (they are short-lived anyway: a dispatch replayed much later arrives with
a dead link, and its text still shows); in a cluster a link works on the node that
made it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable

from encounters.voice.cache import KEY_PATTERN


class AudioLinkError(Exception):
    """A link that must not be served; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AudioLinks:
    """Makes and checks signed audio links (see the module)."""

    def __init__(
        self,
        base_url: str,
        *,
        ttl: float = 600.0,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock

    def _sign(self, key: str, exp: int) -> str:
        mac = hmac.new(self._secret, f"{key}.{exp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, key: str, *, now: float | None = None) -> str:
        """A link to the line ``key`` that works for ``ttl`` seconds from ``now``
        (default: the present)."""
        exp = math.ceil((self._clock() if now is None else now) + self.ttl)
        return f"{self.base_url}/audio/{key}.wav?exp={exp}&sig={self._sign(key, exp)}"

    def check(self, key: str, exp: str | None, sig: str | None) -> None:
        """Nothing when the link is good; :class:`AudioLinkError` saying why not."""
        if not KEY_PATTERN.match(key):
            raise AudioLinkError(404, "no such audio line: the link's name is not a line key")
        if not exp or not sig or not (exp.isascii() and exp.isdigit()) or len(exp) > 12:
            raise AudioLinkError(403, "the audio link is incomplete (exp and sig are needed); "
                                 "use the link from the action as given")  # fmt: skip
        given = sig.encode("utf-8", "replace")  # any text: compare_digest wants ASCII str
        if not hmac.compare_digest(self._sign(key, int(exp)).encode(), given):
            raise AudioLinkError(403, "the audio link's signature does not match: it was "
                                 "altered, or made by another daemon process")  # fmt: skip
        late = self._clock() - int(exp)
        if late > 0:
            raise AudioLinkError(
                403,
                f"the audio link expired {late:.0f} s ago (links last {self.ttl:.0f} s); "
                "the line's text is still in the chat",
            )

    def seconds_left(self, exp: str) -> int:
        return max(0, int(int(exp) - self._clock()))
