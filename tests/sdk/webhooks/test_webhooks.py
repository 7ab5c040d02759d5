"""Webhooks: signatures, the durable outbox (retries, restarts, Retry-After, 410,
redirects, timeouts), the SSRF guard, input validation and secrets at rest.

Receivers are real HTTP servers on 127.0.0.1, started and stopped by each test; the
managers that deliver to them are given ``allow_networks=["127.0.0.0/8"]``.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import standardwebhooks

from encounters.errors import ValidationFailed
from encounters.events import EngineEvent, EventBus
from encounters.log import configure_logging
from encounters.storage import MemoryStore, SQLiteStore, Store
from encounters.webhooks import (
    DestinationRefused,
    GuardedTransport,
    RetryPolicy,
    WebhookManager,
    WebhookNotFound,
    address_problem,
    parse_networks,
    parse_retry_after,
    verify,
)
from encounters.webhooks.delivery import EVENT_LOG
from encounters.webhooks.signing import SignatureError, secret_key

pytestmark = pytest.mark.anyio

LOOPBACK = ["127.0.0.0/8"]
FAST = RetryPolicy(base=0.05, factor=2, max_delay=0.2, max_attempts=50)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- a receiver ----------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"ok"


@dataclass
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records raw requests. ``script`` holds the
    answers to the first requests (then 200); ``connections`` counts accepted TCP
    connections, requests or not."""

    def __init__(self, port: int = 0, script: Iterable[Answer] = ()) -> None:
        self.port = port
        self.script = list(script)
        self.requests: list[Received] = []
        self.connections = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner._lock:
                    answer = owner.script.pop(0) if owner.script else Answer()
                    owner.requests.append(Received(
                        time.monotonic(), self.path,
                        {k.lower(): v for k, v in self.headers.items()}, body, answer.status,
                    ))  # fmt: skip
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def process_request(self, request: Any, client_address: Any) -> None:
                owner.connections += 1
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def receiver(port: int = 0, script: Iterable[Answer] = ()) -> Iterator[Receiver]:
    r = Receiver(port, script).start()
    try:
        yield r
    finally:
        r.stop()


