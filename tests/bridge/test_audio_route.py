"""Voiced companions through the daemon as ``ae bridge serve`` builds it
(:meth:`Daemon.open`): a chat line of a persona with a voice is moderated, then spoken,
and its action carries a signed link that any game client may fetch without a key,
for a while; a line moderation blocks never becomes audio."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.settings import Settings
from encounters.voice import line_key
from encounters_bridge.audio import AudioLinkError, AudioLinks
from encounters_bridge.config import BridgeConfig
from encounters_bridge.daemon import Daemon
from tests.fakes.http import fake_server
from tests.fakes.llm import Script
from tests.fakes.speech import openai_speech_reply
from tests.support.control import (
    Game,
    Keys,
    approved_persona,
    bearer,
    connected,
    make_keys,
    spawn_live,
    until,
)
from tests.support.daemon_process import DaemonProcess

LOCAL = BridgeConfig(host="127.0.0.1", port=0, http_port=0, heartbeat=0.5)
VOICE = {"id": "en", "rate": 1.0}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def voiced_session(
    settings: Settings, **persona: Any
) -> AsyncIterator[tuple[Daemon, httpx.AsyncClient, Keys, Game, str]]:
    """A daemon, a game linked to it and a live companion of a persona with a voice."""
    async with Daemon.open(settings, LOCAL) as daemon:
        keys = await make_keys(daemon.records)
        async with httpx.AsyncClient(base_url=daemon.api_url) as http:
            game = Game.create(daemon.ws_url, keys.world, "json")
            async with connected(game):
                pid, token = await approved_persona(http, keys, **{"voice": VOICE, **persona})
                sid = await spawn_live(http, keys, pid, token)
                yield daemon, http, keys, game, sid


async def signal(http: httpx.AsyncClient, keys: Keys, sid: str, *actions: Any) -> list[Any]:
    r = await http.post("/signal", headers=bearer(keys.creator),
                        json={"sessionId": sid, "actions": list(actions)})  # fmt: skip
    assert r.status_code == 200, r.text
    results: list[Any] = r.json()["results"]
    return results


def _chats(game: Game) -> list[dict[str, Any]]:
    return [f.d["action"] for f in game.of_type("action") if f.d["action"]["type"] == "chat"]


@pytest.mark.anyio
async def test_a_voiced_line_carries_a_link_that_serves_its_audio(tmp_path: Path) -> None:
    """OpenAI speech (a loopback server speaking its wire format) voices the line; the
    link serves exactly those bytes as audio/wav, with no key, until it expires."""
    with fake_server() as server:
        script = Script([openai_speech_reply(1.25)])
        server.route("POST", "/v1/audio/speech", script)
        settings = Settings(
            data_dir=tmp_path,
            voice={"providers": ["openai", "espeak"]},
            llm={"openai_api_key": "sk-test", "openai_base_url": server.base_url + "/v1"},
        )
        async with voiced_session(settings, voice={"id": "nova", "rate": 1.1}) as session:
            daemon, http, keys, game, sid = session
            results = await signal(http, keys, sid, {"type": "chat", "message": "Welcome home!"})
            assert results[0]["decision"] == "allow"
            await until(lambda: len(_chats(game)) == 1)
            chat = _chats(game)[0]
            assert chat["message"] == "Welcome home!"
            audio = chat["audio"]
            assert audio["content_type"] == "audio/wav"
            assert audio["duration"] == pytest.approx(1.25, abs=0.001)
            url = audio["url"]
            assert url.startswith(f"{daemon.api_url}/audio/") and "Welcome" not in url
            assert script.bodies[0]["voice"] == "nova" and script.bodies[0]["speed"] == 1.1

            async with httpx.AsyncClient() as player:  # a game client: no key
                got = await player.get(url)
                assert got.status_code == 200, got.text
                assert got.headers["content-type"] == "audio/wav"
                assert got.headers["access-control-allow-origin"] == "*"
                assert got.content == openai_speech_reply(1.25).body
                assert int(got.headers["cache-control"].split("max-age=")[1]) <= 600

                # the same line again: served from the cache, the server is not asked
                await signal(http, keys, sid, {"type": "chat", "message": "Welcome home!"})
                await until(lambda: len(_chats(game)) == 2)
                assert script.calls == 1
                assert _chats(game)[1]["audio"]["url"].split("?")[0] == url.split("?")[0]

                # tampered, incomplete, expired, unknown: refused with a reason
                base, query = url.split("?")
                sig = query.split("sig=")[1]
                other = base.replace(base[-10:-4], "000000")
                tampered = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
                cases = {
                    base + "?" + query.replace(sig, tampered): 403,
                    other + "?" + query: 403,  # another line under this signature
                    base: 403,
                    base + "?exp=99999999999&sig=" + sig: 403,
                }
                for bad, status in cases.items():
                    refused = await player.get(bad)
                    assert refused.status_code == status, bad
                    assert "audio link" in refused.json()["error"]["message"]
                links = daemon.service.audio_links
                assert links is not None
                key = base.rsplit("/", 1)[1].removesuffix(".wav")
                expired = await player.get(links.url(key, now=time.time() - 3600))
                assert expired.status_code == 403
                assert "expired" in expired.json()["error"]["message"]
                unknown = await player.get(links.url("ab" * 32))
                assert unknown.status_code == 404
                assert "no such audio line" in unknown.json()["error"]["message"]

            metrics = (await http.get("/metrics", headers=bearer(keys.admin))).text
            assert 'ae_voice_lines_total{source="engine"} 1.0' in metrics
            assert 'ae_voice_lines_total{source="cache"} 1.0' in metrics
            assert "ae_voice_failures_total 0.0" in metrics


@pytest.mark.anyio
async def test_moderation_runs_before_audio_is_made(tmp_path: Path) -> None:
    """Offline engine: a blocked line is never spoken (no audio file, no engine call);
    a sanitized line is spoken as moderated; a persona without a voice gets none; and a
    caller cannot hand the game an audio link of its own."""
    settings = Settings(data_dir=tmp_path / "block")  # the default engine: eSpeak NG
    audio_dir = settings.data_dir / "audio"
    safety = {"allowedActions": ["chat"], "moderation": "block", "blockedTopics": ["self_harm"]}
    async with voiced_session(settings, safety=safety) as (daemon, http, keys, game, sid):
        voice = daemon.service.voice
        assert voice is not None
        blocked = await signal(http, keys, sid, {"type": "chat", "message": "you are shit"})
        assert blocked[0]["decision"] == "block"
        own_link = {"type": "chat", "message": "hi", "audio": {"url": "http://evil/x.wav"}}
        smuggled = await signal(http, keys, sid, own_link)
        assert smuggled[0]["decision"] == "block" and smuggled[0]["errors"]
        assert voice.misses == 0 and not voice.router.recent
        assert list(audio_dir.glob("*.wav")) == []
        allowed = await signal(http, keys, sid, {"type": "chat", "message": "Follow me, friend."})
        assert allowed[0]["decision"] == "allow"
        await until(lambda: len(_chats(game)) == 1)
        assert [c["message"] for c in _chats(game)] == ["Follow me, friend."]
        assert len(list(audio_dir.glob("*.wav"))) == 1
        assert _chats(game)[0]["audio"]["duration"] > 0.5

    sanitizing = {"allowedActions": ["chat"], "moderation": "sanitize"}
    settings = Settings(data_dir=tmp_path / "sanitize")
    audio_dir = settings.data_dir / "audio"
    async with voiced_session(settings, safety=sanitizing) as (daemon, http, keys, game, sid):
        await signal(http, keys, sid, {"type": "chat", "message": "that was shit luck"})
        await until(lambda: len(_chats(game)) == 1)
        chat = _chats(game)[0]
        assert "shit" not in chat["message"]
        spoken = line_key(chat["message"], "en", 1.0, "en", "espeak:espeak-ng")
        assert (audio_dir / f"{spoken}.wav").exists()
        raw = line_key("that was shit luck", "en", 1.0, "en", "espeak:espeak-ng")
        assert not (audio_dir / f"{raw}.wav").exists()
        assert len(list(audio_dir.glob("*.wav"))) == 1
        async with httpx.AsyncClient() as player:
            got = await player.get(chat["audio"]["url"])
        assert got.status_code == 200 and got.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(got.content)) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(chat["audio"]["duration"],
                                                                      abs=0.001)  # fmt: skip

    settings = Settings(data_dir=tmp_path / "silent")
    async with voiced_session(settings, voice=None) as (daemon, http, keys, game, sid):
        await signal(http, keys, sid, {"type": "chat", "message": "No voice here."})
        await until(lambda: len(_chats(game)) == 1)
        assert "audio" not in _chats(game)[0]


def test_links_refuse_any_odd_input_with_a_reason() -> None:
    """What a client could put in a link: every case is a 403 or 404 with a reason,
    never a crash (non-ASCII signatures, digits that are not ASCII, huge numbers)."""
    now = [1_000_000.0]
    links = AudioLinks("http://game.example:3001/", ttl=60, clock=lambda: now[0])
    key = "0f" * 32
    url = links.url(key)
    assert url.startswith("http://game.example:3001/audio/" + key + ".wav?exp=1000060&sig=")
    exp, sig = url.split("exp=")[1].split("&sig=")
    links.check(key, exp, sig)  # good
    for bad_exp, bad_sig in [("1000060", "ü" * 43), ("１０", sig), ("²", sig), ("9" * 40, sig),
                             ("", sig), (exp, ""), (None, None)]:  # fmt: skip
        with pytest.raises(AudioLinkError) as refused:
            links.check(key, bad_exp, bad_sig)
        assert refused.value.status == 403 and "audio link" in str(refused.value)
    with pytest.raises(AudioLinkError, match="no such audio line") as missing:
        links.check("../../etc/passwd", exp, sig)
    assert missing.value.status == 404
    now[0] += 61
    with pytest.raises(AudioLinkError, match="expired 1 s ago"):
        links.check(key, exp, sig)
    other = AudioLinks("http://game.example:3001", ttl=60, clock=lambda: now[0])
    with pytest.raises(AudioLinkError, match="another daemon process"):
        other.check(key, exp, sig)  # another process's secret


@pytest.mark.anyio
async def test_ae_bridge_serve_says_where_voices_come_from_and_refuses_a_bad_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AE_BRIDGE_PUBLIC_URL", "https://bridge.example.org")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    daemon = DaemonProcess(tmp_path / "good")
    try:
        await daemon.start()
        await until(lambda: "voice:" in daemon.log.read_text())
    finally:
        daemon.stop()
    assert "voice: espeak; game clients fetch lines from https://bridge.example.org" in (
        daemon.log.read_text()
    )
    env = {**os.environ, "AE_DATA_DIR": str(tmp_path / "bad"),
           "AE_VOICE__PROVIDERS": '["openai", "espeak"]'}  # fmt: skip
    ae = str(Path(sys.executable).parent / "ae")
    proc = subprocess.run([ae, "bridge", "serve", "--port", "0", "--http-port", "0"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert "the openai speech engine needs OPENAI_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr
