"""The daemon's own settings (``ae bridge serve``), from four layers, later ones winning:
defaults, a TOML file's ``[bridge]`` table, ``AE_BRIDGE_*`` environment variables, then
command-line flags. An operator keeps the file in version control and overrides per
host with the environment (containers) or a flag (a one-off run).

Every bad value is reported at once, each naming where it came from (``bridge.toml:
[bridge] port``, ``AE_BRIDGE_PORT``, ``--port``), so a typo never starts a daemon on
the wrong port. Unknown keys in the file are errors for the same reason. The engine's
settings (data folder, moderation limits, LLM keys) stay in ``AE_*``: see
:mod:`encounters.settings`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from encounters.errors import ConfigError

from .forwarded import Network, parse_networks
from .frames import MAX_FRAME_BYTES
from .links import IDLE_LINK_TTL, MAX_UNACKED_DISPATCHES

ENV_PREFIX = "AE_BRIDGE_"
#: The environment variable naming the config file when ``--config`` is not given.
CONFIG_ENV = "AE_BRIDGE_CONFIG"


class BridgeConfig(BaseModel):
    """What ``ae bridge serve`` listens on and how it treats links."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Address both servers listen on; ``0.0.0.0`` exposes them to the network.
    host: str = Field("127.0.0.1", min_length=1)
    #: WebSocket port for adapters (``ws://HOST:PORT/ws``).
    port: int = Field(3002, ge=0, le=65535)
    #: HTTP port of the control API.
    http_port: int = Field(3001, ge=0, le=65535)
    #: Seconds between heartbeats; a link silent for two intervals is closed.
    heartbeat: float = Field(15.0, gt=0, le=300)
    #: Seconds a deploy token stays valid after approval.
    token_ttl: float = Field(3600.0, gt=0, le=30 * 24 * 3600)
    #: Largest frame a link may send, bytes (larger ones close the link with 4012).
    max_frame_bytes: int = Field(MAX_FRAME_BYTES, ge=1024, le=16 * 1024 * 1024)
    #: Largest control-API request body, bytes (larger ones are answered 413 unread).
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: Connections that have not identified yet, in all and from one address (beyond
    #: them a new connection is closed with 4008); raise the second for many game
    #: servers behind one address (NAT, a hosting provider).
    max_unidentified: int = Field(256, ge=1, le=1_000_000)
    max_unidentified_per_address: int = Field(32, ge=1, le=1_000_000)
    #: Reverse proxies whose ``X-Forwarded-For`` names the client (IP addresses or
    #: CIDR networks, IPv4 or IPv6; comma-separated in ``AE_BRIDGE_TRUSTED_PROXIES``):
    #: the per-address limits then count each game server and browser behind the
    #: proxy on its own (see :mod:`.forwarded`). Empty: the header is ignored.
    trusted_proxies: tuple[Network, ...] = ()
    #: The control API's address as players reach it (``https://bridge.example.org``),
    #: for the links to companions' voices and, behind a reverse proxy that serves the
    #: edge at ``/ws``, the web world's link; default ``http://HOST:HTTP_PORT``.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    #: Seconds a voice link works after its action was sent.
    audio_url_ttl: float = Field(600.0, gt=0, le=24 * 3600)
    #: Several nodes (``AE_REDIS`` set): seconds a node's liveness and its link leases
    #: last without renewal (renewed every third of it). A killed node's links move to
    #: another node this long after it died; keep it well above the longest pause of a
    #: node (see ``docs/storage.md``, "Several nodes").
    lease_ttl: float = Field(10.0, ge=0.3, le=600)
    #: Dispatches a link keeps waiting for its game server's acknowledgement; beyond
    #: them a new signal, spawn or despawn for that server is refused (HTTP 503), and
    #: nothing queued is dropped (see ``bridge/PROTOCOL.md``, "The daemon's queue of
    #: unacknowledged dispatches", and :data:`~.links.MAX_UNACKED_DISPATCHES` for the
    #: default). At least 100: one signal's batch (up to 100 actions) must fit.
    max_unacked_dispatches: int = Field(MAX_UNACKED_DISPATCHES, ge=100, le=10_000_000)
    #: Seconds the link of a game server that went away stays in memory (nothing of it
    #: waiting to be written); after that it is read from the store again when needed.
    idle_link_ttl: float = Field(IDLE_LINK_TTL, ge=0, le=7 * 24 * 3600)
    #: The event loop: ``asyncio`` (the standard library's), ``uvloop`` (the ``speed``
    #: extra; refuse to start without it) or ``auto`` (uvloop when installed); see
    #: :mod:`encounters_bridge.eventloop` for why uvloop is not the default.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "asyncio"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> tuple[Network, ...]:
        """A comma-separated string (the environment) or a list (TOML, code)."""
        if isinstance(value, list | tuple):
            value = [str(v) if isinstance(v, IPv4Network | IPv6Network) else v for v in value]
        elif not isinstance(value, str):
            raise ValueError("give IP addresses or CIDR networks, comma-separated")
        return parse_networks(value)


FIELDS = tuple(BridgeConfig.model_fields)


def load_bridge_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> BridgeConfig:
    """The config from ``path`` (or ``$AE_BRIDGE_CONFIG``), ``env`` and ``flags``
    (``None`` flag values are "not given"). Raises :class:`ConfigError` listing every
    bad value with its source."""
    env = {} if env is None else env
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    if path is not None:
        for key, value in _read_file(path).items():
            values[key] = value
            sources[key] = f"{path}: [bridge] {key}"
    for key in FIELDS:
        name = ENV_PREFIX + key.upper()
        if env.get(name, "").strip():
            values[key] = env[name].strip()
            sources[key] = name
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = value
            sources[key] = "--" + key.replace("_", "-")
    try:
        return BridgeConfig(**values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "config"
            lines.append(f"{sources.get(key, key)}: {error['msg']} (got {error['input']!r})")
        raise ConfigError("invalid bridge config:\n  " + "\n  ".join(lines)) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the bridge config {path}: {exc.strerror or exc}; "
            f"pass an existing file to --config (or {CONFIG_ENV})"
        ) from None
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    stray = sorted(set(document) - {"bridge"})
    if stray:
        raise ConfigError(
            f"{path}: unknown table or key {', '.join(stray)}; settings go under [bridge]"
        )
    table = document.get("bridge", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'bridge' must be a table ([bridge])")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {', '.join(f'[bridge] {k}' for k in unknown)}; "
            f"known keys: {', '.join(FIELDS)}"
        )
    return dict(table)


__all__ = ["CONFIG_ENV", "ENV_PREFIX", "BridgeConfig", "load_bridge_config"]
