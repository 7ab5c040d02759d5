"""A daemon whose generations go to a loopback OpenAI stand-in that keeps the prompts,
with world keys for two web servers, ``one`` and ``two``: for tests that ask what a
caller's generation prompt may carry of player data another server wrote."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from encounters.moderation import TextFilter
from encounters.settings import load_settings
from encounters_bridge.keys import create_world_key
from tests.conftest import encounter_dict
from tests.fakes.http import fake_server
from tests.fakes.llm import Script, openai_chat_reply
from tests.sdk.generation.test_providers import openai_env
from tests.support.control import Daemon, Keys, bearer, make_keys, run_daemon


@dataclass
class TwoServers:
    daemon: Daemon
    keys: Keys
    one: str  #: server ``one``'s world key
    two: str  #: server ``two``'s world key
    http: httpx.AsyncClient
    replies: Script

    async def prompt_for(self, secret: str, body: dict[str, Any]) -> str:
        """The text of every message the LLM got for ``POST /generate`` of ``body``
        asked as ``secret``."""
        before = self.replies.calls
        made = await self.http.post("/generate", json=body, headers=bearer(secret))
        assert made.status_code == 201
        assert self.replies.calls > before
        return " ".join(m["content"] for b in self.replies.bodies[before:] for m in b["messages"])


@asynccontextmanager
async def two_servers_and_an_llm(
    tmp_path: Path, text_filter: TextFilter, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TwoServers]:
    with fake_server() as server:
        replies = Script(default=openai_chat_reply(json.dumps(encounter_dict())))
        server.route("POST", "/v1/chat/completions", replies)
        openai_env(monkeypatch, server.base_url, AE_DATA_DIR=str(tmp_path / "data"))
        async with run_daemon(tmp_path / "d.db", text_filter, settings=load_settings()) as dm:
            keys = await make_keys(dm.edge.store)
            _, one = await create_world_key(dm.edge.store, "server one", "web", ["one"])
            _, two = await create_world_key(dm.edge.store, "server two", "web", ["two"])
            async with httpx.AsyncClient(base_url=dm.http_url) as http:
                yield TwoServers(dm, keys, one, two, http, replies)
