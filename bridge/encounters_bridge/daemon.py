"""The daemon's composition root: one place that builds and runs the whole daemon.

:meth:`Daemon.open` wires the engine, the edge's moderator, the WebSocket edge, the
deployment service (with a companion host when a script is given), the control API on
uvicorn and the background jobs (webhook deliveries, analytics flushing), starts both
listeners and settles the heap; leaving the context stops it all gracefully, in an
order that loses nothing: HTTP stops taking requests, background jobs stop (the webhook
outbox is durable, analytics flush what they hold), companions close, links are saved
and closed with 1001 (bounded, whatever adapters do), then the engine and its store.

``ae bridge serve`` runs it until a signal; the demo runs a scripted scene against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from encounters._util.optional import MissingExtra
from encounters.engine import Engine
from encounters.errors import ConfigError
from encounters.log import get_logger
from encounters.moderation import ContentModerator
from encounters.settings import POSTGRES_SCHEMES, Settings

from .audio import AudioLinks
from .backoff import BadKeyBackoff
from .budgets import LinkBudgets
from .config import BridgeConfig
from .control import create_app
from .deployment import DeploymentService
from .frames import CloseCode
from .server import BridgeEdge, quiet_accept_errors, settle_heap
from .store import BridgeStore, open_bridge_store

if TYPE_CHECKING:
    import uvicorn

    from encounters.companion import CompanionHost, CompanionScript
    from encounters.voice import VoiceService

log = get_logger(__name__)


@dataclass
class Daemon:
    """A running daemon. ``ws_url`` and ``api_url`` say where it listens (ports given
    as 0 are chosen by the system)."""

    engine: Engine
    #: the daemon's own records (keys, links, deploy tokens), beside the engine's store
    records: BridgeStore
    moderator: ContentModerator
    edge: BridgeEdge
    service: DeploymentService
    ws_url: str
    api_url: str

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        config: BridgeConfig | None = None,
        *,
        script: CompanionScript | None = None,
        engine: Engine | None = None,
    ) -> AsyncIterator[Daemon]:
        """Build and start the daemon; stop it on leaving. ``engine``: one already
        built (the demo's offline engine); by default one from ``settings``. The edge
        and the engine share its store and its moderator (SQLite, PostgreSQL or
        memory: the daemon's own records go beside the SDK's). Raises ``OSError`` when a
        port cannot be listened on and :class:`~encounters.errors.StoreError` when the
        store cannot be opened (nothing is left running then), and
        :class:`~encounters.errors.ConfigError` before anything is opened when
        ``AE_REDIS`` is set without a PostgreSQL store."""
        config = config or BridgeConfig()
        if settings.redis and not settings.store.startswith(POSTGRES_SCHEMES):
            # refused before any store is opened or migrated: SQLite serialises one
            # process's writes but cannot fence another node's, so two nodes could each
            # hold a live link for one game server
            raise ConfigError(
                f"AE_REDIS (several nodes) needs a store the nodes share and fence, but "
                f"AE_STORE is {settings.store}: set AE_STORE=postgresql://..., or unset "
                "AE_REDIS for one node"
            )
        quiet_accept_errors(asyncio.get_running_loop())
        engine = engine or Engine(settings)
        await engine.open()  # the store is open: templates and webhooks are loaded
        try:
            moderator = engine.moderator  # audited in the store; the engine closes it
            records = await open_bridge_store(engine.store)
            # with AE_REDIS, shared between nodes through the moderator's Redis limiter
            budgets = LinkBudgets.sharing(moderator.limiter, settings)
            edge = BridgeEdge(
                records,
                heartbeat_interval=config.heartbeat,
                max_frame_bytes=config.max_frame_bytes,
                max_unidentified=config.max_unidentified,
                max_unidentified_per_address=config.max_unidentified_per_address,
                max_unacked_dispatches=config.max_unacked_dispatches,
                idle_link_ttl=config.idle_link_ttl,
                trusted_proxies=config.trusted_proxies,
                bad_keys=BadKeyBackoff.sharing(moderator.limiter, settings),
                budgets=budgets,
            )
            service = DeploymentService(engine.store, moderator, edge, token_ttl=config.token_ttl)
            if settings.redis:  # several nodes: leases and the signal bus in Redis
                from .cluster import Cluster

                edge.cluster = Cluster(settings, lease_ttl=config.lease_ttl)
                await edge.cluster.start(edge)
            if script is not None:
                service.companions = companion_host(engine, moderator, script)
            service.voice = voice_service(settings, engine)
            service.public_url = config.public_url
            try:
                ws_server = await edge.serve(config.host, config.port)
            except BaseException:
                if edge.cluster is not None:
                    await edge.cluster.close()
                raise
            try:
                with _bound(config.host, config.http_port) as http_socket:
                    if service.voice is not None:
                        service.audio_links = AudioLinks(
                            public_url(config, http_socket.getsockname()[1]),
                            ttl=config.audio_url_ttl,
                        )
                    http = http_server(
                        create_app(service, engine, max_body_bytes=config.max_body_bytes)
                    )
                    settle_heap()
                    ws_port = ws_server.sockets[0].getsockname()[1]
                    http_port = http_socket.getsockname()[1]
                    daemon = cls(engine, records, moderator, edge, service,
                                 f"ws://{config.host}:{ws_port}/ws",
                                 f"http://{config.host}:{http_port}")  # fmt: skip
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(http.serve, [http_socket])
                        jobs = await _start_jobs(tg, engine, edge)
                        with anyio.fail_after(10):
                            while not http.started:
                                await anyio.sleep(0.01)
                        try:
                            yield daemon
                        finally:
                            http.should_exit = True
                            service.closing = True  # live streams end
                            jobs.cancel()
                            if service.companions is not None:
                                await service.companions.aclose()
                            await edge.close_all(CloseCode.GOING_AWAY)
            finally:
                ws_server.close()
                await ws_server.wait_closed()
                if edge.cluster is not None:  # after the links were saved and closed
                    await edge.cluster.close()
                if service.voice is not None:
                    await service.voice.aclose()
        finally:
            # the providers' clients close on this loop (and analytics flush) before
            # the store does
            await engine.close()


def voice_service(settings: Settings, engine: Engine) -> VoiceService | None:
    """The speech engines ``AE_VOICE__PROVIDERS`` names, with the audio cache in the
    data folder and usage in the engine's store; None (voice off, logged) when the
    offline engine's package is not installed. A misconfigured engine is a
    :class:`~encounters.errors.ConfigError`, as for the LLM providers."""
    from encounters.voice import VoiceService

    try:
        return VoiceService.from_settings(settings, store=engine.store)
    except MissingExtra as exc:
        log.warning("bridge.voice_off", reason=str(exc))
        return None


def public_url(config: BridgeConfig, http_port: int) -> str:
    """Where game clients fetch companions' voices: ``public_url``, else the control
    API's own address (an unspecified host such as 0.0.0.0 is no address a client can
    use: that is logged, since voices will not play until public_url is set)."""
    if config.public_url:
        return config.public_url
    host = config.host
    if host in ("0.0.0.0", "::", ""):
        log.warning("bridge.public_url_missing", host=host,
                    hint="set AE_BRIDGE_PUBLIC_URL so game clients can fetch voices")  # fmt: skip
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{http_port}"


async def _start_jobs(tg: TaskGroup, engine: Engine, edge: BridgeEdge) -> anyio.CancelScope:
    """Webhook deliveries, analytics flushing and (with AE_REDIS) writing the link
    budgets, in a scope the caller cancels."""
    scope = anyio.CancelScope()

    async def jobs() -> None:
        with scope:
            async with anyio.create_task_group() as inner:
                inner.start_soon(engine.webhooks.run)
                inner.start_soon(engine.analytics.run)
                if edge.budgets is not None:
                    inner.start_soon(edge.budgets.run, lambda: list(edge.connections.values()))

    tg.start_soon(jobs)
    return scope


@contextlib.contextmanager
def _bound(host: str, port: int) -> Iterator[socket.socket]:
    """A listening TCP socket for the control API: binding it here, before uvicorn
    starts, makes a port in use a clear error at once (not a traceback after the banner)
    and lets port 0 be chosen by the system."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        yield sock
    finally:
        sock.close()


