""":class:`~encounters.client.EncountersClient` against an in-process daemon: what each
method returns, what :class:`~encounters.client.ControlError` carries, and that the key
never shows up in an error or a log line."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from encounters.client import ControlError, EncountersClient
from encounters.log import configure_logging
from encounters.moderation import TextFilter
from tests.conftest import encounter_dict
from tests.support.control import (
    SERVER,
    Game,
    Keys,
    connected,
    make_keys,
    persona_body,
    run_daemon,
    template_dict,
    until,
)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def refused(call: Any) -> ControlError:
    with pytest.raises(ControlError) as caught:
        await call
    return caught.value


@pytest.mark.anyio
async def test_every_method_returns_what_the_api_promises(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        game = Game.create(dm.ws_url, keys.world, "msgpack")
        async with (
            connected(game),
            EncountersClient(dm.http_url + "/", keys.creator) as creator,
            EncountersClient(dm.http_url, keys.admin) as admin,
            EncountersClient(dm.http_url) as anonymous,
        ):
            assert await anonymous.health() == {"status": "ok", "links": 1}

            # personas
            submitted = await creator.submit_persona(persona_body())
            assert set(submitted) == {"id", "status", "reasons"}
            assert (submitted["status"], submitted["reasons"]) == ("pending_moderation", [])
            pid = submitted["id"]
            rejected = await creator.submit_persona(persona_body(name="Fuck Face"))
            assert rejected["status"] == "rejected"
            assert rejected["reasons"][0].startswith("name:")
            approved = await admin.approve_persona(pid)
            assert set(approved) == {"token", "ttl"}
            assert approved["ttl"] == 3600.0
            token = approved["token"]
            mine = await creator.personas()
            assert {p["persona"]["id"]: p["status"] for p in mine} == {
                pid: "approved", rejected["id"]: "rejected",
            }  # fmt: skip
            assert [p["persona"]["id"] for p in await creator.personas("approved")] == [pid]
            assert await creator.personas("pending_moderation") == []
            assert len(await admin.personas()) == 2

            # a companion: spawn (with and without a location), signal, end, replay
            spawned = await creator.spawn(pid, token, "web", SERVER, {"x": 1, "y": 2, "z": 3})
            assert set(spawned) == {"sessionId", "status"}
            assert spawned["status"] == "spawning"
            sid = spawned["sessionId"]
            used = await refused(creator.spawn(pid, token, "web", SERVER))
            assert used.status == 403 and "was used or replaced" in used.message
            token = (await admin.approve_persona(pid))["token"]
            unplaced = await creator.spawn(pid, token, "web", SERVER)
            await until(lambda: len(game.of_type("spawn")) == 2)
            locations = {f.sid: f.d["location"] for f in game.of_type("spawn")}
            assert locations == {
                sid: {"x": 1.0, "y": 2.0, "z": 3.0},
                unplaced["sessionId"]: {"x": 400.0, "y": 64.0, "z": 300.0},  # the web map's middle
            }
            signalled = await creator.signal(sid, [
                {"id": "c1", "type": "chat", "message": "Hello!"},
                {"id": "c2", "type": "follow", "target": "bob"},
            ])  # fmt: skip
            assert list(signalled) == ["results"]
            assert [(r["action_id"], r["decision"], r["reason"]) for r in signalled["results"]] == [
                ("c1", "allow", None), ("c2", "block", "not_supported_by_world"),
            ]  # fmt: skip
            assert set(signalled["results"][0]) == {
                "action_id", "decision", "reason", "errors", "retry_after",
            }  # fmt: skip
            await until(lambda: game.action_ids() == ["c1"])
            ended = await creator.end(sid)
            assert set(ended) == {"summary", "replay"}
            assert ended["summary"]["session_id"] == sid
            assert (ended["summary"]["actions_sent"], ended["summary"]["actions_blocked"]) == (1, 1)
            replay = await creator.replay(sid)
            assert replay == ended["replay"]
            assert [e["input"]["id"] for e in replay if e["kind"] == "action"] == ["c1", "c2"]
            assert await admin.replay(sid) == replay
            await admin.end(unplaced["sessionId"])

            # content and encounter sessions
            published = await creator.publish_encounter(encounter_dict())
            assert published["id"] == "enc_test"
            assert published["title"] == "Bandits at the Bridge"
            assert await creator.publish_template(template_dict()) == {"id": "village-errand"}
            session = await creator.start_session({"player_id": "p1", "level": 3}, "enc_test")
            assert session["status"] == "active"
            assert session["player_id"] == "p1"
            assert session["encounter"]["id"] == "enc_test"
            stepped = await creator.update_objective(session["id"], "obj_1", progress=2)
            assert stepped["objectives"]["obj_1"]["progress"] == 2
            assert not stepped["objectives"]["obj_1"]["completed"]
            stepped = await creator.update_objective(session["id"], "obj_1", completed=True)
            assert stepped["objectives"]["obj_1"]["completed"]
            finished = await creator.complete_session(session["id"])
            assert finished["id"] == session["id"]
            assert finished["status"] == "completed"


@pytest.mark.anyio
async def test_control_error_carries_status_message_and_field_errors(
    tmp_path: Path, text_filter: TextFilter
) -> None:
    async with run_daemon(tmp_path / "d.db", text_filter) as dm:
        keys = await make_keys(dm.edge.store)
        async with (
            EncountersClient(dm.http_url, keys.creator) as creator,
            EncountersClient(dm.http_url, keys.admin) as admin,
            EncountersClient(dm.http_url) as anonymous,
        ):
            exc = await refused(anonymous.submit_persona(persona_body()))
            assert (exc.status, exc.errors) == (401, [])
            assert str(exc) == (
                "daemon answered 401: a valid API key is needed: Authorization: Bearer <key>"
            )
            assert isinstance(exc, Exception)

            pid = (await creator.submit_persona(persona_body()))["id"]
            exc = await refused(creator.approve_persona(pid))
            assert exc.status == 403
            assert "this needs an admin key" in str(exc)

            exc = await refused(creator.end("sess_nope"))
            assert exc.status == 404
            assert "no companion session with id 'sess_nope'" in str(exc)

            bad = (await creator.submit_persona(persona_body(name="Fuck Face")))["id"]
            exc = await refused(admin.approve_persona(bad))
            assert exc.status == 409
            assert "was rejected: name: profanity" in str(exc)

            # field errors: from the persona model and from the request model
            exc = await refused(creator.submit_persona(
                persona_body(name="", traits={"tone": "grumpy"},
                             safety={"blockedTopics": ["astrology"]})
            ))  # fmt: skip
            assert exc.status == 422
            assert [e.split(":")[0] for e in exc.errors] == ["name", "traits.tone"]
            assert str(exc).splitlines()[0] == "daemon answered 422: invalid persona"
            assert all(f"\n  {e}" in str(exc) for e in exc.errors)
            exc = await refused(creator.submit_persona(persona_body(
                safety={"blockedTopics": ["astrology"]})))  # fmt: skip
            assert exc.status == 422
            assert exc.errors[0].startswith("safety.blocked_topics: unknown topic 'astrology'")

            exc = await refused(creator.signal("sess_x", []))
            assert exc.status == 422
            assert str(exc).splitlines()[0] == "daemon answered 422: invalid request"
            assert [e.split(":")[0] for e in exc.errors] == ["actions"]
            exc = await refused(creator.spawn(pid, "deploy_x", "quake", SERVER))
            assert exc.status == 422
            assert [e.split(":")[0] for e in exc.errors] == ["world"]

            exc = await refused(creator.start_session({"player_id": "p1"}, "enc_missing"))
            assert exc.status == 404
            assert "enc_missing" in str(exc)


@pytest.mark.anyio
async def test_an_unreachable_daemon_is_status_0_with_a_clear_message() -> None:
    url = closed_port_url()
    key = "ae_ak_0123456789ab_" + "s" * 32
    async with EncountersClient(url, key, timeout=2) as client:
        with anyio.fail_after(5):
            exc = await refused(client.health())
    assert exc.status == 0
    assert exc.errors == []
    assert str(exc).startswith(f"cannot reach {url}: ")  # status 0: no "daemon answered"
    assert str(exc).removeprefix(f"cannot reach {url}: ").strip()  # with the cause
    assert exc.message == str(exc)
    assert key not in str(exc) and key not in repr(exc)


@pytest.mark.anyio
async def test_a_daemon_that_does_not_answer_says_it_timed_out() -> None:
    with socket.socket() as listening:  # accepts connections (backlog), never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        async with EncountersClient(url, "k", timeout=0.2) as client:
            with anyio.fail_after(5):
                exc = await refused(client.health())
    assert exc.status == 0
    assert exc.errors == []
    assert str(exc) == f"{url} did not answer within 0.2 s"


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(httpx.Response(200, text="<html>not the daemon</html>"), id="200-not-json"),
        pytest.param(
            httpx.Response(500, json=["not", "an", "object"]), id="error-json-not-an-object"
        ),
        pytest.param(
            httpx.Response(500, json={"error": "a string"}), id="error-field-not-an-object"
        ),
        pytest.param(httpx.Response(502, text="Bad gateway"), id="error-not-json"),
        pytest.param(httpx.Response(404, json={"detail": "Not Found"}), id="error-other-shape"),
    ],
)
@pytest.mark.anyio
async def test_answers_that_are_not_the_daemons_become_control_errors(
    response: httpx.Response,
) -> None:
    transport = httpx.MockTransport(lambda request: response)
    async with EncountersClient("http://proxy.example", "k", transport=transport) as client:
        exc = await refused(client.health())
    assert exc.status == response.status_code
    assert str(exc).startswith(f"daemon answered {response.status_code}: ")
    assert len(str(exc).splitlines()) == 1
    if response.status_code < 400:
        assert "not JSON" in str(exc)


@pytest.mark.anyio
async def test_the_key_never_appears_in_errors_or_logs(
    tmp_path: Path, text_filter: TextFilter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, uvicorn, websockets
    sdk_log = io.StringIO()
    configure_logging("debug", "json", stream=sdk_log)  # the SDK's and the daemon's own
    errors: list[ControlError] = []
    try:
        async with run_daemon(tmp_path / "d.db", text_filter) as dm:
            keys: Keys = await make_keys(dm.edge.store)
            forged = keys.creator[:-4] + "AAAA"  # the right id, a wrong secret
            async with (
                EncountersClient(dm.http_url, keys.creator) as creator,
                EncountersClient(dm.http_url, forged) as wrong,
                EncountersClient(dm.http_url, keys.admin) as admin,
                EncountersClient(closed_port_url(), keys.admin) as nowhere,
            ):
                pid = (await creator.submit_persona(persona_body()))["id"]
                token = (await admin.approve_persona(pid))["token"]
                for call in (
                    wrong.personas(),
                    creator.approve_persona(pid),
                    creator.spawn(pid, token, "web", "nowhere"),
                    creator.spawn(pid, "deploy_" + "Z" * 32, "web", SERVER),
                    creator.submit_persona({"name": ""}),
                    creator.signal("sess_x", []),
                    creator.end("sess_x"),
                    nowhere.health(),
                ):
                    errors.append(await refused(call))
    finally:
        configure_logging("warning", "console", None)
    assert [e.status for e in errors] == [401, 403, 404, 403, 422, 422, 404, 0]
    logged = sdk_log.getvalue() + caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert "HTTP Request: POST" in caplog.text  # the capture works: httpx's lines are in it
    for secret in (keys.creator, keys.admin, forged, token):
        for text in [logged, *map(str, errors), *map(repr, errors)]:
            assert secret not in text
    parts = [k.split("_", 3)[3] for k in (keys.creator, keys.admin, forged)]
    for part in [*parts, token.removeprefix("deploy_")]:  # not even the secret part
        assert part not in logged
