"""Companions (issue #10): the LLM brain through the real OpenAI client against a
loopback fake, the offline brain, moderation of everything a companion says and does,
the scripting API in-process, the script in the daemon, and the script loader."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from encounters.companion import (
    Companion,
    CompanionHost,
    CompanionScript,
    Context,
    OfflineBrain,
    ScriptError,
    load_script,
    tools_for,
)
from encounters.generation.openai_provider import OpenAIProvider
from encounters.generation.router import ProviderManager, RouterPolicy
from encounters.memory import NPCMemoryManager
from encounters.models.persona import PersonaCore
from encounters.moderation import ContentModerator, TextFilter
from encounters.storage import SQLiteStore
from encounters_bridge.cli import app as ae_app
from encounters_bridge.deployment import DeploymentService
from encounters_bridge.keys import create_world_key
from encounters_bridge.server import BridgeEdge
from encounters_bridge.store import open_bridge_store
from tests.fakes.http import FakeServer, fake_server
from tests.fakes.llm import Script, openai_chat_reply, openai_error
from tests.support.control import SERVER, Game, connected, until

P1 = {"id": "p1", "name": "Ana"}


@pytest.fixture
def moderator(text_filter: TextFilter) -> ContentModerator:
    return ContentModerator(text_filter)


def persona(**safety: Any) -> PersonaCore:
    return PersonaCore.model_validate({
        "id": "persona_marta", "name": "Marta", "description": "A gruff blacksmith.",
        "traits": {"tone": "serious"}, "goals": ["guard the forge", "teach smithing"],
        "safety": {"allowedActions": ["chat", "follow", "stop"], "maxActionsPerMinute": 600,
                   **safety},
        "embodiment": {"emotes": ["wave", "nod"]},
    })  # fmt: skip


def wide_persona(**over: Any) -> PersonaCore:
    """Allowed every usual action (for the offline brain's moves and emotes)."""
    data: dict[str, Any] = {
        "id": "persona_pip", "name": "Pip", "traits": {"tone": "playful"}, "goals": ["explore"],
        "safety": {"allowedActions": ["chat", "move_to", "follow", "look_at", "emote", "stop"],
                   "maxActionsPerMinute": 600},
        "embodiment": {"emotes": ["wave", "dance", "sit"]},
    }  # fmt: skip
    data.update(over)
    return PersonaCore.model_validate(data)


def chat(message: str, player: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "player_chat", "player": player or P1, "message": message, **extra}


class Sink:
    """The game in-process: records the allowed actions it is sent."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    async def __call__(self, actions: list[dict[str, Any]]) -> None:
        self.batches.append(actions)

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [a for batch in self.batches for a in batch]

    def types(self) -> list[str]:
        return [a["type"] for a in self.actions]


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(fn)


def openai_router(server: FakeServer) -> ProviderManager:
    provider = OpenAIProvider(api_key="sk-test-key", base_url=server.base_url + "/v1", timeout=5)
    return ProviderManager([provider], policy=RouterPolicy(max_retries=0, timeout=5))


def system_text(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


# --------------------------------------------------------------------- 1. the LLM brain


def test_llm_brain_tool_calls_moderated_with_memory(moderator: ContentModerator) -> None:
    calls = [
        {"name": "chat", "arguments": {"message": "Aye, I will come along."}},
        {"name": "follow", "arguments": {"target": "p1", "distance": 2}},
        {"name": "title", "arguments": {"text": "MARTA RULES"}},  # not allowed
    ]
    with fake_server() as server:
        fake = Script([openai_chat_reply(None, tool_calls=calls),
                       openai_chat_reply("Back again, Ana?")])  # fmt: skip
        server.route("POST", "/v1/chat/completions", fake)
        sink = Sink()
        memory = NPCMemoryManager.open(None)

        async def main() -> tuple[list[Any], list[Any]]:
            router = openai_router(server)
            try:
                c = Companion(persona(), session_id="sess_1", send=sink,
                              moderator=moderator, router=router, memory=memory)  # fmt: skip
                first = await c.handle(chat("Hello Marta, follow me to the mine"))
                second = await c.handle(chat("Remember me?"))
                await c.close()
                return first, second
            finally:
                await router.aclose()

        first, second = run(main)

    assert [(d.decision, d.reason) for d in first] == [
        ("allow", None), ("allow", None), ("block", "action_not_allowed"),
    ]  # fmt: skip
    assert sink.types() == ["chat", "follow", "chat"]
    assert sink.actions[0]["message"] == "Aye, I will come along."
    assert sink.actions[1]["target"] == "p1" and sink.actions[1]["distance"] == 2
    assert all(a["id"].startswith("act") for a in sink.actions)
    assert [d.decision for d in second] == ["allow"]
    # the request carries only the allowed actions as tools, the persona in the prompt
    body = fake.bodies[0]
    assert [t["function"]["name"] for t in body["tools"]] == ["chat", "follow", "stop"]
    assert body["tools"][1]["function"]["parameters"]["required"] == ["target"]
    system = system_text(body)
    assert "Marta" in system and "guard the forge" in system and "teach smithing" in system
    assert "self_harm" in system and "never discuss blocked topics" in system
    assert body["messages"][1] == {
        "role": "user",
        "content": "Ana (id p1) says: Hello Marta, follow me to the mine",
    }
    assert "met the player 0 times" in system
    # after the first chat, NPC memory holds it and the next prompt carries it
    second_system = system_text(fake.bodies[1])
    assert "met the player 1 times" in second_system
    assert "Ana: Hello Marta, follow me to the mine" in second_system
    assert "Marta: Aye, I will come along." in second_system
    profile = run(lambda: memory.get_memory("persona_marta", "p1"))
    assert profile.interactions_total == 2


def test_tools_follow_allowed_actions_and_emotes() -> None:
    tools = {t.name: t for t in tools_for(wide_persona())}
    assert list(tools) == ["chat", "move_to", "follow", "look_at", "emote", "stop"]
    assert tools["emote"].parameters["properties"]["name"]["enum"] == ["wave", "dance", "sit"]
    assert tools["move_to"].parameters["required"] == ["x", "y", "z"]
    json.dumps([t.parameters for t in tools.values()])  # plain JSON


# ------------------------------------------------------------ 2. LLM failure -> offline


def test_llm_failure_falls_back_to_offline_brain(moderator: ContentModerator) -> None:
    with fake_server() as server:
        fake = Script(default=openai_error(500, "the server is on fire"))
        server.route("POST", "/v1/chat/completions", fake)
        sink = Sink()

        async def main() -> list[Any]:
            router = openai_router(server)
            try:
                c = Companion(persona(), session_id="sess_2", send=sink, moderator=moderator,
                              router=router)  # fmt: skip
                decisions = await c.handle(chat("hello there"))
                decisions += await c.handle(chat("follow me"))
                return decisions
            finally:
                await router.aclose()

        decisions = run(main)
        assert fake.calls == 2  # asked, failed, fell back each time
    assert all(d.allowed for d in decisions)
    assert sink.types() == ["chat", "chat", "follow"]
    assert sink.actions[0]["message"] == "Greetings, Ana."
    assert sink.actions[2]["target"] == "p1"


def test_a_hanging_llm_no_longer_holds_a_companion_turn(moderator: ContentModerator) -> None:
    """A 30 s per-call timeout; the turn's 1.5 s deadline hands it to the offline brain."""
    with fake_server() as server:
        hung = replace(openai_chat_reply("Too late."), delay=20.0)
        fake = Script(default=hung)
        server.route("POST", "/v1/chat/completions", fake)
        sink = Sink()

        async def main() -> None:
            provider = OpenAIProvider(
                api_key="sk-test-key", base_url=server.base_url + "/v1", timeout=60
            )
            policy = RouterPolicy(max_retries=2, timeout=30, chat_deadline=1.5)
            router = ProviderManager([provider], policy=policy)
            try:
                c = Companion(persona(), session_id="sess_3", send=sink, moderator=moderator,
                              router=router)  # fmt: skip
                await c.handle(chat("hello there"))
            finally:
                await router.aclose()

        started = time.monotonic()
        run(main)
        assert time.monotonic() - started < 10
        assert fake.calls == 1
    assert sink.types() == ["chat"]
    assert sink.actions[0]["message"] == "Greetings, Ana."  # the offline brain's


# ------------------------------------------------------------------ 3. the offline brain


def offline(events: list[dict[str, Any]], p: PersonaCore | None = None,
            seed: int = 0) -> list[list[dict[str, Any]]]:  # fmt: skip
    brain = OfflineBrain(seed=seed)
    return [brain.decide_now(e, p or wide_persona()) for e in events]


def test_offline_greets_and_answers_requests() -> None:
    join, hello, follow, stop, come, come_at, other = offline([
        {"type": "player_join", "player": P1},
        chat("hey Pip!"),
        chat("Follow me, please"),
        chat("wait here"),
        chat("come here"),
        chat("come here", player={**P1, "position": {"x": 10, "y": 64, "z": -3}}),
        chat("what a lovely day"),
    ])  # fmt: skip
    assert join[0] == {"type": "chat", "message": "Hey hey, Ana! Ready for some fun?"}
    assert hello == [{"type": "chat", "message": "Hey hey, Ana! Ready for some fun?"}]
    assert follow[1] == {"type": "follow", "target": "p1"} and follow[0]["type"] == "chat"
    assert stop[1] == {"type": "stop"}
    assert come[1] == {"type": "follow", "target": "p1"}
    assert come_at[1] == {"type": "move_to", "x": 10.0, "y": 64.0, "z": -3.0}
    assert [a["type"] for a in other] == ["chat"] and other[0]["message"]
    # nothing the persona may not do: Marta has no move_to, so "come here" follows
    (marta_come,) = offline([chat("come here", position=[1, 2, 3])], persona())
    assert [a["type"] for a in marta_come] == ["chat", "follow"]
    assert offline([{"type": "action_done", "action_id": "a1"}]) == [[]]


def test_offline_idle_is_believable_and_deterministic() -> None:
    ticks = [{"type": "tick", "players": [{"id": "p1"}, {"id": "p2"}],
              "position": {"x": 0, "y": 64, "z": 0}}] * 40  # fmt: skip
    a, b = offline(ticks, seed=7), offline(ticks, seed=7)
    assert a == b
    idle = [x for batch in a for x in batch]
    assert 0 < len(idle) < 40  # sometimes, not always
    assert {x["type"] for x in idle} <= {"emote", "look_at"}
    assert all(x["name"] in ("wave", "dance", "sit") for x in idle if x["type"] == "emote")
    assert offline(ticks, seed=8) != a


def test_offline_companion_through_moderation(moderator: ContentModerator) -> None:
    sink = Sink()

    async def main() -> None:
        c = Companion(wide_persona(), session_id="sess_3", send=sink, moderator=moderator)
        await c.handle({"type": "player_join", "player": P1})
        await c.handle(chat("follow me"))
        await c.handle(chat("stop"))
        for _ in range(30):
            await c.handle({"type": "tick", "players": [{"id": "p1"}]})
        await c.close()

    run(main)
    types = sink.types()
    assert types[0] == "chat" and "follow" in types and "stop" in types
    assert {"emote", "look_at"} & set(types)


# ------------------------------------------------------------------------ 4. profanity


@pytest.mark.parametrize("mode", ["sanitize", "block"])
def test_profanity_is_sanitized_or_blocked(moderator: ContentModerator, mode: str) -> None:
    script = CompanionScript()

    @script.on("player_chat")
    async def rude(ctx: Context, event: dict[str, Any]) -> None:
        await ctx.say("well fuck this")

    sink = Sink()

    async def main() -> list[Any]:
        c = Companion(persona(moderation=mode), session_id="sess_4", send=sink,
                      moderator=moderator, script=script)  # fmt: skip
        return await c.handle(chat("hi"))

    (decision,) = run(main)
    if mode == "sanitize":
        assert decision.decision == "sanitize"
        assert sink.actions == [{"type": "chat", "message": "well **** this",
                                 "id": sink.actions[0]["id"]}]  # fmt: skip
    else:
        assert decision.decision == "block"
        assert sink.actions == []


@pytest.mark.parametrize("mode", ["sanitize", "block"])
def test_a_companion_whose_send_moderates_again_sends_what_it_allows_as_written(
    moderator: ContentModerator, mode: str
) -> None:
    """The daemon's companions: the edge behind ``send`` decides (and audits) the
    sanitization, so it gets the line as written; a blocked line is still not sent."""
    script = CompanionScript()

    @script.on("player_chat")
    async def rude(ctx: Context, event: dict[str, Any]) -> None:
        await ctx.say("well fuck this")
        await ctx.stop()

    sink = Sink()

    async def main() -> list[Any]:
        c = Companion(persona(moderation=mode), session_id="sess_4w", send=sink,
                      moderator=moderator, script=script, send_as_written=True)  # fmt: skip
        return await c.handle(chat("hi"))

    said, stopped = run(main)
    assert stopped.decision == "allow"
    sent = [{k: v for k, v in a.items() if k != "id"} for a in sink.actions]
    if mode == "sanitize":
        assert said.decision == "sanitize" and said.action.message == "well **** this"
        assert sent == [{"type": "chat", "message": "well fuck this"},
                        {"type": "stop"}]  # fmt: skip
    else:
        assert said.decision == "block"
        assert sent == [{"type": "stop"}]


def test_profane_llm_reply_is_sanitized(moderator: ContentModerator) -> None:
    with fake_server() as server:
        server.route("POST", "/v1/chat/completions", Script([openai_chat_reply("fuck off")]))
        sink = Sink()

        async def main() -> list[Any]:
            router = openai_router(server)
            try:
                c = Companion(persona(), session_id="sess_5", send=sink, moderator=moderator,
                              router=router)  # fmt: skip
                return await c.handle(chat("hi"))
            finally:
                await router.aclose()

        (decision,) = run(main)
    assert decision.decision == "sanitize"
    assert "fuck" not in sink.actions[0]["message"]


# ------------------------------------------------------------- 5. scripting in-process


def test_script_in_process(moderator: ContentModerator, capsys: pytest.CaptureFixture[str]) -> None:
    script = CompanionScript()
    ticks: list[int] = []

    @script.on("player_chat")
    async def on_chat(ctx: Context, event: dict[str, Any]) -> None:
        ctx.state["count"] = ctx.state.get("count", 0) + 1
        if event["message"] == "boom":
            raise RuntimeError("the script broke")
        await ctx.say(f"Hello {event['player']['name']} #{ctx.state['count']}")
        if ctx.state["count"] == 1:
            await ctx.follow()
            await ctx.emote("wave")  # Marta may not emote: blocked

    @script.event
    async def on_player_join(ctx: Context, event: dict[str, Any]) -> None:
        async def tick(c: Context) -> None:
            ticks.append(1)
            assert c.event is None and c.state["count"] >= 1

        ctx.state["timer"] = ctx.every(0.01, tick)
        ctx.after(0.02, lambda: ticks.append(100))
        ctx.after(60, lambda: ticks.append(-1))  # cancelled by close

    sink = Sink()

    async def main() -> tuple[list[Any], list[Any], list[Any]]:
        c = Companion(persona(), session_id="sess_6", send=sink, moderator=moderator,
                      script=script)  # fmt: skip
        first = await c.handle(chat("hi"))
        boom = await c.handle(chat("boom"))  # logged, contained
        third = await c.handle(chat("again"))
        await c.handle({"type": "player_join", "player": P1})
        await until(lambda: ticks.count(1) >= 3 and 100 in ticks)
        await c.close()
        assert not c.state["timer"].active
        n = len(ticks)
        await asyncio.sleep(0.05)
        assert len(ticks) == n  # no timer fires after close
        assert await c.handle(chat("hi")) == []  # closed
        return first, boom, third

    first, boom, _third = run(main)
    assert [(d.decision, d.reason) for d in first] == [
        ("allow", None), ("allow", None), ("block", "action_not_allowed"),
    ]  # fmt: skip
    assert boom == []
    assert [a.get("message") for a in sink.actions if a["type"] == "chat"] == [
        "Hello Ana #1", "Hello Ana #3",
    ]  # fmt: skip
    assert -1 not in ticks
    assert "companion.script_failed" in capsys.readouterr().err


def test_script_think_uses_router_or_offline_text(moderator: ContentModerator) -> None:
    script = CompanionScript()

    @script.on("player_chat")
    async def forge(ctx: Context, event: dict[str, Any]) -> None:
        ctx.state["thought"] = await ctx.think("What should I say about the forge?")
        await ctx.say(ctx.state["thought"])
        await ctx.respond()  # and let the brain answer as well

    with fake_server() as server:
        fake = Script([openai_chat_reply("The forge burns hot tonight."),
                       openai_chat_reply("Mind the sparks.")])  # fmt: skip
        server.route("POST", "/v1/chat/completions", fake)
        with_llm, offline_sink = Sink(), Sink()

        async def main() -> tuple[Any, Any]:
            router = openai_router(server)
            try:
                a = Companion(persona(), session_id="s7", send=with_llm, moderator=moderator,
                              router=router, script=script)  # fmt: skip
                b = Companion(persona(), session_id="s8", send=offline_sink,
                              moderator=moderator, script=script)  # fmt: skip
                await a.handle(chat("tell me about the forge"))
                await b.handle(chat("tell me about the forge"))
                return a.state["thought"], b.state["thought"]
            finally:
                await router.aclose()

        thought, offline_thought = run(main)
        assert fake.bodies[0]["messages"][1]["content"] == "What should I say about the forge?"
        assert "tools" not in fake.bodies[0]
        assert "Marta" in system_text(fake.bodies[0])
    assert thought == "The forge burns hot tonight."
    assert [a["message"] for a in with_llm.actions] == [thought, "Mind the sparks."]
    assert offline_thought and offline_sink.actions[0]["message"] == offline_thought
    assert len(offline_sink.actions) == 2  # the offline brain answered too


def test_handlers_must_be_async() -> None:
    script = CompanionScript()
    with pytest.raises(TypeError, match="async def"):
        script.on("tick")(lambda ctx, event: None)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="on_<event type>"):
        script.event(_not_named_on)