def http_server(app: object) -> uvicorn.Server:
    """uvicorn for ``app`` on a socket the caller binds, without uvicorn's own signal
    handling (whoever runs the daemon stops it)."""
    import uvicorn

    class HTTPServer(uvicorn.Server):
        """uvicorn without its own signal handling: the daemon's owner stops it."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return HTTPServer(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]


def companion_host(
    engine: Engine, moderator: ContentModerator, script: CompanionScript
) -> CompanionHost:
    """Companions for every session, run by ``script``: through the engine's provider
    router when LLM settings are configured (else the offline brain), with NPC memory."""
    from encounters.companion import CompanionHost
    from encounters.generation.router import ProviderManager

    router = engine.generator if isinstance(engine.generator, ProviderManager) else None
    return CompanionHost(companion_moderator(moderator), router=router, memory=engine.memory,
                         script=script, send_as_written=True)  # fmt: skip


def companion_moderator(edge: ContentModerator) -> ContentModerator:
    """The companions' own check, with the edge's word lists and settings but no audit
    log and its own rate limiter: what a companion sends is moderated, audited and
    rate-limited once more by the edge (``DeploymentService.signal``), and the replay
    should show each action once. The companions send the actions it allows as written
    (``send_as_written``), so the edge's sanitize decision, with the masked text, is the
    one recorded; what it blocks is not sent."""
    return ContentModerator(edge.filter, settings=edge.settings)


__all__ = ["Daemon", "companion_host", "companion_moderator", "http_server"]