def free_port() -> int:
    """A loopback port nobody listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manager(store: Store, key: bytes, **kw: Any) -> WebhookManager:
    kw.setdefault("allow_networks", LOOPBACK)
    kw.setdefault("policy", FAST)
    kw.setdefault("timeout", 5.0)
    return WebhookManager(store, key=key, **kw)


async def deliver_until(m: WebhookManager, done: Callable[[], bool], timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while not done():
            await m.deliver_due()
            if not done():
                await anyio.sleep(0.02)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


# -- signatures ----------------------------------------------------------------------


async def test_signatures_verify_with_the_reference_library_and_survive_rotation(
    key: bytes,
) -> None:
    m = manager(MemoryStore(), key)
    with receiver() as rx:
        hook, secret = await m.register(rx.url(), ["session.started"], "game analytics")
        assert hook.id.startswith("wh_") and secret.startswith("whsec_")
        assert len(secret_key(secret)) >= 24
        await m.enqueue("session.started", {"session_id": "s1", "n": 1})
        await deliver_until(m, lambda: len(rx.delivered) == 1)

        first = rx.delivered[0]
        payload = standardwebhooks.Webhook(secret).verify(first.body, first.headers)
        assert payload["type"] == "session.started"
        assert payload["data"] == {"session_id": "s1", "n": 1}
        assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        assert first.headers["content-type"] == "application/json"
        assert first.headers["webhook-signature"].startswith("v1,")
        assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 30
        verify(secret, first.body, first.headers)  # our own verifier agrees

        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            tampered = first.body.replace(b'"n":1', b'"n":2')
            standardwebhooks.Webhook(secret).verify(tampered, first.headers)
        with pytest.raises(SignatureError):
            verify(secret, first.body.replace(b'"n":1', b'"n":2'), first.headers)

        new_secret = await m.rotate_secret(hook.id)
        assert new_secret != secret
        assert [s.id for s in (await m.get(hook.id)).secrets][1] == hook.secrets[0].id
        await m.enqueue("session.started", {"n": 2})
        await deliver_until(m, lambda: len(rx.delivered) == 2)
        second = rx.delivered[1]
        assert len(second.headers["webhook-signature"].split(" ")) == 2
        for s in (secret, new_secret):  # both the old and the new secret verify
            standardwebhooks.Webhook(s).verify(second.body, second.headers)

        assert await m.expire_secret(hook.id) == 1
        await m.enqueue("session.started", {"n": 3})
        await deliver_until(m, lambda: len(rx.delivered) == 3)
        third = rx.delivered[2]
        standardwebhooks.Webhook(new_secret).verify(third.body, third.headers)
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(secret).verify(third.body, third.headers)

        assert len({r.headers["webhook-id"] for r in rx.delivered}) == 3


async def test_expiring_secrets_later_keeps_them_signing_until_then(key: bytes) -> None:
    m = manager(MemoryStore(), key)
    with receiver() as rx:
        hook, old = await m.register(rx.url(), "*")
        new = await m.rotate_secret(hook.id)
        assert await m.expire_secret(hook.id, after=3600) == 1
        await m.enqueue("companion.spawned", {"companion": "c1"})
        await deliver_until(m, lambda: len(rx.delivered) == 1)
        got = rx.delivered[0]
        for s in (old, new):
            standardwebhooks.Webhook(s).verify(got.body, got.headers)
        secrets = (await m.get(hook.id)).secrets
        assert secrets[0].expires_at is None and secrets[1].expires_at is not None


# -- the outbox ----------------------------------------------------------------------


async def test_down_receiver_then_restart_then_up_loses_nothing_and_duplicates_nothing(
    new_sql_store: Callable[[], Store], key: bytes
) -> None:
    port = free_port()  # nothing listens there yet: connection refused
    sent: list[str] = []
    async with new_sql_store() as store:
        m1 = manager(store, key)
        hook, secret = await m1.register(f"http://127.0.0.1:{port}/hook", ["choice.made"])
        for i in range(5):
            event_id = await m1.enqueue("choice.made", {"i": i})
            assert event_id is not None
            sent.append(event_id)
        for _ in range(3):
            assert await m1.deliver_due() == 0
            await anyio.sleep(0.25)
        refused = await m1.deliveries(hook.id)
        assert refused and all(d.outcome == "retrying" for d in refused)
        assert {d.event_id for d in refused} == {sent[0]}  # in order: the first one first
        attempts_before = max(d.attempt for d in refused)
        assert attempts_before >= 2 and refused[0].error

    # a restart: a new store object and a new manager on the same database
    async with new_sql_store() as store:
        m2 = manager(store, key)
        for i in range(5, 10):
            event_id = await m2.enqueue("choice.made", {"i": i})
            assert event_id is not None
            sent.append(event_id)
        with receiver(port, [Answer(503), Answer(503), Answer(503)]) as rx:
            await deliver_until(m2, lambda: len(rx.delivered) == 10)
            await m2.deliver_due()  # nothing more is due
            await anyio.sleep(0.3)
            await m2.deliver_due()

        ids = [r.headers["webhook-id"] for r in rx.delivered]
        assert ids == sent  # all of them, in order, each exactly once
        assert [r.json["data"]["i"] for r in rx.delivered] == list(range(10))
        assert [r.headers["webhook-id"] for r in rx.requests[:4]] == [sent[0]] * 4
        for r in rx.delivered:
            standardwebhooks.Webhook(secret).verify(r.body, r.headers)

        log = await m2.deliveries(hook.id, limit=200)
        first_tries = sorted(d.attempt for d in log if d.event_id == sent[0])
        # the attempt count went on across the restart, not from 1 again
        assert first_tries == list(range(1, first_tries[-1] + 1))
        assert first_tries[-1] > attempts_before + 3
        assert sum(d.outcome == "delivered" for d in log) == 10
        assert log[0].outcome == "delivered" and log[0].event_id == sent[-1]  # newest first


async def test_background_loop_delivers_enqueued_events(key: bytes) -> None:
    m = manager(MemoryStore(), key, poll_interval=5.0)
    bus = EventBus()
    bus.subscribe(m.on_engine_event)
    with receiver() as rx:
        await m.register(rx.url(), ["session.started", "session.completed"])
        async with anyio.create_task_group() as tg:
            tg.start_soon(m.run)
            await anyio.sleep(0.05)
            await bus.emit(EngineEvent("session.started", {"encounter_id": "e1"}, "s1", "p1"))
            await bus.emit(EngineEvent("objective.progressed", {"objective_id": "o"}, "s1"))
            await bus.emit(EngineEvent("choice.made", {"choice_id": "c"}, "s1", "p1"))
            await bus.emit(EngineEvent("session.completed", {"encounter_id": "e1"}, "s1", "p1"))
            with anyio.fail_after(5):  # woken by enqueue, not by the 5 s poll
                while len(rx.delivered) < 2:
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
        types = [r.json["type"] for r in rx.delivered]
        assert types == ["session.started", "session.completed"]
        assert rx.delivered[0].json["data"] == {
            "session_id": "s1", "player_id": "p1", "encounter_id": "e1",
        }  # fmt: skip


async def test_a_new_webhook_gets_only_events_enqueued_after_it(key: bytes) -> None:
    m = manager(MemoryStore(), key)
    with receiver() as a, receiver() as b:
        await m.register(a.url(), "*")
        first = await m.enqueue("session.started", {"n": 1})
        await m.register(b.url(), ["session.started"])
        second = await m.enqueue("session.started", {"n": 2})
        await deliver_until(m, lambda: len(a.delivered) == 2 and len(b.delivered) == 1)
        assert [r.headers["webhook-id"] for r in a.delivered] == [first, second]
        assert [r.headers["webhook-id"] for r in b.delivered] == [second]


async def test_events_nobody_subscribes_to_are_not_stored(key: bytes) -> None:
    store = MemoryStore()
    m = manager(store, key)
    assert await m.enqueue("persona.approved", {"persona_id": "p"}) is None
    with receiver() as rx:
        await m.register(rx.url(), ["persona.submitted"])
        assert await m.enqueue("persona.approved", {"persona_id": "p"}) is None
        assert await m.enqueue("persona.submitted", {"persona_id": "p"}) is not None
        assert len(await store.list_events(EVENT_LOG)) == 1
        await deliver_until(m, lambda: len(rx.delivered) == 1)


async def test_retry_after_is_honoured(key: bytes) -> None:
    m = manager(MemoryStore(), key, policy=RetryPolicy(base=0.01, max_delay=5, max_attempts=5))
    with receiver(script=[Answer(503, {"Retry-After": "1"})]) as rx:
        hook, _ = await m.register(rx.url(), "*")
        await m.enqueue("persona.submitted", {"persona_id": "p1"})
        await deliver_until(m, lambda: len(rx.delivered) == 1)
        first, second = rx.requests
        assert second.at - first.at >= 1.0
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        retry = (await m.deliveries(hook.id))[-1]
        assert retry.outcome == "retrying" and retry.status_code == 503
        assert retry.next_attempt_at is not None
        assert (retry.next_attempt_at - retry.at).total_seconds() >= 0.99


def test_retry_after_parsing_and_backoff() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=9), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    policy = RetryPolicy(base=1, factor=2, max_delay=10, max_attempts=8)
    assert [policy.cap(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert all(0 <= policy.delay(3) <= 4 for _ in range(200))  # full jitter
    assert policy.delay(1, retry_after=7) >= 7  # never before Retry-After
    assert policy.delay(1, retry_after=3600) == 10  # ... capped by max_delay
    default = RetryPolicy()
    assert default.max_attempts > 3
    assert 2400 < sum(default.cap(n) for n in range(1, default.max_attempts)) / 2 < 5400
    with pytest.raises(ValueError):
        RetryPolicy(base=10, max_delay=1)


async def test_gives_up_after_the_last_attempt_and_moves_on(key: bytes) -> None:
    m = manager(MemoryStore(), key, policy=RetryPolicy(base=0.01, max_delay=0.02, max_attempts=3))
    with receiver(script=[Answer(500)] * 3) as rx:
        hook, _ = await m.register(rx.url(), "*")
        doomed = await m.enqueue("companion.ended", {"n": 1})
        fine = await m.enqueue("companion.ended", {"n": 2})
        await deliver_until(m, lambda: len(rx.delivered) == 1)
        assert [r.headers["webhook-id"] for r in rx.requests] == [doomed] * 3 + [fine]
        log = await m.deliveries(hook.id)
        assert [(d.event_id, d.attempt, d.outcome) for d in reversed(log)] == [
            (doomed, 1, "retrying"), (doomed, 2, "retrying"), (doomed, 3, "failed"),
            (fine, 1, "delivered"),
        ]  # fmt: skip
        assert log[1].status_code == 500 and log[1].error == "HTTP 500"


async def test_410_gone_disables_the_webhook(key: bytes) -> None:
    m = manager(MemoryStore(), key)
    with receiver(script=[Answer(410)]) as rx:
        hook, _ = await m.register(rx.url(), "*")
        await m.enqueue("session.started", {"n": 1})
        await m.enqueue("session.started", {"n": 2})
        assert await m.deliver_due() == 0
        got = await m.get(hook.id)
        assert got.disabled and got.disabled_reason and "410" in got.disabled_reason
        assert (await m.deliveries(hook.id))[0].outcome == "disabled"
        for _ in range(3):
            await m.deliver_due()
            await anyio.sleep(0.05)
        assert len(rx.requests) == 1  # nothing more after the 410
        await m.enable(hook.id)  # resumes where it stopped
        await deliver_until(m, lambda: len(rx.delivered) == 2)
        assert [r.json["data"]["n"] for r in rx.delivered] == [1, 2]


async def test_redirects_are_not_followed(key: bytes) -> None:
    m = manager(MemoryStore(), key)
    with receiver() as target, receiver() as rx:
        rx.script = [Answer(302, {"Location": target.url("/elsewhere")})] * 3
        hook, _ = await m.register(rx.url(), "*")
        await m.enqueue("session.started", {})
        await deliver_until(m, lambda: len(rx.requests) >= 2)
        assert target.requests == [] and target.connections == 0
        d = (await m.deliveries(hook.id))[-1]
        assert d.status_code == 302 and d.outcome == "retrying"
        assert d.error is not None and "redirect" in d.error


async def test_a_slow_receiver_times_out_within_the_bound(key: bytes) -> None:
    m = manager(MemoryStore(), key, timeout=0.5)
    with receiver(script=[Answer(200, delay=3.0)]) as rx:
        hook, _ = await m.register(rx.url(), "*")
        await m.enqueue("session.started", {})
        started = time.monotonic()
        assert await m.deliver_due() == 0
        assert time.monotonic() - started < 2.0
        d = (await m.deliveries(hook.id))[0]
        assert d.outcome == "retrying" and d.status_code is None
        assert d.error is not None and "timed out" in d.error
        assert d.duration_ms < 2000


async def test_the_test_event_the_delivery_log_and_deletion(key: bytes) -> None:
    m = manager(MemoryStore(), key)
    with receiver(script=[Answer(200), Answer(500, body=b"boom")]) as rx:
        hook, secret = await m.register(rx.url("/t"), ["persona.approved"], "review bot")
        ok = await m.test(hook.id)
        assert ok.ok and ok.status_code == 200 and ok.event_id.startswith("evt_")
        body = standardwebhooks.Webhook(secret).verify(rx.requests[0].body, rx.requests[0].headers)
        assert body["type"] == "webhook.test"
        bad = await m.test(hook.id)
        assert not bad.ok and bad.status_code == 500 and bad.response == "boom"
        log = await m.deliveries(hook.id, limit=1)
        assert len(log) == 1 and log[0].event_id == bad.event_id and log[0].outcome == "failed"
        assert [w.id for w in await m.list()] == [hook.id]
        assert (await m.get(hook.id)).description == "review bot"
        await m.delete(hook.id)
        assert await m.list() == []
        with pytest.raises(WebhookNotFound):
            await m.get(hook.id)
        with pytest.raises(WebhookNotFound):
            await m.rotate_secret(hook.id)
        assert await m.enqueue("persona.approved", {}) is None


# -- SSRF ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "allowed", "with_loopback_allowed"),
    [
        ("127.0.0.1", False, True),
        ("127.255.0.9", False, True),
        ("10.0.0.5", False, False),
        ("172.16.3.4", False, False),
        ("192.168.1.1", False, False),
        ("100.64.0.1", False, False),
        ("169.254.169.254", False, False),
        ("169.254.1.1", False, False),
        ("0.0.0.0", False, False),
        ("224.0.0.251", False, False),
        ("240.0.0.1", False, False),
        ("255.255.255.255", False, False),
        ("192.0.2.10", False, False),
        ("::1", False, False),
        ("::", False, False),
        ("::ffff:127.0.0.1", False, False),
        ("::ffff:10.0.0.5", False, False),
        ("::ffff:169.254.169.254", False, False),
        ("::127.0.0.1", False, False),
        ("64:ff9b::10.0.0.5", False, False),
        ("2002:a00:5::1", False, False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, False),
        ("fc00::1", False, False),
        ("fd00:ec2::254", False, False),
        ("fe80::1", False, False),
        ("ff02::1", False, False),
        ("2001:db8::1", False, False),
        ("8.8.8.8", True, True),
        ("1.1.1.1", True, True),
        ("::ffff:8.8.8.8", True, True),
        ("2606:4700:4700::1111", True, True),
    ],
)
def test_address_vetting(address: str, allowed: bool, with_loopback_allowed: bool) -> None:
    assert (address_problem(address) is None) is allowed
    assert (address_problem(address, parse_networks(LOOPBACK)) is None) is with_loopback_allowed


def test_an_allowed_ipv4_does_not_open_the_ipv6_forms_that_embed_it() -> None:
    one = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])
    for embedded in ("2002:7f00:1::1", "64:ff9b::7f00:1", "::ffff:127.0.0.1",
                     "2002:a00:5::1", "64:ff9b::10.0.0.5", "::ffff:10.1.2.3"):  # fmt: skip
        problem = address_problem(embedded, one)
        assert problem is not None, embedded
        assert "(which is 127.0.0.1)" in problem or "(which is 10." in problem
    assert address_problem("127.0.0.1", one) is None  # the IPv4 address itself is allowed
    assert address_problem("2002:7f00:1::1", parse_networks(["2002:7f00:1::/48"])) is None


def test_metadata_needs_an_exact_allowlist_entry() -> None:
    assert address_problem("169.254.169.254", parse_networks(["169.254.0.0/16"])) is not None
    assert address_problem("169.254.1.1", parse_networks(["169.254.0.0/16"])) is None
    assert address_problem("169.254.169.254", parse_networks(["169.254.169.254/32"])) is None
    problem = address_problem("100.64.0.1")
    assert problem is not None and "carrier-grade NAT" in problem


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://localhost:{port}/hook",
        "https://0x7f000001/hook",
    ],
)
async def test_forbidden_destinations_are_refused_at_registration(key: bytes, url: str) -> None:
    with receiver() as rx:
        m = WebhookManager(MemoryStore(), key=key)
        with pytest.raises(ValidationFailed) as err:
            await m.register(url.format(port=rx.port), "*")
        assert [e.path for e in err.value.errors] == ["url"]
        assert "not allowed" in str(err.value) or "could not be resolved" in str(err.value)
        assert await m.list() == []
        assert rx.connections == 0


async def test_forbidden_destinations_are_refused_at_delivery(key: bytes) -> None:
    store = MemoryStore()
    with receiver() as rx:
        allowed = manager(store, key)  # registered while loopback was allowed...
        hook, _ = await allowed.register(rx.url(host="localhost"), "*")
        hook2, _ = await allowed.register(rx.url(), "*")
        strict = manager(store, key, allow_networks=[])  # ...delivered by one without
        await strict.enqueue("session.started", {})
        assert await strict.deliver_due() == 0
        for h in (hook, hook2):
            d = (await strict.deliveries(h.id))[0]
            assert d.outcome == "retrying" and d.status_code is None
            assert d.error is not None and "refused to connect" in d.error
            assert "loopback" in d.error
        assert rx.connections == 0 and rx.requests == []

        # the loopback allowlist lets the same events through (IPv4 only for localhost)
        await deliver_until(allowed, lambda: len(rx.delivered) == 2)
        assert {r.headers["host"] for r in rx.delivered} == {
            f"localhost:{rx.port}",
            f"127.0.0.1:{rx.port}",
        }


async def test_dns_rebinding_is_caught_when_connecting(key: bytes) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        assert host == "rebind.example.test"
        return next(answers)

    with receiver() as rx:
        m = manager(MemoryStore(), key, allow_networks=[], resolver=rebinding)
        hook, _ = await m.register(f"http://rebind.example.test:{rx.port}/hook", "*")
        await m.enqueue("session.started", {})
        await m.deliver_due()
        d = (await m.deliveries(hook.id))[0]
        assert d.error is not None and "127.0.0.1 is a loopback address" in d.error
        assert rx.connections == 0


async def test_connects_to_the_vetted_ip_keeping_host_header_and_sni(key: bytes) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.9.9.9", "127.0.0.1"]  # the private one is skipped, not connected to

    with receiver() as rx:
        m = manager(MemoryStore(), key, resolver=resolve)
        await m.register(f"http://hooks.example.test:{rx.port}/in", "*")
        await m.enqueue("session.started", {})
        await deliver_until(m, lambda: len(rx.delivered) == 1)
        assert rx.delivered[0].headers["host"] == f"hooks.example.test:{rx.port}"
        assert rx.delivered[0].path == "/in"

    class Stream(httpcore.AsyncNetworkStream):
        async def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: Any = None
        ) -> httpcore.AsyncNetworkStream:
            sni.append(server_hostname)
            raise httpcore.ConnectError("stop before the handshake")

        async def aclose(self) -> None:
            pass

    class Recording(httpcore.AsyncNetworkBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
        ) -> httpcore.AsyncNetworkStream:
            connected.append((host, port))
            return Stream()

    connected: list[tuple[str, int]] = []
    sni: list[str | None] = []
    transport = GuardedTransport(parse_networks(LOOPBACK), resolver=resolve, backend=Recording())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://hooks.example.test/in")
        with pytest.raises(DestinationRefused):
            await client.get("https://10.0.0.5/in")
    assert connected == [("127.0.0.1", 443)]
    assert sni == ["hooks.example.test"]


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "events", "path", "words"),
    [
        ("https://example.com/h", ["session.started", "bogus.event"], "events[1]", "unknown"),
        ("https://example.com/h", [], "events", "at least 1"),
        ("ftp://example.com/h", ["*"], "url", "http"),
        ("https://user:hunter2@example.com/h", ["*"], "url", "password"),
        ("https:///nohost", ["*"], "url", "host"),
        ("https://example.com:99999/h", ["*"], "url", "port"),
        ("not a url", ["*"], "url", "spaces"),
    ],
)
async def test_bad_input_names_the_field(
    key: bytes, url: str, events: list[str], path: str, words: str
) -> None:
    m = WebhookManager(MemoryStore(), key=key)
    with pytest.raises(ValidationFailed) as err:
        await m.register(url, events)
    assert [e.path for e in err.value.errors] == [path]
    assert words in str(err.value)
    assert "hunter2" not in str(err.value)


async def test_bad_events_are_refused_by_enqueue(key: bytes) -> None:
    m = WebhookManager(MemoryStore(), key=key)
    with pytest.raises(ValidationFailed) as err:
        await m.enqueue("session.exploded", {})
    assert err.value.errors[0].path == "type"
    with pytest.raises(ValidationFailed) as err:
        await m.enqueue("session.started", {"x": object()})
    assert err.value.errors[0].path == "data"
    with pytest.raises(ValidationFailed):
        await m.enqueue("session.started", {"x": "y" * 300_000})


# -- secrets at rest and in logs -----------------------------------------------------


async def test_secrets_are_sealed_at_rest_and_never_logged(
    tmp_path: Path, key: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    db = tmp_path / "s.db"
    try:
        async with SQLiteStore(db) as store:
            m = manager(store, key, policy=RetryPolicy(base=0.01, max_delay=0.02, max_attempts=2))
            with receiver(script=[Answer(500)]) as rx:
                hook, secret = await m.register(rx.url(), "*")
                rotated = await m.rotate_secret(hook.id)
                await m.enqueue("session.started", {"n": 1})
                await deliver_until(m, lambda: len(rx.delivered) == 1)
                await m.test(hook.id)
                # a second manager (a restart) opens the sealed secrets with the same key
                again = manager(store, key)
                assert (await again.test(hook.id)).ok
                body = rx.delivered[-1]
                standardwebhooks.Webhook(secret).verify(body.body, body.headers)
                standardwebhooks.Webhook(rotated).verify(body.body, body.headers)
            # a manager with another key cannot sign: it logs that, without secrets
            wrong = manager(store, os.urandom(32))
            await wrong.enqueue("session.started", {"n": 2})
            assert await wrong.deliver_due() == 0
    finally:
        configure_logging()
    out = capsys.readouterr()
    text = logs.getvalue() + out.out + out.err
    assert "webhook.registered" in text and "webhook.drain_failed" in text
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s.db"))
    assert raw, "the store wrote nothing?"
    for s in (secret, rotated):
        assert s not in text
        assert s.encode() not in raw
        assert s.removeprefix("whsec_").encode() not in raw
        assert secret_key(s) not in raw
    assert b"sealed" in raw  # the sealed form is what is stored
