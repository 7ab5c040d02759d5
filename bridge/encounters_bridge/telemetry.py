"""The daemon's Prometheus metrics, through ``prometheus_client`` (each app its own
registry):

- process metrics (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
  ...) and the Python runtime's (``python_gc_*``, ``python_info``);
- ``ae_http_request_duration_seconds`` (histogram; labels ``method`` (one of
  :data:`METHODS`, ``other`` for any other word a client sends), ``route`` (the
  route's path template, ``unmatched`` for none), ``status``): every label has a
  bounded set of values, so no request, even one without a key, adds a series;
- ``ae_bridge_links`` (gauge): adapter links connected now; ``ae_bridge_link_owners``
  (gauge): links held in memory (connected, or idle and not evicted yet);
- ``ae_bridge_dispatches_refused_total`` (counter): dispatches refused because their
  link had ``max_unacked_dispatches`` waiting for the game server's acknowledgement;
- ``ae_moderation_decisions_total`` (counter; ``kind``, ``decision``) and
  ``ae_actions_total`` (counter; ``decision``: the action decisions among them),
  ``ae_moderation_provider_failures_total``;
- with voice on, ``ae_voice_lines_total`` (counter; ``source``: ``cache`` or
  ``engine``) and ``ae_voice_failures_total`` (lines sent without audio);
- with an engine, the platform metrics of the last 7 days (``ae_window_*`` and the
  others of ``encounters.platform_metrics.PROMETHEUS_METRICS``, computed at most once
  a minute).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .gate import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .deployment import DeploymentService


class BridgeCollector(Collector):
    """Links and moderation decisions, read from the service at each scrape."""

    def __init__(self, service: DeploymentService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        links = GaugeMetricFamily("ae_bridge_links", "Adapter links connected now.")
        edge = self.service.edge
        links.add_metric([], len(edge.connections))
        yield links
        owners = GaugeMetricFamily(
            "ae_bridge_link_owners", "Links held in memory (connected, or idle not evicted)."
        )
        owners.add_metric([], len(edge._owners))
        yield owners
        refused = CounterMetricFamily(
            "ae_bridge_dispatches_refused",
            "Dispatches refused: their link's game server had not acknowledged "
            "max_unacked_dispatches.",
        )
        refused.add_metric([], edge.dispatches_refused)
        yield refused
        counters = self.service.moderator.counters
        decisions = CounterMetricFamily(
            "ae_moderation_decisions", "Moderation decisions by kind and decision.",
            labels=["kind", "decision"],
        )  # fmt: skip
        actions = CounterMetricFamily(
            "ae_actions", "Companion actions by moderation decision.", labels=["decision"]
        )
        for key, count in sorted(counters.decisions.items()):
            kind, decision = key.split(":", 1)
            decisions.add_metric([kind, decision], count)
            if kind == "action":
                actions.add_metric([decision], count)
        yield decisions
        yield actions
        failures = CounterMetricFamily(
            "ae_moderation_provider_failures",
            "Provider classifier calls that failed or timed out.",
        )
        failures.add_metric([], counters.provider_failures)
        yield failures
        voice = self.service.voice
        if voice is not None:
            lines = CounterMetricFamily(
                "ae_voice_lines", "Voiced lines by where the audio came from.", labels=["source"]
            )
            lines.add_metric(["cache"], voice.hits)
            lines.add_metric(["engine"], voice.misses)
            yield lines
            silent = CounterMetricFamily(
                "ae_voice_failures", "Voiced lines sent without audio: no engine spoke them."
            )
            silent.add_metric([], voice.failures)
            yield silent


#: The request methods counted by name; HTTP lets a client send any token as a method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Telemetry:
    """One app's registry and its request histogram."""

    def __init__(self, service: DeploymentService) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(BridgeCollector(service))
        self.requests = Histogram(
            "ae_http_request_duration_seconds",
            "Control-API requests by method, route template and status, in seconds.",
            ["method", "route", "status"],
            registry=self.registry,
        )


class RequestTimer:
    """ASGI middleware observing each HTTP request's duration in ``telemetry``
    (outermost, so refusals by the gate are timed too)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.telemetry.requests.labels(method, route, str(status)).observe(
                time.perf_counter() - start
            )