async def _not_named_on(ctx: Context, event: dict[str, Any]) -> None:
    return None


# ---------------------------------------------------------------- 6. in the daemon


def test_an_event_handed_over_as_its_session_ends_makes_no_new_companion(
    moderator: ContentModerator,
) -> None:
    """An event the deployment handed over just before the session ended (its task not
    yet run, or waiting for the session's turn) is dropped: before, it made a new
    companion for the ended session, which then answered it and kept its timers."""
    sent: list[dict[str, Any]] = []

    async def send(actions: list[dict[str, Any]]) -> None:
        sent.extend(actions)

    async def main() -> None:
        host = CompanionHost(moderator, seed=1)
        persona = PersonaCore(name="Ana")
        await host.handle("s1", persona, chat("hello"), send)
        answered = len(sent)
        assert "s1" in host.companions and answered > 0
        late = host.submit("s1", persona, chat("hello again"), send)  # not run yet
        await host.end("s1")
        assert await late == []
        await host.idle()
        assert "s1" not in host.companions and len(sent) == answered
        await host.aclose()

    anyio.run(main)


def test_script_in_the_daemon(tmp_path: Path, text_filter: TextFilter) -> None:
    script = CompanionScript()

    @script.on("player_chat")
    async def greet(ctx: Context, event: dict[str, Any]) -> None:
        ctx.state["chats"] = ctx.state.get("chats", 0) + 1
        await ctx.say(f"Well met, {event['player']['name']}! (#{ctx.state['chats']})")
        await ctx.act({"type": "title", "text": "nope"})  # not allowed: never dispatched

    async def main() -> None:
        store = SQLiteStore(tmp_path / "ae.db")
        await store.open()
        try:
            records = await open_bridge_store(store)
            edge = BridgeEdge(records, heartbeat_interval=0.5)
            moderator = ContentModerator(text_filter)
            service = DeploymentService(store, moderator, edge)
            service.companions = host = CompanionHost(moderator, script=script, seed=1)
            _, key = await create_world_key(records, "web world", "web")
            ws = await edge.serve("127.0.0.1", 0)
            url = f"ws://127.0.0.1:{ws.sockets[0].getsockname()[1]}/ws"
            game = Game.create(
                url, key, "json", capabilities=["chat", "move_to", "follow", "emote", "stop"]
            )
            try:
                async with connected(game):
                    record = await service.submit(persona().model_dump(), "creator_1")
                    pid = record.persona.id
                    token, _ = await service.approve(pid)
                    session = await service.spawn(
                        pid, token, "web", SERVER, {"x": 1, "y": 2, "z": 3}
                    )
                    sid = session.id
                    await until(lambda: service._companions[sid].status == "live")

                    def chats() -> list[str]:
                        return [f.d["action"]["message"] for f in game.of_type("action")
                                if f.d["action"]["type"] == "chat"]  # fmt: skip

                    await game.client.send_event(chat("hello"), sid=sid)
                    await until(lambda: len(chats()) == 1)
                    assert chats() == ["Well met, Ana! (#1)"]
                    # an event for no session (player_join) reaches every live companion
                    # on that server; the script has no handler: the offline brain greets
                    await game.client.send_event(
                        {"type": "player_join", "player": {"id": "p2", "name": "Bo"}}
                    )
                    await until(lambda: len(chats()) == 2)
                    assert chats()[1] == "Greetings, Bo."
                    await game.client.send_event(chat("again"), sid=sid)
                    await until(lambda: len(chats()) == 3)
                    assert chats()[2] == "Well met, Ana! (#2)"
                    await host.idle()
                    assert all(f.d["action"]["type"] != "title" for f in game.of_type("action"))
                    companion = host.companions[sid]
                    summary = (await service.end(sid))["summary"]
                    assert companion.closed and sid not in host.companions
                    assert summary["actions_blocked"] == 0  # blocked before the edge
                    assert summary["actions_sent"] == 3
            finally:
                await edge.close_all()
                ws.close()
                await ws.wait_closed()
        finally:
            await store.close()

    run(main)


