"""Operator systems wired together: webhooks fed by the engine and the deployment flow,
over the control API and the CLI (the webhook machinery itself: test_webhooks.py)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from encounters.engine import Engine
from encounters.moderation import AuditLogger, ContentModerator
from encounters.settings import Settings
from encounters_bridge.control import create_app
from encounters_bridge.daemon import http_server
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.keys import create_api_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.fakes.http import FakeServer, Reply, fake_server

pytestmark = pytest.mark.anyio
LOOPBACK = ["127.0.0.0/8"]


def receiver(server: FakeServer) -> str:
    server.route("POST", "/hook", lambda body: Reply(204))
    return server.base_url + "/hook"


def received(server: FakeServer) -> list[str]:
    return [r.body["type"] for r in server.requests if r.path == "/hook"]


async def play(engine: Engine, player: str, seed: int = 1) -> str:
    spec = await engine.generate(category="combat", player=player, seed=seed)
    session = await engine.start_session(player, spec)
    for objective in spec.objectives:
        await engine.update_objective(session.id, objective.id, completed=True)
    await engine.complete_session(session.id)
    return session.id


async def test_engine_events_reach_a_webhook_and_keep_doing_so_after_a_restart(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, webhook_allow_networks=LOOPBACK)
    with fake_server() as server:
        url = receiver(server)
        async with Engine(settings) as engine:
            webhook, secret = await engine.webhooks.register(
                url, ["session.started", "session.completed"]
            )
            assert secret.startswith("whsec_")
            first = await play(engine, "ana")
            await engine.webhooks.deliver_due()
        assert received(server) == ["session.started", "session.completed"]
        hook = [r for r in server.requests if r.path == "/hook"][1]
        assert hook.body["data"]["session_id"] == first
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(hook.headers)

        # a new engine on the same data folder: the webhook is still there and fed
        async with Engine(settings) as engine:
            await play(engine, "ana", seed=2)
            await engine.webhooks.deliver_due()
            log = await engine.webhooks.deliveries(webhook.id)
        assert received(server) == ["session.started", "session.completed"] * 2
        assert [d.outcome for d in log] == ["delivered"] * 4


async def test_without_webhooks_nothing_is_kept_and_no_key_is_made(tmp_path: Path) -> None:
    async with Engine(data_dir=tmp_path) as engine:
        await play(engine, "ana")
        assert await engine.store.list_events("webhook_event") == []
    assert not (tmp_path / "memory.key").exists()


@asynccontextmanager
async def control_api(engine: Engine) -> AsyncIterator[tuple[str, str, str]]:
    """The control API on a free loopback port: (url, admin key, creator key)."""
    moderator = ContentModerator(audit=AuditLogger(engine.store))
    records = await open_bridge_store(engine.store)
    service = DeploymentService(engine.store, moderator, BridgeEdge(records))
    _, admin = await create_api_key(records, "ops", "admin")
    _, creator = await create_api_key(records, "alice", "creator")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    http = http_server(create_app(service, engine))
    async with anyio.create_task_group() as tg:
        tg.start_soon(http.serve, [sock])
        while not http.started:
            await anyio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", admin, creator
        http.should_exit = True
    sock.close()


async def test_webhooks_over_the_control_api_with_persona_events(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, webhook_allow_networks=LOOPBACK)
    with fake_server() as server:
        url = receiver(server)
        async with Engine(settings) as engine, control_api(engine) as (base, admin, creator):
            as_admin = {"Authorization": f"Bearer {admin}"}
            async with httpx.AsyncClient(base_url=base) as api:
                made = await api.post("/webhooks", headers=as_admin, json={
                    "url": url, "events": ["persona.submitted", "persona.approved"]})  # fmt: skip
                assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
                hook_id = made.json()["id"]
                listed = (await api.get("/webhooks", headers=as_admin)).json()
                assert [w["id"] for w in listed] == [hook_id]
                assert "secret" not in listed[0] and made.json()["secret"] not in str(listed)
                # only admins manage webhooks
                denied = await api.get("/webhooks", headers={"Authorization": f"Bearer {creator}"})
                assert denied.status_code == 403
                refused = await api.post("/webhooks", headers=as_admin,
                                         json={"url": "http://10.0.0.5/hook"})  # fmt: skip
                assert refused.status_code == 422 and "url" in refused.text

                persona = {"name": "Guide", "description": "Knows every road.",
                           "safety": {"allowedActions": ["chat"]}}  # fmt: skip
                sub = await api.post("/personas/submit", json=persona,
                                     headers={"Authorization": f"Bearer {creator}"})  # fmt: skip
                assert sub.status_code == 201, sub.text
                ok = await api.post(f"/personas/{sub.json()['id']}/approve", headers=as_admin)
                assert ok.status_code == 200
                await engine.webhooks.deliver_due()
                assert received(server) == ["persona.submitted", "persona.approved"]
                tested = (await api.post(f"/webhooks/{hook_id}/test", headers=as_admin)).json()
                assert tested["ok"] is True
                log = (await api.get(f"/webhooks/{hook_id}/deliveries", headers=as_admin)).json()
                assert {d["event_type"] for d in log} >= {"persona.submitted", "webhook.test"}
                gone = await api.delete(f"/webhooks/{hook_id}", headers=as_admin)
                assert gone.status_code == 204
                missing = await api.post(f"/webhooks/{hook_id}/test", headers=as_admin)
                assert missing.status_code == 404


def test_cli_manages_webhooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from encounters.cli import app

    monkeypatch.setenv("AE_WEBHOOK_ALLOW_NETWORKS", '["127.0.0.0/8"]')
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "webhooks"]
    with fake_server() as server:
        url = receiver(server)
        added = runner.invoke(app, [*base, "add", url, "-e", "session.completed"])
        assert added.exit_code == 0, added.output
        secret = added.output.split("signing secret (shown once): ")[1].split()[0]
        hook_id = added.output.split()[1]
        listed = runner.invoke(app, [*base, "list"])
        assert hook_id in listed.output and secret not in listed.output
        tested = runner.invoke(app, [*base, "test", hook_id])
        assert tested.exit_code == 0 and tested.output.startswith("ok")
        assert received(server) == ["webhook.test"]
    monkeypatch.delenv("AE_WEBHOOK_ALLOW_NETWORKS")
    refused = runner.invoke(app, [*base, "add", "http://127.0.0.1:9/hook"])
    assert refused.exit_code == 1 and "url" in refused.output
    assert secret not in (tmp_path / "encounters.db").read_bytes().decode("latin-1")


async def test_analytics_and_metrics_follow_play_over_the_control_api(tmp_path: Path) -> None:
    async with Engine(data_dir=tmp_path) as engine, control_api(engine) as (base, admin, creator):
        spec = await engine.generate(category="combat", player="ana", seed=5)
        for player in ("ana", "bo"):
            session = await engine.start_session(player, spec)
            if player == "ana":
                for objective in spec.objectives:
                    await engine.update_objective(session.id, objective.id, completed=True)
                await engine.complete_session(session.id)
            else:
                await engine.abandon_session(session.id, "lost connection")
        as_creator = {"Authorization": f"Bearer {creator}"}
        as_admin = {"Authorization": f"Bearer {admin}"}
        async with httpx.AsyncClient(base_url=base) as api:
            enc = (await api.get(f"/analytics/encounter/{spec.id}", headers=as_admin)).json()
            assert (enc["total_plays"], enc["completions"], enc["success_rate"]) == (2, 1, 0.5)
            rating = {"encounterId": spec.id, "playerId": "ana", "rating": 4, "comment": "Fun!"}
            fb = await api.post("/analytics/feedback", headers=as_admin, json=rating)
            assert fb.status_code == 201
            bad = await api.post("/analytics/feedback", headers=as_admin, json={
                "encounterId": spec.id, "playerId": "ana", "rating": 9})  # fmt: skip
            assert bad.status_code == 422 and "rating" in bad.text
            enc = (await api.get(f"/analytics/encounter/{spec.id}", headers=as_admin)).json()
            assert enc["player_feedback"]["count"] == 1
            player = (await api.get("/analytics/player/bo", headers=as_admin)).json()
            assert player["sessions_abandoned"] == 1
            # an engine-made encounter belongs to no creator; player data is not theirs
            hidden = await api.get(f"/analytics/encounter/{spec.id}", headers=as_creator)
            assert hidden.status_code == 404
            for path in ("/analytics/player/bo", "/difficulty/bo", "/memory/npc/bo"):
                assert (await api.get(path, headers=as_creator)).status_code == 403
            refused = await api.post("/analytics/feedback", headers=as_creator, json=rating)
            assert refused.status_code == 403
            glob = (await api.get("/analytics/global", headers=as_creator)).json()
            assert glob["total_sessions"] == 2 and glob["total_players"] == 2

            platform = await api.get("/metrics/platform", headers=as_admin)
            assert platform.status_code == 200
            m = platform.json()
            assert m["user_touch"] == 2 and m["crash_rate"] == 0.5  # bo lost connection
            assert (await api.get("/metrics/platform", headers=as_creator)).status_code == 403
            prom = (await api.get("/metrics", headers=as_admin)).text
            assert "ae_bridge_links 0" in prom
            assert "ae_user_touch_players 2" in prom.splitlines()


def test_cli_shows_analytics_and_metrics(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from encounters.cli import app

    async def seed() -> str:
        async with Engine(data_dir=tmp_path) as engine:
            await play(engine, "ana")
            spec = await engine.generate(category="combat", player="ana", seed=1)
            served = await engine.start_session("ana", spec)  # a game server's session
            await engine.analytics.record_session_scope(served.id, "ana", "server:web:one")
            await engine.analytics.flush()
            return spec.id

    encounter_id = anyio.run(seed)
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    shown = runner.invoke(app, [*base, "analytics", "encounter", encounter_id, "--json"])
    assert shown.exit_code == 0, shown.output
    import json

    assert json.loads(shown.output)["completions"] == 1
    table = runner.invoke(app, [*base, "analytics", "player", "ana"])
    assert table.exit_code == 0 and "completed" in table.output
    everyone = runner.invoke(app, [*base, "analytics", "player", "ana", "--json"])
    assert json.loads(everyone.output)["sessions_played"] == 2
    scoped = runner.invoke(app, [*base, "analytics", "player", "ana", "--json",
                                 "--scope", "server:web:one"])  # fmt: skip
    assert scoped.exit_code == 0, scoped.output
    got = json.loads(scoped.output)
    assert (got["sessions_played"], got["sessions_completed"]) == (1, 0)
    fb = runner.invoke(app, [*base, "analytics", "feedback", encounter_id, "ana", "6"])
    assert fb.exit_code == 1 and "rating" in fb.output
    metrics = runner.invoke(app, [*base, "metrics", "--days", "1", "--json"])
    assert metrics.exit_code == 0 and json.loads(metrics.output)["user_touch"] == 1


async def test_retry_settings_reach_the_webhooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from encounters.settings import load_settings

    monkeypatch.setenv("AE_WEBHOOK_RETRY__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AE_WEBHOOK_RETRY__BASE", "0.5")
    settings = load_settings(data_dir=tmp_path)
    async with Engine(settings) as engine:
        policy = engine.webhooks.policy
        assert (policy.max_attempts, policy.base) == (3, 0.5)