# ------------------------------------------------------------------ 7. the script loader


def test_load_script(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(
        "from encounters.companion import CompanionScript, Context\n"
        "script = CompanionScript()\n"
        "@script.on('player_chat')\n"
        "async def hi(ctx: Context, event: dict) -> None:\n"
        "    await ctx.say('hi')\n"
    )
    loaded = load_script(good)
    assert isinstance(loaded, CompanionScript)
    assert [h.__name__ for h in loaded.handlers_for("player_chat")] == ["hi"]

    missing = tmp_path / "missing.py"
    missing.write_text("handlers = []\n")
    with pytest.raises(ScriptError, match=r"missing\.py.*must define a module-level 'script"):
        load_script(missing)

    broken = tmp_path / "broken.py"
    broken.write_text("script = CompanionScript(\n")
    with pytest.raises(ScriptError, match=r"broken\.py.*syntax error on line 1"):
        load_script(broken)

    failing = tmp_path / "failing.py"
    failing.write_text("raise RuntimeError('no forge')\n")
    with pytest.raises(ScriptError, match=r"failing\.py.*RuntimeError: no forge"):
        load_script(failing)

    with pytest.raises(ScriptError, match=r"nope\.py.*no such file"):
        load_script(tmp_path / "nope.py")


def test_bridge_serve_script_error_is_clear(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    result = CliRunner().invoke(ae_app, ["bridge", "serve", "--script", str(broken)])
    assert result.exit_code != 0
    assert "broken.py" in result.output and "syntax error" in result.output
